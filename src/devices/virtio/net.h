/*
 * net.h: the virtio network device (virtio-net, device id 1) behind
 * virtio-mmio, on a TAP file descriptor; upstream's Net
 * (src/vmm/src/devices/virtio/net/device.rs) in C.
 *
 * Two queues of 256 entries: 0 = RX (device writes frames for the guest),
 * 1 = TX (the guest's frames). Features as upstream offers them: CSUM,
 * GUEST_CSUM, GUEST_TSO4/6, GUEST_UFO, HOST_TSO4/6, HOST_UFO, MRG_RXBUF,
 * EVENT_IDX, VERSION_1, plus MAC when a MAC is given and MTU when an MTU
 * is given. The config space is upstream's ConfigSpace: mac[6], status
 * (u16, 0), max_virtqueue_pairs (u16, 0), mtu (u16): 12 bytes; guest
 * writes to it are refused and counted (cfg_fails).
 *
 * Every frame crosses with a 12-byte struct virtio_net_hdr_v1 in front
 * (what the TAP was given with TUNSETVNETHDRSZ); the device never looks
 * inside it except to set num_buffers on RX. At activation the TAP's
 * offloads are set from the features the driver acked (TUNSETOFFLOAD).
 *
 * TX: each chain must be device-readable buffers inside guest RAM whose
 * total fits in u32; else it is returned with 0 bytes and counted
 * (tx_fails). A frame above NET_MAX_BUFFER_SIZE is dropped
 * (tx_malformed_frames), one shorter than the vnet header too. A frame
 * pays one op and its length to the TX limiter before it goes out with
 * one writev() straight from guest memory; a failed write (EAGAIN on a
 * full TAP queue included) drops the frame and counts tap_write_fails, as
 * upstream does. The optional detour hook (the MMDS stack) sees frames
 * before the TAP and may consume them; those are not charged to the
 * limiter.
 *
 * RX: the device keeps the driver's RX chains it has parsed (upstream's
 * RxBuffers) and reads from the TAP only while they hold at least
 * NET_MAX_BUFFER_SIZE bytes, so a frame always fits. Without MRG_RXBUF
 * one chain takes one frame (readv into that chain's buffers); with it a
 * frame may spread over several chains and num_buffers in its header says
 * how many. Frames from the detour_rx hook go first. A frame read is
 * charged to the RX limiter after it was written to guest memory; if the
 * limiter refuses, the frame stays "deferred" (written, not yet in the
 * used ring) until the limiter's timer fires. When the driver has no
 * buffers the device stops reading: the TAP is watched edge-triggered, as
 * upstream does, and reading resumes on the next RX queue notification.
 *
 * Host pointers into guest RAM for parsed RX chains are kept until the
 * frame that uses them or a device reset, as upstream's IoVecBufferMut
 * does; guest memory outlives every device.
 *
 * Metrics: the net_{id} group (and so the "net" aggregate) with
 * upstream's keys.
 *
 * Lifecycle as rng.h: net_new -> virtio_mmio_machine_dev(net_transport)
 * -> machine_create -> net_attach -> net_detach -> machine_destroy ->
 * net_free. All calls on the vmm thread.
 */
#ifndef SQUIB_DEVICES_VIRTIO_NET_H
#define SQUIB_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/rate_limiter.h"
#include "devices/virtio/mmio.h"
#include "util/err.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"

#define NET_QUEUE_SIZE 256
#define NET_RX_INDEX   0
#define NET_TX_INDEX   1
/* Upstream's MAX_BUFFER_SIZE: a 64 KiB TSO frame, its Ethernet header
 * and the vnet header. */
#define NET_MAX_BUFFER_SIZE 65562u
#define NET_VNET_HDR_LEN    12u /* struct virtio_net_hdr_v1 */
#define NET_CONFIG_LEN      12u
#define NET_MIN_MTU         68u

/* Feature bits (linux/virtio_net.h). */
#define SQ_VIRTIO_NET_F_CSUM       0
#define SQ_VIRTIO_NET_F_GUEST_CSUM 1
#define SQ_VIRTIO_NET_F_MTU        3
#define SQ_VIRTIO_NET_F_MAC        5
#define SQ_VIRTIO_NET_F_GUEST_TSO4 7
#define SQ_VIRTIO_NET_F_GUEST_TSO6 8
#define SQ_VIRTIO_NET_F_GUEST_UFO  10
#define SQ_VIRTIO_NET_F_HOST_TSO4  11
#define SQ_VIRTIO_NET_F_HOST_TSO6  12
#define SQ_VIRTIO_NET_F_HOST_UFO   14
#define SQ_VIRTIO_NET_F_MRG_RXBUF  15

/* Sets the TAP's offload flags (TUNSETOFFLOAD); 0 or -errno. */
typedef int net_set_offload_fn(int fd, unsigned flags);

struct net_params {
    const char *iface_id; /* borrowed; metrics key (net_{id}) */
    /* The TAP, already opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
     * non-blocking, vnet header size 12 (tap.h). Borrowed: the device
     * duplicates it. */
    int tap_fd;
    bool has_mac;
    uint8_t mac[6];
    bool has_mtu;
    uint16_t mtu;                            /* NET_MIN_MTU..65535 */
    const struct rate_limiter_params *rx_rl; /* NULL = none */
    const struct rate_limiter_params *tx_rl; /* NULL = none */
    net_set_offload_fn *set_offload;         /* NULL = tap_set_offload */

    /*
     * Frames diverted before the TAP (the MMDS stack), all optional.
     * detour_match sees at most the first 42 bytes of a TX frame (after
     * the vnet header: Ethernet + ARP/IPv4 headers) and says whether
     * detour wants it, so that other frames are never copied; without it
     * every frame is copied and offered to detour. detour gets the whole
     * frame (borrowed, copied out of guest memory) and returns true if it
     * consumed it. detour_rx fills up to `cap` bytes with a frame for
     * the guest and returns its length, 0 if it has none; its frames go
     * before the TAP's.
     */
    void *detour_opaque;
    bool (*detour_match)(void *opaque, const uint8_t *hdr, size_t len);
    bool (*detour)(void *opaque, const uint8_t *frame, size_t len);
    size_t (*detour_rx)(void *opaque, uint8_t *buf, size_t cap);
};

struct net;

/*
 * Build the device (not yet on a machine). Returns 0 and *out (owned by
 * the caller), or -errno with err set: -EINVAL for an MTU out of range
 * or a bad fd, or a failure to create the limiters' timers or eventfds.
 */
int net_new(const struct net_params *p, struct net **out, struct sq_err *err);
/* Detach if needed, close the TAP copy and free; NULL-safe. */
void net_free(struct net *n);
/* The device's transport (borrowed; lives as long as the device). */
struct virtio_mmio *net_transport(struct net *n);
/*
 * As rng_attach(): ioeventfds, the queue eventfds, the two limiters'
 * timers, and the TAP (edge-triggered) on `loop` when not NULL. 0, or
 * -errno with nothing left registered.
 */
int net_attach(struct net *n, const struct guest_mem *gm, int vm_fd,
               uint64_t addr, struct evloop *loop);
/* Leave the loop and deassign the ioeventfds; idempotent. */
void net_detach(struct net *n);

/* What the loop runs (tests call them): the TAP became readable, a
 * limiter's timer fired. Each takes the transport lock. */
void net_tap_event(struct net *n);
void net_rx_rate_limiter_event(struct net *n);
void net_tx_rate_limiter_event(struct net *n);

/* PATCH /network-interfaces/{id}: each limiter as in
 * rate_limiter_patch() (NULL = absent: unchanged). Vmm thread. */
void net_update_rate_limiters(struct net *n,
                              const struct rate_limiter_params *rx,
                              const struct rate_limiter_params *tx);

/* Upstream's build_tap_offload_features(): TUN_F_* flags for the
 * features the guest acked. */
unsigned net_tap_offload_flags(uint64_t acked_features);

/* For GET /vm/config and tests (borrowed). */
struct rate_limiter *net_rx_rate_limiter(struct net *n);
struct rate_limiter *net_tx_rate_limiter(struct net *n);
/*
 * Before a snapshot (vmm thread, machine paused; upstream's prepare_save):
 * an RX frame held back by the limiter is given to the guest now, and the
 * RX chains popped but not yet used are given back to the avail ring
 * (next avail moved back over them), so the saved queue holds no chain
 * only this process knew about; the restored device parses them again.
 * Nothing to do on a device not activated.
 */
void net_prepare_save(struct net *n);

/* True while an RX frame sits written but held back by the limiter. */
bool net_rx_deferred(const struct net *n);

#endif
