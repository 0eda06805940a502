/*
 * tcp_endpoint.c: one MMDS connection seen from HTTP (upstream
 * dumbo/tcp/endpoint.rs): a TCP_RCV_BUF_SIZE receive buffer in which whole
 * requests are found, and the response being sent.
 *
 * A request is the bytes up to the first "\n\n" or "\n\r\n". While a
 * response is outstanding (not fully acknowledged) no new request is taken
 * from the buffer: HTTP pipelining is served one request at a time. When
 * the buffer fills up without a complete request, the connection resets
 * (upstream's answer to a request over 2500 bytes). A FIN from the guest
 * closes our half once no response is outstanding.
 */
#include "mmds/tcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

struct tcp_endpoint {
    uint8_t receive_buf[TCP_RCV_BUF_SIZE];
    size_t receive_buf_left; /* bytes held in receive_buf */
    struct buf response;     /* owned; empty when none is outstanding */
    uint32_t response_seq;   /* sequence number of response.data[0] */
    struct tcp_conn conn;
    uint64_t last_recv; /* time of the last segment received */
    bool stop_receiving;
};

struct tcp_endpoint *tcp_endpoint_new(const struct pdu_tcp *s, uint64_t now,
                                      uint32_t isn, int *err)
{
    struct tcp_conn c;
    struct tcp_endpoint *e;
    int rc;

    rc = tcp_conn_passive_open(&c, s, TCP_RCV_BUF_SIZE, TCP_RTO_PERIOD_NS,
                               TCP_RTO_COUNT_MAX, isn);
    if (rc < 0) {
        *err = rc;
        return NULL;
    }
    e = xcalloc(1, sizeof(*e));
    e->conn = c;
    buf_init(&e->response);
    e->response_seq = c.first_not_sent;
    e->last_recv = now;
    return e;
}

void tcp_endpoint_free(struct tcp_endpoint *e)
{
    if (!e)
        return;
    buf_fini(&e->response);
    free(e);
}

/* The length of the first complete request in the buffer, or 0. */
static size_t find_request(const uint8_t *b, size_t n)
{
    if (n <= 2)
        return 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] != '\n')
            continue;
        if (b[i + 1] == '\n')
            return i + 2;
        if (i + 3 <= n && b[i + 1] == '\r' && b[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

void tcp_endpoint_receive(struct tcp_endpoint *e, const struct pdu_tcp *s,
                          uint64_t now, tcp_http_fn *http, void *opaque,
                          struct tcp_counters *ctr)
{
    size_t n = 0, end;
    uint16_t status = 0;

    if (e->stop_receiving)
        return;
    e->last_recv = now;
    if (tcp_conn_receive(&e->conn, s, e->receive_buf + e->receive_buf_left,
                         sizeof(e->receive_buf) - e->receive_buf_left, now, &n,
                         &status) < 0) {
        ctr->rx_accepted_err++;
        return;
    }
    if (status) {
        ctr->rx_accepted_unusual++;
        if (status & TCP_RECV_CONN_RESETTING) {
            e->stop_receiving = true;
            return;
        }
    }
    e->receive_buf_left += n;
    /* the whole response acknowledged: ready for the next request */
    if (e->response.len && e->conn.highest_ack_received ==
                               e->response_seq + (uint32_t)e->response.len) {
        e->response_seq = e->conn.highest_ack_received;
        buf_reset(&e->response);
    }
    if (e->response.len == 0) {
        end = find_request(e->receive_buf, e->receive_buf_left);
        if (end) {
            http(opaque, e->receive_buf, end, &e->response);
            memmove(e->receive_buf, e->receive_buf + end,
                    e->receive_buf_left - end);
            e->receive_buf_left -= end;
            tcp_conn_advance_rwnd(&e->conn, (uint32_t)end);
        }
        if (e->receive_buf_left == sizeof(e->receive_buf)) {
            /* a full buffer and no request in it: it never will be one */
            tcp_conn_reset(&e->conn);
            e->stop_receiving = true;
            return;
        }
    }
    if (tcp_conn_fin_received(&e->conn) && e->response.len == 0)
        tcp_conn_close(&e->conn);
}

void tcp_endpoint_write_next(struct tcp_endpoint *e, uint8_t *buf, size_t cap,
                             uint16_t mss_reserved, uint64_t now,
                             struct tcp_counters *ctr, size_t *seg_len)
{
    struct tcp_payload p = {
        .data = (const uint8_t *)e->response.data,
        .len = e->response.len,
        .seq = e->response_seq,
    };

    if (tcp_conn_write_next(&e->conn, buf, cap, mss_reserved,
                            e->response.len ? &p : NULL, now, seg_len) < 0) {
        ctr->tx_errors++;
        *seg_len = 0;
    }
}

bool tcp_endpoint_is_done(const struct tcp_endpoint *e)
{
    return tcp_conn_is_done(&e->conn);
}

bool tcp_endpoint_is_evictable(const struct tcp_endpoint *e, uint64_t now)
{
    return now - e->last_recv > TCP_EVICTION_NS;
}

enum tcp_next tcp_endpoint_next_status(const struct tcp_endpoint *e,
                                       uint64_t *timeout)
{
    uint32_t end = e->response_seq + (uint32_t)e->response.len;

    /* Upstream only asks for a response and room in the guest's window, so
     * an endpoint whose response is all sent but not yet acknowledged stays
     * "available" and is polled for nothing; asking for unsent bytes too
     * lets it wait for its retransmission timer instead. */
    if ((e->response.len &&
         tcp_seq_after(e->conn.remote_rwnd_edge, e->conn.first_not_sent) &&
         tcp_seq_after(end, e->conn.first_not_sent)) ||
        e->conn.dup_ack)
        return TCP_NEXT_AVAILABLE;
    return tcp_conn_control_status(&e->conn, timeout);
}

const struct tcp_conn *tcp_endpoint_conn(const struct tcp_endpoint *e)
{
    return &e->conn;
}
