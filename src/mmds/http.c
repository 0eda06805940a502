/*
 * http.c: the guest-facing MMDS HTTP handler (see http.h).
 *
 * Two halves, as upstream has them: parse() is micro_http's
 * Request::try_from over a complete buffer (request.rs, common/headers.rs)
 * and its errors become parse_request_bytes()'s responses (dumbo's
 * tcp/endpoint.rs); respond() is mmds/mod.rs's convert_to_response() with
 * data_store.rs's get_value() and format_imds().
 *
 * The request is never copied: every string below is a view into the
 * caller's bytes. Only the custom headers MMDS reads are remembered (the
 * two token spellings, the two TTL spellings, X-Forwarded-For).
 */
#include "mmds/http.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util/json.h"
#include "util/strnum.h"
#include "util/utf8.h"

enum method { M_GET, M_PUT, M_PATCH, M_DELETE };

/* A custom header MMDS looks for: the first spelling seen (trimmed) and
 * the value of the last line with exactly that spelling. */
struct hdr {
    const char *key; /* NULL if absent */
    size_t key_len;
    const char *val;
    size_t val_len;
};

struct req {
    enum method method;
    bool is_http11;
    const char *uri; /* verbatim, valid UTF-8, non-empty */
    size_t uri_len;
    bool accept_json; /* Accept: application/json (default text/plain) */
    struct hdr token; /* X-metadata-token / X-aws-ec2-metadata-token */
    struct hdr ttl;   /* ...-ttl-seconds, either spelling */
    struct hdr xff;   /* X-Forwarded-For */
};

/* A parse failure: status and body, HTTP/1.1 and application/json. */
struct perr {
    int status;
    struct buf *msg;
};

static const char *const token_names[] = {"x-metadata-token",
                                          "x-aws-ec2-metadata-token"};
static const char *const ttl_names[] = {"x-metadata-token-ttl-seconds",
                                        "x-aws-ec2-metadata-token-ttl-seconds"};

/* ---------------------------------------------------------------------- */
/* Small string helpers                                                   */

static bool eq(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static int lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* str::eq_ignore_ascii_case against a lowercase literal. */
static bool eq_nocase(const char *s, size_t n, const char *lit)
{
    if (n != strlen(lit))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return false;
    }
    return true;
}

/* The first occurrence of `pat` (pat_len bytes) in s[0..n), or NULL. */
static const char *find(const char *s, size_t n, const char *pat,
                        size_t pat_len)
{
    for (size_t i = 0; i + pat_len <= n; i++) {
        if (memcmp(s + i, pat, pat_len) == 0)
            return s + i;
    }
    return NULL;
}

static bool contains(const char *s, size_t n, const char *lit)
{
    return find(s, n, lit, strlen(lit)) != NULL;
}

/* ---------------------------------------------------------------------- */
/* Parsing: micro_http's Request::try_from                                */

static int fail(struct perr *e, int status, const char *text)
{
    e->status = status;
    buf_puts(e->msg, text);
    return -1;
}

static int invalid_value(struct perr *e, const char *k, size_t k_len,
                         const char *v, size_t v_len)
{
    e->status = 400;
    buf_puts(e->msg, "Invalid value. Key:");
    buf_append(e->msg, k, k_len);
    buf_puts(e->msg, "; Value:");
    buf_append(e->msg, v, v_len);
    return -1;
}

/* Remember a custom header if it is one of `names`. */
static void keep(struct hdr *h, const char *const *names, size_t n_names,
                 const char *k, size_t k_len, const char *v, size_t v_len)
{
    bool match = false;

    for (size_t i = 0; i < n_names; i++)
        match = match || eq_nocase(k, k_len, names[i]);
    if (!match)
        return;
    if (h->key && !(h->key_len == k_len && memcmp(h->key, k, k_len) == 0))
        return;
    h->key = k;
    h->key_len = k_len;
    h->val = v;
    h->val_len = v_len;
}

/* Encoding::try_from over the trimmed Accept-Encoding value. */
static int accept_encoding(const char *v, size_t n, struct perr *e)
{
    size_t start = 0;

    if (n == 0)
        return fail(e, 400, "Invalid request.");
    while (start <= n) {
        const char *comma = memchr(v + start, ',', n - start);
        size_t end = comma ? (size_t)(comma - v) : n;
        const char *t = v + start;
        size_t t_len = end - start;

        utf8_trim(&t, &t_len);
        if (eq(t, t_len, "identity;q=0") ||
            (eq(t, t_len, "*;q=0") && !contains(v, n, "identity")))
            return invalid_value(e, "Accept-Encoding", 15, v + start,
                                 end - start);
        start = end + 1;
    }
    return 0;
}

/* Headers::parse_header_line for one line (valid UTF-8). */
static int header_line(struct req *r, const char *line, size_t n,
                       uint32_t *content_length, struct perr *e)
{
    const char *colon = memchr(line, ':', n);
    const char *name = line, *val, *tn, *tv;
    size_t name_len, val_len, tn_len, tv_len;

    if (!colon) {
        e->status = 400;
        buf_puts(e->msg, "Header is incorrectly formatted. Key: ");
        buf_append(e->msg, line, n);
        return -1;
    }
    name_len = (size_t)(colon - line);
    val = colon + 1;
    val_len = n - name_len - 1;
    tn = name;
    tn_len = name_len;
    utf8_trim(&tn, &tn_len);
    tv = val;
    tv_len = val_len;
    utf8_trim(&tv, &tv_len);

    if (eq_nocase(tn, tn_len, "content-length")) {
        if (!strnum_parse_u32(tv, tv_len, content_length))
            return invalid_value(e, name, name_len, val, val_len);
    } else if (eq_nocase(tn, tn_len, "accept")) {
        /* An unknown media type is an UnsupportedValue: ignored. */
        if (eq(tv, tv_len, "application/json"))
            r->accept_json = true;
        else if (eq(tv, tv_len, "text/plain"))
            r->accept_json = false;
    } else if (eq_nocase(tn, tn_len, "accept-encoding")) {
        return accept_encoding(tv, tv_len, e);
    } else if (eq_nocase(tn, tn_len, "content-type") ||
               eq_nocase(tn, tn_len, "expect") ||
               eq_nocase(tn, tn_len, "transfer-encoding") ||
               eq_nocase(tn, tn_len, "server")) {
        /* Recognised; nothing MMDS uses, and bad values are ignored. */
    } else {
        keep(&r->token, token_names, 2, tn, tn_len, tv, tv_len);
        keep(&r->ttl, ttl_names, 2, tn, tn_len, tv, tv_len);
        keep(&r->xff, (const char *const[]){"x-forwarded-for"}, 1, tn, tn_len,
             tv, tv_len);
    }
    return 0;
}

/* RequestLine::try_from. */
static int request_line(struct req *r, const char *p, size_t n, struct perr *e)
{
    const char *sp1 = memchr(p, ' ', n), *sp2, *ver;
    size_t m_len, ver_len;

    if (!sp1)
        return fail(e, 400, "Invalid request.");
    m_len = (size_t)(sp1 - p);
    sp2 = memchr(sp1 + 1, ' ', n - m_len - 1);
    if (!sp2)
        return fail(e, 400, "Invalid request.");
    if (eq(p, m_len, "GET"))
        r->method = M_GET;
    else if (eq(p, m_len, "PUT"))
        r->method = M_PUT;
    else if (eq(p, m_len, "PATCH"))
        r->method = M_PATCH;
    else if (eq(p, m_len, "DELETE"))
        r->method = M_DELETE;
    else
        return fail(e, 501, "Unsupported HTTP method.");
    r->uri = sp1 + 1;
    r->uri_len = (size_t)(sp2 - r->uri);
    if (r->uri_len == 0)
        return fail(e, 400, "Empty URI not allowed.");
    if (!utf8_valid(r->uri, r->uri_len))
        return fail(e, 400, "Cannot parse URI as UTF-8.");
    ver = sp2 + 1;
    ver_len = n - (size_t)(ver - p);
    if (eq(ver, ver_len, "HTTP/1.0"))
        r->is_http11 = false;
    else if (eq(ver, ver_len, "HTTP/1.1"))
        r->is_http11 = true;
    else
        return fail(e, 501, "Unsupported HTTP version.");
    return 0;
}

/* Request::try_from(bytes, None). */
static int parse(struct req *r, const char *p, size_t n, struct perr *e)
{
    /* "GET" SP URI(1) SP "HTTP/1.0" */
    const size_t min_line = 3 + 1 + 8 + 2;
    const char *crlf = find(p, n, "\r\n", 2), *end, *hdrs, *line;
    size_t rl_len, hdrs_len;
    uint32_t content_length = 0;

    memset(r, 0, sizeof(*r));
    if (!crlf)
        return fail(e, 400, "Invalid request.");
    rl_len = (size_t)(crlf - p);
    if (rl_len < min_line)
        return fail(e, 400, "Invalid request.");
    if (request_line(r, p, rl_len, e) < 0)
        return -1;
    end = find(crlf, n - rl_len, "\r\n\r\n", 4);
    if (!end)
        return fail(e, 400, "Invalid request.");
    if (end == crlf)
        return 0; /* no headers; whatever follows is ignored */
    hdrs = crlf + 2;
    hdrs_len = (size_t)(end - hdrs);
    if (!utf8_valid(hdrs, hdrs_len))
        return fail(e, 400, "Invalid request.");
    line = hdrs;
    while (line < hdrs + hdrs_len) {
        size_t left = hdrs_len - (size_t)(line - hdrs);
        const char *eol = find(line, left, "\r\n", 2);
        size_t len = eol ? (size_t)(eol - line) : left;

        if (len == 0)
            break;
        if (header_line(r, line, len, &content_length, e) < 0)
            return -1;
        line += len + 2;
    }
    if (content_length != 0) {
        size_t body_len = n - (size_t)(end + 4 - p);

        if (r->method == M_GET || r->method == M_DELETE ||
            body_len != content_length)
            return fail(e, 400, "Invalid request.");
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Responses                                                              */

struct resp {
    bool is_http11;
    int status;
    bool is_json;               /* Content-Type */
    bool allow_get_put;         /* 405 */
    const struct hdr *ttl_echo; /* token PUT: "{key}: {ttl}" */
    uint32_t ttl;
    const char *body;
    size_t body_len;
};

static void write_resp(struct buf *out, const struct resp *r)
{
    buf_printf(out, "HTTP/1.%c %d \r\n", r->is_http11 ? '1' : '0', r->status);
    buf_puts(out, "Server: Firecracker API\r\nConnection: keep-alive\r\n");
    if (r->allow_get_put)
        buf_puts(out, "Allow: GET, PUT\r\n");
    if (r->ttl_echo) {
        buf_append(out, r->ttl_echo->key, r->ttl_echo->key_len);
        buf_printf(out, ": %u\r\n", r->ttl);
    }
    buf_printf(out, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
               r->is_json ? "application/json" : "text/plain", r->body_len);
    buf_append(out, r->body, r->body_len);
}

/* A text/plain response echoing the request's version. */
static void text(struct buf *out, const struct req *q, int status,
                 const char *body, size_t body_len)
{
    struct resp r = {
        .is_http11 = q->is_http11,
        .status = status,
        .body = body,
        .body_len = body_len,
    };

    write_resp(out, &r);
}

static void text_str(struct buf *out, const struct req *q, int status,
                     const char *body)
{
    text(out, q, status, body, strlen(body));
}

/* "Resource not found: {path}." */
static void not_found(struct buf *out, const struct req *q, const char *path,
                      size_t path_len)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, "Resource not found: ");
    buf_append(&b, path, path_len);
    buf_putc(&b, '.');
    text(out, q, 404, b.data, b.len);
    buf_fini(&b);
}

/* Uri::get_abs_path. */
static void abs_path(const struct req *q, const char **p, size_t *n)
{
    const char *u = q->uri;
    size_t len = q->uri_len;

    *p = "";
    *n = 0;
    if (len >= 7 && memcmp(u, "http://", 7) == 0) {
        const char *slash = memchr(u + 7, '/', len - 7);

        if (slash) {
            *p = slash;
            *n = len - (size_t)(slash - u);
        }
    } else if (len > 0 && u[0] == '/') {
        *p = u;
        *n = len;
    }
}

/* sanitize_uri: collapse every run of '/' into one. */
static void sanitize(const char *p, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '/' && out->len > 0 && out->data[out->len - 1] == '/')
            continue;
        buf_putc(out, p[i]);
    }
}

/* Mmds::format_imds. Returns false for an unsupported value type. */
static bool format_imds(const struct json_value *v, struct buf *out)
{
    if (v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->obj.n; i++) {
            const struct json_member *m = &v->obj.members[i];

            if (i > 0)
                buf_putc(out, '\n');
            buf_append(out, m->key, m->key_len);
            if (m->value->type == JSON_OBJECT)
                buf_putc(out, '/');
        }
        return true;
    }
    if (v->type == JSON_STRING) {
        buf_append(out, v->str.ptr, v->str.len);
        return true;
    }
    return false;
}

/* respond_to_get_request. */
static void get(const struct mmds_store *s, const struct req *q,
                struct buf *out)
{
    static const struct json_value null_value = {.type = JSON_NULL};
    const struct json_value *root = mmds_store_data(s), *v;
    const char *uri;
    size_t uri_len, plen;
    struct buf path, body;
    bool ok;

    if (!root)
        root = &null_value;
    abs_path(q, &uri, &uri_len);
    buf_init(&path);
    buf_init(&body);
    sanitize(uri, uri_len, &path);
    plen = path.len;
    if (plen > 0 && path.data[plen - 1] == '/')
        plen--;
    v = json_pointer(root, plen ? path.data : "", plen);
    if (!v) {
        not_found(out, q, uri, uri_len);
        goto out;
    }
    if (q->accept_json && !mmds_store_imds_compat(s)) {
        json_value_write(v, &body);
        ok = true;
    } else {
        ok = format_imds(v, &body);
    }
    if (ok) {
        /* Content-Type follows Accept even when imds_compat forced the
         * text format (upstream passes the Accept media type through). */
        struct resp r = {
            .is_http11 = q->is_http11,
            .status = 200,
            .is_json = q->accept_json,
            .body = body.data,
            .body_len = body.len,
        };

        write_resp(out, &r);
    } else {
        text_str(out, q, 501,
                 "Cannot retrieve value. The value has an unsupported type.");
    }
out:
    buf_fini(&path);
    buf_fini(&body);
}

/* The token AAD: "microvmid={id}" once the instance id is set, else "". */
static void token_aad(const struct mmds_store *s, struct buf *aad)
{
    const char *id = mmds_store_aad(s);

    if (id) {
        buf_puts(aad, "microvmid=");
        buf_puts(aad, id);
    }
}

static bool token_ok(const struct mmds_store *s, const struct mmds_tokens *t,
                     const struct req *q, uint64_t now_ms)
{
    struct buf aad;
    bool ok;

    buf_init(&aad);
    token_aad(s, &aad);
    ok = mmds_token_is_valid(t, aad.len ? aad.data : "", aad.len, q->token.val,
                             q->token.val_len, now_ms);
    buf_fini(&aad);
    return ok;
}

/* respond_to_get_request_v1 / _v2. */
static void get_checked(const struct mmds_store *s, struct mmds_tokens *t,
                        const struct req *q, uint64_t now_ms, struct buf *out)
{
    struct mmds_token_stats *st = mmds_tokens_stats(t);
    bool v2 = mmds_store_version(s) == MMDS_VERSION_V2;

    if (!q->token.key) {
        st->rx_no_token++;
        if (v2) {
            text_str(out, q, 401,
                     "No MMDS token provided. Use `X-metadata-token` or "
                     "`X-aws-ec2-metadata-token` header to specify the "
                     "ses"
                     "sion token."); /* upstream's bytes */
            return;
        }
    } else if (!token_ok(s, t, q, now_ms)) {
        st->rx_invalid_token++;
        if (v2) {
            text_str(out, q, 401, "MMDS token not valid.");
            return;
        }
    }
    get(s, q, out);
}

/* respond_to_put_request. */
static void put(const struct mmds_store *s, struct mmds_tokens *t,
                const struct req *q, uint64_t now_ms, struct buf *out)
{
    char token[MMDS_TOKEN_LEN + 1];
    const char *uri;
    size_t uri_len;
    struct buf b, aad;
    uint32_t ttl;
    int rc;

    buf_init(&b);
    if (q->xff.key) {
        buf_puts(&b, "Invalid header. Reason: Unsupported header name. Key: ");
        buf_append(&b, q->xff.key, q->xff.key_len);
        text(out, q, 400, b.data, b.len);
        goto out;
    }
    abs_path(q, &uri, &uri_len);
    sanitize(uri, uri_len, &b);
    if (!eq(b.data, b.len, MMDS_TOKEN_PATH)) {
        not_found(out, q, uri, uri_len);
        goto out;
    }
    buf_reset(&b);
    if (!q->ttl.key) {
        text_str(out, q, 400,
                 "Token time to live value not found. Use "
                 "`X-metadata-token-ttl-seconds` or "
                 "`X-aws-ec2-metadata-token-ttl-seconds` header to specify "
                 "the token's lifetime.");
        goto out;
    }
    if (!strnum_parse_u32(q->ttl.val, q->ttl.val_len, &ttl)) {
        buf_puts(&b, "Invalid header. Reason: Invalid value. Key:");
        buf_append(&b, q->ttl.key, q->ttl.key_len);
        buf_puts(&b, "; Value:");
        buf_append(&b, q->ttl.val, q->ttl.val_len);
        text(out, q, 400, b.data, b.len);
        goto out;
    }
    buf_init(&aad);
    token_aad(s, &aad);
    rc = mmds_token_generate(t, aad.len ? aad.data : "", aad.len, ttl, now_ms,
                             token);
    buf_fini(&aad);
    if (rc == -EINVAL) {
        buf_printf(&b,
                   "Invalid time to live value provided for token: %u. "
                   "Please provide a value between %u and %u.",
                   ttl, MMDS_TOKEN_TTL_MIN, MMDS_TOKEN_TTL_MAX);
        text(out, q, 400, b.data, b.len);
    } else if (rc < 0) {
        text_str(out, q, 400, "Failed to encrypt token.");
    } else {
        struct resp r = {
            .is_http11 = q->is_http11,
            .status = 200,
            .ttl_echo = &q->ttl,
            .ttl = ttl,
            .body = token,
            .body_len = MMDS_TOKEN_LEN,
        };

        write_resp(out, &r);
    }
out:
    buf_fini(&b);
}

void mmds_http_respond(struct mmds_store *s, struct mmds_tokens *t,
                       const uint8_t *req, size_t len, uint64_t now_ms,
                       struct buf *resp)
{
    struct req q;
    struct buf msg;
    struct perr e = {.msg = &msg};
    const char *uri;
    size_t uri_len;

    buf_init(&msg);
    if (parse(&q, (const char *)req, len, &e) < 0) {
        struct resp r = {
            .is_http11 = true,
            .status = e.status,
            .is_json = true,
            .body = msg.data,
            .body_len = msg.len,
        };

        write_resp(resp, &r);
        buf_fini(&msg);
        return;
    }
    buf_fini(&msg);

    abs_path(&q, &uri, &uri_len);
    if (uri_len == 0) {
        text_str(resp, &q, 400, "Invalid URI.");
        return;
    }
    switch (q.method) {
    case M_GET:
        get_checked(s, t, &q, now_ms, resp);
        break;
    case M_PUT:
        put(s, t, &q, now_ms, resp);
        break;
    case M_PATCH:
    case M_DELETE: {
        struct resp r = {
            .is_http11 = q.is_http11,
            .status = 405,
            .allow_get_put = true,
            .body = "Not allowed HTTP method.",
            .body_len = strlen("Not allowed HTTP method."),
        };

        write_resp(resp, &r);
        break;
    }
    }
}
