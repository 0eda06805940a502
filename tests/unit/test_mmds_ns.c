/*
 * test_mmds_ns.c: the MMDS network stack as the guest sees it (digest 8.2;
 * src/mmds/ns.c over the TCP connection, endpoint and handler): ARP
 * replies, the TCP handshake, requests handed to the HTTP callback and
 * answers cut to the MSS and the guest's window, FIN and RST, the limit of
 * 30 connections with eviction, retransmission, malformed and foreign
 * frames. Guest frames are built here with the test's own checksum code;
 * every frame the stack writes is checked byte by byte against it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"
#include "mmds/ns.h"

#define MMDS_IP  0xa9fea9feu /* 169.254.169.254 */
#define GUEST_IP 0xa9fe0001u /* 169.254.0.1 */
#define ISN_SEED 1

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t mmds_mac[6] = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};

struct fixture {
    struct mmds_ns *ns;
    uint64_t now;
    size_t n_reqs;
    char last_req[4096];
    size_t resp_len; /* body bytes the callback answers with */
};

static uint64_t clock_fn(void *opaque)
{
    return ((struct fixture *)opaque)->now;
}

/* The trivial HTTP side: records the request, answers resp_len bytes of a
 * counting pattern. */
static void http_fn(void *opaque, const uint8_t *req, size_t len,
                    struct buf *resp)
{
    struct fixture *f = opaque;

    assert_int_equal(resp->len, 0);
    f->n_reqs++;
    memcpy(f->last_req, req, len < sizeof(f->last_req) ? len : 0);
    f->last_req[len < sizeof(f->last_req) ? len : 0] = '\0';
    for (size_t i = 0; i < f->resp_len; i++)
        buf_putc(resp, (char)('a' + i % 26));
}

static int setup(void **state)
{
    static struct fixture f;

    memset(&f, 0, sizeof(f));
    f.now = 1000000000ull;
    f.resp_len = 10;
    f.ns = mmds_ns_new(MMDS_IP, NULL, http_fn, &f);
    mmds_ns_set_clock(f.ns, clock_fn, &f, ISN_SEED);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    mmds_ns_free(f->ns);
    return 0;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
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

/* RFC 1071, written independently of src/mmds/. */
static uint16_t csum(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i < n; i++)
        s += (i % 2) ? p[i] : (uint32_t)p[i] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static uint32_t pseudo(uint32_t src, uint32_t dst, size_t len)
{
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 +
           (uint32_t)len;
}

struct seg {
    uint32_t src_ip, dst_ip;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t window;
    uint16_t mss; /* 0: no option */
    const void *data;
    size_t len;
};

/* Build a guest frame for s into f; returns its length. */
static size_t frame(uint8_t *f, const struct seg *s)
{
    size_t opt = s->mss ? 4 : 0, tcp_len = 20 + opt + s->len;
    uint8_t *ip = f + 14, *t = ip + 20;

    memcpy(f, mmds_mac, 6);
    memcpy(f + 6, guest_mac, 6);
    put16(f + 12, 0x0800);
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + tcp_len));
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, s->src_ip ? s->src_ip : GUEST_IP);
    put32(ip + 16, s->dst_ip ? s->dst_ip : MMDS_IP);
    put16(ip + 10, csum(ip, 20, 0));
    memset(t, 0, 20 + opt);
    put16(t, s->sport ? s->sport : 40000);
    put16(t + 2, s->dport ? s->dport : 80);
    put32(t + 4, s->seq);
    put32(t + 8, s->ack);
    t[12] = (uint8_t)((20 + opt) << 2);
    t[13] = s->flags;
    put16(t + 14, s->window ? s->window : 64000);
    if (s->mss) {
        t[20] = 2;
        t[21] = 4;
        put16(t + 22, s->mss);
    }
    if (s->len)
        memcpy(t + 20 + opt, s->data, s->len);
    put16(t + 16,
          csum(t, tcp_len, pseudo(get32(ip + 12), get32(ip + 16), tcp_len)));
    return 14 + 20 + tcp_len;
}

/* Offer a frame placed at the end of a guard page. */
static bool offer(struct fixture *f, const uint8_t *p, size_t n)
{
    struct guarded g;
    bool taken;

    guard_init(&g, (const char *)p, n);
    taken = mmds_ns_detour_frame(f->ns, (const uint8_t *)g.p, n);
    guard_fini(&g);
    return taken;
}

static bool send_seg(struct fixture *f, const struct seg *s)
{
    uint8_t b[4000];

    return offer(f, b, frame(b, s));
}

/* A TCP segment the stack wrote, checked for well-formedness. */
struct out {
    size_t len;
    uint16_t dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t window;
    uint16_t mss;
    const uint8_t *data;
    size_t data_len;
    uint8_t raw[2000];
};

static bool next_seg(struct fixture *f, struct out *o)
{
    const uint8_t *ip = o->raw + 14, *t = ip + 20;
    size_t tcp_len;

    memset(o, 0, offsetof(struct out, raw));
    o->len = mmds_ns_write_next_frame(f->ns, o->raw, sizeof(o->raw));
    if (!o->len)
        return false;
    assert_memory_equal(o->raw, guest_mac, 6);
    assert_memory_equal(o->raw + 6, mmds_mac, 6);
    assert_int_equal(get16(o->raw + 12), 0x0800);
    assert_int_equal(ip[0], 0x45);
    assert_int_equal(get16(ip + 2), o->len - 14);
    assert_int_equal(ip[8], 1); /* upstream's TTL */
    assert_int_equal(ip[9], 6);
    assert_int_equal(csum(ip, 20, 0), 0);
    assert_int_equal(get32(ip + 12), MMDS_IP);
    tcp_len = o->len - 34;
    assert_int_equal(csum(t, tcp_len, pseudo(MMDS_IP, get32(ip + 16), tcp_len)),
                     0);
    assert_int_equal(get16(t), 80);
    o->dport = get16(t + 2);
    o->seq = get32(t + 4);
    o->ack = get32(t + 8);
    o->flags = t[13];
    o->window = get16(t + 14);
    if ((t[12] >> 4) == 6) {
        assert_int_equal(t[20], 2);
        assert_int_equal(t[21], 4);
        o->mss = get16(t + 22);
    } else {
        assert_int_equal(t[12], 0x50);
    }
    o->data = t + (t[12] >> 4) * 4;
    o->data_len = tcp_len - (size_t)(t[12] >> 4) * 4;
    return true;
}

static void expect_nothing(struct fixture *f)
{
    uint8_t b[2000];

    assert_false(mmds_ns_has_frame(f->ns));
    assert_int_equal(mmds_ns_write_next_frame(f->ns, b, sizeof(b)), 0);
}

/* SYN (MSS mss, window win) and the ACK of the SYN/ACK; returns the
 * stack's ISN + 1. The guest's ISN is 1000. */
static uint32_t connect_port(struct fixture *f, uint16_t port, uint16_t mss,
                             uint16_t win)
{
    struct seg syn = {
        .sport = port, .seq = 1000, .flags = 0x02, .mss = mss, .window = win};
    struct out o;

    assert_true(send_seg(f, &syn));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x12);
    assert_int_equal(o.ack, 1001);
    assert_int_equal(o.dport, port);
    syn.flags = 0x10;
    syn.mss = 0;
    syn.seq = 1001;
    syn.ack = o.seq + 1;
    assert_true(send_seg(f, &syn));
    return o.seq + 1;
}

static void test_arp_reply(void **state)
{
    static const uint8_t req[42] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34,
        0x56, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xa9, 0xfe, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0xa9, 0xfe, 0xa9, 0xfe,
    };
    static const uint8_t reply[42] = {
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x06, 0x01, 0x23, 0x45, 0x67,
        0x01, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
        0x06, 0x01, 0x23, 0x45, 0x67, 0x01, 0xa9, 0xfe, 0xa9, 0xfe, 0x52,
        0x54, 0x00, 0x12, 0x34, 0x56, 0xa9, 0xfe, 0x00, 0x01,
    };
    struct fixture *f = *state;
    uint8_t b[64], r[42];

    assert_true(mmds_ns_is_mmds_frame(f->ns, req, sizeof(req)));
    assert_true(offer(f, req, sizeof(req)));
    assert_true(mmds_ns_has_frame(f->ns));
    /* too small a buffer: counted, the reply stays pending */
    assert_int_equal(mmds_ns_write_next_frame(f->ns, b, 41), 0);
    assert_int_equal(mmds_ns_stats(f->ns)->tx_errors, 1);
    assert_int_equal(mmds_ns_write_next_frame(f->ns, b, sizeof(b)), 42);
    assert_memory_equal(b, reply, 42);
    expect_nothing(f);

    /* another address, an ARP reply, a padded request: not the MMDS's */
    memcpy(r, req, 42);
    r[41] = 0xfd;
    assert_false(mmds_ns_is_mmds_frame(f->ns, r, 42));
    assert_false(offer(f, r, 42));
    memcpy(r, req, 42);
    r[21] = 2;
    assert_false(offer(f, r, 42));
    memcpy(b, req, 42);
    memset(b + 42, 0, 18);
    assert_false(offer(f, b, 60));
    /* truncated */
    assert_false(offer(f, req, 41));
    assert_false(offer(f, req, 13));
    assert_int_equal(mmds_ns_stats(f->ns)->rx_bad_eth, 1);
    assert_int_equal(mmds_ns_stats(f->ns)->rx_accepted, 1);
    expect_nothing(f);
}

static void test_handshake(void **state)
{
    struct fixture *f = *state;
    struct seg syn = {
        .seq = 0xfffffff0, .flags = 0x02, .mss = 1460, .window = 29200};
    struct out o;

    assert_true(send_seg(f, &syn));
    assert_int_equal(mmds_ns_n_conns(f->ns), 1);
    assert_int_equal(mmds_ns_stats(f->ns)->connections_created, 1);
    assert_true(next_seg(f, &o));
    assert_int_equal(o.len, 14 + 20 + 24);
    assert_int_equal(o.flags, 0x12);
    assert_int_equal(o.ack, 0xfffffff1);
    assert_int_equal(o.mss, 1460); /* upstream echoes the guest's MSS */
    assert_int_equal(o.window, 2500);
    assert_int_equal(o.dport, 40000);
    assert_int_equal(o.data_len, 0);
    expect_nothing(f);

    /* a retransmitted SYN brings the SYN/ACK again */
    assert_true(send_seg(f, &syn));
    {
        struct out o2;

        assert_true(next_seg(f, &o2));
        assert_int_equal(o2.flags, 0x12);
        assert_int_equal(o2.seq, o.seq);
    }
    syn.flags = 0x10;
    syn.mss = 0;
    syn.seq = 0xfffffff1;
    syn.ack = o.seq + 1;
    assert_true(send_seg(f, &syn));
    expect_nothing(f);
    assert_int_equal(mmds_ns_n_conns(f->ns), 1);
}

static void test_synack_timeout(void **state)
{
    struct fixture *f = *state;
    struct seg syn = {.seq = 5, .flags = 0x02};
    struct out o;

    assert_true(send_seg(f, &syn));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.mss, 536); /* no option: upstream's default */
    expect_nothing(f);
    f->now += 1200000000ull; /* the SYN/ACK is sent again */
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x12);
    for (int i = 0; i < 13; i++) {
        f->now += 1200000000ull;
        assert_true(next_seg(f, &o));
        assert_int_equal(o.flags, 0x12);
    }
    /* the 15th timeout resets: RST|ACK acknowledging the SYN */
    f->now += 1200000000ull;
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x14);
    assert_int_equal(o.seq, 0);
    assert_int_equal(o.ack, 6);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
    assert_int_equal(mmds_ns_stats(f->ns)->connections_destroyed, 1);
}

static const char req1[] = "GET /latest/meta-data HTTP/1.1\r\n"
                           "Host: 169.254.169.254\r\n\r\n";

static void test_request_response(void **state)
{
    struct fixture *f = *state;
    uint32_t iss = connect_port(f, 40000, 1460, 64000);
    struct seg d = {.seq = 1001,
                    .ack = iss,
                    .flags = 0x18,
                    .data = req1,
                    .len = sizeof(req1) - 1};
    struct out o;

    f->resp_len = 100;
    /* the request in two pieces: nothing happens until the blank line */
    d.len = 20;
    assert_true(send_seg(f, &d));
    assert_int_equal(f->n_reqs, 0);
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x10); /* a bare ACK */
    assert_int_equal(o.ack, 1021);
    assert_int_equal(o.window, 2500 - 20);
    d.seq = 1021;
    d.data = req1 + 20;
    d.len = sizeof(req1) - 1 - 20;
    assert_true(send_seg(f, &d));
    assert_int_equal(f->n_reqs, 1);
    assert_string_equal(f->last_req, req1);
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x10);
    assert_int_equal(o.seq, iss);
    assert_int_equal(o.ack, 1001 + sizeof(req1) - 1);
    assert_int_equal(o.window, 2500); /* the request left the buffer */
    assert_int_equal(o.data_len, 100);
    assert_memory_equal(o.data, "abcdefghij", 10);
    expect_nothing(f);
}

static void test_segmentation(void **state)
{
    struct fixture *f = *state;
    uint32_t iss = connect_port(f, 40000, 536, 64000);
    struct seg d = {.seq = 1001,
                    .ack = iss,
                    .flags = 0x18,
                    .data = req1,
                    .len = sizeof(req1) - 1};
    size_t sizes[4] = {0}, n = 0, total = 0;
    struct out o;

    f->resp_len = 1200;
    assert_true(send_seg(f, &d));
    while (next_seg(f, &o)) {
        assert_true(n < 4);
        assert_int_equal(o.seq, iss + total);
        for (size_t i = 0; i < o.data_len; i++)
            assert_int_equal(o.data[i], 'a' + (total + i) % 26);
        sizes[n++] = o.data_len;
        total += o.data_len;
    }
    assert_int_equal(n, 3);
    assert_int_equal(sizes[0], 536);
    assert_int_equal(sizes[1], 536);
    assert_int_equal(sizes[2], 128);
}

static void test_guest_window(void **state)
{
    struct fixture *f = *state;
    uint32_t iss = connect_port(f, 40000, 1460, 300);
    struct seg d = {.seq = 1001,
                    .ack = iss,
                    .flags = 0x18,
                    .window = 300,
                    .data = req1,
                    .len = sizeof(req1) - 1};
    struct out o;

    f->resp_len = 1000;
    assert_true(send_seg(f, &d));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.data_len, 300);
    assert_false(next_seg(f, &o));
    /* the guest acknowledges 300 and opens 300 more */
    d.len = 0;
    d.flags = 0x10;
    d.seq = 1001 + sizeof(req1) - 1;
    d.ack = iss + 300;
    assert_true(send_seg(f, &d));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.seq, iss + 300);
    assert_int_equal(o.data_len, 300);
}

static void test_retransmit(void **state)
{
    struct fixture *f = *state;
    uint32_t iss = connect_port(f, 40000, 1460, 64000);
    struct seg d = {.seq = 1001,
                    .ack = iss,
                    .flags = 0x18,
                    .data = req1,
                    .len = sizeof(req1) - 1};
    struct out o;

    f->resp_len = 50;
    assert_true(send_seg(f, &d));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.data_len, 50);
    expect_nothing(f);
    f->now += 1200000000ull;
    assert_true(mmds_ns_has_frame(f->ns));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.seq, iss);
    assert_int_equal(o.data_len, 50);
    assert_memory_equal(o.data, "abcdefghij", 10);
    /* a duplicate ACK also brings it again */
    d.len = 0;
    d.flags = 0x10;
    d.seq = 1001 + sizeof(req1) - 1;
    d.ack = iss;
    assert_true(send_seg(f, &d));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.seq, iss);
    assert_int_equal(o.data_len, 50);
}

static void test_fin(void **state)
{
    struct fixture *f = *state;
    uint32_t iss = connect_port(f, 40000, 1460, 64000);
    uint32_t gseq = 1001 + sizeof(req1) - 1;
    struct seg d = {.seq = 1001,
                    .ack = iss,
                    .flags = 0x18,
                    .data = req1,
                    .len = sizeof(req1) - 1};
    struct out o;

    assert_true(send_seg(f, &d));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.data_len, 10);
    /* FIN before the response is acknowledged: only ACKed */
    d.len = 0;
    d.flags = 0x11;
    d.seq = gseq;
    d.ack = iss;
    assert_true(send_seg(f, &d));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x10);
    assert_int_equal(o.ack, gseq + 1);
    /* the response acknowledged: our FIN goes out, and we are done */
    d.flags = 0x10;
    d.seq = gseq + 1;
    d.ack = iss + 10;
    assert_true(send_seg(f, &d));
    assert_int_equal(mmds_ns_n_conns(f->ns), 1);
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x11);
    assert_int_equal(o.seq, iss + 10);
    assert_int_equal(o.ack, gseq + 1);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
    assert_int_equal(mmds_ns_stats(f->ns)->connections_destroyed, 1);
    /* the guest's ACK of our FIN now meets no connection: RST */
    d.ack = iss + 11;
    assert_true(send_seg(f, &d));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x04);
    assert_int_equal(o.seq, iss + 11);
    expect_nothing(f);
}

static void test_rst_from_guest(void **state)
{
    struct fixture *f = *state;
    uint32_t iss = connect_port(f, 40000, 1460, 64000);
    struct seg r = {.seq = 999, .ack = iss, .flags = 0x04};

    /* out of the window: ignored */
    assert_true(send_seg(f, &r));
    assert_int_equal(mmds_ns_n_conns(f->ns), 1);
    r.seq = 1001;
    assert_true(send_seg(f, &r));
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
    /* a RST for nothing is not answered */
    assert_true(send_seg(f, &r));
    expect_nothing(f);
}

static void test_unexpected_segments(void **state)
{
    struct fixture *f = *state;
    struct seg s = {.seq = 77, .ack = 12345, .flags = 0x10};
    struct out o;

    /* an ACK for no connection: RST with seq = its ack */
    assert_true(send_seg(f, &s));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x04);
    assert_int_equal(o.seq, 12345);
    assert_int_equal(o.ack, 0);
    assert_int_equal(o.window, 10000);
    /* data without ACK: RST|ACK for seq + len */
    s.flags = 0x08;
    s.data = "xyz";
    s.len = 3;
    assert_true(send_seg(f, &s));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x14);
    assert_int_equal(o.ack, 80);
    /* a SYN with data opens nothing; neither does one with a bad MSS */
    s.flags = 0x02;
    assert_true(send_seg(f, &s));
    s.len = 0;
    s.mss = 99;
    assert_true(send_seg(f, &s));
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
    expect_nothing(f);
}

static void test_bad_segment_closes_handshake(void **state)
{
    struct fixture *f = *state;
    struct seg s = {.seq = 1000, .flags = 0x02};
    struct out o;

    assert_true(send_seg(f, &s));
    assert_true(next_seg(f, &o));
    /* an ACK of something never sent: the connection resets */
    s.flags = 0x10;
    s.seq = 1001;
    s.ack = o.seq + 5;
    assert_true(send_seg(f, &s));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x04);
    assert_int_equal(o.seq, s.ack);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
}

static void test_connection_limit(void **state)
{
    struct fixture *f = *state;
    struct seg syn = {.seq = 500, .flags = 0x02};
    struct out o;

    for (uint16_t i = 0; i < 30; i++) {
        syn.sport = (uint16_t)(1000 + i);
        assert_true(send_seg(f, &syn));
        assert_true(next_seg(f, &o));
        assert_int_equal(o.flags, 0x12);
    }
    assert_int_equal(mmds_ns_n_conns(f->ns), 30);
    /* the 31st: none is idle long enough, so upstream's RST|ACK, which
     * acknowledges seq + payload (not the SYN) */
    syn.sport = 2000;
    assert_true(send_seg(f, &syn));
    assert_int_equal(mmds_ns_n_conns(f->ns), 30);
    assert_true(next_seg(f, &o));
    assert_int_equal(o.dport, 2000);
    assert_int_equal(o.flags, 0x14);
    assert_int_equal(o.seq, 0);
    assert_int_equal(o.ack, 500);
    /* after 40 s without a segment, one is evicted (RST, not established:
     * RST|ACK acknowledging the SYN) to make room */
    f->now += 40000000001ull;
    syn.sport = 2001;
    assert_true(send_seg(f, &syn));
    assert_int_equal(mmds_ns_n_conns(f->ns), 30);
    assert_int_equal(mmds_ns_stats(f->ns)->connections_created, 31);
    assert_int_equal(mmds_ns_stats(f->ns)->connections_destroyed, 1);
    assert_true(next_seg(f, &o));
    assert_int_equal(o.dport, 1000);
    assert_int_equal(o.flags, 0x14);
    assert_int_equal(o.ack, 501);
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x12);
    assert_int_equal(o.dport, 2001);
}

static void test_rst_queue_bound(void **state)
{
    struct fixture *f = *state;
    struct seg s = {.flags = 0x10};
    struct out o;
    size_t n = 0;

    for (uint32_t i = 0; i < 150; i++) {
        s.ack = i;
        assert_true(send_seg(f, &s));
    }
    while (next_seg(f, &o)) {
        assert_int_equal(o.flags, 0x04);
        n++;
    }
    assert_int_equal(n, 100);   /* upstream's pending-RST bound */
    assert_int_equal(o.seq, 0); /* a stack: the first queued goes last */
}

static void test_oversized_request(void **state)
{
    struct fixture *f = *state;
    uint32_t iss = connect_port(f, 40000, 1460, 64000);
    static char junk[1250];
    struct seg d = {.seq = 1001,
                    .ack = iss,
                    .flags = 0x10,
                    .data = junk,
                    .len = sizeof(junk)};
    struct out o;

    memset(junk, 'x', sizeof(junk));
    assert_true(send_seg(f, &d));
    assert_true(next_seg(f, &o));
    d.seq += sizeof(junk);
    /* the receive buffer (2500 bytes) fills without a request: RST */
    assert_true(send_seg(f, &d));
    assert_true(next_seg(f, &o));
    assert_int_equal(o.flags, 0x04);
    assert_int_equal(o.seq, iss);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
    assert_int_equal(f->n_reqs, 0);
}

static void test_pipelined_requests(void **state)
{
    struct fixture *f = *state;
    uint32_t iss = connect_port(f, 40000, 1460, 64000);
    char two[2 * sizeof(req1)];
    size_t n = sizeof(req1) - 1;
    struct seg d = {
        .seq = 1001, .ack = iss, .flags = 0x18, .data = two, .len = 2 * n};
    struct out o;

    memcpy(two, req1, n);
    memcpy(two + n, req1, n);
    assert_true(send_seg(f, &d));
    assert_int_equal(f->n_reqs, 1);
    assert_true(next_seg(f, &o));
    assert_int_equal(o.data_len, 10);
    /* the second is taken once the first answer is acknowledged */
    d.len = 0;
    d.flags = 0x10;
    d.seq = 1001 + 2 * (uint32_t)n;
    d.ack = iss + 10;
    assert_true(send_seg(f, &d));
    assert_int_equal(f->n_reqs, 2);
    assert_true(next_seg(f, &o));
    assert_int_equal(o.seq, iss + 10);
    assert_int_equal(o.data_len, 10);
}

static void test_checksums_not_checked(void **state)
{
    struct fixture *f = *state;
    struct seg syn = {.seq = 1, .flags = 0x02};
    uint8_t b[100];
    size_t n = frame(b, &syn);

    /* As upstream: a guest using checksum offload sends partial sums, so
     * neither the IPv4 nor the TCP checksum is checked on the way in (the
     * parsers can: test_mmds_pdu.c). */
    b[14 + 10] ^= 0xff;
    b[34 + 16] ^= 0xff;
    assert_true(offer(f, b, n));
    assert_int_equal(mmds_ns_n_conns(f->ns), 1);
}

static void test_not_for_mmds(void **state)
{
    struct fixture *f = *state;
    struct seg s = {.seq = 1, .flags = 0x02};
    uint8_t b[200];
    size_t n;

    /* another destination address */
    s.dst_ip = 0x0a000001;
    n = frame(b, &s);
    assert_false(mmds_ns_is_mmds_frame(f->ns, b, n));
    assert_false(offer(f, b, n));
    /* another ethertype (IPv6) */
    s.dst_ip = 0;
    n = frame(b, &s);
    put16(b + 12, 0x86dd);
    assert_false(offer(f, b, n));
    /* IPv4 to the MMDS but padded, truncated: passed on */
    put16(b + 12, 0x0800);
    memset(b + n, 0, 10);
    assert_false(offer(f, b, n + 10));
    assert_false(offer(f, b, n - 1));
    assert_false(offer(f, b, 33));
    /* another port: consumed but counted as an error (upstream) */
    s.dport = 8080;
    n = frame(b, &s);
    assert_true(offer(f, b, n));
    assert_int_equal(mmds_ns_stats(f->ns)->rx_accepted_err, 1);
    /* UDP to the MMDS: consumed, unusual */
    s.dport = 0;
    n = frame(b, &s);
    b[14 + 9] = 17;
    assert_true(offer(f, b, n));
    assert_int_equal(mmds_ns_stats(f->ns)->rx_accepted_unusual, 1);
    /* a truncated TCP header inside a valid IPv4 packet */
    n = frame(b, &s);
    put16(b + 16, 20 + 19);
    assert_true(offer(f, b, 14 + 39));
    assert_int_equal(mmds_ns_stats(f->ns)->rx_accepted_err, 2);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
    expect_nothing(f);
}

static void test_small_buffer(void **state)
{
    struct fixture *f = *state;
    struct seg syn = {.seq = 1, .flags = 0x02};
    uint8_t b[64];

    assert_true(send_seg(f, &syn));
    assert_int_equal(mmds_ns_write_next_frame(f->ns, b, 13), 0);
    assert_int_equal(mmds_ns_write_next_frame(f->ns, b, 14 + 19), 0);
    assert_int_equal(mmds_ns_write_next_frame(f->ns, b, 14 + 20 + 23), 0);
    assert_int_equal(mmds_ns_write_next_frame(f->ns, b, sizeof(b)), 58);
}

static void test_set_address(void **state)
{
    struct fixture *f = *state;
    struct seg syn = {.dst_ip = 0x0a000001, .seq = 1, .flags = 0x02};
    struct out o;

    mmds_ns_set_ipv4_addr(f->ns, 0x0a000001);
    assert_int_equal(mmds_ns_ipv4_addr(f->ns), 0x0a000001);
    assert_true(send_seg(f, &syn));
    o.len = mmds_ns_write_next_frame(f->ns, o.raw, sizeof(o.raw));
    assert_int_equal(o.len, 58);
    assert_int_equal(get32(o.raw + 14 + 12), 0x0a000001);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_arp_reply),
        T(test_handshake),
        T(test_synack_timeout),
        T(test_request_response),
        T(test_segmentation),
        T(test_guest_window),
        T(test_retransmit),
        T(test_fin),
        T(test_rst_from_guest),
        T(test_unexpected_segments),
        T(test_bad_segment_closes_handshake),
        T(test_connection_limit),
        T(test_rst_queue_bound),
        T(test_oversized_request),
        T(test_pipelined_requests),
        T(test_checksums_not_checked),
        T(test_not_for_mmds),
        T(test_small_buffer),
        T(test_set_address),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
