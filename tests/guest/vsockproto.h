/*
 * vsockproto.h: a virtio-vsock stream client for the test guest and the
 * host unit tests and benchmarks (tests/guest/vsockproto.c).
 *
 * It speaks the packet protocol of virtio 1.x section 5.10.6 from the
 * driver's side: the 44-byte little-endian header, the ops REQUEST,
 * RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE and CREDIT_REQUEST, and the
 * credit rules both ways:
 *   - what it receives goes into the connection's own buffer (rcap bytes,
 *     announced as buf_alloc); fwd_cnt counts what the caller has read,
 *     and a CREDIT_UPDATE goes out once a quarter of the buffer has been
 *     read since the last report, or when the peer asks;
 *   - what it sends never exceeds the peer's credit,
 *     peer_buf_alloc - (tx_cnt - peer_fwd_cnt); with none left it sends
 *     one CREDIT_REQUEST and waits for the peer's update.
 * Data that arrives beyond the announced credit is dropped and counted
 * (stats.credit_violations): a device that respects credit never causes
 * one.
 *
 * Packets travel through two callbacks, so the same code runs over the
 * guest's virtio-vsock queues (vsock.c) and, in the host tests, straight
 * through squib's device rings in-process. It uses no libc: only
 * <stddef.h>, <stdint.h> and <stdbool.h>.
 *
 * Connections live in an array the caller gives to vp_init(), each with a
 * slice of one receive arena. A listening port accepts REQUESTs by itself
 * while any call waits (RESPONSE at once); vp_accept() hands them out.
 * Packets for no connection are answered with RST (an RST excepted).
 * Functions that wait return VP_OK or a negative enum vp_result.
 */
#ifndef SQUIB_GUEST_VSOCKPROTO_H
#define SQUIB_GUEST_VSOCKPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VP_HDR_LEN      44
#define VP_HOST_CID     2
#define VP_PAYLOAD_MAX  65536 /* the largest payload accepted or sent */
#define VP_PKT_MAX      (VP_HDR_LEN + VP_PAYLOAD_MAX)
#define VP_TYPE_STREAM  1
#define VP_SHUT_RCV     1u
#define VP_SHUT_SEND    2u
#define VP_MAX_LISTENS  4
#define VP_WAIT_PACKETS 4096 /* a wait gives up after this many others */

enum vp_op {
    VP_OP_REQUEST = 1,
    VP_OP_RESPONSE = 2,
    VP_OP_RST = 3,
    VP_OP_SHUTDOWN = 4,
    VP_OP_RW = 5,
    VP_OP_CREDIT_UPDATE = 6,
    VP_OP_CREDIT_REQUEST = 7,
};

enum vp_result {
    VP_OK = 0,
    VP_TIMEOUT = -1, /* recv_pkt reported nothing within the timeout */
    VP_RST = -2,     /* the peer reset the connection */
    VP_SEND = -3,    /* send_pkt failed */
    VP_NOSLOT = -4,  /* no free connection slot */
    VP_STATE = -5,   /* not possible in the connection's state */
    VP_EOF = -6,     /* the peer will send no more and nothing is left */
};

/* The header, host byte order. */
struct vp_hdr {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port;
    uint32_t len;
    uint16_t type, op;
    uint32_t flags;
    uint32_t buf_alloc, fwd_cnt;
};

/*
 * Send one packet: the 44 header bytes and len payload bytes (both
 * borrowed for the call). Returns 0, or a negative value when it could
 * not be handed over.
 */
typedef int vp_send_fn(void *opaque, const uint8_t hdr[VP_HDR_LEN],
                       const uint8_t *payload, size_t len);
/*
 * Wait up to timeout_ms for the next packet for the guest and copy it
 * (header and payload) into buf (cap bytes). Returns its length, or 0
 * when none came in time.
 */
typedef size_t vp_recv_fn(void *opaque, uint8_t *buf, size_t cap,
                          uint32_t timeout_ms);

enum vp_state {
    VP_FREE = 0,
    VP_CONNECTING, /* REQUEST sent */
    VP_OPEN,       /* RESPONSE sent or received */
    VP_CLOSING,    /* SHUTDOWN sent, waiting for the peer's RST */
    VP_CLOSED,     /* reset (either way); vp_close() frees the slot */
};

struct vp_conn {
    enum vp_state state;
    bool incoming; /* made by a listening port ... */
    bool accepted; /* ... and handed out by vp_accept() */
    bool reset;    /* an RST came from the peer */
    uint64_t peer_cid;
    uint32_t local_port, peer_port;
    uint32_t peer_shut; /* VP_SHUT_* the peer announced */
    /* receive side: our buffer (a slice of the arena) and our credit */
    uint8_t *rbuf;
    uint32_t rcap, rhead, rlen;
    uint32_t rx_cnt;   /* payload bytes taken into rbuf */
    uint32_t fwd_cnt;  /* payload bytes the caller has read */
    uint32_t fwd_sent; /* the fwd_cnt last told to the peer */
    /* send side: the peer's credit */
    uint32_t tx_cnt;
    uint32_t peer_buf_alloc, peer_fwd_cnt;
};

struct vp_stats {
    uint64_t tx_pkts, rx_pkts;
    uint64_t tx_bytes, rx_bytes; /* RW payload */
    uint64_t rx_bad;             /* shorter than a header, or len lies */
    uint64_t rx_ignored;         /* well-formed but of no use */
    uint64_t rsts_sent, rsts_seen;
    uint64_t credit_updates_sent, credit_requests_sent;
    uint64_t credit_updates_seen, credit_requests_seen;
    uint64_t credit_waits;      /* vp_send() found no credit */
    uint64_t credit_violations; /* RW data beyond our announced credit */
    uint64_t max_in_flight;     /* the most tx_cnt - peer_fwd_cnt seen */
};

struct vp_client {
    vp_send_fn *send_pkt;
    vp_recv_fn *recv_pkt;
    void *opaque;
    uint64_t cid;
    uint32_t timeout_ms;             /* per wait for one packet; default 1000 */
    uint32_t max_payload;            /* per RW packet sent; default 4096 */
    uint32_t listen[VP_MAX_LISTENS]; /* 0 = unused */
    struct vp_conn *conns;
    size_t n_conns;
    struct vp_stats stats;
    uint8_t rx[VP_PKT_MAX];
};

/*
 * Set up c as CID cid with the connection array (n entries, zeroed here)
 * and the receive arena (arena_len bytes, split evenly: each connection's
 * buf_alloc). Both stay the caller's and must outlive c. Cannot fail.
 */
void vp_init(struct vp_client *c, uint64_t cid, struct vp_conn *conns, size_t n,
             uint8_t *arena, size_t arena_len, vp_send_fn *send_pkt,
             vp_recv_fn *recv_pkt, void *opaque);

/* Accept REQUESTs to port from now on: VP_OK or VP_NOSLOT (all
 * VP_MAX_LISTENS used). */
int vp_listen(struct vp_client *c, uint32_t port);

/*
 * Open a connection from local port sport to (cid, port): REQUEST, then
 * wait for RESPONSE. VP_OK with *out, VP_RST (refused; the slot is free
 * again), VP_NOSLOT, VP_TIMEOUT, VP_SEND.
 */
int vp_connect(struct vp_client *c, uint64_t cid, uint32_t port, uint32_t sport,
               struct vp_conn **out);

/* Wait for a connection a listening port took and hand it out: VP_OK
 * with *out, or VP_TIMEOUT. */
int vp_accept(struct vp_client *c, struct vp_conn **out);

/*
 * Send len bytes on open k in RW packets of at most max_payload bytes,
 * within the peer's credit, waiting for credit as needed. VP_OK, VP_RST,
 * VP_STATE (not open, or the peer will receive no more), VP_TIMEOUT,
 * VP_SEND.
 */
int vp_send(struct vp_client *c, struct vp_conn *k, const void *data,
            size_t len);

/*
 * Read up to cap bytes from k into dst, waiting for data if none is
 * buffered. VP_OK with *got > 0, VP_EOF (the peer shut its sending side
 * and everything was read), VP_RST, VP_TIMEOUT, VP_SEND.
 */
int vp_recv(struct vp_client *c, struct vp_conn *k, void *dst, size_t cap,
            size_t *got);

/*
 * Close k: if it is open, SHUTDOWN (both directions) and wait for the
 * peer's RST; if the peer had shut down, answer with RST. Frees the slot
 * in every case. VP_OK, VP_TIMEOUT (freed anyway), VP_SEND.
 */
int vp_close(struct vp_client *c, struct vp_conn *k);

/* Wait for one packet and handle it: VP_OK, or VP_TIMEOUT. */
int vp_poll(struct vp_client *c);

/* Send anything (for hostile tests): h as given, h->len set to len. */
int vp_send_raw(struct vp_client *c, struct vp_hdr *h, const void *payload,
                size_t len);

/* The peer's credit left on k. */
uint32_t vp_credit(const struct vp_conn *k);

/* Header codec (44 wire bytes). */
void vp_hdr_encode(const struct vp_hdr *h, uint8_t b[VP_HDR_LEN]);
void vp_hdr_decode(const uint8_t b[VP_HDR_LEN], struct vp_hdr *h);

/* The test data: byte `off` of the pattern stream `seed`, and FNV-1a 64
 * over (p, n) continuing from h (start with VP_FNV_INIT). */
#define VP_FNV_INIT 0xcbf29ce484222325ULL
uint8_t vp_pattern(uint32_t seed, uint64_t off);
uint64_t vp_fnv(uint64_t h, const void *p, size_t n);

#endif
