/*
 * fdio.c: file descriptor helpers (see fdio.h).
 */
#include "util/fdio.h"

#include <errno.h>
#include <unistd.h>

int fd_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n) {
        ssize_t r = write(fd, c, n);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c += r;
        n -= (size_t)r;
    }
    return 0;
}
