/*
 * test_mmds_http.c: the guest-facing MMDS HTTP handler (digest 8.3), byte
 * for byte: V1 and V2 GETs (IMDS text vs JSON, imds_compat, JSON-pointer
 * paths, not found, unsupported types), token PUTs with either spelling and
 * their errors, 401s on a fake clock, 405s, and requests that fail
 * micro_http's parsing. Cases follow upstream's mmds/mod.rs tests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mmds/http.h"

#define DATA                                                                   \
    "{\"name\":{\"first\":\"John\",\"second\":\"Doe\"},\"age\":43,"            \
    "\"phones\":{\"home\":{\"RO\":\"+401234567\",\"UK\":\"+441234567\"},"      \
    "\"mobile\":\"+442345678\"},\"tags\":[\"a\",\"b\"],\"empty\":{}}"
#define DATA_COMPACT                                                           \
    "{\"age\":43,\"empty\":{},\"name\":{\"first\":\"John\",\"second\":"        \
    "\"Doe\"},\"phones\":{\"home\":{\"RO\":\"+401234567\",\"UK\":"             \
    "\"+441234567\"},\"mobile\":\"+442345678\"},\"tags\":[\"a\",\"b\"]}"

#define NO_TOKEN                                                               \
    "No MMDS token provided. Use `X-metadata-token` or "                       \
    "`X-aws-ec2-metadata-token` header to specify the ses"                     \
    "sion token."
#define NO_TTL                                                                 \
    "Token time to live value not found. Use `X-metadata-token-ttl-seconds` "  \
    "or `X-aws-ec2-metadata-token-ttl-seconds` header to specify the "         \
    "token's lifetime."
#define UNSUPPORTED "Cannot retrieve value. The value has an unsupported type."

struct fx {
    struct mmds_store *s;
    struct mmds_tokens *t;
    struct buf out;
};

static int setup(void **state)
{
    static struct fx f;
    struct json_value *v = NULL;
    struct sq_err err;

    memset(&f, 0, sizeof(f));
    f.s = mmds_store_new(51200);
    assert_int_equal(mmds_tokens_new(&f.t), 0);
    assert_int_equal(json_parse(DATA, strlen(DATA), &v, &err), 0);
    assert_int_equal(mmds_store_put(f.s, v, &err), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    mmds_store_free(f->s);
    mmds_tokens_free(f->t);
    buf_fini(&f->out);
    return 0;
}

/* The response to `req` at time `now`. */
static const char *ask_at(struct fx *f, const char *req, uint64_t now)
{
    buf_reset(&f->out);
    mmds_http_respond(f->s, f->t, (const uint8_t *)req, strlen(req), now,
                      &f->out);
    assert_non_null(f->out.data);
    assert_int_equal(strlen(f->out.data), f->out.len);
    return f->out.data;
}

static const char *ask(struct fx *f, const char *req)
{
    return ask_at(f, req, 1000);
}

/* micro_http's bytes for one response. */
static const char *expect(const char *ver, int code, const char *extra,
                          const char *ctype, const char *body)
{
    static char b[4096];

    snprintf(b, sizeof(b),
             "HTTP/%s %d \r\nServer: Firecracker API\r\n"
             "Connection: keep-alive\r\n%sContent-Type: %s\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             ver, code, extra, ctype, strlen(body), body);
    return b;
}

static const char *text(const char *ver, int code, const char *body)
{
    return expect(ver, code, "", "text/plain", body);
}

static const char *json(const char *ver, int code, const char *body)
{
    return expect(ver, code, "", "application/json", body);
}

/* A parse failure: always HTTP/1.1 and the default JSON content type. */
static const char *perr(int code, const char *body)
{
    return json("1.1", code, body);
}

/* Issue a token through the handler and return it (static storage). */
static const char *get_token(struct fx *f, const char *hdr, uint32_t ttl,
                             uint64_t now)
{
    static char tok[MMDS_TOKEN_LEN + 1];
    char req[256], extra[128];
    const char *r, *body;

    snprintf(req, sizeof(req),
             "PUT http://169.254.169.254/latest/api/token HTTP/1.1\r\n"
             "%s: %u\r\n\r\n",
             hdr, ttl);
    r = ask_at(f, req, now);
    body = strstr(r, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_int_equal(strlen(body), MMDS_TOKEN_LEN);
    memcpy(tok, body, sizeof(tok));
    snprintf(extra, sizeof(extra), "%s: %u\r\n", hdr, ttl);
    assert_string_equal(r, expect("1.1", 200, extra, "text/plain", tok));
    return tok;
}

static void test_v1_get_listing_and_json(void **state)
{
    struct fx *f = *state;

    assert_string_equal(ask(f, "GET http://169.254.169.254/ HTTP/1.0\r\n\r\n"),
                        text("1.0", 200, "age\nempty/\nname/\nphones/\ntags"));
    assert_string_equal(ask(f, "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"),
                        text("1.1", 200, "age\nempty/\nname/\nphones/\ntags"));
    assert_string_equal(
        ask(f, "GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n"),
        json("1.1", 200, DATA_COMPACT));
    /* A later Accept wins; an unknown one is ignored. */
    assert_string_equal(ask(f, "GET / HTTP/1.0\r\nAccept: application/json\r\n"
                               "Accept: text/plain\r\n\r\n"),
                        text("1.0", 200, "age\nempty/\nname/\nphones/\ntags"));
    assert_string_equal(ask(f, "GET / HTTP/1.0\r\naccept:  application/json "
                               "\r\nAccept: image/png\r\n\r\n"),
                        json("1.0", 200, DATA_COMPACT));
    assert_int_equal(mmds_tokens_stats(f->t)->rx_no_token, 5);
    assert_int_equal(mmds_tokens_stats(f->t)->rx_invalid_token, 0);
}

static void test_v1_leaves_and_paths(void **state)
{
    struct fx *f = *state;

    assert_string_equal(ask(f, "GET /name/first HTTP/1.1\r\n\r\n"),
                        text("1.1", 200, "John"));
    assert_string_equal(
        ask(f, "GET /name/first HTTP/1.1\r\nAccept: application/json\r\n\r\n"),
        json("1.1", 200, "\"John\""));
    assert_string_equal(ask(f, "GET /phones/home/ HTTP/1.1\r\n\r\n"),
                        text("1.1", 200, "RO\nUK"));
    assert_string_equal(ask(f, "GET ///phones//home/// HTTP/1.1\r\n\r\n"),
                        text("1.1", 200, "RO\nUK"));
    assert_string_equal(
        ask(f, "GET http://169.254.169.254//phones/mobile HTTP/1.1\r\n\r\n"),
        text("1.1", 200, "+442345678"));
    assert_string_equal(ask(f, "GET /empty HTTP/1.1\r\n\r\n"),
                        text("1.1", 200, ""));
    /* Arrays: indices as JSON Pointer has them; not listable as text. */
    assert_string_equal(ask(f, "GET /tags/1 HTTP/1.1\r\n\r\n"),
                        text("1.1", 200, "b"));
    assert_string_equal(
        ask(f, "GET /tags HTTP/1.1\r\nAccept: application/json\r\n\r\n"),
        json("1.1", 200, "[\"a\",\"b\"]"));
    assert_string_equal(ask(f, "GET /tags HTTP/1.1\r\n\r\n"),
                        text("1.1", 501, UNSUPPORTED));
    assert_string_equal(ask(f, "GET /age HTTP/1.0\r\n\r\n"),
                        text("1.0", 501, UNSUPPORTED));
    assert_string_equal(
        ask(f, "GET /age HTTP/1.0\r\nAccept: application/json\r\n\r\n"),
        json("1.0", 200, "43"));
}

static void test_v1_not_found(void **state)
{
    struct fx *f = *state;

    assert_string_equal(ask(f, "GET /missing HTTP/1.1\r\n\r\n"),
                        text("1.1", 404, "Resource not found: /missing."));
    /* The message quotes the path as sent, before '//' is collapsed. */
    assert_string_equal(ask(f, "GET http://x//name//last HTTP/1.0\r\n\r\n"),
                        text("1.0", 404, "Resource not found: //name//last."));
    assert_string_equal(ask(f, "GET /tags/01 HTTP/1.1\r\n\r\n"),
                        text("1.1", 404, "Resource not found: /tags/01."));
    assert_string_equal(ask(f, "GET /tags/2 HTTP/1.1\r\n\r\n"),
                        text("1.1", 404, "Resource not found: /tags/2."));
    assert_string_equal(ask(f, "GET /name/first/x HTTP/1.1\r\n\r\n"),
                        text("1.1", 404, "Resource not found: /name/first/x."));
}

/* V1 serves whatever token comes, and only counts. */
static void test_v1_tokens_counted(void **state)
{
    struct fx *f = *state;
    const char *tok = get_token(f, "X-metadata-token-ttl-seconds", 60, 1000);
    char req[256];

    assert_string_equal(
        ask(f, "GET /name/first HTTP/1.1\r\nX-metadata-token: nope\r\n\r\n"),
        text("1.1", 200, "John"));
    assert_int_equal(mmds_tokens_stats(f->t)->rx_invalid_token, 1);
    snprintf(req, sizeof(req),
             "GET /name/first HTTP/1.1\r\nX-aws-ec2-metadata-token: %s\r\n\r\n",
             tok);
    assert_string_equal(ask(f, req), text("1.1", 200, "John"));
    assert_int_equal(mmds_tokens_stats(f->t)->rx_invalid_token, 1);
    assert_int_equal(mmds_tokens_stats(f->t)->rx_no_token, 0);
}

static void test_v2_no_and_bad_token(void **state)
{
    struct fx *f = *state;

    mmds_store_set_version(f->s, MMDS_VERSION_V2);
    assert_string_equal(ask(f, "GET /name/first HTTP/1.1\r\n\r\n"),
                        text("1.1", 401, NO_TOKEN));
    assert_string_equal(ask(f, "GET / HTTP/1.0\r\nX-metadata-token-ttl-"
                               "seconds: 5\r\n\r\n"),
                        text("1.0", 401, NO_TOKEN));
    assert_string_equal(
        ask(f, "GET / HTTP/1.1\r\nX-metadata-token: abc\r\n\r\n"),
        text("1.1", 401, "MMDS token not valid."));
    assert_string_equal(
        ask(f, "GET / HTTP/1.1\r\nX-aws-ec2-metadata-token:\r\n\r\n"),
        text("1.1", 401, "MMDS token not valid."));
    assert_int_equal(mmds_tokens_stats(f->t)->rx_no_token, 2);
    assert_int_equal(mmds_tokens_stats(f->t)->rx_invalid_token, 2);
}

static void test_v2_token_roundtrip(void **state)
{
    static const char *const ttl_hdrs[] = {
        "X-metadata-token-ttl-seconds",
        "X-aws-ec2-metadata-token-ttl-seconds",
        "x-METADATA-token-TTL-seconds",
    };
    static const char *const tok_hdrs[] = {
        "X-metadata-token",
        "X-aws-ec2-metadata-token",
        "x-Aws-Ec2-Metadata-Token",
    };
    struct fx *f = *state;
    char req[256];

    mmds_store_set_version(f->s, MMDS_VERSION_V2);
    for (size_t i = 0; i < 3; i++) {
        const char *tok = get_token(f, ttl_hdrs[i], 60, 1000);

        for (size_t k = 0; k < 3; k++) {
            snprintf(req, sizeof(req),
                     "GET /name/first HTTP/1.0\r\n%s: %s\r\n\r\n", tok_hdrs[k],
                     tok);
            assert_string_equal(ask_at(f, req, 1000), text("1.0", 200, "John"));
            /* Expired exactly at issue time + TTL (fake clock). */
            assert_string_equal(ask_at(f, req, 60999),
                                text("1.0", 200, "John"));
            assert_string_equal(ask_at(f, req, 61000),
                                text("1.0", 401, "MMDS token not valid."));
        }
    }
    assert_int_equal(mmds_tokens_stats(f->t)->rx_invalid_token, 9);
}

/* The AAD is the store's instance id: tokens do not cross it. */
static void test_v2_token_bound_to_instance(void **state)
{
    struct fx *f = *state;
    char req[256];
    const char *tok;

    mmds_store_set_version(f->s, MMDS_VERSION_V2);
    mmds_store_set_aad(f->s, "vm-1");
    tok = get_token(f, "X-metadata-token-ttl-seconds", 10, 0);
    snprintf(req, sizeof(req),
             "GET /age HTTP/1.1\r\nAccept: "
             "application/json\r\nX-metadata-token: %s\r\n\r\n",
             tok);
    assert_string_equal(ask_at(f, req, 0), json("1.1", 200, "43"));
    mmds_store_set_aad(f->s, "vm-2");
    assert_string_equal(ask_at(f, req, 0),
                        text("1.1", 401, "MMDS token not valid."));
}

static void test_put_ttl_errors(void **state)
{
    struct fx *f = *state;
    const char *put = "PUT /latest/api/token HTTP/1.1\r\n";
    char req[256];

    snprintf(req, sizeof(req), "%s\r\n", put);
    assert_string_equal(ask(f, req), text("1.1", 400, NO_TTL));
    snprintf(req, sizeof(req), "%sX-metadata-token: 5\r\n\r\n", put);
    assert_string_equal(ask(f, req), text("1.1", 400, NO_TTL));
    snprintf(req, sizeof(req), "%sX-metadata-token-ttl-seconds: abc\r\n\r\n",
             put);
    assert_string_equal(ask(f, req),
                        text("1.1", 400,
                             "Invalid header. Reason: Invalid value. "
                             "Key:X-metadata-token-ttl-seconds; Value:abc"));
    snprintf(req, sizeof(req),
             "%sx-aws-ec2-metadata-token-ttl-seconds:  -1 \r\n\r\n", put);
    assert_string_equal(
        ask(f, req),
        text("1.1", 400,
             "Invalid header. Reason: Invalid value. "
             "Key:x-aws-ec2-metadata-token-ttl-seconds; Value:-1"));
    snprintf(req, sizeof(req),
             "%sX-metadata-token-ttl-seconds: 4294967296\r\n\r\n", put);
    assert_string_equal(
        ask(f, req),
        text("1.1", 400,
             "Invalid header. Reason: Invalid value. "
             "Key:X-metadata-token-ttl-seconds; Value:4294967296"));
    snprintf(req, sizeof(req), "%sX-metadata-token-ttl-seconds: 0\r\n\r\n",
             put);
    assert_string_equal(
        ask(f, req),
        text("1.1", 400,
             "Invalid time to live value provided for token: 0. Please "
             "provide a value between 1 and 21600."));
    snprintf(req, sizeof(req), "%sX-metadata-token-ttl-seconds: 21601\r\n\r\n",
             put);
    assert_string_equal(
        ask(f, req),
        text("1.1", 400,
             "Invalid time to live value provided for token: 21601. Please "
             "provide a value between 1 and 21600."));
    assert_int_equal(mmds_tokens_count(f->t), 0);
    /* The limits themselves, and Rust's u32 parse (leading '+'). */
    get_token(f, "X-metadata-token-ttl-seconds", 1, 0);
    get_token(f, "X-metadata-token-ttl-seconds", 21600, 0);
    snprintf(req, sizeof(req), "%sX-metadata-token-ttl-seconds: +7\r\n\r\n",
             put);
    assert_non_null(strstr(ask(f, req), "\r\nX-metadata-token-ttl-seconds: "
                                        "7\r\nContent-Type: text/plain\r\n"));
    assert_int_equal(mmds_tokens_count(f->t), 3);
}

static void test_put_paths_and_forwarded(void **state)
{
    struct fx *f = *state;

    assert_string_equal(
        ask(f, "PUT /latest/api/token HTTP/1.0\r\nX-Forwarded-For: 1.2.3.4\r\n"
               "X-metadata-token-ttl-seconds: 60\r\n\r\n"),
        text("1.0", 400,
             "Invalid header. Reason: Unsupported header name. Key: "
             "X-Forwarded-For"));
    /* Checked before the path. */
    assert_string_equal(
        ask(f, "PUT /elsewhere HTTP/1.1\r\nx-forwarded-for: a\r\n\r\n"),
        text("1.1", 400,
             "Invalid header. Reason: Unsupported header name. Key: "
             "x-forwarded-for"));
    assert_string_equal(
        ask(f, "PUT /latest/api/token/ HTTP/1.1\r\n"
               "X-metadata-token-ttl-seconds: 60\r\n\r\n"),
        text("1.1", 404, "Resource not found: /latest/api/token/."));
    assert_string_equal(ask(f, "PUT /name HTTP/1.1\r\n\r\n"),
                        text("1.1", 404, "Resource not found: /name."));
    /* '//' collapses before the comparison. */
    assert_non_null(strstr(
        ask(f, "PUT http://169.254.169.254//latest//api/token HTTP/1.1\r\n"
               "X-metadata-token-ttl-seconds: 60\r\n\r\n"),
        "HTTP/1.1 200 \r\n"));
    /* A PUT may carry a body of exactly Content-Length bytes. */
    assert_non_null(
        strstr(ask(f, "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 3\r\n"
                      "X-metadata-token-ttl-seconds: 60\r\n\r\nabc"),
               "HTTP/1.1 200 \r\n"));
}

static void test_methods_and_uris(void **state)
{
    struct fx *f = *state;

    assert_string_equal(ask(f, "PATCH / HTTP/1.1\r\n\r\n"),
                        expect("1.1", 405, "Allow: GET, PUT\r\n", "text/plain",
                               "Not allowed HTTP method."));
    assert_string_equal(ask(f, "DELETE /name HTTP/1.0\r\n\r\n"),
                        expect("1.0", 405, "Allow: GET, PUT\r\n", "text/plain",
                               "Not allowed HTTP method."));
    assert_string_equal(ask(f, "GET name HTTP/1.1\r\n\r\n"),
                        text("1.1", 400, "Invalid URI."));
    assert_string_equal(ask(f, "GET http://169.254.169.254 HTTP/1.0\r\n\r\n"),
                        text("1.0", 400, "Invalid URI."));
    assert_string_equal(ask(f, "PATCH http:// HTTP/1.0\r\n\r\n"),
                        text("1.0", 400, "Invalid URI."));
}

static void test_malformed(void **state)
{
    struct fx *f = *state;

    assert_string_equal(ask(f, ""), perr(400, "Invalid request."));
    assert_string_equal(ask(f, "GET / HTTP/1.1\n\n"),
                        perr(400, "Invalid request."));
    assert_string_equal(ask(f, "GET / HTTP/1.1\r\nA: b\r\n"),
                        perr(400, "Invalid request."));
    /* Request line shorter than 14 bytes, or missing a space. */
    assert_string_equal(ask(f, "GET / HTTP/1\r\n\r\n"),
                        perr(400, "Invalid request."));
    assert_string_equal(ask(f, "GET /HTTP/1.1xx\r\n\r\n"),
                        perr(400, "Invalid request."));
    assert_string_equal(ask(f, "POST / HTTP/1.1\r\n\r\n"),
                        perr(501, "Unsupported HTTP method."));
    assert_string_equal(ask(f, "get / HTTP/1.1\r\n\r\n"),
                        perr(501, "Unsupported HTTP method."));
    assert_string_equal(ask(f, "GET / HTTP/2.0\r\n\r\n"),
                        perr(501, "Unsupported HTTP version."));
    assert_string_equal(ask(f, "GET  HTTP/1.10\r\n\r\n"),
                        perr(400, "Empty URI not allowed."));
    assert_string_equal(ask(f, "GET /\xff HTTP/1.1\r\n\r\n"),
                        perr(400, "Cannot parse URI as UTF-8."));
    assert_string_equal(ask(f, "GET / HTTP/1.1\r\nFoo\r\n\r\n"),
                        perr(400, "Header is incorrectly formatted. Key: Foo"));
    assert_string_equal(ask(f, "GET / HTTP/1.1\r\nA: \xc3\r\n\r\n"),
                        perr(400, "Invalid request."));
    assert_string_equal(
        ask(f, "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
        perr(400, "Invalid value. Key:Content-Length; Value: abc"));
    assert_string_equal(ask(f, "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\n"
                               "abc"),
                        perr(400, "Invalid request."));
    assert_string_equal(ask(f, "PUT /latest/api/token HTTP/1.1\r\n"
                               "Content-Length: 4\r\n\r\nabc"),
                        perr(400, "Invalid request."));
    assert_string_equal(
        ask(f, "GET / HTTP/1.1\r\nAccept-Encoding: gzip, identity;q=0\r\n\r\n"),
        perr(400, "Invalid value. Key:Accept-Encoding; Value: identity;q=0"));
    assert_string_equal(ask(f, "GET / HTTP/1.1\r\nAccept-Encoding: \r\n\r\n"),
                        perr(400, "Invalid request."));
    /* No headers: what follows the blank line is ignored. */
    assert_string_equal(ask(f, "GET /name/first HTTP/1.1\r\n\r\ngarbage"),
                        text("1.1", 200, "John"));
}

/* Both spellings in one request: the first spelling seen is used, with
 * the value of the last line of exactly that spelling. */
static void test_header_choice(void **state)
{
    struct fx *f = *state;
    const char *tok = get_token(f, "X-metadata-token-ttl-seconds", 60, 1000);
    char req[512];

    mmds_store_set_version(f->s, MMDS_VERSION_V2);
    snprintf(req, sizeof(req),
             "GET /g HTTP/1.1\r\nX-metadata-token: bad\r\n"
             "X-aws-ec2-metadata-token: %s\r\nX-metadata-token: %s\r\n\r\n",
             tok, tok);
    assert_string_equal(ask(f, req),
                        text("1.1", 404, "Resource not found: /g."));
    snprintf(req, sizeof(req),
             "GET /g HTTP/1.1\r\nX-metadata-token: %s\r\n"
             "x-metadata-token: %s\r\nX-metadata-token: bad\r\n\r\n",
             tok, tok);
    assert_string_equal(ask(f, req), text("1.1", 401, "MMDS token not valid."));
    assert_string_equal(
        ask(f, "PUT /latest/api/token HTTP/1.1\r\n"
               "X-aws-ec2-metadata-token-ttl-seconds: 0\r\n"
               "X-metadata-token-ttl-seconds: 60\r\n\r\n"),
        text("1.1", 400,
             "Invalid time to live value provided for token: 0. Please "
             "provide a value between 1 and 21600."));
}

/* JSON Pointer escapes: ~1 is '/', ~0 is '~' (in that order). */
static void test_pointer_escapes(void **state)
{
    struct fx *f = *state;
    const char *d = "{\"a/b\":\"slash\",\"m~n\":\"tilde\",\"~1\":\"lit\"}";
    struct json_value *v = NULL;
    struct sq_err err;

    assert_int_equal(json_parse(d, strlen(d), &v, &err), 0);
    assert_int_equal(mmds_store_put(f->s, v, &err), 0);
    assert_string_equal(ask(f, "GET /a~1b HTTP/1.1\r\n\r\n"),
                        text("1.1", 200, "slash"));
    assert_string_equal(ask(f, "GET /m~0n HTTP/1.1\r\n\r\n"),
                        text("1.1", 200, "tilde"));
    assert_string_equal(ask(f, "GET /~01 HTTP/1.1\r\n\r\n"),
                        text("1.1", 200, "lit"));
    assert_string_equal(ask(f, "GET / HTTP/1.1\r\n\r\n"),
                        text("1.1", 200, "a/b\nm~n\n~1"));
}

/* Before any PUT /mmds the document is null. */
static void test_uninitialised_store(void **state)
{
    struct fx *f = *state;
    struct mmds_store *s = mmds_store_new(100);
    struct buf out = BUF_INIT;
    const char *req = "GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n";

    mmds_http_respond(s, f->t, (const uint8_t *)req, strlen(req), 0, &out);
    assert_string_equal(out.data, json("1.1", 200, "null"));
    buf_reset(&out);
    req = "GET / HTTP/1.1\r\n\r\n";
    mmds_http_respond(s, f->t, (const uint8_t *)req, strlen(req), 0, &out);
    assert_string_equal(out.data, text("1.1", 501, UNSUPPORTED));
    buf_reset(&out);
    req = "GET /a HTTP/1.1\r\n\r\n";
    mmds_http_respond(s, f->t, (const uint8_t *)req, strlen(req), 0, &out);
    assert_string_equal(out.data, text("1.1", 404, "Resource not found: /a."));
    buf_fini(&out);
    mmds_store_free(s);
}

/* imds_compat: text whatever Accept says; Content-Type still follows
 * Accept, as upstream passes the request's media type through. */
static void test_imds_compat(void **state)
{
    struct fx *f = *state;

    mmds_store_set_imds_compat(f->s, true);
    assert_string_equal(
        ask(f, "GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n"),
        json("1.1", 200, "age\nempty/\nname/\nphones/\ntags"));
    assert_string_equal(
        ask(f, "GET /age HTTP/1.1\r\nAccept: application/json\r\n\r\n"),
        text("1.1", 501, UNSUPPORTED));
    assert_string_equal(ask(f, "GET /name/second HTTP/1.1\r\n\r\n"),
                        text("1.1", 200, "Doe"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_v1_get_listing_and_json),
        T(test_v1_leaves_and_paths),
        T(test_v1_not_found),
        T(test_v1_tokens_counted),
        T(test_v2_no_and_bad_token),
        T(test_v2_token_roundtrip),
        T(test_v2_token_bound_to_instance),
        T(test_put_ttl_errors),
        T(test_put_paths_and_forwarded),
        T(test_methods_and_uris),
        T(test_malformed),
        T(test_header_choice),
        T(test_pointer_escapes),
        T(test_uninitialised_store),
        T(test_imds_compat),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
