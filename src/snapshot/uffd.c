/*
 * uffd.c: userfaultfd creation and registration, and the handshake with
 * the page-fault handler (uffd.h).
 */
#include "snapshot/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "obs/log.h"
#include "util/buf.h"

#define UFFD_DEVICE "/dev/userfaultfd"

/* The fd, from the device node when it exists (a jail has it, with the
 * jail's uid as owner) or from the syscall. */
static int new_fd(int flags, struct sq_err *err)
{
    char os[128];
    int dev = open(UFFD_DEVICE, O_RDWR | O_CLOEXEC);
    int fd;

    if (dev < 0 && errno != ENOENT)
        return sq_errf(err, -errno,
                       "Failed to UFFD object: Error accessing "
                       "/dev/userfaultfd: %s",
                       sq_os_error(errno, os, sizeof(os)));
    if (dev >= 0) {
        fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
        if (fd < 0)
            fd = -errno;
        close(dev);
    } else {
        fd = (int)syscall(SYS_userfaultfd, flags);
        if (fd < 0)
            fd = -errno;
    }
    if (fd < 0) {
        log_error("userfaultfd: %s", sq_os_error(-fd, os, sizeof(os)));
        return sq_errf(err, fd, "Failed to UFFD object: System error");
    }
    return fd;
}

int uffd_open(int *fd, struct sq_err *err)
{
    struct uffdio_api api = {.api = UFFD_API,
                             .features = UFFD_FEATURE_EVENT_REMOVE};
    char os[128];
    int rc = new_fd(O_CLOEXEC | O_NONBLOCK, err);

    *fd = -1;
    if (rc < 0)
        return rc;
    if (ioctl(rc, UFFDIO_API, &api) < 0) {
        int e = errno;

        close(rc);
        log_error("UFFDIO_API: %s", sq_os_error(e, os, sizeof(os)));
        return sq_errf(err, -e, "Failed to UFFD object: System error");
    }
    *fd = rc;
    return 0;
}

int uffd_register(int uffd, void *addr, uint64_t len, struct sq_err *err)
{
    struct uffdio_register reg = {
        .range = {.start = (uint64_t)(uintptr_t)addr, .len = len},
        .mode = UFFDIO_REGISTER_MODE_MISSING,
    };
    char os[128];

    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
        int e = errno;

        log_error("UFFDIO_REGISTER: %s", sq_os_error(e, os, sizeof(os)));
        return sq_errf(err, -e,
                       "Failed to register memory address range with the "
                       "userfaultfd object: System error");
    }
    return 0;
}

int uffd_connect(const char *path, int *sock, struct sq_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    char os[128];
    int fd;

    *sock = -1;
    if (len >= sizeof(sa.sun_path))
        return sq_errf(err, -ENAMETOOLONG,
                       "Failed to connect to UDS Unix stream: path must be "
                       "shorter than SUN_LEN");
    memcpy(sa.sun_path, path, len);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sq_errf(err, -errno, "Failed to connect to UDS Unix stream: %s",
                       sq_os_error(errno, os, sizeof(os)));
    /* Rust passes the path's length plus its NUL; an empty path is the
     * bare family, which the kernel refuses with EINVAL. */
    if (connect(fd, (struct sockaddr *)&sa,
                (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                            (len ? 1 : 0))) < 0) {
        int e = errno;

        close(fd);
        return sq_errf(err, -e, "Failed to connect to UDS Unix stream: %s",
                       sq_os_error(e, os, sizeof(os)));
    }
    *sock = fd;
    return 0;
}

int uffd_send(int sock, const struct uffd_region_map *maps, size_t n, int uffd,
              struct sq_err *err)
{
    union {
        struct cmsghdr hdr;
        char bytes[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct buf msg = BUF_INIT;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *c;
    char os[128];
    ssize_t sent;
    int rc = 0;

    uffd_msg_write(maps, n, &msg);
    memset(&ctl, 0, sizeof(ctl));
    memset(&mh, 0, sizeof(mh));
    iov.iov_base = msg.data;
    iov.iov_len = msg.len;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.bytes;
    mh.msg_controllen = sizeof(ctl.bytes);
    c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &uffd, sizeof(int));
    do
        sent = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0)
        rc = sq_errf(err, -errno, "Failed to sends file descriptor: %s",
                     sq_os_error(errno, os, sizeof(os)));
    else if ((size_t)sent != msg.len)
        rc = sq_errf(err, -EIO,
                     "Failed to sends file descriptor: sent %zd of %zu bytes",
                     sent, msg.len);
    buf_fini(&msg);
    return rc;
}

int uffd_handshake(const char *path, const struct uffd_region_map *maps,
                   size_t n, int uffd, int *sock, struct sq_err *err)
{
    int rc = uffd_connect(path, sock, err);

    if (rc < 0)
        return rc;
    rc = uffd_send(*sock, maps, n, uffd, err);
    if (rc < 0) {
        close(*sock);
        *sock = -1;
    }
    return rc;
}
