/*
 * vsock.h: the virtio socket device (virtio-vsock, device id 19, internal
 * id "vsock") behind virtio-mmio, with Firecracker's hybrid Unix socket
 * backend; upstream's Vsock (device.rs, event_handler.rs) in C.
 *
 * Three queues of 256 entries: 0 = RX (packets for the guest), 1 = TX (the
 * guest's packets), 2 = event (TRANSPORT_RESET). Features as upstream
 * offers them: VERSION_1, IN_ORDER, EVENT_IDX. The config space is the
 * guest CID, u64 little-endian; guest writes to it are refused and counted
 * (cfg_fails).
 *
 * TX: each chain is one packet (vsock_pkt.h); one that does not parse is
 * returned with 0 bytes and logged, the others go to the muxer
 * (vsock_muxer.h), which always consumes them. RX: while the muxer has
 * something to say, each RX chain is filled with one packet (header, and
 * payload read from the host socket straight into guest memory) and
 * returned with 44 + len bytes; a chain that cannot hold a packet is
 * returned with 0 bytes. Upstream's event flow: a TX notification
 * processes TX, then RX if the muxer has pending packets; an RX
 * notification processes RX; muxer activity (vsock_backend_event)
 * processes the muxer's sockets, then TX (a full connection may have
 * drained), then RX.
 *
 * Event queue: vsock_send_transport_reset() puts one
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET in the driver's event buffer (before
 * a snapshot, as upstream's prepare_save); RX delivery then pauses until
 * the driver notifies the event queue (its acknowledgement).
 *
 * Host sockets: the listening socket bound at PUT /vsock is accepted from
 * only while the device is active; a reset closes every connection and
 * stops accepting until the next activation.
 *
 * Metrics: the "vsock" group with upstream's keys.
 *
 * Lifecycle as rng.h: vsock_new -> virtio_mmio_machine_dev(vsock_transport)
 * -> machine_create -> vsock_attach -> vsock_detach -> machine_destroy ->
 * vsock_free. All calls on the vmm thread.
 */
#ifndef SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_H
#define SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/vsock/vsock_muxer.h"
#include "util/err.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"

#define SQ_VIRTIO_ID_VSOCK   19
#define VSOCK_DEVICE_ID      "vsock"
#define VSOCK_QUEUE_SIZE     256
#define VSOCK_NUM_QUEUES     3
#define VSOCK_RX_INDEX       0
#define VSOCK_TX_INDEX       1
#define VSOCK_EVQ_INDEX      2
#define VSOCK_CONFIG_LEN     8u
#define SQ_VIRTIO_F_IN_ORDER 35

/* virtio_vsock_event.id */
#define SQ_VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0u

struct vsock_params {
    uint64_t guest_cid;
    /* The socket bound and listening on uds_path (struct res_vsock's
     * listen_fd). Borrowed: the device keeps its own duplicate, so the
     * caller may close its copy whenever it likes. */
    int listen_fd;
    /* Borrowed; copied. Guest-initiated connections to port P go to
     * "<uds_path>_<P>". */
    const char *uds_path;
    /* Kill-timer clock, for tests; NULL = CLOCK_MONOTONIC. */
    vsock_clock_fn *clock;
    void *clock_opaque;
};

struct vsock;

/*
 * Build the device (not yet on a machine). Returns 0 and *out (owned by the
 * caller), or -errno with err set: -EINVAL for a bad fd or a missing path,
 * or a failure to create its eventfds or epoll fd.
 */
int vsock_new(const struct vsock_params *p, struct vsock **out,
              struct sq_err *err);
/* Detach if needed, close every socket it owns and free; NULL-safe. */
void vsock_free(struct vsock *v);
/* The device's transport (borrowed; lives as long as the device). */
struct virtio_mmio *vsock_transport(struct vsock *v);
/*
 * As rng_attach(): ioeventfds, the queue eventfds and the muxer's epoll fd
 * on `loop` when not NULL. 0, or -errno with nothing left registered.
 */
int vsock_attach(struct vsock *v, const struct guest_mem *gm, int vm_fd,
                 uint64_t addr, struct evloop *loop);
/* Leave the loop and deassign the ioeventfds; idempotent. */
void vsock_detach(struct vsock *v);

/* The muxer's epoll fd is readable (what the loop runs; tests call it).
 * Takes the transport lock. */
void vsock_backend_event(struct vsock *v);

/*
 * Send VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue and pause RX
 * until the driver acknowledges it (upstream's send_transport_reset_event,
 * for snapshots). Returns 0, -ENODEV if the device is not active, -ENOBUFS
 * if the driver gave no event buffer (ev_queue_event_fails), -EPROTO for a
 * corrupt ring. Takes the transport lock.
 */
int vsock_send_transport_reset(struct vsock *v);

/* The configured CID and Unix socket path (borrowed). */
uint64_t vsock_guest_cid(const struct vsock *v);
const char *vsock_uds_path(const struct vsock *v);

/*
 * The device's own state for a snapshot (upstream's VsockFrontendState
 * without the transport's part; its backend state, the socket path, is
 * the configuration). Host connections are not kept: before saving, the
 * caller sends the guest a TRANSPORT_RESET (vsock_send_transport_reset),
 * as upstream does, so pending_event_ack is normally true.
 */
struct vsock_state {
    uint64_t guest_cid;
    bool pending_event_ack;
};

/* Take the state (machine paused; takes the transport lock). */
void vsock_save_state(struct vsock *v, struct vsock_state *out);

/*
 * Put a saved state into a device built from the same configuration,
 * before its transport is restored. 0, or -EINVAL with err set when the
 * saved CID is not the device's.
 */
int vsock_restore_state(struct vsock *v, const struct vsock_state *s,
                        struct sq_err *err);

/* The muxer (borrowed), for tests. */
struct vsock_muxer *vsock_muxer(struct vsock *v);

#endif
