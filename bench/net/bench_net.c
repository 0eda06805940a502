/*
 * bench_net.c: virtio-net throughput through a real TAP, beside the TAP's
 * own floor (make bench-net; docs/bench.md). Figures only: it never fails
 * on a time.
 *
 *   bench_net [MIB [ROUNDS]]     default 256 MiB each way, 3 rounds
 *
 * In a private network namespace (tests/support/tap_netns.h) it moves MIB
 * MiB of UDP payload guest -> host and host -> guest, twice each round:
 *
 *   device    the virtio-net device on the TAP, driven from this thread
 *             as the unit tests drive it (tests/unit/virtq_driver.h): TX
 *             chains published in batches and one queue notification per
 *             batch; RX chains given back after each harvest, the TAP
 *             polled and net_tap_event() called when it is readable.
 *   baseline  the same frames with one writev() / readv() each straight
 *             on the TAP fd: what any TAP user pays, device or not.
 *
 * The host end is a UDP socket in the namespace (192.168.241.1), served
 * by a second thread with recvmmsg()/sendmmsg(). UDP rather than TCP
 * because the bench's guest then needs no TCP stack, and rather than a
 * raw AF_PACKET socket because the frames should take the kernel's real
 * IP path to a real socket, as a guest's do. UDP has no flow control, so
 * the two threads keep one: the sender stays at most WINDOW bytes ahead
 * of what the receiver counted (an eventfd wakes it), which keeps every
 * queue on the way (the TAP's, the backlog, the socket's) from dropping.
 *
 * Frames are 1514 bytes (1472 bytes of payload), no offloads: per-frame
 * cost is what the device adds, so the MTU-sized frame is its worst case.
 * The figures: MB/s of payload (10^6 bytes), the device/baseline ratio,
 * and the CPU time (getrusage(RUSAGE_THREAD), user + system) of the
 * thread that runs the device or the plain loop, per GiB moved. That
 * thread's system time includes the kernel's own work for the frames it
 * writes (the TAP hands them to the stack in the writer's context), in
 * both rows alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if_arp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/net.h"

/* virtq_driver.h checks its steps with two cmocka assertions; the bench
 * has no cmocka, so a failed step ends it. */
static void bench_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "bench_net: %s:%d: %s\n", file, line, what);
    exit(1);
}

#define assert_true(c)         ((c) ? (void)0 : bench_fail(#c, __FILE__, __LINE__))
#define assert_int_equal(a, b) assert_true((a) == (b))

#include "../../tests/support/tap_netns.h"
#include "../../tests/unit/virtq_driver.h"

#define MEM_SIZE 0x800000ULL
#define TXBUF    0x100000ULL /* NQ frames, STRIDE apart */
#define RXBUF    0x200000ULL /* NQ RX buffers, STRIDE apart */
#define STRIDE   0x800ULL
#define NQ       256

#define PAYLOAD    1472u
#define FRAME      (14u + 20u + 8u + PAYLOAD)     /* 1514 */
#define VFRAME     (NET_VNET_HDR_LEN + FRAME)     /* 1526 */
#define HDRS       (NET_VNET_HDR_LEN + 14u + 28u) /* before the payload */
#define BATCH      32u                            /* frames per TX notify */
#define WINDOW     (512u * 1024)                  /* sender's lead, bytes */
#define STALL_MS   5000
#define HOST_PORT  5201
#define GUEST_PORT 5202

static const uint8_t guest_mac[6] = {0x02, 0x51, 0x1b, 0, 0, 2};
static const uint8_t guest_ip[4] = {192, 168, 241, 2};
static const uint8_t host_ip[4] = {192, 168, 241, 1};

enum mode { DEVICE, BASELINE };
enum dir { G2H, H2G };

struct bench {
    struct tap_ns ns;
    int udp;        /* owned: host socket, connected to the guest */
    int credit_fd;  /* owned eventfd: the receiver freed WINDOW / 4 */
    uint64_t total; /* payload bytes per run, whole frames */
    _Atomic uint64_t rcvd;
    uint64_t t_done_ns; /* when the host thread received the last byte */
    bool stalled;

    struct drv_mem mem;
    struct drv d[2];
    struct net *n;
    uint16_t rx_seen;
    uint8_t *plain_tx; /* owned: NQ frames for the baseline's TX */
    uint8_t *plain_rx; /* owned: NQ buffers for the baseline's RX */

    /* The host thread's buffers. */
    uint8_t host_bufs[64][2048];
    uint8_t host_payload[PAYLOAD];
};

struct result {
    double secs, cpu;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double thread_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint16_t csum_fold(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* A guest -> host frame with its (zero) vnet header: Ethernet, IPv4 with
 * its checksum, UDP without one (allowed for IPv4: nothing to verify). */
static void build_frame(const struct bench *b, uint8_t *v)
{
    uint8_t *e = v + NET_VNET_HDR_LEN, *ip = e + 14, *udp = ip + 20;
    uint16_t c;

    memset(v, 0, VFRAME);
    memcpy(e, b->ns.mac, 6);
    memcpy(e + 6, guest_mac, 6);
    e[12] = 0x08;
    ip[0] = 0x45;
    ip[2] = (20 + 8 + PAYLOAD) >> 8;
    ip[3] = (uint8_t)(20 + 8 + PAYLOAD);
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, guest_ip, 4);
    memcpy(ip + 16, host_ip, 4);
    c = (uint16_t)~csum_fold(ip, 20);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    udp[0] = GUEST_PORT >> 8;
    udp[1] = (uint8_t)GUEST_PORT;
    udp[2] = HOST_PORT >> 8;
    udp[3] = (uint8_t)HOST_PORT;
    udp[4] = (8 + PAYLOAD) >> 8;
    udp[5] = (uint8_t)(8 + PAYLOAD);
    for (unsigned i = 0; i < PAYLOAD; i++)
        udp[8 + i] = (uint8_t)i;
}

/* Is this a host -> guest datagram of ours? */
static bool is_ours(const uint8_t *v, size_t len)
{
    const uint8_t *e = v + NET_VNET_HDR_LEN;

    return len == VFRAME && e[12] == 0x08 && e[13] == 0 && e[14 + 9] == 17 &&
           e[34 + 2] == GUEST_PORT >> 8 && e[34 + 3] == (uint8_t)GUEST_PORT;
}

/* ---- Flow control ------------------------------------------------------- */

/* Receiver: count `bytes`; wake the sender at every quarter window. */
static void credit_add(struct bench *b, uint64_t bytes)
{
    uint64_t old = atomic_fetch_add(&b->rcvd, bytes);
    uint64_t one = 1;

    if (old / (WINDOW / 4) != (old + bytes) / (WINDOW / 4) &&
        write(b->credit_fd, &one, sizeof(one)) < 0)
        bench_fail("eventfd write", __FILE__, __LINE__);
}

/* Sender: wait until `sent` bytes would be at most WINDOW ahead. False
 * when nothing moved for STALL_MS (a frame was lost somewhere). */
static bool credit_wait(struct bench *b, uint64_t sent)
{
    while (sent > atomic_load(&b->rcvd) + WINDOW) {
        struct pollfd p = {b->credit_fd, POLLIN, 0};
        uint64_t v;

        if (poll(&p, 1, STALL_MS) <= 0)
            return false;
        if (read(b->credit_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
            return false;
    }
    return true;
}

/* ---- Host thread -------------------------------------------------------- */

static void *host_recv(void *opaque)
{
    struct bench *b = opaque;
    struct mmsghdr mm[64];
    struct iovec iov[64];

    for (int i = 0; i < 64; i++) {
        iov[i] = (struct iovec){b->host_bufs[i], sizeof(b->host_bufs[i])};
        mm[i] =
            (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
    }
    while (atomic_load(&b->rcvd) < b->total) {
        struct pollfd p = {b->udp, POLLIN, 0};
        int got;

        if (poll(&p, 1, STALL_MS) <= 0) {
            b->stalled = true;
            break;
        }
        got = recvmmsg(b->udp, mm, 64, MSG_DONTWAIT, NULL);
        for (int i = 0; i < got; i++)
            credit_add(b, mm[i].msg_len);
    }
    b->t_done_ns = now_ns();
    return NULL;
}

static void *host_send(void *opaque)
{
    struct bench *b = opaque;
    struct mmsghdr mm[BATCH];
    struct iovec iov = {b->host_payload, PAYLOAD};
    uint64_t sent = 0;

    for (unsigned i = 0; i < BATCH; i++)
        mm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
    while (sent < b->total && !b->stalled) {
        uint64_t left = (b->total - sent) / PAYLOAD;
        unsigned k = left < BATCH ? (unsigned)left : BATCH;
        int n;

        if (!credit_wait(b, sent + (uint64_t)k * PAYLOAD)) {
            b->stalled = true;
            break;
        }
        n = sendmmsg(b->udp, mm, k, 0);
        if (n < 0) {
            if (errno == ENOBUFS || errno == EAGAIN)
                continue;
            bench_fail("sendmmsg", __FILE__, __LINE__);
        }
        sent += (uint64_t)n * PAYLOAD;
    }
    return NULL;
}

/* ---- The guest side: device ---------------------------------------------- */

static void device_open(struct bench *b)
{
    struct net_params p = {
        .iface_id = "bench", .tap_fd = b->ns.tap_fd, .has_mac = true};
    struct sq_err err;

    memcpy(p.mac, guest_mac, 6);
    sq_err_clear(&err);
    if (net_new(&p, &b->n, &err) < 0 ||
        net_attach(b->n, &b->mem.gm, -1, 0xc0002000, NULL) < 0)
        bench_fail(err.msg, __FILE__, __LINE__);
    /* No offloads, no MRG_RXBUF: MTU-sized frames, one chain each. */
    assert_int_equal(drv_setup_n(b->d, 2, &b->mem, net_transport(b->n), NQ, 0),
                     15);
    for (uint16_t i = 0; i < NQ; i++) {
        build_frame(b, g2h(&b->mem, TXBUF + STRIDE * i, VFRAME));
        drv_desc(&b->d[1], i, TXBUF + STRIDE * i, VFRAME, 0, 0);
        drv_desc(&b->d[0], i, RXBUF + STRIDE * i, VFRAME, SQ_VIRTQ_DESC_F_WRITE,
                 0);
        drv_publish(&b->d[0], i);
    }
    virtio_mmio_notify(net_transport(b->n), NET_RX_INDEX);
}

static void device_g2h(struct bench *b)
{
    struct virtio_mmio *t = net_transport(b->n);
    uint64_t sent = 0;
    uint16_t head = 0;

    while (sent < b->total) {
        uint64_t left = (b->total - sent) / PAYLOAD;
        unsigned k = left < BATCH ? (unsigned)left : BATCH;

        if (!credit_wait(b, sent + (uint64_t)k * PAYLOAD)) {
            b->stalled = true;
            return;
        }
        for (unsigned i = 0; i < k; i++) {
            drv_publish(&b->d[1], head);
            head = (uint16_t)((head + 1) % NQ);
        }
        virtio_mmio_notify(t, NET_TX_INDEX);
        /* The device sends from the notification: every chain is back. */
        assert_int_equal(drv_used_idx(&b->d[1]), b->d[1].avail_idx);
        sent += (uint64_t)k * PAYLOAD;
    }
}

static void device_h2g(struct bench *b)
{
    struct virtio_mmio *t = net_transport(b->n);

    while (atomic_load(&b->rcvd) < b->total) {
        uint64_t bytes = 0;
        unsigned frames = 0;

        while (b->rx_seen != drv_used_idx(&b->d[0])) {
            uint32_t id, len;

            drv_used_elem(&b->d[0], b->rx_seen++, &id, &len);
            if (is_ours(g2h(&b->mem, RXBUF + STRIDE * id, VFRAME), len))
                bytes += PAYLOAD;
            drv_publish(&b->d[0], (uint16_t)id);
            frames++;
        }
        if (frames) {
            credit_add(b, bytes);
            virtio_mmio_notify(t, NET_RX_INDEX); /* buffers are back */
            continue;
        }
        {
            struct pollfd p = {b->ns.tap_fd, POLLIN, 0};

            if (poll(&p, 1, STALL_MS) <= 0) {
                b->stalled = true;
                return;
            }
        }
        net_tap_event(b->n);
    }
}

/* ---- The guest side: plain writev()/readv() on the TAP ------------------ */

static void plain_g2h(struct bench *b)
{
    uint64_t sent = 0;
    unsigned slot = 0;

    while (sent < b->total) {
        uint64_t left = (b->total - sent) / PAYLOAD;
        unsigned k = left < BATCH ? (unsigned)left : BATCH;

        if (!credit_wait(b, sent + (uint64_t)k * PAYLOAD)) {
            b->stalled = true;
            return;
        }
        for (unsigned i = 0; i < k; i++) {
            struct iovec iov = {b->plain_tx + STRIDE * slot, VFRAME};

            if (writev(b->ns.tap_fd, &iov, 1) != (ssize_t)VFRAME)
                bench_fail("writev", __FILE__, __LINE__);
            slot = (slot + 1) % NQ;
        }
        sent += (uint64_t)k * PAYLOAD;
    }
}

static void plain_h2g(struct bench *b)
{
    unsigned slot = 0;

    while (atomic_load(&b->rcvd) < b->total) {
        uint8_t *buf = b->plain_rx + STRIDE * slot;
        struct iovec iov = {buf, VFRAME};
        ssize_t got = readv(b->ns.tap_fd, &iov, 1);

        if (got > 0) {
            if (is_ours(buf, (size_t)got))
                credit_add(b, PAYLOAD);
            slot = (slot + 1) % NQ;
            continue;
        }
        if (got < 0 && errno != EAGAIN)
            bench_fail("readv", __FILE__, __LINE__);
        {
            struct pollfd p = {b->ns.tap_fd, POLLIN, 0};

            if (poll(&p, 1, STALL_MS) <= 0) {
                b->stalled = true;
                return;
            }
        }
    }
}

/* ---- Runs -----------------------------------------------------------------
 */

static struct result run(struct bench *b, enum mode mode, enum dir dir)
{
    struct result r = {0};
    pthread_t th;
    uint64_t t0, t1, v;
    double c0;

    atomic_store(&b->rcvd, 0);
    b->stalled = false;
    if (read(b->credit_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        bench_fail("eventfd read", __FILE__, __LINE__);
    t0 = now_ns();
    c0 = thread_cpu();
    if (pthread_create(&th, NULL, dir == G2H ? host_recv : host_send, b))
        bench_fail("pthread_create", __FILE__, __LINE__);
    if (mode == DEVICE)
        (dir == G2H ? device_g2h : device_h2g)(b);
    else
        (dir == G2H ? plain_g2h : plain_h2g)(b);
    r.cpu = thread_cpu() - c0;
    t1 = now_ns();
    pthread_join(th, NULL);
    if (dir == G2H)
        t1 = b->t_done_ns;
    r.secs = (double)(t1 - t0) / 1e9;
    if (b->stalled || atomic_load(&b->rcvd) < b->total) {
        fprintf(stderr,
                "bench_net: %s %s stalled at %" PRIu64 " of %" PRIu64
                " bytes\n",
                mode == DEVICE ? "device" : "baseline",
                dir == G2H ? "guest->host" : "host->guest",
                atomic_load(&b->rcvd), b->total);
        r.secs = 0;
    }
    return r;
}

/* The host socket, bound to the TAP's address and connected to the
 * guest, and a permanent ARP entry for the guest so that the kernel
 * sends to it without asking (the plain runs could not answer). */
static void host_socket(struct bench *b)
{
    struct sockaddr_in me = {.sin_family = AF_INET,
                             .sin_port = htons(HOST_PORT)};
    struct sockaddr_in peer = {.sin_family = AF_INET,
                               .sin_port = htons(GUEST_PORT)};
    struct arpreq ar;
    int sz = 8 << 20;

    memset(&ar, 0, sizeof(ar));
    memcpy(&peer.sin_addr, guest_ip, 4);
    memcpy(&ar.arp_pa, &peer, sizeof(peer));
    ar.arp_ha.sa_family = ARPHRD_ETHER;
    memcpy(ar.arp_ha.sa_data, guest_mac, 6);
    ar.arp_flags = ATF_PERM | ATF_COM;
    memcpy(ar.arp_dev, b->ns.if_name, sizeof(b->ns.if_name));
    if (ioctl(b->ns.ctl_fd, SIOCSARP, &ar) < 0)
        bench_fail("SIOCSARP", __FILE__, __LINE__);
    memcpy(&me.sin_addr, host_ip, 4);
    b->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (b->udp < 0 ||
        setsockopt(b->udp, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0 ||
        setsockopt(b->udp, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0 ||
        bind(b->udp, (struct sockaddr *)&me, sizeof(me)) < 0 ||
        connect(b->udp, (struct sockaddr *)&peer, sizeof(peer)) < 0)
        bench_fail("host socket", __FILE__, __LINE__);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_ROUNDS 15

int main(int argc, char **argv)
{
    static struct bench bench;
    struct bench *b = &bench;
    double mbs[2][2][MAX_ROUNDS], cpu[2][2][MAX_ROUNDS];
    unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    char why[160];
    int rc;

    if (mib == 0 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: bench_net [MIB [ROUNDS (1-%d)]]\n", MAX_ROUNDS);
        return 2;
    }
    rc = tap_ns_open(&b->ns, "sqbench%d", "192.168.241.1", "255.255.255.0", why,
                     sizeof(why));
    if (rc < 0) {
        /* Figures only: a machine that cannot make a TAP has none. */
        printf("bench-net: skipped: %s\n", why);
        return 0;
    }
    b->total = (mib << 20) / PAYLOAD * PAYLOAD;
    b->credit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    b->plain_tx = malloc(STRIDE * NQ);
    b->plain_rx = malloc(STRIDE * NQ);
    if (b->credit_fd < 0 || !b->plain_tx || !b->plain_rx)
        bench_fail("eventfd/malloc", __FILE__, __LINE__);
    for (unsigned i = 0; i < NQ; i++)
        build_frame(b, b->plain_tx + STRIDE * i);
    host_socket(b);
    drv_mem_init(&b->mem, MEM_SIZE);
    device_open(b);

    printf("bench-net: %lu MiB each way through %s, %u-byte UDP payloads "
           "(%u-byte frames), %d rounds, medians\n",
           mib, b->ns.if_name, PAYLOAD, FRAME, rounds);
    /* Interleaved, so that both see the same machine. */
    for (int r = 0; r < rounds; r++) {
        for (int dir = G2H; dir <= H2G; dir++) {
            for (int mode = DEVICE; mode <= BASELINE; mode++) {
                struct result res = run(b, mode, dir);

                mbs[dir][mode][r] =
                    res.secs > 0 ? (double)b->total / 1e6 / res.secs : 0;
                cpu[dir][mode][r] =
                    res.cpu / ((double)b->total / (1024.0 * 1024 * 1024));
            }
        }
    }
    printf("%-12s %12s %14s %7s %18s %20s\n", "direction", "device MB/s",
           "baseline MB/s", "ratio", "device CPU s/GiB", "baseline CPU s/GiB");
    for (int dir = G2H; dir <= H2G; dir++) {
        double dm = median(mbs[dir][DEVICE], rounds);
        double bm = median(mbs[dir][BASELINE], rounds);

        printf("%-12s %12.0f %14.0f %6.2fx %18.3f %20.3f\n",
               dir == G2H ? "guest->host" : "host->guest", dm, bm,
               bm > 0 ? dm / bm : 0, median(cpu[dir][DEVICE], rounds),
               median(cpu[dir][BASELINE], rounds));
    }
    net_free(b->n);
    drv_mem_fini(&b->mem);
    close(b->udp);
    close(b->credit_fd);
    free(b->plain_tx);
    free(b->plain_rx);
    tap_ns_close(&b->ns);
    return 0;
}
