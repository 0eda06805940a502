/*
 * vsock_pkt.h: virtio-vsock packets (virtio 1.x section 5.10.6) as the
 * device sees them in guest memory; upstream's VsockPacketTx/VsockPacketRx
 * (src/vmm/src/devices/virtio/vsock/packet.rs) in C.
 *
 * A packet is one descriptor chain: a 44-byte little-endian header
 * followed by the payload, in any split across the chain's buffers. The
 * device keeps a host copy of the header (struct vsock_hdr) and a view of
 * the chain's buffers as iovecs into guest memory; the payload is never
 * copied on the way through, it moves between guest memory and a Unix
 * socket with readv()/writev().
 *
 * Parsing is strict, as upstream's:
 *   TX (guest -> host): every buffer device-readable and inside guest RAM,
 *     the chain well formed, its total length fitting in u32, at least 44
 *     bytes for the header, hdr.len <= VSOCK_MAX_PKT_BUF_SIZE and hdr.len
 *     <= total - 44.
 *   RX (host -> guest): every buffer device-writable and inside guest RAM,
 *     the chain well formed, total fitting in u32 and >= 44 bytes.
 * The header's other fields are not judged here: the muxer and the
 * connections decide what an op, a CID or a port means.
 *
 * The iovecs point into guest memory and are valid only until the chain is
 * returned to the guest (STYLE.md 5). Vmm thread only.
 */
#ifndef SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_PKT_H
#define SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "devices/virtio/queue.h"

#define VSOCK_PKT_HDR_SIZE     44u
#define VSOCK_MAX_PKT_BUF_SIZE (64u * 1024u) /* upstream MAX_PKT_BUF_SIZE */
#define VSOCK_HOST_CID         2u

/* Operations (linux/virtio_vsock.h). */
#define SQ_VSOCK_OP_REQUEST        1
#define SQ_VSOCK_OP_RESPONSE       2
#define SQ_VSOCK_OP_RST            3
#define SQ_VSOCK_OP_SHUTDOWN       4
#define SQ_VSOCK_OP_RW             5
#define SQ_VSOCK_OP_CREDIT_UPDATE  6
#define SQ_VSOCK_OP_CREDIT_REQUEST 7

#define SQ_VSOCK_FLAGS_SHUTDOWN_RCV  1u
#define SQ_VSOCK_FLAGS_SHUTDOWN_SEND 2u
#define SQ_VSOCK_TYPE_STREAM         1

/* The header, host byte order. */
struct vsock_hdr {
    uint64_t src_cid;
    uint64_t dst_cid;
    uint32_t src_port;
    uint32_t dst_port;
    uint32_t len; /* payload bytes; 0 for control packets */
    uint16_t type;
    uint16_t op;
    uint32_t flags;
    uint32_t buf_alloc; /* the sender's receive buffer for this stream */
    uint32_t fwd_cnt;   /* bytes the sender has consumed from it */
};

/* Why a chain is not a packet (upstream's VsockError variants). */
enum vsock_pkt_err {
    VSOCK_PKT_OK = 0,
    VSOCK_PKT_MALFORMED_CHAIN,   /* chain->err set by the queue */
    VSOCK_PKT_UNREADABLE_DESC,   /* TX: a device-writable buffer */
    VSOCK_PKT_UNWRITABLE_DESC,   /* RX: a device-readable buffer */
    VSOCK_PKT_OUTSIDE_RAM,       /* a buffer not wholly in guest RAM */
    VSOCK_PKT_CHAIN_OVERFLOW,    /* total length above u32 */
    VSOCK_PKT_TOO_SHORT_FOR_HDR, /* fewer than 44 bytes */
    VSOCK_PKT_INVALID_LEN,       /* hdr.len above VSOCK_MAX_PKT_BUF_SIZE */
    VSOCK_PKT_TOO_SHORT_FOR_PKT, /* hdr.len above the chain's payload room */
};

struct vsock_pkt {
    struct vsock_hdr hdr; /* host copy */
    uint32_t buf_len;     /* header + payload room: sum of iov lengths */
    uint16_t n_iov;
    struct iovec iov[VIRTQ_CHAIN_MAX]; /* borrowed guest memory */
};

/* Decode/encode the 44 wire bytes. */
void vsock_hdr_decode(const uint8_t b[VSOCK_PKT_HDR_SIZE], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_PKT_HDR_SIZE]);

/*
 * Load a TX chain into *p and read its header (rules above). Returns
 * VSOCK_PKT_OK, or why not (p's contents are then unspecified).
 */
enum vsock_pkt_err vsock_pkt_parse_tx(struct vsock_pkt *p,
                                      const struct virtq_chain *c);

/*
 * Load an RX chain into *p and zero its header. Returns VSOCK_PKT_OK or
 * why the chain cannot carry a packet.
 */
enum vsock_pkt_err vsock_pkt_parse_rx(struct vsock_pkt *p,
                                      const struct virtq_chain *c);

/* A short text for a parse failure, for logs. */
const char *vsock_pkt_strerror(enum vsock_pkt_err e);

/* Payload room: buf_len - 44 (parsed packets only). */
static inline uint32_t vsock_pkt_buf_size(const struct vsock_pkt *p)
{
    return p->buf_len - VSOCK_PKT_HDR_SIZE;
}

/*
 * Write the host header into the first 44 bytes of an RX packet. Returns
 * 0, or -EINVAL if hdr.len exceeds VSOCK_MAX_PKT_BUF_SIZE (nothing
 * written), as upstream's commit_hdr.
 */
int vsock_pkt_commit_hdr(struct vsock_pkt *p);

/*
 * Payload I/O at byte `off` of the payload, `count` bytes, with one
 * writev()/readv() on `fd`. Returns the bytes moved (a short count is
 * normal on a non-blocking socket; 0 from read means end of stream), or
 * -errno; -EFAULT if [off, off + count) is outside the payload room.
 */
ssize_t vsock_pkt_write_to_fd(const struct vsock_pkt *p, int fd, uint32_t off,
                              uint32_t count);
ssize_t vsock_pkt_read_from_fd(struct vsock_pkt *p, int fd, uint32_t off,
                               uint32_t count);

/*
 * Copy `count` payload bytes from `off` into dst. Returns 0, or -EFAULT if
 * the range is outside the payload room.
 */
int vsock_pkt_copy_out(const struct vsock_pkt *p, uint32_t off, uint8_t *dst,
                       uint32_t count);

#endif
