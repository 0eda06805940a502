/*
 * vsock_conn.h: one vsock stream between a guest AF_VSOCK socket and a
 * host-side Unix stream socket; upstream's VsockConnection
 * (csm/connection.rs) in C.
 *
 * The connection moves data both ways and keeps vsock's credit accounting:
 *
 *   guest -> host (TX): RW payloads are written to the Unix socket; what
 *     the socket does not take goes to the TX buffer (vsock_txbuf.h, 64
 *     KiB) and is flushed on EPOLLOUT. fwd_cnt counts the bytes that
 *     reached the socket; every packet to the guest carries it with
 *     buf_alloc = VSOCK_TXBUF_SIZE, so a guest that respects its credit
 *     stops once the buffer is full: a slow Unix reader throttles the
 *     guest. A guest that sends past its credit overflows the buffer and
 *     the stream is reset (killed).
 *   host -> guest (RX): data is read from the socket straight into the
 *     guest's RX buffer, at most the peer's credit:
 *       peer_avail_credit = peer_buf_alloc - (rx_cnt - peer_fwd_cnt)
 *     (u32 wrapping arithmetic, as the protocol's counters wrap). With no
 *     credit left, the connection asks for an update (CREDIT_REQUEST) and
 *     stops watching the socket for input until the guest answers.
 *   When the guest's view of our free buffer drops below
 *   VSOCK_CREDIT_UPDATE_THRESHOLD (4 KiB), a CREDIT_UPDATE is queued.
 *
 * State machine (function behind each transition in brackets):
 *
 *   host client wrote "CONNECT <port>\n"      guest sent REQUEST and
 *   [vsock_conn_init_local]                   "<uds_path>_<port>" accepted
 *            |                                [vsock_conn_init_peer]
 *            v                                          |
 *       LOCAL_INIT  -- REQUEST to the guest;            v
 *            |         kill timer 2 s              PEER_INIT
 *            |         [vsock_conn_recv_pkt]            |
 *            | RESPONSE from the guest                  | RESPONSE to the guest
 *            | [vsock_conn_send_pkt]                    | [vsock_conn_recv_pkt]
 *            v                                          v
 *       ESTABLISHED <-----------------------------------+
 *         |     |
 *         |     +-- SHUTDOWN(flags) from the guest [vsock_conn_send_pkt]
 *         |           -> PEER_CLOSED(rcv, send); flags accumulate over
 *         |              later SHUTDOWNs. With both set: RST to the guest
 *         |              once the TX buffer is empty (now, or when the
 *         |              last flush empties it), kill timer 2 s otherwise.
 *         |
 *         +-- the Unix socket reached end of stream [vsock_conn_recv_pkt]
 *               -> SHUTDOWN(RCV|SEND) to the guest, LOCAL_CLOSED,
 *                  kill timer 2 s
 *
 *   any state -- [vsock_conn_kill]: socket error, TX buffer overflow, a
 *                kill timer that expired (the muxer's kill queue), an
 *                RW due in a state that cannot carry data
 *             -> KILLED, RST pending, TX buffer dropped
 *
 * The muxer removes the connection (and closes the socket) once the RST
 * has gone to the guest or the guest sent one.
 *
 * What the connection has to say to the guest is a set of pending
 * indications, yielded by vsock_conn_recv_pkt() in priority order: RST,
 * RESPONSE, REQUEST, RW (or CREDIT_REQUEST when out of credit), and last
 * CREDIT_UPDATE (only when nothing else is pending).
 *
 * Time is passed in (now_ns, CLOCK_MONOTONIC or the muxer's test clock).
 * Vmm thread only.
 */
#ifndef SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_CONN_H
#define SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices/virtio/vsock/vsock_pkt.h"
#include "devices/virtio/vsock/vsock_txbuf.h"

#define VSOCK_CREDIT_UPDATE_THRESHOLD  (4u * 1024u)
#define VSOCK_CONN_REQUEST_TIMEOUT_NS  (2000ULL * 1000000ULL)
#define VSOCK_CONN_SHUTDOWN_TIMEOUT_NS (2000ULL * 1000000ULL)

enum vsock_conn_state {
    VSOCK_CONN_LOCAL_INIT,
    VSOCK_CONN_PEER_INIT,
    VSOCK_CONN_ESTABLISHED,
    VSOCK_CONN_LOCAL_CLOSED,
    VSOCK_CONN_PEER_CLOSED, /* with peer_rcv_off / peer_send_off */
    VSOCK_CONN_KILLED,
};

/* Pending indications (bits of pending_rx). */
#define VSOCK_PENDING_REQUEST       (1u << 0)
#define VSOCK_PENDING_RESPONSE      (1u << 1)
#define VSOCK_PENDING_RST           (1u << 2)
#define VSOCK_PENDING_RW            (1u << 3)
#define VSOCK_PENDING_CREDIT_UPDATE (1u << 4)

/* What vsock_conn_events() asks to be watched for. */
#define VSOCK_EV_IN  0x1u
#define VSOCK_EV_OUT 0x4u

struct vsock_conn {
    enum vsock_conn_state state;
    bool peer_rcv_off;  /* PEER_CLOSED: the guest will receive no more */
    bool peer_send_off; /* PEER_CLOSED: the guest will send no more */
    uint64_t local_cid; /* VSOCK_HOST_CID */
    uint64_t peer_cid;  /* the guest's */
    uint32_t local_port;
    uint32_t peer_port;
    int fd; /* owned; the non-blocking Unix stream; -1 once closed */
    struct vsock_txbuf tx;
    uint32_t fwd_cnt;        /* bytes written to fd (wrapping) */
    uint32_t peer_buf_alloc; /* the guest's receive buffer */
    uint32_t peer_fwd_cnt;   /* bytes the guest consumed (wrapping) */
    uint32_t rx_cnt;         /* bytes sent to the guest (wrapping) */
    uint32_t last_fwd_cnt_to_peer;
    unsigned pending_rx; /* VSOCK_PENDING_* */
    bool has_expiry;
    uint64_t expiry_ns; /* kill time, valid with has_expiry */
};

/* A guest-initiated connection (PEER_INIT, RESPONSE pending). Takes
 * ownership of `fd`. */
void vsock_conn_init_peer(struct vsock_conn *c, int fd, uint64_t local_cid,
                          uint64_t peer_cid, uint32_t local_port,
                          uint32_t peer_port, uint32_t peer_buf_alloc);

/* A host-initiated connection (LOCAL_INIT, REQUEST pending). Takes
 * ownership of `fd`. */
void vsock_conn_init_local(struct vsock_conn *c, int fd, uint64_t local_cid,
                           uint64_t peer_cid, uint32_t local_port,
                           uint32_t peer_port);

/* Close the socket and free the TX buffer. Idempotent. */
void vsock_conn_fini(struct vsock_conn *c);

/*
 * Fill the RX packet p (parsed with vsock_pkt_parse_rx) with the most
 * urgent pending indication, reading payload from the socket for RW.
 * Returns 0, or -ENODATA if there was nothing to say (p's header then
 * holds only the connection's addressing).
 */
int vsock_conn_recv_pkt(struct vsock_conn *c, struct vsock_pkt *p,
                        uint64_t now_ns);

/*
 * Take a guest packet addressed to this connection (the muxer handled RST
 * and REQUEST for unknown streams). Always consumes it: errors writing to
 * the socket kill the connection.
 */
void vsock_conn_send_pkt(struct vsock_conn *c, const struct vsock_pkt *p,
                         uint64_t now_ns);

static inline bool vsock_conn_has_pending_rx(const struct vsock_conn *c)
{
    return c->pending_rx != 0;
}

/* VSOCK_EV_IN / VSOCK_EV_OUT the socket should be watched for (0: none). */
unsigned vsock_conn_events(const struct vsock_conn *c);

/* The socket reported `events` (VSOCK_EV_IN / VSOCK_EV_OUT bits). */
void vsock_conn_notify(struct vsock_conn *c, unsigned events);

/* A kill timer is set and has not fired yet / has fired. */
bool vsock_conn_will_expire(const struct vsock_conn *c, uint64_t now_ns);
bool vsock_conn_has_expired(const struct vsock_conn *c, uint64_t now_ns);

/* Schedule an RST: KILLED, RST pending, TX buffer dropped. */
void vsock_conn_kill(struct vsock_conn *c);

/*
 * Write bytes straight to the socket, outside flow control (the "OK
 * <port>\n" answer). Returns the count written or -errno.
 */
ssize_t vsock_conn_send_raw(struct vsock_conn *c, const void *buf, size_t len);

#endif
