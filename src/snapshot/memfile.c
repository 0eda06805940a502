/*
 * memfile.c: the memory file of a snapshot, Full or Diff (memfile.h), in
 * upstream's order (snapshot_memory_to_file): open, size check, set the
 * length, dump, sync; plus the new-file-and-rename step squib adds.
 */
#include "snapshot/memfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/xalloc.h"
#include "vmm/guest_mem_diff.h"
#include "vmm/guest_mem_file.h"

/* upstream's CreateSnapshotError::MemoryBackingFile */
static int file_error(struct sq_err *err, const char *op, int e)
{
    char os[128];

    return sq_errf(err, -e, "Cannot perform %s on the memory backing file: %s",
                   op, sq_os_error(e, os, sizeof(os)));
}

/* A new file beside `path` (*tmp: its name, heap), or -1 (*tmp NULL). */
static int open_temp(const char *path, char **tmp)
{
    size_t n = strlen(path) + sizeof(".XXXXXX");
    int fd;

    *tmp = xmalloc(n);
    snprintf(*tmp, n, "%s.XXXXXX", path);
    fd = mkostemp(*tmp, O_CLOEXEC);
    if (fd < 0) {
        free(*tmp);
        *tmp = NULL;
    }
    return fd;
}

/* Open the target (memfile.h, "Which file is written"); *tmp is the new
 * file's name when one was made. Returns the fd or -errno (err set). */
static int open_target(const char *path, bool diff, uint64_t size, char **tmp,
                       struct sq_err *err)
{
    struct stat st;
    /* lstat: a symbolic link is written through, as upstream does, never
     * replaced by a file of ours. */
    bool exists = lstat(path, &st) == 0;
    int fd = -1;

    *tmp = NULL;
    if (!exists ||
        (S_ISREG(st.st_mode) && (!diff || (uint64_t)st.st_size != size))) {
        fd = open_temp(path, tmp);
        /* A replaced file keeps its permissions. */
        if (fd >= 0 && exists)
            (void)fchmod(fd, st.st_mode & 07777);
        if (fd >= 0)
            return fd;
    }
    /* Upstream's way: the path itself, not truncated unless its size is
     * not the RAM's. */
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return file_error(err, "open", errno);
    if (exists) {
        if (fstat(fd, &st) < 0) {
            close(fd);
            return file_error(err, "get_metadata", errno);
        }
        if ((uint64_t)st.st_size != size && ftruncate(fd, 0) < 0) {
            close(fd);
            return file_error(err, "truncate", errno);
        }
    }
    return fd;
}

/* Dump RAM into fd; for a Diff, *log is the log taken (kept on failure). */
static int dump(const struct guest_mem *gm, int vm_fd, int fd, bool diff,
                struct guest_mem_log *log, bool *have_log, struct sq_err *err)
{
    int rc;

    if (!diff) {
        rc = guest_mem_file_write(gm, fd, err);
        return rc < 0 ? sq_err_prefix(err, "Cannot write memory file: ") : 0;
    }
    rc = guest_mem_log_take(gm, vm_fd, log, err);
    if (rc < 0)
        return sq_err_prefix(err, "Cannot get dirty bitmap: ");
    *have_log = true;
    rc = guest_mem_file_write_dirty(gm, log, fd, NULL, err);
    return rc < 0 ? sq_err_prefix(err, "Cannot write memory file: ") : 0;
}

int snapshot_mem_file_write(const struct guest_mem *gm, int vm_fd,
                            const char *path, bool diff, struct sq_err *err)
{
    uint64_t size = guest_mem_file_size(gm);
    struct guest_mem_log log;
    bool have_log = false;
    char *tmp = NULL;
    int fd, rc;

    memset(&log, 0, sizeof(log));
    fd = open_target(path, diff, size, &tmp, err);
    if (fd < 0)
        return fd;
    rc = ftruncate(fd, (off_t)size) < 0 ? file_error(err, "set_length", errno)
                                        : 0;
    if (rc == 0)
        rc = dump(gm, vm_fd, fd, diff, &log, &have_log, err);
    if (rc == 0 && fsync(fd) < 0)
        rc = file_error(err, "sync_all", errno);
    close(fd);
    if (rc == 0 && tmp && rename(tmp, path) < 0)
        rc = file_error(err, "rename", errno);
    if (rc < 0) {
        if (tmp)
            unlink(tmp);
        if (have_log)
            guest_mem_log_keep(gm, &log);
    } else {
        guest_mem_dirty_reset(gm, vm_fd, !diff);
    }
    guest_mem_log_fini(&log);
    free(tmp);
    return rc;
}
