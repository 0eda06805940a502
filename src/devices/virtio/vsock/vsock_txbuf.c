/*
 * vsock_txbuf.c: the bounded TX ring of a vsock connection
 * (vsock_txbuf.h).
 */
#include "devices/virtio/vsock/vsock_txbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "util/xalloc.h"

void vsock_txbuf_init(struct vsock_txbuf *tb)
{
    tb->data = NULL;
    tb->head = 0;
    tb->tail = 0;
}

void vsock_txbuf_clear(struct vsock_txbuf *tb)
{
    free(tb->data);
    vsock_txbuf_init(tb);
}

/* Make room for `count` bytes at head; returns the two pieces of the ring
 * they go to, or -ENOSPC. */
static int reserve(struct vsock_txbuf *tb, uint32_t count, uint8_t **p1,
                   uint32_t *n1, uint8_t **p2)
{
    uint32_t at;

    if (count > VSOCK_TXBUF_SIZE - vsock_txbuf_len(tb))
        return -ENOSPC;
    if (!tb->data)
        tb->data = xmalloc(VSOCK_TXBUF_SIZE);
    at = tb->head % VSOCK_TXBUF_SIZE;
    *p1 = tb->data + at;
    *n1 = VSOCK_TXBUF_SIZE - at < count ? VSOCK_TXBUF_SIZE - at : count;
    *p2 = tb->data;
    return 0;
}

int vsock_txbuf_push(struct vsock_txbuf *tb, const struct vsock_pkt *p,
                     uint32_t off, uint32_t count)
{
    uint8_t *p1, *p2;
    uint32_t n1;
    int rc;

    if (off > vsock_pkt_buf_size(p) || count > vsock_pkt_buf_size(p) - off)
        return -EFAULT;
    rc = reserve(tb, count, &p1, &n1, &p2);
    if (rc < 0)
        return rc;
    vsock_pkt_copy_out(p, off, p1, n1);
    if (n1 < count)
        vsock_pkt_copy_out(p, off + n1, p2, count - n1);
    tb->head += count;
    return 0;
}

int vsock_txbuf_push_bytes(struct vsock_txbuf *tb, const uint8_t *src,
                           uint32_t count)
{
    uint8_t *p1, *p2;
    uint32_t n1;
    int rc = reserve(tb, count, &p1, &n1, &p2);

    if (rc < 0)
        return rc;
    memcpy(p1, src, n1);
    memcpy(p2, src + n1, count - n1);
    tb->head += count;
    return 0;
}

ssize_t vsock_txbuf_flush_to(struct vsock_txbuf *tb, int fd)
{
    uint32_t len = vsock_txbuf_len(tb), at = tb->tail % VSOCK_TXBUF_SIZE, n1;
    struct iovec iov[2];
    ssize_t w;

    if (len == 0)
        return 0;
    n1 = VSOCK_TXBUF_SIZE - at < len ? VSOCK_TXBUF_SIZE - at : len;
    iov[0] = (struct iovec){tb->data + at, n1};
    iov[1] = (struct iovec){tb->data, len - n1};
    do {
        w = writev(fd, iov, n1 < len ? 2 : 1);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return -errno;
    tb->tail += (uint32_t)w;
    return w;
}
