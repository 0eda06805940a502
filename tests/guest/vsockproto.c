/*
 * vsockproto.c: the virtio-vsock stream client of the test guest
 * (vsockproto.h).
 *
 * Every wait reads packets one by one through recv_pkt and dispatches
 * each (handle()) until the condition waited for holds, the callback
 * reports a timeout, or VP_WAIT_PACKETS packets went by without it (the
 * client has no clock of its own). Dispatch is the same whatever is
 * waited for: a connection's state and buffers change only here, so a
 * sender waiting for credit still takes in data and answers CREDIT_REQUEST.
 *
 * Each connection's receive buffer is a ring of rcap bytes; the credit we
 * announce is rcap - (rx_cnt - fwd_cnt), which is exactly the room left in
 * the ring, so anything a well-behaved peer sends fits.
 *
 * This file is compiled twice: freestanding into the guest (no libc at
 * all) and hosted for the unit tests and benches, so it includes only the
 * headers a freestanding compiler has and copies bytes itself.
 */
#include "vsockproto.h"

#define DEFAULT_TIMEOUT_MS  1000
#define DEFAULT_MAX_PAYLOAD 4096

/* ------------------------------------------------------------ bytes */

/* A plain loop the compiler can widen (no libc here). */
static void copy(uint8_t *d, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void vp_hdr_encode(const struct vp_hdr *h, uint8_t b[VP_HDR_LEN])
{
    put_le(b + 0, h->src_cid, 8);
    put_le(b + 8, h->dst_cid, 8);
    put_le(b + 16, h->src_port, 4);
    put_le(b + 20, h->dst_port, 4);
    put_le(b + 24, h->len, 4);
    put_le(b + 28, h->type, 2);
    put_le(b + 30, h->op, 2);
    put_le(b + 32, h->flags, 4);
    put_le(b + 36, h->buf_alloc, 4);
    put_le(b + 40, h->fwd_cnt, 4);
}

void vp_hdr_decode(const uint8_t b[VP_HDR_LEN], struct vp_hdr *h)
{
    h->src_cid = get_le(b + 0, 8);
    h->dst_cid = get_le(b + 8, 8);
    h->src_port = (uint32_t)get_le(b + 16, 4);
    h->dst_port = (uint32_t)get_le(b + 20, 4);
    h->len = (uint32_t)get_le(b + 24, 4);
    h->type = (uint16_t)get_le(b + 28, 2);
    h->op = (uint16_t)get_le(b + 30, 2);
    h->flags = (uint32_t)get_le(b + 32, 4);
    h->buf_alloc = (uint32_t)get_le(b + 36, 4);
    h->fwd_cnt = (uint32_t)get_le(b + 40, 4);
}

uint8_t vp_pattern(uint32_t seed, uint64_t off)
{
    uint64_t x = off * 0x9e3779b97f4a7c15ULL + seed;

    return (uint8_t)(x >> 29 ^ x >> 47 ^ off);
}

uint64_t vp_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ------------------------------------------------------------ setup */

void vp_init(struct vp_client *c, uint64_t cid, struct vp_conn *conns, size_t n,
             uint8_t *arena, size_t arena_len, vp_send_fn *send_pkt,
             vp_recv_fn *recv_pkt, void *opaque)
{
    size_t slice = n ? arena_len / n : 0;

    c->send_pkt = send_pkt;
    c->recv_pkt = recv_pkt;
    c->opaque = opaque;
    c->cid = cid;
    c->timeout_ms = DEFAULT_TIMEOUT_MS;
    c->max_payload = DEFAULT_MAX_PAYLOAD;
    for (int i = 0; i < VP_MAX_LISTENS; i++)
        c->listen[i] = 0;
    c->conns = conns;
    c->n_conns = n;
    for (size_t i = 0; i < sizeof(c->stats); i++)
        ((uint8_t *)&c->stats)[i] = 0;
    if (slice > 0xffffffffu)
        slice = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof(conns[i]); j++)
            ((uint8_t *)&conns[i])[j] = 0;
        conns[i].rbuf = arena + i * slice;
        conns[i].rcap = (uint32_t)slice;
    }
}

int vp_listen(struct vp_client *c, uint32_t port)
{
    for (int i = 0; i < VP_MAX_LISTENS; i++) {
        if (c->listen[i] == 0 || c->listen[i] == port) {
            c->listen[i] = port;
            return VP_OK;
        }
    }
    return VP_NOSLOT;
}

static bool listening(const struct vp_client *c, uint32_t port)
{
    for (int i = 0; i < VP_MAX_LISTENS; i++) {
        if (port != 0 && c->listen[i] == port)
            return true;
    }
    return false;
}

uint32_t vp_credit(const struct vp_conn *k)
{
    uint32_t in_flight = k->tx_cnt - k->peer_fwd_cnt;

    return in_flight >= k->peer_buf_alloc ? 0 : k->peer_buf_alloc - in_flight;
}

static void free_slot(struct vp_conn *k)
{
    uint8_t *rbuf = k->rbuf;
    uint32_t rcap = k->rcap;

    for (size_t j = 0; j < sizeof(*k); j++)
        ((uint8_t *)k)[j] = 0;
    k->rbuf = rbuf;
    k->rcap = rcap;
}

/* ------------------------------------------------------------ sending */

int vp_send_raw(struct vp_client *c, struct vp_hdr *h, const void *payload,
                size_t len)
{
    uint8_t b[VP_HDR_LEN];

    h->len = (uint32_t)len;
    vp_hdr_encode(h, b);
    if (c->send_pkt(c->opaque, b, payload, len) < 0)
        return VP_SEND;
    c->stats.tx_pkts++;
    return VP_OK;
}

/* A packet on k with op, flags and payload; carries our credit. */
static int send_op(struct vp_client *c, struct vp_conn *k, uint16_t op,
                   uint32_t flags, const void *payload, size_t len)
{
    struct vp_hdr h = {
        .src_cid = c->cid,
        .dst_cid = k->peer_cid,
        .src_port = k->local_port,
        .dst_port = k->peer_port,
        .type = VP_TYPE_STREAM,
        .op = op,
        .flags = flags,
        .buf_alloc = k->rcap,
        .fwd_cnt = k->fwd_cnt,
    };
    int rc = vp_send_raw(c, &h, payload, len);

    if (rc == VP_OK) {
        k->fwd_sent = k->fwd_cnt;
        if (op == VP_OP_RST)
            c->stats.rsts_sent++;
        else if (op == VP_OP_CREDIT_UPDATE)
            c->stats.credit_updates_sent++;
        else if (op == VP_OP_CREDIT_REQUEST)
            c->stats.credit_requests_sent++;
    }
    return rc;
}

/* RST for a packet that belongs to no connection. */
static void send_stray_rst(struct vp_client *c, const struct vp_hdr *in)
{
    struct vp_hdr h = {
        .src_cid = c->cid,
        .dst_cid = in->src_cid,
        .src_port = in->dst_port,
        .dst_port = in->src_port,
        .type = VP_TYPE_STREAM,
        .op = VP_OP_RST,
    };

    if (vp_send_raw(c, &h, NULL, 0) == VP_OK)
        c->stats.rsts_sent++;
}

/* ------------------------------------------------------------ receiving */

static struct vp_conn *find(struct vp_client *c, const struct vp_hdr *h)
{
    for (size_t i = 0; i < c->n_conns; i++) {
        struct vp_conn *k = &c->conns[i];

        if (k->state != VP_FREE && k->local_port == h->dst_port &&
            k->peer_port == h->src_port && k->peer_cid == h->src_cid)
            return k;
    }
    return NULL;
}

static struct vp_conn *alloc_slot(struct vp_client *c)
{
    for (size_t i = 0; i < c->n_conns; i++) {
        if (c->conns[i].state == VP_FREE)
            return &c->conns[i];
    }
    return NULL;
}

static void take_data(struct vp_client *c, struct vp_conn *k, const uint8_t *p,
                      uint32_t len)
{
    uint32_t tail, first;

    if (len > k->rcap - k->rlen) {
        c->stats.credit_violations++;
        return;
    }
    /* At most two runs: up to the end of the ring, then from its start. */
    tail = (k->rhead + k->rlen) % k->rcap;
    first = k->rcap - tail < len ? k->rcap - tail : len;
    copy(k->rbuf + tail, p, first);
    copy(k->rbuf, p + first, len - first);
    k->rlen += len;
    k->rx_cnt += len;
    c->stats.rx_bytes += len;
}

static void incoming_request(struct vp_client *c, const struct vp_hdr *h)
{
    struct vp_conn *k = listening(c, h->dst_port) ? alloc_slot(c) : NULL;

    if (!k) {
        send_stray_rst(c, h);
        return;
    }
    k->state = VP_OPEN;
    k->incoming = true;
    k->peer_cid = h->src_cid;
    k->local_port = h->dst_port;
    k->peer_port = h->src_port;
    k->peer_buf_alloc = h->buf_alloc;
    k->peer_fwd_cnt = h->fwd_cnt;
    if (send_op(c, k, VP_OP_RESPONSE, 0, NULL, 0) != VP_OK)
        free_slot(k);
}

static void handle(struct vp_client *c, const uint8_t *pkt, size_t len)
{
    struct vp_hdr h;
    struct vp_conn *k;

    c->stats.rx_pkts++;
    if (len < VP_HDR_LEN) {
        c->stats.rx_bad++;
        return;
    }
    vp_hdr_decode(pkt, &h);
    if (h.len != len - VP_HDR_LEN || h.dst_cid != c->cid) {
        c->stats.rx_bad++;
        return;
    }
    if (h.op == VP_OP_RST)
        c->stats.rsts_seen++;
    k = h.type == VP_TYPE_STREAM ? find(c, &h) : NULL;
    if (!k) {
        if (h.op == VP_OP_REQUEST && h.type == VP_TYPE_STREAM)
            incoming_request(c, &h);
        else if (h.op != VP_OP_RST)
            send_stray_rst(c, &h);
        else
            c->stats.rx_ignored++;
        return;
    }
    k->peer_buf_alloc = h.buf_alloc;
    k->peer_fwd_cnt = h.fwd_cnt;
    switch (h.op) {
    case VP_OP_RESPONSE:
        if (k->state == VP_CONNECTING)
            k->state = VP_OPEN;
        else
            c->stats.rx_ignored++;
        break;
    case VP_OP_RST:
        k->reset = true;
        k->state = VP_CLOSED;
        break;
    case VP_OP_SHUTDOWN:
        k->peer_shut |= h.flags & (VP_SHUT_RCV | VP_SHUT_SEND);
        /* Our SHUTDOWN crossed theirs: nothing more will come, finish. */
        if (k->state == VP_CLOSING) {
            send_op(c, k, VP_OP_RST, 0, NULL, 0);
            k->state = VP_CLOSED;
        }
        break;
    case VP_OP_RW:
        if (k->state == VP_OPEN || k->state == VP_CLOSING)
            take_data(c, k, pkt + VP_HDR_LEN, h.len);
        else
            c->stats.rx_ignored++;
        break;
    case VP_OP_CREDIT_UPDATE:
        c->stats.credit_updates_seen++;
        break;
    case VP_OP_CREDIT_REQUEST:
        c->stats.credit_requests_seen++;
        send_op(c, k, VP_OP_CREDIT_UPDATE, 0, NULL, 0);
        break;
    default:
        c->stats.rx_ignored++;
        break;
    }
}

int vp_poll(struct vp_client *c)
{
    size_t n = c->recv_pkt(c->opaque, c->rx, sizeof(c->rx), c->timeout_ms);

    if (n == 0)
        return VP_TIMEOUT;
    handle(c, c->rx, n);
    return VP_OK;
}

/* ------------------------------------------------------------ streams */

int vp_connect(struct vp_client *c, uint64_t cid, uint32_t port, uint32_t sport,
               struct vp_conn **out)
{
    struct vp_conn *k = alloc_slot(c);
    int rc;

    if (!k)
        return VP_NOSLOT;
    k->state = VP_CONNECTING;
    k->peer_cid = cid;
    k->peer_port = port;
    k->local_port = sport;
    rc = send_op(c, k, VP_OP_REQUEST, 0, NULL, 0);
    for (int i = 0; rc == VP_OK && k->state == VP_CONNECTING; i++) {
        if (i == VP_WAIT_PACKETS)
            rc = VP_TIMEOUT;
        else
            rc = vp_poll(c);
    }
    if (rc == VP_OK && k->state == VP_OPEN) {
        *out = k;
        return VP_OK;
    }
    if (rc == VP_OK)
        rc = VP_RST;
    free_slot(k);
    return rc;
}

int vp_accept(struct vp_client *c, struct vp_conn **out)
{
    for (int i = 0; i < VP_WAIT_PACKETS; i++) {
        for (size_t j = 0; j < c->n_conns; j++) {
            struct vp_conn *k = &c->conns[j];

            if (k->state != VP_FREE && k->incoming && !k->accepted) {
                k->accepted = true;
                *out = k;
                return VP_OK;
            }
        }
        if (vp_poll(c) != VP_OK)
            return VP_TIMEOUT;
    }
    return VP_TIMEOUT;
}

int vp_send(struct vp_client *c, struct vp_conn *k, const void *data,
            size_t len)
{
    const uint8_t *p = data;
    int idle = 0;

    while (len > 0) {
        uint32_t n = vp_credit(k), in_flight;
        int rc;

        if (k->state != VP_OPEN)
            return k->reset ? VP_RST : VP_STATE;
        if (k->peer_shut & VP_SHUT_RCV)
            return VP_STATE;
        if (n == 0) {
            /* Ask once per stall; the peer's update ends it. */
            if (idle == 0) {
                c->stats.credit_waits++;
                rc = send_op(c, k, VP_OP_CREDIT_REQUEST, 0, NULL, 0);
                if (rc != VP_OK)
                    return rc;
            }
            if (++idle > VP_WAIT_PACKETS)
                return VP_TIMEOUT;
            rc = vp_poll(c);
            if (rc != VP_OK)
                return rc;
            continue;
        }
        idle = 0;
        if (n > c->max_payload)
            n = c->max_payload;
        if (n > VP_PAYLOAD_MAX)
            n = VP_PAYLOAD_MAX;
        if (n > len)
            n = (uint32_t)len;
        rc = send_op(c, k, VP_OP_RW, 0, p, n);
        if (rc != VP_OK)
            return rc;
        k->tx_cnt += n;
        c->stats.tx_bytes += n;
        in_flight = k->tx_cnt - k->peer_fwd_cnt;
        if (in_flight > c->stats.max_in_flight)
            c->stats.max_in_flight = in_flight;
        p += n;
        len -= n;
    }
    return VP_OK;
}

int vp_recv(struct vp_client *c, struct vp_conn *k, void *dst, size_t cap,
            size_t *got)
{
    uint8_t *d = dst;
    size_t n = 0;

    *got = 0;
    for (int i = 0; k->rlen == 0; i++) {
        int rc;

        if (k->reset)
            return VP_RST;
        if (k->peer_shut & VP_SHUT_SEND || k->state != VP_OPEN)
            return VP_EOF;
        if (i == VP_WAIT_PACKETS)
            return VP_TIMEOUT;
        rc = vp_poll(c);
        if (rc != VP_OK)
            return rc;
    }
    while (n < cap && k->rlen > 0) {
        uint32_t run =
            k->rcap - k->rhead < k->rlen ? k->rcap - k->rhead : k->rlen;

        if (run > cap - n)
            run = (uint32_t)(cap - n);
        copy(d + n, k->rbuf + k->rhead, run);
        n += run;
        k->rhead = (k->rhead + run) % k->rcap;
        k->rlen -= run;
    }
    k->fwd_cnt += (uint32_t)n;
    *got = n;
    /* Tell the peer once a quarter of the buffer is free again. */
    if (k->state == VP_OPEN && k->fwd_cnt - k->fwd_sent >= k->rcap / 4)
        return send_op(c, k, VP_OP_CREDIT_UPDATE, 0, NULL, 0);
    return VP_OK;
}

int vp_close(struct vp_client *c, struct vp_conn *k)
{
    int rc = VP_OK;

    if (k->state == VP_OPEN && (k->peer_shut & (VP_SHUT_RCV | VP_SHUT_SEND)) ==
                                   (VP_SHUT_RCV | VP_SHUT_SEND)) {
        rc = send_op(c, k, VP_OP_RST, 0, NULL, 0);
    } else if (k->state == VP_OPEN || k->state == VP_CONNECTING) {
        rc = send_op(c, k, VP_OP_SHUTDOWN, VP_SHUT_RCV | VP_SHUT_SEND, NULL, 0);
        if (rc == VP_OK)
            k->state = VP_CLOSING;
        for (int i = 0; rc == VP_OK && k->state == VP_CLOSING; i++) {
            if (i == VP_WAIT_PACKETS)
                rc = VP_TIMEOUT;
            else
                rc = vp_poll(c);
        }
    }
    free_slot(k);
    return rc;
}
