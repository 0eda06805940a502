/*
 * fuzz_http.c: libFuzzer harness for the HTTP parser and serializer
 * (api/http.c). Built and run by `make fuzz` (mk/fuzz.mk).
 *
 * The first input byte picks the payload limit and a chunking seed; the rest
 * is a byte stream from a client. The stream is parsed twice:
 *  1. in one go, request after request (pipelining), recording each outcome;
 *  2. incrementally, in chunks whose sizes come from the seed, each time in a
 *     freshly allocated buffer of exactly the bytes received so far (so the
 *     buffer moves and any over-read hits ASan's redzone).
 * Both runs must produce the same requests and the same final error: the
 * parser's answer may not depend on how the bytes arrived. Every view must
 * lie inside the buffer, and responses built from the results are serialized
 * too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "util/buf.h"

#define MAX_REQS 64

struct record {
    enum http_parse_result result;
    size_t consumed;
    enum http_method method;
    enum http_version version;
    size_t uri_off, uri_len, head_len;
    uint32_t content_length;
    bool expect_continue, chunked;
    enum http_media accept;
    int n_continue;
    struct http_error err; /* for HTTP_PARSE_ERROR */
};

struct trace {
    struct record rec[MAX_REQS];
    int n;
};

static void check_views(const struct http_request *req, const char *buf,
                        size_t len)
{
    struct http_header h;
    size_t iter = 0;

    if (req->uri < buf || req->uri_len == 0 ||
        req->uri + req->uri_len > buf + len)
        abort();
    if (req->head < buf || req->head + req->head_len > buf + len)
        abort();
    if (req->content_length != req->body_len)
        abort();
    if (req->body_len &&
        (req->body < buf || req->body + req->body_len > buf + len))
        abort();
    while (http_header_next(req, &iter, &h)) {
        if (h.name < req->head ||
            h.value + h.value_len > req->head + req->head_len)
            abort();
    }
    if (iter > req->head_len)
        abort();
}

/* Parse one request from buf; fill the record. Returns the result. */
static enum http_parse_result step(struct http_parser *p, const char *buf,
                                   size_t len, struct record *r,
                                   struct buf *out)
{
    for (;;) {
        struct http_request req;
        size_t consumed = 0;
        enum http_parse_result res =
            http_parse(p, buf, len, &req, &consumed, &r->err);

        if (res == HTTP_PARSE_CONTINUE) {
            r->n_continue++;
            if (r->n_continue > 1)
                abort();
            http_write_continue(out, http_parser_version(p));
            continue;
        }
        r->result = res;
        if (res == HTTP_PARSE_ERROR) {
            if (r->err.len >= HTTP_ERR_MAX || r->err.msg[r->err.len] != '\0')
                abort();
            http_write_parse_error(out, &r->err);
        } else if (res == HTTP_PARSE_DONE) {
            if (consumed == 0 || consumed > len)
                abort();
            check_views(&req, buf, len);
            r->consumed = consumed;
            r->method = req.method;
            r->version = req.version;
            r->uri_off = (size_t)(req.uri - buf);
            r->uri_len = req.uri_len;
            r->head_len = req.head_len;
            r->content_length = req.content_length;
            r->expect_continue = req.expect_continue;
            r->chunked = req.chunked;
            r->accept = req.accept;
            http_write_response(
                out, &(struct http_response){.status = 200,
                                             .body = req.body,
                                             .body_len = req.body_len});
        }
        return res;
    }
}

static void run_whole(const uint8_t *data, size_t size, size_t max,
                      struct trace *t, struct buf *out)
{
    struct http_parser p;
    size_t off = 0;
    char *copy = malloc(size ? size : 1);

    if (!copy)
        abort();
    memcpy(copy, data, size);
    http_parser_init(&p, max);
    while (t->n < MAX_REQS) {
        struct record *r = &t->rec[t->n];
        enum http_parse_result res;

        memset(r, 0, sizeof(*r));
        res = step(&p, copy + off, size - off, r, out);
        t->n++;
        if (res != HTTP_PARSE_DONE)
            break;
        off += r->consumed;
    }
    free(copy);
}

static size_t next_chunk(uint32_t *seed)
{
    /* xorshift32: mostly 1..64 bytes, sometimes up to 2 KiB. */
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    return (*seed & 7) == 0 ? 1 + *seed % 2048 : 1 + *seed % 64;
}

static void run_chunked(const uint8_t *data, size_t size, size_t max,
                        uint32_t seed, struct trace *t, struct buf *out)
{
    struct http_parser p;
    size_t start = 0; /* the current request starts at data[start] */
    size_t have;      /* bytes "received" so far */
    struct record cur;

    memset(&cur, 0, sizeof(cur));
    http_parser_init(&p, max);
    have = next_chunk(&seed);
    if (have > size)
        have = size;
    while (t->n < MAX_REQS) {
        size_t len = have - start;
        char *copy = malloc(len ? len : 1);
        enum http_parse_result res;

        if (!copy)
            abort();
        memcpy(copy, data + start, len);
        res = step(&p, copy, len, &cur, out);
        free(copy);
        if (res == HTTP_PARSE_AGAIN) {
            if (have == size) {
                t->rec[t->n++] = cur;
                return;
            }
            have += next_chunk(&seed);
            if (have > size)
                have = size;
            continue;
        }
        t->rec[t->n++] = cur;
        if (res == HTTP_PARSE_ERROR)
            return;
        /* DONE: the next request starts with what is already buffered. */
        start += cur.consumed;
        if (start > have)
            abort();
        memset(&cur, 0, sizeof(cur));
    }
}

static bool same(const struct record *a, const struct record *b)
{
    if (a->result != b->result || a->n_continue != b->n_continue)
        return false;
    if (a->result == HTTP_PARSE_ERROR)
        return a->err.len == b->err.len &&
               memcmp(a->err.msg, b->err.msg, a->err.len) == 0;
    if (a->result == HTTP_PARSE_AGAIN)
        return true;
    return a->consumed == b->consumed && a->method == b->method &&
           a->version == b->version && a->uri_off == b->uri_off &&
           a->uri_len == b->uri_len && a->head_len == b->head_len &&
           a->content_length == b->content_length &&
           a->expect_continue == b->expect_continue &&
           a->chunked == b->chunked && a->accept == b->accept;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[] = {0, 1, 250, HTTP_DEFAULT_MAX_PAYLOAD};
    struct trace *whole, *chunked;
    struct buf out1 = BUF_INIT, out2 = BUF_INIT;
    size_t max;
    uint32_t seed;

    if (size < 1)
        return 0;
    max = limits[data[0] & 3];
    seed = 0x9e3779b9u ^ (uint32_t)data[0] * 2654435761u ^ (uint32_t)size;
    data++;
    size--;

    whole = calloc(1, sizeof(*whole));
    chunked = calloc(1, sizeof(*chunked));
    if (!whole || !chunked)
        abort();
    run_whole(data, size, max, whole, &out1);
    run_chunked(data, size, max, seed, chunked, &out2);
    /* The chunked run may stop early only by hitting the request cap. */
    if (whole->n != chunked->n)
        abort();
    for (int i = 0; i < whole->n; i++) {
        if (!same(&whole->rec[i], &chunked->rec[i]))
            abort();
    }
    /* Same requests, same bytes out. */
    if (out1.len != out2.len ||
        (out1.len && memcmp(out1.data, out2.data, out1.len) != 0))
        abort();
    buf_fini(&out1);
    buf_fini(&out2);
    free(whole);
    free(chunked);
    return 0;
}
