/*
 * http.c: micro_http-compatible request parser and response serializer (see
 * http.h for the contract and docs/http.md for the rules).
 *
 * Where micro_http's behaviour comes from Rust's standard library, this file
 * reproduces that too, because it shows in the error texts:
 *  - str::from_utf8 (URI and header lines must be valid UTF-8; the error text
 *    quotes Utf8Error's Display, "invalid utf-8 sequence of N bytes from index
 *    I" / "incomplete utf-8 byte sequence from index I");
 *  - String::from_utf8_lossy (the too-long header line is quoted with invalid
 *    sequences replaced by U+FFFD);
 *  - str::trim (Unicode White_Space, not just ASCII blanks);
 *  - u32::from_str (an optional '+', ASCII digits, no overflow).
 *
 * The 1024-byte read buffer of micro_http's connection: a line (request line
 * or header line) is parsed only once its CRLF is in the buffer, and an
 * incomplete line is moved to the front of the buffer before the next read.
 * A line is therefore rejected exactly when no CRLF lies within the 1024 bytes
 * starting at the line's first byte, whatever the read boundaries were; this
 * parser applies that rule directly to its window [pos, pos + 1024).
 */
#include "api/http.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/strnum.h"
#include "util/utf8.h"

const char http_server_full_response[] =
    "HTTP/1.1 503\r\n"
    "Server: Firecracker API\r\n"
    "Connection: close\r\n"
    "Content-Length: 40\r\n\r\n"
    "{ \"error\": \"Too many open connections\" }";
const size_t http_server_full_response_len =
    sizeof(http_server_full_response) - 1;

/* ---- error messages ---------------------------------------------------- */

static void err_append(struct http_error *err, const void *p, size_t n)
{
    size_t room = sizeof(err->msg) - 1 - err->len;

    if (n > room)
        n = room; /* cannot happen: HTTP_ERR_MAX covers the longest text */
    memcpy(err->msg + err->len, p, n);
    err->len += n;
    err->msg[err->len] = '\0';
}

static void err_puts(struct http_error *err, const char *s)
{
    err_append(err, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void
err_printf(struct http_error *err, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        err_append(err, tmp,
                   (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static enum http_parse_result fail(struct http_error *err, const char *msg)
{
    err->len = 0;
    err->msg[0] = '\0';
    err_puts(err, msg);
    return HTTP_PARSE_ERROR;
}

/* ---- Rust string semantics ---------------------------------------------- */

/* String::from_utf8_lossy (util/utf8.h): each invalid sequence becomes one
 * U+FFFD. */
static void utf8_lossy_append(struct http_error *err, const uint8_t *s,
                              size_t n)
{
    while (n > 0) {
        size_t valid, invalid, step = utf8_chunk(s, n, &valid, &invalid);

        err_append(err, s, valid);
        if (invalid)
            err_puts(err, UTF8_REPLACEMENT);
        s += step;
        n -= step;
    }
}

static bool eq(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/* ASCII case-insensitive comparison with a lower-case literal. */
static bool eq_nocase(const char *s, size_t n, const char *lower)
{
    if (n != strlen(lower))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return false;
    }
    return true;
}

/* ---- request line -------------------------------------------------------- */

static const char *memchr_c(const char *s, char c, size_t n)
{
    return n ? memchr(s, c, n) : NULL;
}

/*
 * Find a CRLF with both bytes in buf[from, min(len, from + HTTP_LINE_BUF)).
 * Returns 1 and sets *eol (offset of the CR), 0 if more bytes may still bring
 * it, -1 if the window is full and holds none (the line is too long).
 */
static int find_line(const char *buf, size_t len, size_t from, size_t *eol)
{
    size_t end = len - from > HTTP_LINE_BUF ? from + HTTP_LINE_BUF : len;

    for (size_t i = from; i + 1 < end; i++) {
        const char *cr = memchr_c(buf + i, '\r', end - 1 - i);

        if (!cr)
            break;
        i = (size_t)(cr - buf);
        if (buf[i + 1] == '\n') {
            *eol = i;
            return 1;
        }
    }
    return end - from >= HTTP_LINE_BUF ? -1 : 0;
}

static enum http_parse_result parse_request_line(struct http_parser *p,
                                                 const char *line, size_t n,
                                                 size_t line_off,
                                                 struct http_error *err)
{
    const char *sp1 = memchr_c(line, ' ', n), *sp2, *uri, *ver;
    size_t method_len, uri_len, ver_len;

    if (!sp1)
        return fail(err, "Invalid request.");
    method_len = (size_t)(sp1 - line);
    uri = sp1 + 1;
    sp2 = memchr_c(uri, ' ', n - method_len - 1);
    if (!sp2)
        return fail(err, "Invalid request.");
    uri_len = (size_t)(sp2 - uri);
    ver = sp2 + 1;
    ver_len = n - (size_t)(ver - line);

    if (eq(line, method_len, "GET"))
        p->req.method = HTTP_GET;
    else if (eq(line, method_len, "PUT"))
        p->req.method = HTTP_PUT;
    else if (eq(line, method_len, "PATCH"))
        p->req.method = HTTP_PATCH;
    else if (eq(line, method_len, "DELETE"))
        p->req.method = HTTP_DELETE;
    else
        return fail(err, "Invalid HTTP Method: Unsupported HTTP method.");

    if (uri_len == 0)
        return fail(err, "Invalid URI: Empty URI not allowed.");
    if (!utf8_valid(uri, uri_len))
        return fail(err, "Invalid URI: Cannot parse URI as UTF-8.");

    if (eq(ver, ver_len, "HTTP/1.0"))
        p->req.version = HTTP_1_0;
    else if (eq(ver, ver_len, "HTTP/1.1"))
        p->req.version = HTTP_1_1;
    else
        return fail(err, "Invalid HTTP Version: Unsupported HTTP version.");

    p->uri_off = line_off + method_len + 1;
    p->req.uri_len = uri_len;
    return HTTP_PARSE_AGAIN;
}

/* ---- headers ------------------------------------------------------------- */

enum known_header {
    HDR_CUSTOM,
    HDR_CONTENT_LENGTH,
    HDR_CONTENT_TYPE,
    HDR_EXPECT,
    HDR_TRANSFER_ENCODING,
    HDR_SERVER,
    HDR_ACCEPT,
    HDR_ACCEPT_ENCODING,
};

/* Header::try_from: ASCII-lowercase, trim, compare. */
static enum known_header classify(const char *name, size_t n)
{
    static const struct {
        const char *name;
        enum known_header h;
    } tab[] = {
        {"content-length", HDR_CONTENT_LENGTH},
        {"content-type", HDR_CONTENT_TYPE},
        {"expect", HDR_EXPECT},
        {"transfer-encoding", HDR_TRANSFER_ENCODING},
        {"server", HDR_SERVER},
        {"accept", HDR_ACCEPT},
        {"accept-encoding", HDR_ACCEPT_ENCODING},
    };

    utf8_trim(&name, &n);
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (eq_nocase(name, n, tab[i].name))
            return tab[i].h;
    }
    return HDR_CUSTOM;
}

static enum http_parse_result invalid_value(struct http_error *err,
                                            const char *key, size_t key_len,
                                            const char *val, size_t val_len)
{
    err->len = 0;
    err_puts(err, "Invalid header. Reason: Invalid value. Key:");
    err_append(err, key, key_len);
    err_puts(err, "; Value:");
    err_append(err, val, val_len);
    return HTTP_PARSE_ERROR;
}

static bool has_substr(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(s + i, needle, k) == 0)
            return true;
    }
    return false;
}

/* Encoding::try_from over the trimmed Accept-Encoding value. */
static enum http_parse_result check_accept_encoding(const char *v, size_t n,
                                                    struct http_error *err)
{
    size_t start = 0;

    if (n == 0)
        return fail(err, "Invalid request.");
    while (start <= n) {
        const char *comma = memchr_c(v + start, ',', n - start);
        size_t end = comma ? (size_t)(comma - v) : n;
        const char *piece = v + start, *t = piece;
        size_t piece_len = end - start, t_len = piece_len;

        utf8_trim(&t, &t_len);
        if (eq(t, t_len, "identity;q=0") ||
            (eq(t, t_len, "*;q=0") && !has_substr(v, n, "identity")))
            return invalid_value(err, "Accept-Encoding", 15, piece, piece_len);
        start = end + 1;
    }
    return HTTP_PARSE_AGAIN;
}

static bool parse_media(const char *v, size_t n, enum http_media *m)
{
    if (eq(v, n, "text/plain"))
        *m = HTTP_MEDIA_PLAIN;
    else if (eq(v, n, "application/json"))
        *m = HTTP_MEDIA_JSON;
    else
        return false;
    return true;
}

/* Headers::parse_header_line, with UnsupportedValue errors ignored as
 * micro_http's connection ignores them. */
static enum http_parse_result parse_header_line(struct http_parser *p,
                                                const char *line, size_t n,
                                                struct http_error *err)
{
    const char *colon, *name = line, *val, *tv;
    size_t name_len, val_len, tv_len;
    enum http_media media;
    uint32_t cl;
    struct utf8_error bad;

    if (!utf8_validate(line, n, &bad)) {
        err->len = 0;
        err_puts(err, "Invalid header. Reason: Header contains invalid "
                      "characters. Key: ");
        if (bad.error_len)
            err_printf(err,
                       "invalid utf-8 sequence of %zu bytes from index %zu",
                       bad.error_len, bad.valid_up_to);
        else
            err_printf(err, "incomplete utf-8 byte sequence from index %zu",
                       bad.valid_up_to);
        return HTTP_PARSE_ERROR;
    }
    colon = memchr_c(line, ':', n);
    if (!colon) {
        err->len = 0;
        err_puts(err, "Invalid header. Reason: Header is incorrectly "
                      "formatted. Key: ");
        err_append(err, line, n);
        return HTTP_PARSE_ERROR;
    }
    name_len = (size_t)(colon - line);
    val = colon + 1;
    val_len = n - name_len - 1;
    tv = val;
    tv_len = val_len;
    utf8_trim(&tv, &tv_len);

    switch (classify(name, name_len)) {
    case HDR_CONTENT_LENGTH:
        if (!strnum_parse_u32(tv, tv_len, &cl))
            return invalid_value(err, name, name_len, val, val_len);
        p->req.content_length = cl;
        break;
    case HDR_ACCEPT:
        if (parse_media(tv, tv_len, &media))
            p->req.accept = media;
        break;
    case HDR_TRANSFER_ENCODING:
        if (eq(tv, tv_len, "chunked"))
            p->req.chunked = true;
        break;
    case HDR_EXPECT:
        if (eq(tv, tv_len, "100-continue"))
            p->req.expect_continue = true;
        break;
    case HDR_ACCEPT_ENCODING:
        return check_accept_encoding(tv, tv_len, err);
    case HDR_CONTENT_TYPE: /* recognised, no effect on the request */
    case HDR_SERVER:
    case HDR_CUSTOM: /* kept in the head; see http_header_next() */
        break;
    }
    return HTTP_PARSE_AGAIN;
}

/* ---- the incremental parser ---------------------------------------------- */

void http_parser_init(struct http_parser *p, size_t max_payload)
{
    memset(p, 0, sizeof(*p));
    p->max_payload = max_payload;
    http_parser_reset(p);
}

void http_parser_reset(struct http_parser *p)
{
    size_t max = p->max_payload;

    memset(p, 0, sizeof(*p));
    p->max_payload = max;
    p->state = HTTP_STATE_REQUEST_LINE;
    p->req.accept = HTTP_MEDIA_PLAIN;
}

enum http_version http_parser_version(const struct http_parser *p)
{
    return p->req.version;
}

static void finish(struct http_parser *p, const char *buf,
                   struct http_request *req, size_t *consumed)
{
    *req = p->req;
    req->uri = buf + p->uri_off;
    req->head = buf + p->head_start;
    req->head_len = p->head_end - p->head_start;
    if (req->content_length) {
        req->body = buf + p->pos;
        req->body_len = req->content_length;
        *consumed = p->pos + req->content_length;
    } else {
        req->body = NULL;
        req->body_len = 0;
        *consumed = p->pos;
    }
    http_parser_reset(p);
}

enum http_parse_result http_parse(struct http_parser *p, const char *buf,
                                  size_t len, struct http_request *req,
                                  size_t *consumed, struct http_error *err)
{
    for (;;) {
        size_t eol = 0;
        int r;

        switch (p->state) {
        case HTTP_STATE_REQUEST_LINE:
            r = find_line(buf, len, p->pos, &eol);
            if (r == 0)
                return HTTP_PARSE_AGAIN;
            if (r < 0)
                return fail(err, "Invalid request.");
            if (parse_request_line(p, buf + p->pos, eol - p->pos, p->pos,
                                   err) == HTTP_PARSE_ERROR)
                return HTTP_PARSE_ERROR;
            p->pos = eol + 2;
            p->head_start = p->pos;
            p->state = HTTP_STATE_HEADERS;
            break;

        case HTTP_STATE_HEADERS:
            if (p->pos > HTTP_MAX_HEAD_LEN)
                return fail(err, "Invalid request.");
            r = find_line(buf, len, p->pos, &eol);
            if (r == 0)
                return HTTP_PARSE_AGAIN;
            if (r < 0) {
                err->len = 0;
                err_puts(err, "Invalid header. Reason: Invalid content "
                              "length. Header: ");
                utf8_lossy_append(err, (const uint8_t *)buf + p->pos,
                                  HTTP_LINE_BUF);
                return HTTP_PARSE_ERROR;
            }
            if (eol > p->pos) {
                if (parse_header_line(p, buf + p->pos, eol - p->pos, err) ==
                    HTTP_PARSE_ERROR)
                    return HTTP_PARSE_ERROR;
                p->pos = eol + 2;
                break;
            }
            /* The blank line: the head is complete. */
            p->head_end = p->pos;
            p->pos = eol + 2;
            if (p->req.content_length == 0) {
                finish(p, buf, req, consumed);
                return HTTP_PARSE_DONE;
            }
            if (p->req.content_length > p->max_payload) {
                err->len = 0;
                err_printf(err,
                           "Request payload with size %" PRIu32
                           " is larger than the limit of %zu allowed by "
                           "server.",
                           p->req.content_length, p->max_payload);
                return HTTP_PARSE_ERROR;
            }
            p->state = HTTP_STATE_BODY;
            if (p->req.expect_continue)
                return HTTP_PARSE_CONTINUE;
            break;

        case HTTP_STATE_BODY:
            if (len - p->pos < p->req.content_length)
                return HTTP_PARSE_AGAIN;
            finish(p, buf, req, consumed);
            return HTTP_PARSE_DONE;
        }
    }
}

/* ---- header iteration ---------------------------------------------------- */

bool http_header_next(const struct http_request *req, size_t *iter,
                      struct http_header *h)
{
    const char *line, *crlf, *colon;
    size_t n;

    if (*iter + 2 > req->head_len)
        return false;
    line = req->head + *iter;
    /* Parsed lines never hold a CRLF, so the first one ends this line. */
    for (crlf = line; crlf + 1 < req->head + req->head_len; crlf++) {
        if (crlf[0] == '\r' && crlf[1] == '\n')
            break;
    }
    n = (size_t)(crlf - line);
    *iter += n + 2;
    colon = memchr_c(line, ':', n);
    if (!colon)
        return false; /* not reachable for a parsed head */
    h->name = line;
    h->name_len = (size_t)(colon - line);
    h->value = colon + 1;
    h->value_len = n - h->name_len - 1;
    h->is_custom = classify(h->name, h->name_len) == HDR_CUSTOM;
    utf8_trim(&h->name, &h->name_len);
    utf8_trim(&h->value, &h->value_len);
    return true;
}

bool http_request_custom_header(const struct http_request *req,
                                const char *name, const char **value,
                                size_t *value_len)
{
    struct http_header h;
    size_t iter = 0;
    bool found = false;

    while (http_header_next(req, &iter, &h)) {
        if (h.is_custom && eq(h.name, h.name_len, name)) {
            *value = h.value;
            *value_len = h.value_len;
            found = true;
        }
    }
    return found;
}

const char *http_method_str(enum http_method m)
{
    switch (m) {
    case HTTP_GET:
        return "GET";
    case HTTP_PUT:
        return "PUT";
    case HTTP_PATCH:
        return "PATCH";
    case HTTP_DELETE:
        return "DELETE";
    }
    return "?";
}

/* ---- responses ----------------------------------------------------------- */

static void write_common_headers(struct buf *out)
{
    buf_puts(out, "Server: Firecracker API\r\nConnection: keep-alive\r\n");
}

void http_write_response(struct buf *out, const struct http_response *resp)
{
    bool has_length =
        resp->body || (resp->status != 204 && resp->status != 100);

    /* Appends, not printf: this runs for every response. */
    buf_puts(out, "HTTP/1.1 ");
    buf_put_u64(out, (unsigned)resp->status, 3);
    buf_puts(out, " \r\n");
    write_common_headers(out);
    if (resp->allow) {
        buf_puts(out, "Allow: ");
        buf_puts(out, resp->allow);
        buf_puts(out, "\r\n");
    }
    if (resp->deprecation)
        buf_puts(out, "Deprecation: true\r\n");
    if (resp->extra_headers)
        buf_puts(out, resp->extra_headers);
    if (has_length) {
        buf_puts(out, "Content-Type: ");
        buf_puts(out,
                 resp->content_type ? resp->content_type : "application/json");
        buf_puts(out, "\r\nContent-Length: ");
        buf_put_u64(out, resp->body ? resp->body_len : 0, 1);
        buf_puts(out, "\r\n");
    }
    buf_puts(out, "\r\n");
    if (resp->body)
        buf_append(out, resp->body, resp->body_len);
}

void http_write_continue(struct buf *out, enum http_version v)
{
    buf_puts(out, v == HTTP_1_0 ? "HTTP/1.0 100 \r\n" : "HTTP/1.1 100 \r\n");
    write_common_headers(out);
    buf_puts(out, "\r\n");
}

void http_write_parse_error(struct buf *out, const struct http_error *err)
{
    static const char pre[] = "{ \"error\": \"";
    static const char post[] =
        "\nAll previous unanswered requests will be dropped.\" }";
    size_t body_len = sizeof(pre) - 1 + err->len + sizeof(post) - 1;

    buf_puts(out, "HTTP/1.1 400 \r\n");
    write_common_headers(out);
    buf_printf(out,
               "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
               body_len);
    buf_puts(out, pre);
    buf_append(out, err->msg, err->len);
    buf_puts(out, post);
}
