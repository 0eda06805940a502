/*
 * test_net.c: the virtio network device driven through its two rings, with
 * one end of a SOCK_DGRAM socketpair standing in for the TAP (one datagram
 * = one frame with its vnet header): identity, features and config space,
 * TX of single and multi-buffer frames, RX with and without MRG_RXBUF
 * (num_buffers), deferral without buffers, hostile chains on both queues,
 * the detour hooks, both rate limiters, EVENT_IDX suppression and a
 * corrupt ring.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "devices/virtio/net.h"
#include "obs/metrics.h"
#include "virtq_driver.h"

#define MEM_SIZE 0x800000ULL
#define TXBUF    0x100000ULL
#define RXBUF    0x200000ULL
#define RXSTRIDE 0x2000ULL

#define F_N SQ_VIRTQ_DESC_F_NEXT
#define F_W SQ_VIRTQ_DESC_F_WRITE

#define F_MRG (1ULL << SQ_VIRTIO_NET_F_MRG_RXBUF)
#define F_EVI (1ULL << SQ_VIRTIO_F_RING_EVENT_IDX)

#define RX 0
#define TX 1

struct fx {
    struct drv_mem mem;
    struct drv d[2]; /* RX, TX */
    uint16_t next_desc[2];
    struct net *n;
    int peer; /* the "network" end of the TAP */
    uint64_t fake_ns;
    unsigned offload;
    /* Detour hooks. */
    int detoured;
    size_t detoured_len;
    const uint8_t *rx_frame;
    size_t rx_frame_len;
};

static uint64_t fake_clock(void *opaque)
{
    return ((struct fx *)opaque)->fake_ns;
}

static struct fx *offload_fx; /* the fixture the fake ioctl reports to */

static int fake_offload(int fd, unsigned flags)
{
    (void)fd;
    offload_fx->offload = flags;
    return 0;
}

static uint64_t cnt(struct metrics_counter *c)
{
    return atomic_load(&c->v);
}

static struct metrics_net *m(void)
{
    return metrics_net_get("eth0");
}

static struct virtio_mmio *tp(struct fx *f)
{
    return net_transport(f->n);
}

static void fx_new(struct fx *f, struct net_params *p)
{
    struct sq_err err;
    int sv[2];

    assert_int_equal(
        socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
        0);
    p->iface_id = "eth0";
    p->tap_fd = sv[0];
    p->set_offload = fake_offload;
    sq_err_clear(&err);
    assert_int_equal(net_new(p, &f->n, &err), 0);
    close(sv[0]);
    f->peer = sv[1];
    assert_int_equal(net_attach(f->n, &f->mem.gm, -1, 0xc0002000, NULL), 0);
    f->fake_ns = 5000000000ULL;
    rate_limiter_set_clock(net_rx_rate_limiter(f->n), fake_clock, f);
    rate_limiter_set_clock(net_tx_rate_limiter(f->n), fake_clock, f);
}

static void fx_start(struct fx *f, uint64_t features)
{
    assert_int_equal(drv_setup_n(f->d, 2, &f->mem, tp(f), 256, features), 15);
    f->next_desc[RX] = f->next_desc[TX] = 0;
}

static void fx_open(struct fx *f, uint64_t features)
{
    struct net_params p = {0};

    fx_new(f, &p);
    fx_start(f, features);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    drv_mem_init(&f->mem, MEM_SIZE);
    f->peer = -1;
    offload_fx = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    net_free(f->n);
    if (f->peer >= 0)
        close(f->peer);
    drv_mem_fini(&f->mem);
    free(f);
    return 0;
}

struct dsc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
};

static uint16_t publish(struct fx *f, int qi, const struct dsc *ds, int n)
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

/* Fill guest memory at `gpa` with a frame: zero vnet header + pattern. */
static void put_frame(struct fx *f, uint64_t gpa, size_t len, uint8_t seed)
{
    uint8_t *p = g2h(&f->mem, gpa, len);

    memset(p, 0, len < NET_VNET_HDR_LEN ? len : NET_VNET_HDR_LEN);
    for (size_t i = NET_VNET_HDR_LEN; i < len; i++)
        p[i] = (uint8_t)(seed + i);
}

static ssize_t peer_recv(struct fx *f, uint8_t *buf, size_t cap)
{
    return recv(f->peer, buf, cap, MSG_DONTWAIT);
}

static void peer_send(struct fx *f, size_t len, uint8_t seed)
{
    uint8_t *b = calloc(1, len);

    for (size_t i = NET_VNET_HDR_LEN; i < len; i++)
        b[i] = (uint8_t)(seed + i);
    assert_int_equal(send(f->peer, b, len, 0), (ssize_t)len);
    free(b);
}

/* Give the device `count` RX chains of one `len`-byte buffer each. */
static void rx_bufs(struct fx *f, int count, uint32_t len, uint16_t first)
{
    for (int i = 0; i < count; i++) {
        struct dsc ds[1] = {
            {RXBUF + RXSTRIDE * (uint64_t)((first + i) % 256), len, F_W}};

        publish(f, RX, ds, 1);
    }
}

static void test_identity_config(void **state)
{
    struct fx *f = *state;
    struct net_params p = {.has_mac = true,
                           .mac = {0x06, 0, 0xac, 0x10, 0, 2},
                           .has_mtu = true,
                           .mtu = 1400};
    uint64_t base = 1ULL << 0 | 1ULL << 1 | 1ULL << 7 | 1ULL << 8 | 1ULL << 10 |
                    1ULL << 11 | 1ULL << 12 | 1ULL << 14 | 1ULL << 15 |
                    1ULL << 29 | 1ULL << 32;
    uint64_t feats, cfg_fails = cnt(&m()->cfg_fails);
    uint8_t want[12] = {0x06, 0, 0xac, 0x10, 0, 2, 0, 0, 0, 0, 0x78, 0x05};

    fx_new(f, &p);
    assert_int_equal(reg_rd(tp(f), 0x08), 1);
    reg_wr(tp(f), 0x14, 0);
    feats = reg_rd(tp(f), 0x10);
    reg_wr(tp(f), 0x14, 1);
    feats |= (uint64_t)reg_rd(tp(f), 0x10) << 32;
    assert_int_equal(feats, base | 1ULL << 3 | 1ULL << 5);
    for (unsigned q = 0; q < 2; q++) {
        reg_wr(tp(f), 0x30, q);
        assert_int_equal(reg_rd(tp(f), 0x34), 256);
    }
    for (unsigned i = 0; i < 16; i++) {
        uint8_t b = 0xee;

        bus_dev_lock(&tp(f)->bus);
        virtio_mmio_read(&tp(f)->bus, 0x100 + i, &b, 1);
        bus_dev_unlock(&tp(f)->bus);
        assert_int_equal(b, i < 12 ? want[i] : 0);
    }
    /* Writes are refused and counted. */
    fx_start(f, 0);
    reg_wr(tp(f), 0x100, 0x11223344);
    assert_int_equal(cnt(&m()->cfg_fails), cfg_fails + 1);
    assert_int_equal(reg_rd(tp(f), 0x100), 0x10ac0006);
    net_free(f->n);
    f->n = NULL;
    close(f->peer);

    /* No MAC, no MTU: neither feature; a bad MTU is refused. */
    {
        struct net_params q = {0};

        fx_new(f, &q);
        reg_wr(tp(f), 0x14, 0);
        assert_int_equal(reg_rd(tp(f), 0x10), (uint32_t)base);
        net_free(f->n);
        f->n = NULL;
        close(f->peer);
        f->peer = -1;
    }
    {
        struct net_params q = {.has_mtu = true, .mtu = 67, .tap_fd = 0};
        struct net *n = NULL;
        struct sq_err err;

        sq_err_clear(&err);
        assert_int_equal(net_new(&q, &n, &err), -EINVAL);
        assert_null(n);
    }
}

static void test_offload_flags(void **state)
{
    struct fx *f = *state;

    assert_int_equal(net_tap_offload_flags(0), 0);
    assert_int_equal(net_tap_offload_flags(1ULL << SQ_VIRTIO_NET_F_CSUM |
                                           1ULL << SQ_VIRTIO_NET_F_HOST_TSO4),
                     0);
    assert_int_equal(net_tap_offload_flags(1ULL << SQ_VIRTIO_NET_F_GUEST_CSUM |
                                           1ULL << SQ_VIRTIO_NET_F_GUEST_TSO4 |
                                           1ULL << SQ_VIRTIO_NET_F_GUEST_TSO6 |
                                           1ULL << SQ_VIRTIO_NET_F_GUEST_UFO),
                     TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO);
    /* Activation sets them on the TAP from the acked features. */
    f->offload = 0xdead;
    fx_open(f, 1ULL << SQ_VIRTIO_NET_F_GUEST_CSUM |
                   1ULL << SQ_VIRTIO_NET_F_GUEST_TSO4);
    assert_int_equal(f->offload, TUN_F_CSUM | TUN_F_TSO4);
}

static void test_tx_frames(void **state)
{
    struct fx *f = *state;
    struct metrics_net *mn = m();
    uint64_t pk = cnt(&mn->tx_packets_count), by = cnt(&mn->tx_bytes_count);
    uint8_t got[2048];
    uint32_t id, len;

    fx_open(f, F_MRG);
    drv_irqs(&f->d[TX]);
    /* One buffer. */
    put_frame(f, TXBUF, 72, 1);
    {
        struct dsc ds[1] = {{TXBUF, 72, 0}};
        uint16_t head = publish(f, TX, ds, 1);

        virtio_mmio_notify(tp(f), TX);
        assert_int_equal(drv_used_idx(&f->d[TX]), 1);
        drv_used_elem(&f->d[TX], 0, &id, &len);
        assert_int_equal(id, head);
        assert_int_equal(len, 0);
    }
    assert_int_equal(peer_recv(f, got, sizeof(got)), 72);
    assert_memory_equal(got, g2h(&f->mem, TXBUF, 72), 72);
    assert_int_equal(drv_irqs(&f->d[TX]), 1);
    /* Header alone, then the frame in two more pieces. */
    put_frame(f, TXBUF, 1500, 7);
    {
        struct dsc ds[3] = {
            {TXBUF, 12, 0}, {TXBUF + 12, 100, 0}, {TXBUF + 112, 1388, 0}};

        publish(f, TX, ds, 3);
        virtio_mmio_notify(tp(f), TX);
    }
    assert_int_equal(drv_used_idx(&f->d[TX]), 2);
    assert_int_equal(peer_recv(f, got, sizeof(got)), 1500);
    assert_memory_equal(got, g2h(&f->mem, TXBUF, 1500), 1500);
    assert_int_equal(peer_recv(f, got, sizeof(got)), -1);
    assert_int_equal(cnt(&mn->tx_packets_count) - pk, 2);
    assert_int_equal(cnt(&mn->tx_bytes_count) - by, 72 + 1500);
}

static void test_tx_spoofed_mac(void **state)
{
    struct fx *f = *state;
    struct net_params p = {.has_mac = true, .mac = {2, 0, 0, 0, 0, 1}};
    uint64_t sp = cnt(&m()->tx_spoofed_mac_count);
    uint8_t *fr = g2h(&f->mem, TXBUF, 64), got[128];
    struct dsc ds[1] = {{TXBUF, 64, 0}};

    fx_new(f, &p);
    fx_start(f, 0);
    memset(fr, 0, 64);
    memcpy(fr + 12 + 6, p.mac, 6);
    publish(f, TX, ds, 1);
    virtio_mmio_notify(tp(f), TX);
    assert_int_equal(cnt(&m()->tx_spoofed_mac_count), sp);
    fr[12 + 6] = 0x42;
    publish(f, TX, ds, 1);
    virtio_mmio_notify(tp(f), TX);
    assert_int_equal(cnt(&m()->tx_spoofed_mac_count), sp + 1);
    /* Counted, still sent (upstream only counts). */
    assert_int_equal(peer_recv(f, got, sizeof(got)), 64);
    assert_int_equal(peer_recv(f, got, sizeof(got)), 64);
}

static void test_tx_hostile(void **state)
{
    static const struct {
        const char *name;
        struct dsc ds[3];
        int n;
        int which; /* 0 = tx_fails, 1 = tx_malformed_frames */
    } cases[] = {
        {"device-writable buffer", {{TXBUF, 64, F_W}}, 1, 0},
        {"writable after readable", {{TXBUF, 64, 0}, {TXBUF, 8, F_W}}, 2, 0},
        {"outside RAM", {{MEM_SIZE - 16, 64, 0}}, 1, 0},
        {"wrapping address", {{0xffffffffffffffc0ULL, 128, 0}}, 1, 0},
        {"lengths overflow u32",
         {{TXBUF, 0x80000000u, 0}, {TXBUF, 0x80000000u, 0}},
         2,
         0},
        {"zero length", {{TXBUF, 0, 0}}, 1, 1},
        {"shorter than the vnet header", {{TXBUF, 11, 0}}, 1, 1},
        {"over the maximum frame",
         {{TXBUF, 40000, 0}, {TXBUF, 25563, 0}},
         2,
         1},
    };
    struct fx *f = *state;
    struct metrics_net *mn = m();
    uint8_t got[128];

    fx_open(f, 0);
    put_frame(f, TXBUF, 64, 3);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t fails = cnt(&mn->tx_fails),
                 bad = cnt(&mn->tx_malformed_frames);
        uint16_t before = drv_used_idx(&f->d[TX]);
        uint16_t head = publish(f, TX, cases[i].ds, cases[i].n);
        uint32_t id, len;

        virtio_mmio_notify(tp(f), TX);
        if (drv_used_idx(&f->d[TX]) != (uint16_t)(before + 1))
            fail_msg("case '%s' was not returned", cases[i].name);
        drv_used_elem(&f->d[TX], before, &id, &len);
        assert_int_equal(id, head);
        assert_int_equal(len, 0);
        if (cases[i].which == 0)
            assert_int_equal(cnt(&mn->tx_fails), fails + 1);
        else
            assert_int_equal(cnt(&mn->tx_malformed_frames), bad + 1);
        if (peer_recv(f, got, sizeof(got)) != -1)
            fail_msg("case '%s' reached the TAP", cases[i].name);
    }
    /* A loop. */
    {
        uint64_t fails = cnt(&mn->tx_fails);
        uint16_t before = drv_used_idx(&f->d[TX]);

        drv_desc(&f->d[TX], 200, TXBUF, 8, F_N, 201);
        drv_desc(&f->d[TX], 201, TXBUF, 8, F_N, 200);
        drv_publish(&f->d[TX], 200);
        virtio_mmio_notify(tp(f), TX);
        assert_int_equal(drv_used_idx(&f->d[TX]), (uint16_t)(before + 1));
        assert_int_equal(cnt(&mn->tx_fails), fails + 1);
    }
    /* Still working. */
    {
        struct dsc ds[1] = {{TXBUF, 64, 0}};

        publish(f, TX, ds, 1);
        virtio_mmio_notify(tp(f), TX);
        assert_int_equal(peer_recv(f, got, sizeof(got)), 64);
    }
    assert_false(reg_rd(tp(f), 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
}

static void test_tx_tap_full(void **state)
{
    struct fx *f = *state;
    uint64_t wf = cnt(&m()->tap_write_fails);
    uint8_t got[256];
    int sent = 0;

    fx_open(f, 0);
    put_frame(f, TXBUF, 200, 5);
    /* Fill the socket until the kernel refuses (EAGAIN): those frames are
     * dropped and counted, the chains still returned. */
    for (int round = 0; round < 64 && cnt(&m()->tap_write_fails) == wf;
         round++) {
        for (int i = 0; i < 64; i++) {
            struct dsc ds[1] = {{TXBUF, 200, 0}};

            publish(f, TX, ds, 1);
        }
        virtio_mmio_notify(tp(f), TX);
        sent += 64;
    }
    assert_true(cnt(&m()->tap_write_fails) > wf);
    assert_int_equal(drv_used_idx(&f->d[TX]), (uint16_t)sent);
    while (peer_recv(f, got, sizeof(got)) == 200)
        ;
    /* Drained: frames flow again. */
    {
        struct dsc ds[1] = {{TXBUF, 200, 0}};

        publish(f, TX, ds, 1);
        virtio_mmio_notify(tp(f), TX);
        assert_int_equal(peer_recv(f, got, sizeof(got)), 200);
    }
}

/* The vnet header's num_buffers as the device wrote it at `gpa`. */
static uint16_t num_buffers(struct fx *f, uint64_t gpa)
{
    uint8_t *h = g2h(&f->mem, gpa, 12);

    return (uint16_t)(h[10] | h[11] << 8);
}

static void test_rx_mrg(void **state)
{
    struct fx *f = *state;
    struct metrics_net *mn = m();
    uint64_t pk = cnt(&mn->rx_packets_count);
    uint32_t id, len;
    uint8_t *want = calloc(1, 9000);

    fx_open(f, F_MRG);
    drv_irqs(&f->d[RX]);
    rx_bufs(f, 22, 4096, 0); /* 88 KiB >= NET_MAX_BUFFER_SIZE */
    virtio_mmio_notify(tp(f), RX);
    assert_int_equal(drv_used_idx(&f->d[RX]), 0);
    peer_send(f, 9000, 9);
    net_tap_event(f->n);
    /* 9000 bytes over three 4 KiB chains, num_buffers = 3. */
    assert_int_equal(drv_used_idx(&f->d[RX]), 3);
    for (uint16_t i = 0; i < 3; i++) {
        drv_used_elem(&f->d[RX], i, &id, &len);
        assert_int_equal(id, i);
        assert_int_equal(len, i < 2 ? 4096 : 9000 - 8192);
    }
    assert_int_equal(num_buffers(f, RXBUF), 3);
    for (size_t i = NET_VNET_HDR_LEN; i < 9000; i++)
        want[i] = (uint8_t)(9 + i);
    for (int i = 0; i < 3; i++) {
        size_t l = i < 2 ? 4096 : 808, off = 4096 * (size_t)i;
        uint8_t *b = g2h(&f->mem, RXBUF + RXSTRIDE * (uint64_t)i, l);

        if (i == 0)
            assert_memory_equal(b + 12, want + 12, l - 12);
        else
            assert_memory_equal(b, want + off, l);
    }
    assert_int_equal(drv_irqs(&f->d[RX]), 1);
    /* Two small frames at once: one chain each. The device has 19 chains
     * (76 KiB) left, still enough for both. */
    peer_send(f, 60, 1);
    peer_send(f, 61, 2);
    net_tap_event(f->n);
    assert_int_equal(drv_used_idx(&f->d[RX]), 5);
    drv_used_elem(&f->d[RX], 3, &id, &len);
    assert_int_equal(id, 3);
    assert_int_equal(len, 60);
    drv_used_elem(&f->d[RX], 4, &id, &len);
    assert_int_equal(id, 4);
    assert_int_equal(len, 61);
    assert_int_equal(num_buffers(f, RXBUF + 3 * RXSTRIDE), 1);
    assert_int_equal(cnt(&mn->rx_packets_count) - pk, 3);
    free(want);
}

static void test_rx_single_chain(void **state)
{
    struct fx *f = *state;
    uint64_t fails = cnt(&m()->rx_fails);
    uint32_t id, len;

    /* No MRG_RXBUF and no guest TSO/UFO: chains of >= 1526 bytes, one per
     * frame. */
    fx_open(f, 0);
    {
        struct dsc small[1] = {{RXBUF, 1000, F_W}};

        publish(f, RX, small, 1); /* too small: given back with 0 */
    }
    rx_bufs(f, 44, 1526, 1); /* 67144 bytes */
    virtio_mmio_notify(tp(f), RX);
    assert_int_equal(cnt(&m()->rx_fails), fails + 1);
    assert_int_equal(drv_used_idx(&f->d[RX]), 0);
    peer_send(f, 100, 4);
    net_tap_event(f->n);
    assert_int_equal(drv_used_idx(&f->d[RX]), 2);
    drv_used_elem(&f->d[RX], 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 0);
    drv_used_elem(&f->d[RX], 1, &id, &len);
    assert_int_equal(id, 1);
    assert_int_equal(len, 100);
    assert_int_equal(num_buffers(f, RXBUF + RXSTRIDE), 1);
    /* Now 43 chains (65618 bytes): one more frame, then too few. */
    peer_send(f, 1514, 5);
    peer_send(f, 70, 6);
    net_tap_event(f->n);
    assert_int_equal(drv_used_idx(&f->d[RX]), 3);
    drv_used_elem(&f->d[RX], 2, &id, &len);
    assert_int_equal(len, 1514);
    /* More buffers: the waiting frame comes in. */
    rx_bufs(f, 1, 1526, 45);
    virtio_mmio_notify(tp(f), RX);
    assert_int_equal(drv_used_idx(&f->d[RX]), 4);
    drv_used_elem(&f->d[RX], 3, &id, &len);
    assert_int_equal(len, 70);
}

static void test_rx_deferral(void **state)
{
    struct fx *f = *state;
    uint64_t nob = cnt(&m()->no_rx_avail_buffer);
    uint32_t id, len;

    fx_open(f, F_MRG);
    peer_send(f, 500, 1);
    peer_send(f, 600, 2);
    /* No buffers: nothing read, the frames wait in the TAP. */
    net_tap_event(f->n);
    assert_int_equal(cnt(&m()->no_rx_avail_buffer), nob + 1);
    assert_int_equal(drv_used_idx(&f->d[RX]), 0);
    /* Some buffers, but fewer than a maximal frame needs: still waiting. */
    rx_bufs(f, 8, 4096, 0);
    virtio_mmio_notify(tp(f), RX);
    assert_int_equal(drv_used_idx(&f->d[RX]), 0);
    /* Enough: both frames come in on the RX notification. */
    rx_bufs(f, 12, 4096, 8);
    virtio_mmio_notify(tp(f), RX);
    assert_int_equal(drv_used_idx(&f->d[RX]), 2);
    drv_used_elem(&f->d[RX], 0, &id, &len);
    assert_int_equal(len, 500);
    drv_used_elem(&f->d[RX], 1, &id, &len);
    assert_int_equal(len, 600);
}

static void test_rx_hostile(void **state)
{
    static const struct {
        const char *name;
        struct dsc ds[2];
        int n;
    } cases[] = {
        {"device-readable buffer", {{RXBUF, 4096, 0}}, 1},
        {"readable after writable", {{RXBUF, 4096, F_W}, {RXBUF, 8, 0}}, 2},
        {"outside RAM", {{MEM_SIZE - 16, 4096, F_W}}, 1},
        {"zero length", {{RXBUF, 0, F_W}}, 1},
        {"shorter than the vnet header", {{RXBUF, 8, F_W}}, 1},
        {"lengths overflow u32",
         {{RXBUF, 0x80000000u, F_W}, {RXBUF, 0x80000000u, F_W}},
         2},
    };
    size_t nc = sizeof(cases) / sizeof(cases[0]);
    struct fx *f = *state;
    uint64_t fails = cnt(&m()->rx_fails);
    uint16_t heads[8];
    uint32_t id, len;

    fx_open(f, F_MRG);
    for (size_t i = 0; i < nc; i++)
        heads[i] = publish(f, RX, cases[i].ds, cases[i].n);
    /* A loop. */
    drv_desc(&f->d[RX], 200, RXBUF, 8, F_W | F_N, 201);
    drv_desc(&f->d[RX], 201, RXBUF, 8, F_W | F_N, 200);
    drv_publish(&f->d[RX], 200);
    heads[nc] = 200;
    virtio_mmio_notify(tp(f), RX);
    assert_int_equal(cnt(&m()->rx_fails), fails + nc + 1);
    /* Given back, 0 bytes, with the next frame (upstream). */
    assert_int_equal(drv_used_idx(&f->d[RX]), 0);
    f->next_desc[RX] = 20;
    rx_bufs(f, 20, 4096, 20);
    peer_send(f, 99, 3);
    virtio_mmio_notify(tp(f), RX);
    assert_int_equal(drv_used_idx(&f->d[RX]), nc + 2);
    for (size_t i = 0; i <= nc; i++) {
        drv_used_elem(&f->d[RX], (uint16_t)i, &id, &len);
        assert_int_equal(id, heads[i]);
        assert_int_equal(len, 0);
    }
    drv_used_elem(&f->d[RX], (uint16_t)(nc + 1), &id, &len);
    assert_int_equal(id, 20);
    assert_int_equal(len, 99);
    assert_false(reg_rd(tp(f), 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
}

static bool match_arp(void *opaque, const uint8_t *hdr, size_t len)
{
    (void)opaque;
    return len >= 14 && hdr[12] == 0x08 && hdr[13] == 0x06;
}

static bool detour(void *opaque, const uint8_t *frame, size_t len)
{
    struct fx *f = opaque;

    (void)frame;
    f->detoured++;
    f->detoured_len = len;
    return true;
}

static size_t detour_rx(void *opaque, uint8_t *buf, size_t cap)
{
    struct fx *f = opaque;
    size_t l = f->rx_frame_len;

    if (!f->rx_frame || l > cap)
        return 0;
    memcpy(buf, f->rx_frame, l);
    f->rx_frame = NULL;
    return l;
}

static void test_detour(void **state)
{
    static const uint8_t answer[42] = {[12] = 0x08, [13] = 0x06, [41] = 0x7f};
    struct fx *f = *state;
    struct net_params p = {.detour_opaque = f,
                           .detour_match = match_arp,
                           .detour = detour,
                           .detour_rx = detour_rx};
    struct rate_limiter_params rl = {.has_ops = true, .ops = {1, 0, 100}};
    uint8_t *fr = g2h(&f->mem, TXBUF, 60), got[128];
    struct dsc ds[1] = {{TXBUF, 60, 0}};
    uint32_t id, len;

    p.tx_rl = &rl;
    fx_new(f, &p);
    fx_start(f, F_MRG);
    rx_bufs(f, 20, 4096, 0);
    virtio_mmio_notify(tp(f), RX);
    /* An ARP frame goes to the detour, not the TAP, and is not charged to
     * the limiter (one op: a second frame still passes). */
    memset(fr, 0, 60);
    fr[12 + 12] = 0x08;
    fr[12 + 13] = 0x06;
    f->rx_frame = answer;
    f->rx_frame_len = sizeof(answer);
    peer_send(f, 80, 1); /* a TAP frame waiting too */
    publish(f, TX, ds, 1);
    virtio_mmio_notify(tp(f), TX);
    assert_int_equal(f->detoured, 1);
    assert_int_equal(f->detoured_len, 48);
    assert_int_equal(peer_recv(f, got, sizeof(got)), -1);
    /* The detour's answer went to the guest right away, then the TAP's. */
    assert_int_equal(drv_used_idx(&f->d[RX]), 2);
    drv_used_elem(&f->d[RX], 0, &id, &len);
    assert_int_equal(len, 12 + sizeof(answer));
    assert_memory_equal(g2h(&f->mem, RXBUF + 12, sizeof(answer)), answer,
                        sizeof(answer));
    assert_int_equal(num_buffers(f, RXBUF), 1);
    drv_used_elem(&f->d[RX], 1, &id, &len);
    assert_int_equal(len, 80);
    /* Anything else goes to the TAP. */
    fr[12 + 13] = 0x00;
    publish(f, TX, ds, 1);
    virtio_mmio_notify(tp(f), TX);
    assert_int_equal(f->detoured, 1);
    assert_int_equal(peer_recv(f, got, sizeof(got)), 60);
}

static void fire(struct rate_limiter *rl)
{
    struct pollfd pf = {.fd = rl->timer_fd, .events = POLLIN};

    assert_int_equal(poll(&pf, 1, 5000), 1);
}

static void test_tx_rate_limited(void **state)
{
    struct fx *f = *state;
    struct rate_limiter_params rl = {.has_bandwidth = true,
                                     .bandwidth = {200, 0, 100}};
    struct net_params p = {.tx_rl = &rl};
    uint64_t thr = cnt(&m()->tx_rate_limiter_throttled),
             ev = cnt(&m()->tx_rate_limiter_event_count);
    uint8_t got[256];

    fx_new(f, &p);
    fx_start(f, 0);
    put_frame(f, TXBUF, 120, 1);
    for (int i = 0; i < 3; i++) {
        struct dsc ds[1] = {{TXBUF, 120, 0}};

        publish(f, TX, ds, 1);
    }
    virtio_mmio_notify(tp(f), TX);
    assert_int_equal(drv_used_idx(&f->d[TX]), 1); /* 200 bytes: one */
    assert_int_equal(cnt(&m()->tx_rate_limiter_throttled) - thr, 1);
    assert_int_equal(peer_recv(f, got, sizeof(got)), 120);
    assert_int_equal(peer_recv(f, got, sizeof(got)), -1);
    /* Notified while blocked: counted, nothing sent. */
    virtio_mmio_notify(tp(f), TX);
    assert_int_equal(cnt(&m()->tx_rate_limiter_throttled) - thr, 2);
    assert_int_equal(drv_used_idx(&f->d[TX]), 1);
    /* The timer: 100 ms refill 200 bytes, one more frame (80 + 120). */
    f->fake_ns += 100 * 1000000ULL;
    fire(net_tx_rate_limiter(f->n));
    net_tx_rate_limiter_event(f->n);
    assert_int_equal(cnt(&m()->tx_rate_limiter_event_count) - ev, 1);
    assert_int_equal(drv_used_idx(&f->d[TX]), 2);
    assert_int_equal(peer_recv(f, got, sizeof(got)), 120);
    /* PATCH removes the bandwidth bucket: the rest goes once unblocked. */
    {
        struct rate_limiter_params off = {.has_bandwidth = true,
                                          .bandwidth = {0, 0, 0}};

        net_update_rate_limiters(f->n, NULL, &off);
    }
    f->fake_ns += 100 * 1000000ULL;
    fire(net_tx_rate_limiter(f->n));
    net_tx_rate_limiter_event(f->n);
    assert_int_equal(drv_used_idx(&f->d[TX]), 3);
    assert_int_equal(peer_recv(f, got, sizeof(got)), 120);
    {
        struct rate_limiter_params now;

        rate_limiter_get_params(net_tx_rate_limiter(f->n), &now);
        assert_false(now.has_bandwidth);
    }
}

static void test_rx_rate_limited(void **state)
{
    struct fx *f = *state;
    struct rate_limiter_params rl = {.has_ops = true, .ops = {1, 0, 100}};
    struct net_params p = {.rx_rl = &rl};

    fx_new(f, &p);
    fx_start(f, F_MRG);
    rx_bufs(f, 20, 4096, 0);
    virtio_mmio_notify(tp(f), RX);
    peer_send(f, 100, 1);
    peer_send(f, 200, 2);
    net_tap_event(f->n);
    /* The first passes; the second is read and held back. */
    assert_int_equal(drv_used_idx(&f->d[RX]), 1);
    assert_true(net_rx_deferred(f->n));
    /* TAP events while blocked do nothing. */
    peer_send(f, 300, 3);
    net_tap_event(f->n);
    assert_int_equal(drv_used_idx(&f->d[RX]), 1);
    f->fake_ns += 100 * 1000000ULL;
    fire(net_rx_rate_limiter(f->n));
    net_rx_rate_limiter_event(f->n);
    assert_int_equal(drv_used_idx(&f->d[RX]), 2);
    {
        uint32_t id, len;

        drv_used_elem(&f->d[RX], 1, &id, &len);
        assert_int_equal(len, 200);
    }
    /* The third was read after it and waits for the next refill. */
    assert_true(net_rx_deferred(f->n));
    f->fake_ns += 100 * 1000000ULL;
    fire(net_rx_rate_limiter(f->n));
    net_rx_rate_limiter_event(f->n);
    assert_int_equal(drv_used_idx(&f->d[RX]), 3);
    assert_false(net_rx_deferred(f->n));
}

static void test_event_idx(void **state)
{
    struct fx *f = *state;
    struct dsc ds[1] = {{TXBUF, 64, 0}};
    uint8_t got[128];

    fx_open(f, F_EVI);
    put_frame(f, TXBUF, 64, 1);
    drv_irqs(&f->d[TX]);
    /* used_event = 0: interrupt for the first used entry. */
    drv_set_used_event(&f->d[TX], 0);
    publish(f, TX, ds, 1);
    virtio_mmio_notify(tp(f), TX);
    assert_int_equal(drv_irqs(&f->d[TX]), 1);
    /* The driver wants to hear only after entry 10: suppressed. */
    drv_set_used_event(&f->d[TX], 10);
    for (int i = 0; i < 3; i++) {
        publish(f, TX, ds, 1);
        virtio_mmio_notify(tp(f), TX);
    }
    assert_int_equal(drv_used_idx(&f->d[TX]), 4);
    assert_int_equal(drv_irqs(&f->d[TX]), 0);
    /* The device asked to be notified for the next avail entry. */
    assert_int_equal(drv_avail_event(&f->d[TX]), 4);
    drv_set_used_event(&f->d[TX], 4);
    publish(f, TX, ds, 1);
    virtio_mmio_notify(tp(f), TX);
    assert_int_equal(drv_irqs(&f->d[TX]), 1);
    while (peer_recv(f, got, sizeof(got)) > 0)
        ;
    /* RX too. */
    drv_irqs(&f->d[RX]);
    drv_set_used_event(&f->d[RX], 5);
    rx_bufs(f, 20, 4096, 0);
    virtio_mmio_notify(tp(f), RX);
    peer_send(f, 64, 1);
    net_tap_event(f->n);
    assert_int_equal(drv_used_idx(&f->d[RX]), 1);
    assert_int_equal(drv_irqs(&f->d[RX]), 0);
}

static void test_corrupt_ring(void **state)
{
    struct fx *f = *state;
    uint8_t got[128];

    fx_open(f, 0);
    drv_set_avail_idx(&f->d[TX], 1000);
    virtio_mmio_notify(tp(f), TX);
    assert_true(reg_rd(tp(f), 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
    /* Reset and set up again: frames flow. */
    fx_start(f, 0);
    put_frame(f, TXBUF, 64, 1);
    {
        struct dsc ds[1] = {{TXBUF, 64, 0}};

        publish(f, TX, ds, 1);
        virtio_mmio_notify(tp(f), TX);
    }
    assert_int_equal(peer_recv(f, got, sizeof(got)), 64);
    drv_set_avail_idx(&f->d[RX], 777);
    virtio_mmio_notify(tp(f), RX);
    assert_true(reg_rd(tp(f), 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offload_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_spoofed_mac, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_tap_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_mrg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_single_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_deferral, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detour, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_ring, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
