/*
 * server.c: the api thread's listening socket and connections (see server.h
 * for the contract, docs/http.md for the full picture).
 *
 * Each connection keeps the bytes of the request being parsed in `in` (the
 * parser's views point there), the bytes still to send in `out`, and one
 * flag, `awaiting`, set while a request is with the callback owner. What the
 * connection waits for follows from that state, and conn_update_events()
 * recomputes the epoll mask from it after every step:
 *
 *   EPOLLIN    only when nothing is awaited and nothing is queued: a
 *              connection reads again once its answers left, as micro_http
 *              does, which also bounds what a client that never reads can
 *              make us buffer;
 *   EPOLLOUT   while `out` holds bytes;
 *   EPOLLRDHUP always, so a peer hanging up is noticed even while its
 *              request is outstanding (EPOLLHUP/EPOLLERR need no asking).
 *
 * api_server_respond() never writes: it queues, clears `awaiting` and turns
 * EPOLLOUT on; the connection's handler then flushes and parses whatever
 * pipelined input is already buffered. So responses leave in request order,
 * and a connection is only ever freed from its own handler, never under a
 * callback that may still use it.
 */
#include "api/server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "obs/log.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/evloop.h"
#include "util/xalloc.h"

#define READ_CHUNK  16384
#define SCM_MAX_FDS 253 /* the kernel's SCM_MAX_FD, as micro_http */

struct api_conn {
    struct api_server *srv;  /* borrowed back-pointer */
    struct evloop_handler h; /* h.fd == fd */
    uint32_t slot, gen;
    int fd;         /* owned */
    struct buf in;  /* input from the start of the current request */
    struct buf out; /* bytes queued for the peer */
    size_t out_off; /* bytes of `out` already written */
    struct http_parser parser;
    bool awaiting;   /* a request is out, unanswered */
    bool in_handler; /* on_conn() is running for this connection */
    bool kick;       /* run the handler once more (pipelined input) */
    bool dead;       /* drop at the end of the handler */
    uint32_t events; /* the mask registered with the loop */
};

struct api_server {
    struct evloop *loop;            /* borrowed */
    struct evloop_handler listen_h; /* listen_h.fd borrowed */
    size_t max_payload;
    api_server_request_fn *fn;
    void *opaque;
    struct api_conn *conns[API_MAX_CONNECTIONS]; /* owned; NULL = free slot */
    uint32_t gen[API_MAX_CONNECTIONS];           /* last generation per slot */
    unsigned n_conns;
    struct log_ratelimit accept_rl;
};

/*
 * The temporary name the socket is bound to before it takes its real name:
 * ".squib-<pid>.sock" beside `path`. Its directory must be the same so the
 * rename stays within one file system; the pid keeps two processes starting
 * on the same directory apart. Returns 0, or -ENAMETOOLONG if it does not fit
 * in sun_path (the caller then binds `path` directly).
 */
static int tmp_sock_name(const char *path, char *out, size_t out_cap)
{
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    int n = snprintf(out, out_cap, "%.*s.squib-%ld.sock", dir_len, path,
                     (long)getpid());

    return n < 0 || (size_t)n >= out_cap ? -ENAMETOOLONG : 0;
}

/* socket + bind(name) + listen; returns the fd or -errno. */
static int bind_listen(const char *name)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, rc;

    memcpy(sa.sun_path, name, strlen(name));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        rc = -errno;
        close(fd);
        unlink(name);
        return rc;
    }
    return fd;
}

/*
 * Give the listening socket at `tmp` the name `path`, unless `path` exists.
 * renameat2(RENAME_NOREPLACE) does both atomically; file systems without it
 * (EINVAL) get link() + unlink(), which is just as atomic about an existing
 * `path` (link() never replaces) and leaves the same single name behind.
 */
static int publish_name(const char *tmp, const char *path)
{
    int rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);

    if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
        rc = link(tmp, path);
        if (rc == 0)
            unlink(tmp);
    }
    if (rc < 0)
        return errno == EEXIST ? -EADDRINUSE : -errno;
    return 0;
}

int api_socket_bind(const char *path, int *fd_out)
{
    char tmp[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t len = strlen(path);
    int fd, rc;

    if (len == 0 || len >= sizeof(tmp))
        return len ? -ENAMETOOLONG : -EINVAL;
    if (tmp_sock_name(path, tmp, sizeof(tmp)) < 0) {
        /* No room for the temporary name: bind in place (a client may then
         * see the path a moment before it accepts). */
        fd = bind_listen(path);
        if (fd < 0)
            return fd;
        *fd_out = fd;
        return 0;
    }
    /* A name with our pid can only be left over from a dead process that
     * had the same pid: it is stale. */
    unlink(tmp);
    fd = bind_listen(tmp);
    if (fd < 0)
        return fd;
    rc = publish_name(tmp, path);
    if (rc < 0) {
        unlink(tmp);
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

static struct api_conn *conn_lookup(const struct api_server *srv,
                                    struct api_conn_ref ref)
{
    struct api_conn *c;

    if (ref.slot >= API_MAX_CONNECTIONS)
        return NULL;
    c = srv->conns[ref.slot];
    if (!c || c->gen != ref.gen || c->dead)
        return NULL;
    return c;
}

static void conn_free(struct api_conn *c)
{
    struct api_server *srv = c->srv;

    evloop_del(srv->loop, &c->h);
    close(c->fd);
    buf_fini(&c->in);
    buf_fini(&c->out);
    srv->conns[c->slot] = NULL;
    srv->n_conns--;
    free(c);
}

static void conn_update_events(struct api_conn *c)
{
    uint32_t ev = EPOLLRDHUP;

    if (c->out.len > c->out_off || c->kick)
        ev |= EPOLLOUT;
    else if (!c->awaiting)
        ev |= EPOLLIN;
    if (ev == c->events)
        return;
    if (evloop_mod(c->srv->loop, &c->h, ev) < 0) {
        c->dead = true;
        return;
    }
    c->events = ev;
}

/* Write what we can. Returns 0, or -errno if the connection is broken. */
static int conn_flush(struct api_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off,
                         c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        if (n == 0)
            return -EPIPE;
        c->out_off += (size_t)n;
    }
    buf_reset(&c->out);
    c->out_off = 0;
    return 0;
}

/* Close every fd passed with SCM_RIGHTS: the API has no use for them. */
static void close_passed_fds(struct msghdr *msg)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm;
         cm = CMSG_NXTHDR(msg, cm)) {
        size_t n;
        int *fds;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        fds = (int *)(void *)CMSG_DATA(cm);
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
    }
}

/*
 * Read once into `in`. Returns 1 if bytes arrived, 0 if there was nothing to
 * read, -1 if the peer closed; a read error queues micro_http's 500 (the OS
 * error text as body) and returns 0.
 */
static int conn_read(struct api_conn *c)
{
    union {
        char buf[CMSG_SPACE(SCM_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov;
    struct msghdr msg = {0};
    ssize_t n;

    buf_reserve(&c->in, READ_CHUNK);
    iov.iov_base = c->in.data + c->in.len;
    iov.iov_len = READ_CHUNK;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    do {
        n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        char text[300];
        struct http_response resp = {.status = 500};

        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        sq_os_error(errno, text, sizeof(text));
        resp.body = text;
        resp.body_len = strlen(text);
        http_write_response(&c->out, &resp);
        return 0;
    }
    if (msg.msg_controllen > 0)
        close_passed_fds(&msg);
    if (n == 0)
        return -1;
    c->in.len += (size_t)n;
    c->in.data[c->in.len] = '\0';
    return 1;
}

/* Parse and dispatch the buffered input, one request at a time. */
static void conn_process(struct api_conn *c)
{
    struct api_server *srv = c->srv;

    while (!c->awaiting && !c->dead && c->in.len > 0) {
        struct http_request req;
        struct http_error err;
        size_t consumed = 0;
        struct api_conn_ref ref = {c->slot, c->gen};

        switch (http_parse(&c->parser, c->in.data, c->in.len, &req, &consumed,
                           &err)) {
        case HTTP_PARSE_AGAIN:
            return;
        case HTTP_PARSE_CONTINUE:
            http_write_continue(&c->out, http_parser_version(&c->parser));
            break;
        case HTTP_PARSE_ERROR:
            /* Upstream keeps its partial parser state here, so the next bytes
             * may be mis-parsed; squib starts afresh (docs/http.md). */
            http_write_parse_error(&c->out, &err);
            http_parser_reset(&c->parser);
            buf_reset(&c->in);
            return;
        case HTTP_PARSE_DONE:
            c->awaiting = true;
            srv->fn(srv->opaque, srv, ref, &req);
            /* `req` died with the call: drop its bytes. */
            buf_consume(&c->in, consumed);
            break;
        }
    }
}

static void on_conn(struct evloop *loop, struct evloop_handler *h,
                    uint32_t events)
{
    struct api_conn *c = h->opaque;

    (void)loop;
    if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
        conn_free(c);
        return;
    }
    c->in_handler = true;
    c->kick = false;
    if ((events & EPOLLOUT) && conn_flush(c) < 0)
        c->dead = true;
    if (!c->dead && (events & EPOLLIN) && conn_read(c) < 0)
        c->dead = true;
    /*
     * Answer what is buffered and write the answers straight away: a request
     * answered inside the callback (a GET from the mirror) costs one read and
     * one write, with no trip through EPOLLOUT. Only a partial write waits
     * for EPOLLOUT.
     */
    while (!c->dead) {
        conn_process(c);
        if (c->out.len == c->out_off)
            break;
        if (conn_flush(c) < 0) {
            c->dead = true;
            break;
        }
        if (c->out.len > c->out_off || c->awaiting || !c->in.len)
            break;
    }
    c->in_handler = false;
    if (!c->dead)
        conn_update_events(c);
    if (c->dead)
        conn_free(c);
}

static void refuse(int fd)
{
    /* A fresh socket's buffer always takes these few bytes. */
    (void)!send(fd, http_server_full_response, http_server_full_response_len,
                MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

static void on_accept(struct evloop *loop, struct evloop_handler *h,
                      uint32_t events)
{
    struct api_server *srv = h->opaque;
    struct api_conn *c;
    uint32_t slot;
    int fd;

    (void)events;
    fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED && log_ratelimit_ok(&srv->accept_rl))
            log_error("API server: accept failed: %s", strerror(errno));
        return;
    }
    if (srv->n_conns >= API_MAX_CONNECTIONS) {
        refuse(fd);
        return;
    }
    for (slot = 0; srv->conns[slot]; slot++)
        ;
    c = xcalloc(1, sizeof(*c));
    c->srv = srv;
    c->slot = slot;
    c->gen = ++srv->gen[slot]; /* 0 never names a connection */
    c->fd = fd;
    c->h.fd = fd;
    c->h.fn = on_conn;
    c->h.opaque = c;
    buf_init(&c->in);
    buf_init(&c->out);
    http_parser_init(&c->parser, srv->max_payload);
    c->events = EPOLLIN | EPOLLRDHUP;
    if (evloop_add(loop, &c->h, c->events) < 0) {
        if (log_ratelimit_ok(&srv->accept_rl))
            log_error("API server: cannot watch a connection: %s",
                      strerror(errno));
        close(fd);
        free(c);
        return;
    }
    srv->conns[slot] = c;
    srv->n_conns++;
}

struct api_server *api_server_new(struct evloop *loop, int listen_fd,
                                  size_t max_payload, api_server_request_fn *fn,
                                  void *opaque)
{
    struct api_server *srv = xcalloc(1, sizeof(*srv));
    int rc;

    srv->loop = loop;
    srv->max_payload = max_payload;
    srv->fn = fn;
    srv->opaque = opaque;
    srv->listen_h.fd = listen_fd;
    srv->listen_h.fn = on_accept;
    srv->listen_h.opaque = srv;
    rc = evloop_add(loop, &srv->listen_h, EPOLLIN);
    if (rc < 0) {
        free(srv);
        errno = -rc;
        return NULL;
    }
    return srv;
}

void api_server_respond(struct api_server *srv, struct api_conn_ref ref,
                        const struct http_response *resp)
{
    struct api_conn *c = conn_lookup(srv, ref);

    if (!c || !c->awaiting)
        return;
    http_write_response(&c->out, resp);
    c->awaiting = false;
    if (c->in_handler)
        return; /* on_conn() writes it when the callback returns */
    /*
     * A late answer (from the vmm thread's completion): write it now. A
     * broken connection is only marked; its own handler frees it when the
     * error or hang-up event arrives. Buffered pipelined input needs the
     * handler to run once more: `kick` asks for that through EPOLLOUT.
     */
    if (conn_flush(c) < 0)
        c->dead = true;
    else if (c->out.len == c->out_off && c->in.len)
        c->kick = true;
    conn_update_events(c);
}

bool api_server_conn_alive(const struct api_server *srv,
                           struct api_conn_ref ref)
{
    return conn_lookup(srv, ref) != NULL;
}

unsigned api_server_n_conns(const struct api_server *srv)
{
    return srv->n_conns;
}

void api_server_flush(struct api_server *srv, int timeout_ms)
{
    for (unsigned i = 0; i < API_MAX_CONNECTIONS; i++) {
        struct api_conn *c = srv->conns[i];

        while (c && !c->dead && c->out_off < c->out.len) {
            struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};

            if (poll(&pfd, 1, timeout_ms) <= 0 || conn_flush(c) < 0)
                break;
        }
    }
}

void api_server_free(struct api_server *srv)
{
    if (!srv)
        return;
    for (unsigned i = 0; i < API_MAX_CONNECTIONS; i++) {
        if (srv->conns[i])
            conn_free(srv->conns[i]);
    }
    evloop_del(srv->loop, &srv->listen_h);
    free(srv);
}
