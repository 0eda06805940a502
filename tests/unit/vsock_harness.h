/*
 * vsock_harness.h: the guest side of virtio-vsock for unit tests. It sets
 * up the device with a listening Unix socket in a temporary directory,
 * plays the guest driver on the three rings (TX packets written to guest
 * memory, RX buffers given and read back) and the host's clients and
 * listeners with real Unix sockets. Include from one test file per binary
 * (static functions only).
 */
#ifndef SQUIB_TESTS_VSOCK_HARNESS_H
#define SQUIB_TESTS_VSOCK_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/vsock/vsock.h"
#include "devices/virtio/vsock/vsock_pkt.h"
#include "devices/virtio/vsock/vsock_txbuf.h"
#include "obs/metrics.h"
#include "virtq_driver.h"

#define MEM_SIZE   0x1000000ULL
#define TXBUF      0x100000ULL
#define TXSTRIDE   0x11000ULL /* a 64 KiB payload and its header */
#define TX_SLOTS   32
#define RXBUF      0x400000ULL
#define RXSTRIDE   0x2000ULL
#define RX_BUF_LEN (VSOCK_PKT_HDR_SIZE + 4096u)
#define GUEST_CID  42u

#define F_N SQ_VIRTQ_DESC_F_NEXT
#define F_W SQ_VIRTQ_DESC_F_WRITE

#define RXQ  VSOCK_RX_INDEX
#define TXQ  VSOCK_TX_INDEX
#define EVQ  VSOCK_EVQ_INDEX
#define F_EI (1ULL << SQ_VIRTIO_F_RING_EVENT_IDX)

struct fx {
    struct drv_mem mem;
    struct drv d[3];
    uint16_t next_desc[3];
    uint16_t rx_used_seen;
    uint16_t tx_used_seen;
    uint64_t rx_addr[256]; /* RX head -> its buffer */
    uint32_t rx_slot;
    uint32_t tx_slot;
    struct vsock *v;
    int listen_fd;
    char dir[64];
    char uds[96];
    uint64_t now_ns;
};

struct dsc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
};

static __attribute__((unused)) uint64_t fx_clock(void *opaque)
{
    return ((struct fx *)opaque)->now_ns;
}

static __attribute__((unused)) uint64_t cnt(struct metrics_counter *c)
{
    return atomic_load(&c->v);
}

static __attribute__((unused)) struct metrics_vsock *mv(void)
{
    return metrics_vsock();
}

static __attribute__((unused)) struct virtio_mmio *tp(struct fx *f)
{
    return vsock_transport(f->v);
}

/* A listening socket at `path`, non-blocking. */
static __attribute__((unused)) int listen_at(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1024), 0);
    return fd;
}

/* A listener for guest-initiated connections to host port `port`. */
static __attribute__((unused)) int listen_port(struct fx *f, uint32_t port)
{
    char p[128];

    snprintf(p, sizeof(p), "%s_%u", f->uds, port);
    return listen_at(p);
}

/* Connect to the device's socket (blocking client). */
static __attribute__((unused)) int client_connect(struct fx *f)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->uds);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static __attribute__((unused)) void fx_new(struct fx *f, uint64_t cid)
{
    struct vsock_params p = {
        .guest_cid = cid,
        .uds_path = f->uds,
        .clock = fx_clock,
        .clock_opaque = f,
    };
    struct sq_err err;

    f->listen_fd = listen_at(f->uds);
    p.listen_fd = f->listen_fd;
    sq_err_clear(&err);
    assert_int_equal(vsock_new(&p, &f->v, &err), 0);
    assert_int_equal(vsock_attach(f->v, &f->mem.gm, -1, 0xc0003000, NULL), 0);
}

/* Driver setup up to DRIVER_OK (status 15), fresh ring bookkeeping. */
static __attribute__((unused)) void fx_start(struct fx *f, uint64_t features)
{
    assert_int_equal(drv_setup_n(f->d, 3, &f->mem, tp(f), 256, features), 15);
    memset(f->next_desc, 0, sizeof(f->next_desc));
    f->rx_used_seen = f->tx_used_seen = 0;
    f->rx_slot = f->tx_slot = 0;
}

static __attribute__((unused)) int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    drv_mem_init(&f->mem, MEM_SIZE);
    snprintf(f->dir, sizeof(f->dir), "/tmp/squib-vsock-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
    f->listen_fd = -1;
    f->now_ns = 1000000000ULL;
    *state = f;
    return 0;
}

static __attribute__((unused)) int fx_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[160];

    vsock_free(f->v);
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    drv_mem_fini(&f->mem);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Publish a chain on queue qi; returns its head. */
static __attribute__((unused)) uint16_t publish(struct fx *f, int qi,
                                                const struct dsc *ds, int n)
{
    uint16_t head = f->next_desc[qi];

    for (int i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((f->next_desc[qi] + i) % 256);

        drv_desc(&f->d[qi], idx, ds[i].addr, ds[i].len,
                 (uint16_t)(ds[i].flags | (i + 1 < n ? F_N : 0)),
                 (uint16_t)((idx + 1) % 256));
    }
    f->next_desc[qi] = (uint16_t)((f->next_desc[qi] + n) % 256);
    drv_publish(&f->d[qi], head);
    return head;
}

/* Give the device `n` RX chains of one RX_BUF_LEN buffer each. */
static __attribute__((unused)) void give_rx(struct fx *f, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t a = RXBUF + RXSTRIDE * (f->rx_slot++ % 256);
        struct dsc ds[1] = {{a, RX_BUF_LEN, F_W}};
        uint16_t head = publish(f, RXQ, ds, 1);

        f->rx_addr[head] = a;
    }
}

/* A packet header the guest sends, from guest port `gp` to host `hp`. */
static __attribute__((unused)) struct vsock_hdr ghdr(uint32_t gp, uint32_t hp,
                                                     uint16_t op)
{
    struct vsock_hdr h = {
        .src_cid = GUEST_CID,
        .dst_cid = VSOCK_HOST_CID,
        .src_port = gp,
        .dst_port = hp,
        .type = SQ_VSOCK_TYPE_STREAM,
        .op = op,
        .buf_alloc = 256 * 1024,
        .fwd_cnt = 0,
    };

    return h;
}

/* Put a TX packet (header + payload in one buffer) on the ring, without
 * notifying. */
static __attribute__((unused)) void queue_tx(struct fx *f,
                                             const struct vsock_hdr *h,
                                             const void *data, uint32_t len)
{
    uint64_t a = TXBUF + TXSTRIDE * (f->tx_slot++ % TX_SLOTS);
    uint8_t *p = g2h(&f->mem, a, VSOCK_PKT_HDR_SIZE + len);
    struct vsock_hdr hh = *h;
    struct dsc ds[1] = {{a, VSOCK_PKT_HDR_SIZE + len, 0}};

    hh.len = len;
    vsock_hdr_encode(&hh, p);
    if (len)
        memcpy(p + VSOCK_PKT_HDR_SIZE, data, len);
    publish(f, TXQ, ds, 1);
}

/* Send one TX packet and notify. */
static __attribute__((unused)) void
send_tx(struct fx *f, const struct vsock_hdr *h, const void *data, uint32_t len)
{
    queue_tx(f, h, data, len);
    virtio_mmio_notify(tp(f), TXQ);
}

/*
 * The next used RX entry: true with its header (and up to `cap` payload
 * bytes in `data`, if not NULL), false if the device returned none.
 * *used_len gets the used length when not NULL.
 */
static __attribute__((unused)) bool next_rx(struct fx *f, struct vsock_hdr *h,
                                            uint8_t *data, size_t cap,
                                            uint32_t *used_len)
{
    uint32_t id, len;
    uint8_t *p;

    if (drv_used_idx(&f->d[RXQ]) == f->rx_used_seen)
        return false;
    drv_used_elem(&f->d[RXQ], f->rx_used_seen++, &id, &len);
    assert_true(id < 256);
    if (used_len)
        *used_len = len;
    memset(h, 0, sizeof(*h));
    if (len < VSOCK_PKT_HDR_SIZE)
        return true;
    p = g2h(&f->mem, f->rx_addr[id], len);
    vsock_hdr_decode(p, h);
    assert_int_equal(len, VSOCK_PKT_HDR_SIZE + h->len);
    if (data)
        memcpy(data, p + VSOCK_PKT_HDR_SIZE, h->len < cap ? h->len : cap);
    return true;
}

/* Let the device look at its sockets (what the loop would do). */
static __attribute__((unused)) void pump(struct fx *f)
{
    vsock_backend_event(f->v);
}

/* Wait until fd is readable (or 2 s). */
static __attribute__((unused)) bool readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, ms) == 1;
}

/* Read exactly n bytes from a blocking fd. */
static __attribute__((unused)) void read_all(int fd, void *buf, size_t n)
{
    uint8_t *b = buf;

    while (n > 0) {
        ssize_t r = read(fd, b, n);

        assert_true(r > 0);
        b += r;
        n -= (size_t)r;
    }
}

static __attribute__((unused)) void write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *b = buf;

    while (n > 0) {
        ssize_t w = write(fd, b, n);

        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

/* Accept one connection on a listener (waits up to 2 s). */
static __attribute__((unused)) int accept_one(int lfd)
{
    int fd;

    assert_true(readable(lfd, 2000));
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

/* FNV-1a, the checksum of the data tests. */
static __attribute__((unused)) uint64_t fnv(uint64_t h, const uint8_t *p,
                                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL

#endif
