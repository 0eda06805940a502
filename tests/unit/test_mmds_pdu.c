/*
 * test_mmds_pdu.c: the MMDS stack's Ethernet, ARP, IPv4 and TCP parsers
 * and builders (src/mmds/pdu_*.c). Every parser input ends at a PROT_NONE
 * page (guard.h), so a read past the end crashes the test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"
#include "mmds/pdu.h"

/* An independent RFC 1071 sum, to check the stack's against. */
static uint16_t ref_sum(const uint8_t *p, size_t n, uint32_t start)
{
    uint32_t s = start;

    for (size_t i = 0; i < n; i++)
        s += (i % 2) ? p[i] : (uint32_t)p[i] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static const uint8_t arp_req[28] = {
    0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01, /* htype ptype hlen .. */
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,             /* sha */
    169,  254,  0,    1,                            /* spa */
    0,    0,    0,    0,    0,    0,                /* tha */
    169,  254,  169,  254,                          /* tpa */
};

static void test_eth(void **state)
{
    uint8_t f[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x06};
    struct guarded g;
    struct pdu_eth e;
    uint8_t out[14];

    (void)state;
    guard_init(&g, (const char *)f, sizeof(f));
    assert_int_equal(pdu_eth_parse((const uint8_t *)g.p, 14, &e), 0);
    assert_int_equal(e.ethertype, PDU_ETHERTYPE_ARP);
    assert_int_equal(e.payload_len, 0);
    assert_memory_equal(e.src_mac, f + 6, 6);
    guard_fini(&g);
    guard_init(&g, (const char *)f, 13);
    assert_int_equal(pdu_eth_parse((const uint8_t *)g.p, 13, &e), -EINVAL);
    guard_fini(&g);
    assert_int_equal(pdu_eth_write_header(out, 13, f, f + 6, 0x0806), 0);
    assert_int_equal(pdu_eth_write_header(out, 14, f, f + 6, 0x0806), 14);
    assert_memory_equal(out, f, 14);
}

static void test_arp(void **state)
{
    static const struct {
        size_t off; /* byte to change; 99: only shorten/lengthen */
        uint8_t val;
        size_t len;
        int rc;
    } cases[] = {
        {99, 0, 28, 0},         {99, 0, 27, -EINVAL}, {0, 2, 28, -EINVAL},
        {2, 0x86, 28, -EINVAL}, {4, 8, 28, -EINVAL},  {5, 16, 28, -EINVAL},
        {7, 2, 28, -EINVAL}, /* a reply is not a request */
    };
    uint8_t b[29], out[28];
    struct pdu_arp a;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct guarded g;

        memcpy(b, arp_req, 28);
        b[28] = 0;
        if (cases[i].off != 99)
            b[cases[i].off] = cases[i].val;
        guard_init(&g, (const char *)b, cases[i].len);
        assert_int_equal(
            pdu_arp_parse_request((const uint8_t *)g.p, cases[i].len, &a),
            cases[i].rc);
        guard_fini(&g);
    }
    /* 29 bytes (padding) is not a request either */
    assert_int_equal(pdu_arp_parse_request(b, 29, &a), -EINVAL);
    assert_int_equal(pdu_arp_parse_request(arp_req, 28, &a), 0);
    assert_int_equal(a.spa, 0xa9fe0001);
    assert_int_equal(a.tpa, 0xa9fea9fe);
    assert_memory_equal(a.sha, arp_req + 8, 6);
    assert_int_equal(pdu_arp_write_reply(out, 27, a.tha, 1, a.sha, 2), 0);
    assert_int_equal(pdu_arp_write_reply(out, 28, a.tha, 1, a.sha, 2), 28);
    assert_int_equal(out[7], 2);
}

/* A 20-byte IPv4 header + 4 payload bytes, checksum filled in. */
static void make_ip(uint8_t *p)
{
    static const uint8_t h[24] = {
        0x45, 0,   0, 24, 0,   1,   0x40, 0,   64, 6, 0, 0,
        169,  254, 0, 1,  169, 254, 169,  254, 1,  2, 3, 4,
    };
    uint16_t c;

    memcpy(p, h, 24);
    c = ref_sum(p, 20, 0);
    p[10] = (uint8_t)(c >> 8);
    p[11] = (uint8_t)c;
}

static void test_ipv4_parse(void **state)
{
    uint8_t p[28];
    struct pdu_ipv4 ip;
    struct guarded g;

    (void)state;
    make_ip(p);
    guard_init(&g, (const char *)p, 24);
    assert_int_equal(pdu_ipv4_parse((const uint8_t *)g.p, 24, true, &ip), 0);
    assert_int_equal(ip.protocol, 6);
    assert_int_equal(ip.src, 0xa9fe0001);
    assert_int_equal(ip.dst, 0xa9fea9fe);
    assert_int_equal(ip.payload_len, 4);
    assert_int_equal(ip.payload[3], 4);
    guard_fini(&g);

    /* truncated: below the minimal header, and shorter than total_len */
    guard_init(&g, (const char *)p, 19);
    assert_int_equal(pdu_ipv4_parse((const uint8_t *)g.p, 19, false, &ip),
                     -EINVAL);
    guard_fini(&g);
    guard_init(&g, (const char *)p, 23);
    assert_int_equal(pdu_ipv4_parse((const uint8_t *)g.p, 23, false, &ip),
                     -EINVAL);
    guard_fini(&g);
    /* trailing padding: upstream wants total_len == the slice */
    assert_int_equal(pdu_ipv4_parse(p, 28, false, &ip), -EINVAL);

    make_ip(p);
    p[0] = 0x65; /* version 6 */
    assert_int_equal(pdu_ipv4_parse(p, 24, false, &ip), -EINVAL);
    make_ip(p);
    p[0] = 0x44; /* IHL 4 */
    assert_int_equal(pdu_ipv4_parse(p, 24, false, &ip), -EINVAL);
    make_ip(p);
    p[0] = 0x47; /* header 28 > total 24 */
    assert_int_equal(pdu_ipv4_parse(p, 24, false, &ip), -EINVAL);
    make_ip(p);
    p[11] ^= 1; /* bad checksum: dropped only when verifying */
    assert_int_equal(pdu_ipv4_parse(p, 24, true, &ip), -EBADMSG);
    assert_int_equal(pdu_ipv4_parse(p, 24, false, &ip), 0);
}

static void test_ipv4_write(void **state)
{
    uint8_t b[64];
    struct pdu_ipv4 ip;

    (void)state;
    assert_int_equal(pdu_ipv4_write_header(b, 19, 6, 1, 2, 0), 0);
    assert_int_equal(pdu_ipv4_write_header(b, 30, 6, 1, 2, 11), 0);
    memset(b, 0xee, sizeof(b));
    assert_int_equal(
        pdu_ipv4_write_header(b, 30, 6, 0x01020304, 0x05060708, 10), 20);
    assert_int_equal(b[0], 0x45);
    assert_int_equal(b[8], 1); /* TTL */
    assert_int_equal(ref_sum(b, 20, 0), 0);
    assert_int_equal(pdu_ipv4_parse(b, 30, true, &ip), 0);
    assert_false(pdu_ipv4_frame_has_dst(b, 0, 0));
}

/* A TCP segment with options `opt` (multiple of 4) and payload "hi". */
static size_t make_tcp(uint8_t *p, const uint8_t *opt, size_t opt_len)
{
    size_t n = 20 + opt_len + 2;
    uint32_t pseudo;
    uint16_t c;

    memset(p, 0, n);
    p[0] = 0xc0; /* port 49152 */
    p[3] = 80;
    p[7] = 1; /* seq 1 */
    p[12] = (uint8_t)(((20 + opt_len) / 4) << 4);
    p[13] = PDU_TCP_SYN;
    p[14] = 0xff;
    memcpy(p + 20, opt, opt_len);
    p[n - 2] = 'h';
    p[n - 1] = 'i';
    pseudo = 0xa9fe + 0x0001 + 0xa9fe + 0xa9fe + 6 + (uint32_t)n;
    c = ref_sum(p, n, pseudo);
    p[16] = (uint8_t)(c >> 8);
    p[17] = (uint8_t)c;
    return n;
}

static void test_tcp_parse(void **state)
{
    static const uint32_t addrs[2] = {0xa9fe0001, 0xa9fea9fe};
    static const uint8_t mss[4] = {2, 4, 0x05, 0xb4};
    uint8_t p[80];
    struct pdu_tcp s;
    struct guarded g;
    size_t n = make_tcp(p, mss, 4);
    uint16_t v;

    (void)state;
    guard_init(&g, (const char *)p, n);
    assert_int_equal(pdu_tcp_parse((const uint8_t *)g.p, n, addrs, &s), 0);
    assert_int_equal(s.src_port, 49152);
    assert_int_equal(s.dst_port, 80);
    assert_int_equal(s.seq, 1);
    assert_int_equal(s.flags, PDU_TCP_SYN);
    assert_int_equal(s.window, 0xff00);
    assert_int_equal(s.header_len, 24);
    assert_int_equal(s.payload_len, 2);
    assert_int_equal(pdu_tcp_parse_mss(&s, &v), 0);
    assert_int_equal(v, 1460);
    guard_fini(&g);

    /* bad checksum: dropped when verifying */
    p[17] ^= 0x10;
    assert_int_equal(pdu_tcp_parse(p, n, addrs, &s), -EBADMSG);
    assert_int_equal(pdu_tcp_parse(p, n, NULL, &s), 0);
    /* truncated header */
    guard_init(&g, (const char *)p, 19);
    assert_int_equal(pdu_tcp_parse((const uint8_t *)g.p, 19, NULL, &s),
                     -EINVAL);
    guard_fini(&g);
    /* data offset 4 (16 bytes), and past the segment */
    p[12] = 0x40;
    assert_int_equal(pdu_tcp_parse(p, n, NULL, &s), -EINVAL);
    p[12] = 0xf0; /* 60 > 26 */
    assert_int_equal(pdu_tcp_parse(p, n, NULL, &s), -EINVAL);
}

static void test_tcp_mss_option(void **state)
{
    static const struct {
        uint8_t opt[8];
        size_t len;
        int rc;
        uint16_t mss;
    } cases[] = {
        {{0}, 0, 0, 0},                              /* no options */
        {{1, 1, 2, 4, 0x02, 0x18, 0, 0}, 8, 0, 536}, /* NOPs first */
        {{2, 4, 0, 99, 1, 1, 1, 1}, 8, -EINVAL, 0},  /* below 100 */
        {{2, 4, 0, 100}, 4, 0, 100},
        {{8, 1, 0, 0}, 4, -EINVAL, 0},        /* length below 2 */
        {{8, 10, 0, 0, 2, 4, 5, 0}, 8, 0, 0}, /* skipped past the end */
        {{0, 0, 2, 4, 5, 0, 0, 0}, 8, 0, 0},  /* EOL ends the scan */
        {{4, 2, 1, 1, 1, 2, 4, 5}, 8, 0, 0},  /* MSS in the last 3 bytes */
    };
    uint8_t p[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct guarded g;
        struct pdu_tcp s;
        uint16_t v = 1;

        make_tcp(p, cases[i].opt, cases[i].len);
        guard_init(&g, (const char *)p, 20 + cases[i].len);
        /* the options run to the end of the mapping: no payload */
        assert_int_equal(
            pdu_tcp_parse((const uint8_t *)g.p, 20 + cases[i].len, NULL, &s),
            0);
        assert_int_equal(pdu_tcp_parse_mss(&s, &v), cases[i].rc);
        if (cases[i].rc == 0)
            assert_int_equal(v, cases[i].mss);
        guard_fini(&g);
    }
}

static void test_tcp_write(void **state)
{
    static const uint8_t data[1000] = {1, 2, 3};
    uint8_t b[1200];
    struct pdu_tcp_out o = {
        .seq = 7,
        .ack = 9,
        .flags = PDU_TCP_SYN | PDU_TCP_ACK,
        .window = 2500,
        .mss_option = 536,
        .mss_remaining = 3,
    };
    struct pdu_tcp s;
    size_t n = 0;

    (void)state;
    assert_int_equal(pdu_tcp_write(b, sizeof(b), &o, &n), -EINVAL);
    o.mss_remaining = 536;
    assert_int_equal(pdu_tcp_write(b, 23, &o, &n), -ENOSPC);
    assert_int_equal(pdu_tcp_write(b, 24, &o, &n), 0);
    assert_int_equal(n, 24);
    pdu_tcp_finalize(b, n, 80, 1234, 1, 2);
    assert_int_equal(pdu_tcp_parse(b, n, (const uint32_t[]){1, 2}, &s), 0);
    assert_int_equal(s.seq, 7);
    assert_int_equal(s.ack, 9);
    assert_int_equal(s.src_port, 80);
    assert_int_equal(s.header_len, 24);
    /* payload bounded by mss_remaining */
    o.mss_option = 0;
    o.flags = PDU_TCP_ACK;
    o.payload = data;
    o.payload_max = sizeof(data);
    assert_int_equal(pdu_tcp_write(b, sizeof(b), &o, &n), 0);
    assert_int_equal(n, 20 + 536);
    /* ... by the buffer, by payload_max */
    assert_int_equal(pdu_tcp_write(b, 120, &o, &n), 0);
    assert_int_equal(n, 120);
    o.payload_max = 3;
    assert_int_equal(pdu_tcp_write(b, sizeof(b), &o, &n), 0);
    assert_int_equal(n, 23);
    assert_memory_equal(b + 20, data, 3);
    /* no room for any of it */
    assert_int_equal(pdu_tcp_write(b, 20, &o, &n), -ENODATA);
    o.payload_max = 0;
    assert_int_equal(pdu_tcp_write(b, sizeof(b), &o, &n), -ENODATA);
}

static void test_speculative_checks(void **state)
{
    uint8_t f[14 + 28];
    struct guarded g;

    (void)state;
    memset(f, 0, 14);
    memcpy(f + 14, arp_req, 28);
    guard_init(&g, (const char *)f, sizeof(f));
    assert_true(pdu_arp_frame_has_tpa((const uint8_t *)g.p, 42, 0xa9fea9fe));
    assert_false(pdu_arp_frame_has_tpa((const uint8_t *)g.p, 42, 0xa9fea9fd));
    guard_fini(&g);
    guard_init(&g, (const char *)f, 41);
    assert_false(pdu_arp_frame_has_tpa((const uint8_t *)g.p, 41, 0));
    guard_fini(&g);
    guard_init(&g, (const char *)f, 33);
    assert_false(pdu_ipv4_frame_has_dst((const uint8_t *)g.p, 33, 0));
    guard_fini(&g);
    /* bytes 30..33 of the frame are the IPv4 destination */
    guard_init(&g, (const char *)f, 34);
    assert_true(
        pdu_ipv4_frame_has_dst((const uint8_t *)g.p, 34, pdu_get32(f + 30)));
    guard_fini(&g);
}

static void test_l4_checksum(void **state)
{
    static const uint8_t odd[3] = {0x12, 0x34, 0x56};

    (void)state;
    /* pseudo header 0x0001 + 0x0002 + 6 + 3, data 0x1234 + 0x5600 */
    assert_int_equal(pdu_l4_checksum(odd, 3, 1, 2, 6),
                     (uint16_t) ~(1 + 2 + 6 + 3 + 0x1234 + 0x5600));
    /* UDP never sends a zero checksum */
    assert_int_equal(
        pdu_l4_checksum((const uint8_t[]){0xff, 0xec}, 2, 0, 0, 17), 0xffff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eth),
        cmocka_unit_test(test_arp),
        cmocka_unit_test(test_ipv4_parse),
        cmocka_unit_test(test_ipv4_write),
        cmocka_unit_test(test_tcp_parse),
        cmocka_unit_test(test_tcp_mss_option),
        cmocka_unit_test(test_tcp_write),
        cmocka_unit_test(test_speculative_checks),
        cmocka_unit_test(test_l4_checksum),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
