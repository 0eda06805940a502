/*
 * test_net_tap.c: the virtio network device against a real Linux TAP and
 * the kernel's network stack, without KVM. Each test enters a private
 * network namespace (tests/support/tap_netns.h) holding one TAP,
 * 192.168.241.1/24 on the host side, and plays the guest itself: it
 * drives the device's rings with the in-process driver (virtq_driver.h)
 * and speaks Ethernet, ARP, IPv4, ICMP and a little TCP as 192.168.241.2
 * with hand-built frames. The kernel answers as it would a real guest.
 *
 * Covered, each under three feature sets (offloads with MRG_RXBUF,
 * offloads with one 64 KiB chain per frame, no offloads at all), ping and
 * TCP also with everything the device offers (EVENT_IDX included): an ARP
 * exchange; ping with checksums checked; TCP both ways (256 KiB each,
 * payload hashed on both ends), where with GUEST_TSO4 the kernel hands the
 * guest GSO frames above the MTU and with CSUM the guest sends partial
 * checksums and one 60 KiB TSO frame. Every frame's num_buffers is
 * checked. Then the TAP taken away under the device (link down, interface
 * deleted) and given back, and offloads the kernel refuses (TSO without
 * checksum offload) failing activation until a reset.
 *
 * Every wait polls the TAP, calls net_tap_event() when it is readable
 * (what the vmm loop does) and gives up after WAIT_MS without progress,
 * so a broken device fails the test instead of hanging it. Without the
 * privilege to make a namespace or without /dev/net/tun, every test is
 * skipped with the reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "../support/tap_netns.h"
#include "devices/virtio/net.h"
#include "obs/metrics.h"
#include "virtq_driver.h"

/* Guest memory: rings (virtq_driver.h), one TX frame (its vnet header in
 * a descriptor of its own), RX headers when chains are split, RX data. */
#define MEM_SIZE 0x1000000ULL
#define TXHDR    0x100000ULL
#define TXBUF    0x101000ULL
#define RXHDR    0x120000ULL
#define RXBUF    0x200000ULL

#define RX 0
#define TX 1

#define F_N SQ_VIRTQ_DESC_F_NEXT
#define F_W SQ_VIRTQ_DESC_F_WRITE

#define WAIT_MS 2000 /* longest wait without progress */
#define IFACE   "tap0"

/* Offsets in a frame without its vnet header. */
#define ETH_LEN 14u
#define IP_OFF  14u
#define L4_OFF  34u /* our IPv4 headers have no options */
#define TCP_LEN 20u
#define MSS     1460u
#define TSO_MSS 1448u

#define ETH_ARP  0x0806
#define ETH_IPV4 0x0800

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define G2H_BYTES  (256u * 1024)
#define H2G_BYTES  (256u * 1024)
#define TSO_BYTES  (42u * TSO_MSS) /* one 59.4 KiB TSO frame */
#define HOST_PORT  5001
#define GUEST_PORT 40000

#define OFFLOADS                                                               \
    (1ULL << SQ_VIRTIO_NET_F_CSUM | 1ULL << SQ_VIRTIO_NET_F_GUEST_CSUM |       \
     1ULL << SQ_VIRTIO_NET_F_GUEST_TSO4 | 1ULL << SQ_VIRTIO_NET_F_HOST_TSO4)

/* A feature set and the RX buffers a driver would give with it. */
struct cfg {
    uint64_t features;
    uint32_t rx_len; /* bytes per RX chain */
    uint16_t rx_n;   /* chains posted */
    bool split;      /* vnet header in a descriptor of its own */
};

/* Linux's mergeable buffers: many small ones, frames spread over them. */
static const struct cfg cfg_mrg = {OFFLOADS | 1ULL << SQ_VIRTIO_NET_F_MRG_RXBUF,
                                   4096, 128, false};
/* Offloads without MRG_RXBUF: each chain must hold a 64 KiB frame. */
static const struct cfg cfg_big = {OFFLOADS, NET_MAX_BUFFER_SIZE, 32, true};
/* No offloads: MTU-sized frames, every checksum complete. */
static const struct cfg cfg_plain = {0, 1526, 128, false};
/* Everything the device offers, all of which a Linux guest acks. */
static const struct cfg cfg_linux = {
    OFFLOADS | 1ULL << SQ_VIRTIO_NET_F_GUEST_TSO6 |
        1ULL << SQ_VIRTIO_NET_F_GUEST_UFO | 1ULL << SQ_VIRTIO_NET_F_HOST_TSO6 |
        1ULL << SQ_VIRTIO_NET_F_HOST_UFO | 1ULL << SQ_VIRTIO_NET_F_MRG_RXBUF |
        1ULL << SQ_VIRTIO_F_RING_EVENT_IDX,
    4096, 128, false};

static const uint8_t guest_mac[6] = {0x02, 0x51, 0x1b, 0, 0, 2};
static const uint8_t guest_ip[4] = {192, 168, 241, 2};
static const uint8_t host_ip[4] = {192, 168, 241, 1};

/* The test's guest TCP: one connection, in order, no retransmission. */
struct gtcp {
    uint32_t snd_una, snd_nxt, rcv_nxt;
    uint32_t snd_wnd; /* the host's window (no scaling offered) */
    bool established;
    uint64_t rx_bytes, rx_hash; /* host -> guest payload */
};

struct fx {
    const struct cfg *cfg;
    bool ok; /* the namespace and the TAP exist */
    char why[160];
    struct tap_ns ns;
    struct drv_mem mem;
    struct drv d[2];
    struct net *n;
    uint16_t rx_seen; /* used entries of RX consumed */
    uint16_t tx_head;
    uint8_t frame[NET_MAX_BUFFER_SIZE]; /* the last RX frame, assembled */
    uint8_t tx[NET_MAX_BUFFER_SIZE];    /* the frame being built */

    /* What the guest saw. */
    int arp_replies, echo_replies, ipv4_frames;
    int gso_frames, partial_frames;
    uint16_t echo_seq;
    size_t max_frame;
    uint16_t ip_id;

    struct gtcp tcp;
    int lfd, conn; /* host side listener and connection; -1 if none */
    uint64_t host_rx_bytes, host_rx_hash;
};

/* ---- Small helpers ------------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t cnt(struct metrics_counter *c)
{
    return atomic_load(&c->v);
}

static struct metrics_net *m(void)
{
    return metrics_net_get(IFACE);
}

static struct virtio_mmio *tp(struct fx *f)
{
    return net_transport(f->n);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* The vnet header is little-endian (VERSION_1). */
static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* The Internet checksum (RFC 1071): add big-endian 16-bit words, fold. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
    for (; len > 1; len -= 2, p += 2)
        sum += (uint32_t)p[0] << 8 | p[1];
    if (len)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* The TCP/UDP pseudo header of an IPv4 packet at `ip`. */
static uint64_t pseudo_sum(const uint8_t *ip, uint32_t l4_len)
{
    uint64_t sum = csum_add(0, ip + 12, 8);

    return sum + ip[9] + l4_len;
}

/* FNV-1a, 64 bits: the payload hash compared on both ends. */
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL

static void fill_random(uint8_t *p, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        p[i] = (uint8_t)seed;
    }
}

/* ---- The device and its rings ------------------------------------------ */

static uint64_t rx_stride(const struct fx *f)
{
    return ((uint64_t)f->cfg->rx_len + 0xfff) & ~0xfffULL;
}

/* Chain i's descriptors: one buffer, or a 12-byte header then the rest. */
static uint16_t rx_head(const struct fx *f, uint16_t i)
{
    return f->cfg->split ? (uint16_t)(2 * i) : i;
}

static uint16_t rx_index(const struct fx *f, uint32_t head)
{
    assert_true(head < 256);
    if (f->cfg->split) {
        assert_int_equal(head % 2, 0);
        return (uint16_t)(head / 2);
    }
    return (uint16_t)head;
}

/*
 * Where chain i's vnet header lands. The TAP writes the 10 bytes of
 * struct virtio_net_hdr and leaves num_buffers alone (older kernels) or
 * zeroes it (newer ones): filling it is the device's job. The test
 * poisons the header before posting a chain, so a stale or missing
 * num_buffers shows.
 */
static uint8_t *rx_hdr(struct fx *f, uint16_t i)
{
    if (f->cfg->split)
        return g2h(&f->mem, RXHDR + 16ULL * i, NET_VNET_HDR_LEN);
    return g2h(&f->mem, RXBUF + rx_stride(f) * i, NET_VNET_HDR_LEN);
}

static void rx_post_all(struct fx *f)
{
    struct drv *d = &f->d[RX];
    uint64_t stride = rx_stride(f);

    for (uint16_t i = 0; i < f->cfg->rx_n; i++) {
        uint64_t data = RXBUF + stride * i;
        uint16_t h = rx_head(f, i);

        memset(rx_hdr(f, i), 0xa5, NET_VNET_HDR_LEN);

        if (f->cfg->split) {
            drv_desc(d, h, RXHDR + 16ULL * i, NET_VNET_HDR_LEN, F_W | F_N,
                     (uint16_t)(h + 1));
            drv_desc(d, (uint16_t)(h + 1), data,
                     f->cfg->rx_len - NET_VNET_HDR_LEN, F_W, 0);
        } else {
            drv_desc(d, h, data, f->cfg->rx_len, F_W, 0);
        }
        drv_publish(d, h);
    }
    virtio_mmio_notify(tp(f), RX);
}

/*
 * Copy the bytes the device wrote into chain `head` (`len` of them) to
 * f->frame at `off`, and give the chain back to the device.
 */
static size_t rx_take(struct fx *f, uint32_t head, uint32_t len, size_t off)
{
    uint16_t i = rx_index(f, head);
    uint64_t data = RXBUF + rx_stride(f) * i;

    assert_true(len <= f->cfg->rx_len);
    assert_true(off + len <= sizeof(f->frame));
    if (f->cfg->split && len > 0) {
        assert_true(len >= NET_VNET_HDR_LEN);
        memcpy(f->frame + off, g2h(&f->mem, RXHDR + 16ULL * i, 12), 12);
        if (len > 12)
            memcpy(f->frame + off + 12, g2h(&f->mem, data, len - 12), len - 12);
    } else if (len > 0) {
        memcpy(f->frame + off, g2h(&f->mem, data, len), len);
    }
    memset(rx_hdr(f, i), 0xa5, NET_VNET_HDR_LEN);
    drv_publish(&f->d[RX], (uint16_t)head);
    return len;
}

static void on_frame(struct fx *f, size_t len);

/*
 * Consume every frame the device put in the RX used ring, dispatch each
 * to on_frame() and repost the buffers. Returns the frame count.
 */
static int rx_harvest(struct fx *f)
{
    int frames = 0;

    while (f->rx_seen != drv_used_idx(&f->d[RX])) {
        uint16_t ready = (uint16_t)(drv_used_idx(&f->d[RX]) - f->rx_seen);
        uint32_t id, len;
        uint16_t nb;
        size_t got;

        drv_used_elem(&f->d[RX], f->rx_seen, &id, &len);
        assert_true(len >= NET_VNET_HDR_LEN);
        got = rx_take(f, id, len, 0);
        nb = get_le16(f->frame + 10);
        if (!(f->cfg->features & 1ULL << SQ_VIRTIO_NET_F_MRG_RXBUF)) {
            assert_int_equal(nb, 1); /* one chain a frame */
        } else {
            /* num_buffers counts the chains of this frame; the device
             * publishes them together. */
            assert_true(nb >= 1 && nb <= ready);
            for (uint16_t k = 1; k < nb; k++) {
                drv_used_elem(&f->d[RX], (uint16_t)(f->rx_seen + k), &id, &len);
                got += rx_take(f, id, len, got);
            }
        }
        f->rx_seen = (uint16_t)(f->rx_seen + nb);
        on_frame(f, got);
        frames++;
    }
    if (frames)
        virtio_mmio_notify(tp(f), RX); /* the buffers went back */
    return frames;
}

/*
 * Send f->tx[0..len) with the vnet header `vh` as a two-descriptor chain
 * and check the device gave the chain back at once (it writes to the TAP
 * from the notification, whether the write works or not).
 */
static void tx_frame(struct fx *f, const uint8_t vh[12], size_t len)
{
    struct drv *d = &f->d[TX];
    uint16_t h = f->tx_head, used = drv_used_idx(d);

    assert_true(len <= NET_MAX_BUFFER_SIZE - NET_VNET_HDR_LEN);
    memcpy(g2h(&f->mem, TXHDR, 12), vh, 12);
    memcpy(g2h(&f->mem, TXBUF, len), f->tx, len);
    drv_desc(d, h, TXHDR, 12, F_N, (uint16_t)(h + 1));
    drv_desc(d, (uint16_t)(h + 1), TXBUF, (uint32_t)len, 0, 0);
    drv_publish(d, h);
    f->tx_head = (uint16_t)((h + 2) % 256);
    virtio_mmio_notify(tp(f), TX);
    assert_int_equal(drv_used_idx(d), (uint16_t)(used + 1));
}

static void tx_plain(struct fx *f, size_t len)
{
    static const uint8_t zero[12];

    tx_frame(f, zero, len);
}

/*
 * One round of the guest's life: wait up to `ms` for the TAP (the device
 * reads it) or the host connection (drained and hashed), then dispatch
 * the frames. Returns false if nothing happened.
 */
static bool pump(struct fx *f, int ms)
{
    struct pollfd p[2] = {{f->ns.tap_fd, POLLIN, 0}, {f->conn, POLLIN, 0}};
    nfds_t np = f->conn >= 0 ? 2 : 1;
    bool busy = rx_harvest(f) > 0;
    int rc;

    rc = poll(p, np, busy ? 0 : ms);
    if (rc < 0)
        assert_int_equal(errno, EINTR);
    if (rc > 0 && p[0].revents) {
        net_tap_event(f->n);
        busy |= rx_harvest(f) > 0;
    }
    if (rc > 0 && np > 1 && p[1].revents) {
        uint8_t buf[16384];
        ssize_t got;

        while ((got = recv(f->conn, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
            f->host_rx_hash = fnv(f->host_rx_hash, buf, (size_t)got);
            f->host_rx_bytes += (uint64_t)got;
            busy = true;
        }
        assert_true(got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    }
    return busy;
}

/* Pump until *counter passes `before`, failing after WAIT_MS. */
static void wait_count(struct fx *f, const int *counter, int before)
{
    uint64_t end = now_ms() + WAIT_MS;

    while (*counter <= before) {
        uint64_t t = now_ms();

        assert_true(t < end);
        pump(f, (int)(end - t));
    }
}

/* ---- Frames the guest sends -------------------------------------------- */

static void eth_hdr(uint8_t *p, const uint8_t dst[6], uint16_t type)
{
    memcpy(p, dst, 6);
    memcpy(p + 6, guest_mac, 6);
    put16(p + 12, type);
}

/* ARP `op` (1 request, 2 reply) from the guest to `tha`/`tpa`. */
static void tx_arp(struct fx *f, uint16_t op, const uint8_t tha[6],
                   const uint8_t tpa[4])
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t *a = f->tx + ETH_LEN;

    eth_hdr(f->tx, op == 1 ? bcast : tha, ETH_ARP);
    put16(a, 1);
    put16(a + 2, ETH_IPV4);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, guest_mac, 6);
    memcpy(a + 14, guest_ip, 4);
    memcpy(a + 18, tha, 6);
    memcpy(a + 24, tpa, 4);
    tx_plain(f, ETH_LEN + 28);
}

/* An IPv4 header to the host for `l4_len` bytes of protocol `proto`. */
static void ip_hdr(struct fx *f, uint8_t proto, size_t l4_len)
{
    uint8_t *ip = f->tx + IP_OFF;

    eth_hdr(f->tx, f->ns.mac, ETH_IPV4);
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + l4_len));
    put16(ip + 4, f->ip_id++);
    put16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, guest_ip, 4);
    memcpy(ip + 16, host_ip, 4);
    put16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, 20)));
}

static void tx_echo(struct fx *f, uint16_t seq)
{
    uint8_t *icmp = f->tx + L4_OFF;

    ip_hdr(f, 1, 64);
    icmp[0] = 8;
    icmp[1] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 4, 0x5157);
    put16(icmp + 6, seq);
    for (int i = 0; i < 56; i++)
        icmp[8 + i] = (uint8_t)(seq + i);
    put16(icmp + 2, (uint16_t)~csum_fold(csum_add(0, icmp, 64)));
    tx_plain(f, L4_OFF + 64);
}

enum tx_csum {
    CSUM_FULL,    /* the guest computes the checksum */
    CSUM_PARTIAL, /* NEEDS_CSUM: the host completes it */
    CSUM_TSO,     /* partial, and a GSO frame the host cuts at TSO_MSS */
};

/* A TCP segment from the guest with `data` (may be NULL when len is 0). */
static void tx_tcp(struct fx *f, uint8_t flags, const uint8_t *data, size_t len,
                   enum tx_csum mode)
{
    size_t opt = flags & TH_SYN ? 4 : 0;
    size_t l4 = TCP_LEN + opt + len;
    uint8_t *th = f->tx + L4_OFF;
    uint8_t vh[12] = {0};

    ip_hdr(f, 6, l4);
    put16(th, GUEST_PORT);
    put16(th + 2, HOST_PORT);
    put32(th + 4, f->tcp.snd_nxt);
    put32(th + 8, flags & TH_ACK ? f->tcp.rcv_nxt : 0);
    th[12] = (uint8_t)((TCP_LEN + opt) / 4 << 4);
    th[13] = flags;
    put16(th + 14, 65535);
    put16(th + 16, 0);
    put16(th + 18, 0);
    if (opt) {
        /* MSS, the only option: no window scaling, no timestamps. */
        th[20] = 2;
        th[21] = 4;
        put16(th + 22, MSS);
    }
    if (len)
        memcpy(th + TCP_LEN + opt, data, len);
    if (mode == CSUM_FULL) {
        uint64_t sum = pseudo_sum(f->tx + IP_OFF, (uint32_t)l4);

        put16(th + 16, (uint16_t)~csum_fold(csum_add(sum, th, l4)));
    } else {
        /* What a Linux guest hands virtio-net: the pseudo header's sum
         * in the checksum field, where to finish it in the vnet header. */
        put16(th + 16, csum_fold(pseudo_sum(f->tx + IP_OFF, (uint32_t)l4)));
        vh[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        put_le16(vh + 6, L4_OFF);
        put_le16(vh + 8, 16);
        if (mode == CSUM_TSO) {
            vh[1] = VIRTIO_NET_HDR_GSO_TCPV4;
            put_le16(vh + 2, (uint16_t)(L4_OFF + TCP_LEN + opt));
            put_le16(vh + 4, TSO_MSS);
        }
    }
    tx_frame(f, vh, L4_OFF + l4);
    f->tcp.snd_nxt += (uint32_t)len + (flags & (TH_SYN | TH_FIN) ? 1 : 0);
}

/* ---- Frames the guest receives ----------------------------------------- */

static void tcp_input(struct fx *f, const uint8_t *th, size_t l4)
{
    struct gtcp *t = &f->tcp;
    size_t hl = (size_t)(th[12] >> 4) * 4;
    uint32_t seq = get32(th + 4), ack = get32(th + 8);
    uint8_t flags = th[13];

    if (get16(th) != HOST_PORT || get16(th + 2) != GUEST_PORT)
        return;
    assert_true(hl >= TCP_LEN && hl <= l4);
    assert_false(flags & TH_RST);
    if (flags & TH_SYN) {
        assert_true(flags & TH_ACK);
        t->rcv_nxt = seq + 1;
        t->established = true;
    }
    if (flags & TH_ACK) {
        /* Only forward: ack in (snd_una, snd_nxt]. */
        if (ack - t->snd_una - 1 < t->snd_nxt - t->snd_una)
            t->snd_una = ack;
        t->snd_wnd = get16(th + 14);
    }
    if (l4 > hl) {
        if (seq == t->rcv_nxt) {
            t->rx_hash = fnv(t->rx_hash, th + hl, l4 - hl);
            t->rx_bytes += l4 - hl;
            t->rcv_nxt += (uint32_t)(l4 - hl);
        }
        /* Ack every segment; a duplicate ack for one out of order. */
        tx_tcp(f, TH_ACK, NULL, 0, CSUM_FULL);
    }
}

/*
 * Check the frame in f->frame (vnet header first, `len` bytes) and act on
 * it: answer ARP requests for the guest, count ARP and echo replies, feed
 * TCP. Frames of no interest (the kernel's IPv6 chatter) are skipped.
 */
static void on_frame(struct fx *f, size_t len)
{
    const uint8_t *vh = f->frame;
    uint8_t *p = f->frame + NET_VNET_HDR_LEN;
    bool offloads = f->cfg->features & OFFLOADS;
    uint8_t *ip = p + IP_OFF;
    size_t ihl, tot;

    assert_true(len >= NET_VNET_HDR_LEN + ETH_LEN);
    len -= NET_VNET_HDR_LEN;
    if (len > f->max_frame)
        f->max_frame = len;
    if (vh[1] != VIRTIO_NET_HDR_GSO_NONE) {
        /* Only with GUEST_TSO4 acked, i.e. TUNSETOFFLOAD done right. */
        assert_true(offloads);
        assert_int_equal(vh[1], VIRTIO_NET_HDR_GSO_TCPV4);
        assert_true(get_le16(vh + 4) > 0);
        f->gso_frames++;
    } else {
        assert_true(len <= ETH_LEN + 1500);
    }
    if (vh[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        size_t start = get_le16(vh + 6), at = start + get_le16(vh + 8);

        /* Only with GUEST_CSUM acked. Finish the checksum as a guest
         * driver's stack would; the check below then holds it to the
         * pseudo header, for GSO frames over their whole length. */
        assert_true(offloads);
        assert_true(start < len && at + 2 <= len);
        put16(p + at,
              (uint16_t)~csum_fold(csum_add(0, p + start, len - start)));
        f->partial_frames++;
    }
    if (get16(p + 12) == ETH_ARP) {
        const uint8_t *a = p + ETH_LEN;

        assert_true(len >= ETH_LEN + 28);
        if (get16(a + 6) == 1 && !memcmp(a + 24, guest_ip, 4)) {
            tx_arp(f, 2, a + 8, a + 14);
        } else if (get16(a + 6) == 2 && !memcmp(a + 24, guest_ip, 4)) {
            assert_memory_equal(p, guest_mac, 6);
            assert_memory_equal(a + 8, f->ns.mac, 6);
            assert_memory_equal(a + 14, host_ip, 4);
            assert_memory_equal(a + 18, guest_mac, 6);
            f->arp_replies++;
        }
        return;
    }
    if (get16(p + 12) != ETH_IPV4)
        return;
    assert_true(len >= ETH_LEN + 20);
    ihl = (size_t)(ip[0] & 0xf) * 4;
    tot = get16(ip + 2);
    assert_int_equal(ip[0] >> 4, 4);
    assert_true(ihl >= 20 && ihl <= tot && IP_OFF + tot <= len);
    assert_int_equal(csum_fold(csum_add(0, ip, ihl)), 0xffff);
    if (memcmp(ip + 16, guest_ip, 4) != 0)
        return;
    assert_memory_equal(p, guest_mac, 6);
    f->ipv4_frames++;
    if (ip[9] == 1) {
        const uint8_t *icmp = ip + ihl;
        size_t l4 = tot - ihl;

        assert_int_equal(csum_fold(csum_add(0, icmp, l4)), 0xffff);
        if (icmp[0] == 0 && get16(icmp + 4) == 0x5157) {
            uint16_t seq = get16(icmp + 6);

            assert_int_equal(l4, 64);
            for (int i = 0; i < 56; i++)
                assert_int_equal(icmp[8 + i], (uint8_t)(seq + i));
            f->echo_seq = seq;
            f->echo_replies++;
        }
    } else if (ip[9] == 6) {
        size_t l4 = tot - ihl;

        assert_int_equal(
            csum_fold(csum_add(pseudo_sum(ip, (uint32_t)l4), ip + ihl, l4)),
            0xffff);
        tcp_input(f, ip + ihl, l4);
    }
}

/* ---- Fixture ------------------------------------------------------------ */

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    int rc;

    assert_non_null(f);
    f->cfg = *state;
    f->lfd = f->conn = -1;
    f->host_rx_hash = FNV_INIT;
    f->tcp.rx_hash = FNV_INIT;
    *state = f;
    rc = tap_ns_open(&f->ns, "sqtap%d", "192.168.241.1", "255.255.255.0",
                     f->why, sizeof(f->why));
    if (rc == -EPERM || rc == -EACCES || rc == -ENOENT)
        return 0; /* every test skips, saying why */
    if (rc < 0) {
        print_message("tap_netns: %s\n", f->why);
        return -1;
    }
    f->ok = true;
    drv_mem_init(&f->mem, MEM_SIZE);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    net_free(f->n);
    if (f->conn >= 0)
        close(f->conn);
    if (f->lfd >= 0)
        close(f->lfd);
    tap_ns_close(&f->ns);
    if (f->ok)
        drv_mem_fini(&f->mem);
    free(f);
    return 0;
}

/* (Re)negotiate `features` from a reset, as a driver does, and post the
 * RX buffers if the device took them. Returns the status register. */
static uint32_t negotiate(struct fx *f, uint64_t features)
{
    uint32_t st = drv_setup_n(f->d, 2, &f->mem, tp(f), 256, features);

    f->rx_seen = 0;
    f->tx_head = 0;
    if (st == 15)
        rx_post_all(f);
    return st;
}

/* Build the device on the TAP and negotiate the fixture's features.
 * Skips the test when there is no TAP. */
static void start(struct fx *f)
{
    struct net_params p = {
        .iface_id = IFACE, .tap_fd = f->ns.tap_fd, .has_mac = true};
    struct sq_err err;

    if (!f->ok) {
        print_message("skipped: %s\n", f->why);
        skip();
    }
    memcpy(p.mac, guest_mac, 6);
    sq_err_clear(&err);
    assert_int_equal(net_new(&p, &f->n, &err), 0);
    assert_int_equal(net_attach(f->n, &f->mem.gm, -1, 0xc0002000, NULL), 0);
    assert_int_equal(negotiate(f, f->cfg->features), 15);
}

/* ARP for the host and wait for the kernel's reply. */
static void arp_round_trip(struct fx *f)
{
    int before = f->arp_replies;

    tx_arp(f, 1, (const uint8_t[6]){0}, host_ip);
    wait_count(f, &f->arp_replies, before);
}

static void ping(struct fx *f, uint16_t seq)
{
    int before = f->echo_replies;

    tx_echo(f, seq);
    wait_count(f, &f->echo_replies, before);
    assert_int_equal(f->echo_seq, seq);
}

/* ---- Tests --------------------------------------------------------------- */

static void test_arp(void **state)
{
    struct fx *f = *state;
    uint64_t wf = cnt(&m()->tap_write_fails);
    uint64_t rx = cnt(&m()->rx_packets_count);

    start(f);
    arp_round_trip(f);
    arp_round_trip(f);
    assert_int_equal(cnt(&m()->tap_write_fails), wf);
    assert_true(cnt(&m()->rx_packets_count) >= rx + 2);
}

static void test_ping(void **state)
{
    struct fx *f = *state;

    start(f);
    /* No ARP first: the kernel asks for the guest, on_frame answers. */
    for (uint16_t seq = 1; seq <= 4; seq++)
        ping(f, seq);
}

/* One step of a wait that fails after WAIT_MS without progress: pump,
 * and move the deadline `*end` when something happened. */
static void wait_step(struct fx *f, uint64_t *end)
{
    uint64_t t = now_ms();

    assert_true(t < *end);
    if (pump(f, (int)(*end - t)))
        *end = now_ms() + WAIT_MS;
}

/* Listen on the host, handshake from the guest, accept. */
static void tcp_connect(struct fx *f)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(HOST_PORT)};
    uint64_t end = now_ms() + WAIT_MS;
    struct pollfd p;
    int one = 1;

    memcpy(&sa.sin_addr, host_ip, 4);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(
        setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 1), 0);
    f->tcp.snd_una = f->tcp.snd_nxt = 0x51000000;
    tx_tcp(f, TH_SYN, NULL, 0, CSUM_FULL);
    while (!f->tcp.established)
        wait_step(f, &end);
    tx_tcp(f, TH_ACK, NULL, 0, CSUM_FULL);
    p = (struct pollfd){f->lfd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, WAIT_MS), 1);
    f->conn = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(f->conn >= 0);
}

/* Guest -> host: MSS-sized segments within the host's window; with CSUM
 * acked every other one leaves its checksum to the host. */
static void tcp_send(struct fx *f, const uint8_t *data, size_t len)
{
    bool csum = f->cfg->features & 1ULL << SQ_VIRTIO_NET_F_CSUM;
    uint64_t goal = f->host_rx_bytes + len, end = now_ms() + WAIT_MS;
    size_t sent = 0;
    int seg = 0;

    while (f->host_rx_bytes != goal || f->tcp.snd_una != f->tcp.snd_nxt) {
        while (sent < len) {
            size_t l = len - sent < MSS ? len - sent : MSS;

            if (f->tcp.snd_nxt - f->tcp.snd_una + l > f->tcp.snd_wnd)
                break;
            tx_tcp(f, TH_ACK | TH_PSH, data + sent, l,
                   csum && seg++ % 2 ? CSUM_PARTIAL : CSUM_FULL);
            sent += l;
        }
        wait_step(f, &end);
    }
}

/* Host -> guest: the host writes whatever its socket takes, the guest
 * acks every segment. */
static void tcp_recv(struct fx *f, const uint8_t *data, size_t len)
{
    uint64_t goal = f->tcp.rx_bytes + len, end = now_ms() + WAIT_MS;
    size_t off = 0;

    while (f->tcp.rx_bytes != goal) {
        if (off < len) {
            ssize_t w = send(f->conn, data + off, len - off, MSG_DONTWAIT);

            if (w > 0)
                off += (size_t)w;
            else
                assert_true(w < 0 && errno == EAGAIN);
        }
        wait_step(f, &end);
    }
}

static void test_tcp(void **state)
{
    struct fx *f = *state;
    uint8_t *g2h_data = malloc(G2H_BYTES + TSO_BYTES);
    uint8_t *h2g_data = malloc(H2G_BYTES);
    uint64_t wf = cnt(&m()->tap_write_fails), end;
    size_t g2h_total = G2H_BYTES;

    assert_non_null(g2h_data);
    assert_non_null(h2g_data);
    fill_random(g2h_data, G2H_BYTES + TSO_BYTES, 0x9e3779b9);
    fill_random(h2g_data, H2G_BYTES, 0x7f4a7c15);
    start(f);
    tcp_connect(f);

    tcp_send(f, g2h_data, G2H_BYTES);
    if (f->cfg->features & 1ULL << SQ_VIRTIO_NET_F_HOST_TSO4) {
        /* One TSO frame: the kernel takes it whole (local delivery never
         * cuts it) once the vnet header checks out. */
        assert_true(f->tcp.snd_wnd >= TSO_BYTES);
        tx_tcp(f, TH_ACK | TH_PSH, g2h_data + G2H_BYTES, TSO_BYTES, CSUM_TSO);
        g2h_total += TSO_BYTES;
        end = now_ms() + WAIT_MS;
        while (f->host_rx_bytes != g2h_total ||
               f->tcp.snd_una != f->tcp.snd_nxt)
            wait_step(f, &end);
    }
    assert_int_equal(f->host_rx_bytes, g2h_total);
    assert_int_equal(f->host_rx_hash, fnv(FNV_INIT, g2h_data, g2h_total));

    tcp_recv(f, h2g_data, H2G_BYTES);
    assert_int_equal(f->tcp.rx_hash, fnv(FNV_INIT, h2g_data, H2G_BYTES));
    assert_int_equal(cnt(&m()->tap_write_fails), wf);
    if (f->cfg->features & OFFLOADS) {
        /* The kernel used the offloads the device set on the TAP. */
        assert_true(f->gso_frames > 0);
        assert_true(f->partial_frames > 0);
        assert_true(f->max_frame > ETH_LEN + 1500);
    } else {
        assert_int_equal(f->gso_frames, 0);
        assert_int_equal(f->partial_frames, 0);
    }
    free(g2h_data);
    free(h2g_data);
}

/* The TAP taken away under the device and given back: TX counts the
 * failed writes, nothing crashes, and frames flow again afterwards. */
static void test_tap_gone(void **state)
{
    struct fx *f = *state;
    struct metrics_net *mn = m();
    uint64_t wf, rf;

    start(f);
    arp_round_trip(f);

    /* Link down: the kernel refuses writes (EIO). */
    assert_int_equal(tap_ns_link(&f->ns, f->ns.if_name, false), 0);
    wf = cnt(&mn->tap_write_fails);
    tx_arp(f, 1, (const uint8_t[6]){0}, host_ip);
    tx_echo(f, 7);
    assert_int_equal(cnt(&mn->tap_write_fails), wf + 2);
    net_tap_event(f->n); /* nothing to read */
    assert_int_equal(tap_ns_link(&f->ns, f->ns.if_name, true), 0);
    arp_round_trip(f);
    ping(f, 8);

    /* Deleted: the fd stays open but detached; reads and writes fail
     * with EBADFD and poll() says POLLERR. */
    assert_int_equal(tap_ns_del_link(&f->ns), 0);
    wf = cnt(&mn->tap_write_fails);
    rf = cnt(&mn->tap_read_fails);
    tx_arp(f, 1, (const uint8_t[6]){0}, host_ip);
    assert_int_equal(cnt(&mn->tap_write_fails), wf + 1);
    {
        struct pollfd p = {f->ns.tap_fd, POLLIN, 0};

        assert_int_equal(poll(&p, 1, WAIT_MS), 1);
        assert_true(p.revents & POLLERR);
    }
    net_tap_event(f->n);
    assert_int_equal(cnt(&mn->tap_read_fails), rf + 1);
    assert_false(reg_rd(tp(f), 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);

    /* The same fd attached to a new interface (the device holds a
     * duplicate of it, so it sees the new one too). */
    assert_int_equal(
        tap_ns_reattach(&f->ns, net_tap_offload_flags(f->cfg->features)), 0);
    arp_round_trip(f);
    ping(f, 9);
}

/*
 * A driver that acks GUEST_TSO4 without GUEST_CSUM (which the virtio spec
 * forbids): the kernel refuses those TAP offloads (TUNSETOFFLOAD: EINVAL),
 * so activation fails and the device asks for a reset. After one, the
 * fixture's features work, on the same device and TAP.
 */
static void test_offloads_refused(void **state)
{
    struct fx *f = *state;
    uint64_t af = cnt(&m()->activate_fails);
    uint16_t used;

    start(f);
    arp_round_trip(f);
    assert_int_equal(negotiate(f, 1ULL << SQ_VIRTIO_NET_F_GUEST_TSO4),
                     15 | SQ_VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(cnt(&m()->activate_fails), af + 1);
    /* Not active: a TX chain stays where it is. */
    used = drv_used_idx(&f->d[TX]);
    drv_desc(&f->d[TX], 0, TXBUF, 64, 0, 0);
    drv_publish(&f->d[TX], 0);
    virtio_mmio_notify(tp(f), TX);
    net_tap_event(f->n);
    assert_int_equal(drv_used_idx(&f->d[TX]), used);

    assert_int_equal(negotiate(f, f->cfg->features), 15);
    arp_round_trip(f);
    ping(f, 1);
}

/* cmocka_unit_test_prestate_setup_teardown() with the feature set in the
 * name; the const table travels as cmocka's untyped initial state. */
#define CASE(fn, c)                                                            \
    {                                                                          \
        .name = #fn "/" #c, .test_func = fn, .setup_func = setup,              \
        .teardown_func = teardown, .initial_state = (void *)(uintptr_t)&c      \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE(test_arp, cfg_mrg),        CASE(test_arp, cfg_big),
        CASE(test_arp, cfg_plain),      CASE(test_ping, cfg_mrg),
        CASE(test_ping, cfg_big),       CASE(test_ping, cfg_plain),
        CASE(test_tcp, cfg_mrg),        CASE(test_tcp, cfg_big),
        CASE(test_tcp, cfg_plain),      CASE(test_ping, cfg_linux),
        CASE(test_tcp, cfg_linux),      CASE(test_tap_gone, cfg_mrg),
        CASE(test_tap_gone, cfg_plain), CASE(test_offloads_refused, cfg_mrg),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
