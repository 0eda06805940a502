/*
 * vsock_muxer.h: the host side of virtio-vsock, Firecracker's hybrid
 * vsock over Unix sockets; upstream's VsockMuxer (unix/muxer.rs) in C.
 *
 * The muxer turns guest packets into Unix socket traffic and back:
 *
 *   host-initiated: a client connects to uds_path (the listening socket
 *     bound at PUT /vsock) and writes "CONNECT <port>\n" (vsock_connect.h).
 *     The muxer picks a host-side port (round robin in [2^30, 2^31), skipping
 *     ports in use), creates a LOCAL_INIT connection that sends REQUEST to
 *     the guest, and when the guest answers RESPONSE writes "OK <port>\n"
 *     to the client. A malformed line, end of stream or an error closes
 *     the client's socket.
 *   guest-initiated: a REQUEST from the guest to host port P connects to
 *     "<uds_path>_<P>" and answers RESPONSE; no listener there (or too many
 *     connections) answers RST.
 *
 * Connections are keyed by (local port, peer port), at most
 * VSOCK_MAX_CONNECTIONS (1023). Packets for a stream without a connection
 * are answered with RST (a REQUEST excepted); packets not of type STREAM
 * get RST; packets for a CID other than the host's are dropped. An RST
 * from the guest, or one sent to it, removes the connection.
 *
 * All sockets are non-blocking and watched through the muxer's own epoll
 * fd (vsock_muxer_fd), which the device puts on the vmm loop: when it is
 * readable, vsock_muxer_notify() dispatches what is ready. What the guest
 * is to receive is scheduled on the RX queue and kill timers on the kill
 * queue (vsock_muxq.h). As upstream, expired connections are swept (and
 * reset) when a new connection is added; there is no timer.
 *
 * Vmm thread only.
 */
#ifndef SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_MUXER_H
#define SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_MUXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/vsock/vsock_pkt.h"

#define VSOCK_MAX_CONNECTIONS 1023 /* upstream MAX_CONNECTIONS */
/* Accepted clients that have not finished their CONNECT line (squib's
 * bound; upstream has none). */
#define VSOCK_MAX_PENDING_STREAMS 1023

/* A monotonic clock in ns (tests install their own). */
typedef uint64_t vsock_clock_fn(void *opaque);

struct vsock_muxer_params {
    uint64_t guest_cid;
    /* The listening Unix socket on uds_path. Borrowed: the muxer keeps a
     * duplicate (F_DUPFD_CLOEXEC) and makes it non-blocking. */
    int listen_fd;
    const char *uds_path;  /* borrowed; copied */
    vsock_clock_fn *clock; /* NULL = CLOCK_MONOTONIC */
    void *clock_opaque;
};

struct vsock_muxer;

/* Build the muxer: 0 and *out (caller owns), or -errno (-EINVAL for a bad
 * fd or path, or the failure to duplicate it or create the epoll fd). */
int vsock_muxer_new(const struct vsock_muxer_params *p,
                    struct vsock_muxer **out);
/* Close every socket and free; NULL-safe. */
void vsock_muxer_free(struct vsock_muxer *m);

/* The epoll fd to watch for EPOLLIN (borrowed). */
int vsock_muxer_fd(const struct vsock_muxer *m);

/* Device activation: start accepting on the listening socket. 0 or
 * -errno. */
int vsock_muxer_activate(struct vsock_muxer *m);

/* Device reset: close every connection and pending client, stop
 * accepting, empty both queues, restart port allocation. */
void vsock_muxer_reset(struct vsock_muxer *m);

/* The epoll fd is readable: handle what is ready (never blocks). */
void vsock_muxer_notify(struct vsock_muxer *m);

/*
 * Fill the RX packet p (parsed with vsock_pkt_parse_rx) with the next
 * packet for the guest. Returns 0, or -ENODATA if there is none.
 */
int vsock_muxer_recv_pkt(struct vsock_muxer *m, struct vsock_pkt *p);

/* Take a guest packet (parsed with vsock_pkt_parse_tx); always consumed. */
void vsock_muxer_send_pkt(struct vsock_muxer *m, const struct vsock_pkt *p);

/* Whether vsock_muxer_recv_pkt() may have something. */
bool vsock_muxer_has_pending_rx(const struct vsock_muxer *m);

/* For tests: connections and pending clients, queue sync states. */
size_t vsock_muxer_n_conns(const struct vsock_muxer *m);
size_t vsock_muxer_n_pending_streams(const struct vsock_muxer *m);
bool vsock_muxer_rxq_synced(const struct vsock_muxer *m);
bool vsock_muxer_killq_synced(const struct vsock_muxer *m);

#endif
