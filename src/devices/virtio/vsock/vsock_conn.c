/*
 * vsock_conn.c: the connection state machine (vsock_conn.h), following
 * upstream's VsockConnection transition by transition.
 */
#include "devices/virtio/vsock/vsock_conn.h"

#include <errno.h>
#include <unistd.h>

#include "obs/log.h"
#include "obs/metrics.h"

static void init_common(struct vsock_conn *c, int fd, uint64_t local_cid,
                        uint64_t peer_cid, uint32_t local_port,
                        uint32_t peer_port)
{
    *c = (struct vsock_conn){0};
    c->fd = fd;
    c->local_cid = local_cid;
    c->peer_cid = peer_cid;
    c->local_port = local_port;
    c->peer_port = peer_port;
    vsock_txbuf_init(&c->tx);
}

void vsock_conn_init_peer(struct vsock_conn *c, int fd, uint64_t local_cid,
                          uint64_t peer_cid, uint32_t local_port,
                          uint32_t peer_port, uint32_t peer_buf_alloc)
{
    init_common(c, fd, local_cid, peer_cid, local_port, peer_port);
    c->state = VSOCK_CONN_PEER_INIT;
    c->peer_buf_alloc = peer_buf_alloc;
    c->pending_rx = VSOCK_PENDING_RESPONSE;
}

void vsock_conn_init_local(struct vsock_conn *c, int fd, uint64_t local_cid,
                           uint64_t peer_cid, uint32_t local_port,
                           uint32_t peer_port)
{
    init_common(c, fd, local_cid, peer_cid, local_port, peer_port);
    c->state = VSOCK_CONN_LOCAL_INIT;
    c->pending_rx = VSOCK_PENDING_REQUEST;
}

void vsock_conn_fini(struct vsock_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    vsock_txbuf_clear(&c->tx);
}

/* Take indication `bit` out of the pending set; true if it was there. */
static bool take(struct vsock_conn *c, unsigned bit)
{
    bool had = (c->pending_rx & bit) != 0;

    c->pending_rx &= ~bit;
    return had;
}

/* What the guest may still receive before its buffer is full. */
static uint32_t peer_avail_credit(const struct vsock_conn *c)
{
    return c->peer_buf_alloc - (c->rx_cnt - c->peer_fwd_cnt);
}

static bool need_credit_update_from_peer(const struct vsock_conn *c)
{
    return peer_avail_credit(c) == 0;
}

/* Whether the free space the guest last heard about from us is below the
 * threshold, so that it may be holding back data. */
static bool peer_needs_credit_update(const struct vsock_conn *c)
{
    uint32_t seen_free =
        VSOCK_TXBUF_SIZE - (c->fwd_cnt - c->last_fwd_cnt_to_peer);

    return seen_free < VSOCK_CREDIT_UPDATE_THRESHOLD;
}

static void arm_expiry(struct vsock_conn *c, uint64_t now_ns, uint64_t in_ns)
{
    c->has_expiry = true;
    c->expiry_ns = now_ns + in_ns;
}

static void init_pkt_hdr(const struct vsock_conn *c, struct vsock_hdr *h)
{
    h->src_cid = c->local_cid;
    h->dst_cid = c->peer_cid;
    h->src_port = c->local_port;
    h->dst_port = c->peer_port;
    h->type = SQ_VSOCK_TYPE_STREAM;
    h->buf_alloc = VSOCK_TXBUF_SIZE;
    h->fwd_cnt = c->fwd_cnt;
}

/* Whether RW data may flow to the guest in this state. */
static bool can_send_to_peer(const struct vsock_conn *c)
{
    return c->state == VSOCK_CONN_ESTABLISHED ||
           (c->state == VSOCK_CONN_PEER_CLOSED && !c->peer_rcv_off);
}

/* Whether RW data may come from the guest in this state. */
static bool can_recv_from_peer(const struct vsock_conn *c)
{
    return c->state == VSOCK_CONN_ESTABLISHED ||
           (c->state == VSOCK_CONN_PEER_CLOSED && !c->peer_send_off);
}

/* The RW indication: data from the socket into the guest's buffer.
 * Returns 0 with p filled, or 1 if the socket had nothing after all. */
static int recv_rw(struct vsock_conn *c, struct vsock_pkt *p, uint64_t now_ns)
{
    struct metrics_vsock *m = metrics_vsock();
    uint32_t max_len, credit;
    ssize_t n;

    if (!can_send_to_peer(c)) {
        p->hdr.op = SQ_VSOCK_OP_RST;
        return 0;
    }
    if (need_credit_update_from_peer(c)) {
        c->last_fwd_cnt_to_peer = c->fwd_cnt;
        p->hdr.op = SQ_VSOCK_OP_CREDIT_REQUEST;
        return 0;
    }
    credit = peer_avail_credit(c);
    max_len = vsock_pkt_buf_size(p) < credit ? vsock_pkt_buf_size(p) : credit;
    n = vsock_pkt_read_from_fd(p, c->fd, 0, max_len);
    if (n == -EAGAIN || n == -EWOULDBLOCK)
        return 1; /* drained: RW stays cleared */
    if (n < 0) {
        metrics_counter_inc(&m->rx_read_fails);
        log_error_rl("vsock: error reading from backing stream: lp=%u, pp=%u, "
                     "errno %d",
                     c->local_port, c->peer_port, (int)-n);
        p->hdr.op = SQ_VSOCK_OP_RST;
        c->last_fwd_cnt_to_peer = c->fwd_cnt;
        return 0;
    }
    if (n == 0) {
        /* End of stream: neither side can send any more. */
        c->state = VSOCK_CONN_LOCAL_CLOSED;
        arm_expiry(c, now_ns, VSOCK_CONN_SHUTDOWN_TIMEOUT_NS);
        p->hdr.op = SQ_VSOCK_OP_SHUTDOWN;
        p->hdr.flags |=
            SQ_VSOCK_FLAGS_SHUTDOWN_RCV | SQ_VSOCK_FLAGS_SHUTDOWN_SEND;
    } else {
        p->hdr.op = SQ_VSOCK_OP_RW;
        p->hdr.len = (uint32_t)n;
        metrics_counter_add(&m->rx_bytes_count, (uint64_t)n);
        /* There may be more: stay scheduled for another read. */
        c->pending_rx |= VSOCK_PENDING_RW;
    }
    c->rx_cnt += p->hdr.len;
    c->last_fwd_cnt_to_peer = c->fwd_cnt;
    return 0;
}

int vsock_conn_recv_pkt(struct vsock_conn *c, struct vsock_pkt *p,
                        uint64_t now_ns)
{
    init_pkt_hdr(c, &p->hdr);
    metrics_counter_inc(&metrics_vsock()->rx_packets_count);
    if (take(c, VSOCK_PENDING_RST)) {
        p->hdr.op = SQ_VSOCK_OP_RST;
        return 0;
    }
    if (take(c, VSOCK_PENDING_RESPONSE)) {
        c->state = VSOCK_CONN_ESTABLISHED;
        p->hdr.op = SQ_VSOCK_OP_RESPONSE;
        return 0;
    }
    if (take(c, VSOCK_PENDING_REQUEST)) {
        arm_expiry(c, now_ns, VSOCK_CONN_REQUEST_TIMEOUT_NS);
        p->hdr.op = SQ_VSOCK_OP_REQUEST;
        return 0;
    }
    if (take(c, VSOCK_PENDING_RW) && recv_rw(c, p, now_ns) == 0)
        return 0;
    /* A credit update is worth an RX buffer only when there is nothing
     * else to say (upstream drops it otherwise: the next packet carries
     * the same credit). */
    if (take(c, VSOCK_PENDING_CREDIT_UPDATE) && !vsock_conn_has_pending_rx(c)) {
        p->hdr.op = SQ_VSOCK_OP_CREDIT_UPDATE;
        c->last_fwd_cnt_to_peer = c->fwd_cnt;
        return 0;
    }
    return -ENODATA;
}

/* RW payload to the socket, the rest to the TX buffer. 0 or -errno. */
static int send_bytes(struct vsock_conn *c, const struct vsock_pkt *p)
{
    struct metrics_vsock *m = metrics_vsock();
    uint32_t len = p->hdr.len;
    ssize_t w;

    /* Data already waits for EPOLLOUT: keep the order, queue behind it. */
    if (!vsock_txbuf_is_empty(&c->tx))
        return vsock_txbuf_push(&c->tx, p, 0, len);
    w = vsock_pkt_write_to_fd(p, c->fd, 0, len);
    if (w == -EAGAIN || w == -EWOULDBLOCK) {
        w = 0;
    } else if (w < 0) {
        metrics_counter_inc(&m->tx_write_fails);
        return (int)w;
    }
    c->fwd_cnt += (uint32_t)w;
    metrics_counter_add(&m->tx_bytes_count, (uint64_t)w);
    if ((uint32_t)w < len)
        return vsock_txbuf_push(&c->tx, p, (uint32_t)w, len - (uint32_t)w);
    return 0;
}

void vsock_conn_send_pkt(struct vsock_conn *c, const struct vsock_pkt *p,
                         uint64_t now_ns)
{
    const struct vsock_hdr *h = &p->hdr;
    bool rcv = (h->flags & SQ_VSOCK_FLAGS_SHUTDOWN_RCV) != 0;
    bool snd = (h->flags & SQ_VSOCK_FLAGS_SHUTDOWN_SEND) != 0;

    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    metrics_counter_inc(&metrics_vsock()->tx_packets_count);

    if (h->op == SQ_VSOCK_OP_RW && can_recv_from_peer(c)) {
        int rc;

        if (vsock_pkt_buf_size(p) == 0) {
            log_info_rl("vsock: dropping empty data packet from guest "
                        "(lp=%u, pp=%u)",
                        c->local_port, c->peer_port);
            return;
        }
        rc = send_bytes(c, p);
        if (rc < 0) {
            log_warn_rl("vsock: error writing to local stream (lp=%u, "
                        "pp=%u): errno %d",
                        c->local_port, c->peer_port, -rc);
            vsock_conn_kill(c);
            return;
        }
        if (peer_needs_credit_update(c))
            c->pending_rx |= VSOCK_PENDING_CREDIT_UPDATE;
    } else if (c->state == VSOCK_CONN_LOCAL_INIT &&
               h->op == SQ_VSOCK_OP_RESPONSE) {
        c->has_expiry = false;
        c->state = VSOCK_CONN_ESTABLISHED;
    } else if (c->state == VSOCK_CONN_ESTABLISHED &&
               h->op == SQ_VSOCK_OP_SHUTDOWN) {
        c->state = VSOCK_CONN_PEER_CLOSED;
        c->peer_rcv_off = rcv;
        c->peer_send_off = snd;
        if (rcv && snd) {
            if (vsock_txbuf_is_empty(&c->tx))
                c->pending_rx |= VSOCK_PENDING_RST;
            else
                arm_expiry(c, now_ns, VSOCK_CONN_SHUTDOWN_TIMEOUT_NS);
        }
    } else if (c->state == VSOCK_CONN_PEER_CLOSED &&
               h->op == SQ_VSOCK_OP_SHUTDOWN) {
        /* Shutdown promises cannot be taken back: flags accumulate. */
        c->peer_rcv_off = c->peer_rcv_off || rcv;
        c->peer_send_off = c->peer_send_off || snd;
        if (c->peer_rcv_off && c->peer_send_off && vsock_txbuf_is_empty(&c->tx))
            c->pending_rx |= VSOCK_PENDING_RST;
    } else if (h->op == SQ_VSOCK_OP_CREDIT_UPDATE &&
               (c->state == VSOCK_CONN_PEER_INIT || can_send_to_peer(c))) {
        /* The credit fields were taken above. */
    } else if (h->op == SQ_VSOCK_OP_CREDIT_REQUEST &&
               (c->state == VSOCK_CONN_PEER_INIT || can_recv_from_peer(c))) {
        c->pending_rx |= VSOCK_PENDING_CREDIT_UPDATE;
    } else {
        log_debug("vsock: dropping invalid TX pkt for connection: state=%d, "
                  "op=%u",
                  (int)c->state, (unsigned)h->op);
    }
}

unsigned vsock_conn_events(const struct vsock_conn *c)
{
    unsigned ev = 0;

    if (!vsock_txbuf_is_empty(&c->tx))
        ev |= VSOCK_EV_OUT;
    if (c->state == VSOCK_CONN_KILLED || c->state == VSOCK_CONN_LOCAL_CLOSED ||
        (c->state == VSOCK_CONN_PEER_CLOSED && c->peer_rcv_off))
        return ev;
    /* Out of credit: nothing read could be delivered. */
    if (need_credit_update_from_peer(c))
        return ev;
    /* Readable data already waits for a guest RX buffer; watching for
     * input again would only spin on the level-triggered epoll fd. */
    if (c->pending_rx & VSOCK_PENDING_RW)
        return ev;
    return ev | VSOCK_EV_IN;
}

void vsock_conn_notify(struct vsock_conn *c, unsigned events)
{
    struct metrics_vsock *m = metrics_vsock();
    ssize_t flushed;

    if (events & VSOCK_EV_IN)
        c->pending_rx |= VSOCK_PENDING_RW;
    if (!(events & VSOCK_EV_OUT))
        return;
    if (vsock_txbuf_is_empty(&c->tx)) {
        metrics_counter_inc(&m->conn_event_fails);
        log_info_rl("vsock: connection received unexpected EPOLLOUT event");
        return;
    }
    flushed = vsock_txbuf_flush_to(&c->tx, c->fd);
    if (flushed < 0) {
        metrics_counter_inc(&m->tx_flush_fails);
        log_warn_rl("vsock: error flushing TX buf for (lp=%u, pp=%u): "
                    "errno %d",
                    c->local_port, c->peer_port, (int)-flushed);
        /* EAGAIN after EPOLLOUT should not happen, but is harmless. */
        if (flushed != -EAGAIN && flushed != -EWOULDBLOCK)
            vsock_conn_kill(c);
        flushed = 0;
    }
    c->fwd_cnt += (uint32_t)flushed;
    metrics_counter_add(&m->tx_bytes_count, (uint64_t)flushed);
    /* A shutdown that waited for the buffer to drain can complete. */
    if (c->state == VSOCK_CONN_PEER_CLOSED && c->peer_rcv_off &&
        c->peer_send_off && vsock_txbuf_is_empty(&c->tx))
        c->pending_rx |= VSOCK_PENDING_RST;
    else if (peer_needs_credit_update(c))
        c->pending_rx |= VSOCK_PENDING_CREDIT_UPDATE;
}

bool vsock_conn_will_expire(const struct vsock_conn *c, uint64_t now_ns)
{
    return c->has_expiry && c->expiry_ns > now_ns;
}

bool vsock_conn_has_expired(const struct vsock_conn *c, uint64_t now_ns)
{
    return c->has_expiry && c->expiry_ns <= now_ns;
}

void vsock_conn_kill(struct vsock_conn *c)
{
    c->state = VSOCK_CONN_KILLED;
    c->pending_rx |= VSOCK_PENDING_RST;
    /* The stream is being reset: what the host did not take is forfeit. */
    vsock_txbuf_clear(&c->tx);
}

ssize_t vsock_conn_send_raw(struct vsock_conn *c, const void *buf, size_t len)
{
    ssize_t n;

    do {
        n = write(c->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}
