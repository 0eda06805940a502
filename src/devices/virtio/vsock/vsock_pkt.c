/*
 * vsock_pkt.c: packet parsing and payload I/O (vsock_pkt.h).
 */
#include "devices/virtio/vsock/vsock_pkt.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static uint64_t get_le(const uint8_t *b, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void put_le(uint8_t *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

void vsock_hdr_decode(const uint8_t b[VSOCK_PKT_HDR_SIZE], struct vsock_hdr *h)
{
    h->src_cid = get_le(b, 8);
    h->dst_cid = get_le(b + 8, 8);
    h->src_port = (uint32_t)get_le(b + 16, 4);
    h->dst_port = (uint32_t)get_le(b + 20, 4);
    h->len = (uint32_t)get_le(b + 24, 4);
    h->type = (uint16_t)get_le(b + 28, 2);
    h->op = (uint16_t)get_le(b + 30, 2);
    h->flags = (uint32_t)get_le(b + 32, 4);
    h->buf_alloc = (uint32_t)get_le(b + 36, 4);
    h->fwd_cnt = (uint32_t)get_le(b + 40, 4);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_PKT_HDR_SIZE])
{
    put_le(b, h->src_cid, 8);
    put_le(b + 8, h->dst_cid, 8);
    put_le(b + 16, h->src_port, 4);
    put_le(b + 20, h->dst_port, 4);
    put_le(b + 24, h->len, 4);
    put_le(b + 28, h->type, 2);
    put_le(b + 30, h->op, 2);
    put_le(b + 32, h->flags, 4);
    put_le(b + 36, h->buf_alloc, 4);
    put_le(b + 40, h->fwd_cnt, 4);
}

/* Upstream's IoVecBuffer[Mut]::load_descriptor_chain: every buffer in the
 * right direction and in RAM, the total within u32. */
static enum vsock_pkt_err load(struct vsock_pkt *p, const struct virtq_chain *c,
                               bool want_write)
{
    uint32_t total = 0;

    p->n_iov = 0;
    p->buf_len = 0;
    if (c->err != VIRTQ_CHAIN_OK)
        return VSOCK_PKT_MALFORMED_CHAIN;
    for (uint16_t i = 0; i < c->n; i++) {
        const struct virtq_buf *b = &c->bufs[i];

        if (b->is_write != want_write)
            return want_write ? VSOCK_PKT_UNWRITABLE_DESC
                              : VSOCK_PKT_UNREADABLE_DESC;
        if (!b->hva && b->len)
            return VSOCK_PKT_OUTSIDE_RAM;
        if (__builtin_add_overflow(total, b->len, &total))
            return VSOCK_PKT_CHAIN_OVERFLOW;
        p->iov[i] = (struct iovec){b->hva, b->len};
    }
    p->n_iov = c->n;
    p->buf_len = total;
    return VSOCK_PKT_OK;
}

/* Copy [off, off + len) of the whole chain (header included) to dst;
 * the caller checked the range. */
static void chain_read(const struct vsock_pkt *p, size_t off, uint8_t *dst,
                       size_t len)
{
    for (uint16_t i = 0; i < p->n_iov && len > 0; i++) {
        size_t l = p->iov[i].iov_len, take;

        if (off >= l) {
            off -= l;
            continue;
        }
        take = l - off < len ? l - off : len;
        memcpy(dst, (const uint8_t *)p->iov[i].iov_base + off, take);
        dst += take;
        len -= take;
        off = 0;
    }
}

static void chain_write(struct vsock_pkt *p, size_t off, const uint8_t *src,
                        size_t len)
{
    for (uint16_t i = 0; i < p->n_iov && len > 0; i++) {
        size_t l = p->iov[i].iov_len, take;

        if (off >= l) {
            off -= l;
            continue;
        }
        take = l - off < len ? l - off : len;
        memcpy((uint8_t *)p->iov[i].iov_base + off, src, take);
        src += take;
        len -= take;
        off = 0;
    }
}

enum vsock_pkt_err vsock_pkt_parse_tx(struct vsock_pkt *p,
                                      const struct virtq_chain *c)
{
    uint8_t raw[VSOCK_PKT_HDR_SIZE];
    enum vsock_pkt_err e = load(p, c, false);

    if (e != VSOCK_PKT_OK)
        return e;
    if (p->buf_len < VSOCK_PKT_HDR_SIZE)
        return VSOCK_PKT_TOO_SHORT_FOR_HDR;
    chain_read(p, 0, raw, sizeof(raw));
    vsock_hdr_decode(raw, &p->hdr);
    if (p->hdr.len > VSOCK_MAX_PKT_BUF_SIZE)
        return VSOCK_PKT_INVALID_LEN;
    if (p->hdr.len > p->buf_len - VSOCK_PKT_HDR_SIZE)
        return VSOCK_PKT_TOO_SHORT_FOR_PKT;
    return VSOCK_PKT_OK;
}

enum vsock_pkt_err vsock_pkt_parse_rx(struct vsock_pkt *p,
                                      const struct virtq_chain *c)
{
    enum vsock_pkt_err e = load(p, c, true);

    if (e != VSOCK_PKT_OK)
        return e;
    if (p->buf_len < VSOCK_PKT_HDR_SIZE)
        return VSOCK_PKT_TOO_SHORT_FOR_HDR;
    memset(&p->hdr, 0, sizeof(p->hdr));
    return VSOCK_PKT_OK;
}

const char *vsock_pkt_strerror(enum vsock_pkt_err e)
{
    switch (e) {
    case VSOCK_PKT_OK:
        return "ok";
    case VSOCK_PKT_MALFORMED_CHAIN:
        return "malformed descriptor chain";
    case VSOCK_PKT_UNREADABLE_DESC:
        return "write-only descriptor in a TX chain";
    case VSOCK_PKT_UNWRITABLE_DESC:
        return "read-only descriptor in an RX chain";
    case VSOCK_PKT_OUTSIDE_RAM:
        return "buffer outside guest memory";
    case VSOCK_PKT_CHAIN_OVERFLOW:
        return "descriptor lengths overflow";
    case VSOCK_PKT_TOO_SHORT_FOR_HDR:
        return "chain too short for a packet header";
    case VSOCK_PKT_INVALID_LEN:
        return "packet length above the maximum";
    case VSOCK_PKT_TOO_SHORT_FOR_PKT:
        return "chain too short for the packet length";
    }
    return "unknown error";
}

int vsock_pkt_commit_hdr(struct vsock_pkt *p)
{
    uint8_t raw[VSOCK_PKT_HDR_SIZE];

    if (p->hdr.len > VSOCK_MAX_PKT_BUF_SIZE)
        return -EINVAL;
    vsock_hdr_encode(&p->hdr, raw);
    chain_write(p, 0, raw, sizeof(raw));
    return 0;
}

/* Is [off, off + count) inside the payload room? (upstream's check:
 * count <= buf_size - off, saturating). */
static bool in_payload(const struct vsock_pkt *p, uint32_t off, uint32_t count)
{
    uint32_t room = vsock_pkt_buf_size(p);

    return off <= room && count <= room - off;
}

/* The iovecs covering payload bytes [off, off + count), into out[]
 * (VIRTQ_CHAIN_MAX entries). Returns their number. */
static int payload_iov(const struct vsock_pkt *p, uint32_t off, uint32_t count,
                       struct iovec *out)
{
    size_t skip = (size_t)off + VSOCK_PKT_HDR_SIZE, left = count;
    int n = 0;

    for (uint16_t i = 0; i < p->n_iov && left > 0; i++) {
        size_t l = p->iov[i].iov_len, take;

        if (skip >= l) {
            skip -= l;
            continue;
        }
        take = l - skip < left ? l - skip : left;
        out[n].iov_base = (uint8_t *)p->iov[i].iov_base + skip;
        out[n].iov_len = take;
        n++;
        left -= take;
        skip = 0;
    }
    return n;
}

ssize_t vsock_pkt_write_to_fd(const struct vsock_pkt *p, int fd, uint32_t off,
                              uint32_t count)
{
    struct iovec iov[VIRTQ_CHAIN_MAX];
    ssize_t n;
    int niov;

    if (!in_payload(p, off, count))
        return -EFAULT;
    if (count == 0)
        return 0;
    niov = payload_iov(p, off, count, iov);
    do {
        n = writev(fd, iov, niov);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

ssize_t vsock_pkt_read_from_fd(struct vsock_pkt *p, int fd, uint32_t off,
                               uint32_t count)
{
    struct iovec iov[VIRTQ_CHAIN_MAX];
    ssize_t n;
    int niov;

    if (!in_payload(p, off, count))
        return -EFAULT;
    if (count == 0)
        return 0;
    niov = payload_iov(p, off, count, iov);
    do {
        n = readv(fd, iov, niov);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int vsock_pkt_copy_out(const struct vsock_pkt *p, uint32_t off, uint8_t *dst,
                       uint32_t count)
{
    if (!in_payload(p, off, count))
        return -EFAULT;
    chain_read(p, (size_t)off + VSOCK_PKT_HDR_SIZE, dst, count);
    return 0;
}
