/*
 * vsock.c: the test guest's virtio-vsock driver and its tests (vsock-echo,
 * hostile-vsock; README.md "virtio-vsock tests").
 *
 * A polled driver for a virtio-mmio version 2 socket device (id 19), built
 * like net.c: split virtqueues in the guest's .bss, VIRTIO_F_VERSION_1
 * only (no EVENT_IDX, no IN_ORDER), nothing driven by interrupts
 * (InterruptStatus is acknowledged while polling).
 *
 *   RX (queue 0): RX_BUFS chains of one device-writable buffer of
 *   RX_BUF_SIZE bytes (a 44-byte header and 4 KiB of payload, as Linux's
 *   driver), descriptors 0..RX_BUFS-1, republished as soon as a packet is
 *   copied out. Descriptors from RX_BUFS up are for the hostile cases.
 *   TX (queue 1): one packet at a time in descriptor 0 (header and payload
 *   in one buffer), waited for until the device has used it. Descriptors
 *   1.. are for the hostile cases.
 *   event (queue 2): one 8-byte buffer, so a TRANSPORT_RESET has a place.
 *
 * The protocol is vsockproto.c's, driven through tx_cb() and rx_cb().
 */
#include "guest.h"
#include "virtio_int.h"
#include "vring.h"
#include "vsockproto.h"

#define RXQ 0
#define TXQ 1
#define EVQ 2

#define QSIZE       128
#define RX_BUFS     64
#define RX_BUF_SIZE (VP_HDR_LEN + 4096)
#define TX_BUF_SIZE (VP_HDR_LEN + VP_PAYLOAD_MAX)
#define N_CONNS     4
#define CONN_BUF    65536

#define OUTSIDE_RAM 0x100000000000ULL /* 16 TiB: no guest RAM there */

struct vdrv_vsock {
    const struct vdev *dev;
    struct vring rx, tx, ev;
    uint64_t cid;
    uint64_t dev_features;
    uint64_t tsc_hz;
    uint64_t timeout; /* TSC ticks to wait for a TX completion */
    uint32_t tx_timeouts;
    /* the last used entry of a hostile RX chain (id >= RX_BUFS) */
    int bad_rx_seen;
    uint32_t bad_rx_len;
};

static uint8_t rx_ring[3 * 4096] __attribute__((aligned(4096)));
static uint8_t tx_ring[3 * 4096] __attribute__((aligned(4096)));
static uint8_t ev_ring[3 * 4096] __attribute__((aligned(4096)));
static uint8_t rx_bufs[RX_BUFS][RX_BUF_SIZE] __attribute__((aligned(64)));
static uint8_t rx_extra[2 * RX_BUF_SIZE] __attribute__((aligned(64)));
static uint8_t tx_buf[TX_BUF_SIZE] __attribute__((aligned(64)));
static uint8_t ev_buf[8] __attribute__((aligned(8)));
static uint8_t io_buf[32768] __attribute__((aligned(64)));
static uint8_t arena[N_CONNS * CONN_BUF] __attribute__((aligned(64)));
static struct vp_conn conns[N_CONNS];
static struct vp_client client;
static struct vdrv_vsock drv;

/* ------------------------------------------------------------ transport */

static void rx_fill(struct vdrv_vsock *v)
{
    uint16_t k = v->rx.size < RX_BUFS ? v->rx.size : RX_BUFS;

    for (uint16_t i = 0; i < k; i++) {
        vring_set_desc(&v->rx, i, addr_of(rx_bufs[i]), RX_BUF_SIZE, D_WRITE, 0);
        vring_publish(&v->rx, i);
    }
    vring_kick(v->dev, RXQ);
}

/*
 * Reset, ACKNOWLEDGE, DRIVER, VERSION_1, FEATURES_OK (checked), the three
 * queues, DRIVER_OK; the event buffer, then (bad_rx, when not NULL,
 * first: a hostile RX chain at descriptor RX_BUFS) the RX buffers. Prints a
 * vsock-init line unless quiet (failures always). 0, or -1.
 */
static int vsock_init(struct vdrv_vsock *v, const struct vdev *d,
                      uint64_t tsc_hz, uint64_t timeout,
                      const struct vdesc *bad_rx, int quiet)
{
    uint64_t drv;
    uint32_t st;
    struct line l;
    int rc = 0;

    memset(v, 0, sizeof(*v));
    v->dev = d;
    v->tsc_hz = tsc_hz;
    v->timeout = timeout;
    line_start(&l);
    line_str(&l, "vsock-init");
    line_kv_hex(&l, "addr", d->base);
    if (virtio_negotiate(d, 0, &l, &v->dev_features, &drv)) {
        rc = -1;
        goto out;
    }
    if (vring_setup(v->dev, RXQ, &v->rx, rx_ring, QSIZE) ||
        vring_setup(v->dev, TXQ, &v->tx, tx_ring, QSIZE) ||
        vring_setup(v->dev, EVQ, &v->ev, ev_ring, QSIZE)) {
        line_str(&l, " queue=bad");
        rc = -1;
        goto out;
    }
    /* The CID, u64 little-endian, read as two words. */
    v->cid = (uint64_t)mmio_read32(d->base + VM_CONFIG) |
             (uint64_t)mmio_read32(d->base + VM_CONFIG + 4) << 32;
    line_kv_dec(&l, "cid", v->cid);
    vw(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    st = vr(d, VM_STATUS);
    line_kv_hex(&l, "status", st);
    if (st & (ST_NEEDS_RESET | ST_FAILED)) {
        rc = -1;
        goto out;
    }
    vring_set_desc(&v->ev, 0, addr_of(ev_buf), sizeof(ev_buf), D_WRITE, 0);
    vring_publish(&v->ev, 0);
    vring_kick(v->dev, EVQ);
    if (bad_rx) {
        vring_set_desc(&v->rx, RX_BUFS, bad_rx->addr, bad_rx->len,
                       bad_rx->flags, 0);
        vring_publish(&v->rx, RX_BUFS);
        vring_kick(v->dev, RXQ);
    }
    rx_fill(v);
out:
    line_str(&l, rc ? " ok=no" : " ok=yes");
    if (!quiet || rc)
        line_end(&l);
    return rc;
}

/* Wait for the TX used index to pass the last one seen: 1 with the used
 * length in *len, 0 on timeout. */
static int tx_wait(struct vdrv_vsock *v, uint32_t *len)
{
    uint64_t t0 = rdtsc();

    while (vring_used_idx(&v->tx) == v->tx.last_used) {
        if (rdtsc() - t0 > v->timeout) {
            v->tx_timeouts++;
            return 0;
        }
        cpu_relax();
    }
    mb();
    *len = v->tx.used[2 + 2 * (v->tx.last_used % v->tx.size)];
    v->tx.last_used++;
    vring_ack_isr(v->dev);
    return 1;
}

/* vp_send_fn: header and payload copied into descriptor 0. */
static int tx_cb(void *opaque, const uint8_t hdr[VP_HDR_LEN],
                 const uint8_t *payload, size_t len)
{
    struct vdrv_vsock *v = opaque;
    uint32_t ulen;

    if (len > VP_PAYLOAD_MAX)
        return -1;
    memcpy(tx_buf, hdr, VP_HDR_LEN);
    if (len)
        memcpy(tx_buf + VP_HDR_LEN, payload, len);
    vring_set_desc(&v->tx, 0, addr_of(tx_buf), (uint32_t)(VP_HDR_LEN + len), 0,
                   0);
    vring_publish(&v->tx, 0);
    vring_kick(v->dev, TXQ);
    return tx_wait(v, &ulen) ? 0 : -1;
}

/* vp_recv_fn: the next used RX buffer's packet; the buffer goes back. */
static size_t rx_cb(void *opaque, uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
    struct vdrv_vsock *v = opaque;
    struct vring *q = &v->rx;
    uint64_t t0 = rdtsc(), limit = v->tsc_hz / 1000 * timeout_ms;

    for (;;) {
        uint32_t id, len;

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
        vring_ack_isr(v->dev);
        if (id >= RX_BUFS) {
            v->bad_rx_seen = 1;
            v->bad_rx_len = len;
            continue;
        }
        if (len > RX_BUF_SIZE)
            len = RX_BUF_SIZE;
        if (len > cap)
            len = (uint32_t)cap;
        memcpy(buf, rx_bufs[id], len);
        vring_publish(q, (uint16_t)id);
        vring_kick(v->dev, RXQ);
        if (len)
            return len;
    }
}

static void client_start(struct vdrv_vsock *v, uint32_t timeout_ms)
{
    vp_init(&client, v->cid, conns, N_CONNS, arena, sizeof(arena), tx_cb, rx_cb,
            v);
    client.timeout_ms = timeout_ms;
    client.max_payload = 32768;
}

static const char *result_name(int rc)
{
    switch (rc) {
    case VP_OK:
        return "ok";
    case VP_TIMEOUT:
        return "timeout";
    case VP_RST:
        return "rst";
    case VP_SEND:
        return "send-failed";
    case VP_NOSLOT:
        return "noslot";
    case VP_STATE:
        return "state";
    case VP_EOF:
        return "eof";
    }
    return "?";
}

/* ------------------------------------------------------------ vsock-echo */

/* Connect to host port, send n bytes of pattern 1, close; one line. */
static void echo_connect_out(uint32_t port, uint64_t n)
{
    struct vp_conn *k = NULL;
    uint64_t h = VP_FNV_INIT, sent = 0;
    uint64_t t0 = rdtsc();
    struct line l;
    int rc;

    rc = vp_connect(&client, VP_HOST_CID, port, 0x8000, &k);
    while (rc == VP_OK && sent < n) {
        size_t m = sizeof(io_buf);

        if (m > n - sent)
            m = (size_t)(n - sent);
        for (size_t i = 0; i < m; i++)
            io_buf[i] = vp_pattern(1, sent + i);
        rc = vp_send(&client, k, io_buf, m);
        if (rc == VP_OK) {
            h = vp_fnv(h, io_buf, m);
            sent += m;
        }
    }
    if (k) {
        int crc = vp_close(&client, k);

        if (rc == VP_OK)
            rc = crc;
    }
    line_start(&l);
    line_str(&l, "vsock-connect");
    line_kv_dec(&l, "port", port);
    line_str(&l, " result=");
    line_str(&l, result_name(rc));
    line_kv_dec(&l, "bytes", sent);
    line_kv_hex(&l, "fnv1a", h);
    line_kv_dec(&l, "us", (rdtsc() - t0) * 1000000 / drv.tsc_hz);
    line_kv_dec(&l, "credit_waits", client.stats.credit_waits);
    line_end(&l);
}

/* Accept one connection and echo it until the peer shuts down. */
static int echo_one(uint32_t port)
{
    struct vp_conn *k;
    uint64_t h = VP_FNV_INIT, total = 0;
    struct line l;
    size_t got;
    int rc;

    rc = vp_accept(&client, &k);
    if (rc != VP_OK)
        return rc;
    while ((rc = vp_recv(&client, k, io_buf, sizeof(io_buf), &got)) == VP_OK) {
        h = vp_fnv(h, io_buf, got);
        total += got;
        rc = vp_send(&client, k, io_buf, got);
        if (rc != VP_OK)
            break;
    }
    line_start(&l);
    line_str(&l, "vsock-echo");
    line_kv_dec(&l, "port", port);
    line_kv_dec(&l, "peer_port", k->peer_port);
    line_kv_dec(&l, "bytes", total);
    line_kv_hex(&l, "fnv1a", h);
    line_str(&l, " end=");
    line_str(&l, result_name(rc));
    rc = vp_close(&client, k);
    line_str(&l, " close=");
    line_str(&l, result_name(rc));
    line_end(&l);
    return VP_OK;
}

static void vsock_echo(struct venv *e)
{
    uint32_t port = (uint32_t)virtio_param_u64(e, "squibport=", 52);
    uint32_t hport = (uint32_t)virtio_param_u64(e, "squibhostport=", 0);
    uint64_t bytes = virtio_param_u64(e, "squibbytes=", 1048576);
    uint64_t n_echo = virtio_param_u64(e, "squibconns=", 1);
    uint64_t served = 0;
    struct line l;

    /* Listen first: a host CONNECT arriving while we connect out is
     * answered at once. */
    vp_listen(&client, port);
    line_start(&l);
    line_str(&l, "vsock-listen");
    line_kv_dec(&l, "port", port);
    line_kv_dec(&l, "cid", drv.cid);
    line_end(&l);
    if (hport)
        echo_connect_out(hport, bytes);
    while (served < n_echo && echo_one(port) == VP_OK)
        served++;
    line_start(&l);
    line_str(&l, "vsock-done");
    line_kv_dec(&l, "served", served);
    line_kv_dec(&l, "rx_pkts", client.stats.rx_pkts);
    line_kv_dec(&l, "tx_pkts", client.stats.tx_pkts);
    line_kv_dec(&l, "rx_bad", client.stats.rx_bad);
    line_kv_dec(&l, "credit_violations", client.stats.credit_violations);
    line_kv_dec(&l, "max_in_flight", client.stats.max_in_flight);
    line_end(&l);
}

/* ---------------------------------------------------------- hostile-vsock */

static const char *const hnames[] = {
    "hdr-bad-op",
    "hdr-bad-type",
    "hdr-bad-dst-cid",
    "len-lies",
    "len-huge",
    "hdr-short",
    "credit-overrun",
    "unknown-conn",
    "tx-zero-len",
    "tx-write-only",
    "tx-addr-outside-ram",
    "tx-desc-loop",
    "tx-head-out-of-range",
    "rx-zero-len",
    "rx-read-only",
    "rx-addr-outside-ram",
    "notify-storm",
};

static int is(const char *a, const char *b)
{
    return strlen(a) == strlen(b) && memcmp(a, b, strlen(b)) == 0;
}

/* Publish TX chain head, wait for its used entry, note both. */
static void h_tx(struct vdrv_vsock *v, uint16_t head, struct line *l)
{
    uint32_t len = 0;
    int answered;

    vring_publish(&v->tx, head);
    vring_kick(v->dev, TXQ);
    answered = tx_wait(v, &len);
    line_str(l, answered ? " tx_answered=yes" : " tx_answered=no");
    if (answered)
        line_kv_dec(l, "tx_used_len", len);
}

/* A header for a stream from local port lp to host port hp. */
static struct vp_hdr h_hdr(uint32_t lp, uint32_t hp, uint16_t op)
{
    struct vp_hdr h = {
        .src_cid = drv.cid,
        .dst_cid = VP_HOST_CID,
        .src_port = lp,
        .dst_port = hp,
        .type = VP_TYPE_STREAM,
        .op = op,
        .buf_alloc = CONN_BUF,
    };

    return h;
}

/* Header bytes in descriptor 1 with a buffer of buf_len bytes. */
static void h_raw(struct vdrv_vsock *v, const struct vp_hdr *h,
                  uint32_t buf_len, struct line *l)
{
    memset(tx_buf, 0x5a, 4096);
    vp_hdr_encode(h, tx_buf);
    vring_set_desc(&v->tx, 1, addr_of(tx_buf), buf_len, 0, 0);
    h_tx(v, 1, l);
}

/* Let packets the device owes us arrive (RSTs for the bad ones). */
static void h_drain(uint32_t ms)
{
    uint32_t saved = client.timeout_ms;

    client.timeout_ms = ms;
    while (vp_poll(&client) == VP_OK)
        ;
    client.timeout_ms = saved;
}

/* The device still works: a REQUEST to host port hp is answered
 * (RESPONSE, then closed) -> 2; answered with RST -> 1; nothing -> 0. */
static int h_probe(uint32_t hp, uint32_t lp)
{
    struct vp_conn *k;
    int rc = vp_connect(&client, VP_HOST_CID, hp, lp, &k);

    if (rc == VP_OK) {
        vp_close(&client, k);
        return 2;
    }
    return rc == VP_RST ? 1 : 0;
}

static const char *probe_name(int p)
{
    return p == 2 ? "response" : p == 1 ? "rst" : "none";
}

static void h_case_body(struct vdrv_vsock *v, const char *name, uint32_t hp,
                        struct line *l)
{
    struct vp_hdr h = h_hdr(0x9000, hp, VP_OP_RW);
    uint64_t rsts = client.stats.rsts_seen;

    if (is(name, "hdr-bad-op")) {
        h.op = 99;
        vp_send_raw(&client, &h, NULL, 0);
    } else if (is(name, "hdr-bad-type")) {
        h.op = VP_OP_REQUEST;
        h.type = 2;
        vp_send_raw(&client, &h, NULL, 0);
    } else if (is(name, "hdr-bad-dst-cid")) {
        h.op = VP_OP_REQUEST;
        h.dst_cid = 77;
        vp_send_raw(&client, &h, NULL, 0);
    } else if (is(name, "len-lies")) {
        h.len = 4096; /* in a 44 + 16 byte buffer */
        h_raw(v, &h, VP_HDR_LEN + 16, l);
    } else if (is(name, "len-huge")) {
        h.len = 0x7fffffff;
        h_raw(v, &h, VP_HDR_LEN + 64, l);
    } else if (is(name, "hdr-short")) {
        h_raw(v, &h, VP_HDR_LEN - 1, l);
    } else if (is(name, "credit-overrun")) {
        struct vp_conn *k;

        /* Ignore the credit the host gave: 1 MiB at once. */
        if (vp_connect(&client, VP_HOST_CID, hp, 0x9001, &k) == VP_OK) {
            for (int i = 0; i < 32 && k->state == VP_OPEN; i++) {
                struct vp_hdr w = h_hdr(0x9001, hp, VP_OP_RW);

                vp_send_raw(&client, &w, io_buf, sizeof(io_buf));
                while (vp_poll(&client) == VP_OK && k->state == VP_OPEN)
                    ;
            }
            line_str(l, k->reset ? " overrun_rst=yes" : " overrun_rst=no");
            vp_close(&client, k);
        } else {
            line_str(l, " overrun_conn=no");
        }
    } else if (is(name, "unknown-conn")) {
        static const uint16_t ops[] = {VP_OP_RW, VP_OP_SHUTDOWN,
                                       VP_OP_CREDIT_UPDATE,
                                       VP_OP_CREDIT_REQUEST, VP_OP_RESPONSE};

        for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
            struct vp_hdr u = h_hdr(0x9100 + i, hp, ops[i]);

            vp_send_raw(&client, &u, io_buf, ops[i] == VP_OP_RW ? 100 : 0);
        }
    } else if (is(name, "tx-zero-len")) {
        vring_set_desc(&v->tx, 1, addr_of(tx_buf), 0, 0, 0);
        h_tx(v, 1, l);
    } else if (is(name, "tx-write-only")) {
        vp_hdr_encode(&h, tx_buf);
        vring_set_desc(&v->tx, 1, addr_of(tx_buf), VP_HDR_LEN, D_WRITE, 0);
        h_tx(v, 1, l);
    } else if (is(name, "tx-addr-outside-ram")) {
        vring_set_desc(&v->tx, 1, OUTSIDE_RAM, VP_HDR_LEN, 0, 0);
        h_tx(v, 1, l);
    } else if (is(name, "tx-desc-loop")) {
        vring_set_desc(&v->tx, 1, addr_of(tx_buf), VP_HDR_LEN, D_NEXT, 2);
        vring_set_desc(&v->tx, 2, addr_of(tx_buf), VP_HDR_LEN, D_NEXT, 1);
        h_tx(v, 1, l);
    } else if (is(name, "tx-head-out-of-range")) {
        h_tx(v, (uint16_t)(v->tx.size + 3), l);
    } else if (is(name, "notify-storm")) {
        for (uint32_t i = 0; i < 20000; i++)
            vring_kick(v->dev, i % 4);
        line_kv_dec(l, "notifies", 20000);
    }
    h_drain(50);
    line_kv_dec(l, "rsts", client.stats.rsts_seen - rsts);
}

static int h_case(const struct vdev *d, struct venv *e, const char *name,
                  uint64_t timeout, uint32_t hp)
{
    int rx_case = name[0] == 'r' && name[1] == 'x', reset_ok, reinit_ok = 0;
    int still = 0, after = 0;
    struct vdesc bad = {0, 0, 0, 0};
    struct line l;
    uint32_t st;

    line_start(&l);
    line_str(&l, "hostile-case dev=vsock case=");
    line_str(&l, name);
    /* The hostile RX chain goes first, so the next packet meets it. */
    if (is(name, "rx-zero-len"))
        bad = (struct vdesc){addr_of(rx_extra), 0, D_WRITE, 0};
    else if (is(name, "rx-read-only"))
        bad = (struct vdesc){addr_of(rx_extra), RX_BUF_SIZE, 0, 0};
    else if (rx_case)
        bad = (struct vdesc){OUTSIDE_RAM, RX_BUF_SIZE, D_WRITE, 0};
    if (vsock_init(&drv, d, e->tsc_hz, timeout, rx_case ? &bad : NULL, 1)) {
        line_str(&l, " setup=refused");
        goto recover;
    }
    client_start(&drv, 300);
    h_case_body(&drv, name, hp, &l);
    still = h_probe(hp, 0xa000);
    if (rx_case) {
        line_str(&l, drv.bad_rx_seen ? " rx_bad_returned=yes"
                                     : " rx_bad_returned=no");
        if (drv.bad_rx_seen)
            line_kv_dec(&l, "rx_bad_len", drv.bad_rx_len);
    }
    st = vr(d, VM_STATUS);
    line_str(&l, st & ST_NEEDS_RESET ? " needs_reset=yes" : " needs_reset=no");
    line_str(&l, " still_works=");
    line_str(&l, probe_name(still));
recover:
    reset_ok = virtio_dev_reset(d) == 0;
    if (vsock_init(&drv, d, e->tsc_hz, timeout, NULL, 1) == 0) {
        reinit_ok = 1;
        client_start(&drv, 1000);
        after = h_probe(hp, 0xa001);
    }
    line_str(&l, reset_ok ? " reset_ok=yes" : " reset_ok=no");
    line_str(&l, reinit_ok ? " reinit_ok=yes" : " reinit_ok=no");
    line_str(&l, " conn_after=");
    line_str(&l, probe_name(after));
    line_end(&l);
    virtio_dev_reset(d);
    return reset_ok && reinit_ok && after == 2;
}

static void hostile_vsock(struct venv *e, const struct vdev *d)
{
    uint64_t timeout =
        virtio_param_u64(e, "squibtimeout=", 300) * e->tsc_hz / 1000;
    uint32_t hp = (uint32_t)virtio_param_u64(e, "squibhostport=", 1234);
    size_t onlen = 0;
    const char *only = virtio_param(e, "squibcase=", &onlen);
    uint32_t cases = 0, ok = 0;
    struct line l;

    for (size_t i = 0; i < sizeof(hnames) / sizeof(hnames[0]); i++) {
        if (only && !(onlen == strlen(hnames[i]) &&
                      memcmp(only, hnames[i], onlen) == 0))
            continue;
        cases++;
        ok += (uint32_t)h_case(d, e, hnames[i], timeout, hp);
    }
    line_start(&l);
    line_str(&l, "hostile done dev=vsock");
    line_kv_dec(&l, "cases", cases);
    line_kv_dec(&l, "ok", ok);
    line_end(&l);
}

/* ---------------------------------------------------------------- entry */

void vsock_run_test(struct venv *e, int which)
{
    const struct vdev *d = virtio_find_dev(e, ID_VSOCK);
    uint64_t timeout_ms = virtio_param_u64(e, "squibtimeout=", 10000);

    if (!d) {
        say("virtio-vsock found=no");
        return;
    }
    if (which == 1) {
        hostile_vsock(e, d);
        return;
    }
    if (vsock_init(&drv, d, e->tsc_hz, e->tsc_hz * 2, NULL, 0))
        return;
    client_start(&drv, (uint32_t)timeout_ms);
    vsock_echo(e);
    virtio_dev_reset(d);
}
