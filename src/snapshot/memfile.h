/*
 * memfile.h: the memory file of PUT /snapshot/create, Full or Diff
 * (digest 7.1, docs/snapshot.md "The memory file").
 *
 * Which file is written:
 *   - a Diff onto an existing regular file of the guest's RAM size: that
 *     file, in place (only the dirty pages), so diffs layer onto a base;
 *   - anything else (a Full, a new path, a file of another size, which
 *     upstream would truncate): a new file beside the path, sized to the
 *     RAM (sparse), written, fsynced and renamed over the path, so the path
 *     holds the old file or the whole new one, never a half-written one;
 *   - when that new file cannot be created (a directory squib may not
 *     write) and for a path that is not a regular file (a symbolic link, a
 *     device): the path itself, opened without truncating, as upstream
 *     does.
 * Either way the data is fsynced before the answer.
 *
 * The dirty state (guest_mem_diff.h) is reset only once the file is
 * complete and synced, so the next Diff holds only what changed since.
 * After a failed Diff, the pages KVM reported stay dirty (kept in the
 * VMM's bitmap), so a retry writes them again; an in-place target may then
 * hold some of the new pages (the answer is an error: do not use it until
 * a retry succeeded). A failed write to a new file leaves nothing behind.
 */
#ifndef SQUIB_SNAPSHOT_MEMFILE_H
#define SQUIB_SNAPSHOT_MEMFILE_H

#include <stdbool.h>

#include "util/err.h"
#include "vmm/guest_mem.h"

/*
 * Write gm's RAM to `path`: everything, or with `diff` the dirty pages
 * (KVM's log on vm_fd with track_dirty, else mincore; and the VMM's own
 * bitmap). Returns 0, or -errno with upstream's CreateSnapshotError detail
 * in err: "Cannot perform {open, get_metadata, truncate, set_length,
 * sync_all} on the memory backing file: {os error}", "Cannot get dirty
 * bitmap: ...", "Cannot write memory file: ...", and squib's own "Cannot
 * perform rename on the memory backing file: {os error}".
 */
int snapshot_mem_file_write(const struct guest_mem *gm, int vm_fd,
                            const char *path, bool diff, struct sq_err *err);

#endif
