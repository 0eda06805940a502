/*
 * net.c: the test guest's virtio-net driver and its tests (net-mmds,
 * net-ping, hostile-net; README.md "virtio-net tests").
 *
 * A polled driver for a virtio-mmio version 2 network device, built like
 * the block and rng drivers of virtio.c: split virtqueues in the guest's
 * .bss, VIRTIO_F_VERSION_1 and VIRTIO_NET_F_MAC only (no offloads, no
 * mergeable buffers, no EVENT_IDX), so every frame has the 12-byte
 * virtio_net_hdr_v1 in front and checksums are the guest's business.
 *
 *   RX (queue 0): RX_BUFS chains of one device-writable RX_BUF_SIZE buffer,
 *   descriptors 0..RX_BUFS-1, republished as soon as a frame is copied out.
 *   Their total (128 KiB) is above the 65562 bytes a device following
 *   upstream wants parsed before it reads a frame. Descriptors from RX_BUFS
 *   up are for the hostile cases.
 *   TX (queue 1): one frame at a time in descriptor 0, waited for until the
 *   device has used it. Descriptors 1.. are for the hostile cases.
 *
 * The protocols are netproto.c's, driven through tx_cb() and rx_cb().
 * Nothing here uses interrupts: InterruptStatus is acknowledged while
 * polling so that a level-triggered line would not stay up.
 */
#include "guest.h"
#include "netproto.h"
#include "virtio_int.h"
#include "vring.h"

#define F_NET_MAC (1ULL << 5)

#define RXQ 0
#define TXQ 1

#define RX_QSIZE     128
#define RX_BUFS      64
#define RX_BUF_SIZE  2048
#define TX_QSIZE     16
#define VNET_HDR_LEN 12
#define TX_BUF_SIZE  (VNET_HDR_LEN + NP_FRAME_MAX)

#define OUTSIDE_RAM 0x100000000000ULL /* 16 TiB: no guest RAM there */
#define MAX_BIG     16384

#define MMDS_IP_DEFAULT 0xa9fea9feu /* 169.254.169.254 */
#define GUEST_IP_MMDS   0xa9fe0002u /* 169.254.0.2 */

struct ndrv {
    const struct vdev *dev;
    struct vq rx, tx;
    uint64_t dev_features, drv_features;
    uint8_t mac[NP_MAC_LEN];
    uint64_t tsc_hz;
    uint64_t timeout;    /* TSC ticks to wait for a TX completion */
    int rx_filled;       /* the RX buffers are published */
    uint64_t fill_after; /* rx-no-buffers: publish them after this wait */
    /* counters */
    uint32_t tx_timeouts, rx_empty;
    /* the last used entry of a hostile RX chain (id >= RX_BUFS) */
    int bad_rx_seen;
    uint32_t bad_rx_id, bad_rx_len;
};

static uint8_t rx_ring[3 * 4096] __attribute__((aligned(4096)));
static uint8_t tx_ring[3 * 4096] __attribute__((aligned(4096)));
static uint8_t rx_bufs[RX_BUFS][RX_BUF_SIZE] __attribute__((aligned(4096)));
static uint8_t rx_extra[2 * RX_BUF_SIZE] __attribute__((aligned(4096)));
static uint8_t tx_buf[TX_BUF_SIZE] __attribute__((aligned(64)));
static uint8_t resp_buf[MAX_BIG] __attribute__((aligned(64)));
static struct np_client client;
static struct np_tcp conns[31];

static const uint8_t default_mac[NP_MAC_LEN] = {0x06, 0x00, 0xac,
                                                0x10, 0x00, 0x02};

/* ------------------------------------------------------------ transport */

/* Publish the RX_BUFS receive buffers and tell the device. */
static void rx_fill(struct ndrv *n)
{
    uint16_t k = n->rx.size < RX_BUFS ? n->rx.size : RX_BUFS;

    for (uint16_t i = 0; i < k; i++) {
        vring_set_desc(&n->rx, i, addr_of(rx_bufs[i]), RX_BUF_SIZE, D_WRITE, 0);
        vring_publish(&n->rx, i);
    }
    n->rx_filled = 1;
    vring_kick(n->dev, RXQ);
}

/*
 * Reset, ACKNOWLEDGE, DRIVER, features (MAC and VERSION_1 when offered),
 * FEATURES_OK (checked), RX and TX queues, DRIVER_OK, then (fill) the RX
 * buffers. Prints a net-init line unless quiet (failures always). Returns
 * 0, or -1 when the device refused a step.
 */
static int net_init(struct ndrv *n, const struct vdev *d, uint64_t tsc_hz,
                    uint64_t timeout, int fill, int quiet)
{
    uint32_t st;
    struct line l;
    int rc = 0;

    memset(n, 0, sizeof(*n));
    n->dev = d;
    n->tsc_hz = tsc_hz;
    n->timeout = timeout;
    line_start(&l);
    line_str(&l, "net-init");
    line_kv_hex(&l, "addr", d->base);
    if (virtio_negotiate(d, F_NET_MAC, &l, &n->dev_features,
                         &n->drv_features)) {
        rc = -1;
        goto out;
    }
    line_kv_hex(&l, "drv_features", n->drv_features);
    if (vring_setup(n->dev, RXQ, &n->rx, rx_ring, RX_QSIZE) ||
        vring_setup(n->dev, TXQ, &n->tx, tx_ring, TX_QSIZE)) {
        line_str(&l, " queue=bad");
        rc = -1;
        goto out;
    }
    line_kv_dec(&l, "rx_size", n->rx.size);
    line_kv_dec(&l, "tx_size", n->tx.size);
    vw(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    st = vr(d, VM_STATUS);
    line_kv_hex(&l, "status", st);
    if (st & (ST_NEEDS_RESET | ST_FAILED)) {
        rc = -1;
        goto out;
    }
    if (n->drv_features & F_NET_MAC) {
        for (int i = 0; i < NP_MAC_LEN; i++)
            n->mac[i] = *(volatile uint8_t *)(d->base + VM_CONFIG + i);
    } else {
        np_copy(n->mac, default_mac, NP_MAC_LEN);
    }
    if (fill)
        rx_fill(n);
out:
    line_str(&l, rc ? " ok=no" : " ok=yes");
    if (!quiet || rc)
        line_end(&l);
    return rc;
}

/* Wait up to the TX timeout for the TX used index to pass the driver's
 * last one; 1 when it did (the element is taken into *len). */
static int tx_wait(struct ndrv *n, uint32_t *len)
{
    uint64_t t0 = rdtsc();

    while (vring_used_idx(&n->tx) == n->tx.last_used) {
        if (rdtsc() - t0 > n->timeout) {
            n->tx_timeouts++;
            return 0;
        }
        cpu_relax();
    }
    mb();
    *len = n->tx.used[2 + 2 * (n->tx.last_used % n->tx.size)];
    n->tx.last_used++;
    vring_ack_isr(n->dev);
    return 1;
}

/* np_send_fn: the frame after a zeroed virtio_net_hdr_v1, descriptor 0. */
static int tx_cb(void *opaque, const uint8_t *frame, size_t len)
{
    struct ndrv *n = opaque;
    uint32_t ulen;

    if (len > NP_FRAME_MAX)
        return -1;
    memset(tx_buf, 0, VNET_HDR_LEN);
    np_copy(tx_buf + VNET_HDR_LEN, frame, len);
    vring_set_desc(&n->tx, 0, addr_of(tx_buf), (uint32_t)(VNET_HDR_LEN + len),
                   0, 0);
    vring_publish(&n->tx, 0);
    vring_kick(n->dev, TXQ);
    return tx_wait(n, &ulen) ? 0 : -1;
}

/* np_recv_fn: the next used RX buffer's frame; the buffer goes back. */
static size_t rx_cb(void *opaque, uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
    struct ndrv *n = opaque;
    struct vq *q = &n->rx;
    uint64_t t0 = rdtsc(), limit = n->tsc_hz / 1000 * timeout_ms;

    for (;;) {
        uint32_t id, len;
        size_t fl;

        if (!n->rx_filled && rdtsc() - t0 > n->fill_after)
            rx_fill(n);
        if (vring_used_idx(q) == q->last_used) {
            if (rdtsc() - t0 > limit)
                return 0;
            cpu_relax();
            continue;
        }
        mb();
        id = q->used[1 + 2 * (q->last_used % q->size)];
        len = q->used[2 + 2 * (q->last_used % q->size)];
        q->last_used++;
        vring_ack_isr(n->dev);
        if (id >= RX_BUFS) {
            n->bad_rx_seen = 1;
            n->bad_rx_id = id;
            n->bad_rx_len = len;
            continue;
        }
        if (len <= VNET_HDR_LEN || len > RX_BUF_SIZE) {
            n->rx_empty++;
            vring_publish(q, (uint16_t)id);
            vring_kick(n->dev, RXQ);
            continue;
        }
        fl = len - VNET_HDR_LEN;
        if (fl > cap)
            fl = cap;
        np_copy(buf, rx_bufs[id] + VNET_HDR_LEN, fl);
        vring_publish(q, (uint16_t)id);
        vring_kick(n->dev, RXQ);
        return fl;
    }
}

/* --------------------------------------------------------------- output */

static const char *result_name(int rc)
{
    switch (rc) {
    case NP_OK:
        return "ok";
    case NP_TIMEOUT:
        return "timeout";
    case NP_RST:
        return "rst";
    case NP_SEND:
        return "send-failed";
    case NP_WINDOW:
        return "window";
    case NP_NOSPACE:
        return "too-big";
    default:
        return "state";
    }
}

static void line_ip(struct line *l, const char *k, uint32_t ip)
{
    line_str(l, " ");
    line_str(l, k);
    line_str(l, "=");
    for (int i = 3; i >= 0; i--) {
        line_dec(l, (ip >> (8 * i)) & 0xff);
        if (i)
            line_str(l, ".");
    }
}

static void line_mac(struct line *l, const char *k, const uint8_t *m)
{
    line_str(l, " ");
    line_str(l, k);
    line_str(l, "=");
    for (int i = 0; i < NP_MAC_LEN; i++) {
        line_strn(l, &"0123456789abcdef"[m[i] >> 4], 1);
        line_strn(l, &"0123456789abcdef"[m[i] & 0xf], 1);
        if (i < NP_MAC_LEN - 1)
            line_str(l, ":");
    }
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 0x811c9dc5u;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x01000193u;
    }
    return h;
}

static uint32_t ip_param(const struct venv *e, const char *key, uint32_t dflt)
{
    size_t len = 0;
    const char *s = virtio_param(e, key, &len);
    uint32_t ip;

    if (!s || np_parse_ipv4(s, len, &ip))
        return dflt;
    return ip;
}

/* ------------------------------------------------------------- net-mmds */

/*
 * One HTTP request on t; prints "net-mmds-get name=... result= status=
 * ctype= len= fnv1a= body=" (the body's first 64 bytes). Returns the
 * status (0 on failure).
 */
static int mmds_get(struct np_tcp *t, const char *name, const char *req,
                    size_t seg)
{
    struct np_http h;
    size_t got = 0;
    struct line l;
    int rc = np_tcp_request(&client, t, req, np_strlen(req), seg, resp_buf,
                            sizeof(resp_buf), &got, &h);

    line_start(&l);
    line_str(&l, "net-mmds-get name=");
    line_str(&l, name);
    line_str(&l, " result=");
    line_str(&l, result_name(rc));
    line_kv_dec(&l, "status", (uint64_t)h.status);
    if (h.content_type)
        line_kv_str(&l, "ctype", h.content_type, h.content_type_len);
    line_kv_dec(&l, "len", h.complete ? h.content_length : 0);
    if (rc == NP_OK) {
        line_kv_hex(&l, "fnv1a", fnv1a(h.body, h.content_length));
        line_kv_str(&l, "body", (const char *)h.body,
                    h.content_length < 64 ? h.content_length : 64);
    }
    line_end(&l);
    return rc == NP_OK ? h.status : 0;
}

static void probe_line(const char *name, int rc, const struct np_tcp *t)
{
    struct line l;

    line_start(&l);
    line_str(&l, "net-probe case=");
    line_str(&l, name);
    line_str(&l, " result=");
    line_str(&l, rc == NP_TIMEOUT ? "silent" : result_name(rc));
    if (t && rc == NP_RST) {
        line_kv_hex(&l, "rst_flags", t->rst_flags);
        /* relative to what the probe carried: its ACK number becomes a
         * plain RST's sequence, its sequence number a RST|ACK's ACK */
        if (t->rst_flags & NP_TCP_ACK)
            line_kv_dec(&l, "rst_ack_rel", t->rst_ack - t->snd_una);
        else
            line_kv_dec(&l, "rst_seq_rel", t->rst_seq - t->rcv_nxt);
    }
    line_end(&l);
}

static void net_mmds(struct venv *e, struct ndrv *n)
{
    uint32_t mmds = ip_param(e, "squibmmds=", MMDS_IP_DEFAULT);
    uint16_t port = (uint16_t)virtio_param_u64(e, "squibport=", 80);
    size_t plen = 0, blen = 0;
    const char *path = virtio_param(e, "squibpath=", &plen);
    const char *big = virtio_param(e, "squibbig=", &blen);
    static char req[512], tok[128];
    uint8_t mac[NP_MAC_LEN], other[NP_MAC_LEN];
    struct np_tcp *t = &conns[0];
    struct np_str s;
    struct line l;
    int rc, ok = 1, opened = 0, closed = 0;

    if (!path) {
        path = "/";
        plen = 1;
    }
    rc = np_arp_resolve(&client, mmds, mac);
    line_start(&l);
    line_str(&l, "net-arp");
    line_ip(&l, "ip", mmds);
    line_str(&l, " result=");
    line_str(&l, result_name(rc));
    if (rc == NP_OK)
        line_mac(&l, "mac", mac);
    line_end(&l);
    if (rc != NP_OK)
        goto done;

    rc = np_tcp_connect(&client, t, mac, mmds, port, 40000, 0x1000);
    line_start(&l);
    line_str(&l, "net-tcp connect=");
    line_str(&l, result_name(rc));
    line_kv_dec(&l, "peer_mss", t->peer_mss);
    line_kv_dec(&l, "peer_wnd", t->peer_wnd);
    line_end(&l);
    if (rc != NP_OK)
        goto done;
    /* V1: plain text, the request in 8-byte segments; then JSON */
    np_str_init(&s, req, sizeof(req));
    np_str_add(&s, "GET ");
    np_str_addn(&s, path, plen);
    np_str_add(&s, " HTTP/1.1\r\n\r\n");
    ok &= mmds_get(t, "v1-text", req, 8) != 0;
    np_str_init(&s, req, sizeof(req));
    np_str_add(&s, "GET ");
    np_str_addn(&s, path, plen);
    np_str_add(&s, " HTTP/1.1\r\nAccept: application/json\r\n\r\n");
    ok &= mmds_get(t, "v1-json", req, 0) != 0;
    /* V2: a token, then the same GET with it and with a wrong one */
    if (mmds_get(t, "token",
                 "PUT /latest/api/token HTTP/1.1\r\n"
                 "X-metadata-token-ttl-seconds: 60\r\n\r\n",
                 0) == 200) {
        struct np_http h;

        np_http_parse(resp_buf, sizeof(resp_buf), &h);
        np_str_init(&s, tok, sizeof(tok));
        np_str_addn(&s, (const char *)h.body, h.content_length);
    } else {
        ok = 0;
        np_str_init(&s, tok, sizeof(tok));
        np_str_add(&s, "none");
    }
    np_str_init(&s, req, sizeof(req));
    np_str_add(&s, "GET ");
    np_str_addn(&s, path, plen);
    np_str_add(&s, " HTTP/1.1\r\nX-metadata-token: ");
    np_str_add(&s, tok);
    np_str_add(&s, "\r\n\r\n");
    ok &= mmds_get(t, "v2-text", req, 0) != 0;
    np_str_init(&s, req, sizeof(req));
    np_str_add(&s, "GET ");
    np_str_addn(&s, path, plen);
    np_str_add(&s, " HTTP/1.1\r\nX-metadata-token: AAAA");
    np_str_add(&s, tok + (np_strlen(tok) > 4 ? 4 : 0));
    np_str_add(&s, "\r\n\r\n");
    ok &= mmds_get(t, "v2-badtoken", req, 0) != 0;
    if (big) {
        uint64_t segs = client.stats.segments_in;

        np_str_init(&s, req, sizeof(req));
        np_str_add(&s, "GET ");
        np_str_addn(&s, big, blen);
        np_str_add(&s, " HTTP/1.1\r\nX-metadata-token: ");
        np_str_add(&s, tok);
        np_str_add(&s, "\r\n\r\n");
        ok &= mmds_get(t, "big", req, 0) != 0;
        line_start(&l);
        line_str(&l, "net-mmds-segments");
        line_kv_dec(&l, "segments", client.stats.segments_in - segs);
        line_kv_dec(&l, "max_seg", client.stats.max_seg_data);
        line_end(&l);
    }
    rc = np_tcp_close(&client, t);
    line_start(&l);
    line_str(&l, "net-tcp close=");
    line_str(&l, result_name(rc));
    line_end(&l);
    ok &= rc == NP_OK;

    /* Probes. */
    np_tcp_prepare(t, mac, mmds, port, 41000, 1234, 5678);
    rc = np_tcp_probe(&client, t, NP_TCP_ACK);
    probe_line("no-connection", rc, t);
    ok &= rc == NP_RST;
    np_tcp_prepare(t, mac, mmds, (uint16_t)(port + 1), 41001, 1234, 0);
    rc = np_tcp_probe(&client, t, NP_TCP_SYN);
    probe_line("closed-port", rc, t);
    ok &= rc == NP_TIMEOUT;
    rc = np_arp_resolve(&client, mmds - 1, other);
    probe_line("arp-other", rc, NULL);
    ok &= rc == NP_TIMEOUT;
    if (np_tcp_connect(&client, t, mac, mmds, port, 42000, 0x2000) == NP_OK) {
        static char junk[3000];

        memset(junk, 'x', sizeof(junk));
        rc = np_tcp_send(&client, t, junk, sizeof(junk), 500);
    } else {
        rc = NP_STATE;
    }
    probe_line("too-big", rc, t);
    ok &= rc == NP_RST;
    /* 30 connections, then the 31st */
    for (int i = 0; i < 30; i++)
        opened += np_tcp_connect(&client, &conns[i], mac, mmds, port,
                                 (uint16_t)(43000 + i),
                                 0x100000u * (uint32_t)(i + 1)) == NP_OK;
    rc = np_tcp_connect(&client, &conns[30], mac, mmds, port, 43030, 0x7000000);
    line_start(&l);
    line_str(&l, "net-probe case=conn-limit");
    line_kv_dec(&l, "opened", (uint64_t)opened);
    line_str(&l, " result=");
    line_str(&l, result_name(rc));
    if (rc == NP_RST) {
        line_kv_hex(&l, "rst_flags", conns[30].rst_flags);
        /* upstream acknowledges the SYN's own sequence number */
        line_kv_dec(&l, "rst_ack_rel", conns[30].rst_ack - 0x7000000);
    }
    for (int i = 0; i < 30; i++)
        closed += np_tcp_close(&client, &conns[i]) == NP_OK;
    line_kv_dec(&l, "closed", (uint64_t)closed);
    line_end(&l);
    ok &= opened == 30 && rc == NP_RST && closed == 30;
done:
    line_start(&l);
    line_str(&l, "net-mmds");
    line_str(&l, ok ? " ok=yes" : " ok=no");
    line_kv_dec(&l, "tx_frames", client.stats.tx_frames);
    line_kv_dec(&l, "rx_frames", client.stats.rx_frames);
    line_kv_dec(&l, "rx_bad", client.stats.rx_bad);
    line_kv_dec(&l, "rx_ignored", client.stats.rx_ignored);
    line_kv_dec(&l, "rx_dup", client.stats.rx_dup);
    line_kv_dec(&l, "tx_timeouts", n->tx_timeouts);
    line_end(&l);
}

/* ------------------------------------------------------------- net-ping */

static void net_ping(struct venv *e, struct ndrv *n)
{
    uint32_t host = ip_param(e, "squibhost=", 0);
    uint32_t count = (uint32_t)virtio_param_u64(e, "squibcount=", 3);
    uint64_t gap_ms = virtio_param_u64(e, "squibgap=", 0);
    uint8_t mac[NP_MAC_LEN], data[56];
    uint32_t got = 0;
    struct line l;
    int rc;

    if (!host) {
        say("net-ping host=none");
        return;
    }
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(0x20 + i);
    rc = np_arp_resolve(&client, host, mac);
    line_start(&l);
    line_str(&l, "net-arp");
    line_ip(&l, "ip", host);
    line_str(&l, " result=");
    line_str(&l, result_name(rc));
    if (rc == NP_OK)
        line_mac(&l, "mac", mac);
    line_end(&l);
    if (rc != NP_OK)
        count = 0;
    for (uint32_t i = 0; i < count && i < 100; i++) {
        uint64_t t0 = rdtsc();

        rc = np_ping(&client, mac, host, 0x5351, (uint16_t)(i + 1), data,
                     sizeof(data));
        line_start(&l);
        line_str(&l, "net-ping");
        line_kv_dec(&l, "seq", i + 1);
        line_str(&l, " result=");
        line_str(&l, result_name(rc));
        line_kv_dec(&l, "us", (rdtsc() - t0) * 1000000 / n->tsc_hz);
        line_end(&l);
        got += rc == NP_OK;
        if (gap_ms && i + 1 < count)
            delay_cycles(n->tsc_hz / 1000 * gap_ms);
    }
    line_start(&l);
    line_str(&l, "net-ping");
    line_kv_dec(&l, "sent", count);
    line_kv_dec(&l, "received", got);
    line_kv_dec(&l, "rx_bad", client.stats.rx_bad);
    line_end(&l);
    if (virtio_param_u64(e, "squibthenmmds=", 0))
        net_mmds(e, n);
}

/*
 * net-mmds-bench: squibreqs= GETs of squibpath= over one keep-alive
 * connection (with squibv2=1, after taking a token, each carries it),
 * timed with the TSC; and as a baseline in the same boot, as many ARP
 * round trips to the MMDS address (the smallest exchange with squib's
 * stack through the same device).
 */
static void net_mmds_bench(struct venv *e)
{
    static const char token_req[] = "PUT /latest/api/token HTTP/1.1\r\n"
                                    "X-metadata-token-ttl-seconds: 600\r\n"
                                    "\r\n";
    uint32_t mmds = ip_param(e, "squibmmds=", MMDS_IP_DEFAULT);
    uint64_t reqs = virtio_param_u64(e, "squibreqs=", 100);
    uint64_t v2 = virtio_param_u64(e, "squibv2=", 0), ok = 0, arps = 0;
    size_t plen = 0, got = 0;
    const char *path = virtio_param(e, "squibpath=", &plen);
    static char req[512], tok[128];
    uint8_t mac[NP_MAC_LEN];
    struct np_tcp *t = &conns[0];
    struct np_http h;
    struct np_str s;
    struct line l;
    uint64_t t0, t_get, t_arp;

    if (!path) {
        path = "/";
        plen = 1;
    }
    if (np_arp_resolve(&client, mmds, mac) != NP_OK ||
        np_tcp_connect(&client, t, mac, mmds, 80, 40000, 0x1000) != NP_OK) {
        say("net-mmds-bench connect=failed");
        return;
    }
    np_str_init(&s, tok, sizeof(tok));
    if (v2 &&
        np_tcp_request(&client, t, token_req, np_strlen(token_req), 0, resp_buf,
                       sizeof(resp_buf), &got, &h) == NP_OK &&
        h.status == 200)
        np_str_addn(&s, (const char *)h.body, h.content_length);
    np_str_init(&s, req, sizeof(req));
    np_str_add(&s, "GET ");
    np_str_addn(&s, path, plen);
    np_str_add(&s, " HTTP/1.1\r\n");
    if (v2) {
        np_str_add(&s, "X-metadata-token: ");
        np_str_add(&s, tok);
        np_str_add(&s, "\r\n");
    }
    np_str_add(&s, "\r\n");
    t0 = rdtsc();
    for (uint64_t i = 0; i < reqs; i++) {
        if (np_tcp_request(&client, t, req, np_strlen(req), 0, resp_buf,
                           sizeof(resp_buf), &got, &h) != NP_OK)
            break;
        ok += h.status == 200;
    }
    t_get = rdtsc() - t0;
    t0 = rdtsc();
    for (uint64_t i = 0; i < reqs; i++)
        arps += np_arp_resolve(&client, mmds, mac) == NP_OK;
    t_arp = rdtsc() - t0;
    line_start(&l);
    line_str(&l, "net-mmds-bench");
    line_str(&l, v2 ? " version=V2" : " version=V1");
    line_kv_dec(&l, "reqs", reqs);
    line_kv_dec(&l, "ok", ok);
    line_kv_dec(&l, "body_len", h.complete ? h.content_length : 0);
    line_kv_dec(&l, "get_us", t_get * 1000000 / e->tsc_hz);
    line_kv_dec(&l, "arps", arps);
    line_kv_dec(&l, "arp_us", t_arp * 1000000 / e->tsc_hz);
    line_end(&l);
}

/* ---------------------------------------------------------- hostile-net */

static const char *const hnames[] = {
    "tx-addr-outside-ram", "tx-desc-loop",  "tx-write-only",
    "tx-zero-len",         "tx-oversized",  "tx-head-out-of-range",
    "rx-addr-outside-ram", "rx-desc-loop",  "rx-read-only",
    "rx-zero-len",         "rx-no-buffers", "notify-storm",
};

static int is(const char *a, const char *b)
{
    size_t n = np_strlen(b);

    return np_strlen(a) == n && np_equal(a, b, n);
}

static int arp_once(struct ndrv *n, uint32_t mmds)
{
    uint8_t mac[NP_MAC_LEN];

    np_init(&client, n->mac, GUEST_IP_MMDS, tx_cb, rx_cb, n);
    client.timeout_ms = 300;
    return np_arp_resolve(&client, mmds, mac) == NP_OK;
}

/* Publish TX descriptor chain head and wait for its used entry. */
static void h_tx(struct ndrv *n, uint16_t head, struct line *l)
{
    uint32_t len = 0;
    int answered;

    vring_publish(&n->tx, head);
    vring_kick(n->dev, TXQ);
    answered = tx_wait(n, &len);
    line_str(l, answered ? " tx_answered=yes" : " tx_answered=no");
    if (answered)
        line_kv_dec(l, "tx_used_len", len);
}

static int h_case(const struct vdev *d, struct venv *e, const char *name,
                  uint64_t timeout, uint32_t mmds)
{
    static struct ndrv n;
    uint64_t ft = 0, rx_before;
    int rx_case = name[0] == 'r', still, reset_ok, reinit_ok = 0, arp_ok = 0;
    struct line l;
    uint32_t st;

    if (is(name, "rx-no-buffers"))
        ft = e->tsc_hz / 10; /* buffers only after 100 ms */
    line_start(&l);
    line_str(&l, "hostile-case dev=net case=");
    line_str(&l, name);
    if (net_init(&n, d, e->tsc_hz, timeout, ft == 0, 1)) {
        line_str(&l, " setup=refused");
        goto recover;
    }
    n.fill_after = ft;
    /* a valid ARP request, for the TX cases that need bytes */
    memset(tx_buf, 0, sizeof(tx_buf));
    if (is(name, "tx-addr-outside-ram")) {
        vring_set_desc(&n.tx, 1, OUTSIDE_RAM, 54, 0, 0);
        h_tx(&n, 1, &l);
    } else if (is(name, "tx-desc-loop")) {
        vring_set_desc(&n.tx, 1, addr_of(tx_buf), 54, D_NEXT, 2);
        vring_set_desc(&n.tx, 2, addr_of(tx_buf), 54, D_NEXT, 1);
        h_tx(&n, 1, &l);
    } else if (is(name, "tx-write-only")) {
        vring_set_desc(&n.tx, 1, addr_of(tx_buf), 54, D_WRITE, 0);
        h_tx(&n, 1, &l);
    } else if (is(name, "tx-zero-len")) {
        vring_set_desc(&n.tx, 1, addr_of(tx_buf), 0, 0, 0);
        h_tx(&n, 1, &l);
    } else if (is(name, "tx-oversized")) {
        /* 65536 + 64 bytes: over the device's 65562-byte frame limit */
        vring_set_desc(&n.tx, 1, addr_of(rx_bufs[0]), 65536, D_NEXT, 2);
        vring_set_desc(&n.tx, 2, addr_of(rx_extra), 64, 0, 0);
        h_tx(&n, 1, &l);
    } else if (is(name, "tx-head-out-of-range")) {
        h_tx(&n, (uint16_t)(n.tx.size + 3), &l);
    } else if (is(name, "rx-addr-outside-ram")) {
        vring_set_desc(&n.rx, RX_BUFS, OUTSIDE_RAM, RX_BUF_SIZE, D_WRITE, 0);
    } else if (is(name, "rx-desc-loop")) {
        vring_set_desc(&n.rx, RX_BUFS, addr_of(rx_extra), RX_BUF_SIZE,
                       D_WRITE | D_NEXT, RX_BUFS + 1);
        vring_set_desc(&n.rx, RX_BUFS + 1, addr_of(rx_extra + RX_BUF_SIZE),
                       RX_BUF_SIZE, D_WRITE | D_NEXT, RX_BUFS);
    } else if (is(name, "rx-read-only")) {
        vring_set_desc(&n.rx, RX_BUFS, addr_of(rx_extra), RX_BUF_SIZE, 0, 0);
    } else if (is(name, "rx-zero-len")) {
        vring_set_desc(&n.rx, RX_BUFS, addr_of(rx_extra), 0, D_WRITE, 0);
    } else if (is(name, "notify-storm")) {
        for (uint32_t i = 0; i < 20000; i++)
            vring_kick(n.dev, i & 1);
        line_kv_dec(&l, "notifies", 20000);
    }
    if (rx_case && ft == 0) {
        /* the bad chain after the good ones; it comes back with the
         * next frame */
        vring_publish(&n.rx, RX_BUFS);
        vring_kick(n.dev, RXQ);
    }
    rx_before = n.rx.last_used;
    still = arp_once(&n, mmds);
    if (rx_case && ft == 0) {
        line_str(&l, n.bad_rx_seen ? " rx_bad_returned=yes"
                                   : " rx_bad_returned=no");
        if (n.bad_rx_seen)
            line_kv_dec(&l, "rx_bad_len", n.bad_rx_len);
    }
    if (ft)
        line_kv_dec(&l, "rx_frames", (uint16_t)(n.rx.last_used - rx_before));
    st = vr(d, VM_STATUS);
    line_str(&l, st & ST_NEEDS_RESET ? " needs_reset=yes" : " needs_reset=no");
    line_kv_hex(&l, "dev_status", st);
    line_str(&l, still ? " still_works=yes" : " still_works=no");
recover:
    reset_ok = virtio_dev_reset(d) == 0;
    if (net_init(&n, d, e->tsc_hz, timeout, 1, 1) == 0) {
        reinit_ok = 1;
        arp_ok = arp_once(&n, mmds);
    }
    line_str(&l, reset_ok ? " reset_ok=yes" : " reset_ok=no");
    line_str(&l, reinit_ok ? " reinit_ok=yes" : " reinit_ok=no");
    line_str(&l, arp_ok ? " arp_ok=yes" : " arp_ok=no");
    line_end(&l);
    virtio_dev_reset(d);
    return reset_ok && reinit_ok && arp_ok;
}

static void hostile_net(struct venv *e, const struct vdev *d)
{
    uint64_t timeout =
        virtio_param_u64(e, "squibtimeout=", 300) * e->tsc_hz / 1000;
    uint32_t mmds = ip_param(e, "squibmmds=", MMDS_IP_DEFAULT);
    uint16_t port = (uint16_t)virtio_param_u64(e, "squibport=", 80);
    size_t onlen = 0;
    const char *only = virtio_param(e, "squibcase=", &onlen);
    static struct ndrv n;
    uint32_t cases = 0, ok = 0;
    uint8_t mac[NP_MAC_LEN];
    struct line l;
    int final = 0;

    for (size_t i = 0; i < sizeof(hnames) / sizeof(hnames[0]); i++) {
        if (only && !(onlen == np_strlen(hnames[i]) &&
                      np_equal(only, hnames[i], onlen)))
            continue;
        cases++;
        ok += (uint32_t)h_case(d, e, hnames[i], timeout, mmds);
    }
    /* a clean device: ARP, and a TCP connection opened and closed */
    if (net_init(&n, d, e->tsc_hz, timeout, 1, 1) == 0) {
        np_init(&client, n.mac, GUEST_IP_MMDS, tx_cb, rx_cb, &n);
        client.timeout_ms = 1000;
        final = np_arp_resolve(&client, mmds, mac) == NP_OK &&
                np_tcp_connect(&client, &conns[0], mac, mmds, port, 44000,
                               0x3000) == NP_OK &&
                np_tcp_close(&client, &conns[0]) == NP_OK;
    }
    virtio_dev_reset(d);
    line_start(&l);
    line_str(&l, "hostile done dev=net");
    line_kv_dec(&l, "cases", cases);
    line_kv_dec(&l, "ok", ok);
    line_str(&l, final ? " final=ok" : " final=fail");
    line_end(&l);
}

/* ---------------------------------------------------------------- entry */

void net_run_test(struct venv *e, int which)
{
    const struct vdev *d = virtio_find_dev(e, ID_NET);
    uint64_t timeout_ms = virtio_param_u64(e, "squibtimeout=", 2000);
    static struct ndrv n;
    uint32_t ip;
    struct line l;

    if (!d) {
        say("virtio-net found=no");
        return;
    }
    if (which == 2) {
        hostile_net(e, d);
        return;
    }
    if (net_init(&n, d, e->tsc_hz, e->tsc_hz * timeout_ms / 1000, 1, 0))
        return;
    ip = ip_param(
        e, "squibip=", which == 0 || which == 3 ? GUEST_IP_MMDS : 0xc0a8f102u);
    np_init(&client, n.mac, ip, tx_cb, rx_cb, &n);
    client.timeout_ms = (uint32_t)timeout_ms;
    line_start(&l);
    line_str(&l, "virtio-net");
    line_kv_hex(&l, "addr", d->base);
    line_mac(&l, "mac", n.mac);
    line_str(&l,
             n.drv_features & F_NET_MAC ? " mac_feature=1" : " mac_feature=0");
    line_ip(&l, "ip", ip);
    line_kv_dec(&l, "rx_bufs", RX_BUFS);
    line_end(&l);
    if (which == 0)
        net_mmds(e, &n);
    else if (which == 3)
        net_mmds_bench(e);
    else
        net_ping(e, &n);
    virtio_dev_reset(d);
}
