/*
 * rebase.c: a Diff memory file applied onto its base (rebase.h).
 */
#include "snapshot/rebase.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"

/* One data region of the diff: [start, end). */
struct region {
    off_t start, end;
};

/*
 * The data region of `fd` at or after `from` into *r: 1, 0 at the end, or
 * -errno with *step. A hole search past the end (ENXIO, the file shrank)
 * ends the region at the file's size, as upstream.
 */
static int next_region(int fd, off_t from, struct region *r,
                       enum snap_rebase_step *step)
{
    struct stat st;
    off_t at = lseek(fd, from, SEEK_DATA);

    if (at < 0) {
        if (errno == ENXIO)
            return 0;
        *step = SNAP_REBASE_SEEK_DATA;
        return -errno;
    }
    r->start = at;
    r->end = lseek(fd, at, SEEK_HOLE);
    if (r->end >= 0)
        return 1;
    if (errno != ENXIO) {
        *step = SNAP_REBASE_SEEK_HOLE;
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        *step = SNAP_REBASE_METADATA;
        return -errno;
    }
    r->end = st.st_size;
    return 1;
}

/*
 * The checks before any byte of the base changes: the diff's regions
 * walked once, the base grown to the end of the last one, their space
 * reserved. A file system without fallocate gets no reservation.
 */
static int prepare(int base, int diff, enum snap_rebase_step *step)
{
    struct region r = {0, 0};
    struct stat st;
    off_t cursor = 0, last_end = 0;
    bool can_reserve = true;
    int rc;

    while ((rc = next_region(diff, cursor, &r, step)) > 0) {
        if (r.end <= r.start)
            break; /* the file shrank under us; the copy will say so */
        if (can_reserve && fallocate(base, FALLOC_FL_KEEP_SIZE, r.start,
                                     r.end - r.start) < 0) {
            if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL) {
                *step = SNAP_REBASE_SEND;
                return -errno;
            }
            can_reserve = false;
        }
        last_end = r.end;
        cursor = r.end;
    }
    if (rc < 0)
        return rc;
    if (fstat(base, &st) < 0) {
        *step = SNAP_REBASE_SEND;
        return -errno;
    }
    if (st.st_size < last_end && ftruncate(base, last_end) < 0) {
        *step = SNAP_REBASE_SEND;
        return -errno;
    }
    return 0;
}

/* Copy region r of diff into base at the same offset (sendfile writes at
 * the base's file position, as upstream's loop). */
static int copy_region(int base, int diff, const struct region *r,
                       enum snap_rebase_step *step)
{
    off_t cursor = r->start;

    while (cursor < r->end) {
        ssize_t n;

        if (lseek(base, cursor, SEEK_SET) < 0) {
            *step = SNAP_REBASE_SEEK;
            return -errno;
        }
        n = sendfile(base, diff, &cursor, (size_t)(r->end - cursor));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* 0: the diff ended before its own region did (it shrank
             * while we copied); upstream would loop for ever. */
            *step = SNAP_REBASE_SEND;
            return n < 0 ? -errno : -ENODATA;
        }
    }
    return 0;
}

int snap_rebase(const char *base_path, const char *diff_path,
                enum snap_rebase_step *step)
{
    struct region r = {0, 0};
    off_t cursor = 0;
    int base, diff = -1, rc;

    *step = SNAP_REBASE_OK;
    base = open(base_path, O_WRONLY | O_CLOEXEC);
    if (base < 0) {
        *step = SNAP_REBASE_OPEN_BASE;
        return -errno;
    }
    diff = open(diff_path, O_RDONLY | O_CLOEXEC);
    if (diff < 0) {
        *step = SNAP_REBASE_OPEN_DIFF;
        rc = -errno;
        goto out;
    }
    rc = prepare(base, diff, step);
    if (rc < 0)
        goto out;
    while ((rc = next_region(diff, cursor, &r, step)) > 0) {
        if (r.end <= r.start)
            break;
        rc = copy_region(base, diff, &r, step);
        if (rc < 0)
            goto out;
        cursor = r.end;
    }
    if (rc < 0)
        goto out;
    if (fsync(base) < 0) {
        *step = SNAP_REBASE_SYNC;
        rc = -errno;
        goto out;
    }
    rc = 0;
out:
    if (diff >= 0)
        close(diff);
    close(base);
    return rc;
}

/* Upstream's variant names and texts, per style (rebase-snap's FileError,
 * snapshot-editor's EditMemoryError). Fsync is squib's own step. */
static const struct {
    const char *name, *text;
} variants[2][SNAP_REBASE_SYNC + 1] = {
    [SNAP_REBASE_STYLE_REBASE_SNAP] =
        {
            [SNAP_REBASE_OPEN_BASE] = {"InvalidBaseFile", "Invalid base file"},
            [SNAP_REBASE_OPEN_DIFF] = {"InvalidDiffFile", "Invalid diff file"},
            [SNAP_REBASE_SEEK_DATA] = {"SeekData", "Failed to seek data"},
            [SNAP_REBASE_SEEK_HOLE] = {"SeekHole", "Failed to seek hole"},
            [SNAP_REBASE_METADATA] = {"Metadata", "Failed to get metadata"},
            [SNAP_REBASE_SEEK] = {"Seek", "Failed to seek"},
            [SNAP_REBASE_SEND] = {"SendFile", "Failed to send the file"},
            [SNAP_REBASE_SYNC] = {"Sync", "Failed to sync the base file"},
        },
    [SNAP_REBASE_STYLE_EDITOR] =
        {
            [SNAP_REBASE_OPEN_BASE] = {"OpenMemoryFile",
                                       "Could not open memory file"},
            [SNAP_REBASE_OPEN_DIFF] = {"OpenDiffFile",
                                       "Could not open diff file"},
            [SNAP_REBASE_SEEK_DATA] = {"SeekDataDiff",
                                       "Failed to seek data in diff file"},
            [SNAP_REBASE_SEEK_HOLE] = {"SeekHoleDiff",
                                       "Failed to seek hole in diff file"},
            [SNAP_REBASE_METADATA] = {"MetadataDiff",
                                      "Failed to get metadata for diff file"},
            [SNAP_REBASE_SEEK] = {"SeekMemory",
                                  "Failed to seek in memory file"},
            [SNAP_REBASE_SEND] = {"SendFile", "Failed to send the file"},
            [SNAP_REBASE_SYNC] = {"SyncMemory",
                                  "Failed to sync the memory file"},
        },
};

static int variant(enum snap_rebase_style style, enum snap_rebase_step step)
{
    if ((unsigned)style > SNAP_REBASE_STYLE_EDITOR ||
        step < SNAP_REBASE_OPEN_BASE || step > SNAP_REBASE_SYNC)
        return -1;
    return (int)step;
}

const char *snap_rebase_strerror(enum snap_rebase_style style,
                                 enum snap_rebase_step step, int rc, char *out,
                                 size_t out_len)
{
    char os[256];
    int v = variant(style, step);

    snprintf(out, out_len, "%s: %s", v < 0 ? "Error" : variants[style][v].text,
             sq_os_error(rc < 0 ? -rc : rc, os, sizeof(os)));
    return out;
}

const char *snap_rebase_debug(enum snap_rebase_style style,
                              enum snap_rebase_step step, int rc, char *out,
                              size_t out_len)
{
    char os[512];
    int v = variant(style, step);

    snprintf(out, out_len, "%s(%s)", v < 0 ? "Error" : variants[style][v].name,
             sq_os_error_debug(rc < 0 ? -rc : rc, os, sizeof(os)));
    return out;
}
