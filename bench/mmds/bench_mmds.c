/*
 * bench_mmds.c: what one MMDS request costs squib, in-process, without a
 * guest: the project's raw-frame client (tests/guest/netproto.c, the code
 * the test guest runs) against squib's MMDS network stack and HTTP handler
 * (src/mmds/ns.c, http.c) on one thread, for a 1 KiB value, V1 and V2.
 *
 * Printed, from one run:
 *  (a) the floor: the HTTP handler alone (mmds_http_respond on the request
 *      bytes), requests per second;
 *  (b) keep-alive: requests over one established TCP connection through
 *      the stack (frames in, frames out, checksums written and checked by
 *      the client), requests per second and the ratio to (a);
 *  (c) a connection per request (SYN, request, response, FIN), as curl or
 *      an SDK's IMDS client does by default, and the ratio to (a).
 * V2 requests carry a token issued once. Rounds interleave (a), (b) and
 * (c) so that all three see the same machine. The time covers squib's
 * side and the client's frame handling together: an upper bound on
 * squib's per-request CPU. Figures only: nothing fails on a time.
 *
 * usage: bench_mmds [REQUESTS_PER_ROUND] [ROUNDS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tests/guest/netproto.h"
#include "mmds/http.h"
#include "mmds/ns.h"
#include "mmds/store.h"
#include "mmds/token.h"
#include "util/buf.h"
#include "util/json.h"

#define MMDS_IP  0xa9fea9feu
#define GUEST_IP 0xa9fe0002u

static const uint8_t guest_mac[6] = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};

struct bench {
    struct mmds_ns *ns;
    struct mmds_store *store;
    struct mmds_tokens *tokens;
    struct np_client c;
    uint8_t mmds_mac[6];
    uint8_t resp[8192];
    char token[MMDS_TOKEN_LEN + 1];
    uint16_t next_port;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_mmds: %s\n", what);
    exit(1);
}

static void http_fn(void *opaque, const uint8_t *req, size_t len,
                    struct buf *resp)
{
    struct bench *b = opaque;

    mmds_http_respond(b->store, b->tokens, req, len, now_ns() / 1000000, resp);
}

static int send_fn(void *opaque, const uint8_t *frame, size_t len)
{
    struct bench *b = opaque;

    (void)mmds_ns_detour_frame(b->ns, frame, len);
    return 0;
}

static size_t recv_fn(void *opaque, uint8_t *buf, size_t cap, uint32_t ms)
{
    struct bench *b = opaque;

    (void)ms;
    return mmds_ns_write_next_frame(b->ns, buf, cap);
}

static void setup(struct bench *b, enum mmds_version v)
{
    char doc[2048];
    struct json_value *val = NULL;
    struct sq_err err;
    size_t n;

    memset(b, 0, sizeof(*b));
    n = (size_t)snprintf(doc, sizeof(doc), "{\"latest\":{\"value\":\"");
    for (size_t i = 0; i < 1024; i++)
        doc[n++] = (char)('a' + i % 26);
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "\"}}");
    b->store = mmds_store_new(51200);
    mmds_store_set_version(b->store, v);
    mmds_store_set_aad(b->store, "bench");
    if (mmds_store_tokens(b->store, &b->tokens, &err) < 0)
        die(err.msg);
    if (json_parse(doc, n, &val, &err) < 0 ||
        mmds_store_put(b->store, val, &err) < 0)
        die(err.msg);
    b->ns = mmds_ns_new(MMDS_IP, NULL, http_fn, b);
    np_init(&b->c, guest_mac, GUEST_IP, send_fn, recv_fn, b);
    if (np_arp_resolve(&b->c, MMDS_IP, b->mmds_mac) != NP_OK)
        die("no ARP reply");
    b->next_port = 20000;
}

static void teardown(struct bench *b)
{
    mmds_ns_free(b->ns);
    mmds_store_free(b->store); /* and its tokens */
}

static size_t get_request(const struct bench *b, char *req, size_t cap)
{
    if (b->token[0])
        return (size_t)snprintf(req, cap,
                                "GET /latest/value HTTP/1.1\r\n"
                                "X-metadata-token: %s\r\n\r\n",
                                b->token);
    return (size_t)snprintf(req, cap, "GET /latest/value HTTP/1.1\r\n\r\n");
}

static void check(const struct np_http *h)
{
    if (!h->complete || h->status != 200 || h->content_length != 1024)
        die("unexpected MMDS answer");
}

static uint16_t port(struct bench *b)
{
    if (++b->next_port < 20000)
        b->next_port = 20000;
    return b->next_port;
}

/* V2: one token for the run, over a connection of its own. */
static void take_token(struct bench *b)
{
    static const char put[] = "PUT /latest/api/token HTTP/1.1\r\n"
                              "X-metadata-token-ttl-seconds: 21600\r\n\r\n";
    struct np_tcp t;
    struct np_http h;
    size_t len = 0;
    uint16_t p = port(b);

    if (np_tcp_connect(&b->c, &t, b->mmds_mac, MMDS_IP, 80, p, p * 7u) !=
            NP_OK ||
        np_tcp_request(&b->c, &t, put, sizeof(put) - 1, NP_MSS, b->resp,
                       sizeof(b->resp), &len, &h) != NP_OK ||
        h.status != 200 || h.content_length != MMDS_TOKEN_LEN)
        die("no token");
    memcpy(b->token, h.body, MMDS_TOKEN_LEN);
    b->token[MMDS_TOKEN_LEN] = '\0';
    (void)np_tcp_close(&b->c, &t);
}

static double run_floor(struct bench *b, unsigned n)
{
    char req[256];
    size_t rl = get_request(b, req, sizeof(req));
    struct buf out;
    uint64_t t0;

    buf_init(&out);
    t0 = now_ns();
    for (unsigned i = 0; i < n; i++) {
        out.len = 0;
        mmds_http_respond(b->store, b->tokens, (const uint8_t *)req, rl,
                          now_ns() / 1000000, &out);
        if (out.len < 1024)
            die("short answer from the handler");
    }
    t0 = now_ns() - t0;
    buf_fini(&out);
    return (double)n * 1e9 / (double)t0;
}

static double run_keepalive(struct bench *b, unsigned n)
{
    char req[256];
    size_t rl = get_request(b, req, sizeof(req));
    struct np_tcp t;
    struct np_http h;
    uint16_t p = port(b);
    uint64_t t0;

    if (np_tcp_connect(&b->c, &t, b->mmds_mac, MMDS_IP, 80, p, p * 7u) != NP_OK)
        die("connect failed");
    t0 = now_ns();
    for (unsigned i = 0; i < n; i++) {
        size_t len = 0;

        t.rlen = 0;
        if (np_tcp_request(&b->c, &t, req, rl, NP_MSS, b->resp, sizeof(b->resp),
                           &len, &h) != NP_OK)
            die("request failed");
        check(&h);
    }
    t0 = now_ns() - t0;
    (void)np_tcp_close(&b->c, &t);
    return (double)n * 1e9 / (double)t0;
}

static double run_per_connection(struct bench *b, unsigned n)
{
    char req[256];
    size_t rl = get_request(b, req, sizeof(req));
    uint64_t t0 = now_ns();

    for (unsigned i = 0; i < n; i++) {
        struct np_tcp t;
        struct np_http h;
        size_t len = 0;
        uint16_t p = port(b);

        if (np_tcp_connect(&b->c, &t, b->mmds_mac, MMDS_IP, 80, p, p * 7u) !=
                NP_OK ||
            np_tcp_request(&b->c, &t, req, rl, NP_MSS, b->resp, sizeof(b->resp),
                           &len, &h) != NP_OK)
            die("request failed");
        check(&h);
        if (np_tcp_close(&b->c, &t) != NP_OK)
            die("close failed");
    }
    t0 = now_ns() - t0;
    return (double)n * 1e9 / (double)t0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
    unsigned rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 5;
    static const enum mmds_version vs[] = {MMDS_VERSION_V1, MMDS_VERSION_V2};

    if (n == 0 || rounds == 0 || rounds > 64)
        die("usage: bench_mmds [REQUESTS_PER_ROUND] [ROUNDS (1..64)]");
    printf("MMDS, in-process, 1 KiB value, %u requests x %u rounds "
           "(medians)\n",
           n, rounds);
    for (size_t k = 0; k < 2; k++) {
        double fl[64], ka[64], pc[64];
        struct bench b;

        setup(&b, vs[k]);
        if (vs[k] == MMDS_VERSION_V2)
            take_token(&b);
        for (unsigned r = 0; r < rounds; r++) {
            fl[r] = run_floor(&b, n);
            ka[r] = run_keepalive(&b, n);
            pc[r] = run_per_connection(&b, n / 4 ? n / 4 : 1);
        }
        double f = median(fl, rounds), a = median(ka, rounds),
               c = median(pc, rounds);
        printf("  %s  handler alone %9.0f req/s | keep-alive %9.0f req/s "
               "(%.2fx the handler's time) | connection per request "
               "%8.0f req/s (%.2fx)\n",
               k ? "V2" : "V1", f, a, f / a, c, f / c);
        teardown(&b);
    }
    return 0;
}
