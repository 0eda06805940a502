/*
 * fdio.c: file descriptor helpers (see fdio.h).
 */
#include "util/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int fd_read_file(const char *path, size_t max, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *data;
    int fd = open(path, O_RDONLY | O_CLOEXEC), e;

    if (fd < 0)
        return -errno;
    data = malloc(cap + 1);
    if (!data) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t r;

        if (n == cap) {
            char *bigger;

            if (cap > max) {
                e = -EFBIG;
                goto fail;
            }
            cap *= 2;
            bigger = realloc(data, cap + 1);
            if (!bigger) {
                e = -ENOMEM;
                goto fail;
            }
            data = bigger;
        }
        r = read(fd, data + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = -errno;
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n > max) {
        free(data);
        return -EFBIG;
    }
    data[n] = '\0';
    *out = data;
    *len = n;
    return 0;
fail:
    close(fd);
    free(data);
    return e;
}

int fd_write_file_atomic(const char *path, const void *data, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof(".tmpXXXXXX"));
    mode_t mask;
    int fd, rc;

    if (!tmp)
        return -ENOMEM;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmpXXXXXX", sizeof(".tmpXXXXXX"));
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        free(tmp);
        return rc;
    }
    mask = umask(0);
    umask(mask);
    rc = fchmod(fd, 0666 & ~mask) < 0 ? -errno : 0;
    if (rc == 0)
        rc = fd_write_all(fd, data, len);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}
