/*
 * uffd_handler.c: squib-uffd-handler's page-fault server (uffd_handler.h).
 */
#include "snapshot/uffd_handler.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "util/xalloc.h"

/* Events read per read(2) of the uffd. */
#define EVENT_BATCH 32
/* Up to this many fds are taken from one message (the rest is cut off by
 * the kernel and reported with MSG_CTRUNC). */
#define MAX_FDS 4

static const char *os_err(int e, char *buf, size_t len)
{
    return sq_os_error(e < 0 ? -e : e, buf, len);
}

static int map_file(struct uffd_server *s, const char *path, struct sq_err *err)
{
    struct stat st;
    char os[128];
    void *p;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return sq_errf(err, -errno, "Cannot open the memory file %s: %s", path,
                       os_err(errno, os, sizeof(os)));
    if (fstat(fd, &st) < 0) {
        int e = errno;

        close(fd);
        return sq_errf(err, -e, "Cannot read the size of %s: %s", path,
                       os_err(e, os, sizeof(os)));
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
        close(fd);
        return sq_errf(err, -EINVAL,
                       "The memory file %s is not a non-empty regular file",
                       path);
    }
    /* Private and read-only: UFFDIO_COPY reads it, page cache shared with
     * every other handler serving the same file. */
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;

        close(fd);
        return sq_errf(err, -e, "Cannot map the memory file %s: %s", path,
                       os_err(e, os, sizeof(os)));
    }
    close(fd);
    s->file = p;
    s->file_size = (uint64_t)st.st_size;
    return 0;
}

/* Bind and listen on `name`; the socket fd goes to s->listen_fd. */
static int bind_listen(struct uffd_server *s, const char *name,
                       const char *path, struct sq_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char os[128];

    memcpy(sa.sun_path, name, strlen(name));
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        return sq_errf(err, -errno, "Cannot create a Unix socket: %s",
                       os_err(errno, os, sizeof(os)));
    if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return sq_errf(err, -errno, "Cannot bind to socket path %s: %s", path,
                       os_err(errno, os, sizeof(os)));
    if (listen(s->listen_fd, 1) < 0) {
        int e = errno;

        unlink(name);
        return sq_errf(err, -e, "Cannot listen on %s: %s", path,
                       os_err(e, os, sizeof(os)));
    }
    return 0;
}

/*
 * The socket appears at `path` only once it listens: it is bound and
 * listening under a private name beside it, then hard-linked to `path`
 * (which fails, as bind would, if `path` exists) and the private name
 * removed. A VMM started as soon as the path exists is never refused.
 * A path too long for the private name is bound directly.
 */
static int listen_on(struct uffd_server *s, const char *path,
                     struct sq_err *err)
{
    struct sockaddr_un sa;
    size_t len = strlen(path);
    char tmp[sizeof(sa.sun_path) + 32];
    char os[128];
    int n, rc;

    if (len == 0 || len >= sizeof(sa.sun_path))
        return sq_errf(err, -ENAMETOOLONG,
                       "Cannot bind to socket path %s: the path must have 1 "
                       "to %zu bytes",
                       path, sizeof(sa.sun_path) - 1);
    n = snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        rc = bind_listen(s, path, path, err);
        if (rc == 0)
            s->sock_path = xstrdup(path);
        return rc;
    }
    rc = bind_listen(s, tmp, path, err);
    if (rc < 0)
        return rc;
    if (link(tmp, path) < 0) {
        int e = errno == EEXIST ? EADDRINUSE : errno;

        unlink(tmp);
        return sq_errf(err, -e, "Cannot bind to socket path %s: %s", path,
                       os_err(e, os, sizeof(os)));
    }
    unlink(tmp);
    s->sock_path = xstrdup(path);
    return 0;
}

int uffd_server_open(struct uffd_server *s, const char *sock_path,
                     const char *mem_path, struct sq_err *err)
{
    int rc;

    memset(s, 0, sizeof(*s));
    s->listen_fd = s->conn_fd = s->uffd = -1;
    rc = map_file(s, mem_path, err);
    if (rc == 0)
        rc = listen_on(s, sock_path, err);
    if (rc < 0)
        uffd_server_close(s);
    return rc;
}

/* Take the fds of one received message: the first becomes s->uffd, any
 * other is closed and makes the handshake invalid. */
static int take_fds(struct uffd_server *s, struct msghdr *mh,
                    struct sq_err *err)
{
    int rc = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        size_t n;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (s->uffd < 0) {
                s->uffd = fd;
                continue;
            }
            close(fd);
            rc = sq_errf(err, -EPROTO,
                         "The handshake came with more than one file "
                         "descriptor");
        }
    }
    if (rc == 0 && (mh->msg_flags & MSG_CTRUNC))
        rc = sq_errf(err, -EPROTO,
                     "The handshake came with more than one file descriptor");
    return rc;
}

/* One recvmsg into msg[*len..cap). Returns bytes read, 0 on hang-up. */
static ssize_t recv_part(struct uffd_server *s, char *msg, size_t cap,
                         size_t len, int timeout_ms, struct sq_err *err)
{
    union {
        struct cmsghdr hdr;
        char bytes[CMSG_SPACE(MAX_FDS * sizeof(int))];
    } ctl;
    struct pollfd pfd = {.fd = s->conn_fd, .events = POLLIN};
    struct iovec iov = {.iov_base = msg + len, .iov_len = cap - len};
    struct msghdr mh;
    char os[128];
    ssize_t n;
    int rc;

    do
        rc = poll(&pfd, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return sq_errf(err, -errno, "poll: %s", os_err(errno, os, sizeof(os)));
    if (rc == 0)
        return sq_errf(err, -ETIMEDOUT,
                       "No complete handshake within %d ms (%zu bytes so far)",
                       timeout_ms, len);
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.bytes;
    mh.msg_controllen = sizeof(ctl.bytes);
    do
        n = recvmsg(s->conn_fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sq_errf(err, -errno, "Cannot read the handshake: %s",
                       os_err(errno, os, sizeof(os)));
    rc = take_fds(s, &mh, err);
    return rc < 0 ? rc : n;
}

/* The regions must describe exactly the memory file: their sizes total
 * its size (upstream's handlers assert that), and each lies inside it. */
static int check_against_file(const struct uffd_server *s, struct sq_err *err)
{
    uint64_t total = 0;

    for (size_t i = 0; i < s->n_regions; i++)
        if (__builtin_add_overflow(total, s->regions[i].size, &total))
            total = UINT64_MAX;
    if (total != s->file_size)
        return sq_errf(err, -EINVAL,
                       "The regions total %llu bytes but the memory file "
                       "has %llu",
                       (unsigned long long)total,
                       (unsigned long long)s->file_size);
    for (size_t i = 0; i < s->n_regions; i++) {
        const struct uffd_region_map *m = &s->regions[i];

        /* offset + size does not wrap (uffd_msg_parse). */
        if (m->offset + m->size > s->file_size)
            return sq_errf(err, -EINVAL,
                           "Region %zu (offset %llu, size %llu) ends past "
                           "the memory file's %llu bytes",
                           i, (unsigned long long)m->offset,
                           (unsigned long long)m->size,
                           (unsigned long long)s->file_size);
    }
    return 0;
}

int uffd_server_accept(struct uffd_server *s, int timeout_ms,
                       struct sq_err *err)
{
    struct ucred cred;
    socklen_t cred_len = sizeof(cred);
    char *msg = xmalloc(UFFD_MSG_MAX_LEN + 1);
    size_t len = 0;
    char os[128];
    int rc = 0, done = 0;

    do
        s->conn_fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    while (s->conn_fd < 0 && errno == EINTR);
    if (s->conn_fd < 0) {
        rc = sq_errf(err, -errno, "Cannot accept on %s: %s", s->sock_path,
                     os_err(errno, os, sizeof(os)));
        goto out;
    }
    if (getsockopt(s->conn_fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0)
        s->peer_pid = cred.pid;
    while (!done) {
        ssize_t n =
            recv_part(s, msg, UFFD_MSG_MAX_LEN + 1, len, timeout_ms, err);

        if (n < 0) {
            rc = (int)n;
            goto out;
        }
        if (n == 0) {
            rc = sq_errf(err, -EPIPE,
                         "The VMM hung up before its handshake was complete "
                         "(%zu bytes)",
                         len);
            goto out;
        }
        len += (size_t)n;
        /* Over-long input is left to uffd_msg_parse to refuse. */
        done = len > UFFD_MSG_MAX_LEN || uffd_msg_complete(msg, len) != 0;
    }
    if (s->uffd < 0) {
        rc = sq_errf(err, -EPROTO, "The handshake came without a userfaultfd");
        goto out;
    }
    rc = uffd_msg_parse(msg, len, s->regions, &s->n_regions, err);
    if (rc < 0) {
        sq_err_prefix(err, "Cannot deserialize memory mappings: ");
        goto out;
    }
    rc = check_against_file(s, err);
    /* Reads of events must never block the loop. */
    if (rc == 0 &&
        fcntl(s->uffd, F_SETFL, fcntl(s->uffd, F_GETFL) | O_NONBLOCK) < 0)
        rc = sq_errf(err, -errno, "fcntl on the userfaultfd: %s",
                     os_err(errno, os, sizeof(os)));
out:
    free(msg);
    return rc;
}

static const struct uffd_region_map *region_of(const struct uffd_server *s,
                                               uint64_t page)
{
    for (size_t i = 0; i < s->n_regions; i++) {
        const struct uffd_region_map *m = &s->regions[i];

        if (page >= m->base_host_virt_addr &&
            page - m->base_host_virt_addr < m->size)
            return m;
    }
    return NULL;
}

/* Outcome of serving one fault: copied, nothing to copy (the page is
 * there, or its range is gone), to retry, or the VMM is gone. */
enum copy_result { COPY_DONE, COPY_SKIPPED, COPY_AGAIN, COPY_PEER_GONE };

/*
 * A failed UFFDIO_COPY wakes nobody (the kernel wakes only after a copy),
 * so a thread whose fault was answered by EEXIST or ENOENT is woken here.
 * UNREGISTER after a remove event should wake the faults of its range, but
 * one such fault was once seen asleep for good under load; a second wake
 * is harmless, and its failure (the memory is gone) changes nothing.
 */
static void wake_page(struct uffd_server *s, uint64_t page, uint64_t ps)
{
    struct uffdio_range r = {.start = page, .len = ps};

    (void)ioctl(s->uffd, UFFDIO_WAKE, &r);
}

static int copy_page(struct uffd_server *s, uint64_t addr,
                     enum copy_result *res, struct sq_err *err)
{
    uint64_t ps = s->regions[0].page_size;
    uint64_t page = addr & ~(ps - 1);
    const struct uffd_region_map *m = region_of(s, page);
    struct uffdio_copy c;
    char os[128];

    *res = COPY_DONE;
    if (!m)
        return sq_errf(err, -EFAULT,
                       "A fault at 0x%llx lies outside every region",
                       (unsigned long long)addr);
    c = (struct uffdio_copy){
        .dst = page,
        .src = (uint64_t)(uintptr_t)(s->file + m->offset +
                                     (page - m->base_host_virt_addr)),
        .len = ps,
        .mode = 0,
    };
    if (ioctl(s->uffd, UFFDIO_COPY, &c) == 0)
        return 0;
    switch (errno) {
    case EEXIST: /* populated meanwhile (another fault on the same page) */
        *res = COPY_SKIPPED;
        wake_page(s, page, ps);
        return 0;
    case EAGAIN: /* a remove event is queued: read it first */
        *res = COPY_AGAIN;
        return 0;
    case ESRCH: /* the VMM's memory is gone: it is exiting */
        *res = COPY_PEER_GONE;
        return 0;
    case ENOENT: /* the range was unmapped or unregistered meanwhile */
        *res = COPY_SKIPPED;
        wake_page(s, page, ps);
        return 0;
    default:
        return sq_errf(err, -errno, "UFFDIO_COPY at 0x%llx failed: %s",
                       (unsigned long long)page, os_err(errno, os, sizeof(os)));
    }
}

static void defer(struct uffd_server *s, uint64_t addr)
{
    if (s->n_pending == s->cap_pending) {
        s->cap_pending = s->cap_pending ? 2 * s->cap_pending : 16;
        s->pending = xrealloc(s->pending, s->cap_pending * sizeof(uint64_t));
    }
    s->pending[s->n_pending++] = addr;
}

/* A remove event: later faults in [start, end) get zero pages. */
static int unregister(struct uffd_server *s, uint64_t start, uint64_t end,
                      enum copy_result *res, struct sq_err *err)
{
    struct uffdio_range r = {.start = start, .len = end - start};
    char os[128];

    s->n_removes++;
    if (end <= start || ioctl(s->uffd, UFFDIO_UNREGISTER, &r) == 0)
        return 0;
    if (errno == ESRCH) {
        *res = COPY_PEER_GONE;
        return 0;
    }
    return sq_errf(err, -errno, "UFFDIO_UNREGISTER of [0x%llx, 0x%llx): %s",
                   (unsigned long long)start, (unsigned long long)end,
                   os_err(errno, os, sizeof(os)));
}

/* Retry deferred faults, then read and handle every queued event, in
 * order. *res is COPY_AGAIN when some fault is still deferred. */
static int serve_round(struct uffd_server *s, enum copy_result *res,
                       struct sq_err *err)
{
    struct uffd_msg ev[EVENT_BATCH];
    size_t n_retry = s->n_pending;
    char os[128];
    int rc = 0;

    *res = COPY_DONE;
    /* The deferred faults go first: they were queued before any event
     * still unread. Copies that meet EAGAIN again are deferred again. */
    s->n_pending = 0;
    for (size_t i = 0; i < n_retry && rc == 0; i++) {
        enum copy_result r;

        rc = copy_page(s, s->pending[i], &r, err);
        if (rc == 0 && r == COPY_DONE)
            s->n_copies++;
        else if (r == COPY_AGAIN)
            s->pending[s->n_pending++] = s->pending[i];
        else if (r == COPY_PEER_GONE)
            *res = COPY_PEER_GONE;
    }
    while (rc == 0 && *res != COPY_PEER_GONE) {
        ssize_t n = read(s->uffd, ev, sizeof(ev));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0 || (size_t)n % sizeof(ev[0]))
            return sq_errf(
                err, n < 0 ? -errno : -EIO, "Cannot read the userfaultfd: %s",
                n < 0 ? os_err(errno, os, sizeof(os)) : "short read");
        for (size_t i = 0; rc == 0 && i < (size_t)n / sizeof(ev[0]); i++) {
            enum copy_result r = COPY_DONE;

            if (ev[i].event == UFFD_EVENT_PAGEFAULT) {
                s->n_faults++;
                rc = copy_page(s, ev[i].arg.pagefault.address, &r, err);
                if (r == COPY_AGAIN)
                    defer(s, ev[i].arg.pagefault.address);
                else if (rc == 0 && r == COPY_DONE)
                    s->n_copies++;
            } else if (ev[i].event == UFFD_EVENT_REMOVE) {
                rc = unregister(s, ev[i].arg.remove.start, ev[i].arg.remove.end,
                                &r, err);
            } else {
                rc = sq_errf(err, -EPROTO,
                             "Unexpected event %u on the userfaultfd",
                             ev[i].event);
            }
            if (r == COPY_PEER_GONE)
                *res = COPY_PEER_GONE;
        }
    }
    if (rc == 0 && *res == COPY_DONE && s->n_pending)
        *res = COPY_AGAIN;
    return rc;
}

/* Read and drop what the VMM sends after the handshake. Returns 1 when it
 * hung up. */
static int drain_conn(struct uffd_server *s)
{
    union {
        struct cmsghdr hdr;
        char bytes[CMSG_SPACE(MAX_FDS * sizeof(int))];
    } ctl;
    char junk[4096];
    struct iovec iov = {.iov_base = junk, .iov_len = sizeof(junk)};
    struct msghdr mh;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.bytes;
    mh.msg_controllen = sizeof(ctl.bytes);
    n = recvmsg(s->conn_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : 1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                 i++) {
                int fd;

                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                close(fd);
            }
    return n == 0;
}

int uffd_server_run(struct uffd_server *s, struct sq_err *err)
{
    for (;;) {
        struct pollfd pfd[2] = {
            {.fd = s->uffd, .events = POLLIN},
            {.fd = s->conn_fd, .events = POLLIN | POLLRDHUP},
        };
        enum copy_result res;
        char os[128];
        int rc;

        /* Deferred faults are retried at once; otherwise wait. */
        rc = poll(pfd, 2, s->n_pending ? 0 : -1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return sq_errf(err, -errno, "poll: %s",
                           os_err(errno, os, sizeof(os)));
        if ((pfd[0].revents & POLLIN) || s->n_pending) {
            rc = serve_round(s, &res, err);
            if (rc < 0)
                return rc;
            if (res == COPY_PEER_GONE)
                return 0;
        }
        if (pfd[0].revents & (POLLERR | POLLNVAL))
            return sq_errf(err, -EIO, "The userfaultfd reports an error");
        if (pfd[1].revents & (POLLHUP | POLLRDHUP | POLLERR))
            return 0;
        if ((pfd[1].revents & POLLIN) && drain_conn(s))
            return 0;
    }
}

void uffd_server_close(struct uffd_server *s)
{
    if (s->file)
        munmap(s->file, (size_t)s->file_size);
    if (s->uffd >= 0)
        close(s->uffd);
    if (s->conn_fd >= 0)
        close(s->conn_fd);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->sock_path)
        unlink(s->sock_path);
    free(s->sock_path);
    free(s->pending);
    memset(s, 0, sizeof(*s));
    s->listen_fd = s->conn_fd = s->uffd = -1;
}
