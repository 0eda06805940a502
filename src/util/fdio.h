/*
 * fdio.h: small helpers for file descriptors and whole files.
 */
#ifndef SQUIB_UTIL_FDIO_H
#define SQUIB_UTIL_FDIO_H

#include <stddef.h>

/*
 * Write all of p[0..n) to fd, retrying on EINTR and short writes. Returns 0,
 * or -errno on the first error (EAGAIN from a full non-blocking target
 * included: the caller decides whether that loses the record). Safe in a
 * signal handler (write(2) only).
 */
int fd_write_all(int fd, const void *p, size_t n);

/*
 * Read the whole file at `path` into a new buffer (*out, NUL-terminated,
 * caller frees; *len bytes before the NUL). Returns 0, -EFBIG when it holds
 * more than `max` bytes, or -errno from open/read.
 */
int fd_read_file(const char *path, size_t max, char **out, size_t *len);

/*
 * Replace (or create) `path` with data[0..len) so that a reader sees the
 * old file or the whole new one, never a part: a temporary file beside it
 * (mode 0666 minus the umask, as a plain create), written, fsync'ed, then
 * renamed over `path`. Returns 0 or -errno; on failure `path` is untouched
 * and the temporary file removed.
 */
int fd_write_file_atomic(const char *path, const void *data, size_t len);

#endif
