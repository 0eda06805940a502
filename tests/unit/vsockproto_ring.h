/*
 * vsockproto_ring.h: the test guest's vsock client (tests/guest/
 * vsockproto.c) wired to squib's real virtio-vsock device in-process,
 * through the rings vsock_harness.h drives. Include after vsock_harness.h
 * from one file per binary (static functions only); the benches include
 * it too.
 *
 *   send_pkt: the header and payload are copied into the next TX slot of
 *     guest memory as one device-readable buffer, published and notified;
 *     the device consumes TX chains synchronously (the muxer always takes
 *     a packet), so the slot is free again on return.
 *   recv_pkt: the RX ring is kept topped up with RING_RX_DEPTH buffers of
 *     RX_BUF_LEN bytes (a Linux driver's 4 KiB payload); a used buffer is
 *     copied out. With none used, the device looks at its sockets
 *     (vsock_backend_event, as the vmm loop would) and, if still nothing,
 *     the call sleeps in poll() on the muxer's epoll fd for up to the
 *     timeout, so a host thread writing into a socket wakes it.
 *
 * Everything touching the device runs on the calling thread (the device
 * is vmm-thread-only); host sockets may be served by other threads.
 */
#ifndef SQUIB_TESTS_VSOCKPROTO_RING_H
#define SQUIB_TESTS_VSOCKPROTO_RING_H

#include <poll.h>
#include <time.h>

#include "../guest/vsockproto.h"

#define RING_RX_DEPTH 128

struct ring_io {
    struct fx *f;
    uint32_t rx_out; /* RX chains given and not yet used */
    uint64_t sleeps; /* recv_pkt calls that had to poll() */
};

static __attribute__((unused)) int ring_send(void *opaque,
                                             const uint8_t hdr[VP_HDR_LEN],
                                             const uint8_t *payload, size_t len)
{
    struct ring_io *io = opaque;
    struct fx *f = io->f;
    uint64_t a = TXBUF + TXSTRIDE * (f->tx_slot++ % TX_SLOTS);
    uint8_t *p;
    struct dsc ds[1];

    if (len > VSOCK_MAX_PKT_BUF_SIZE)
        return -1;
    p = g2h(&f->mem, a, VSOCK_PKT_HDR_SIZE + len);
    memcpy(p, hdr, VSOCK_PKT_HDR_SIZE);
    if (len)
        memcpy(p + VSOCK_PKT_HDR_SIZE, payload, len);
    ds[0].addr = a;
    ds[0].len = (uint32_t)(VSOCK_PKT_HDR_SIZE + len);
    ds[0].flags = 0;
    publish(f, TXQ, ds, 1);
    virtio_mmio_notify(tp(f), TXQ);
    return 0;
}

/* The next used RX buffer copied into buf: its length, or 0. */
static __attribute__((unused)) size_t ring_take(struct ring_io *io,
                                                uint8_t *buf, size_t cap)
{
    struct fx *f = io->f;
    uint32_t id, len;

    if (drv_used_idx(&f->d[RXQ]) == f->rx_used_seen)
        return 0;
    drv_used_elem(&f->d[RXQ], f->rx_used_seen++, &id, &len);
    io->rx_out--;
    if (id >= 256 || len > RX_BUF_LEN)
        return 0;
    if (len > cap)
        len = (uint32_t)cap;
    memcpy(buf, g2h(&f->mem, f->rx_addr[id], len), len);
    return len;
}

static __attribute__((unused)) void ring_top_up(struct ring_io *io)
{
    bool gave = false;

    while (io->rx_out < RING_RX_DEPTH) {
        give_rx(io->f, 1);
        io->rx_out++;
        gave = true;
    }
    if (gave)
        virtio_mmio_notify(tp(io->f), RXQ);
}

static __attribute__((unused)) size_t ring_recv(void *opaque, uint8_t *buf,
                                                size_t cap, uint32_t timeout_ms)
{
    struct ring_io *io = opaque;
    struct pollfd p = {.fd = vsock_muxer_fd(vsock_muxer(io->f->v)),
                       .events = POLLIN};
    struct timespec ts;
    int64_t deadline, now;
    size_t n;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    deadline = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
    for (;;) {
        ring_top_up(io);
        n = ring_take(io, buf, cap);
        if (n)
            return n;
        vsock_backend_event(io->f->v);
        ring_top_up(io);
        n = ring_take(io, buf, cap);
        if (n)
            return n;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (now >= deadline)
            return 0;
        io->sleeps++;
        (void)poll(&p, 1, (int)(deadline - now));
    }
}

/* A client on the fixture's device (already started with fx_start). */
static __attribute__((unused)) void
ring_client(struct vp_client *c, struct ring_io *io, struct fx *f,
            struct vp_conn *conns, size_t n, uint8_t *arena, size_t arena_len)
{
    io->f = f;
    io->rx_out = 0;
    io->sleeps = 0;
    vp_init(c, GUEST_CID, conns, n, arena, arena_len, ring_send, ring_recv, io);
}

#endif
