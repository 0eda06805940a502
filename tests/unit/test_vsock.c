/*
 * test_vsock.c: the virtio-vsock device driven through its three rings
 * with real Unix sockets on the host side: identity and config space,
 * host- and guest-initiated connections with data both ways (checksummed),
 * credit flow in both directions, shutdown and RST, the connection limit,
 * kill timers on an injected clock, CONNECT line handling, the event
 * queue's TRANSPORT_RESET, device reset and re-activation, and fd leaks
 * over many connections.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "devices/virtio/vsock/vsock_conn.h"
#include "devices/virtio/vsock/vsock_muxq.h"
#include "vmm/vdev_kind_snap.h"
#include "vsock_harness.h"

/* Host client asks for guest port gp; the guest accepts. Returns the
 * client fd; *lp the host-side port the device chose. */
static int host_connect(struct fx *f, uint32_t gp, uint32_t *lp)
{
    struct vsock_hdr h;
    char line[32], ok[32];
    int c = client_connect(f), n;

    n = snprintf(line, sizeof(line), "CONNECT %u\n", gp);
    write_all(c, line, (size_t)n);
    give_rx(f, 1);
    pump(f); /* accept */
    pump(f); /* the line -> REQUEST */
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_REQUEST);
    assert_int_equal(h.src_cid, VSOCK_HOST_CID);
    assert_int_equal(h.dst_cid, GUEST_CID);
    assert_int_equal(h.dst_port, gp);
    assert_int_equal(h.type, SQ_VSOCK_TYPE_STREAM);
    assert_int_equal(h.buf_alloc, VSOCK_TXBUF_SIZE);
    *lp = h.src_port;
    h = ghdr(gp, *lp, SQ_VSOCK_OP_RESPONSE);
    send_tx(f, &h, NULL, 0);
    n = snprintf(ok, sizeof(ok), "OK %u\n", *lp);
    memset(line, 0, sizeof(line));
    read_all(c, line, (size_t)n);
    assert_memory_equal(line, ok, (size_t)n);
    return c;
}

/* The guest connects from gp to host port hp, where lfd listens. Returns
 * the accepted host-side fd. */
static int guest_connect(struct fx *f, int lfd, uint32_t gp, uint32_t hp)
{
    struct vsock_hdr h = ghdr(gp, hp, SQ_VSOCK_OP_REQUEST);

    give_rx(f, 1);
    send_tx(f, &h, NULL, 0);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RESPONSE);
    assert_int_equal(h.src_port, hp);
    assert_int_equal(h.dst_port, gp);
    return accept_one(lfd);
}

static void open_dev(struct fx *f, uint64_t features)
{
    fx_new(f, GUEST_CID);
    fx_start(f, features);
}

static unsigned count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;

    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* ---- identity ------------------------------------------------------------ */

static void test_identity_config(void **state)
{
    struct fx *f = *state;
    uint64_t cfg_fails = cnt(&mv()->cfg_fails);
    uint8_t b[8] = {0};

    fx_new(f, 0x1122334455667788ULL);
    assert_int_equal(reg_rd(tp(f), 0x00), VIRTIO_MMIO_MAGIC);
    assert_int_equal(reg_rd(tp(f), 0x08), 19);
    reg_wr(tp(f), 0x14, 0);
    assert_int_equal(reg_rd(tp(f), 0x10), 1u << SQ_VIRTIO_F_RING_EVENT_IDX);
    reg_wr(tp(f), 0x14, 1);
    assert_int_equal(reg_rd(tp(f), 0x10),
                     1u << (SQ_VIRTIO_F_VERSION_1 - 32) |
                         1u << (SQ_VIRTIO_F_IN_ORDER - 32));
    for (uint32_t q = 0; q < 4; q++) {
        reg_wr(tp(f), 0x30, q);
        assert_int_equal(reg_rd(tp(f), 0x34), q < 3 ? 256 : 0);
    }
    assert_int_equal(reg_rd(tp(f), 0x100), 0x55667788);
    assert_int_equal(reg_rd(tp(f), 0x104), 0x11223344);
    assert_int_equal(reg_rd(tp(f), 0x108), 0);
    assert_int_equal(vsock_guest_cid(f->v), 0x1122334455667788ULL);
    assert_string_equal(vsock_uds_path(f->v), f->uds);
    /* Writes are refused and counted. */
    reg_wr(tp(f), 0x70, SQ_VIRTIO_STATUS_ACK);
    reg_wr(tp(f), 0x70, SQ_VIRTIO_STATUS_ACK | SQ_VIRTIO_STATUS_DRIVER);
    bus_dev_lock(&tp(f)->bus);
    virtio_mmio_write(&tp(f)->bus, 0x100, b, 8);
    bus_dev_unlock(&tp(f)->bus);
    assert_int_equal(cnt(&mv()->cfg_fails), cfg_fails + 1);
    assert_int_equal(reg_rd(tp(f), 0x100), 0x55667788);
}

static void test_new_errors(void **state)
{
    struct fx *f = *state;
    struct vsock_params p = {
        .guest_cid = 3, .listen_fd = -1, .uds_path = f->uds};
    struct vsock *v = NULL;
    struct sq_err err;

    sq_err_clear(&err);
    assert_int_equal(vsock_new(&p, &v, &err), -EBADF);
    assert_null(v);
    p.listen_fd = 0;
    p.uds_path = "";
    assert_int_equal(vsock_new(&p, &v, &err), -EINVAL);
    vsock_free(NULL);
}

/* ---- connections and data ------------------------------------------------ */

static void test_host_initiated(void **state)
{
    struct fx *f = *state;
    static uint8_t out[200000], in[200000];
    uint64_t added = cnt(&mv()->conns_added);
    size_t got = 0, sent = 0;
    struct vsock_hdr h;
    uint32_t lp, fwd = 0;
    int c;

    open_dev(f, F_EI);
    c = host_connect(f, 52, &lp);
    assert_int_equal(lp, 1u << 30);
    assert_int_equal(cnt(&mv()->conns_added), added + 1);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 1);
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 7 + (i >> 9));

    /* host -> guest, in 4 KiB RX buffers, the guest consuming as it goes. */
    write_all(c, out, 100000);
    while (got < 100000) {
        give_rx(f, 8);
        pump(f);
        virtio_mmio_notify(tp(f), RXQ);
        while (next_rx(f, &h, in + got, sizeof(in) - got, NULL)) {
            if (h.op == SQ_VSOCK_OP_CREDIT_REQUEST) {
                struct vsock_hdr u = ghdr(52, lp, SQ_VSOCK_OP_CREDIT_UPDATE);

                u.fwd_cnt = fwd;
                send_tx(f, &u, NULL, 0);
                continue;
            }
            assert_int_equal(h.op, SQ_VSOCK_OP_RW);
            assert_int_equal(h.dst_port, 52);
            assert_int_equal(h.src_port, lp);
            assert_true(h.len > 0 && h.len <= 4096);
            got += h.len;
            fwd += h.len;
        }
    }
    assert_int_equal(got, 100000);
    assert_int_equal(fnv(FNV_INIT, in, got), fnv(FNV_INIT, out, got));

    /* guest -> host: packets of various sizes up to 64 KiB. */
    while (sent < sizeof(out)) {
        uint32_t n = (uint32_t)(sizeof(out) - sent);
        struct vsock_hdr d = ghdr(52, lp, SQ_VSOCK_OP_RW);

        if (n > 1 + (sent % 65536))
            n = (uint32_t)(1 + (sent % 65536));
        d.fwd_cnt = fwd;
        send_tx(f, &d, out + sent, n);
        read_all(c, in + sent, n);
        sent += n;
    }
    assert_memory_equal(in, out, sizeof(out));
    close(c);
}

static void test_guest_initiated(void **state)
{
    struct fx *f = *state;
    static uint8_t buf[70000], back[70000];
    int lfd, s;
    struct vsock_hdr h;
    size_t got = 0;

    open_dev(f, 0);
    lfd = listen_port(f, 1234);
    s = guest_connect(f, lfd, 5000, 1234);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i ^ (i >> 8));
    h = ghdr(5000, 1234, SQ_VSOCK_OP_RW);
    send_tx(f, &h, buf, 65536);
    read_all(s, back, 65536);
    assert_memory_equal(back, buf, 65536);

    /* And back: the host writes, the guest reads. */
    write_all(s, buf, 30000);
    while (got < 30000) {
        give_rx(f, 4);
        pump(f);
        while (next_rx(f, &h, back + got, sizeof(back) - got, NULL)) {
            /* The 64 KiB sent above earned the guest a credit update. */
            if (h.op == SQ_VSOCK_OP_CREDIT_UPDATE)
                continue;
            assert_int_equal(h.op, SQ_VSOCK_OP_RW);
            assert_int_equal(h.dst_cid, GUEST_CID);
            assert_int_equal(h.src_cid, VSOCK_HOST_CID);
            got += h.len;
        }
    }
    assert_int_equal(fnv(FNV_INIT, back, 30000), fnv(FNV_INIT, buf, 30000));

    /* No listener on the port: RST, and no connection. */
    give_rx(f, 2);
    h = ghdr(5001, 999, SQ_VSOCK_OP_REQUEST);
    send_tx(f, &h, NULL, 0);
    do {
        assert_true(next_rx(f, &h, NULL, 0, NULL));
    } while (h.op == SQ_VSOCK_OP_CREDIT_UPDATE);
    assert_int_equal(h.op, SQ_VSOCK_OP_RST);
    assert_int_equal(h.src_port, 999);
    assert_int_equal(h.dst_port, 5001);
    assert_int_equal(h.dst_cid, GUEST_CID);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 1);
    close(s);
    close(lfd);
}

/* The guest sends as long as its view of our credit allows, while the
 * host does not read: the device's buffering stops at the socket's buffer
 * plus the 64 KiB TX buffer, and sending past the credit resets. */
static void test_credit_guest_to_host(void **state)
{
    struct fx *f = *state;
    static uint8_t chunk[4096], sink[65536];
    uint32_t sent = 0, peer_fwd = 0;
    struct vsock_hdr h;
    int lfd, s, rounds = 0;
    size_t drained = 0;

    memset(chunk, 0xab, sizeof(chunk));
    open_dev(f, 0);
    lfd = listen_port(f, 7);
    s = guest_connect(f, lfd, 1000, 7);
    for (;;) {
        uint32_t credit, n;

        while (next_rx(f, &h, NULL, 0, NULL)) {
            assert_int_equal(h.op, SQ_VSOCK_OP_CREDIT_UPDATE);
            assert_int_equal(h.buf_alloc, VSOCK_TXBUF_SIZE);
            peer_fwd = h.fwd_cnt;
        }
        credit = VSOCK_TXBUF_SIZE - (sent - peer_fwd);
        n = credit < sizeof(chunk) ? credit : sizeof(chunk);
        if (n == 0)
            break;
        h = ghdr(1000, 7, SQ_VSOCK_OP_RW);
        give_rx(f, 1);
        send_tx(f, &h, chunk, n);
        sent += n;
        assert_true(++rounds < 10000);
    }
    /* The guest is throttled: the device holds exactly 64 KiB. */
    assert_int_equal(sent - peer_fwd, VSOCK_TXBUF_SIZE);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 1);

    /* The host reads everything; the device flushes and tells the guest. */
    while (drained < sent) {
        ssize_t r = read(s, sink, sizeof(sink));

        assert_true(r > 0);
        drained += (size_t)r;
        give_rx(f, 2);
        pump(f);
        while (next_rx(f, &h, NULL, 0, NULL)) {
            assert_int_equal(h.op, SQ_VSOCK_OP_CREDIT_UPDATE);
            peer_fwd = h.fwd_cnt;
        }
        if (drained < sent)
            assert_true(readable(s, 2000));
    }
    assert_int_equal(peer_fwd, sent);

    /* Fill it again, then overrun the credit by one buffer: RST. */
    {
        uint32_t tx_writes = (uint32_t)cnt(&mv()->tx_write_fails);

        for (int i = 0; i < 400; i++) {
            h = ghdr(1000, 7, SQ_VSOCK_OP_RW);
            send_tx(f, &h, chunk, sizeof(chunk));
        }
        give_rx(f, 64);
        virtio_mmio_notify(tp(f), RXQ);
        for (bool rst = false; !rst;) {
            assert_true(next_rx(f, &h, NULL, 0, NULL));
            rst = h.op == SQ_VSOCK_OP_RST;
        }
        assert_int_equal(cnt(&mv()->tx_write_fails), tx_writes);
    }
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 0);
    close(s);
    close(lfd);
}

/* The host writes faster than the guest's buffer allows: the device never
 * sends past buf_alloc - (rx_cnt - fwd_cnt) and asks for credit. */
static void test_credit_host_to_guest(void **state)
{
    struct fx *f = *state;
    static uint8_t data[65536], got[65536];
    uint32_t total = 0, guest_fwd = 0;
    struct vsock_hdr h;
    int lfd, s, creq = 0;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13);
    open_dev(f, 0);
    lfd = listen_port(f, 8);
    h = ghdr(2000, 8, SQ_VSOCK_OP_REQUEST);
    h.buf_alloc = 8192;
    give_rx(f, 1);
    send_tx(f, &h, NULL, 0);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RESPONSE);
    s = accept_one(lfd);
    write_all(s, data, sizeof(data));
    while (total < sizeof(data)) {
        uint32_t window = 0;

        give_rx(f, 8);
        pump(f);
        while (next_rx(f, &h, got + total, sizeof(got) - total, NULL)) {
            if (h.op == SQ_VSOCK_OP_CREDIT_REQUEST) {
                creq++;
                continue;
            }
            assert_int_equal(h.op, SQ_VSOCK_OP_RW);
            total += h.len;
            window += h.len;
        }
        /* Never more than the guest's 8 KiB in flight. */
        assert_true(total - guest_fwd <= 8192);
        assert_true(window <= 8192);
        /* Nothing more comes until the guest gives credit back. */
        give_rx(f, 4);
        pump(f);
        virtio_mmio_notify(tp(f), RXQ);
        assert_false(next_rx(f, &h, NULL, 0, NULL));
        guest_fwd = total;
        h = ghdr(2000, 8, SQ_VSOCK_OP_CREDIT_UPDATE);
        h.buf_alloc = 8192;
        h.fwd_cnt = guest_fwd;
        send_tx(f, &h, NULL, 0);
    }
    assert_true(creq > 0);
    assert_memory_equal(got, data, sizeof(data));
    close(s);
    close(lfd);
}

static void test_shutdown(void **state)
{
    struct fx *f = *state;
    struct vsock_hdr h;
    uint8_t b[16];
    uint32_t lp;
    int c, lfd, s;

    open_dev(f, 0);
    /* Host closes: the guest gets SHUTDOWN(RCV|SEND); its RST ends it. */
    c = host_connect(f, 60, &lp);
    close(c);
    give_rx(f, 1);
    pump(f);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_SHUTDOWN);
    assert_int_equal(h.flags, SQ_VSOCK_FLAGS_SHUTDOWN_RCV |
                                  SQ_VSOCK_FLAGS_SHUTDOWN_SEND);
    h = ghdr(60, lp, SQ_VSOCK_OP_RST);
    send_tx(f, &h, NULL, 0);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 0);

    /* Guest stops sending only: host data still reaches it. */
    lfd = listen_port(f, 61);
    s = guest_connect(f, lfd, 3000, 61);
    h = ghdr(3000, 61, SQ_VSOCK_OP_SHUTDOWN);
    h.flags = SQ_VSOCK_FLAGS_SHUTDOWN_SEND;
    send_tx(f, &h, NULL, 0);
    write_all(s, "hello", 5);
    give_rx(f, 1);
    pump(f);
    assert_true(next_rx(f, &h, b, sizeof(b), NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RW);
    assert_memory_equal(b, "hello", 5);
    /* Then receiving too: the device resets, the host sees the end. */
    h = ghdr(3000, 61, SQ_VSOCK_OP_SHUTDOWN);
    h.flags = SQ_VSOCK_FLAGS_SHUTDOWN_RCV;
    give_rx(f, 1);
    send_tx(f, &h, NULL, 0);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RST);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 0);
    assert_int_equal(read(s, b, sizeof(b)), 0);
    close(s);
    close(lfd);
}

static void test_rst(void **state)
{
    struct fx *f = *state;
    uint64_t removed = cnt(&mv()->conns_removed);
    struct vsock_hdr h;
    uint8_t b[4];
    uint32_t lp;
    int c;

    open_dev(f, 0);
    c = host_connect(f, 70, &lp);
    h = ghdr(70, lp, SQ_VSOCK_OP_RST);
    send_tx(f, &h, NULL, 0);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 0);
    assert_int_equal(cnt(&mv()->conns_removed), removed + 1);
    assert_int_equal(read(c, b, sizeof(b)), 0);
    close(c);
    /* A packet for the gone stream gets RST (it is unknown now). */
    give_rx(f, 1);
    h = ghdr(70, lp, SQ_VSOCK_OP_RW);
    send_tx(f, &h, "x", 1);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RST);
    /* An RST for an unknown stream is answered with RST too (upstream). */
    give_rx(f, 1);
    h = ghdr(71, 71, SQ_VSOCK_OP_RST);
    send_tx(f, &h, NULL, 0);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RST);
}

/* 1023 connections, then guest and host requests are refused. */
static void test_connection_limit(void **state)
{
    struct fx *f = *state;
    static int fds[VSOCK_MAX_CONNECTIONS];
    struct vsock_hdr h;
    int lfd, c;
    uint8_t b[4];

    open_dev(f, 0);
    lfd = listen_port(f, 9);
    for (int i = 0; i < VSOCK_MAX_CONNECTIONS; i++) {
        h = ghdr(10000 + (uint32_t)i, 9, SQ_VSOCK_OP_REQUEST);
        give_rx(f, 1);
        send_tx(f, &h, NULL, 0);
        assert_true(next_rx(f, &h, NULL, 0, NULL));
        assert_int_equal(h.op, SQ_VSOCK_OP_RESPONSE);
        fds[i] = accept_one(lfd);
    }
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)),
                     VSOCK_MAX_CONNECTIONS);
    /* One more from the guest: RST. */
    h = ghdr(9999, 9, SQ_VSOCK_OP_REQUEST);
    give_rx(f, 1);
    send_tx(f, &h, NULL, 0);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RST);
    /* One more from the host: accepted and closed at once. */
    c = client_connect(f);
    pump(f);
    assert_true(readable(c, 2000));
    assert_int_equal(read(c, b, sizeof(b)), 0);
    close(c);
    /* Free one: the next request succeeds. */
    h = ghdr(10000, 9, SQ_VSOCK_OP_RST);
    send_tx(f, &h, NULL, 0);
    h = ghdr(9999, 9, SQ_VSOCK_OP_REQUEST);
    give_rx(f, 1);
    send_tx(f, &h, NULL, 0);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RESPONSE);
    c = accept_one(lfd);
    close(c);
    for (int i = 0; i < VSOCK_MAX_CONNECTIONS; i++)
        close(fds[i]);
    close(lfd);
}

/* Kill timers: a REQUEST the guest never answers, a shutdown whose TX
 * buffer never drains; both are reset once their 2 s passed and a new
 * connection sweeps the kill queue. */
static void test_kill_timeout(void **state)
{
    struct fx *f = *state;
    uint64_t killed = cnt(&mv()->conns_killed);
    static uint8_t chunk[65536];
    struct vsock_hdr h;
    uint32_t lp, rst = 0;
    int c, lfd, s, s2;
    uint8_t b[8];

    open_dev(f, 0);
    /* Host-initiated, never answered. */
    c = client_connect(f);
    write_all(c, "connect 80\n", 11);
    give_rx(f, 1);
    pump(f);
    pump(f);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_REQUEST);
    lp = h.src_port;
    /* Guest-initiated, shut down with data the host never reads. */
    lfd = listen_port(f, 81);
    s = guest_connect(f, lfd, 4000, 81);
    for (int i = 0; i < 8; i++) {
        h = ghdr(4000, 81, SQ_VSOCK_OP_RW);
        send_tx(f, &h, chunk, 32768);
    }
    h = ghdr(4000, 81, SQ_VSOCK_OP_SHUTDOWN);
    h.flags = SQ_VSOCK_FLAGS_SHUTDOWN_RCV | SQ_VSOCK_FLAGS_SHUTDOWN_SEND;
    give_rx(f, 16);
    send_tx(f, &h, NULL, 0);
    while (next_rx(f, &h, NULL, 0, NULL))
        assert_int_not_equal(h.op, SQ_VSOCK_OP_RST);

    /* 1.9 s later nothing happens yet. */
    f->now_ns += 1900000000ULL;
    s2 = guest_connect(f, lfd, 4001, 81);
    assert_int_equal(cnt(&mv()->conns_killed), killed);
    /* At 2.1 s the next connection sweeps both. */
    f->now_ns += 200000000ULL;
    h = ghdr(4002, 81, SQ_VSOCK_OP_REQUEST);
    give_rx(f, 8);
    send_tx(f, &h, NULL, 0);
    assert_int_equal(cnt(&mv()->conns_killed), killed + 2);
    while (next_rx(f, &h, NULL, 0, NULL)) {
        if (h.op == SQ_VSOCK_OP_RST) {
            assert_true((h.src_port == lp && h.dst_port == 80) ||
                        (h.src_port == 81 && h.dst_port == 4000));
            rst++;
        }
    }
    assert_int_equal(rst, 2);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 2);
    assert_true(readable(c, 2000));
    assert_int_equal(read(c, b, sizeof(b)), 0);
    close(c);
    close(s);
    close(s2);
    close(accept_one(lfd));
    close(lfd);
}

/* The CONNECT line: case, split writes, garbage, over-long lines, EOF. */
static void test_connect_line(void **state)
{
    struct fx *f = *state;
    static const char *const bad[] = {
        "CONNECT\n                        ",
        "HELLO  52\n",
        "CONNECT -1\n",
        "CONNECT 4294967296\n",
        "CONNECT 52x\n",
        "CONNECT\xff 52\n",
        "connect 0123456789012345678901234567",
    };
    struct vsock_hdr h;
    uint8_t b[4];
    int c;

    open_dev(f, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = client_connect(f);
        write_all(c, bad[i], strlen(bad[i]));
        pump(f);
        pump(f);
        assert_true(readable(c, 2000));
        /* Closed: end of stream, or a reset when bytes were left unread
         * (the over-long line). */
        if (read(c, b, sizeof(b)) > 0)
            fail_msg("case %zu: still open", i);
        close(c);
    }
    /* EOF before the minimum length. */
    c = client_connect(f);
    write_all(c, "CONN", 4);
    shutdown(c, SHUT_WR);
    pump(f);
    pump(f);
    assert_true(readable(c, 2000));
    assert_int_equal(read(c, b, sizeof(b)), 0);
    close(c);
    assert_int_equal(vsock_muxer_n_pending_streams(vsock_muxer(f->v)), 0);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 0);

    /* Split across writes, mixed case, '+', trailing words: accepted. */
    c = client_connect(f);
    give_rx(f, 1);
    pump(f);
    write_all(c, "CoNnEcT", 7);
    pump(f);
    assert_false(next_rx(f, &h, NULL, 0, NULL));
    write_all(c, "\t+91 extra\nDATA", 15);
    pump(f);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_REQUEST);
    assert_int_equal(h.dst_port, 91);
    /* The bytes after the newline are the first data, not the line's. */
    {
        uint32_t lp = h.src_port;
        char ok[32];
        int n = snprintf(ok, sizeof(ok), "OK %u\n", lp);

        h = ghdr(91, lp, SQ_VSOCK_OP_RESPONSE);
        send_tx(f, &h, NULL, 0);
        read_all(c, b, 3);
        assert_memory_equal(b, ok, 3);
        {
            char rest[32];

            read_all(c, rest, (size_t)n - 3);
        }
        give_rx(f, 1);
        pump(f);
        {
            uint8_t d[8];

            assert_true(next_rx(f, &h, d, sizeof(d), NULL));
            assert_int_equal(h.op, SQ_VSOCK_OP_RW);
            assert_int_equal(h.len, 4);
            assert_memory_equal(d, "DATA", 4);
        }
    }
    close(c);
}

/* ---- hostile guests ------------------------------------------------------ */

static void test_hostile_tx(void **state)
{
    struct fx *f = *state;
    uint8_t *p = NULL;
    struct vsock_hdr h;
    uint32_t lp;
    int c, lfd;
    uint8_t b[8];

    open_dev(f, 0);
    lfd = listen_port(f, 100);
    c = host_connect(f, 50, &lp);
    give_rx(f, 32);
    /* Header that does not fit: 43 bytes. */
    {
        struct dsc ds[1] = {{TXBUF, 43, 0}};

        publish(f, TXQ, ds, 1);
    }
    /* Lying len: more than the buffer. */
    h = ghdr(50, lp, SQ_VSOCK_OP_RW);
    h.len = 100;
    p = g2h(&f->mem, TXBUF + 0x1000, 64);
    vsock_hdr_encode(&h, p);
    {
        struct dsc ds[1] = {{TXBUF + 0x1000, 64, 0}};

        publish(f, TXQ, ds, 1);
    }
    /* len above 64 KiB with a chain that holds it. */
    h.len = VSOCK_MAX_PKT_BUF_SIZE + 1;
    p = g2h(&f->mem, TXBUF + 0x20000, 44);
    vsock_hdr_encode(&h, p);
    {
        struct dsc ds[1] = {{TXBUF + 0x20000, 0x11000, 0}};

        publish(f, TXQ, ds, 1);
    }
    /* Write-only TX descriptor, a zero-length buffer first, a chain
     * outside RAM, a chain running past the end of RAM. */
    {
        struct dsc w[1] = {{TXBUF, 64, F_W}};
        struct dsc z[2] = {{TXBUF, 0, 0}, {TXBUF + 0x3000, 44, F_W}};
        struct dsc o[1] = {{MEM_SIZE + 0x1000, 64, 0}};
        struct dsc e[1] = {{MEM_SIZE - 16, 64, 0}};

        publish(f, TXQ, w, 1);
        publish(f, TXQ, z, 2);
        publish(f, TXQ, o, 1);
        publish(f, TXQ, e, 1);
    }
    virtio_mmio_notify(tp(f), TXQ);
    /* The RESPONSE of host_connect() was the first. */
    assert_int_equal(drv_used_idx(&f->d[TXQ]), 8);
    for (uint16_t i = 1; i < 8; i++) {
        uint32_t id, len;

        drv_used_elem(&f->d[TXQ], i, &id, &len);
        assert_int_equal(len, 0);
    }
    /* Nothing reached the host and the connection lives. */
    assert_false(readable(c, 0));
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 1);
    assert_false(next_rx(f, &h, NULL, 0, NULL));

    /* A header split over zero-length and tiny buffers still parses. */
    h = ghdr(50, lp, SQ_VSOCK_OP_RW);
    h.len = 3;
    p = g2h(&f->mem, TXBUF + 0x5000, 64);
    vsock_hdr_encode(&h, p);
    memcpy(p + 44, "abc", 3);
    {
        struct dsc ds[4] = {{TXBUF + 0x5000, 0, 0},
                            {TXBUF + 0x5000, 10, 0},
                            {TXBUF + 0x500a, 35, 0},
                            {TXBUF + 0x502d, 2, 0}};

        publish(f, TXQ, ds, 4);
        virtio_mmio_notify(tp(f), TXQ);
    }
    read_all(c, b, 3);
    assert_memory_equal(b, "abc", 3);

    /* Wrong destination CID: dropped silently. */
    h = ghdr(50, lp, SQ_VSOCK_OP_RW);
    h.dst_cid = 77;
    send_tx(f, &h, "zz", 2);
    assert_false(readable(c, 0));
    assert_false(next_rx(f, &h, NULL, 0, NULL));
    /* Wrong source CID: upstream does not look at it. */
    h = ghdr(50, lp, SQ_VSOCK_OP_RW);
    h.src_cid = 12345;
    send_tx(f, &h, "yy", 2);
    read_all(c, b, 2);
    assert_memory_equal(b, "yy", 2);
    /* Unknown op on a live stream: dropped. */
    h = ghdr(50, lp, 99);
    send_tx(f, &h, NULL, 0);
    assert_false(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 1);
    /* Unknown op / type on unknown streams: RST. */
    h = ghdr(51, 51, 99);
    send_tx(f, &h, NULL, 0);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RST);
    h = ghdr(50, lp, SQ_VSOCK_OP_RW);
    h.type = 2; /* SEQPACKET */
    send_tx(f, &h, "q", 1);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RST);
    assert_int_equal(h.src_port, lp);
    /* RESPONSE for an established stream, REQUEST for a live one. */
    h = ghdr(50, lp, SQ_VSOCK_OP_RESPONSE);
    send_tx(f, &h, NULL, 0);
    h = ghdr(50, lp, SQ_VSOCK_OP_REQUEST);
    send_tx(f, &h, NULL, 0);
    assert_false(next_rx(f, &h, NULL, 0, NULL));
    /* Empty RW: dropped. */
    h = ghdr(50, lp, SQ_VSOCK_OP_RW);
    send_tx(f, &h, NULL, 0);
    assert_false(readable(c, 0));
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 1);
    close(c);
    close(lfd);
}

static void test_hostile_rx(void **state)
{
    struct fx *f = *state;
    struct vsock_hdr h;
    uint32_t lp, id, len;
    uint8_t d[8];
    int c;

    open_dev(f, 0);
    c = host_connect(f, 50, &lp);
    write_all(c, "data", 4);
    /* Read-only, too short, outside RAM, then a good one. */
    {
        struct dsc ro[1] = {{RXBUF, RX_BUF_LEN, 0}};
        struct dsc sh[2] = {{RXBUF, 20, F_W}, {RXBUF + 20, 23, F_W}};
        struct dsc out[1] = {{MEM_SIZE, RX_BUF_LEN, F_W}};

        publish(f, RXQ, ro, 1);
        publish(f, RXQ, sh, 2);
        publish(f, RXQ, out, 1);
    }
    give_rx(f, 1);
    pump(f);
    for (int i = 0; i < 3; i++) {
        assert_true(next_rx(f, &h, NULL, 0, &len));
        assert_int_equal(len, 0);
    }
    assert_true(next_rx(f, &h, d, sizeof(d), NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RW);
    assert_memory_equal(d, "data", 4);
    drv_used_elem(&f->d[RXQ], 4, &id, &len);
    assert_int_equal(len, 48);
    close(c);
}

static void test_corrupt_ring_and_storm(void **state)
{
    struct fx *f = *state;
    struct vsock_hdr h;
    uint32_t lp;
    int c;

    open_dev(f, F_EI);
    c = host_connect(f, 50, &lp);
    /* A storm of notifications with nothing to do. */
    for (int i = 0; i < 20000; i++)
        virtio_mmio_notify(tp(f), (uint16_t)(i % 3));
    drv_irqs(&f->d[0]);
    for (int i = 0; i < 1000; i++)
        virtio_mmio_notify(tp(f), (uint16_t)(i % 3));
    assert_int_equal(drv_irqs(&f->d[0]), 0);
    /* Notifications for queues that do not exist. */
    virtio_mmio_notify(tp(f), 5);
    /* The data path still works. */
    h = ghdr(50, lp, SQ_VSOCK_OP_RW);
    send_tx(f, &h, "ok", 2);
    {
        uint8_t b[2];

        read_all(c, b, 2);
    }
    /* A corrupt avail index: NEEDS_RESET. */
    drv_set_avail_idx(&f->d[TXQ], 999);
    virtio_mmio_notify(tp(f), TXQ);
    assert_true(reg_rd(tp(f), 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
    close(c);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void test_transport_reset_event(void **state)
{
    struct fx *f = *state;
    uint64_t fails = cnt(&mv()->ev_queue_event_fails);
    struct vsock_hdr h;
    uint32_t lp, id, len;
    uint8_t *ev;
    int c;

    fx_new(f, GUEST_CID);
    assert_int_equal(vsock_send_transport_reset(f->v), -ENODEV);
    fx_start(f, F_EI);
    /* No event buffer. */
    assert_int_equal(vsock_send_transport_reset(f->v), -ENOBUFS);
    assert_int_equal(cnt(&mv()->ev_queue_event_fails), fails + 1);
    c = host_connect(f, 50, &lp);
    ev = g2h(&f->mem, 0x900000, 4);
    memset(ev, 0xff, 4);
    {
        struct dsc ds[1] = {{0x900000, 4, F_W}};

        publish(f, EVQ, ds, 1);
    }
    drv_irqs(&f->d[0]);
    assert_int_equal(vsock_send_transport_reset(f->v), 0);
    assert_int_equal(drv_irqs(&f->d[0]), 1);
    assert_int_equal(drv_used_idx(&f->d[EVQ]), 1);
    drv_used_elem(&f->d[EVQ], 0, &id, &len);
    assert_int_equal(len, 4);
    assert_int_equal(ev[0] | ev[1] | ev[2] | ev[3], 0);
    /* avail_event armed for the driver's refill. */
    assert_int_equal(drv_avail_event(&f->d[EVQ]), 1);
    /* RX waits for the acknowledgement. */
    write_all(c, "held", 4);
    give_rx(f, 2);
    pump(f);
    virtio_mmio_notify(tp(f), RXQ);
    assert_false(next_rx(f, &h, NULL, 0, NULL));
    virtio_mmio_notify(tp(f), EVQ);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RW);
    close(c);
}

/* The kind's snapshot hooks: saving an inactive device sends nothing;
 * saving an active one puts TRANSPORT_RESET in the driver's event buffer
 * first (upstream sends it at snapshot creation), and the state says it
 * waits for the acknowledgement; a device built with the same CID takes
 * the state back, one with another CID refuses it. */
static void test_snapshot_hooks(void **state)
{
    struct fx *f = *state;
    struct vsock_state s;
    struct vsock *other;
    struct vsock_params p = {.guest_cid = GUEST_CID + 1};
    struct buf b = BUF_INIT;
    struct sq_err err;
    uint32_t id, len;
    uint8_t *ev;

    fx_new(f, GUEST_CID);
    sq_err_clear(&err);
    assert_int_equal(vdev_vsock_save(f->v, &b, &err), 0);
    assert_int_equal(
        vdev_vsock_state_decode((uint8_t *)b.data, b.len, &s, &err), 0);
    assert_int_equal(s.guest_cid, GUEST_CID);
    assert_false(s.pending_event_ack);
    buf_reset(&b);

    fx_start(f, F_EI);
    ev = g2h(&f->mem, 0x900000, 4);
    memset(ev, 0xff, 4);
    {
        struct dsc ds[1] = {{0x900000, 4, F_W}};

        publish(f, EVQ, ds, 1);
    }
    assert_int_equal(vdev_vsock_save(f->v, &b, &err), 0);
    assert_int_equal(drv_used_idx(&f->d[EVQ]), 1);
    drv_used_elem(&f->d[EVQ], 0, &id, &len);
    assert_int_equal(len, 4);
    assert_int_equal(ev[0] | ev[1] | ev[2] | ev[3], 0);
    assert_int_equal(
        vdev_vsock_state_decode((uint8_t *)b.data, b.len, &s, &err), 0);
    assert_true(s.pending_event_ack);
    /* No event buffer left: saved all the same (upstream logs it). */
    buf_reset(&b);
    assert_int_equal(vdev_vsock_save(f->v, &b, &err), 0);

    /* Into the same device (its CID) and into one with another CID. */
    assert_int_equal(vdev_vsock_restore(f->v, (uint8_t *)b.data, b.len, &err),
                     0);
    assert_int_equal(
        vdev_vsock_restore(f->v, (uint8_t *)b.data, b.len - 1, &err), -EBADMSG);
    p.listen_fd = f->listen_fd;
    p.uds_path = f->uds;
    assert_int_equal(vsock_new(&p, &other, &err), 0);
    sq_err_clear(&err);
    assert_int_equal(vdev_vsock_restore(other, (uint8_t *)b.data, b.len, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "saved guest CID"));
    vsock_free(other);
    buf_fini(&b);
}

static void test_reset_reactivate(void **state)
{
    struct fx *f = *state;
    struct vsock_hdr h;
    uint32_t lp;
    uint8_t b[4];
    int c, c2;

    open_dev(f, 0);
    c = host_connect(f, 50, &lp);
    c2 = client_connect(f); /* pending line */
    pump(f);
    assert_int_equal(vsock_muxer_n_pending_streams(vsock_muxer(f->v)), 1);
    reg_wr(tp(f), 0x70, 0);
    assert_int_equal(reg_rd(tp(f), 0x70), 0);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 0);
    assert_int_equal(vsock_muxer_n_pending_streams(vsock_muxer(f->v)), 0);
    assert_int_equal(read(c, b, sizeof(b)), 0);
    assert_int_equal(read(c2, b, sizeof(b)), 0);
    close(c);
    close(c2);
    /* Not active: nothing is accepted; events are harmless. */
    c = client_connect(f);
    pump(f);
    assert_int_equal(vsock_muxer_n_pending_streams(vsock_muxer(f->v)), 0);
    /* Re-activation: the waiting client is served, ports start over. */
    fx_start(f, F_EI);
    write_all(c, "CONNECT 51\n", 11);
    give_rx(f, 1);
    pump(f);
    pump(f);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_REQUEST);
    assert_int_equal(h.src_port, 1u << 30);
    close(c);
}

/* Open and close many connections both ways: no fd stays behind. */
static void test_no_fd_leak(void **state)
{
    struct fx *f = *state;
    unsigned before;
    struct vsock_hdr h;
    int lfd;

    open_dev(f, 0);
    lfd = listen_port(f, 5);
    before = count_fds();
    for (uint32_t i = 0; i < 600; i++) {
        uint32_t lp;
        int c = host_connect(f, 40 + (i % 7), &lp);
        int s = guest_connect(f, lfd, 20000 + i, 5);

        /* Close one from each side. */
        close(c);
        give_rx(f, 1);
        pump(f);
        assert_true(next_rx(f, &h, NULL, 0, NULL));
        assert_int_equal(h.op, SQ_VSOCK_OP_SHUTDOWN);
        h = ghdr(40 + (i % 7), lp, SQ_VSOCK_OP_RST);
        send_tx(f, &h, NULL, 0);
        h = ghdr(20000 + i, 5, SQ_VSOCK_OP_SHUTDOWN);
        h.flags = SQ_VSOCK_FLAGS_SHUTDOWN_RCV | SQ_VSOCK_FLAGS_SHUTDOWN_SEND;
        give_rx(f, 1);
        send_tx(f, &h, NULL, 0);
        assert_true(next_rx(f, &h, NULL, 0, NULL));
        assert_int_equal(h.op, SQ_VSOCK_OP_RST);
        close(s);
        /* Malformed clients too. */
        if (i % 50 == 0) {
            int b = client_connect(f);

            write_all(b, "nope nope\n", 10);
            pump(f);
            pump(f);
            close(b);
        }
    }
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 0);
    assert_int_equal(count_fds(), before);
    close(lfd);
}

static void test_local_ports(void **state)
{
    struct fx *f = *state;
    uint32_t lp1, lp2, lp3;
    struct vsock_hdr h;
    int c1, c2, c3;

    open_dev(f, 0);
    c1 = host_connect(f, 50, &lp1);
    c2 = host_connect(f, 50, &lp2);
    assert_int_equal(lp1, 1u << 30);
    assert_int_equal(lp2, (1u << 30) + 1);
    h = ghdr(50, lp1, SQ_VSOCK_OP_RST);
    send_tx(f, &h, NULL, 0);
    /* Round robin: the freed port is not reused next. */
    c3 = host_connect(f, 50, &lp3);
    assert_int_equal(lp3, (1u << 30) + 2);
    close(c1);
    close(c2);
    close(c3);
}

/* Upstream's muxer RX queue test: 256 RESPONSEs fill the queue, one more
 * unsyncs it, an RST evicts the newest, and a rebuild finds the rest. */
static void test_rxq_sync(void **state)
{
    struct fx *f = *state;
    static int fds[VSOCK_MUXER_RXQ_SIZE + 1];
    struct vsock_hdr h;
    int lfd;

    open_dev(f, 0);
    lfd = listen_port(f, 1026);
    for (uint32_t i = 0; i <= VSOCK_MUXER_RXQ_SIZE; i++) {
        h = ghdr(1025 + i, 1026, SQ_VSOCK_OP_REQUEST);
        send_tx(f, &h, NULL, 0);
        fds[i] = accept_one(lfd);
        assert_int_equal(vsock_muxer_rxq_synced(vsock_muxer(f->v)),
                         i < VSOCK_MUXER_RXQ_SIZE);
    }
    h = ghdr(1025, 1027, SQ_VSOCK_OP_REQUEST); /* nobody listens: RST */
    send_tx(f, &h, NULL, 0);
    give_rx(f, 255);
    virtio_mmio_notify(tp(f), RXQ);
    for (uint32_t i = 0; i < VSOCK_MUXER_RXQ_SIZE - 1; i++) {
        assert_true(next_rx(f, &h, NULL, 0, NULL));
        assert_int_equal(h.op, SQ_VSOCK_OP_RESPONSE);
        assert_int_equal(h.dst_port, 1025 + i);
    }
    give_rx(f, 8);
    virtio_mmio_notify(tp(f), RXQ);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RST);
    assert_int_equal(h.src_port, 1027);
    for (int i = 0; i < 2; i++) {
        assert_true(next_rx(f, &h, NULL, 0, NULL));
        assert_int_equal(h.op, SQ_VSOCK_OP_RESPONSE);
    }
    assert_false(next_rx(f, &h, NULL, 0, NULL));
    assert_true(vsock_muxer_rxq_synced(vsock_muxer(f->v)));
    assert_false(vsock_muxer_has_pending_rx(vsock_muxer(f->v)));
    for (uint32_t i = 0; i <= VSOCK_MUXER_RXQ_SIZE; i++)
        close(fds[i]);
    close(lfd);
}

/* Upstream's muxer kill queue test: 129 connections closed by the host
 * overflow the 128-entry queue; after the timeout, a new connection
 * sweeps it, resyncs it, and 128 RSTs go out before its RESPONSE. */
static void test_killq_sync(void **state)
{
    struct fx *f = *state;
    uint64_t killed = cnt(&mv()->conns_killed);
    uint64_t resync = cnt(&mv()->killq_resync);
    uint64_t removed = cnt(&mv()->conns_removed);
    struct vsock_hdr h;
    int lfd;

    open_dev(f, 0);
    lfd = listen_port(f, 1026);
    for (uint32_t i = 0; i <= VSOCK_MUXER_KILLQ_SIZE; i++) {
        close(guest_connect(f, lfd, 1025 + i, 1026));
        give_rx(f, 1);
        pump(f);
        assert_true(next_rx(f, &h, NULL, 0, NULL));
        assert_int_equal(h.op, SQ_VSOCK_OP_SHUTDOWN);
        assert_int_equal(h.dst_port, 1025 + i);
        assert_int_equal(vsock_muxer_killq_synced(vsock_muxer(f->v)),
                         i < VSOCK_MUXER_KILLQ_SIZE);
    }
    assert_false(vsock_muxer_has_pending_rx(vsock_muxer(f->v)));
    f->now_ns += VSOCK_CONN_SHUTDOWN_TIMEOUT_NS + 1;
    h = ghdr(1025 + VSOCK_MUXER_KILLQ_SIZE + 1, 1026, SQ_VSOCK_OP_REQUEST);
    send_tx(f, &h, NULL, 0);
    close(accept_one(lfd));
    assert_int_equal(cnt(&mv()->conns_killed), killed + VSOCK_MUXER_KILLQ_SIZE);
    assert_int_equal(cnt(&mv()->conns_removed), removed);
    assert_int_equal(cnt(&mv()->killq_resync), resync + 1);
    assert_true(vsock_muxer_killq_synced(vsock_muxer(f->v)));
    give_rx(f, VSOCK_MUXER_KILLQ_SIZE + 1);
    virtio_mmio_notify(tp(f), RXQ);
    for (uint32_t i = 0; i < VSOCK_MUXER_KILLQ_SIZE; i++) {
        assert_true(next_rx(f, &h, NULL, 0, NULL));
        assert_int_equal(h.op, SQ_VSOCK_OP_RST);
        assert_int_equal(h.src_port, 1026);
    }
    assert_int_equal(cnt(&mv()->conns_removed),
                     removed + VSOCK_MUXER_KILLQ_SIZE);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RESPONSE);
    assert_int_equal(h.dst_port, 1025 + VSOCK_MUXER_KILLQ_SIZE + 1);
    assert_false(vsock_muxer_has_pending_rx(vsock_muxer(f->v)));
    close(lfd);
}

/* On a real loop: the muxer's epoll fd is what the vmm loop watches. */
static void test_on_loop(void **state)
{
    struct fx *f = *state;
    struct evloop *loop = evloop_new();
    struct vsock_params p = {.guest_cid = GUEST_CID, .uds_path = f->uds};
    struct vsock_hdr h;
    struct sq_err err;
    int c;

    assert_non_null(loop);
    f->listen_fd = listen_at(f->uds);
    p.listen_fd = f->listen_fd;
    sq_err_clear(&err);
    assert_int_equal(vsock_new(&p, &f->v, &err), 0);
    /* The device keeps its own copy of the listening socket. */
    close(f->listen_fd);
    f->listen_fd = -1;
    assert_int_equal(vsock_attach(f->v, &f->mem.gm, -1, 0xc0003000, loop), 0);
    fx_start(f, F_EI);
    c = client_connect(f);
    write_all(c, "CONNECT 3\n", 10);
    give_rx(f, 1);
    for (int i = 0; i < 10 && drv_used_idx(&f->d[RXQ]) == 0; i++)
        assert_true(evloop_run_once(loop, 100) >= 0);
    assert_true(next_rx(f, &h, NULL, 0, NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_REQUEST);
    assert_int_equal(h.dst_port, 3);
    /* Queue notifications arrive through the queue eventfds too. */
    h = ghdr(3, h.src_port, SQ_VSOCK_OP_RESPONSE);
    queue_tx(f, &h, NULL, 0);
    evloop_eventfd_signal(tp(f)->queue_fd[TXQ]);
    assert_true(evloop_run_once(loop, 100) >= 1);
    {
        char ok[16];

        read_all(c, ok, 3);
        assert_memory_equal(ok, "OK ", 3);
    }
    vsock_detach(f->v);
    vsock_detach(f->v); /* idempotent */
    vsock_free(f->v);
    f->v = NULL;
    evloop_free(loop);
    close(c);
}

/* EVENT_IDX: with no RX buffers the device asks to be told of new ones
 * and resumes on the RX notification; used_event suppresses interrupts. */
static void test_event_idx(void **state)
{
    struct fx *f = *state;
    struct vsock_hdr h;
    uint8_t d[8];
    uint32_t lp;
    int c;

    open_dev(f, F_EI | 1ULL << SQ_VIRTIO_F_IN_ORDER);
    assert_true(virtio_mmio_has_feature(tp(f), SQ_VIRTIO_F_IN_ORDER));
    c = host_connect(f, 50, &lp);
    write_all(c, "wait", 4);
    pump(f);
    assert_false(next_rx(f, &h, NULL, 0, NULL));
    /* avail_event names the next entry the device will look at. */
    assert_int_equal(drv_avail_event(&f->d[RXQ]), f->d[RXQ].avail_idx);
    /* The guest wants no interrupt until used index 100. */
    drv_set_used_event(&f->d[RXQ], 100);
    drv_irqs(&f->d[0]);
    give_rx(f, 1);
    virtio_mmio_notify(tp(f), RXQ);
    assert_true(next_rx(f, &h, d, sizeof(d), NULL));
    assert_int_equal(h.op, SQ_VSOCK_OP_RW);
    assert_memory_equal(d, "wait", 4);
    assert_int_equal(drv_irqs(&f->d[0]), 0);
    /* Asking for the next one: interrupt. */
    drv_set_used_event(&f->d[RXQ], drv_used_idx(&f->d[RXQ]));
    write_all(c, "more", 4);
    give_rx(f, 1);
    pump(f);
    assert_true(next_rx(f, &h, d, sizeof(d), NULL));
    assert_int_equal(drv_irqs(&f->d[0]), 1);
    close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_config, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_new_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_host_initiated, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_guest_initiated, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_credit_guest_to_host, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_credit_host_to_guest, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rst, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_kill_timeout, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_connect_line, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_tx, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_rx, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_ring_and_storm, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_hooks, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_transport_reset_event, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_reset_reactivate, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_fd_leak, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_local_ports, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_rxq_sync, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_on_loop, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_event_idx, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_killq_sync, fx_setup, fx_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
