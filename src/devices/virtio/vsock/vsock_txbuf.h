/*
 * vsock_txbuf.h: a connection's TX buffer, upstream's TxBuf
 * (csm/txbuf.rs): the guest's data that the host-side Unix socket could not
 * take yet, at most VSOCK_TXBUF_SIZE bytes.
 *
 * A ring of VSOCK_TXBUF_SIZE bytes, allocated on the first push and freed
 * by vsock_txbuf_clear(), so an idle connection costs nothing. head and
 * tail are free-running u32 byte counters; len = head - tail. A push is
 * all or nothing: data that does not fit is refused whole (-ENOSPC), and
 * the connection then resets the stream, since a guest that respects its
 * credit can never overflow it (vsock_conn.h).
 */
#ifndef SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_TXBUF_H
#define SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_TXBUF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices/virtio/vsock/vsock_pkt.h"

#define VSOCK_TXBUF_SIZE (64u * 1024u) /* upstream CONN_TX_BUF_SIZE */

struct vsock_txbuf {
    uint8_t *data; /* owned; NULL until the first push */
    uint32_t head; /* bytes ever pushed (mod 2^32) */
    uint32_t tail; /* bytes ever flushed (mod 2^32) */
};

/* An empty buffer (nothing allocated). */
void vsock_txbuf_init(struct vsock_txbuf *tb);

/* Drop the contents and free the storage; the buffer stays usable. */
void vsock_txbuf_clear(struct vsock_txbuf *tb);

static inline uint32_t vsock_txbuf_len(const struct vsock_txbuf *tb)
{
    return tb->head - tb->tail;
}

static inline bool vsock_txbuf_is_empty(const struct vsock_txbuf *tb)
{
    return tb->head == tb->tail;
}

/*
 * Append payload bytes [off, off + count) of packet p. Returns 0, -ENOSPC
 * if they do not fit (nothing appended) or -EFAULT if the range is not in
 * the payload.
 */
int vsock_txbuf_push(struct vsock_txbuf *tb, const struct vsock_pkt *p,
                     uint32_t off, uint32_t count);

/* Append `count` bytes from `src` (tests and the fuzzer); as above. */
int vsock_txbuf_push_bytes(struct vsock_txbuf *tb, const uint8_t *src,
                           uint32_t count);

/*
 * Write as much as `fd` takes with one writev(). Returns the bytes written
 * (0 if empty), or -errno (nothing consumed).
 */
ssize_t vsock_txbuf_flush_to(struct vsock_txbuf *tb, int fd);

#endif
