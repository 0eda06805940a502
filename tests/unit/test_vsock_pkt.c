/*
 * test_vsock_pkt.c: the pieces of the vsock device that need no device:
 * the packet header codec and the strict TX/RX chain rules (headers read
 * next to a guard page), the TX ring buffer, the CONNECT line parser and
 * the muxer's RX and kill queues. Table-driven where it fits.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/vsock/vsock_connect.h"
#include "devices/virtio/vsock/vsock_muxq.h"
#include "devices/virtio/vsock/vsock_pkt.h"
#include "devices/virtio/vsock/vsock_txbuf.h"

/* A page-aligned area whose last byte is followed by a PROT_NONE page. */
struct guarded {
    uint8_t *map;
    size_t len;
};

static uint8_t *guarded_tail(struct guarded *g, size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t pages = (n + (size_t)pg - 1) / (size_t)pg + 1;

    g->len = pages * (size_t)pg;
    g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(
        mprotect(g->map + g->len - (size_t)pg, (size_t)pg, PROT_NONE), 0);
    return g->map + g->len - (size_t)pg - n;
}

static void guarded_free(struct guarded *g)
{
    munmap(g->map, g->len);
}

static void chain_add(struct virtq_chain *c, void *hva, uint32_t len,
                      bool is_write)
{
    c->bufs[c->n++] = (struct virtq_buf){0, len, is_write, hva};
}

static struct vsock_hdr sample_hdr(void)
{
    struct vsock_hdr h = {
        .src_cid = 0x0102030405060708ULL,
        .dst_cid = 2,
        .src_port = 0xa1a2a3a4,
        .dst_port = 0xb1b2b3b4,
        .len = 0,
        .type = 1,
        .op = 5,
        .flags = 3,
        .buf_alloc = 0x10000,
        .fwd_cnt = 0xfffffff0,
    };

    return h;
}

static void test_hdr_codec(void **state)
{
    static const uint8_t want[44] = {
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* src_cid */
        0x02, 0,    0,    0,    0,    0,    0,    0,    /* dst_cid */
        0xa4, 0xa3, 0xa2, 0xa1,                         /* src_port */
        0xb4, 0xb3, 0xb2, 0xb1,                         /* dst_port */
        0x07, 0,    0,    0,                            /* len */
        0x01, 0,                                        /* type */
        0x05, 0,                                        /* op */
        0x03, 0,    0,    0,                            /* flags */
        0,    0,    0x01, 0,                            /* buf_alloc */
        0xf0, 0xff, 0xff, 0xff,                         /* fwd_cnt */
    };
    struct vsock_hdr h = sample_hdr(), back;
    uint8_t b[44];

    (void)state;
    h.len = 7;
    vsock_hdr_encode(&h, b);
    assert_memory_equal(b, want, 44);
    vsock_hdr_decode(b, &back);
    /* Field by field: the struct has tail padding. */
    assert_true(back.src_cid == h.src_cid && back.dst_cid == h.dst_cid);
    assert_true(back.src_port == h.src_port && back.dst_port == h.dst_port);
    assert_true(back.len == h.len && back.type == h.type && back.op == h.op);
    assert_true(back.flags == h.flags && back.buf_alloc == h.buf_alloc &&
                back.fwd_cnt == h.fwd_cnt);
}

struct tx_case {
    const char *name;
    uint32_t hdr_len_field; /* the header's len */
    uint32_t split[4];      /* buffer lengths; 0-terminated after the first */
    bool writable;          /* a device-writable buffer among them */
    bool outside;           /* the second buffer outside RAM */
    enum vsock_pkt_err want;
};

static void test_parse_tx_table(void **state)
{
    static const struct tx_case cases[] = {
        {"header only", 0, {44}, false, false, VSOCK_PKT_OK},
        {"43 bytes", 0, {43}, false, false, VSOCK_PKT_TOO_SHORT_FOR_HDR},
        {"empty chain buffer",
         0,
         {0},
         false,
         false,
         VSOCK_PKT_TOO_SHORT_FOR_HDR},
        {"split header", 10, {1, 43, 10}, false, false, VSOCK_PKT_OK},
        {"len fits exactly", 100, {144}, false, false, VSOCK_PKT_OK},
        {"len one too many",
         101,
         {144},
         false,
         false,
         VSOCK_PKT_TOO_SHORT_FOR_PKT},
        {"len above 64 KiB",
         65537,
         {44 + 65537},
         false,
         false,
         VSOCK_PKT_INVALID_LEN},
        {"len 64 KiB", 65536, {44 + 65536}, false, false, VSOCK_PKT_OK},
        {"len huge", 0xffffffff, {44}, false, false, VSOCK_PKT_INVALID_LEN},
        {"write-only", 0, {44}, true, false, VSOCK_PKT_UNREADABLE_DESC},
        {"outside RAM", 0, {44, 10}, false, true, VSOCK_PKT_OUTSIDE_RAM},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct tx_case *tc = &cases[i];
        struct vsock_hdr h = sample_hdr();
        static struct vsock_pkt p;
        struct virtq_chain c = {0};
        uint32_t total = 0;
        struct guarded g;
        uint8_t *mem, raw[44];

        for (int k = 0; k < 4 && (k == 0 || tc->split[k]); k++)
            total += tc->split[k];
        mem = guarded_tail(&g, total);
        h.len = tc->hdr_len_field;
        vsock_hdr_encode(&h, raw);
        memcpy(mem, raw, total < 44 ? total : 44);
        for (uint32_t k = 0, off = 0; k < 4 && (k == 0 || tc->split[k]); k++) {
            bool outside = tc->outside && k == 1;

            chain_add(&c, outside ? NULL : mem + off, tc->split[k],
                      tc->writable);
            off += tc->split[k];
        }
        if (vsock_pkt_parse_tx(&p, &c) != tc->want)
            fail_msg("%s: got %s", tc->name,
                     vsock_pkt_strerror(vsock_pkt_parse_tx(&p, &c)));
        if (tc->want == VSOCK_PKT_OK) {
            assert_int_equal(p.hdr.src_port, h.src_port);
            assert_int_equal(p.hdr.fwd_cnt, h.fwd_cnt);
            assert_int_equal(p.buf_len, total);
        }
        guarded_free(&g);
    }
}

static void test_parse_chain_errors(void **state)
{
    static struct vsock_pkt p;
    struct virtq_chain c = {0};
    uint8_t buf[64] = {0};

    (void)state;
    /* A malformed chain. */
    chain_add(&c, buf, 44, false);
    c.err = VIRTQ_CHAIN_BAD_NEXT;
    assert_int_equal(vsock_pkt_parse_tx(&p, &c), VSOCK_PKT_MALFORMED_CHAIN);
    assert_int_equal(vsock_pkt_parse_rx(&p, &c), VSOCK_PKT_MALFORMED_CHAIN);
    /* Lengths summing past u32. */
    memset(&c, 0, sizeof(c));
    chain_add(&c, buf, 0x80000000u, false);
    chain_add(&c, buf, 0x80000000u, false);
    assert_int_equal(vsock_pkt_parse_tx(&p, &c), VSOCK_PKT_CHAIN_OVERFLOW);
    /* RX: read-only buffer, too short, good. */
    memset(&c, 0, sizeof(c));
    chain_add(&c, buf, 64, false);
    assert_int_equal(vsock_pkt_parse_rx(&p, &c), VSOCK_PKT_UNWRITABLE_DESC);
    memset(&c, 0, sizeof(c));
    chain_add(&c, buf, 20, true);
    chain_add(&c, buf + 20, 23, true);
    assert_int_equal(vsock_pkt_parse_rx(&p, &c), VSOCK_PKT_TOO_SHORT_FOR_HDR);
    chain_add(&c, buf + 43, 21, true);
    assert_int_equal(vsock_pkt_parse_rx(&p, &c), VSOCK_PKT_OK);
    assert_int_equal(vsock_pkt_buf_size(&p), 20);
    /* commit_hdr spreads the header over the buffers; refuses > 64 KiB. */
    p.hdr = sample_hdr();
    p.hdr.len = 3;
    assert_int_equal(vsock_pkt_commit_hdr(&p), 0);
    {
        struct vsock_hdr back;

        vsock_hdr_decode(buf, &back);
        assert_int_equal(back.fwd_cnt, p.hdr.fwd_cnt);
        assert_int_equal(back.len, 3);
    }
    p.hdr.len = VSOCK_MAX_PKT_BUF_SIZE + 1;
    assert_int_equal(vsock_pkt_commit_hdr(&p), -EINVAL);
    assert_string_equal(vsock_pkt_strerror(VSOCK_PKT_OK), "ok");
}

static void test_payload_io(void **state)
{
    static struct vsock_pkt p;
    struct virtq_chain c = {0};
    uint8_t a[50], b[30], out[64];
    int sv[2];

    (void)state;
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 30; i++)
        b[i] = (uint8_t)(100 + i);
    for (int i = 44; i < 50; i++)
        a[i] = (uint8_t)(i - 44);
    chain_add(&c, a, 50, false);
    chain_add(&c, b, 30, false);
    {
        struct vsock_hdr h = sample_hdr();

        h.len = 36;
        vsock_hdr_encode(&h, a);
    }
    assert_int_equal(vsock_pkt_parse_tx(&p, &c), VSOCK_PKT_OK);
    assert_int_equal(vsock_pkt_buf_size(&p), 36);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* Bytes 4..12 of the payload cross the two buffers. */
    assert_int_equal(vsock_pkt_write_to_fd(&p, sv[0], 4, 8), 8);
    assert_int_equal(read(sv[1], out, sizeof(out)), 8);
    assert_int_equal(out[0], 4);
    assert_int_equal(out[1], 5);
    assert_int_equal(out[2], 100);
    assert_int_equal(out[7], 105);
    /* Out of range. */
    assert_int_equal(vsock_pkt_write_to_fd(&p, sv[0], 30, 7), -EFAULT);
    assert_int_equal(vsock_pkt_write_to_fd(&p, sv[0], 37, 0), -EFAULT);
    assert_int_equal(vsock_pkt_write_to_fd(&p, sv[0], 36, 0), 0);
    assert_int_equal(vsock_pkt_copy_out(&p, 0, out, 37), -EFAULT);
    assert_int_equal(vsock_pkt_copy_out(&p, 5, out, 2), 0);
    assert_int_equal(out[0], 5);
    assert_int_equal(out[1], 100);
    /* Reading into the payload. */
    assert_int_equal(write(sv[1], "xyz", 3), 3);
    assert_int_equal(vsock_pkt_read_from_fd(&p, sv[0], 5, 10), 3);
    assert_int_equal(a[49], 'x');
    assert_int_equal(b[0], 'y');
    assert_int_equal(vsock_pkt_read_from_fd(&p, sv[0], 0, 37), -EFAULT);
    close(sv[0]);
    close(sv[1]);
}

static void test_txbuf(void **state)
{
    static uint8_t big[VSOCK_TXBUF_SIZE], got[VSOCK_TXBUF_SIZE];
    struct vsock_txbuf tb;
    size_t total = 0;
    int sv[2];

    (void)state;
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 31 + 7);
    vsock_txbuf_init(&tb);
    assert_true(vsock_txbuf_is_empty(&tb));
    assert_null(tb.data);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    assert_int_equal(vsock_txbuf_flush_to(&tb, sv[0]), 0);
    /* Wrap around the ring several times, checking the bytes. */
    for (int round = 0; round < 40; round++) {
        uint32_t n = 3000 + (uint32_t)round * 1111;

        assert_int_equal(vsock_txbuf_push_bytes(&tb, big, n), 0);
        while (!vsock_txbuf_is_empty(&tb)) {
            ssize_t w = vsock_txbuf_flush_to(&tb, sv[0]);
            size_t r = 0;

            assert_true(w > 0);
            while (r < (size_t)w) {
                ssize_t k = read(sv[1], got + r, (size_t)w - r);

                assert_true(k > 0);
                r += (size_t)k;
            }
            assert_memory_equal(got, big + (n - vsock_txbuf_len(&tb) - r), r);
            total += r;
        }
    }
    assert_true(total > 0);
    /* Full: all or nothing. */
    assert_int_equal(vsock_txbuf_push_bytes(&tb, big, VSOCK_TXBUF_SIZE), 0);
    assert_int_equal(vsock_txbuf_push_bytes(&tb, big, 1), -ENOSPC);
    assert_int_equal(vsock_txbuf_len(&tb), VSOCK_TXBUF_SIZE);
    /* A closed peer: -EPIPE, nothing consumed. */
    close(sv[1]);
    assert_int_equal(vsock_txbuf_flush_to(&tb, sv[0]), -EPIPE);
    assert_int_equal(vsock_txbuf_len(&tb), VSOCK_TXBUF_SIZE);
    vsock_txbuf_clear(&tb);
    assert_null(tb.data);
    assert_true(vsock_txbuf_is_empty(&tb));
    close(sv[0]);
}

struct connect_case {
    const char *line;
    int rc;
    uint32_t port;
};

static void test_connect_parse(void **state)
{
    static const struct connect_case cases[] = {
        {"CONNECT 52\n", 0, 52},
        {"connect 0\n", 0, 0},
        {"cOnNeCt 4294967295\n", 0, 4294967295u},
        {"CONNECT +7\n", 0, 7},
        {"  CONNECT\t\t52  \n", 0, 52},
        {"CONNECT 52 trailing words\n", 0, 52},
        {"CONNECT\xc2\xa0"
         "52\n",
         0, 52}, /* NO-BREAK SPACE */
        {"CONNECT\xe3\x80\x80"
         "9\n",
         0, 9}, /* IDEOGRAPHIC SPACE */
        {"CONNECT 4294967296\n", -EINVAL, 0},
        {"CONNECT -1\n", -EINVAL, 0},
        {"CONNECT 0x10\n", -EINVAL, 0},
        {"CONNECT ++1\n", -EINVAL, 0},
        {"CONNECT\n", -EINVAL, 0},
        {"CONNECTX 1\n", -EINVAL, 0},
        {"CONNEC 1\n", -EINVAL, 0},
        {"\xff"
         "CONNECT 1\n",
         -EINVAL, 0},
        {"CONNECT 1\xc3\n", -EINVAL, 0},
        {"", -EINVAL, 0},
        {"   \n", -EINVAL, 0},
        {"CONNECT \xe2\x80\x8b"
         "1\n",
         -EINVAL, 0}, /* ZWSP: not a space */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t port = 0xdeadbeef;
        int rc = vsock_connect_parse((const uint8_t *)cases[i].line,
                                     strlen(cases[i].line), &port);

        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d", i, rc);
        assert_int_equal(port, rc == 0 ? cases[i].port : 0xdeadbeef);
    }
}

static void test_connect_want(void **state)
{
    struct vsock_connect_line l = {0};

    (void)state;
    assert_int_equal(vsock_connect_want(&l), 10);
    memcpy(l.buf, "CONNECT 5\n", 10);
    l.len = 4;
    assert_int_equal(vsock_connect_want(&l), 6);
    l.len = 10;
    assert_int_equal(vsock_connect_want(&l), 0);
    memcpy(l.buf, "CONNECT 52", 10);
    assert_int_equal(vsock_connect_want(&l), 1);
    l.buf[10] = '\n';
    l.len = 11;
    assert_int_equal(vsock_connect_want(&l), 0);
    memset(l.buf, 'a', sizeof(l.buf));
    l.len = 31;
    assert_int_equal(vsock_connect_want(&l), 1);
    l.len = 32;
    assert_int_equal(vsock_connect_want(&l), 0);
}

static void test_rxq(void **state)
{
    static struct vsock_rxq q;
    struct vsock_rx_item it;

    (void)state;
    vsock_rxq_init(&q);
    assert_false(vsock_rxq_peek(&q, &it));
    vsock_rxq_pop(&q); /* empty: no-op */
    for (uint32_t i = 0; i < VSOCK_MUXER_RXQ_SIZE; i++)
        assert_true(vsock_rxq_push(&q, (struct vsock_rx_item){false, 1, i}));
    assert_true(q.synced);
    /* Full: a connection item unsyncs, an RST evicts the newest
     * connection item. */
    assert_false(vsock_rxq_push(&q, (struct vsock_rx_item){false, 1, 999}));
    assert_false(q.synced);
    assert_true(vsock_rxq_push(&q, (struct vsock_rx_item){true, 7, 8}));
    assert_true(vsock_rxq_push(&q, (struct vsock_rx_item){true, 7, 9}));
    for (uint32_t i = 0; i < VSOCK_MUXER_RXQ_SIZE - 2; i++) {
        assert_true(vsock_rxq_peek(&q, &it));
        assert_false(it.is_rst);
        assert_int_equal(it.peer_port, i);
        vsock_rxq_pop(&q);
    }
    assert_true(vsock_rxq_peek(&q, &it));
    assert_true(it.is_rst && it.peer_port == 9);
    vsock_rxq_pop(&q);
    assert_true(vsock_rxq_peek(&q, &it));
    assert_true(it.is_rst && it.peer_port == 8);
    vsock_rxq_pop(&q);
    assert_true(vsock_rxq_is_empty(&q));
    /* A queue full of RSTs drops the next one. */
    vsock_rxq_init(&q);
    for (uint32_t i = 0; i < VSOCK_MUXER_RXQ_SIZE; i++)
        assert_true(vsock_rxq_push(&q, (struct vsock_rx_item){true, 1, i}));
    assert_false(vsock_rxq_push(&q, (struct vsock_rx_item){true, 1, 1000}));
    /* Rebuild fill: false once full. */
    vsock_rxq_init(&q);
    for (uint32_t i = 0; i < VSOCK_MUXER_RXQ_SIZE; i++)
        assert_true(vsock_rxq_fill(&q, (struct vsock_rx_item){false, 1, i}));
    assert_false(vsock_rxq_fill(&q, (struct vsock_rx_item){false, 1, 0}));
    assert_false(q.synced);
}

static void test_killq(void **state)
{
    static struct vsock_killq q;
    uint32_t lp, pp;

    (void)state;
    vsock_killq_init(&q);
    assert_false(vsock_killq_pop(&q, UINT64_MAX, &lp, &pp));
    vsock_killq_push(&q, 1, 2, 100);
    vsock_killq_push(&q, 3, 4, 200);
    /* Only strictly after its time. */
    assert_false(vsock_killq_pop(&q, 100, &lp, &pp));
    assert_true(vsock_killq_pop(&q, 101, &lp, &pp));
    assert_int_equal(lp, 1);
    assert_int_equal(pp, 2);
    assert_false(vsock_killq_pop(&q, 150, &lp, &pp));
    assert_true(vsock_killq_pop(&q, 201, &lp, &pp));
    assert_int_equal(lp, 3);
    assert_true(vsock_killq_is_empty(&q));
    /* Overflow unsyncs; later pushes are ignored. */
    for (uint32_t i = 0; i < VSOCK_MUXER_KILLQ_SIZE; i++)
        vsock_killq_push(&q, i, i, 1000 + i);
    assert_true(q.synced);
    vsock_killq_push(&q, 999, 999, 5);
    assert_false(q.synced);
    vsock_killq_push(&q, 998, 998, 5);
    assert_int_equal(q.len, VSOCK_MUXER_KILLQ_SIZE);
    /* A rebuild sorts by time. */
    vsock_killq_init(&q);
    assert_true(vsock_killq_fill(&q, 1, 1, 300));
    assert_true(vsock_killq_fill(&q, 2, 2, 100));
    assert_true(vsock_killq_fill(&q, 3, 3, 200));
    vsock_killq_sort(&q);
    assert_true(vsock_killq_pop(&q, 1000, &lp, &pp));
    assert_int_equal(lp, 2);
    assert_true(vsock_killq_pop(&q, 1000, &lp, &pp));
    assert_int_equal(lp, 3);
    assert_true(vsock_killq_pop(&q, 1000, &lp, &pp));
    assert_int_equal(lp, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdr_codec),
        cmocka_unit_test(test_parse_tx_table),
        cmocka_unit_test(test_parse_chain_errors),
        cmocka_unit_test(test_payload_io),
        cmocka_unit_test(test_txbuf),
        cmocka_unit_test(test_connect_parse),
        cmocka_unit_test(test_connect_want),
        cmocka_unit_test(test_rxq),
        cmocka_unit_test(test_killq),
    };

    /* Writes to closed sockets must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
