/*
 * fdio.h: small helpers for writing to file descriptors.
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

#endif
