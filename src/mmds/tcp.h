/*
 * tcp.h: the MMDS's minimal TCP (upstream dumbo/tcp/): a passive-open-only
 * connection state machine (tcp_conn.c), an endpoint that feeds whole HTTP
 * requests to a callback and sends back its answer (tcp_endpoint.c), and a
 * listener on one address and port that steers segments to endpoints,
 * creates and evicts them and answers strays with RSTs (tcp_handler.c).
 *
 * Private to src/mmds/ (ns.c and the unit tests). Nothing here reads a
 * clock: every call that needs the time takes `now`, a non-decreasing count
 * of nanoseconds (upstream passes TSC cycles on x86_64, nanoseconds on
 * other architectures; its constants are kept as nanoseconds).
 */
#ifndef SQUIB_MMDS_TCP_H
#define SQUIB_MMDS_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmds/pdu.h"
#include "util/buf.h"

/* Upstream's limits (dumbo/tcp/mod.rs, endpoint.rs). */
#define TCP_MAX_WINDOW_SIZE 1073725440u /* the largest scaled window */
#define TCP_MSS_DEFAULT     536
#define TCP_RCV_BUF_SIZE    2500           /* per endpoint */
#define TCP_EVICTION_NS     40000000000ull /* idle time before eviction */
#define TCP_RTO_PERIOD_NS   1200000000ull  /* retransmission timeout */
#define TCP_RTO_COUNT_MAX   15             /* then the connection resets */
#define TCP_RST_WINDOW      10000          /* window of handler RSTs */

/* seq_after / seq_at_or_after of upstream: serial-number comparison within
 * the largest window. */
static inline bool tcp_seq_after(uint32_t a, uint32_t b)
{
    return a != b && (uint32_t)(a - b) < TCP_MAX_WINDOW_SIZE;
}

static inline bool tcp_seq_at_or_after(uint32_t a, uint32_t b)
{
    return (uint32_t)(a - b) < TCP_MAX_WINDOW_SIZE;
}

/* What the next segment of a connection, endpoint or handler looks like. */
enum tcp_next {
    TCP_NEXT_NOTHING,
    TCP_NEXT_AVAILABLE, /* a segment can be written now */
    TCP_NEXT_TIMEOUT,   /* one can be written once `now` reaches a value */
};

/* The sequence and acknowledgement numbers of a RST (upstream RstConfig):
 * RST with seq = value, or RST|ACK with seq 0 and ack = value. */
struct tcp_rst {
    bool is_ack;
    uint32_t value;
};

/* The RST that answers segment s (RFC 793 "Reset Generation"). */
struct tcp_rst tcp_rst_for_segment(const struct pdu_tcp *s);
/* Its seq, ack and flags. */
void tcp_rst_fields(struct tcp_rst r, uint32_t *seq, uint32_t *ack,
                    uint8_t *flags);

/* ---- Connection (tcp_conn.c) ------------------------------------------ */

/* Unusual conditions reported by tcp_conn_receive() (RecvStatusFlags). */
#define TCP_RECV_INVALID_ACK         0x0001
#define TCP_RECV_DUP_ACK             0x0002
#define TCP_RECV_SEGMENT_BEYOND_RWND 0x0004
#define TCP_RECV_UNEXPECTED_SEQ      0x0008
#define TCP_RECV_REMOTE_RWND_EDGE    0x0010
#define TCP_RECV_DATA_BEYOND_FIN     0x0020
#define TCP_RECV_RESET_RECEIVED      0x0040
#define TCP_RECV_INVALID_RST         0x0080
#define TCP_RECV_INVALID_SEGMENT     0x0100
#define TCP_RECV_CONN_RESETTING      0x0200
#define TCP_RECV_INVALID_FIN         0x0400

struct tcp_conn {
    uint32_t ack_to_send;          /* next sequence number expected */
    uint32_t highest_ack_received; /* left edge of what is in flight */
    uint32_t first_not_sent;
    uint32_t local_rwnd_edge;  /* right edge of our receive window */
    uint32_t remote_rwnd_edge; /* right edge of the peer's */
    uint64_t rto_start;
    uint64_t rto_period;
    uint16_t rto_count;
    uint16_t rto_count_max;
    bool has_fin_received;
    uint32_t fin_received; /* sequence number of the peer's FIN */
    bool has_send_fin;
    uint32_t send_fin; /* sequence number of our FIN, once close()d */
    bool has_send_rst;
    struct tcp_rst send_rst;
    uint16_t mss; /* the peer's, or TCP_MSS_DEFAULT */
    bool pending_ack;
    bool dup_ack;
    uint8_t status; /* TCP_CONN_* bits (tcp_conn.c) */
};

/*
 * Passive open from a SYN: the connection starts in SYN_RECEIVED with
 * initial send sequence number `isn`. -EINVAL when s is not a bare SYN
 * without payload, -ERANGE when its MSS option is invalid.
 */
int tcp_conn_passive_open(struct tcp_conn *c, const struct pdu_tcp *s,
                          uint32_t local_rwnd, uint64_t rto_period,
                          uint16_t rto_count_max, uint32_t isn);

/*
 * Take in segment s. Payload in sequence goes to buf (buf_len bytes free),
 * its length to *n_recv; *status gets TCP_RECV_* bits. -ECONNRESET once the
 * connection has reset or is about to; -ENOBUFS when the payload is longer
 * than buf_len.
 */
int tcp_conn_receive(struct tcp_conn *c, const struct pdu_tcp *s, uint8_t *buf,
                     size_t buf_len, uint64_t now, size_t *n_recv,
                     uint16_t *status);

/* Data the connection may send: `len` bytes whose first is sequence number
 * `seq`. The connection has no send buffer of its own. */
struct tcp_payload {
    const uint8_t *data;
    size_t len;
    uint32_t seq;
};

/*
 * Write the next segment (without ports and checksum: pdu_tcp_finalize())
 * into buf, if there is one: 0 with *seg_len > 0, or 0 with *seg_len = 0
 * when there is nothing to send. `payload` may be NULL. Errors (nothing
 * written): -ECONNRESET after a reset, -EMSGSIZE for a payload over
 * TCP_MAX_WINDOW_SIZE, -EINVAL when the payload does not hold the next
 * sequence number to send or runs past our FIN, or pdu_tcp_write()'s.
 */
int tcp_conn_write_next(struct tcp_conn *c, uint8_t *buf, size_t cap,
                        uint16_t mss_reserved, const struct tcp_payload *p,
                        uint64_t now, size_t *seg_len);

/* Close our half: the FIN goes out after the data sent so far. */
void tcp_conn_close(struct tcp_conn *c);
/* Queue a RST; the connection is done once it is written. */
void tcp_conn_reset(struct tcp_conn *c);
/* The RST that resets this connection from outside (eviction). */
struct tcp_rst tcp_conn_rst(const struct tcp_conn *c);
/* Open the local receive window by `value` bytes (the endpoint consumed
 * them), up to TCP_MAX_WINDOW_SIZE. */
void tcp_conn_advance_rwnd(struct tcp_conn *c, uint32_t value);
bool tcp_conn_is_established(const struct tcp_conn *c);
bool tcp_conn_fin_received(const struct tcp_conn *c);
/* Reset, or a FIN both sent and received (no TIME_WAIT). */
bool tcp_conn_is_done(const struct tcp_conn *c);
/* Control segments (SYN/ACK, RST, first FIN, ACK) or a retransmission
 * timeout; *timeout gets the time for TCP_NEXT_TIMEOUT. */
enum tcp_next tcp_conn_control_status(const struct tcp_conn *c,
                                      uint64_t *timeout);

/* ---- Endpoint (tcp_endpoint.c) ---------------------------------------- */

/*
 * The HTTP side: `req` (borrowed, len bytes) is one request up to and
 * including its blank line; the callback appends the whole response
 * (status line, headers, body) to `resp`, which is empty on entry. Requests
 * the callback cannot parse still get a response from it.
 */
typedef void tcp_http_fn(void *opaque, const uint8_t *req, size_t len,
                         struct buf *resp);

struct tcp_endpoint;

/* A new endpoint for SYN s, or NULL when tcp_conn_passive_open() refuses it
 * (*err gets its errno). */
struct tcp_endpoint *tcp_endpoint_new(const struct pdu_tcp *s, uint64_t now,
                                      uint32_t isn, int *err);
void tcp_endpoint_free(struct tcp_endpoint *e);

/* Counters the endpoint bumps (upstream's mmds metrics of the same name). */
struct tcp_counters {
    uint64_t rx_accepted_err;
    uint64_t rx_accepted_unusual;
    uint64_t tx_errors;
};

void tcp_endpoint_receive(struct tcp_endpoint *e, const struct pdu_tcp *s,
                          uint64_t now, tcp_http_fn *http, void *opaque,
                          struct tcp_counters *ctr);
/* As tcp_conn_write_next(), errors counted in tx_errors and reported as
 * nothing written (*seg_len = 0). */
void tcp_endpoint_write_next(struct tcp_endpoint *e, uint8_t *buf, size_t cap,
                             uint16_t mss_reserved, uint64_t now,
                             struct tcp_counters *ctr, size_t *seg_len);
bool tcp_endpoint_is_done(const struct tcp_endpoint *e);
bool tcp_endpoint_is_evictable(const struct tcp_endpoint *e, uint64_t now);
enum tcp_next tcp_endpoint_next_status(const struct tcp_endpoint *e,
                                       uint64_t *timeout);
const struct tcp_conn *tcp_endpoint_conn(const struct tcp_endpoint *e);

/* ---- Handler (tcp_handler.c) ------------------------------------------ */

enum tcp_recv_event {
    TCP_RECV_EV_NOTHING,
    TCP_RECV_EV_ENDPOINT_DONE,      /* an endpoint finished; removed */
    TCP_RECV_EV_FAILED_NEW_CONN,    /* a SYN the connection refused */
    TCP_RECV_EV_NEW_CONN,           /* a new endpoint */
    TCP_RECV_EV_NEW_CONN_DROPPED,   /* full, nothing evictable: RST */
    TCP_RECV_EV_NEW_CONN_REPLACING, /* full: an idle one was evicted */
    TCP_RECV_EV_UNEXPECTED_SEGMENT, /* no connection and not a SYN */
};

struct tcp_handler;

/* A listener on local_addr:local_port for up to max_conns connections and
 * max_rsts queued RSTs. `seed` starts the ISN generator. */
struct tcp_handler *tcp_handler_new(uint32_t local_addr, uint16_t local_port,
                                    size_t max_conns, size_t max_rsts,
                                    uint32_t seed);
void tcp_handler_free(struct tcp_handler *h);
void tcp_handler_set_addr(struct tcp_handler *h, uint32_t local_addr);

/*
 * Take in the TCP segment of IPv4 packet ip (its checksum is not checked).
 * Returns 0 with *ev set; -EINVAL when the segment does not parse,
 * -EADDRNOTAVAIL for another destination port.
 */
int tcp_handler_receive(struct tcp_handler *h, const struct pdu_ipv4 *ip,
                        uint64_t now, tcp_http_fn *http, void *opaque,
                        struct tcp_counters *ctr, enum tcp_recv_event *ev);

/*
 * Write the next IPv4 packet (header included) into buf: a queued RST
 * first, then a segment of an endpoint. Returns 0 with *len = 0 when there
 * is nothing, *len > 0 otherwise; *done is set when the endpoint that wrote
 * the segment finished and was removed. -ENOSPC when cap cannot hold an
 * IPv4 header.
 */
int tcp_handler_write_next(struct tcp_handler *h, uint8_t *buf, size_t cap,
                           uint64_t now, struct tcp_counters *ctr, size_t *len,
                           bool *done);

enum tcp_next tcp_handler_next_status(const struct tcp_handler *h,
                                      uint64_t *timeout);
size_t tcp_handler_n_conns(const struct tcp_handler *h);
size_t tcp_handler_n_rsts(const struct tcp_handler *h);

#endif
