/*
 * test_netproto.c: the test guest's network client (tests/guest/netproto.c)
 * against squib's real MMDS in-process: src/mmds/ns.c with its TCP, the
 * HTTP handler (src/mmds/http.c), the store and the V2 tokens.
 *
 * The client's two callbacks are wired straight to the stack: send_frame
 * offers the frame to mmds_ns_detour_frame() (placed before a guard page),
 * recv_frame asks mmds_ns_write_next_frame(), and "nothing there" is an
 * immediate timeout. The clock is the fixture's. Every frame the stack
 * writes passes the client's length and checksum checks (rx_bad stays 0),
 * so these tests also check the stack's frames with code that shares
 * nothing with it. What the guest's net-mmds test does over virtio-net
 * is what runs here, minus the device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../guest/netproto.h"
#include "guard.h"
#include "mmds/http.h"
#include "mmds/ns.h"
#include "mmds/store.h"
#include "mmds/token.h"
#include "util/json.h"

#define MMDS_IP  0xa9fea9feu /* 169.254.169.254 */
#define GUEST_IP 0xa9fe0002u /* 169.254.0.2 */
#define BIG_LEN  4096

static const uint8_t guest_mac[6] = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};
static const uint8_t mmds_mac[6] = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};

struct fixture {
    struct mmds_ns *ns;
    struct mmds_store *store;
    struct mmds_tokens *tokens;
    uint64_t now; /* ns */
    size_t n_reqs;
    size_t not_taken; /* frames the stack left for the TAP */
    struct np_client c;
    uint8_t resp[16384];
    size_t resp_len;
    struct np_http h;
};

static uint64_t clock_fn(void *opaque)
{
    return ((struct fixture *)opaque)->now;
}

static void http_fn(void *opaque, const uint8_t *req, size_t len,
                    struct buf *resp)
{
    struct fixture *f = opaque;

    f->n_reqs++;
    mmds_http_respond(f->store, f->tokens, req, len, f->now / 1000000, resp);
}

static int send_fn(void *opaque, const uint8_t *frame, size_t len)
{
    struct fixture *f = opaque;
    struct guarded g;

    guard_init(&g, (const char *)frame, len);
    if (!mmds_ns_detour_frame(f->ns, (const uint8_t *)g.p, len))
        f->not_taken++;
    guard_fini(&g);
    return 0;
}

static size_t recv_fn(void *opaque, uint8_t *buf, size_t cap,
                      uint32_t timeout_ms)
{
    struct fixture *f = opaque;

    (void)timeout_ms;
    return mmds_ns_write_next_frame(f->ns, buf, cap);
}

static int setup(void **state)
{
    static struct fixture f;
    static char data[BIG_LEN + 256];
    struct json_value *v = NULL;
    struct sq_err err;
    size_t n;

    memset(&f, 0, sizeof(f));
    n = (size_t)snprintf(data, sizeof(data),
                         "{\"name\":{\"first\":\"John\",\"second\":\"Doe\"},"
                         "\"big\":\"");
    for (size_t i = 0; i < BIG_LEN; i++)
        data[n++] = (char)('a' + i % 26);
    n += (size_t)snprintf(data + n, sizeof(data) - n, "\"}");
    f.store = mmds_store_new(51200);
    assert_int_equal(mmds_tokens_new(&f.tokens), 0);
    assert_int_equal(json_parse(data, n, &v, &err), 0);
    assert_int_equal(mmds_store_put(f.store, v, &err), 0);
    f.now = 5000000000ull;
    f.ns = mmds_ns_new(MMDS_IP, NULL, http_fn, &f);
    mmds_ns_set_clock(f.ns, clock_fn, &f, 7);
    np_init(&f.c, guest_mac, GUEST_IP, send_fn, recv_fn, &f);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    /* every frame the stack wrote had the right lengths and checksums */
    assert_int_equal(f->c.stats.rx_bad, 0);
    mmds_ns_free(f->ns);
    mmds_store_free(f->store);
    mmds_tokens_free(f->tokens);
    return 0;
}

/* Connect from sport; the ISN is derived from it. */
static void connect_ok(struct fixture *f, struct np_tcp *t, uint16_t sport)
{
    assert_int_equal(np_tcp_connect(&f->c, t, mmds_mac, MMDS_IP, 80, sport,
                                    0x10000000u + sport * 1000u),
                     NP_OK);
}

/* One request on t; returns the body as a string (static storage). */
static const char *request(struct fixture *f, struct np_tcp *t, const char *req,
                           size_t seg_max)
{
    static char body[sizeof(f->resp) + 1];

    assert_int_equal(np_tcp_request(&f->c, t, req, strlen(req), seg_max,
                                    f->resp, sizeof(f->resp), &f->resp_len,
                                    &f->h),
                     NP_OK);
    assert_true(f->h.complete);
    memcpy(body, f->h.body, f->h.content_length);
    body[f->h.content_length] = '\0';
    return body;
}

static bool ctype_is(const struct fixture *f, const char *want)
{
    return f->h.content_type_len == strlen(want) &&
           memcmp(f->h.content_type, want, strlen(want)) == 0;
}

/*
 * The stack forgets a connection once it has sent its FIN and seen the
 * client's (no TIME_WAIT or LAST_ACK, as upstream), so the client's ACK
 * of that FIN meets no connection and draws a RST carrying the ACK's
 * number. Take it and check that nothing else is left.
 */
static void trailing_rst(struct fixture *f, const struct np_tcp *t)
{
    uint8_t b[200];
    size_t n = mmds_ns_write_next_frame(f->ns, b, sizeof(b));

    assert_int_equal(n, 54);
    assert_int_equal(b[34] << 8 | b[35], 80);
    assert_int_equal(b[36] << 8 | b[37], t->sport);
    assert_int_equal(b[47], NP_TCP_RST);
    assert_int_equal((uint32_t)b[38] << 24 | (uint32_t)b[39] << 16 |
                         (uint32_t)b[40] << 8 | b[41],
                     t->rcv_nxt);
    assert_false(mmds_ns_has_frame(f->ns));
}

/* ---------------------------------------------------------------- ARP */

static void test_arp(void **state)
{
    struct fixture *f = *state;
    uint8_t mac[6] = {0};

    assert_int_equal(np_arp_resolve(&f->c, MMDS_IP, mac), NP_OK);
    assert_memory_equal(mac, mmds_mac, 6);
    assert_int_equal(f->c.stats.arp_replies, 1);
    assert_int_equal(mmds_ns_stats(f->ns)->rx_accepted, 1);
    assert_int_equal(f->not_taken, 0);
}

/* An ARP request for another address is not the MMDS's: it goes on to
 * the TAP and the stack answers nothing. */
static void test_arp_other_address(void **state)
{
    struct fixture *f = *state;
    uint8_t mac[6] = {0};

    assert_int_equal(np_arp_resolve(&f->c, MMDS_IP - 1, mac), NP_TIMEOUT);
    assert_int_equal(f->not_taken, 1);
    assert_int_equal(mmds_ns_stats(f->ns)->rx_accepted, 0);
    assert_false(mmds_ns_has_frame(f->ns));
}

/* ICMP to the MMDS address is taken and only counted. */
static void test_ping_mmds_silent(void **state)
{
    struct fixture *f = *state;
    const uint8_t data[4] = {1, 2, 3, 4};

    assert_int_equal(np_ping(&f->c, mmds_mac, MMDS_IP, 1, 1, data, 4),
                     NP_TIMEOUT);
    assert_int_equal(f->not_taken, 0);
    assert_int_equal(mmds_ns_stats(f->ns)->rx_accepted_unusual, 1);
}

/* --------------------------------------------------------------- TCP */

static void test_handshake_and_close(void **state)
{
    struct fixture *f = *state;
    struct np_tcp t;

    connect_ok(f, &t, 40000);
    assert_true(t.established);
    assert_int_equal(t.peer_mss, NP_MSS); /* the stack echoes ours */
    assert_int_equal(t.peer_wnd, 2500);   /* its receive buffer */
    assert_int_equal(mmds_ns_n_conns(f->ns), 1);
    assert_int_equal(np_tcp_close(&f->c, &t), NP_OK);
    assert_true(t.fin_received);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
    assert_int_equal(mmds_ns_stats(f->ns)->connections_created, 1);
    assert_int_equal(mmds_ns_stats(f->ns)->connections_destroyed, 1);
    trailing_rst(f, &t);
}

static void test_v1_text_and_json(void **state)
{
    struct fixture *f = *state;
    struct np_tcp t;

    connect_ok(f, &t, 40001);
    assert_string_equal(request(f, &t, "GET /name/first HTTP/1.1\r\n\r\n", 0),
                        "John");
    assert_int_equal(f->h.status, 200);
    assert_true(ctype_is(f, "text/plain"));
    /* keep-alive: the next request on the same connection */
    assert_string_equal(request(f, &t,
                                "GET /name/first HTTP/1.1\r\n"
                                "Accept: application/json\r\n\r\n",
                                0),
                        "\"John\"");
    assert_true(ctype_is(f, "application/json"));
    assert_string_equal(request(f, &t, "GET / HTTP/1.1\r\n\r\n", 0),
                        "big\nname/");
    assert_string_equal(request(f, &t, "GET /nope HTTP/1.1\r\n\r\n", 0),
                        "Resource not found: /nope.");
    assert_int_equal(f->h.status, 404);
    assert_int_equal(np_tcp_close(&f->c, &t), NP_OK);
    assert_int_equal(f->n_reqs, 4);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
}

/* A 4 KiB value comes in MSS-sized segments, each acknowledged; the
 * request goes in 7-byte segments. */
static void test_segmentation(void **state)
{
    struct fixture *f = *state;
    const char *body;
    struct np_tcp t;

    connect_ok(f, &t, 40002);
    body = request(f, &t, "GET /big HTTP/1.1\r\n\r\n", 7);
    assert_int_equal(strlen(body), BIG_LEN);
    for (size_t i = 0; i < BIG_LEN; i++)
        assert_int_equal(body[i], 'a' + i % 26);
    assert_int_equal(f->c.stats.max_seg_data, NP_MSS);
    assert_true(f->c.stats.segments_in >= 3);
    assert_int_equal(f->c.stats.rx_dup, 0);
    assert_int_equal(f->n_reqs, 1);
    assert_int_equal(np_tcp_close(&f->c, &t), NP_OK);
}

/* A response larger than the caller's buffer is reported, not written
 * past it. */
static void test_response_too_big_for_client(void **state)
{
    struct fixture *f = *state;
    static const char req[] = "GET /big HTTP/1.1\r\n\r\n";
    uint8_t small[1000];
    size_t got = 0;
    struct np_tcp t;

    connect_ok(f, &t, 40003);
    assert_int_equal(np_tcp_request(&f->c, &t, req, strlen(req), 0, small,
                                    sizeof(small), &got, NULL),
                     NP_NOSPACE);
    assert_int_equal(got, sizeof(small));
}

static void test_v2_tokens(void **state)
{
    struct fixture *f = *state;
    char tok[MMDS_TOKEN_LEN + 1], req[256];
    struct np_tcp t;

    mmds_store_set_version(f->store, MMDS_VERSION_V2);
    connect_ok(f, &t, 40004);
    /* no token: 401 */
    request(f, &t, "GET /name/first HTTP/1.1\r\n\r\n", 0);
    assert_int_equal(f->h.status, 401);
    strcpy(tok, request(f, &t,
                        "PUT /latest/api/token HTTP/1.1\r\n"
                        "X-metadata-token-ttl-seconds: 60\r\n\r\n",
                        16));
    assert_int_equal(f->h.status, 200);
    assert_int_equal(strlen(tok), MMDS_TOKEN_LEN);
    snprintf(req, sizeof(req),
             "GET /name/second HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", tok);
    assert_string_equal(request(f, &t, req, 0), "Doe");
    assert_int_equal(f->h.status, 200);
    /* one character changed */
    tok[3] = tok[3] == 'A' ? 'B' : 'A';
    snprintf(req, sizeof(req),
             "GET /name/second HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", tok);
    assert_string_equal(request(f, &t, req, 0), "MMDS token not valid.");
    assert_int_equal(f->h.status, 401);
    assert_int_equal(mmds_tokens_stats(f->tokens)->rx_invalid_token, 1);
    assert_int_equal(np_tcp_close(&f->c, &t), NP_OK);
}

/* A segment for a connection that does not exist is answered with a RST;
 * one to another port is taken and dropped without one (upstream's
 * handler returns InvalidPort before it looks for a connection). */
static void test_rst_cases(void **state)
{
    struct fixture *f = *state;
    struct np_tcp t;

    np_tcp_prepare(&t, mmds_mac, MMDS_IP, 80, 41000, 1234, 5678);
    assert_int_equal(np_tcp_probe(&f->c, &t, NP_TCP_ACK), NP_RST);
    /* the ACK's number becomes the RST's sequence, no ACK flag */
    assert_int_equal(t.rst_flags, NP_TCP_RST);
    assert_int_equal(t.rst_seq, 5678);
    /* without ACK: RST|ACK acknowledging seq + payload */
    assert_int_equal(np_tcp_probe(&f->c, &t, NP_TCP_PSH), NP_RST);
    assert_int_equal(t.rst_flags, NP_TCP_RST | NP_TCP_ACK);
    assert_int_equal(t.rst_ack, 1234);
    /* a RST is never answered */
    assert_int_equal(np_tcp_probe(&f->c, &t, NP_TCP_RST), NP_TIMEOUT);

    np_tcp_prepare(&t, mmds_mac, MMDS_IP, 81, 41001, 1234, 0);
    assert_int_equal(np_tcp_probe(&f->c, &t, NP_TCP_SYN), NP_TIMEOUT);
    assert_int_equal(f->not_taken, 0);
    assert_int_equal(mmds_ns_stats(f->ns)->rx_accepted_err, 1);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);

    /* a RST from the client ends an open connection */
    connect_ok(f, &t, 41002);
    assert_int_equal(np_tcp_probe(&f->c, &t, NP_TCP_RST), NP_TIMEOUT);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
}

/* A request that fills the 2500-byte receive buffer without a blank line
 * resets the connection. */
static void test_request_too_big(void **state)
{
    struct fixture *f = *state;
    static char junk[3000];
    struct np_tcp t;

    memset(junk, 'x', sizeof(junk));
    connect_ok(f, &t, 42000);
    assert_int_equal(np_tcp_send(&f->c, &t, junk, sizeof(junk), 500), NP_RST);
    assert_int_equal(t.rst_flags, NP_TCP_RST);
    assert_int_equal(t.rst_seq, t.rcv_nxt);
    /* the segment that filled the buffer is answered by the RST alone */
    assert_int_equal(t.snd_nxt - t.snd_una, 500);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
    assert_int_equal(f->n_reqs, 0);
}

/*
 * 30 connections; the 31st SYN gets upstream's RST|ACK, which acknowledges
 * the SYN's sequence number itself (the SYN is not counted). After 40 s of
 * silence on the others one of them is evicted (with a RST of its own) and
 * the new one opens.
 */
static void test_connection_limit(void **state)
{
    struct fixture *f = *state;
    static struct np_tcp t[MMDS_NS_MAX_CONNS + 1];
    struct np_tcp probe;
    uint32_t iss = 0x10000000u + 43030u * 1000u;
    size_t open = 0;

    for (uint16_t i = 0; i < MMDS_NS_MAX_CONNS; i++)
        connect_ok(f, &t[i], (uint16_t)(43000 + i));
    assert_int_equal(mmds_ns_n_conns(f->ns), MMDS_NS_MAX_CONNS);
    assert_int_equal(np_tcp_connect(&f->c, &t[MMDS_NS_MAX_CONNS], mmds_mac,
                                    MMDS_IP, 80, 43030, iss),
                     NP_RST);
    assert_int_equal(t[MMDS_NS_MAX_CONNS].rst_flags, NP_TCP_RST | NP_TCP_ACK);
    assert_int_equal(t[MMDS_NS_MAX_CONNS].rst_ack, iss);
    assert_int_equal(mmds_ns_n_conns(f->ns), MMDS_NS_MAX_CONNS);
    /* the open ones still work */
    assert_string_equal(
        request(f, &t[5], "GET /name/first HTTP/1.1\r\n\r\n", 0), "John");

    f->now += 40000000001ull;
    connect_ok(f, &t[MMDS_NS_MAX_CONNS], 43030);
    assert_int_equal(mmds_ns_n_conns(f->ns), MMDS_NS_MAX_CONNS);
    assert_int_equal(mmds_ns_stats(f->ns)->connections_created,
                     MMDS_NS_MAX_CONNS + 1);
    assert_int_equal(mmds_ns_stats(f->ns)->connections_destroyed, 1);
    assert_int_equal(f->c.stats.rsts_seen, 1); /* the refused SYN's */
    /* the victim (the first slot) is gone: its next segment gets a RST */
    probe = t[0];
    assert_int_equal(np_tcp_probe(&f->c, &probe, NP_TCP_ACK), NP_RST);
    for (size_t i = 0; i <= MMDS_NS_MAX_CONNS; i++)
        open += np_tcp_close(&f->c, &t[i]) == NP_OK;
    assert_int_equal(open, MMDS_NS_MAX_CONNS);
    assert_int_equal(mmds_ns_n_conns(f->ns), 0);
}

/* --------------------------------------------- an echoing peer */

/* A peer that answers the last frame sent as an ICMP echo would: MACs and
 * addresses swapped, type 0, the checksum adjusted for the type change
 * (RFC 1624). `corrupt` flips a payload byte after that. */
struct echo {
    uint8_t frame[NP_FRAME_MAX];
    size_t len;
    bool corrupt;
};

static int echo_send(void *opaque, const uint8_t *frame, size_t len)
{
    struct echo *e = opaque;

    memcpy(e->frame, frame, len);
    e->len = len;
    return 0;
}

static size_t echo_recv(void *opaque, uint8_t *buf, size_t cap,
                        uint32_t timeout_ms)
{
    struct echo *e = opaque;
    uint8_t *ip = buf + 14, *icmp = ip + 20, tmp[6];
    uint32_t sum;
    size_t n = e->len;

    (void)timeout_ms;
    if (!n || n > cap)
        return 0;
    e->len = 0;
    memcpy(buf, e->frame, n);
    memcpy(tmp, buf, 6);
    memcpy(buf, buf + 6, 6);
    memcpy(buf + 6, tmp, 6);
    memcpy(tmp, ip + 12, 4);
    memcpy(ip + 12, ip + 16, 4);
    memcpy(ip + 16, tmp, 4);
    icmp[0] = 0;
    sum = (uint32_t)(icmp[2] << 8 | icmp[3]) + 0x0800;
    sum = (sum & 0xffff) + (sum >> 16);
    icmp[2] = (uint8_t)(sum >> 8);
    icmp[3] = (uint8_t)sum;
    if (e->corrupt)
        buf[n - 1] ^= 0x40;
    return n;
}

static void test_ping_echo(void **state)
{
    static struct np_client c;
    static const uint8_t peer[6] = {0x02, 0, 0, 0, 0, 1};
    uint8_t data[56];
    struct echo e = {.len = 0};

    (void)state;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    np_init(&c, guest_mac, GUEST_IP, echo_send, echo_recv, &e);
    assert_int_equal(np_ping(&c, peer, 0xc0a8f101u, 7, 1, data, sizeof(data)),
                     NP_OK);
    assert_int_equal(c.stats.rx_bad, 0);
    /* an odd length exercises the checksum's last byte */
    assert_int_equal(np_ping(&c, peer, 0xc0a8f101u, 7, 2, data, 33), NP_OK);
    /* a damaged reply fails the ICMP checksum: dropped and counted */
    e.corrupt = true;
    assert_int_equal(np_ping(&c, peer, 0xc0a8f101u, 7, 3, data, sizeof(data)),
                     NP_TIMEOUT);
    assert_int_equal(c.stats.rx_bad, 1);
}

/* --------------------------------------------------- pure helpers */

static void test_parse_ipv4(void **state)
{
    static const struct {
        const char *s;
        int rc;
        uint32_t ip;
    } cases[] = {
        {"192.168.241.1", 0, 0xc0a8f101u},
        {"0.0.0.0", 0, 0},
        {"255.255.255.255", 0, 0xffffffffu},
        {"1.2.3", -1, 0},
        {"1.2.3.4.5", -1, 0},
        {"256.1.1.1", -1, 0},
        {"1..2.3", -1, 0},
        {"1.2.3.", -1, 0},
        {"a.b.c.d", -1, 0},
        {"0001.2.3.4", -1, 0},
        {"", -1, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t ip = 0xdeadbeef;
        int rc = np_parse_ipv4(cases[i].s, strlen(cases[i].s), &ip);

        assert_int_equal(rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(ip, cases[i].ip);
    }
}

static void test_http_parse(void **state)
{
    static const char full[] = "HTTP/1.1 200 \r\nServer: x\r\n"
                               "content-length:  5\r\nContent-Type: "
                               "text/plain\r\n\r\nhello";
    struct np_http h;
    const char *v;
    size_t vl;

    (void)state;
    for (size_t n = 0; n < strlen(full); n++) {
        bool head = np_http_parse((const uint8_t *)full, n, &h);

        assert_false(h.complete);
        assert_int_equal(head, n >= strlen(full) - 5);
    }
    assert_true(np_http_parse((const uint8_t *)full, strlen(full), &h));
    assert_true(h.complete);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.content_length, 5);
    assert_memory_equal(h.body, "hello", 5);
    assert_true(
        np_http_header((const uint8_t *)full, strlen(full), "SERVER", &v, &vl));
    assert_int_equal(vl, 1);
    assert_false(
        np_http_header((const uint8_t *)full, strlen(full), "Serve", &v, &vl));
    assert_false(
        np_http_parse((const uint8_t *)"HTTX/1.1 200 \r\n\r\n", 17, &h));
}

static void test_str(void **state)
{
    char b[8];
    struct np_str s;

    (void)state;
    np_str_init(&s, b, sizeof(b));
    np_str_add(&s, "ab");
    np_str_dec(&s, 1234);
    assert_string_equal(b, "ab1234");
    assert_false(s.cut);
    np_str_dec(&s, 56);
    assert_string_equal(b, "ab12345");
    assert_true(s.cut);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_arp),
        T(test_arp_other_address),
        T(test_ping_mmds_silent),
        T(test_handshake_and_close),
        T(test_v1_text_and_json),
        T(test_segmentation),
        T(test_response_too_big_for_client),
        T(test_v2_tokens),
        T(test_rst_cases),
        T(test_request_too_big),
        T(test_connection_limit),
        cmocka_unit_test(test_ping_echo),
        cmocka_unit_test(test_parse_ipv4),
        cmocka_unit_test(test_http_parse),
        cmocka_unit_test(test_str),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
