/*
 * test_mmds_nic.c: network interfaces as InstanceStart builds them, without
 * KVM: PUT /network-interfaces and PUT /mmds/config on the configuration
 * store, the device list in upstream's attach order, and the MMDS answering
 * through the virtio rings of the NIC that PUT /mmds/config listed (ARP,
 * the TCP handshake, an HTTP GET answered from the data store, the `mmds`
 * metrics), while frames for anyone else, and every frame of a NIC without
 * the MMDS, go to the TAP; the test guest's own client (tests/guest/
 * netproto.c) through the rings for V2. PATCH /network-interfaces reaches
 * the device through its class.
 *
 * The TAPs are real (the device sets their offloads at activation), made
 * in a network namespace of the test's own: every test is skipped when
 * the process cannot make one (not root, no /dev/net/tun).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../guest/netproto.h"
#include "mmds/ns.h"
#include "mmds/store.h"
#include "obs/metrics.h"
#include "util/json.h"
#include "virtq_driver.h"
#include "vmm/action.h"
#include "vmm/device_cfg.h"
#include "vmm/resources.h"
#include "vmm/vdev.h"

#define MUT(s) ((char *)(uintptr_t)(s))

#define MEM_SIZE 0x800000ULL
#define TXBUF    0x100000ULL
#define RXBUF    0x200000ULL
#define RXSTRIDE 0x2000ULL
#define RX       0
#define TX       1
#define HDR      NET_VNET_HDR_LEN

static const uint8_t guest_mac[6] = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};
static const uint8_t mmds_mac[6] = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};
static const uint8_t mmds_ip[4] = {169, 254, 169, 254};
static const uint8_t guest_ip[4] = {169, 254, 0, 2};

static bool g_netns; /* a namespace of our own was made */
static char g_skip_why[160];

struct fx {
    struct vm_resources r;
    struct vdev_list l;
    struct drv_mem mem;
    struct drv d[2];
    uint16_t next_desc[2];
    uint16_t rx_seen;
};

static int group_setup(void **state)
{
    int fd;

    (void)state;
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(g_skip_why, sizeof(g_skip_why),
                 "cannot make a network namespace: %s", strerror(errno));
        return 0;
    }
    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(g_skip_why, sizeof(g_skip_why), "no /dev/net/tun: %s",
                 strerror(errno));
        return 0;
    }
    close(fd);
    /* No IPv6 in the namespace: a TAP coming up would otherwise send
     * router and neighbour solicitations to the guest at any moment. */
    for (int i = 0; i < 2; i++) {
        static const char *const knob[] = {
            "/proc/sys/net/ipv6/conf/all/disable_ipv6",
            "/proc/sys/net/ipv6/conf/default/disable_ipv6"};
        int k = open(knob[i], O_WRONLY | O_CLOEXEC);

        if (k >= 0) {
            (void)!write(k, "1", 1);
            close(k);
        }
    }
    g_netns = true;
    return 0;
}

/* Bring interface `name` up (in our namespace) so that the TAP takes
 * frames. */
static void link_up(const char *name)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(s >= 0);
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags |= IFF_UP;
    assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
    close(s);
}

static void add_net(struct fx *f, const char *id, const char *tap)
{
    struct net_iface_cfg c;
    struct sq_err err;

    memset(&c, 0, sizeof(c));
    c.iface_id = MUT(id);
    c.iface_id_len = strlen(id);
    c.host_dev_name = MUT(tap);
    c.has_guest_mac = !strcmp(id, "eth1");
    memcpy(c.guest_mac, guest_mac, 6);
    sq_err_clear(&err);
    assert_int_equal(res_set_net(&f->r, &c, &err), 0);
    link_up(tap);
}

static void put_mmds(struct fx *f)
{
    static char doc[4300];
    char *ifs[] = {MUT("eth1")};
    struct mmds_cfg mc = {.version = MMDS_VERSION_V1,
                          .n_network_interfaces = 1,
                          .network_interfaces = ifs};
    struct json_value *v = NULL;
    struct sq_err err;
    size_t n;

    n = (size_t)snprintf(doc, sizeof(doc),
                         "{\"latest\":{\"meta-data\":{\"ami-id\":"
                         "\"ami-12345678\"}},\"big\":\"");
    for (size_t i = 0; i < 4096; i++)
        doc[n++] = (char)('a' + i % 26);
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "\"}");
    sq_err_clear(&err);
    assert_int_equal(res_set_mmds_config(&f->r, &mc, "test-id", &err), 0);
    assert_int_equal(json_parse(doc, n, &v, &err), 0);
    assert_int_equal(mmds_store_put(res_mmds_or_default(&f->r), v, &err), 0);
}

static int setup(void **state)
{
    struct fx *f;
    struct entropy_cfg e;
    struct sq_err err;

    if (!g_netns) {
        print_message("skipped: %s\n", g_skip_why);
        skip();
    }
    f = calloc(1, sizeof(*f));
    res_init(&f->r, 51200, false, false);
    memset(&e, 0, sizeof(e));
    sq_err_clear(&err);
    assert_int_equal(res_set_entropy(&f->r, &e, &err), 0);
    add_net(f, "eth0", "sqmn0");
    add_net(f, "eth1", "sqmn1");
    put_mmds(f);
    drv_mem_init(&f->mem, MEM_SIZE);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (!f)
        return 0;
    vdev_list_detach(&f->l);
    vdev_list_free(&f->l);
    res_fini(&f->r);
    drv_mem_fini(&f->mem);
    free(f);
    return 0;
}

static void build(struct fx *f)
{
    struct mmio_alloc alloc;
    struct sq_err err;

    mmio_alloc_init(&alloc);
    sq_err_clear(&err);
    assert_int_equal(vdev_list_create(&f->l, &f->r, &alloc, &err), 0);
    assert_int_equal(vdev_list_attach(&f->l, &f->mem.gm, -1, NULL, &err), 0);
}

/* Start the driver of NIC `id` (no offloads, no MRG_RXBUF) and give it 16
 * receive buffers. */
static struct virtio_mmio *start(struct fx *f, const char *id)
{
    struct vmm_vdev *d = vdev_find(&f->l, &vdev_class_net, id);

    assert_non_null(d);
    assert_int_equal(drv_setup_n(f->d, 2, &f->mem, d->t, 256, 0), 15);
    for (uint16_t i = 0; i < 16; i++) {
        drv_desc(&f->d[RX], i, RXBUF + RXSTRIDE * i, RXSTRIDE,
                 SQ_VIRTQ_DESC_F_WRITE, 0);
        drv_publish(&f->d[RX], i);
    }
    f->next_desc[RX] = 16;
    virtio_mmio_notify(d->t, RX);
    return d->t;
}

/* Send one frame (the vnet header is added here) from the guest. */
static void tx(struct fx *f, struct virtio_mmio *t, const uint8_t *frame,
               size_t len)
{
    uint16_t i = f->next_desc[TX]++;
    uint8_t *p = g2h(&f->mem, TXBUF + 0x10000ULL * (i % 8), HDR + len);

    memset(p, 0, HDR);
    memcpy(p + HDR, frame, len);
    drv_desc(&f->d[TX], i % 256, TXBUF + 0x10000ULL * (i % 8),
             (uint32_t)(HDR + len), 0, 0);
    drv_publish(&f->d[TX], i % 256);
    virtio_mmio_notify(t, TX);
}

/* The next frame the device gave the guest (without its vnet header), or
 * NULL when there is none. */
static const uint8_t *rx(struct fx *f, uint32_t *len)
{
    uint32_t id;

    if (drv_used_idx(&f->d[RX]) == f->rx_seen)
        return NULL;
    drv_used_elem(&f->d[RX], f->rx_seen++, &id, len);
    assert_true(*len >= HDR);
    *len -= HDR;
    return g2h(&f->mem, RXBUF + RXSTRIDE * id + HDR, *len);
}

static size_t eth(uint8_t *p, const uint8_t *dst, uint16_t type)
{
    memcpy(p, dst, 6);
    memcpy(p + 6, guest_mac, 6);
    p[12] = (uint8_t)(type >> 8);
    p[13] = (uint8_t)type;
    return 14;
}

static size_t arp_request(uint8_t *p, const uint8_t target[4])
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t head[8] = {0, 1, 8, 0, 6, 4, 0, 1};
    size_t n = eth(p, bcast, 0x0806);

    memcpy(p + n, head, 8);
    memcpy(p + n + 8, guest_mac, 6);
    memcpy(p + n + 14, guest_ip, 4);
    memset(p + n + 18, 0, 6);
    memcpy(p + n + 24, target, 4);
    return n + 28;
}

/* An IPv4/TCP segment to the MMDS (the stack does not check checksums,
 * digest 8.2, so they stay zero). */
static size_t tcp_seg(uint8_t *p, uint8_t flags, uint32_t seq, uint32_t ack,
                      const char *data)
{
    size_t dl = data ? strlen(data) : 0;
    size_t n = eth(p, mmds_mac, 0x0800);
    uint8_t *ip = p + n, *t = ip + 20;
    size_t tot = 20 + 20 + dl;

    memset(ip, 0, 40);
    ip[0] = 0x45;
    ip[2] = (uint8_t)(tot >> 8);
    ip[3] = (uint8_t)tot;
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, guest_ip, 4);
    memcpy(ip + 16, mmds_ip, 4);
    t[0] = 0xc0; /* source port 49152 */
    t[3] = 80;
    for (int i = 0; i < 4; i++) {
        t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    t[12] = 5 << 4;
    t[13] = flags;
    t[14] = 0xff; /* window 65535 */
    t[15] = 0xff;
    if (dl)
        memcpy(t + 20, data, dl);
    return n + tot;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static uint64_t net_tx_packets(const char *id)
{
    return atomic_load(&metrics_net_get(id)->tx_packets_count.v);
}

/* NICs go after the block devices and before entropy, each in its own
 * window and GSI; only the NIC listed in /mmds/config has the MMDS. */
static void test_attach_order_with_nics(void **state)
{
    static const char *const ids[] = {"eth0", "eth1", "rng"};
    struct fx *f = *state;

    build(f);
    assert_int_equal(f->l.n, 3);
    for (size_t i = 0; i < f->l.n; i++) {
        assert_string_equal(f->l.devs[i].id, ids[i]);
        assert_int_equal(f->l.devs[i].addr, 0xc0001000ULL + 0x1000ULL * i);
        assert_int_equal(f->l.devs[i].gsi, 5 + i);
    }
    assert_ptr_equal(f->l.devs[0].cls, &vdev_class_net);
    assert_ptr_equal(f->l.devs[2].cls, &vdev_class_entropy);
    assert_null(vdev_unsupported(&f->r));
}

/* ARP for the MMDS address is answered with upstream's MAC; ARP for
 * anyone else goes to the TAP. */
static void test_arp(void **state)
{
    struct fx *f = *state;
    uint8_t fr[64];
    const uint8_t *got;
    uint32_t len;
    uint64_t acc = metrics_read(METRIC_mmds_rx_accepted);
    uint64_t frames = metrics_read(METRIC_mmds_tx_frames);
    uint64_t bytes = metrics_read(METRIC_mmds_tx_bytes);
    uint64_t tap = net_tx_packets("eth1");
    struct virtio_mmio *t;

    build(f);
    t = start(f, "eth1");
    tx(f, t, fr, arp_request(fr, mmds_ip));
    got = rx(f, &len);
    assert_non_null(got);
    assert_int_equal(len, 42);
    assert_memory_equal(got, guest_mac, 6);     /* to the asker */
    assert_memory_equal(got + 6, mmds_mac, 6);  /* from the MMDS */
    assert_int_equal(got[21], 2);               /* ARP reply */
    assert_memory_equal(got + 22, mmds_mac, 6); /* sender MAC */
    assert_memory_equal(got + 28, mmds_ip, 4);  /* sender IP */
    assert_int_equal(metrics_read(METRIC_mmds_rx_accepted), acc + 1);
    assert_int_equal(metrics_read(METRIC_mmds_tx_frames), frames + 1);
    assert_int_equal(metrics_read(METRIC_mmds_tx_bytes), bytes + 42);
    assert_int_equal(net_tx_packets("eth1"), tap);
    /* Someone else's address: the TAP's. */
    tx(f, t, fr, arp_request(fr, guest_ip));
    assert_null(rx(f, &len));
    assert_int_equal(net_tx_packets("eth1"), tap + 1);
    assert_int_equal(metrics_read(METRIC_mmds_rx_accepted), acc + 1);
}

/* A NIC that /mmds/config did not list sends MMDS frames to the TAP. */
static void test_nic_without_mmds(void **state)
{
    struct fx *f = *state;
    uint8_t fr[64];
    uint32_t len;
    uint64_t acc = metrics_read(METRIC_mmds_rx_accepted);
    uint64_t tap = net_tx_packets("eth0");
    struct virtio_mmio *t;

    build(f);
    t = start(f, "eth0");
    tx(f, t, fr, arp_request(fr, mmds_ip));
    assert_null(rx(f, &len));
    assert_int_equal(net_tx_packets("eth0"), tap + 1);
    assert_int_equal(metrics_read(METRIC_mmds_rx_accepted), acc);
}

/* Handshake, one GET, the answer from the data store. */
static void test_http_get(void **state)
{
    static const char req[] = "GET /latest/meta-data/ami-id HTTP/1.1\r\n"
                              "Host: 169.254.169.254\r\n\r\n";
    struct fx *f = *state;
    uint8_t fr[256];
    const uint8_t *got;
    char text[2048] = "";
    uint32_t len, seq = 1000, srv;
    uint64_t created = metrics_read(METRIC_mmds_connections_created);
    uint64_t count = metrics_read(METRIC_mmds_rx_count);
    uint64_t no_token = metrics_read(METRIC_mmds_rx_no_token);
    struct virtio_mmio *t;

    build(f);
    t = start(f, "eth1");
    tx(f, t, fr, tcp_seg(fr, 0x02, seq, 0, NULL)); /* SYN */
    got = rx(f, &len);
    assert_non_null(got);
    assert_int_equal(got[14 + 20 + 13], 0x12); /* SYN|ACK */
    assert_int_equal(be32(got + 14 + 20 + 8), seq + 1);
    srv = be32(got + 14 + 20 + 4) + 1;
    seq++;
    tx(f, t, fr, tcp_seg(fr, 0x10, seq, srv, NULL)); /* ACK */
    tx(f, t, fr, tcp_seg(fr, 0x18, seq, srv, req));  /* PSH|ACK + GET */
    while ((got = rx(f, &len)) != NULL) {
        size_t hl = (size_t)(got[14 + 20 + 12] >> 4) * 4;
        size_t dl = len - 14 - 20 - hl;

        if (dl && strlen(text) + dl < sizeof(text))
            strncat(text, (const char *)got + 14 + 20 + hl, dl);
    }
    assert_non_null(strstr(text, "HTTP/1.1 200"));
    assert_non_null(strstr(text, "\r\n\r\nami-12345678"));
    assert_true(metrics_read(METRIC_mmds_connections_created) > created);
    assert_true(metrics_read(METRIC_mmds_rx_count) > count);
    /* V1: a GET without a token is counted, and answered. */
    assert_int_equal(metrics_read(METRIC_mmds_rx_no_token), no_token + 1);
}

/* The test guest's client (tests/guest/netproto.c) over the rings. */
struct ring_client {
    struct fx *f;
    struct virtio_mmio *t;
};

static int ring_send(void *opaque, const uint8_t *frame, size_t len)
{
    struct ring_client *rc = opaque;

    tx(rc->f, rc->t, frame, len);
    return 0;
}

/* Take the next RX frame and give its buffer back to the device. */
static size_t ring_recv(void *opaque, uint8_t *buf, size_t cap, uint32_t ms)
{
    struct ring_client *rc = opaque;
    struct fx *f = rc->f;
    uint32_t id, len;
    size_t n;

    (void)ms;
    if (drv_used_idx(&f->d[RX]) == f->rx_seen)
        return 0;
    drv_used_elem(&f->d[RX], f->rx_seen++, &id, &len);
    assert_true(len >= HDR && id < 16);
    n = len - HDR < cap ? len - HDR : cap;
    memcpy(buf, g2h(&f->mem, RXBUF + RXSTRIDE * id + HDR, n), n);
    drv_publish(&f->d[RX], (uint16_t)id);
    virtio_mmio_notify(rc->t, RX);
    return n;
}

static int ask(struct np_client *c, struct np_tcp *t, const char *req,
               uint8_t *resp, size_t cap, struct np_http *h)
{
    size_t len = 0;

    return np_tcp_request(c, t, req, strlen(req), NP_MSS, resp, cap, &len, h);
}

/* V2 through the device: a token, data with it, 401 without it, a value
 * larger than one segment, and the limit of 30 connections, with the
 * client checking every checksum the stack wrote. */
static void test_guest_client_v2(void **state)
{
    static const char put[] = "PUT /latest/api/token HTTP/1.1\r\n"
                              "X-metadata-token-ttl-seconds: 60\r\n\r\n";
    struct fx *f = *state;
    struct ring_client rc = {f, NULL};
    struct np_client c;
    struct np_tcp t, more[MMDS_NS_MAX_CONNS];
    struct np_http h;
    static uint8_t resp[8192];
    char req[256], tok[64];
    uint8_t mac[6];
    uint64_t created = metrics_read(METRIC_mmds_connections_created);
    uint64_t no_token = metrics_read(METRIC_mmds_rx_no_token);
    uint32_t ip = 0xa9fe0002u; /* guest_ip */

    mmds_store_set_version(res_mmds_or_default(&f->r), MMDS_VERSION_V2);
    build(f);
    rc.t = start(f, "eth1");
    np_init(&c, guest_mac, ip, ring_send, ring_recv, &rc);
    assert_int_equal(np_arp_resolve(&c, 0xa9fea9feu, mac), NP_OK);
    assert_memory_equal(mac, mmds_mac, 6);
    assert_int_equal(np_tcp_connect(&c, &t, mac, 0xa9fea9feu, 80, 40000, 1),
                     NP_OK);
    assert_int_equal(ask(&c, &t, put, resp, sizeof(resp), &h), NP_OK);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.content_length, 48);
    memcpy(tok, h.body, 48);
    tok[48] = '\0';
    snprintf(req, sizeof(req),
             "GET /latest/meta-data/ami-id HTTP/1.1\r\n"
             "X-metadata-token: %s\r\n\r\n",
             tok);
    assert_int_equal(ask(&c, &t, req, resp, sizeof(resp), &h), NP_OK);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.content_length, 12);
    assert_memory_equal(h.body, "ami-12345678", 12);
    assert_int_equal(ask(&c, &t,
                         "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n", resp,
                         sizeof(resp), &h),
                     NP_OK);
    assert_int_equal(h.status, 401);
    assert_int_equal(metrics_read(METRIC_mmds_rx_no_token), no_token + 1);
    /* Larger than one segment: the whole document as JSON. */
    snprintf(req, sizeof(req),
             "GET /big HTTP/1.1\r\nAccept: application/json\r\n"
             "X-metadata-token: %s\r\n\r\n",
             tok);
    assert_int_equal(ask(&c, &t, req, resp, sizeof(resp), &h), NP_OK);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.content_length, 4096 + 2);
    assert_true(c.stats.max_seg_data > 1000);
    /* 29 more connections fit; the 31st is refused with a RST. */
    for (int i = 0; i < MMDS_NS_MAX_CONNS - 1; i++)
        assert_int_equal(np_tcp_connect(&c, &more[i], mac, 0xa9fea9feu, 80,
                                        (uint16_t)(41000 + i), 7u * i),
                         NP_OK);
    assert_int_equal(np_tcp_connect(&c, &more[MMDS_NS_MAX_CONNS - 1], mac,
                                    0xa9fea9feu, 80, 42000, 9),
                     NP_RST);
    assert_int_equal(np_tcp_close(&c, &t), NP_OK);
    assert_int_equal(c.stats.rx_bad, 0);
    assert_int_equal(metrics_read(METRIC_mmds_connections_created),
                     created + MMDS_NS_MAX_CONNS);
}

/* PATCH /network-interfaces/{id} reaches the live device's limiters. */
static void test_patch_through_class(void **state)
{
    struct fx *f = *state;
    struct net_iface_update u;
    struct rate_limiter_params got;
    struct vmm_vdev *d;
    struct sq_err err;

    build(f);
    d = vdev_find(&f->l, &vdev_class_net, "eth1");
    assert_non_null(d);
    memset(&u, 0, sizeof(u));
    u.iface_id = MUT("eth1");
    u.iface_id_len = 4;
    u.has_tx_rate_limiter = true;
    u.tx_rate_limiter.has_bandwidth = true;
    u.tx_rate_limiter.bandwidth.size = 4096;
    u.tx_rate_limiter.bandwidth.refill_time = 100;
    sq_err_clear(&err);
    assert_int_equal(d->cls->patch(d->dev, VMM_OP_PATCH_NET, &u, &err), 0);
    /* The transport's device is the struct net itself. */
    rate_limiter_get_params(net_tx_rate_limiter(d->t->dev), &got);
    assert_true(got.has_bandwidth);
    assert_int_equal(got.bandwidth.size, 4096);
    rate_limiter_get_params(net_rx_rate_limiter(d->t->dev), &got);
    assert_false(got.has_bandwidth && got.bandwidth.size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_attach_order_with_nics), T(test_arp),
        T(test_nic_without_mmds),       T(test_http_get),
        T(test_guest_client_v2),        T(test_patch_through_class),
#undef T
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
