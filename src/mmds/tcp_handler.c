/*
 * tcp_handler.c: the MMDS's TCP listener on one IPv4 address and port
 * (upstream dumbo/tcp/handler.rs, TcpIPv4Handler).
 *
 * Connections live in a fixed table of max_conns slots keyed by the
 * guest's (address, port). A SYN for an unknown pair opens one; when the
 * table is full, a connection idle for over TCP_EVICTION_NS is evicted (a
 * RST is queued for it) and, if there is none, the SYN is answered with a
 * RST. Any other segment for an unknown pair is answered with a RST unless
 * it is a RST itself. RSTs wait in a stack of at most max_rsts (upstream
 * pops the newest first); beyond that they are dropped.
 *
 * To find the next segment quickly the handler keeps, as upstream does,
 * the set of connections that can send at once ("active") and the one
 * whose retransmission timer fires first; both are refreshed after every
 * segment a connection receives or sends.
 */
#include "mmds/tcp.h"

#include <errno.h>
#include <stdlib.h>

#include "util/xalloc.h"

struct slot {
    struct tcp_endpoint *ep; /* owned; NULL when the slot is free */
    uint32_t remote_addr;
    uint16_t remote_port;
    bool active; /* TCP_NEXT_AVAILABLE */
};

struct queued_rst {
    uint32_t remote_addr;
    uint16_t remote_port;
    struct tcp_rst rst;
};

struct tcp_handler {
    uint32_t local_addr;
    uint16_t local_port;
    struct slot *slots; /* owned, max_conns */
    size_t max_conns;
    size_t n_conns;
    bool has_timeout;
    uint64_t timeout;        /* earliest retransmission timeout ... */
    size_t timeout_slot;     /* ... and whose */
    struct queued_rst *rsts; /* owned, max_rsts; a stack */
    size_t max_rsts;
    size_t n_rsts;
    uint32_t rng; /* xorshift32 state for ISNs; never 0 */
};

struct tcp_handler *tcp_handler_new(uint32_t local_addr, uint16_t local_port,
                                    size_t max_conns, size_t max_rsts,
                                    uint32_t seed)
{
    struct tcp_handler *h = xcalloc(1, sizeof(*h));

    h->local_addr = local_addr;
    h->local_port = local_port;
    h->max_conns = max_conns ? max_conns : 1;
    h->max_rsts = max_rsts ? max_rsts : 1;
    h->slots = xcalloc(h->max_conns, sizeof(*h->slots));
    h->rsts = xcalloc(h->max_rsts, sizeof(*h->rsts));
    h->rng = seed ? seed : 0x12345678u;
    return h;
}

void tcp_handler_free(struct tcp_handler *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->max_conns; i++)
        tcp_endpoint_free(h->slots[i].ep);
    free(h->slots);
    free(h->rsts);
    free(h);
}

void tcp_handler_set_addr(struct tcp_handler *h, uint32_t local_addr)
{
    h->local_addr = local_addr;
}

size_t tcp_handler_n_conns(const struct tcp_handler *h)
{
    return h->n_conns;
}

size_t tcp_handler_n_rsts(const struct tcp_handler *h)
{
    return h->n_rsts;
}

/* Upstream uses a xorshift generator for ISNs as well (RFC 6528 wants a
 * keyed hash; no traffic of this stack leaves the host). */
static uint32_t next_isn(struct tcp_handler *h)
{
    uint32_t x = h->rng;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    h->rng = x;
    return x;
}

static struct slot *find(struct tcp_handler *h, uint32_t addr, uint16_t port)
{
    for (size_t i = 0; i < h->max_conns; i++) {
        struct slot *s = &h->slots[i];

        if (s->ep && s->remote_addr == addr && s->remote_port == port)
            return s;
    }
    return NULL;
}

static void find_next_timeout(struct tcp_handler *h)
{
    h->has_timeout = false;
    for (size_t i = 0; i < h->max_conns; i++) {
        uint64_t t = 0;

        if (!h->slots[i].ep ||
            tcp_endpoint_next_status(h->slots[i].ep, &t) != TCP_NEXT_TIMEOUT)
            continue;
        if (!h->has_timeout || t < h->timeout) {
            h->has_timeout = true;
            h->timeout = t;
            h->timeout_slot = i;
        }
    }
}

/* Refresh the bookkeeping of slot i after its endpoint changed. */
static void update_status(struct tcp_handler *h, size_t i)
{
    uint64_t t = 0;
    enum tcp_next st = tcp_endpoint_next_status(h->slots[i].ep, &t);

    if (h->has_timeout && h->timeout_slot == i)
        find_next_timeout(h);
    h->slots[i].active = st == TCP_NEXT_AVAILABLE;
    if (st == TCP_NEXT_TIMEOUT && (!h->has_timeout || h->timeout > t)) {
        h->has_timeout = true;
        h->timeout = t;
        h->timeout_slot = i;
    }
}

static void remove_slot(struct tcp_handler *h, size_t i)
{
    tcp_endpoint_free(h->slots[i].ep);
    h->slots[i].ep = NULL;
    h->slots[i].active = false;
    h->n_conns--;
    if (h->has_timeout && h->timeout_slot == i)
        find_next_timeout(h);
}

static void add_slot(struct tcp_handler *h, uint32_t addr, uint16_t port,
                     struct tcp_endpoint *ep)
{
    for (size_t i = 0; i < h->max_conns; i++) {
        struct slot *s = &h->slots[i];

        if (s->ep)
            continue;
        s->ep = ep;
        s->remote_addr = addr;
        s->remote_port = port;
        h->n_conns++;
        update_status(h, i);
        return;
    }
}

static void enqueue_rst(struct tcp_handler *h, uint32_t addr, uint16_t port,
                        struct tcp_rst rst)
{
    if (h->n_rsts >= h->max_rsts)
        return;
    h->rsts[h->n_rsts].remote_addr = addr;
    h->rsts[h->n_rsts].remote_port = port;
    h->rsts[h->n_rsts].rst = rst;
    h->n_rsts++;
}

static enum tcp_recv_event new_connection(struct tcp_handler *h, uint32_t addr,
                                          const struct pdu_tcp *s, uint64_t now)
{
    struct tcp_endpoint *ep;
    int err = 0;

    ep = tcp_endpoint_new(s, now, next_isn(h), &err);
    if (!ep)
        return TCP_RECV_EV_FAILED_NEW_CONN;
    if (h->n_conns < h->max_conns) {
        add_slot(h, addr, s->src_port, ep);
        return TCP_RECV_EV_NEW_CONN;
    }
    for (size_t i = 0; i < h->max_conns; i++) {
        struct slot *v = &h->slots[i];

        if (!tcp_endpoint_is_evictable(v->ep, now))
            continue;
        enqueue_rst(h, v->remote_addr, v->remote_port,
                    tcp_conn_rst(tcp_endpoint_conn(v->ep)));
        remove_slot(h, i);
        add_slot(h, addr, s->src_port, ep);
        return TCP_RECV_EV_NEW_CONN_REPLACING;
    }
    tcp_endpoint_free(ep);
    enqueue_rst(h, addr, s->src_port, tcp_rst_for_segment(s));
    return TCP_RECV_EV_NEW_CONN_DROPPED;
}

int tcp_handler_receive(struct tcp_handler *h, const struct pdu_ipv4 *ip,
                        uint64_t now, tcp_http_fn *http, void *opaque,
                        struct tcp_counters *ctr, enum tcp_recv_event *ev)
{
    struct pdu_tcp s;
    struct slot *sl;
    int rc;

    *ev = TCP_RECV_EV_NOTHING;
    /* No checksum check, as upstream: a guest that negotiated checksum
     * offload leaves only the pseudo-header sum in the field. */
    rc = pdu_tcp_parse(ip->payload, ip->payload_len, NULL, &s);
    if (rc < 0)
        return rc;
    if (s.dst_port != h->local_port)
        return -EADDRNOTAVAIL;
    sl = find(h, ip->src, s.src_port);
    if (sl) {
        size_t i = (size_t)(sl - h->slots);

        tcp_endpoint_receive(sl->ep, &s, now, http, opaque, ctr);
        if (tcp_endpoint_is_done(sl->ep)) {
            remove_slot(h, i);
            *ev = TCP_RECV_EV_ENDPOINT_DONE;
        } else {
            update_status(h, i);
        }
        return 0;
    }
    if (s.flags == PDU_TCP_SYN) {
        *ev = new_connection(h, ip->src, &s, now);
        return 0;
    }
    if (!(s.flags & PDU_TCP_RST))
        enqueue_rst(h, ip->src, s.src_port, tcp_rst_for_segment(&s));
    *ev = TCP_RECV_EV_UNEXPECTED_SEGMENT;
    return 0;
}

/* Wrap the segment written at seg into its IPv4 packet at buf. */
static size_t finish_packet(struct tcp_handler *h, uint8_t *buf, size_t cap,
                            size_t seg_len, uint32_t addr, uint16_t port)
{
    pdu_tcp_finalize(buf + PDU_IPV4_MIN_HDR_LEN, seg_len, h->local_port, port,
                     h->local_addr, addr);
    /* cannot fail: the segment fits cap and at most 65515 bytes */
    (void)pdu_ipv4_write_header(buf, cap, PDU_IPV4_PROTO_TCP, h->local_addr,
                                addr, seg_len);
    return PDU_IPV4_MIN_HDR_LEN + seg_len;
}

static int write_rst(struct tcp_handler *h, uint8_t *buf, size_t cap,
                     size_t *len)
{
    struct queued_rst *q = &h->rsts[h->n_rsts - 1];
    struct pdu_tcp_out o = {.window = TCP_RST_WINDOW};
    size_t seg_len = 0;
    int rc;

    tcp_rst_fields(q->rst, &o.seq, &o.ack, &o.flags);
    rc = pdu_tcp_write(buf + PDU_IPV4_MIN_HDR_LEN, cap - PDU_IPV4_MIN_HDR_LEN,
                       &o, &seg_len);
    if (rc < 0)
        return rc;
    h->n_rsts--;
    *len = finish_packet(h, buf, cap, seg_len, q->remote_addr, q->remote_port);
    return 0;
}

/* Let slot i write; true when it did. */
static bool try_slot(struct tcp_handler *h, size_t i, uint8_t *buf, size_t cap,
                     uint64_t now, struct tcp_counters *ctr, size_t *len,
                     bool *done)
{
    struct slot *s = &h->slots[i];
    size_t seg_len = 0;

    tcp_endpoint_write_next(s->ep, buf + PDU_IPV4_MIN_HDR_LEN,
                            cap - PDU_IPV4_MIN_HDR_LEN, 0, now, ctr, &seg_len);
    if (!seg_len)
        return false;
    *len = finish_packet(h, buf, cap, seg_len, s->remote_addr, s->remote_port);
    if (tcp_endpoint_is_done(s->ep)) {
        remove_slot(h, i);
        *done = true;
    } else {
        update_status(h, i);
    }
    return true;
}

int tcp_handler_write_next(struct tcp_handler *h, uint8_t *buf, size_t cap,
                           uint64_t now, struct tcp_counters *ctr, size_t *len,
                           bool *done)
{
    *len = 0;
    *done = false;
    if (cap < PDU_IPV4_MIN_HDR_LEN)
        return -ENOSPC;
    if (h->n_rsts)
        return write_rst(h, buf, cap, len);
    for (size_t i = 0; i < h->max_conns; i++)
        if (h->slots[i].ep && h->slots[i].active &&
            try_slot(h, i, buf, cap, now, ctr, len, done))
            return 0;
    if (h->has_timeout)
        try_slot(h, h->timeout_slot, buf, cap, now, ctr, len, done);
    return 0;
}

enum tcp_next tcp_handler_next_status(const struct tcp_handler *h,
                                      uint64_t *timeout)
{
    if (h->n_rsts)
        return TCP_NEXT_AVAILABLE;
    for (size_t i = 0; i < h->max_conns; i++)
        if (h->slots[i].ep && h->slots[i].active)
            return TCP_NEXT_AVAILABLE;
    if (h->has_timeout) {
        *timeout = h->timeout;
        return TCP_NEXT_TIMEOUT;
    }
    return TCP_NEXT_NOTHING;
}
