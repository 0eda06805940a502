/*
 * vsock_muxer.c: connection multiplexer and Unix socket bridge
 * (vsock_muxer.h), following upstream's VsockMuxer.
 *
 * Every fd on the muxer's epoll carries a pointer to a struct listener
 * (the first member of what owns the fd), whose kind says how to dispatch:
 *
 *   L_HOST    the listening socket: accept a client
 *   L_STREAM  an accepted client still sending its CONNECT line
 *   L_CONN    a connection's socket (struct mux_conn)
 *
 * Objects are freed only outside the dispatch of their own events: a
 * connection is removed from recv_pkt/send_pkt/reset, never from
 * vsock_muxer_notify(), and a pending client is freed only by the
 * handling of its own event; so no pointer in a batch of epoll events is
 * stale (STYLE.md 5).
 *
 * After anything that may change a connection (a guest packet, a socket
 * event, a packet for the guest), mut_begin()/mut_end() do upstream's
 * apply_conn_mutation bookkeeping: answer "OK <port>\n" when a
 * host-initiated connection became established, schedule pending RX and
 * kill timers, and update what epoll watches for.
 */
#include "devices/virtio/vsock/vsock_muxer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/vsock/vsock_conn.h"
#include "devices/virtio/vsock/vsock_connect.h"
#include "devices/virtio/vsock/vsock_muxq.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/time.h"
#include "util/xalloc.h"

_Static_assert(VSOCK_EV_IN == EPOLLIN && VSOCK_EV_OUT == EPOLLOUT,
               "connection events are epoll events");

#define N_BUCKETS      1024u
#define EPOLL_BATCH    32
#define LOCAL_PORT_MIN (1u << 30)

enum listener_kind { L_HOST, L_STREAM, L_CONN };

struct listener {
    enum listener_kind kind;
};

struct mux_conn {
    struct listener l; /* first: what epoll data points at */
    struct vsock_conn c;
    struct mux_conn *next; /* hash chain */
    bool in_epoll;         /* registered on the muxer's epoll */
    unsigned evset;        /* the events registered */
};

struct local_stream {
    struct listener l; /* first */
    int fd;            /* owned */
    struct vsock_connect_line line;
    struct local_stream *prev, *next;
};

struct vsock_muxer {
    uint64_t cid;
    int epoll_fd;   /* owned */
    int listen_fd;  /* owned duplicate of the listening socket */
    char *uds_path; /* owned */
    vsock_clock_fn *clock;
    void *clock_opaque;
    struct listener host_l;
    bool host_watched;

    struct mux_conn *buckets[N_BUCKETS];
    size_t n_conns;
    struct local_stream *streams; /* pending clients, a list */
    size_t n_streams;

    struct vsock_rxq rxq;
    struct vsock_killq killq;
    uint32_t local_port_last;
};

static uint64_t now(const struct vsock_muxer *m)
{
    return m->clock ? m->clock(m->clock_opaque) : time_mono_ns();
}

static struct metrics_vsock *mt(void)
{
    return metrics_vsock();
}

/* ---- connection table ---------------------------------------------------- */

static uint32_t bucket(uint32_t lp, uint32_t pp)
{
    return (lp * 0x9e3779b1u ^ pp * 0x85ebca6bu) % N_BUCKETS;
}

static struct mux_conn *find(const struct vsock_muxer *m, uint32_t lp,
                             uint32_t pp)
{
    for (struct mux_conn *mc = m->buckets[bucket(lp, pp)]; mc; mc = mc->next) {
        if (mc->c.local_port == lp && mc->c.peer_port == pp)
            return mc;
    }
    return NULL;
}

static bool local_port_in_use(const struct vsock_muxer *m, uint32_t port)
{
    for (uint32_t b = 0; b < N_BUCKETS; b++) {
        for (struct mux_conn *mc = m->buckets[b]; mc; mc = mc->next) {
            if (mc->c.local_port == port)
                return true;
        }
    }
    return false;
}

/* Upstream's allocate_local_port: round robin in [2^30, 2^31). With at
 * most 1023 connections a free port is always near. */
static uint32_t allocate_local_port(struct vsock_muxer *m)
{
    do {
        m->local_port_last =
            ((m->local_port_last + 1) & ~(1u << 31)) | LOCAL_PORT_MIN;
    } while (local_port_in_use(m, m->local_port_last));
    return m->local_port_last;
}

/* ---- epoll --------------------------------------------------------------- */

static int ep_ctl(struct vsock_muxer *m, int op, int fd, unsigned events,
                  struct listener *l)
{
    struct epoll_event ev = {.events = events, .data.ptr = l};

    return epoll_ctl(m->epoll_fd, op, fd, &ev) < 0 ? -errno : 0;
}

static void conn_unwatch(struct vsock_muxer *m, struct mux_conn *mc)
{
    if (!mc->in_epoll)
        return;
    if (ep_ctl(m, EPOLL_CTL_DEL, mc->c.fd, 0, NULL) < 0)
        log_warn_rl("vsock muxer: error removing epoll listener for fd %d",
                    mc->c.fd);
    mc->in_epoll = false;
}

/* ---- queues -------------------------------------------------------------- */

static void enq_rst(struct vsock_muxer *m, uint32_t lp, uint32_t pp)
{
    struct vsock_rx_item it = {true, lp, pp};

    if (!vsock_rxq_push(&m->rxq, it))
        log_warn_rl("vsock: muxer.rxq full; dropping RST packet for lp=%u, "
                    "pp=%u",
                    lp, pp);
}

static void enq_conn_rx(struct vsock_muxer *m, uint32_t lp, uint32_t pp)
{
    struct vsock_rx_item it = {false, lp, pp};

    /* A failure only unsyncs the queue; the rebuild finds the connection. */
    (void)vsock_rxq_push(&m->rxq, it);
}

static void rebuild_rxq(struct vsock_muxer *m)
{
    vsock_rxq_init(&m->rxq);
    for (uint32_t b = 0; b < N_BUCKETS; b++) {
        for (struct mux_conn *mc = m->buckets[b]; mc; mc = mc->next) {
            struct vsock_rx_item it = {false, mc->c.local_port,
                                       mc->c.peer_port};

            if (vsock_conn_has_pending_rx(&mc->c) &&
                !vsock_rxq_fill(&m->rxq, it))
                return;
        }
    }
}

static void rebuild_killq(struct vsock_muxer *m, uint64_t t)
{
    vsock_killq_init(&m->killq);
    for (uint32_t b = 0; b < N_BUCKETS; b++) {
        for (struct mux_conn *mc = m->buckets[b]; mc; mc = mc->next) {
            if (vsock_conn_will_expire(&mc->c, t) &&
                !vsock_killq_fill(&m->killq, mc->c.local_port, mc->c.peer_port,
                                  mc->c.expiry_ns))
                goto out;
        }
    }
out:
    vsock_killq_sort(&m->killq);
}

/* ---- connections --------------------------------------------------------- */

static void remove_connection(struct vsock_muxer *m, uint32_t lp, uint32_t pp)
{
    struct mux_conn **pp_mc = &m->buckets[bucket(lp, pp)];

    for (; *pp_mc; pp_mc = &(*pp_mc)->next) {
        struct mux_conn *mc = *pp_mc;

        if (mc->c.local_port != lp || mc->c.peer_port != pp)
            continue;
        *pp_mc = mc->next;
        conn_unwatch(m, mc);
        vsock_conn_fini(&mc->c);
        free(mc);
        m->n_conns--;
        metrics_counter_inc(&mt()->conns_removed);
        return;
    }
}

/* Schedule an RST for the connection at once. */
static void kill_connection(struct vsock_muxer *m, uint32_t lp, uint32_t pp)
{
    struct mux_conn *mc = find(m, lp, pp);
    bool had_rx = false;

    metrics_counter_inc(&mt()->conns_killed);
    if (mc) {
        had_rx = vsock_conn_has_pending_rx(&mc->c);
        vsock_conn_kill(&mc->c);
    }
    if (!had_rx)
        enq_conn_rx(m, lp, pp);
}

/* Kill the connections whose timer expired (upstream's sweep_killq). */
static void sweep_killq(struct vsock_muxer *m)
{
    uint64_t t = now(m);

    for (;;) {
        uint32_t lp, pp;

        while (vsock_killq_pop(&m->killq, t, &lp, &pp)) {
            struct mux_conn *mc = find(m, lp, pp);

            /* Disarmed timers stay queued; check the connection's own. */
            if (mc && vsock_conn_has_expired(&mc->c, t))
                kill_connection(m, lp, pp);
        }
        if (!vsock_killq_is_empty(&m->killq) || m->killq.synced)
            return;
        rebuild_killq(m, t);
        metrics_counter_inc(&mt()->killq_resync);
    }
}

struct mut_snap {
    bool had_rx;
    bool was_expiring;
    enum vsock_conn_state prev_state;
};

static struct mut_snap mut_begin(const struct vsock_muxer *m,
                                 const struct mux_conn *mc)
{
    return (struct mut_snap){vsock_conn_has_pending_rx(&mc->c),
                             vsock_conn_will_expire(&mc->c, now(m)),
                             mc->c.state};
}

static void mut_end(struct vsock_muxer *m, struct mux_conn *mc,
                    const struct mut_snap *s)
{
    struct vsock_conn *c = &mc->c;
    unsigned ev;
    int rc;

    if (s->prev_state == VSOCK_CONN_LOCAL_INIT &&
        c->state == VSOCK_CONN_ESTABLISHED) {
        char msg[24];
        int len = snprintf(msg, sizeof(msg), "OK %u\n", c->local_port);
        ssize_t w = vsock_conn_send_raw(c, msg, (size_t)len);

        /* A dozen bytes into a fresh socket: anything short is broken. */
        if (w != len) {
            vsock_conn_kill(c);
            log_warn_rl("vsock: unable to ack host connection");
        }
    }
    if (!s->had_rx && vsock_conn_has_pending_rx(c))
        enq_conn_rx(m, c->local_port, c->peer_port);
    if (!s->was_expiring && vsock_conn_will_expire(c, now(m)))
        vsock_killq_push(&m->killq, c->local_port, c->peer_port, c->expiry_ns);

    ev = vsock_conn_events(c);
    if (ev == 0) {
        conn_unwatch(m, mc);
        return;
    }
    if (mc->in_epoll && mc->evset == ev)
        return;
    rc = ep_ctl(m, mc->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, ev,
                &mc->l);
    if (rc < 0) {
        log_error_rl("vsock: error updating epoll listener for (lp=%u, "
                     "pp=%u): errno %d",
                     c->local_port, c->peer_port, -rc);
        metrics_counter_inc(&mt()->muxer_event_fails);
        kill_connection(m, c->local_port, c->peer_port);
        return;
    }
    mc->in_epoll = true;
    mc->evset = ev;
}

/*
 * Add a connection built by the caller (who gives up *mc on success).
 * Returns 0, or -EMFILE at the limit / -errno from epoll (the caller then
 * finalizes and frees it).
 */
static int add_connection(struct vsock_muxer *m, struct mux_conn *mc)
{
    uint32_t b;
    int rc;

    /* Make room first: timed-out connections go. */
    sweep_killq(m);
    if (m->n_conns >= VSOCK_MAX_CONNECTIONS) {
        log_info_rl("vsock: muxer connection limit reached (%d)",
                    VSOCK_MAX_CONNECTIONS);
        return -EMFILE;
    }
    mc->l.kind = L_CONN;
    mc->evset = vsock_conn_events(&mc->c);
    rc = ep_ctl(m, EPOLL_CTL_ADD, mc->c.fd, mc->evset, &mc->l);
    if (rc < 0)
        return rc;
    mc->in_epoll = true;
    if (vsock_conn_has_pending_rx(&mc->c))
        enq_conn_rx(m, mc->c.local_port, mc->c.peer_port);
    b = bucket(mc->c.local_port, mc->c.peer_port);
    mc->next = m->buckets[b];
    m->buckets[b] = mc;
    m->n_conns++;
    metrics_counter_inc(&mt()->conns_added);
    return 0;
}

static void drop_conn(struct mux_conn *mc)
{
    vsock_conn_fini(&mc->c);
    free(mc);
}

/* A non-blocking connection to "<uds_path>_<port>": fd or -errno. */
static int connect_port(const struct vsock_muxer *m, uint32_t port)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n =
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", m->uds_path, port);
    int fd, rc;

    if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* A Unix stream connect completes at once or fails (EAGAIN when the
     * listener's backlog is full); it never blocks the vmm thread. */
    do {
        rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

/* A REQUEST from the guest for a stream we do not know. */
static void handle_peer_request(struct vsock_muxer *m,
                                const struct vsock_hdr *h)
{
    struct mux_conn *mc;
    int fd = connect_port(m, h->dst_port);

    if (fd < 0) {
        enq_rst(m, h->dst_port, h->src_port);
        return;
    }
    mc = xcalloc(1, sizeof(*mc));
    vsock_conn_init_peer(&mc->c, fd, VSOCK_HOST_CID, m->cid, h->dst_port,
                         h->src_port, h->buf_alloc);
    if (add_connection(m, mc) < 0) {
        drop_conn(mc);
        enq_rst(m, h->dst_port, h->src_port);
    }
}

/* ---- pending clients ----------------------------------------------------- */

static void stream_free(struct vsock_muxer *m, struct local_stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        m->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    m->n_streams--;
    if (s->fd >= 0) {
        (void)epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    free(s);
}

static void accept_client(struct vsock_muxer *m)
{
    struct local_stream *s;
    int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            log_warn_rl("vsock: unable to accept local connection: errno %d",
                        errno);
        return;
    }
    if (m->n_conns >= VSOCK_MAX_CONNECTIONS ||
        m->n_streams >= VSOCK_MAX_PENDING_STREAMS) {
        /* Accept and drop, so the client sees its connection close. */
        log_warn_rl("vsock: connection limit reached; refusing new host "
                    "connection");
        close(fd);
        return;
    }
    s = xcalloc(1, sizeof(*s));
    s->l.kind = L_STREAM;
    s->fd = fd;
    if (ep_ctl(m, EPOLL_CTL_ADD, fd, EPOLLIN, &s->l) < 0) {
        log_warn_rl("vsock: unable to watch local connection");
        close(fd);
        free(s);
        return;
    }
    s->next = m->streams;
    if (m->streams)
        m->streams->prev = s;
    m->streams = s;
    m->n_streams++;
}

/* Read what the CONNECT line still needs. Returns 1 when the line is
 * complete, 0 to wait for more, -1 if the client must be dropped. */
static int stream_read_line(struct local_stream *s)
{
    uint32_t want;

    while ((want = vsock_connect_want(&s->line)) > 0) {
        ssize_t n = read(s->fd, s->line.buf + s->line.len, want);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        s->line.len += (uint32_t)n;
    }
    return 1;
}

/* The client's socket is readable: its CONNECT line, then a connection. */
static void stream_event(struct vsock_muxer *m, struct local_stream *s)
{
    struct mux_conn *mc;
    uint32_t peer_port, local_port;
    int rc = stream_read_line(s), fd;

    if (rc == 0)
        return;
    if (rc < 0 ||
        vsock_connect_parse(s->line.buf, s->line.len, &peer_port) < 0) {
        log_info_rl("vsock: error adding local-init connection: invalid "
                    "CONNECT request");
        stream_free(m, s);
        return;
    }
    /* The socket now belongs to the connection. */
    (void)epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
    fd = s->fd;
    s->fd = -1;
    stream_free(m, s);
    local_port = allocate_local_port(m);
    mc = xcalloc(1, sizeof(*mc));
    vsock_conn_init_local(&mc->c, fd, VSOCK_HOST_CID, m->cid, local_port,
                          peer_port);
    if (add_connection(m, mc) < 0) {
        log_info_rl("vsock: error adding local-init connection");
        drop_conn(mc);
    }
}

/* ---- public -------------------------------------------------------------- */

int vsock_muxer_new(const struct vsock_muxer_params *p,
                    struct vsock_muxer **out)
{
    struct vsock_muxer *m;
    int fl;

    if (p->listen_fd < 0 || !p->uds_path)
        return -EINVAL;
    m = xcalloc(1, sizeof(*m));
    m->epoll_fd = -1;
    m->cid = p->guest_cid;
    m->clock = p->clock;
    m->clock_opaque = p->clock_opaque;
    m->host_l.kind = L_HOST;
    m->uds_path = xstrdup(p->uds_path);
    m->listen_fd = fcntl(p->listen_fd, F_DUPFD_CLOEXEC, 0);
    if (m->listen_fd < 0)
        goto fail;
    /* The flag lives on the shared file description: the owner's copy is
     * made non-blocking too, which is how resources.c opens it anyway. */
    fl = fcntl(m->listen_fd, F_GETFL);
    if (fl < 0 || fcntl(m->listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
        goto fail;
    m->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (m->epoll_fd < 0)
        goto fail;
    vsock_rxq_init(&m->rxq);
    vsock_killq_init(&m->killq);
    m->local_port_last = LOCAL_PORT_MIN - 1;
    *out = m;
    return 0;
fail:
    fl = -errno;
    vsock_muxer_free(m);
    return fl;
}

void vsock_muxer_reset(struct vsock_muxer *m)
{
    for (uint32_t b = 0; b < N_BUCKETS; b++) {
        while (m->buckets[b])
            remove_connection(m, m->buckets[b]->c.local_port,
                              m->buckets[b]->c.peer_port);
    }
    while (m->streams)
        stream_free(m, m->streams);
    if (m->host_watched)
        (void)epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, m->listen_fd, NULL);
    m->host_watched = false;
    vsock_rxq_init(&m->rxq);
    vsock_killq_init(&m->killq);
    m->local_port_last = LOCAL_PORT_MIN - 1;
}

void vsock_muxer_free(struct vsock_muxer *m)
{
    if (!m)
        return;
    if (m->epoll_fd >= 0)
        vsock_muxer_reset(m);
    if (m->epoll_fd >= 0)
        close(m->epoll_fd);
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    free(m->uds_path);
    free(m);
}

int vsock_muxer_fd(const struct vsock_muxer *m)
{
    return m->epoll_fd;
}

int vsock_muxer_activate(struct vsock_muxer *m)
{
    int rc;

    if (m->host_watched)
        return 0;
    rc = ep_ctl(m, EPOLL_CTL_ADD, m->listen_fd, EPOLLIN, &m->host_l);
    if (rc == 0)
        m->host_watched = true;
    return rc;
}

void vsock_muxer_notify(struct vsock_muxer *m)
{
    struct epoll_event evs[EPOLL_BATCH];
    int n = epoll_wait(m->epoll_fd, evs, EPOLL_BATCH, 0);

    if (n < 0) {
        if (errno != EINTR) {
            log_warn_rl("vsock: failed to consume muxer epoll event: errno "
                        "%d",
                        errno);
            metrics_counter_inc(&mt()->muxer_event_fails);
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        struct listener *l = evs[i].data.ptr;

        switch (l->kind) {
        case L_HOST:
            accept_client(m);
            break;
        case L_STREAM:
            stream_event(m, (struct local_stream *)l);
            break;
        case L_CONN: {
            struct mux_conn *mc = (struct mux_conn *)l;
            struct mut_snap s;

            /* Unwatched earlier in this batch: upstream finds no
             * listener for the fd. */
            if (!mc->in_epoll) {
                metrics_counter_inc(&mt()->muxer_event_fails);
                break;
            }
            s = mut_begin(m, mc);
            vsock_conn_notify(&mc->c, evs[i].events);
            mut_end(m, mc, &s);
            break;
        }
        }
    }
}

int vsock_muxer_recv_pkt(struct vsock_muxer *m, struct vsock_pkt *p)
{
    struct vsock_rx_item it;

    /* An empty queue may only mean it lost track: rebuild it. */
    if (vsock_rxq_is_empty(&m->rxq) && !m->rxq.synced)
        rebuild_rxq(m);
    while (vsock_rxq_peek(&m->rxq, &it)) {
        struct mux_conn *mc;
        int rc = -ENODATA;
        bool do_pop = true;

        if (it.is_rst) {
            p->hdr = (struct vsock_hdr){
                .src_cid = VSOCK_HOST_CID,
                .dst_cid = m->cid,
                .src_port = it.local_port,
                .dst_port = it.peer_port,
                .type = SQ_VSOCK_TYPE_STREAM,
                .op = SQ_VSOCK_OP_RST,
            };
            vsock_rxq_pop(&m->rxq);
            return 0;
        }
        mc = find(m, it.local_port, it.peer_port);
        if (mc) {
            struct mut_snap s = mut_begin(m, mc);

            rc = vsock_conn_recv_pkt(&mc->c, p, now(m));
            do_pop = !vsock_conn_has_pending_rx(&mc->c);
            mut_end(m, mc, &s);
        }
        if (do_pop)
            vsock_rxq_pop(&m->rxq);
        if (rc == 0) {
            /* An RST ends the connection. */
            if (p->hdr.op == SQ_VSOCK_OP_RST)
                remove_connection(m, p->hdr.src_port, p->hdr.dst_port);
            return 0;
        }
    }
    return -ENODATA;
}

void vsock_muxer_send_pkt(struct vsock_muxer *m, const struct vsock_pkt *p)
{
    const struct vsock_hdr *h = &p->hdr;
    struct mux_conn *mc;
    struct mut_snap s;

    if (h->type != SQ_VSOCK_TYPE_STREAM) {
        enq_rst(m, h->dst_port, h->src_port);
        return;
    }
    /* Only the host end of guest-host streams is ours. */
    if (h->dst_cid != VSOCK_HOST_CID) {
        log_info_rl("vsock: dropping guest packet for unknown CID");
        return;
    }
    mc = find(m, h->dst_port, h->src_port);
    if (!mc) {
        if (h->op == SQ_VSOCK_OP_REQUEST)
            handle_peer_request(m, h);
        else
            enq_rst(m, h->dst_port, h->src_port);
        return;
    }
    if (h->op == SQ_VSOCK_OP_RST) {
        remove_connection(m, h->dst_port, h->src_port);
        return;
    }
    s = mut_begin(m, mc);
    vsock_conn_send_pkt(&mc->c, p, now(m));
    mut_end(m, mc, &s);
}

bool vsock_muxer_has_pending_rx(const struct vsock_muxer *m)
{
    return !vsock_rxq_is_empty(&m->rxq) || !m->rxq.synced;
}

size_t vsock_muxer_n_conns(const struct vsock_muxer *m)
{
    return m->n_conns;
}

size_t vsock_muxer_n_pending_streams(const struct vsock_muxer *m)
{
    return m->n_streams;
}

bool vsock_muxer_rxq_synced(const struct vsock_muxer *m)
{
    return m->rxq.synced;
}

bool vsock_muxer_killq_synced(const struct vsock_muxer *m)
{
    return m->killq.synced;
}
