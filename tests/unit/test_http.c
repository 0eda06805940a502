/*
 * test_http.c: byte-exact tests of the micro_http-compatible parser and
 * serializer (api/http.c).
 *
 * Every parser input is placed at the very end of an mmap'ed area followed by
 * a PROT_NONE page (picohttpparser's test.c), so reading one byte too far
 * crashes. Each table case is parsed in one go, then again from every prefix
 * (each prefix on a fresh parser, then completed), then fed one byte at a time
 * to a single parser: all three must agree with the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/http.h"

/* ---- guard-page buffers ---------------------------------------------------
 */

struct guarded {
    char *base;
    size_t map_len;
    char *data; /* data + len == the guard page */
};

static struct guarded guard_copy(const char *s, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (len + page - 1) / page * page;
    struct guarded g;

    if (body == 0)
        body = page;
    g.map_len = body + page;
    g.base = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g.base != MAP_FAILED);
    assert_int_equal(mprotect(g.base + body, page, PROT_NONE), 0);
    g.data = g.base + body - len;
    if (len)
        memcpy(g.data, s, len);
    return g;
}

static void guard_free(struct guarded *g)
{
    munmap(g->base, g->map_len);
}

/* ---- the table ------------------------------------------------------------
 */

#define S(lit) lit, sizeof(lit) - 1

struct hdr_expect {
    const char *name;
    const char *value;
};

struct parse_case {
    const char *name;
    const char *in;
    size_t in_len;
    size_t max_payload;            /* 0 = default 51200 */
    enum http_parse_result result; /* DONE, ERROR or AGAIN (incomplete) */
    /* DONE: */
    enum http_method method;
    enum http_version version;
    const char *uri;
    uint32_t content_length;
    bool expect_continue;
    bool chunked;
    enum http_media accept;
    const char *body;            /* NULL: no body */
    size_t consumed;             /* 0 = in_len */
    int n_continue;              /* HTTP_PARSE_CONTINUE returns expected */
    struct hdr_expect custom[3]; /* custom headers to look up */
    /* ERROR: */
    const char *err;
    size_t err_len; /* 0 = strlen(err) */
};

#define PATCH_REQ                                                              \
    "PATCH http://localhost/home HTTP/1.1\r\n"                                 \
    "Expect: 100-continue\r\n"                                                 \
    "Transfer-Encoding: chunked\r\n"                                           \
    "Content-Length: 26\r\n\r\nthis is not\n\r\na json \nbody"

#define X86    "abcdefghijkl"
#define X86_10 X86 X86 X86 X86 X86 X86 X86 X86 X86 X86
#define LONG_VAL                                                               \
    X86_10 X86_10 X86_10 X86_10 X86_10 X86_10 X86_10 X86_10 X86 X86 X86 X86    \
        X86 X86
/* 1008 and 1016 bytes of 'a'. */
#define A8  "aaaaaaaa"
#define A64 A8 A8 A8 A8 A8 A8 A8 A8
#define A1008                                                                  \
    A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A64 A8 A8 A8 A8 A8 \
        A8
#define A1016 A1008 A8

static const struct parse_case cases[] = {
    /* ---- well-formed ---- */
    {.name = "minimal GET",
     S("GET / HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_1,
     .uri = "/"},
    {.name = "HTTP/1.0",
     S("GET /machine-config HTTP/1.0\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_0,
     .uri = "/machine-config"},
    {.name = "DELETE",
     S("DELETE /hotplug/memory HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_DELETE,
     .version = HTTP_1_1,
     .uri = "/hotplug/memory"},
    {.name = "PUT with body",
     S("PUT /drives/rootfs HTTP/1.1\r\nContent-Type: application/json\r\n"
       "Content-Length: 5\r\nAccept: application/json\r\n\r\nhello"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_PUT,
     .version = HTTP_1_1,
     .uri = "/drives/rootfs",
     .content_length = 5,
     .body = "hello",
     .accept = HTTP_MEDIA_JSON},
    {.name = "expect + chunked flag, body by length",
     S(PATCH_REQ),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_PATCH,
     .version = HTTP_1_1,
     .uri = "http://localhost/home",
     .content_length = 26,
     .expect_continue = true,
     .chunked = true,
     .body = "this is not\n\r\na json \nbody",
     .n_continue = 1},
    {.name = "URI verbatim (query, non-slash)",
     S("GET foo?x=%20 HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_1,
     .uri = "foo?x=%20"},
    {.name = "UTF-8 URI",
     S("GET /\xc3\xa9t\xc3\xa9 HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_1,
     .uri = "/\xc3\xa9t\xc3\xa9"},
    {.name = "custom headers trimmed, last wins",
     S("GET / HTTP/1.1\r\nX-Foo:  bar \r\nConnection: close\r\n"
       "x-dup: 1\r\nx-dup:2\r\nServer: whatever\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_1,
     .uri = "/",
     .custom = {{"X-Foo", "bar"}, {"Connection", "close"}, {"x-dup", "2"}}},
    {.name = "known header names case-insensitive and trimmed",
     S("PUT / HTTP/1.1\r\n CONTENT-length :+3\r\nexpect: 100-continue\r\n\r\n"
       "abc"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_PUT,
     .version = HTTP_1_1,
     .uri = "/",
     .content_length = 3,
     .expect_continue = true,
     .body = "abc",
     .n_continue = 1},
    {.name = "Unicode whitespace trimmed around Content-Length",
     S("PUT / HTTP/1.1\r\nContent-Length:\xc2\xa0"
       "2\xe3\x80\x80\t\r\n\r\nhi"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_PUT,
     .version = HTTP_1_1,
     .uri = "/",
     .content_length = 2,
     .body = "hi"},
    {.name = "unsupported values ignored",
     S("GET / HTTP/1.1\r\nContent-Type: text/html\r\nAccept: image/png\r\n"
       "Transfer-Encoding: gzip\r\nExpect: 103-checkpoint\r\n"
       "Accept-Encoding: gzip, deflate\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_1,
     .uri = "/",
     .accept = HTTP_MEDIA_PLAIN},
    {.name = "Accept-Encoding identity with *;q=0 is fine",
     S("GET / HTTP/1.1\r\nAccept-Encoding: identity, *;q=0\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_1,
     .uri = "/"},
    {.name = "Accept text/plain",
     S("GET / HTTP/1.1\r\nAccept: application/json\r\nAccept: text/plain\r\n"
       "\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_1,
     .uri = "/",
     .accept = HTTP_MEDIA_PLAIN},
    {.name = "Expect with no body: no 100",
     S("PUT / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_PUT,
     .version = HTTP_1_1,
     .uri = "/",
     .expect_continue = true},
    {.name = "GET with a body is the router's problem",
     S("GET /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_1,
     .uri = "/x",
     .content_length = 2,
     .body = "{}"},
    {.name = "last Content-Length wins",
     S("PUT / HTTP/1.1\r\nContent-Length: 9\r\nContent-Length: 1\r\n\r\nz"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_PUT,
     .version = HTTP_1_1,
     .uri = "/",
     .content_length = 1,
     .body = "z"},
    {.name = "pipelined: first request only",
     S("PUT /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /b HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_PUT,
     .version = HTTP_1_1,
     .uri = "/a",
     .content_length = 1,
     .body = "x",
     .consumed = 39},
    {.name = "chunked body not decoded: chunk is the next request",
     S("PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_PUT,
     .version = HTTP_1_1,
     .uri = "/a",
     .chunked = true,
     .consumed = 47},
    {.name = "request line of 1022 bytes fits",
     S("GET /" A1008 " HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_1,
     .uri = "/" A1008},
    {.name = "header line of 1022 bytes fits",
     S("GET / HTTP/1.1\r\nX:" A1016 "aaaa\r\n\r\n"),
     .result = HTTP_PARSE_DONE,
     .method = HTTP_GET,
     .version = HTTP_1_1,
     .uri = "/",
     .custom = {{"X", A1016 "aaaa"}}},

    /* ---- incomplete ---- */
    {.name = "bare LF is not a line end",
     S("GET / HTTP/1.1\n\n"),
     .result = HTTP_PARSE_AGAIN},
    {.name = "body incomplete",
     S("PUT / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
     .result = HTTP_PARSE_AGAIN},

    /* ---- request line errors ---- */
    {.name = "POST",
     S("POST / HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid HTTP Method: Unsupported HTTP method."},
    {.name = "lower-case method",
     S("get / HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid HTTP Method: Unsupported HTTP method."},
    {.name = "method checked before URI",
     S("HEAD  HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid HTTP Method: Unsupported HTTP method."},
    {.name = "empty URI",
     S("GET  HTTP/1.0\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid URI: Empty URI not allowed."},
    {.name = "non-UTF-8 URI",
     S("GET /\xff HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid URI: Cannot parse URI as UTF-8."},
    {.name = "surrogate in URI",
     S("GET /\xed\xa0\x80 HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid URI: Cannot parse URI as UTF-8."},
    {.name = "HTTP/2.0",
     S("GET / HTTP/2.0\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid HTTP Version: Unsupported HTTP version."},
    {.name = "lower-case version",
     S("GET / http/1.1\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid HTTP Version: Unsupported HTTP version."},
    {.name = "trailing space after version",
     S("GET / HTTP/1.1 \r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid HTTP Version: Unsupported HTTP version."},
    {.name = "LF inside the request line",
     S("GET / HTTP/1.1\n\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid HTTP Version: Unsupported HTTP version."},
    {.name = "no version",
     S("GET /\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid request."},
    {.name = "no spaces",
     S("nothing\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid request."},
    {.name = "empty request line",
     S("\r\nGET / HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid request."},
    {.name = "request line of 1023 bytes",
     S("GET /" A1008 "a HTTP/1.1\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid request."},

    /* ---- header errors ---- */
    {.name = "Content-Length not a number",
     S("PUT / HTTP/1.1\r\nContent-Length: alpha\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Invalid value. Key:Content-Length; "
            "Value: alpha"},
    {.name = "negative Content-Length",
     S("PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Invalid value. Key:Content-Length; "
            "Value: -1"},
    {.name = "Content-Length overflows u32",
     S("PUT / HTTP/1.1\r\ncontent-length : 4294967296 \r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Invalid value. Key:content-length ; "
            "Value: 4294967296 "},
    {.name = "Content-Length lone plus",
     S("PUT / HTTP/1.1\r\nContent-Length:+\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Invalid value. Key:Content-Length; "
            "Value:+"},
    {.name = "Content-Length empty",
     S("PUT / HTTP/1.1\r\nContent-Length:\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Invalid value. Key:Content-Length; "
            "Value:"},
    {.name = "payload limit (digest 2.5)",
     S("PUT /mmds HTTP/1.1\r\nContent-Length: 260\r\n\r\n"),
     .max_payload = 250,
     .result = HTTP_PARSE_ERROR,
     .err = "Request payload with size 260 is larger than the limit of 250 "
            "allowed by server."},
    {.name = "payload limit before 100-continue",
     S("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4294967295"
       "\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Request payload with size 4294967295 is larger than the limit of "
            "51200 allowed by server."},
    {.name = "header without colon",
     S("GET / HTTP/1.1\r\nHeader without colon\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Header is incorrectly formatted. Key: "
            "Header without colon"},
    {.name = "header with NUL and no colon",
     S("GET / HTTP/1.1\r\nA\0B\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Header is incorrectly formatted. Key: "
            "A\0B",
     .err_len = 65},
    {.name = "invalid byte in header",
     S("GET / HTTP/1.1\r\nX: \xff\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Header contains invalid characters. Key: "
            "invalid utf-8 sequence of 1 bytes from index 3"},
    {.name = "overlong in header",
     S("GET / HTTP/1.1\r\nX: \xe0\x80\x80\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Header contains invalid characters. Key: "
            "invalid utf-8 sequence of 1 bytes from index 3"},
    {.name = "bad third byte in header",
     S("GET / HTTP/1.1\r\nXY: \xe2\x82"
       "A\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Header contains invalid characters. Key: "
            "invalid utf-8 sequence of 2 bytes from index 4"},
    {.name = "bad fourth byte in header",
     S("GET / HTTP/1.1\r\n\xf0\x90\x80:\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Header contains invalid characters. Key: "
            "invalid utf-8 sequence of 3 bytes from index 0"},
    {.name = "truncated sequence ends the header",
     S("GET / HTTP/1.1\r\nX: \xe2\x82\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Header contains invalid characters. Key: "
            "incomplete utf-8 byte sequence from index 3"},
    {.name = "Accept-Encoding identity;q=0",
     S("GET / HTTP/1.0\r\nAccept-Encoding: identity;q=0\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Invalid value. Key:Accept-Encoding; "
            "Value:identity;q=0"},
    {.name = "Accept-Encoding piece keeps its space",
     S("GET / HTTP/1.1\r\naccept-encoding: gzip, identity;q=0 \r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Invalid value. Key:Accept-Encoding; "
            "Value: identity;q=0"},
    {.name = "Accept-Encoding *;q=0",
     S("GET / HTTP/1.1\r\nAccept-Encoding: gzip,*;q=0\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Invalid value. Key:Accept-Encoding; "
            "Value:*;q=0"},
    {.name = "Accept-Encoding empty",
     S("GET / HTTP/1.1\r\nAccept-Encoding:  \r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid request."},
    {.name = "long header line (upstream test)",
     S("PATCH http://localhost/home HTTP/1.1\r\nhead: " LONG_VAL "\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Invalid content length. Header: "
            "head: " LONG_VAL,
     .err_len = 56 + 1024},
    {.name = "header line of 1023 bytes",
     S("GET / HTTP/1.1\r\nX:" A1016 "aaaaa\r\n\r\n"),
     .result = HTTP_PARSE_ERROR,
     .err = "Invalid header. Reason: Invalid content length. Header: X:" A1016
            "aaaaa\r",
     .err_len = 56 + 1024},
};

/* ---- running the parser ----------------------------------------------------
 */

struct outcome {
    enum http_parse_result result;
    int n_continue;
    struct http_request req;
    size_t consumed;
    struct http_error err;
};

/* Parse buf[0..len) with p until it stops at AGAIN, DONE or ERROR. */
static void run(struct http_parser *p, const char *buf, size_t len,
                struct outcome *o)
{
    for (;;) {
        enum http_parse_result r =
            http_parse(p, buf, len, &o->req, &o->consumed, &o->err);

        if (r == HTTP_PARSE_CONTINUE) {
            o->n_continue++;
            assert_true(o->n_continue <= 1);
            continue;
        }
        o->result = r;
        return;
    }
}

static size_t case_consumed(const struct parse_case *c)
{
    return c->consumed ? c->consumed : c->in_len;
}

static void check_outcome(const struct parse_case *c, struct outcome *o,
                          const char *buf)
{
    if (o->result != c->result)
        fail_msg("%s: result %d, expected %d (err: %s)", c->name, o->result,
                 c->result, o->result == HTTP_PARSE_ERROR ? o->err.msg : "-");
    if (c->result == HTTP_PARSE_ERROR) {
        size_t len = c->err_len ? c->err_len : strlen(c->err);

        if (o->err.len != len || memcmp(o->err.msg, c->err, len) != 0)
            fail_msg("%s: error \"%s\" (%zu), expected \"%s\" (%zu)", c->name,
                     o->err.msg, o->err.len, c->err, len);
        return;
    }
    if (c->result != HTTP_PARSE_DONE)
        return;
    assert_int_equal(o->n_continue, c->n_continue);
    assert_int_equal(o->consumed, case_consumed(c));
    assert_int_equal(o->req.method, c->method);
    assert_int_equal(o->req.version, c->version);
    assert_int_equal(o->req.uri_len, strlen(c->uri));
    assert_memory_equal(o->req.uri, c->uri, o->req.uri_len);
    assert_true(o->req.uri >= buf && o->req.uri < buf + c->in_len);
    assert_int_equal(o->req.content_length, c->content_length);
    assert_int_equal(o->req.expect_continue, c->expect_continue);
    assert_int_equal(o->req.chunked, c->chunked);
    assert_int_equal(o->req.accept, c->accept);
    if (c->body) {
        assert_non_null(o->req.body);
        assert_int_equal(o->req.body_len, strlen(c->body));
        assert_memory_equal(o->req.body, c->body, o->req.body_len);
        assert_true(o->req.body >= buf &&
                    o->req.body + o->req.body_len <= buf + c->in_len);
    } else {
        assert_null(o->req.body);
        assert_int_equal(o->req.body_len, 0);
    }
    for (size_t i = 0; i < 3 && c->custom[i].name; i++) {
        const char *v;
        size_t vlen;

        assert_true(
            http_request_custom_header(&o->req, c->custom[i].name, &v, &vlen));
        assert_int_equal(vlen, strlen(c->custom[i].value));
        assert_memory_equal(v, c->custom[i].value, vlen);
    }
}

static size_t case_max(const struct parse_case *c)
{
    return c->max_payload ? c->max_payload : HTTP_DEFAULT_MAX_PAYLOAD;
}

/* One shot. */
static void test_table_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct parse_case *c = &cases[i];
        struct guarded g = guard_copy(c->in, c->in_len);
        struct http_parser p;
        struct outcome o = {0};

        http_parser_init(&p, case_max(c));
        run(&p, g.data, c->in_len, &o);
        check_outcome(c, &o, g.data);
        guard_free(&g);
    }
}

/* Every prefix on a fresh parser, then the whole input on the same parser. */
static void test_table_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct parse_case *c = &cases[i];

        for (size_t k = 0; k < c->in_len; k++) {
            struct guarded g1 = guard_copy(c->in, k), g2;
            struct http_parser p;
            struct outcome o = {0};

            http_parser_init(&p, case_max(c));
            run(&p, g1.data, k, &o);
            if (o.result == HTTP_PARSE_ERROR || o.result == HTTP_PARSE_DONE) {
                /* Only possible once the decisive bytes are all there. */
                check_outcome(c, &o, g1.data);
                if (o.result == HTTP_PARSE_DONE)
                    assert_true(k >= case_consumed(c));
                guard_free(&g1);
                continue;
            }
            guard_free(&g1);
            g2 = guard_copy(c->in, c->in_len);
            run(&p, g2.data, c->in_len, &o);
            check_outcome(c, &o, g2.data);
            guard_free(&g2);
        }
    }
}

/* One byte at a time, one parser, the buffer growing (and moving). */
static void test_table_bytewise(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct parse_case *c = &cases[i];
        struct http_parser p;
        struct outcome o = {0};

        http_parser_init(&p, case_max(c));
        for (size_t k = 1; k <= c->in_len; k++) {
            struct guarded g = guard_copy(c->in, k);

            run(&p, g.data, k, &o);
            if (o.result == HTTP_PARSE_ERROR || o.result == HTTP_PARSE_DONE) {
                check_outcome(c, &o, g.data);
                guard_free(&g);
                break;
            }
            if (k == c->in_len)
                check_outcome(c, &o, g.data);
            guard_free(&g);
        }
    }
}

/* ---- targeted parser tests ------------------------------------------------
 */

static enum http_parse_result parse_str(struct http_parser *p, const char *s,
                                        size_t len, struct outcome *o)
{
    struct guarded g = guard_copy(s, len);

    memset(o, 0, sizeof(*o));
    run(p, g.data, len, o);
    guard_free(&g);
    return o->result;
}

static void test_continue_once(void **state)
{
    static const char req[] =
        "PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    char full[sizeof(req) + 3];
    struct http_request r;
    struct http_parser p;
    struct http_error err;
    size_t consumed;

    (void)state;
    http_parser_init(&p, 10);
    assert_int_equal(http_parse(&p, req, sizeof(req) - 1, &r, &consumed, &err),
                     HTTP_PARSE_CONTINUE);
    assert_int_equal(http_parser_version(&p), HTTP_1_0);
    assert_int_equal(http_parse(&p, req, sizeof(req) - 1, &r, &consumed, &err),
                     HTTP_PARSE_AGAIN);
    memcpy(full, req, sizeof(req) - 1);
    memcpy(full + sizeof(req) - 1, "abc", 3);
    assert_int_equal(
        http_parse(&p, full, sizeof(full) - 1, &r, &consumed, &err),
        HTTP_PARSE_DONE);
    assert_int_equal(consumed, sizeof(full) - 1);
    assert_memory_equal(r.body, "abc", 3);
    /* The limit is inclusive. */
    http_parser_init(&p, 3);
    assert_int_equal(
        http_parse(&p, full, sizeof(full) - 1, &r, &consumed, &err),
        HTTP_PARSE_CONTINUE);
    http_parser_init(&p, 2);
    assert_int_equal(
        http_parse(&p, full, sizeof(full) - 1, &r, &consumed, &err),
        HTTP_PARSE_ERROR);
}

static void test_long_header_lossy(void **state)
{
    /* A 1024-byte window with invalid bytes is quoted lossily (U+FFFD). */
    char in[2048];
    size_t n = 0;
    struct http_parser p;
    struct outcome o;
    const char *prefix =
        "Invalid header. Reason: Invalid content length. Header: ";

    (void)state;
    n += (size_t)sprintf(in, "GET / HTTP/1.1\r\nX: ");
    in[n++] = '\xff'; /* 1 invalid byte */
    in[n++] = '\xe2'; /* E2 82 41: 2 invalid bytes, then 'A' */
    in[n++] = '\x82';
    in[n++] = 'A';
    while (n < 16 + 1023)
        in[n++] = 'b';
    in[n++] = '\xf0'; /* cut by the window: one U+FFFD */
    in[n++] = '\x90';
    in[n++] = '\r';
    in[n++] = '\n';
    http_parser_init(&p, 100);
    assert_int_equal(parse_str(&p, in, n, &o), HTTP_PARSE_ERROR);
    /* 4 invalid bytes in 3 sequences. */
    assert_int_equal(o.err.len, strlen(prefix) + 1024 - 4 + 3 * 3);
    assert_memory_equal(o.err.msg, prefix, strlen(prefix));
    assert_memory_equal(o.err.msg + strlen(prefix),
                        "X: \xef\xbf\xbd\xef\xbf\xbd"
                        "Abbb",
                        13);
    assert_memory_equal(o.err.msg + o.err.len - 4, "b\xef\xbf\xbd", 4);
}

static void test_head_limit(void **state)
{
    /* squib-only bound on a head (docs/http.md). */
    size_t cap = HTTP_MAX_HEAD_LEN + 4096, n = 0;
    char *in = malloc(cap);
    struct http_parser p;
    struct outcome o;

    (void)state;
    assert_non_null(in);
    n += (size_t)sprintf(in, "GET / HTTP/1.1\r\n");
    while (n + 20 < HTTP_MAX_HEAD_LEN + 2048)
        n += (size_t)sprintf(in + n, "X-Header-%05zu: v\r\n", n % 100000);
    http_parser_init(&p, 100);
    assert_int_equal(parse_str(&p, in, n, &o), HTTP_PARSE_ERROR);
    assert_string_equal(o.err.msg, "Invalid request.");
    free(in);
}

static void test_header_iter(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nContent-Length : 0\r\n"
                              "X-A: \xc2\xa0 1 \r\nx-b:\r\n\r\n";
    struct guarded g = guard_copy(req, sizeof(req) - 1);
    struct http_parser p;
    struct outcome o = {0};
    struct http_header h;
    size_t it = 0;

    (void)state;
    http_parser_init(&p, 100);
    run(&p, g.data, sizeof(req) - 1, &o);
    assert_int_equal(o.result, HTTP_PARSE_DONE);
    assert_true(http_header_next(&o.req, &it, &h));
    assert_false(h.is_custom);
    assert_int_equal(h.name_len, 14);
    assert_memory_equal(h.name, "Content-Length", 14);
    assert_true(http_header_next(&o.req, &it, &h));
    assert_true(h.is_custom);
    assert_int_equal(h.value_len, 1);
    assert_memory_equal(h.value, "1", 1);
    assert_true(http_header_next(&o.req, &it, &h));
    assert_true(h.is_custom);
    assert_int_equal(h.value_len, 0);
    assert_false(http_header_next(&o.req, &it, &h));
    /* Exact-case lookup, as upstream's map. */
    {
        const char *v;
        size_t vl;

        assert_false(http_request_custom_header(&o.req, "x-a", &v, &vl));
        assert_true(http_request_custom_header(&o.req, "X-A", &v, &vl));
        assert_false(
            http_request_custom_header(&o.req, "Content-Length", &v, &vl));
    }
    guard_free(&g);
}

/* ---- serializer ------------------------------------------------------------
 */

static void expect_bytes(struct buf *b, const char *want, size_t want_len)
{
    if (b->len != want_len || memcmp(b->data, want, want_len) != 0)
        fail_msg("got %zu bytes:\n%.*s\nwant %zu bytes:\n%.*s", b->len,
                 (int)b->len, b->data, want_len, (int)want_len, want);
}

static void test_write_responses(void **state)
{
    struct buf b = BUF_INIT;
    static const char fault[] =
        "{\"fault_message\":\"Missing snapshot operation type.\"}";

    (void)state;
    /* Digest 2.2, 204. */
    http_write_response(&b, &(struct http_response){.status = 204});
    expect_bytes(&b, S("HTTP/1.1 204 \r\nServer: Firecracker API\r\n"
                       "Connection: keep-alive\r\n\r\n"));
    /* Digest 2.2, 400. */
    buf_reset(&b);
    http_write_response(
        &b, &(struct http_response){
                .status = 400, .body = fault, .body_len = sizeof(fault) - 1});
    expect_bytes(&b,
                 S("HTTP/1.1 400 \r\nServer: Firecracker API\r\n"
                   "Connection: keep-alive\r\nContent-Type: application/json"
                   "\r\nContent-Length: 52\r\n\r\n{\"fault_message\":\"Missing "
                   "snapshot operation type.\"}"));
    /* No body but not 204: Content-Length: 0. */
    buf_reset(&b);
    http_write_response(&b, &(struct http_response){.status = 200});
    expect_bytes(&b, S("HTTP/1.1 200 \r\nServer: Firecracker API\r\n"
                       "Connection: keep-alive\r\nContent-Type: "
                       "application/json\r\nContent-Length: 0\r\n\r\n"));
    /* A 204 given a body gets the length headers, as set_body does. */
    buf_reset(&b);
    http_write_response(
        &b, &(struct http_response){.status = 204, .body = "", .body_len = 0});
    expect_bytes(&b, S("HTTP/1.1 204 \r\nServer: Firecracker API\r\n"
                       "Connection: keep-alive\r\nContent-Type: "
                       "application/json\r\nContent-Length: 0\r\n\r\n"));
    /* Header order: Allow, Deprecation, custom, then type and length. */
    buf_reset(&b);
    http_write_response(&b, &(struct http_response){
                                .status = 405,
                                .deprecation = true,
                                .allow = "GET, PUT",
                                .extra_headers = "X-metadata-token-ttl-seconds:"
                                                 " 60\r\n",
                                .content_type = "text/plain",
                                .body = "Not allowed",
                                .body_len = 11});
    expect_bytes(&b, S("HTTP/1.1 405 \r\nServer: Firecracker API\r\n"
                       "Connection: keep-alive\r\nAllow: GET, PUT\r\n"
                       "Deprecation: true\r\nX-metadata-token-ttl-seconds: "
                       "60\r\nContent-Type: text/plain\r\nContent-Length: 11"
                       "\r\n\r\nNot allowed"));
    /* Body bytes are copied verbatim, NULs included. */
    buf_reset(&b);
    http_write_response(&b, &(struct http_response){
                                .status = 504, .body = "a\0b", .body_len = 3});
    expect_bytes(&b, S("HTTP/1.1 504 \r\nServer: Firecracker API\r\n"
                       "Connection: keep-alive\r\nContent-Type: "
                       "application/json\r\nContent-Length: 3\r\n\r\na\0b"));
    /* 100-continue echoes the version. */
    buf_reset(&b);
    http_write_continue(&b, HTTP_1_0);
    expect_bytes(&b, S("HTTP/1.0 100 \r\nServer: Firecracker API\r\n"
                       "Connection: keep-alive\r\n\r\n"));
    buf_reset(&b);
    http_write_continue(&b, HTTP_1_1);
    expect_bytes(&b, S("HTTP/1.1 100 \r\nServer: Firecracker API\r\n"
                       "Connection: keep-alive\r\n\r\n"));
    /* Digest 2.6. */
    assert_int_equal(http_server_full_response_len, 120);
    assert_memory_equal(http_server_full_response,
                        "HTTP/1.1 503\r\nServer: Firecracker API\r\n"
                        "Connection: close\r\nContent-Length: 40\r\n\r\n"
                        "{ \"error\": \"Too many open connections\" }",
                        120);
    buf_fini(&b);
}

static void test_parse_error_response(void **state)
{
    /* Digest 2.5, from the parser's own error. */
    static const char req[] =
        "PUT /mmds HTTP/1.1\r\nContent-Length: 260\r\n\r\n";
    struct http_parser p;
    struct outcome o;
    struct buf b = BUF_INIT;

    (void)state;
    http_parser_init(&p, 250);
    assert_int_equal(parse_str(&p, req, sizeof(req) - 1, &o), HTTP_PARSE_ERROR);
    http_write_parse_error(&b, &o.err);
    expect_bytes(&b,
                 S("HTTP/1.1 400 \r\nServer: Firecracker API\r\n"
                   "Connection: keep-alive\r\nContent-Type: application/json"
                   "\r\nContent-Length: 145\r\n\r\n{ \"error\": \"Request "
                   "payload with size 260 is larger than the limit of 250 "
                   "allowed by server.\nAll previous unanswered requests "
                   "will be dropped.\" }"));
    buf_fini(&b);
}

static void test_method_str(void **state)
{
    (void)state;
    assert_string_equal(http_method_str(HTTP_GET), "GET");
    assert_string_equal(http_method_str(HTTP_PUT), "PUT");
    assert_string_equal(http_method_str(HTTP_PATCH), "PATCH");
    assert_string_equal(http_method_str(HTTP_DELETE), "DELETE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_whole),
        cmocka_unit_test(test_table_split),
        cmocka_unit_test(test_table_bytewise),
        cmocka_unit_test(test_continue_once),
        cmocka_unit_test(test_long_header_lossy),
        cmocka_unit_test(test_head_limit),
        cmocka_unit_test(test_header_iter),
        cmocka_unit_test(test_write_responses),
        cmocka_unit_test(test_parse_error_response),
        cmocka_unit_test(test_method_str),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
