/*
 * tcp_conn.c: one TCP connection of the MMDS (upstream
 * dumbo/tcp/connection.rs), opened passively only.
 *
 * The state is a set of flag bits, as upstream keeps it; the states it
 * walks through, and the function behind each transition:
 *
 *            SYN from the handler: tcp_conn_passive_open()
 *                          |
 *                          v
 *                   +--------------+  same SYN again: tcp_conn_receive()
 *          +------->| SYN_RECEIVED |<-------------------------+
 *          |        +--------------+                          |
 *          |               | SYN/ACK written: tcp_conn_write_next()
 *          |               v                                  |
 *          |        +--------------+   same SYN again         |
 *          |        | SYNACK_SENT  |--------------------------+
 *          |        +--------------+   (tcp_conn_receive())
 *          |               | valid ACK of the SYN/ACK: tcp_conn_receive()
 *          |               v
 *          |        +--------------+  our FIN written: tcp_conn_write_next()
 *          |        | ESTABLISHED  |-------------------+  (after
 *          |        +--------------+                   |  tcp_conn_close())
 *          |               |                           v
 *          |               |                    +------------+  ACK of it
 *          |               |                    |  FIN_SENT  |---------+
 *          |               |                    +------------+         |
 *          |               |  peer's FIN in sequence: tcp_conn_receive()
 *          |               |  (with FIN_SENT as well: done)            v
 *          |               |                                     +-----------+
 *          |               |                                     | FIN_ACKED |
 *          |               |                                     +-----------+
 *   any state: a valid RST in (tcp_conn_receive()), or a RST written after
 *   tcp_conn_reset(), a bad segment before ESTABLISHED, a SYN after it or
 *   TCP_RTO_COUNT_MAX timeouts (tcp_conn_write_next())  --> RESET (done)
 *
 * Simplifications, upstream's: no congestion control, segments are
 * expected in order (an out-of-order one is dropped and ACKed), the first
 * duplicate ACK triggers a retransmission, there is no TIME_WAIT, and a
 * connection that sends a RST is finished. No traffic of this stack ever
 * leaves the microVM host, which is what makes these acceptable.
 *
 * One deliberate difference: upstream always copies the payload from the
 * start of the source it is handed, and its endpoint hands it the bytes
 * from the first unsent one, so a retransmission (seq below that) fails
 * with PayloadMissingSeq and the connection resets after the RTO count.
 * Here the source starts at the first unacknowledged byte and the copy
 * starts at seq_to_send - payload->seq, so retransmissions carry the right
 * bytes.
 */
#include "mmds/tcp.h"

#include <errno.h>
#include <string.h>

#define TCP_CONN_SYN_RECEIVED 0x01
#define TCP_CONN_SYNACK_SENT  0x02
#define TCP_CONN_ESTABLISHED  0x04
#define TCP_CONN_FIN_SENT     0x08
#define TCP_CONN_FIN_ACKED    0x10
#define TCP_CONN_RESET        0x20

struct tcp_rst tcp_rst_for_segment(const struct pdu_tcp *s)
{
    struct tcp_rst r;

    if (s->flags & PDU_TCP_ACK) {
        r.is_ack = false;
        r.value = s->ack;
    } else {
        /* upstream acknowledges seq + payload, not counting SYN or FIN */
        r.is_ack = true;
        r.value = s->seq + s->payload_len;
    }
    return r;
}

void tcp_rst_fields(struct tcp_rst r, uint32_t *seq, uint32_t *ack,
                    uint8_t *flags)
{
    if (r.is_ack) {
        *seq = 0;
        *ack = r.value;
        *flags = PDU_TCP_RST | PDU_TCP_ACK;
    } else {
        *seq = r.value;
        *ack = 0;
        *flags = PDU_TCP_RST;
    }
}

static bool has(const struct tcp_conn *c, uint8_t f)
{
    return (c->status & f) != 0;
}

static int parse_mss(const struct pdu_tcp *s, uint16_t *mss)
{
    if (pdu_tcp_parse_mss(s, mss) < 0)
        return -ERANGE;
    if (*mss == 0)
        *mss = TCP_MSS_DEFAULT;
    return 0;
}

static bool is_valid_syn(const struct pdu_tcp *s)
{
    return s->flags == PDU_TCP_SYN && s->payload_len == 0;
}

int tcp_conn_passive_open(struct tcp_conn *c, const struct pdu_tcp *s,
                          uint32_t local_rwnd, uint64_t rto_period,
                          uint16_t rto_count_max, uint32_t isn)
{
    uint16_t mss;

    if (!is_valid_syn(s))
        return -EINVAL;
    if (parse_mss(s, &mss) < 0)
        return -ERANGE;
    memset(c, 0, sizeof(*c));
    c->ack_to_send = s->seq + 1;
    c->highest_ack_received = isn;
    c->first_not_sent = isn + 1;
    c->local_rwnd_edge = c->ack_to_send + local_rwnd;
    c->remote_rwnd_edge = c->first_not_sent + s->window;
    c->rto_period = rto_period;
    c->rto_count_max = rto_count_max;
    c->mss = mss;
    c->status = TCP_CONN_SYN_RECEIVED;
    return 0;
}

static bool synack_pending(const struct tcp_conn *c)
{
    return has(c, TCP_CONN_SYN_RECEIVED) && !has(c, TCP_CONN_SYNACK_SENT);
}

static bool is_same_syn(const struct tcp_conn *c, const struct pdu_tcp *s)
{
    uint16_t mss;

    if (!is_valid_syn(s) || c->ack_to_send != s->seq + 1)
        return false;
    return parse_mss(s, &mss) == 0 && mss == c->mss;
}

static void reset_for_segment(struct tcp_conn *c, const struct pdu_tcp *s)
{
    if (!c->has_send_rst) {
        c->send_rst = tcp_rst_for_segment(s);
        c->has_send_rst = true;
    }
}

static bool rto_expired(const struct tcp_conn *c, uint64_t now)
{
    return now - c->rto_start >= c->rto_period;
}

static bool can_send_first_fin(const struct tcp_conn *c)
{
    return !has(c, TCP_CONN_FIN_SENT) && c->has_send_fin &&
           c->send_fin == c->highest_ack_received;
}

static uint16_t local_rwnd(const struct tcp_conn *c)
{
    uint32_t w = c->local_rwnd_edge - c->ack_to_send;

    return w > UINT16_MAX ? UINT16_MAX : (uint16_t)w;
}

void tcp_conn_close(struct tcp_conn *c)
{
    if (!c->has_send_fin) {
        c->send_fin = c->first_not_sent;
        c->has_send_fin = true;
    }
}

struct tcp_rst tcp_conn_rst(const struct tcp_conn *c)
{
    struct tcp_rst r;

    if (tcp_conn_is_established(c)) {
        r.is_ack = false;
        r.value = c->first_not_sent;
    } else {
        r.is_ack = true;
        r.value = c->ack_to_send;
    }
    return r;
}

void tcp_conn_reset(struct tcp_conn *c)
{
    if (!c->has_send_rst) {
        c->send_rst = tcp_conn_rst(c);
        c->has_send_rst = true;
    }
}

bool tcp_conn_is_established(const struct tcp_conn *c)
{
    return has(c, TCP_CONN_ESTABLISHED);
}

bool tcp_conn_fin_received(const struct tcp_conn *c)
{
    return c->has_fin_received;
}

bool tcp_conn_is_done(const struct tcp_conn *c)
{
    return has(c, TCP_CONN_RESET) ||
           (c->has_fin_received && has(c, TCP_CONN_FIN_SENT));
}

void tcp_conn_advance_rwnd(struct tcp_conn *c, uint32_t value)
{
    uint32_t cur = c->local_rwnd_edge - c->ack_to_send;

    /* a closed window opening again is worth telling the peer at once */
    if (cur == 0)
        c->pending_ack = true;
    if ((uint32_t)(value + cur) > TCP_MAX_WINDOW_SIZE)
        c->local_rwnd_edge = c->ack_to_send + TCP_MAX_WINDOW_SIZE;
    else
        c->local_rwnd_edge += value;
}

enum tcp_next tcp_conn_control_status(const struct tcp_conn *c,
                                      uint64_t *timeout)
{
    if (synack_pending(c) || c->has_send_rst || can_send_first_fin(c) ||
        c->pending_ack)
        return TCP_NEXT_AVAILABLE;
    if (c->highest_ack_received != c->first_not_sent) {
        *timeout = c->rto_start + c->rto_period;
        return TCP_NEXT_TIMEOUT;
    }
    return TCP_NEXT_NOTHING;
}

static int resetting(struct tcp_conn *c, const struct pdu_tcp *s,
                     uint16_t flags, uint16_t *status)
{
    reset_for_segment(c, s);
    *status = TCP_RECV_CONN_RESETTING | flags;
    return 0;
}

/* The ACK field of s; returns nonzero when the caller must stop there. */
static int receive_ack(struct tcp_conn *c, const struct pdu_tcp *s,
                       uint64_t now, uint16_t *status)
{
    uint32_t ack = s->ack;

    if (!(tcp_seq_at_or_after(ack, c->highest_ack_received) &&
          tcp_seq_at_or_after(c->first_not_sent, ack))) {
        *status |= TCP_RECV_INVALID_ACK;
        if (!tcp_conn_is_established(c)) {
            resetting(c, s, *status, status);
            return 1;
        }
        return 0;
    }
    c->rto_count = 0;
    if (ack == c->highest_ack_received && ack != c->first_not_sent) {
        if (!tcp_conn_is_established(c)) {
            resetting(c, s, TCP_RECV_INVALID_ACK, status);
            return 1;
        }
        c->dup_ack = true;
        *status |= TCP_RECV_DUP_ACK;
    } else {
        c->highest_ack_received = ack;
        c->rto_start = now;
        if (!tcp_conn_is_established(c) && has(c, TCP_CONN_SYNACK_SENT))
            c->status |= TCP_CONN_ESTABLISHED;
        if (has(c, TCP_CONN_FIN_SENT) && ack == c->first_not_sent)
            c->status |= TCP_CONN_FIN_ACKED;
    }
    if (tcp_conn_is_established(c)) {
        uint32_t edge = ack + s->window;

        if (tcp_seq_after(edge, c->remote_rwnd_edge))
            c->remote_rwnd_edge = edge;
        else if (edge != c->remote_rwnd_edge)
            *status |= TCP_RECV_REMOTE_RWND_EDGE;
    }
    return 0;
}

int tcp_conn_receive(struct tcp_conn *c, const struct pdu_tcp *s, uint8_t *buf,
                     size_t buf_len, uint64_t now, size_t *n_recv,
                     uint16_t *status)
{
    uint32_t seq = s->seq, end;
    bool ack_it = false;

    *n_recv = 0;
    *status = 0;
    if (c->has_send_rst || has(c, TCP_CONN_RESET))
        return -ECONNRESET;
    if (s->flags & PDU_TCP_RST) {
        /* RFC 5961-ish: only a RST inside the receive window counts */
        if (tcp_seq_at_or_after(seq, c->ack_to_send) &&
            tcp_seq_after(c->local_rwnd_edge, seq)) {
            c->status |= TCP_CONN_RESET;
            *status = TCP_RECV_RESET_RECEIVED;
        } else {
            *status = TCP_RECV_INVALID_RST;
        }
        return 0;
    }
    if (!has(c, TCP_CONN_SYNACK_SENT)) {
        /* SYN_RECEIVED: only a copy of the SYN is acceptable */
        if (is_same_syn(c, s))
            return 0;
        return resetting(c, s, TCP_RECV_INVALID_SEGMENT, status);
    }
    if (!tcp_conn_is_established(c)) {
        if (is_same_syn(c, s)) {
            /* the SYN/ACK was lost: send it again */
            c->status &= (uint8_t)~TCP_CONN_SYNACK_SENT;
            return 0;
        }
        if (s->flags & PDU_TCP_SYN)
            return resetting(c, s, TCP_RECV_INVALID_SEGMENT, status);
    } else if (s->flags & PDU_TCP_SYN) {
        return resetting(c, s, TCP_RECV_INVALID_SEGMENT, status);
    }
    if ((s->flags & PDU_TCP_ACK) && receive_ack(c, s, now, status))
        return 0;
    if (!tcp_conn_is_established(c))
        return 0;
    if (s->payload_len > buf_len)
        return -ENOBUFS;
    end = seq + s->payload_len;
    if (s->payload_len > 0) {
        if (c->has_fin_received && !tcp_seq_at_or_after(c->fin_received, end)) {
            *status |= TCP_RECV_DATA_BEYOND_FIN;
            return 0;
        }
        if (!tcp_seq_at_or_after(c->local_rwnd_edge, end)) {
            *status |= TCP_RECV_SEGMENT_BEYOND_RWND;
            return 0;
        }
        if (seq != c->ack_to_send) {
            c->pending_ack = true;
            *status |= TCP_RECV_UNEXPECTED_SEQ;
            return 0;
        }
        c->ack_to_send = end;
        ack_it = true;
    }
    if ((s->flags & PDU_TCP_FIN) && !c->has_fin_received) {
        if (end == c->ack_to_send) {
            c->fin_received = end;
            c->has_fin_received = true;
            c->ack_to_send += 1;
            ack_it = true;
        } else {
            *status |= TCP_RECV_INVALID_FIN;
        }
    }
    if (ack_it) {
        c->pending_ack = true;
        if (s->payload_len) {
            memcpy(buf, s->payload, s->payload_len);
            *n_recv = s->payload_len;
        }
    }
    return 0;
}

/* A segment with the current window; an ACK clears the pending one. */
static int write_segment(struct tcp_conn *c, uint8_t *buf, size_t cap,
                         uint16_t mss_reserved, uint32_t seq, uint32_t ack,
                         uint8_t flags, const uint8_t *payload,
                         size_t payload_max, size_t *seg_len)
{
    struct pdu_tcp_out o = {
        .seq = seq,
        .ack = ack,
        .flags = flags,
        .window = local_rwnd(c),
        .payload = payload,
        .payload_max = payload_max,
    };
    int rc;

    if (flags == (PDU_TCP_SYN | PDU_TCP_ACK))
        o.mss_option = c->mss;
    if (mss_reserved > c->mss)
        return -EINVAL;
    o.mss_remaining = (uint16_t)(c->mss - mss_reserved);
    rc = pdu_tcp_write(buf, cap, &o, seg_len);
    if (rc < 0)
        return rc;
    if (flags & PDU_TCP_ACK)
        c->pending_ack = false;
    return 0;
}

/* RST, SYN/ACK, or a bare ACK (with our FIN when it is due). */
static int write_control(struct tcp_conn *c, uint8_t *buf, size_t cap,
                         uint16_t mss_reserved, size_t *seg_len)
{
    uint32_t seq = c->highest_ack_received, ack = c->ack_to_send;
    uint8_t flags;

    if (c->has_send_rst) {
        tcp_rst_fields(c->send_rst, &seq, &ack, &flags);
    } else if (!tcp_conn_is_established(c)) {
        flags = PDU_TCP_SYN | PDU_TCP_ACK;
        seq = c->first_not_sent - 1;
    } else {
        flags = PDU_TCP_ACK;
        if (c->has_send_fin && !has(c, TCP_CONN_FIN_ACKED) &&
            tcp_seq_at_or_after(seq, c->send_fin)) {
            flags |= PDU_TCP_FIN;
            seq = c->send_fin;
        }
    }
    return write_segment(c, buf, cap, mss_reserved, seq, ack, flags, NULL, 0,
                         seg_len);
}

/* A data segment, or 1 when the payload has nothing to send. */
static int write_data(struct tcp_conn *c, uint8_t *buf, size_t cap,
                      uint16_t mss_reserved, const struct tcp_payload *p,
                      uint64_t now, size_t *seg_len)
{
    uint32_t payload_end, seq_to_send, actual_end, after;
    bool rto_triggered = false;
    int rc;

    if (p->len > TCP_MAX_WINDOW_SIZE)
        return -EMSGSIZE;
    payload_end = p->seq + (uint32_t)p->len;
    if (c->highest_ack_received != c->first_not_sent && rto_expired(c, now)) {
        c->rto_count++;
        if (c->rto_count >= c->rto_count_max) {
            tcp_conn_reset(c);
            return tcp_conn_write_next(c, buf, cap, mss_reserved, p, now,
                                       seg_len);
        }
        if (c->has_send_fin && c->highest_ack_received == c->send_fin) {
            /* only the FIN is unacknowledged */
            rc = write_control(c, buf, cap, mss_reserved, seg_len);
            if (rc == 0)
                c->rto_start = now;
            return rc;
        }
        rto_triggered = true;
        seq_to_send = c->highest_ack_received;
    } else if (c->dup_ack) {
        seq_to_send = c->highest_ack_received;
    } else {
        seq_to_send = c->first_not_sent;
    }
    if (!tcp_seq_at_or_after(seq_to_send, p->seq))
        return -EINVAL; /* PayloadMissingSeq */
    actual_end = tcp_seq_at_or_after(c->remote_rwnd_edge, payload_end)
                     ? payload_end
                     : c->remote_rwnd_edge;
    if (c->has_send_fin && tcp_seq_after(actual_end, c->send_fin))
        return -EINVAL; /* DataAfterFin */
    if (!tcp_seq_after(actual_end, seq_to_send))
        return 1;
    if ((uint32_t)(seq_to_send - p->seq) > p->len)
        return 1; /* the window edge lies behind the source (cannot send) */
    rc = write_segment(c, buf, cap, mss_reserved, seq_to_send, c->ack_to_send,
                       PDU_TCP_ACK, p->data + (seq_to_send - p->seq),
                       actual_end - seq_to_send, seg_len);
    if (rc < 0)
        return rc;
    c->dup_ack = false;
    /* data segments carry no options */
    after = seq_to_send + (uint32_t)(*seg_len - PDU_TCP_MIN_HDR_LEN);
    if (c->has_send_fin && after == c->send_fin) {
        /* the last bytes we will send: the FIN rides along */
        pdu_tcp_set_flags(buf, PDU_TCP_ACK | PDU_TCP_FIN);
        after += 1;
        c->status |= TCP_CONN_FIN_SENT;
    }
    if (rto_triggered || c->first_not_sent == c->highest_ack_received)
        c->rto_start = now;
    if (tcp_seq_after(after, c->first_not_sent))
        c->first_not_sent = after;
    return 0;
}

int tcp_conn_write_next(struct tcp_conn *c, uint8_t *buf, size_t cap,
                        uint16_t mss_reserved, const struct tcp_payload *p,
                        uint64_t now, size_t *seg_len)
{
    bool first_fin;
    int rc;

    *seg_len = 0;
    if (has(c, TCP_CONN_RESET))
        return -ECONNRESET;
    if (c->has_send_rst) {
        rc = write_control(c, buf, cap, mss_reserved, seg_len);
        if (rc == 0)
            c->status |= TCP_CONN_RESET;
        return rc;
    }
    if (synack_pending(c)) {
        rc = write_control(c, buf, cap, mss_reserved, seg_len);
        if (rc == 0) {
            c->status |= TCP_CONN_SYNACK_SENT;
            c->rto_start = now;
        }
        return rc;
    }
    if (!tcp_conn_is_established(c)) {
        if (!rto_expired(c, now))
            return 0;
        c->rto_count++;
        if (c->rto_count >= c->rto_count_max) {
            tcp_conn_reset(c);
            return tcp_conn_write_next(c, buf, cap, mss_reserved, p, now,
                                       seg_len);
        }
        rc = write_control(c, buf, cap, mss_reserved, seg_len);
        if (rc == 0)
            c->rto_start = now;
        return rc;
    }
    if (p) {
        rc = write_data(c, buf, cap, mss_reserved, p, now, seg_len);
        if (rc <= 0)
            return rc;
    }
    first_fin = can_send_first_fin(c);
    if (c->pending_ack || first_fin) {
        rc = write_control(c, buf, cap, mss_reserved, seg_len);
        if (rc < 0)
            return rc;
        if (first_fin) {
            c->first_not_sent += 1;
            c->status |= TCP_CONN_FIN_SENT;
        }
    }
    return 0;
}
