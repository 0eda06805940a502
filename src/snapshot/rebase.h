/*
 * rebase.h: apply a Diff memory file onto its base (upstream's rebase-snap
 * and `snapshot-editor edit-memory rebase`; docs/tools.md).
 *
 * A Diff snapshot's memory file is as large as guest RAM but holds only the
 * pages written since the previous snapshot: everything else is a hole.
 * Rebasing copies every data region of the diff (found with SEEK_DATA and
 * SEEK_HOLE, as upstream) into the base file at the same offset, so the
 * base then holds the guest RAM as of the diff. Holes leave the base alone;
 * a region of zeros that is data in the diff is copied (it was written).
 *
 * What may fail is checked before the first byte of the base changes: both
 * files are opened (base for writing, diff for reading), the diff's regions
 * are walked once, the base is grown to the end of the diff's last region
 * if it is shorter (the only size change a rebase makes, upstream's too),
 * and the space the copy needs is reserved with fallocate where the file
 * system supports it, so a full disk is found before the copy starts. The
 * copy itself (sendfile, as upstream) can then only fail on a device I/O
 * error. The base is fsynced at the end (upstream does not).
 */
#ifndef SQUIB_SNAPSHOT_REBASE_H
#define SQUIB_SNAPSHOT_REBASE_H

#include <stddef.h>

/* The step that failed, for upstream's error variants. */
enum snap_rebase_step {
    SNAP_REBASE_OK = 0,
    SNAP_REBASE_OPEN_BASE, /* open(base, O_WRONLY) */
    SNAP_REBASE_OPEN_DIFF, /* open(diff, O_RDONLY) */
    SNAP_REBASE_SEEK_DATA, /* lseek(diff, SEEK_DATA) */
    SNAP_REBASE_SEEK_HOLE, /* lseek(diff, SEEK_HOLE) */
    SNAP_REBASE_METADATA,  /* fstat(diff) */
    SNAP_REBASE_SEEK,      /* lseek(base) */
    SNAP_REBASE_SEND,      /* growing, reserving or copying into base */
    SNAP_REBASE_SYNC,      /* fsync(base) */
};

/* The two tools' texts for one failure. */
enum snap_rebase_style {
    SNAP_REBASE_STYLE_REBASE_SNAP, /* rebase-snap's FileError */
    SNAP_REBASE_STYLE_EDITOR,      /* snapshot-editor's EditMemoryError */
};

/*
 * Rebase `diff_path` onto `base_path` (see the top of this file). Returns 0,
 * or a negative errno with *step saying which step failed. Never creates
 * either file.
 */
int snap_rebase(const char *base_path, const char *diff_path,
                enum snap_rebase_step *step);

/*
 * Upstream's Display text of the failure (step, rc) in `style`, e.g.
 * "Invalid base file: No such file or directory (os error 2)" or "Could not
 * open memory file: ...", into out (NUL-terminated). Returns out.
 */
const char *snap_rebase_strerror(enum snap_rebase_style style,
                                 enum snap_rebase_step step, int rc, char *out,
                                 size_t out_len);

/*
 * Upstream's Debug form of the same error, e.g. "InvalidBaseFile(Os { code:
 * 2, kind: NotFound, message: \"No such file or directory\" })". Returns
 * out.
 */
const char *snap_rebase_debug(enum snap_rebase_style style,
                              enum snap_rebase_step step, int rc, char *out,
                              size_t out_len);

#endif
