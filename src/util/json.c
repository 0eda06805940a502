/*
 * json.c: JSON with serde_json's exact behaviour (see json.h).
 *
 * The decoder below is a transcription of the *behaviour* of serde_json's
 * Deserializer over a byte slice (serde_json 1.0.15x, SliceRead, default
 * features: no float_roundtrip, no arbitrary_precision) and of the code
 * serde derive generates for structs and unit-variant enums. The structure
 * follows serde's call tree on purpose, because the position serde_json
 * reports depends on it:
 *
 *  - "syntax" errors are positioned where they are raised: error() at the
 *    current index, peek_error() one byte further (capped at the end);
 *  - "custom" errors (unknown field, missing field, invalid type/value,
 *    messages from custom deserializers) have no position when raised and
 *    get one from the innermost deserialize_{number,str,bool,seq,map,struct,
 *    any} call they travel through (fix_position), at whatever index the
 *    input has reached by then;
 *  - deserialize_{seq,map,struct} always run end_seq()/end_map() after the
 *    visitor, even when it failed; that can consume a `]`, `}`, `,` and
 *    whitespace before the position is fixed, and we do the same.
 *
 * Only the first error is kept (later raises are no-ops), which is what
 * Rust's `?` propagation amounts to.
 */
#include "util/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* ====================================================================== */
/* Writers                                                                 */

void json_write_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t start = 0, i;

    buf_putc(b, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = p[i];
        const char *esc = NULL;
        char ubuf[7];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            memcpy(ubuf, "\\u00", 4);
            ubuf[4] = hex[c >> 4];
            ubuf[5] = hex[c & 0xf];
            ubuf[6] = '\0';
            esc = ubuf;
            break;
        }
        buf_append(b, s + start, i - start);
        buf_puts(b, esc);
        start = i + 1;
    }
    buf_append(b, s + start, n - start);
    buf_putc(b, '"');
}

void json_write_cstr(struct buf *b, const char *s)
{
    if (!s)
        buf_puts(b, "null");
    else
        json_write_str(b, s, strlen(s));
}

void json_write_u64(struct buf *b, uint64_t v)
{
    buf_printf(b, "%llu", (unsigned long long)v);
}

void json_write_i64(struct buf *b, int64_t v)
{
    buf_printf(b, "%lld", (long long)v);
}

void json_write_bool(struct buf *b, bool v)
{
    buf_puts(b, v ? "true" : "false");
}

void json_write_key(struct buf *b, const char *key)
{
    json_write_cstr(b, key);
    buf_putc(b, ':');
}

/*
 * Shortest round-trip digits of a finite, non-zero |v|: *digits gets 1..17
 * decimal digits (no leading/trailing zeros) and the value is
 * 0.DIGITS * 10^(*kk). We ask printf for 1, 2, ... significant digits and
 * keep the first that strtod reads back exactly. printf rounds correctly,
 * so this is the closest shortest candidate, which is what Ryu/Schubfach
 * print, except in rare ties at a power-of-two boundary where the two can
 * pick different (both shortest, both round-tripping) digit strings.
 */
static void shortest_digits(double v, char digits[24], int *n_digits, int *kk)
{
    char tmp[40];
    int prec, n = 0, exp10 = 0;
    const char *e;

    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is "d[.ddd]e[+-]XX" */
    for (const char *p = tmp; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    e = strchr(tmp, 'e');
    if (e)
        exp10 = atoi(e + 1);
    *n_digits = n;
    *kk = exp10 + 1;
}

/* Format like zmij/ryu's format_finite (serde_json's float output). */
static size_t format_f64(double v, char *out)
{
    char digits[24];
    int len, kk, k, i;
    size_t o = 0;

    if (signbit(v)) {
        out[o++] = '-';
        v = -v;
    }
    if (v == 0.0) {
        memcpy(out + o, "0.0", 4);
        return o + 3;
    }
    shortest_digits(v, digits, &len, &kk);
    k = kk - len;
    if (k >= 0 && kk <= 16) {
        /* 1234e7 -> 12340000000.0 */
        memcpy(out + o, digits, (size_t)len);
        o += (size_t)len;
        for (i = len; i < kk; i++)
            out[o++] = '0';
        out[o++] = '.';
        out[o++] = '0';
    } else if (kk > 0 && kk <= 16) {
        /* 1234e-2 -> 12.34 */
        memcpy(out + o, digits, (size_t)kk);
        o += (size_t)kk;
        out[o++] = '.';
        memcpy(out + o, digits + kk, (size_t)(len - kk));
        o += (size_t)(len - kk);
    } else if (kk > -5 && kk <= 0) {
        /* 1234e-6 -> 0.001234 */
        out[o++] = '0';
        out[o++] = '.';
        for (i = kk; i < 0; i++)
            out[o++] = '0';
        memcpy(out + o, digits, (size_t)len);
        o += (size_t)len;
    } else {
        /* 1e30, 1.234e33, 1e-7 */
        out[o++] = digits[0];
        if (len > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, (size_t)(len - 1));
            o += (size_t)(len - 1);
        }
        o += (size_t)sprintf(out + o, "e%c%d", kk - 1 < 0 ? '-' : '+',
                             abs(kk - 1));
    }
    out[o] = '\0';
    return o;
}

void json_write_f64(struct buf *b, double v)
{
    char tmp[64];

    if (!isfinite(v)) {
        buf_puts(b, "null");
        return;
    }
    buf_append(b, tmp, format_f64(v, tmp));
}

/* Decode one UTF-8 scalar at s[i] (input known valid); returns its length. */
static size_t utf8_decode(const unsigned char *s, size_t n, size_t i,
                          uint32_t *cp)
{
    unsigned char c = s[i];

    if (c < 0x80 || i + 1 >= n) {
        *cp = c;
        return 1;
    }
    if (c < 0xe0) {
        *cp = ((uint32_t)(c & 0x1f) << 6) | (s[i + 1] & 0x3f);
        return 2;
    }
    if (c < 0xf0 && i + 2 < n) {
        *cp = ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(s[i + 1] & 0x3f) << 6) |
              (s[i + 2] & 0x3f);
        return 3;
    }
    if (i + 3 < n) {
        *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3f) << 12) |
              ((uint32_t)(s[i + 2] & 0x3f) << 6) | (s[i + 3] & 0x3f);
        return 4;
    }
    *cp = c;
    return 1;
}

/*
 * Rust's char::escape_debug decides between "print as is" and "\u{..}" with
 * Unicode tables (Grapheme_Extend, and a printability table). This is a
 * compact approximation: exact for ASCII and Latin-1, and covering the
 * common combining-mark, format, private-use and special ranges.
 */
static bool rust_debug_escapes(uint32_t c)
{
    static const uint32_t ranges[][2] = {
        {0x0000, 0x001f}, {0x007f, 0x009f}, {0x00ad, 0x00ad},
        {0x0300, 0x036f}, {0x0378, 0x0379}, {0x0380, 0x0383},
        {0x0483, 0x0489}, {0x0591, 0x05bd}, {0x05bf, 0x05bf},
        {0x05c1, 0x05c2}, {0x05c4, 0x05c5}, {0x05c7, 0x05c7},
        {0x0600, 0x0605}, {0x0610, 0x061a}, {0x061c, 0x061c},
        {0x064b, 0x065f}, {0x0670, 0x0670}, {0x06d6, 0x06dd},
        {0x06df, 0x06e4}, {0x06e7, 0x06e8}, {0x06ea, 0x06ed},
        {0x070f, 0x070f}, {0x0e31, 0x0e31}, {0x0e34, 0x0e3a},
        {0x0e47, 0x0e4e}, {0x180b, 0x180f}, {0x1ab0, 0x1aff},
        {0x1dc0, 0x1dff}, {0x200b, 0x200f}, {0x2028, 0x202e},
        {0x2060, 0x206f}, {0x20d0, 0x20f0}, {0x2cef, 0x2cf1},
        {0x302a, 0x302f}, {0x3099, 0x309a}, {0xd800, 0xdfff},
        {0xe000, 0xf8ff}, {0xfe00, 0xfe0f}, {0xfe20, 0xfe2f},
        {0xfeff, 0xfeff}, {0xfff0, 0xfffb}, {0xfffe, 0xffff},
        {0x1d165, 0x1d169}, {0x1d16d, 0x1d182}, {0x1f3fb, 0x1f3ff},
        {0xe0000, 0xe0fff}, {0xf0000, 0x10ffff},
    };
    size_t i;

    for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (c >= ranges[i][0] && c <= ranges[i][1])
            return true;
    return false;
}

void json_rust_str_debug(struct buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    buf_putc(b, '"');
    while (i < n) {
        uint32_t c;
        size_t l = utf8_decode(p, n, i, &c);

        switch (c) {
        case '\t': buf_puts(b, "\\t"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '"': buf_puts(b, "\\\""); break;
        case '\0': buf_puts(b, "\\0"); break;
        default:
            if (rust_debug_escapes(c))
                buf_printf(b, "\\u{%x}", (unsigned)c);
            else
                buf_append(b, s + i, l);
            break;
        }
        i += l;
    }
    buf_putc(b, '"');
}

/* ====================================================================== */
/* Decoder core                                                            */

static const char *const errcode_text[] = {
    [JSON_E_EOF_VALUE] = "EOF while parsing a value",
    [JSON_E_EOF_LIST] = "EOF while parsing a list",
    [JSON_E_EOF_OBJECT] = "EOF while parsing an object",
    [JSON_E_EOF_STRING] = "EOF while parsing a string",
    [JSON_E_EXPECTED_COLON] = "expected `:`",
    [JSON_E_EXPECTED_LIST_COMMA_OR_END] = "expected `,` or `]`",
    [JSON_E_EXPECTED_OBJECT_COMMA_OR_END] = "expected `,` or `}`",
    [JSON_E_EXPECTED_IDENT] = "expected ident",
    [JSON_E_EXPECTED_VALUE] = "expected value",
    [JSON_E_INVALID_ESCAPE] = "invalid escape",
    [JSON_E_INVALID_NUMBER] = "invalid number",
    [JSON_E_NUMBER_OUT_OF_RANGE] = "number out of range",
    [JSON_E_INVALID_UNICODE] = "invalid unicode code point",
    [JSON_E_CONTROL_CHAR] =
        "control character (\\u0000-\\u001F) found while parsing a string",
    [JSON_E_KEY_MUST_BE_STRING] = "key must be a string",
    [JSON_E_LONE_LEADING_SURROGATE] = "lone leading surrogate in hex escape",
    [JSON_E_TRAILING_COMMA] = "trailing comma",
    [JSON_E_TRAILING_CHARS] = "trailing characters",
    [JSON_E_UNEXPECTED_END_OF_HEX] = "unexpected end of hex escape",
    [JSON_E_RECURSION_LIMIT] = "recursion limit exceeded",
};

/* serde_json's default recursion limit. */
#define JSON_RECURSION_LIMIT 128

void json_dec_init(struct json_dec *d, const char *text, size_t len)
{
    memset(d, 0, sizeof(*d));
    d->p = (const uint8_t *)text;
    d->len = text ? len : 0;
    d->remaining_depth = JSON_RECURSION_LIMIT;
    buf_init(&d->msg);
    buf_init(&d->scratch);
}

void json_dec_fini(struct json_dec *d)
{
    buf_fini(&d->msg);
    buf_fini(&d->scratch);
}

/* serde_json's SliceRead::position_of_index. */
static void position_of_index(const struct json_dec *d, size_t i, size_t *line,
                              size_t *col)
{
    size_t start_of_line = 0, lines = 1, k;

    for (k = 0; k < i; k++) {
        if (d->p[k] == '\n') {
            start_of_line = k + 1;
            lines++;
        }
    }
    *line = lines;
    *col = i - start_of_line;
}

void json_dec_error_text(const struct json_dec *d, struct buf *out)
{
    size_t line, col;

    buf_append(out, d->msg.data ? d->msg.data : "", d->msg.len);
    if (d->positioned) {
        position_of_index(d, d->err_index, &line, &col);
        buf_printf(out, " at line %zu column %zu", line, col);
    }
}

static bool begin_error(struct json_dec *d)
{
    if (d->failed)
        return false;
    d->failed = true;
    buf_reset(&d->msg);
    return true;
}

int json_dec_error(struct json_dec *d, enum json_errcode code)
{
    if (begin_error(d)) {
        buf_puts(&d->msg, errcode_text[code]);
        d->positioned = true;
        d->err_index = d->pos;
    }
    return -1;
}

int json_dec_peek_error(struct json_dec *d, enum json_errcode code)
{
    if (begin_error(d)) {
        buf_puts(&d->msg, errcode_text[code]);
        d->positioned = true;
        d->err_index = d->pos + 1 < d->len ? d->pos + 1 : d->len;
    }
    return -1;
}

int json_dec_custom(struct json_dec *d, const char *fmt, ...)
{
    va_list ap;

    if (begin_error(d)) {
        va_start(ap, fmt);
        buf_vprintf(&d->msg, fmt, ap);
        va_end(ap);
        d->positioned = false;
    }
    return -1;
}

/* Start a custom error whose text the caller appends to d->msg. Returns
 * false if an error was already raised (then append nothing). */
static bool custom_begin(struct json_dec *d)
{
    if (!begin_error(d))
        return false;
    d->positioned = false;
    return true;
}

void json_dec_fix_position(struct json_dec *d)
{
    if (d->failed && !d->positioned) {
        d->positioned = true;
        d->err_index = d->pos;
    }
}

static int peek(const struct json_dec *d)
{
    return d->pos < d->len ? d->p[d->pos] : -1;
}

static int peek_or_null(const struct json_dec *d)
{
    return d->pos < d->len ? d->p[d->pos] : 0;
}

static void eat(struct json_dec *d)
{
    d->pos++;
}

static int next_char(struct json_dec *d)
{
    return d->pos < d->len ? d->p[d->pos++] : -1;
}

int json_dec_peek_ws(struct json_dec *d)
{
    while (d->pos < d->len) {
        uint8_t c = d->p[d->pos];

        if (c != ' ' && c != '\n' && c != '\t' && c != '\r')
            return c;
        d->pos++;
    }
    return -1;
}

/* check_recursion!: enter one nesting level (before eating the bracket). */
static int enter(struct json_dec *d)
{
    d->remaining_depth--;
    if (d->remaining_depth == 0)
        return json_dec_peek_error(d, JSON_E_RECURSION_LIMIT);
    return 0;
}

static void leave(struct json_dec *d)
{
    d->remaining_depth++;
}

static int parse_ident(struct json_dec *d, const char *ident)
{
    for (; *ident; ident++) {
        int c = next_char(d);

        if (c < 0)
            return json_dec_error(d, JSON_E_EOF_VALUE);
        if (c != (unsigned char)*ident)
            return json_dec_error(d, JSON_E_EXPECTED_IDENT);
    }
    return 0;
}

/* ---- strings ---- */

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int decode_hex_escape(struct json_dec *d, uint16_t *out)
{
    int a, b, c, e;

    if (d->len - d->pos < 4) {
        d->pos = d->len;
        return json_dec_error(d, JSON_E_EOF_STRING);
    }
    a = hexval(d->p[d->pos]);
    b = hexval(d->p[d->pos + 1]);
    c = hexval(d->p[d->pos + 2]);
    e = hexval(d->p[d->pos + 3]);
    d->pos += 4;
    if (a < 0 || b < 0 || c < 0 || e < 0)
        return json_dec_error(d, JSON_E_INVALID_ESCAPE);
    *out = (uint16_t)((a << 12) | (b << 8) | (c << 4) | e);
    return 0;
}

static void push_utf8(struct buf *b, uint32_t n)
{
    char t[4];

    if (n < 0x80) {
        t[0] = (char)n;
        buf_append(b, t, 1);
    } else if (n < 0x800) {
        t[0] = (char)(0xc0 | (n >> 6));
        t[1] = (char)(0x80 | (n & 0x3f));
        buf_append(b, t, 2);
    } else if (n < 0x10000) {
        t[0] = (char)(0xe0 | (n >> 12));
        t[1] = (char)(0x80 | ((n >> 6) & 0x3f));
        t[2] = (char)(0x80 | (n & 0x3f));
        buf_append(b, t, 3);
    } else {
        t[0] = (char)(0xf0 | (n >> 18));
        t[1] = (char)(0x80 | ((n >> 12) & 0x3f));
        t[2] = (char)(0x80 | ((n >> 6) & 0x3f));
        t[3] = (char)(0x80 | (n & 0x3f));
        buf_append(b, t, 4);
    }
}

/* parse_escape with validate = true (strings decoded as str). */
static int parse_escape(struct json_dec *d, struct buf *out)
{
    int ch = next_char(d);
    uint16_t n, n2;

    if (ch < 0)
        return json_dec_error(d, JSON_E_EOF_STRING);
    switch (ch) {
    case '"': buf_putc(out, '"'); return 0;
    case '\\': buf_putc(out, '\\'); return 0;
    case '/': buf_putc(out, '/'); return 0;
    case 'b': buf_putc(out, '\b'); return 0;
    case 'f': buf_putc(out, '\f'); return 0;
    case 'n': buf_putc(out, '\n'); return 0;
    case 'r': buf_putc(out, '\r'); return 0;
    case 't': buf_putc(out, '\t'); return 0;
    case 'u': break;
    default: return json_dec_error(d, JSON_E_INVALID_ESCAPE);
    }
    if (decode_hex_escape(d, &n) < 0)
        return -1;
    if (n >= 0xdc00 && n <= 0xdfff)
        return json_dec_error(d, JSON_E_LONE_LEADING_SURROGATE);
    if (n < 0xd800 || n > 0xdbff) {
        push_utf8(out, n);
        return 0;
    }
    /* a leading surrogate: a trailing one must follow as \uXXXX */
    if (peek(d) < 0)
        return json_dec_error(d, JSON_E_EOF_STRING);
    if (peek(d) != '\\') {
        eat(d);
        return json_dec_error(d, JSON_E_UNEXPECTED_END_OF_HEX);
    }
    eat(d);
    if (peek(d) < 0)
        return json_dec_error(d, JSON_E_EOF_STRING);
    if (peek(d) != 'u') {
        eat(d);
        return json_dec_error(d, JSON_E_UNEXPECTED_END_OF_HEX);
    }
    eat(d);
    if (decode_hex_escape(d, &n2) < 0)
        return -1;
    if (n2 < 0xdc00 || n2 > 0xdfff)
        return json_dec_error(d, JSON_E_LONE_LEADING_SURROGATE);
    push_utf8(out, (((uint32_t)(n - 0xd800) << 10) | (uint32_t)(n2 - 0xdc00)) +
                       0x10000);
    return 0;
}

/* Rust's str::from_utf8 acceptance. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];

        if (c < 0x80) {
            i++;
        } else if (c >= 0xc2 && c <= 0xdf) {
            if (i + 1 >= n || (s[i + 1] & 0xc0) != 0x80)
                return false;
            i += 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            uint8_t lo = 0x80, hi = 0xbf;

            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
            if (i + 2 >= n || s[i + 1] < lo || s[i + 1] > hi ||
                (s[i + 2] & 0xc0) != 0x80)
                return false;
            i += 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            uint8_t lo = 0x80, hi = 0xbf;

            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
            if (i + 3 >= n || s[i + 1] < lo || s[i + 1] > hi ||
                (s[i + 2] & 0xc0) != 0x80 || (s[i + 3] & 0xc0) != 0x80)
                return false;
            i += 4;
        } else {
            return false;
        }
    }
    return true;
}

/*
 * SliceRead::parse_str: the opening quote has been eaten. The decoded
 * string is left in d->scratch (NUL-terminated).
 */
static int parse_str(struct json_dec *d)
{
    size_t start = d->pos;

    buf_reset(&d->scratch);
    buf_reserve(&d->scratch, 0);
    for (;;) {
        while (d->pos < d->len) {
            uint8_t c = d->p[d->pos];

            if (c == '"' || c == '\\' || c < 0x20)
                break;
            d->pos++;
        }
        if (d->pos == d->len)
            return json_dec_error(d, JSON_E_EOF_STRING);
        switch (d->p[d->pos]) {
        case '"':
            buf_append(&d->scratch, d->p + start, d->pos - start);
            d->pos++;
            if (!utf8_valid((const uint8_t *)d->scratch.data, d->scratch.len))
                return json_dec_error(d, JSON_E_INVALID_UNICODE);
            return 0;
        case '\\':
            buf_append(&d->scratch, d->p + start, d->pos - start);
            d->pos++;
            if (parse_escape(d, &d->scratch) < 0)
                return -1;
            start = d->pos;
            break;
        default:
            d->pos++;
            return json_dec_error(d, JSON_E_CONTROL_CHAR);
        }
    }
}

/* SliceRead::ignore_str: no UTF-8 or surrogate checks, and the control
 * character error is positioned before the byte, not after it. */
static int ignore_str(struct json_dec *d)
{
    for (;;) {
        int ch;
        uint16_t n;

        while (d->pos < d->len) {
            uint8_t c = d->p[d->pos];

            if (c == '"' || c == '\\' || c < 0x20)
                break;
            d->pos++;
        }
        if (d->pos == d->len)
            return json_dec_error(d, JSON_E_EOF_STRING);
        switch (d->p[d->pos]) {
        case '"':
            d->pos++;
            return 0;
        case '\\':
            d->pos++;
            ch = next_char(d);
            if (ch < 0)
                return json_dec_error(d, JSON_E_EOF_STRING);
            switch (ch) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                break;
            case 'u':
                if (decode_hex_escape(d, &n) < 0)
                    return -1;
                break;
            default:
                return json_dec_error(d, JSON_E_INVALID_ESCAPE);
            }
            break;
        default:
            return json_dec_error(d, JSON_E_CONTROL_CHAR);
        }
    }
}

/* ---- numbers ---- */

static const double pow10_table[309] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23,
    1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31,
    1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39,
    1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47,
    1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55,
    1e56, 1e57, 1e58, 1e59, 1e60, 1e61, 1e62, 1e63,
    1e64, 1e65, 1e66, 1e67, 1e68, 1e69, 1e70, 1e71,
    1e72, 1e73, 1e74, 1e75, 1e76, 1e77, 1e78, 1e79,
    1e80, 1e81, 1e82, 1e83, 1e84, 1e85, 1e86, 1e87,
    1e88, 1e89, 1e90, 1e91, 1e92, 1e93, 1e94, 1e95,
    1e96, 1e97, 1e98, 1e99, 1e100, 1e101, 1e102, 1e103,
    1e104, 1e105, 1e106, 1e107, 1e108, 1e109, 1e110, 1e111,
    1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119,
    1e120, 1e121, 1e122, 1e123, 1e124, 1e125, 1e126, 1e127,
    1e128, 1e129, 1e130, 1e131, 1e132, 1e133, 1e134, 1e135,
    1e136, 1e137, 1e138, 1e139, 1e140, 1e141, 1e142, 1e143,
    1e144, 1e145, 1e146, 1e147, 1e148, 1e149, 1e150, 1e151,
    1e152, 1e153, 1e154, 1e155, 1e156, 1e157, 1e158, 1e159,
    1e160, 1e161, 1e162, 1e163, 1e164, 1e165, 1e166, 1e167,
    1e168, 1e169, 1e170, 1e171, 1e172, 1e173, 1e174, 1e175,
    1e176, 1e177, 1e178, 1e179, 1e180, 1e181, 1e182, 1e183,
    1e184, 1e185, 1e186, 1e187, 1e188, 1e189, 1e190, 1e191,
    1e192, 1e193, 1e194, 1e195, 1e196, 1e197, 1e198, 1e199,
    1e200, 1e201, 1e202, 1e203, 1e204, 1e205, 1e206, 1e207,
    1e208, 1e209, 1e210, 1e211, 1e212, 1e213, 1e214, 1e215,
    1e216, 1e217, 1e218, 1e219, 1e220, 1e221, 1e222, 1e223,
    1e224, 1e225, 1e226, 1e227, 1e228, 1e229, 1e230, 1e231,
    1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239,
    1e240, 1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247,
    1e248, 1e249, 1e250, 1e251, 1e252, 1e253, 1e254, 1e255,
    1e256, 1e257, 1e258, 1e259, 1e260, 1e261, 1e262, 1e263,
    1e264, 1e265, 1e266, 1e267, 1e268, 1e269, 1e270, 1e271,
    1e272, 1e273, 1e274, 1e275, 1e276, 1e277, 1e278, 1e279,
    1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287,
    1e288, 1e289, 1e290, 1e291, 1e292, 1e293, 1e294, 1e295,
    1e296, 1e297, 1e298, 1e299, 1e300, 1e301, 1e302, 1e303,
    1e304, 1e305, 1e306, 1e307, 1e308
};

#define U64_OVERFLOW(a, b)                                                     \
    ((a) >= UINT64_MAX / 10 && ((a) > UINT64_MAX / 10 || (b) > UINT64_MAX % 10))
#define I32_OVERFLOW(a, b)                                                     \
    ((a) >= INT32_MAX / 10 && ((a) > INT32_MAX / 10 || (b) > INT32_MAX % 10))

/* f64_from_parts without float_roundtrip: the same multiplications and
 * divisions serde_json performs, so the same (not always correctly rounded)
 * result. */
static int f64_from_parts(struct json_dec *d, bool positive, uint64_t sig,
                          int32_t exponent, double *out)
{
    double f = (double)sig;

    for (;;) {
        uint32_t idx = exponent < 0 ? (uint32_t)0 - (uint32_t)exponent
                                    : (uint32_t)exponent;

        if (idx < 309) {
            if (exponent >= 0) {
                f *= pow10_table[idx];
                if (isinf(f))
                    return json_dec_error(d, JSON_E_NUMBER_OUT_OF_RANGE);
            } else {
                f /= pow10_table[idx];
            }
            break;
        }
        if (f == 0.0)
            break;
        if (exponent >= 0)
            return json_dec_error(d, JSON_E_NUMBER_OUT_OF_RANGE);
        f /= 1e308;
        exponent += 308;
    }
    *out = positive ? f : -f;
    return 0;
}

static int parse_exponent(struct json_dec *d, bool positive, uint64_t sig,
                          int32_t starting_exp, double *out)
{
    bool positive_exp = true;
    int32_t exp, final_exp;
    int c;

    eat(d); /* 'e' or 'E' */
    c = peek_or_null(d);
    if (c == '+') {
        eat(d);
    } else if (c == '-') {
        eat(d);
        positive_exp = false;
    }
    c = next_char(d);
    if (c < 0)
        return json_dec_error(d, JSON_E_EOF_VALUE);
    if (c < '0' || c > '9')
        return json_dec_error(d, JSON_E_INVALID_NUMBER);
    exp = c - '0';
    for (;;) {
        int digit;

        c = peek_or_null(d);
        if (c < '0' || c > '9')
            break;
        eat(d);
        digit = c - '0';
        if (I32_OVERFLOW(exp, digit)) {
            /* parse_exponent_overflow */
            if (sig != 0 && positive_exp)
                return json_dec_error(d, JSON_E_NUMBER_OUT_OF_RANGE);
            while ((c = peek_or_null(d)) >= '0' && c <= '9')
                eat(d);
            *out = positive ? 0.0 : -0.0;
            return 0;
        }
        exp = exp * 10 + digit;
    }
    if (positive_exp)
        final_exp = (starting_exp > 0 && exp > INT32_MAX - starting_exp)
                        ? INT32_MAX
                        : starting_exp + exp;
    else
        final_exp = (starting_exp < 0 && starting_exp < INT32_MIN + exp)
                        ? INT32_MIN
                        : starting_exp - exp;
    return f64_from_parts(d, positive, sig, final_exp, out);
}

static int parse_decimal(struct json_dec *d, bool positive, uint64_t sig,
                         int32_t exp_before, double *out)
{
    int32_t exp_after = 0;
    int c;

    eat(d); /* '.' */
    for (;;) {
        int digit;

        c = peek_or_null(d);
        if (c < '0' || c > '9')
            break;
        digit = c - '0';
        if (U64_OVERFLOW(sig, (uint64_t)digit)) {
            /* parse_decimal_overflow: ignore the remaining digits */
            while ((c = peek_or_null(d)) >= '0' && c <= '9')
                eat(d);
            c = peek_or_null(d);
            if (c == 'e' || c == 'E')
                return parse_exponent(d, positive, sig, exp_before + exp_after,
                                      out);
            return f64_from_parts(d, positive, sig, exp_before + exp_after,
                                  out);
        }
        eat(d);
        sig = sig * 10 + (uint64_t)digit;
        exp_after--;
    }
    if (exp_after == 0) {
        if (peek(d) >= 0)
            return json_dec_peek_error(d, JSON_E_INVALID_NUMBER);
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    }
    c = peek_or_null(d);
    if (c == 'e' || c == 'E')
        return parse_exponent(d, positive, sig, exp_before + exp_after, out);
    return f64_from_parts(d, positive, sig, exp_before + exp_after, out);
}

static int parse_number_tail(struct json_dec *d, bool positive, uint64_t sig,
                             struct json_number *n)
{
    int c = peek_or_null(d);

    if (c == '.') {
        n->kind = JSON_NUM_F64;
        return parse_decimal(d, positive, sig, 0, &n->f);
    }
    if (c == 'e' || c == 'E') {
        n->kind = JSON_NUM_F64;
        return parse_exponent(d, positive, sig, 0, &n->f);
    }
    if (positive) {
        n->kind = JSON_NUM_U64;
        n->u = sig;
    } else {
        /* (sig as i64).wrapping_neg(): a float for -0 and below i64::MIN */
        int64_t neg = (int64_t)(0 - sig);

        if (neg >= 0) {
            n->kind = JSON_NUM_F64;
            n->f = -(double)sig;
        } else {
            n->kind = JSON_NUM_I64;
            n->i = neg;
        }
    }
    return 0;
}

/* parse_integer (= parse_any_number without arbitrary_precision); the
 * leading '-' has already been eaten when !positive. */
static int parse_integer(struct json_dec *d, bool positive,
                         struct json_number *n)
{
    int c = next_char(d);
    uint64_t sig;

    if (c < 0)
        return json_dec_error(d, JSON_E_EOF_VALUE);
    if (c == '0') {
        c = peek_or_null(d);
        if (c >= '0' && c <= '9')
            return json_dec_peek_error(d, JSON_E_INVALID_NUMBER);
        return parse_number_tail(d, positive, 0, n);
    }
    if (c < '1' || c > '9')
        return json_dec_error(d, JSON_E_INVALID_NUMBER);
    sig = (uint64_t)(c - '0');
    for (;;) {
        uint64_t digit;

        c = peek_or_null(d);
        if (c < '0' || c > '9')
            return parse_number_tail(d, positive, sig, n);
        digit = (uint64_t)(c - '0');
        if (U64_OVERFLOW(sig, digit)) {
            /* parse_long_integer: count the remaining digits as exponent */
            int32_t exponent = 0;

            for (;;) {
                c = peek_or_null(d);
                if (c >= '0' && c <= '9') {
                    eat(d);
                    exponent++;
                } else {
                    break;
                }
            }
            n->kind = JSON_NUM_F64;
            if (c == '.')
                return parse_decimal(d, positive, sig, exponent, &n->f);
            if (c == 'e' || c == 'E')
                return parse_exponent(d, positive, sig, exponent, &n->f);
            return f64_from_parts(d, positive, sig, exponent, &n->f);
        }
        eat(d);
        sig = sig * 10 + digit;
    }
}

/* ignore_integer / ignore_decimal / ignore_exponent */
static int ignore_number(struct json_dec *d)
{
    int c = d->pos < d->len ? d->p[d->pos++] : 0;
    bool digit = false;

    if (c == '0') {
        c = peek_or_null(d);
        if (c >= '0' && c <= '9')
            return json_dec_peek_error(d, JSON_E_INVALID_NUMBER);
    } else if (c >= '1' && c <= '9') {
        while ((c = peek_or_null(d)) >= '0' && c <= '9')
            eat(d);
    } else {
        return json_dec_error(d, JSON_E_INVALID_NUMBER);
    }
    c = peek_or_null(d);
    if (c == '.') {
        eat(d);
        while ((c = peek_or_null(d)) >= '0' && c <= '9') {
            eat(d);
            digit = true;
        }
        if (!digit)
            return json_dec_peek_error(d, JSON_E_INVALID_NUMBER);
        c = peek_or_null(d);
    }
    if (c == 'e' || c == 'E') {
        eat(d);
        c = peek_or_null(d);
        if (c == '+' || c == '-')
            eat(d);
        c = d->pos < d->len ? d->p[d->pos++] : 0;
        if (c < '0' || c > '9')
            return json_dec_error(d, JSON_E_INVALID_NUMBER);
        while ((c = peek_or_null(d)) >= '0' && c <= '9')
            eat(d);
    }
    return 0;
}

/* ---- "invalid type" errors (serde's Unexpected + Expected) ---- */

static void append_float(struct buf *b, double f)
{
    char tmp[64];

    buf_append(b, tmp, format_f64(f, tmp));
}

/* Raise "invalid type: <number>, expected <exp>" (custom, unpositioned). */
static int number_invalid_type(struct json_dec *d, const struct json_number *n,
                               const char *exp)
{
    if (!custom_begin(d))
        return -1;
    buf_puts(&d->msg, "invalid type: ");
    switch (n->kind) {
    case JSON_NUM_U64:
        buf_printf(&d->msg, "integer `%llu`", (unsigned long long)n->u);
        break;
    case JSON_NUM_I64:
        buf_printf(&d->msg, "integer `%lld`", (long long)n->i);
        break;
    case JSON_NUM_F64:
        buf_puts(&d->msg, "floating point `");
        append_float(&d->msg, n->f);
        buf_putc(&d->msg, '`');
        break;
    }
    buf_printf(&d->msg, ", expected %s", exp);
    return -1;
}

static int simple_invalid_type(struct json_dec *d, const char *unexp,
                               const char *exp)
{
    return json_dec_custom(d, "invalid type: %s, expected %s", unexp, exp);
}

/* Deserializer::peek_invalid_type: consume the offending scalar (so the
 * position ends up after it) and raise invalid type, or a syntax error. */
static int peek_invalid_type(struct json_dec *d, const char *exp)
{
    struct json_number n;
    int c = peek_or_null(d);

    switch (c) {
    case 'n':
        eat(d);
        if (parse_ident(d, "ull") < 0)
            return -1;
        simple_invalid_type(d, "null", exp);
        break;
    case 't':
        eat(d);
        if (parse_ident(d, "rue") < 0)
            return -1;
        simple_invalid_type(d, "boolean `true`", exp);
        break;
    case 'f':
        eat(d);
        if (parse_ident(d, "alse") < 0)
            return -1;
        simple_invalid_type(d, "boolean `false`", exp);
        break;
    case '-':
        eat(d);
        if (parse_integer(d, false, &n) < 0)
            return -1;
        number_invalid_type(d, &n, exp);
        break;
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if (parse_integer(d, true, &n) < 0)
            return -1;
        number_invalid_type(d, &n, exp);
        break;
    case '"':
        eat(d);
        if (parse_str(d) < 0)
            return -1;
        if (custom_begin(d)) {
            buf_puts(&d->msg, "invalid type: string ");
            json_rust_str_debug(&d->msg, d->scratch.data, d->scratch.len);
            buf_printf(&d->msg, ", expected %s", exp);
        }
        break;
    case '[':
        simple_invalid_type(d, "sequence", exp);
        break;
    case '{':
        simple_invalid_type(d, "map", exp);
        break;
    default:
        json_dec_peek_error(d, JSON_E_EXPECTED_VALUE);
        break;
    }
    json_dec_fix_position(d);
    return -1;
}

/* ---- primitive deserializers ---- */

int json_dec_bool(struct json_dec *d, bool *out)
{
    int c = json_dec_peek_ws(d);
    int rc;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c == 't') {
        eat(d);
        rc = parse_ident(d, "rue");
        *out = true;
    } else if (c == 'f') {
        eat(d);
        rc = parse_ident(d, "alse");
        *out = false;
    } else {
        rc = peek_invalid_type(d, "a boolean");
    }
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

int json_dec_uint(struct json_dec *d, uint64_t max, const char *expected,
                  uint64_t *out)
{
    struct json_number n;
    int c = json_dec_peek_ws(d);
    int rc = 0;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c == '-') {
        eat(d);
        if (parse_integer(d, false, &n) < 0)
            return -1;
    } else if (c >= '0' && c <= '9') {
        if (parse_integer(d, true, &n) < 0)
            return -1;
    } else {
        return peek_invalid_type(d, expected);
    }
    /* the visitor: visit_u64 / visit_i64 / (default) visit_f64 */
    switch (n.kind) {
    case JSON_NUM_U64:
        if (n.u <= max)
            *out = n.u;
        else
            rc = json_dec_custom(d, "invalid value: integer `%llu`, expected %s",
                                 (unsigned long long)n.u, expected);
        break;
    case JSON_NUM_I64:
        rc = json_dec_custom(d, "invalid value: integer `%lld`, expected %s",
                             (long long)n.i, expected);
        break;
    case JSON_NUM_F64:
        rc = number_invalid_type(d, &n, expected);
        break;
    }
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

int json_dec_string(struct json_dec *d, const char *expected, char **out,
                    size_t *out_len)
{
    int c = json_dec_peek_ws(d);

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c != '"')
        return peek_invalid_type(d, expected);
    eat(d);
    if (parse_str(d) < 0)
        return -1;
    *out = xmalloc(d->scratch.len + 1);
    memcpy(*out, d->scratch.data, d->scratch.len + 1);
    if (out_len)
        *out_len = d->scratch.len;
    return 0;
}

int json_dec_option(struct json_dec *d, bool *is_null)
{
    *is_null = false;
    if (json_dec_peek_ws(d) == 'n') {
        eat(d);
        if (parse_ident(d, "ull") < 0)
            return -1;
        *is_null = true;
    }
    return 0;
}

/* deserialize_unit (the `()` inside {"Variant": null}). */
static int dec_unit(struct json_dec *d)
{
    int c = json_dec_peek_ws(d);
    int rc;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c == 'n') {
        eat(d);
        rc = parse_ident(d, "ull");
    } else {
        rc = peek_invalid_type(d, "unit");
    }
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

/* " `a`", " `a` or `b`", " one of `a`, `b`, `c`" (serde's OneOf). */
static void append_one_of(struct buf *b, const char *const *names, size_t n)
{
    size_t i;

    switch (n) {
    case 1:
        buf_printf(b, "`%s`", names[0]);
        break;
    case 2:
        buf_printf(b, "`%s` or `%s`", names[0], names[1]);
        break;
    default:
        buf_puts(b, "one of ");
        for (i = 0; i < n; i++)
            buf_printf(b, "%s`%s`", i ? ", " : "", names[i]);
        break;
    }
}

/* Match the variant name in d->scratch or raise unknown variant. */
static int match_variant(struct json_dec *d, const char *const *variants,
                         size_t n_variants, int *out)
{
    size_t i;

    for (i = 0; i < n_variants; i++) {
        if (strlen(variants[i]) == d->scratch.len &&
            memcmp(variants[i], d->scratch.data, d->scratch.len) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    if (custom_begin(d)) {
        buf_puts(&d->msg, "unknown variant `");
        buf_append(&d->msg, d->scratch.data, d->scratch.len);
        buf_puts(&d->msg, "`, ");
        if (n_variants == 0) {
            buf_puts(&d->msg, "there are no variants");
        } else {
            buf_puts(&d->msg, "expected ");
            append_one_of(&d->msg, variants, n_variants);
        }
    }
    return -1;
}

static int parse_object_colon(struct json_dec *d)
{
    int c = json_dec_peek_ws(d);

    if (c == ':') {
        eat(d);
        return 0;
    }
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_OBJECT);
    return json_dec_peek_error(d, JSON_E_EXPECTED_COLON);
}

int json_dec_enum(struct json_dec *d, const char *const *variants,
                  size_t n_variants, int *out)
{
    int c = json_dec_peek_ws(d);
    int rc;

    if (c == '"') {
        /* UnitVariantAccess: the identifier through deserialize_str */
        eat(d);
        if (parse_str(d) < 0)
            return -1;
        rc = match_variant(d, variants, n_variants, out);
        if (rc < 0)
            json_dec_fix_position(d);
        return rc;
    }
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c != '{')
        return json_dec_peek_error(d, JSON_E_EXPECTED_VALUE);
    /* {"Variant": null} through VariantAccess */
    if (enter(d) < 0)
        return -1;
    eat(d);
    c = json_dec_peek_ws(d);
    if (c == '}')
        return json_dec_peek_error(d, JSON_E_EXPECTED_VALUE);
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_OBJECT);
    if (c != '"')
        return json_dec_peek_error(d, JSON_E_KEY_MUST_BE_STRING);
    eat(d);
    if (parse_str(d) < 0)
        return -1;
    if (match_variant(d, variants, n_variants, out) < 0) {
        json_dec_fix_position(d);
        return -1;
    }
    if (parse_object_colon(d) < 0)
        return -1;
    if (dec_unit(d) < 0)
        return -1;
    leave(d);
    c = json_dec_peek_ws(d);
    if (c == '}') {
        eat(d);
        return 0;
    }
    if (c < 0)
        return json_dec_error(d, JSON_E_EOF_OBJECT);
    return json_dec_error(d, JSON_E_EXPECTED_VALUE);
}

/* ---- IgnoredAny: serde_json's iterative ignore_value ---- */

int json_dec_ignore(struct json_dec *d)
{
    struct buf stack = BUF_INIT; /* enclosing frames, '[' or '{' */
    int enclosing = 0;           /* 0 = none */
    int rc = -1;

    for (;;) {
        int c = json_dec_peek_ws(d);
        int frame = 0;
        bool accept_comma;

        if (c < 0) {
            json_dec_peek_error(d, JSON_E_EOF_VALUE);
            goto out;
        }
        switch (c) {
        case 'n':
            eat(d);
            if (parse_ident(d, "ull") < 0)
                goto out;
            break;
        case 't':
            eat(d);
            if (parse_ident(d, "rue") < 0)
                goto out;
            break;
        case 'f':
            eat(d);
            if (parse_ident(d, "alse") < 0)
                goto out;
            break;
        case '-':
            eat(d);
            if (ignore_number(d) < 0)
                goto out;
            break;
        case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
            if (ignore_number(d) < 0)
                goto out;
            break;
        case '"':
            eat(d);
            if (ignore_str(d) < 0)
                goto out;
            break;
        case '[':
        case '{':
            if (enclosing)
                buf_putc(&stack, (char)enclosing);
            enclosing = 0;
            eat(d);
            frame = c;
            break;
        default:
            json_dec_peek_error(d, JSON_E_EXPECTED_VALUE);
            goto out;
        }

        if (frame) {
            accept_comma = false;
        } else if (enclosing) {
            frame = enclosing;
            enclosing = 0;
            accept_comma = true;
        } else if (stack.len) {
            frame = (unsigned char)stack.data[--stack.len];
            accept_comma = true;
        } else {
            rc = 0;
            goto out;
        }

        for (;;) {
            c = json_dec_peek_ws(d);
            if (c == ',' && accept_comma) {
                eat(d);
                break;
            }
            if ((c == ']' && frame == '[') || (c == '}' && frame == '{')) {
                eat(d);
                if (!stack.len) {
                    rc = 0;
                    goto out;
                }
                frame = (unsigned char)stack.data[--stack.len];
                accept_comma = true;
                continue;
            }
            if (c < 0) {
                json_dec_peek_error(d, frame == '[' ? JSON_E_EOF_LIST
                                                    : JSON_E_EOF_OBJECT);
                goto out;
            }
            if (accept_comma) {
                json_dec_peek_error(d, frame == '['
                                           ? JSON_E_EXPECTED_LIST_COMMA_OR_END
                                           : JSON_E_EXPECTED_OBJECT_COMMA_OR_END);
                goto out;
            }
            break;
        }

        if (frame == '{') {
            c = json_dec_peek_ws(d);
            if (c == '"') {
                eat(d);
            } else if (c < 0) {
                json_dec_peek_error(d, JSON_E_EOF_OBJECT);
                goto out;
            } else {
                json_dec_peek_error(d, JSON_E_KEY_MUST_BE_STRING);
                goto out;
            }
            if (ignore_str(d) < 0)
                goto out;
            c = json_dec_peek_ws(d);
            if (c == ':') {
                eat(d);
            } else if (c < 0) {
                json_dec_peek_error(d, JSON_E_EOF_OBJECT);
                goto out;
            } else {
                json_dec_peek_error(d, JSON_E_EXPECTED_COLON);
                goto out;
            }
        }
        enclosing = frame;
    }
out:
    buf_fini(&stack);
    return rc;
}

/* ---- sequences and maps ---- */

/* SeqAccess::has_next_element: 1 = an element follows, 0 = `]`, -1 = error */
static int has_next_element(struct json_dec *d, bool *first)
{
    int c = json_dec_peek_ws(d);

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_LIST);
    if (c == ']')
        return 0;
    if (*first) {
        *first = false;
        return 1;
    }
    if (c != ',')
        return json_dec_peek_error(d, JSON_E_EXPECTED_LIST_COMMA_OR_END);
    eat(d);
    c = json_dec_peek_ws(d);
    if (c == ']')
        return json_dec_peek_error(d, JSON_E_TRAILING_COMMA);
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    return 1;
}

/* MapAccess::has_next_key */
static int has_next_key(struct json_dec *d, bool *first)
{
    int c = json_dec_peek_ws(d);

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_OBJECT);
    if (c == '}')
        return 0;
    if (*first) {
        *first = false;
        if (c == '"')
            return 1;
        return json_dec_peek_error(d, JSON_E_KEY_MUST_BE_STRING);
    }
    if (c != ',')
        return json_dec_peek_error(d, JSON_E_EXPECTED_OBJECT_COMMA_OR_END);
    eat(d);
    c = json_dec_peek_ws(d);
    if (c == '"')
        return 1;
    if (c == '}')
        return json_dec_peek_error(d, JSON_E_TRAILING_COMMA);
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    return json_dec_peek_error(d, JSON_E_KEY_MUST_BE_STRING);
}

/* MapKey::deserialize_any for a string key: eat the quote, decode into
 * d->scratch. */
static int parse_key(struct json_dec *d)
{
    eat(d);
    return parse_str(d);
}

/* end_seq / end_map: run after the visitor even when it failed (their own
 * errors then are ignored, their input consumption is not). */
static int end_seq(struct json_dec *d)
{
    int c = json_dec_peek_ws(d);

    if (c == ']') {
        eat(d);
        return 0;
    }
    if (c == ',') {
        eat(d);
        if (json_dec_peek_ws(d) == ']')
            return json_dec_peek_error(d, JSON_E_TRAILING_COMMA);
        return json_dec_peek_error(d, JSON_E_TRAILING_CHARS);
    }
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_LIST);
    return json_dec_peek_error(d, JSON_E_TRAILING_CHARS);
}

static int end_map(struct json_dec *d)
{
    int c = json_dec_peek_ws(d);

    if (c == '}') {
        eat(d);
        return 0;
    }
    if (c == ',')
        return json_dec_peek_error(d, JSON_E_TRAILING_COMMA);
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_OBJECT);
    return json_dec_peek_error(d, JSON_E_TRAILING_CHARS);
}

int json_dec_seq(struct json_dec *d, const char *expected, json_elem_fn *elem,
                 void *ctx)
{
    int c = json_dec_peek_ws(d);
    bool first = true;
    size_t i = 0;
    int rc = 0;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c != '[')
        return peek_invalid_type(d, expected);
    if (enter(d) < 0)
        return -1;
    eat(d);
    for (;;) {
        int r = has_next_element(d, &first);

        if (r <= 0) {
            rc = r;
            break;
        }
        if (elem(d, ctx, i++) < 0) {
            rc = -1;
            break;
        }
    }
    leave(d);
    if (end_seq(d) < 0)
        rc = -1;
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

int json_dec_map(struct json_dec *d, const char *expected, json_entry_fn *entry,
                 void *ctx)
{
    int c = json_dec_peek_ws(d);
    bool first = true;
    int rc = 0;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c != '{')
        return peek_invalid_type(d, expected);
    if (enter(d) < 0)
        return -1;
    eat(d);
    for (;;) {
        int r = has_next_key(d, &first);
        char *key;
        size_t klen;

        if (r <= 0) {
            rc = r;
            break;
        }
        if (parse_key(d) < 0) {
            rc = -1;
            break;
        }
        klen = d->scratch.len;
        key = xmalloc(klen + 1);
        memcpy(key, d->scratch.data, klen + 1);
        if (parse_object_colon(d) < 0 || entry(d, ctx, key, klen) < 0) {
            free(key);
            rc = -1;
            break;
        }
        free(key);
    }
    leave(d);
    if (end_map(d) < 0)
        rc = -1;
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

/* ---- derived structs ---- */

static const char *field_expected(enum json_field_type t)
{
    switch (t) {
    case JSON_F_BOOL: return "a boolean";
    case JSON_F_U8: return "u8";
    case JSON_F_U16: return "u16";
    case JSON_F_U32: return "u32";
    case JSON_F_U64: return "u64";
    case JSON_F_USIZE: return "usize";
    case JSON_F_STRING: return "a string";
    case JSON_F_PATH: return "path string";
    default: return "";
    }
}

static int decode_field(struct json_dec *d, const struct json_field *f,
                        void *out)
{
    char *base = out;
    void *ptr = base + f->offset;
    uint64_t u;
    char *s;
    size_t slen;
    int e;

    if (f->flags & JSON_FIELD_OPTION) {
        bool is_null;

        if (json_dec_option(d, &is_null) < 0)
            return -1;
        if (is_null) {
            if (f->has_offset)
                *(bool *)(base + f->has_offset - 1) = false;
            return 0;
        }
    }
    switch (f->type) {
    case JSON_F_BOOL:
        if (json_dec_bool(d, ptr) < 0)
            return -1;
        break;
    case JSON_F_U8:
        if (json_dec_uint(d, UINT8_MAX, "u8", &u) < 0)
            return -1;
        *(uint8_t *)ptr = (uint8_t)u;
        break;
    case JSON_F_U16:
        if (json_dec_uint(d, UINT16_MAX, "u16", &u) < 0)
            return -1;
        *(uint16_t *)ptr = (uint16_t)u;
        break;
    case JSON_F_U32:
        if (json_dec_uint(d, UINT32_MAX, "u32", &u) < 0)
            return -1;
        *(uint32_t *)ptr = (uint32_t)u;
        break;
    case JSON_F_U64:
    case JSON_F_USIZE:
        if (json_dec_uint(d, UINT64_MAX, field_expected(f->type), &u) < 0)
            return -1;
        *(uint64_t *)ptr = u;
        break;
    case JSON_F_STRING:
    case JSON_F_PATH:
        if (json_dec_string(d, field_expected(f->type), &s, &slen) < 0)
            return -1;
        free(*(char **)ptr);
        *(char **)ptr = s;
        if (f->len_offset)
            *(size_t *)(base + f->len_offset - 1) = slen;
        break;
    case JSON_F_ENUM:
        if (json_dec_enum(d, f->variants, f->n_variants, &e) < 0)
            return -1;
        *(int *)ptr = e;
        break;
    case JSON_F_STRUCT:
        if (json_dec_struct(d, f->sub, ptr) < 0)
            return -1;
        break;
    case JSON_F_CUSTOM:
        if (f->custom(d, ptr, f) < 0)
            return -1;
        break;
    }
    if (f->has_offset)
        *(bool *)(base + f->has_offset - 1) = true;
    return 0;
}

static bool field_required(const struct json_field *f)
{
    return !(f->flags & (JSON_FIELD_OPTION | JSON_FIELD_DEFAULT));
}

/* The visit_map serde derive generates. */
static int visit_struct_map(struct json_dec *d,
                            const struct json_struct_desc *desc, void *out)
{
    bool seen[JSON_MAX_FIELDS] = {false};
    bool first = true;
    size_t i;

    for (;;) {
        int r = has_next_key(d, &first);
        const struct json_field *f = NULL;

        if (r < 0)
            return -1;
        if (r == 0)
            break;
        if (parse_key(d) < 0)
            return -1;
        for (i = 0; i < desc->n_fields; i++) {
            const char *name = desc->fields[i].name;

            if (strlen(name) == d->scratch.len &&
                memcmp(name, d->scratch.data, d->scratch.len) == 0) {
                f = &desc->fields[i];
                break;
            }
        }
        if (!f) {
            if (desc->deny_unknown_fields) {
                if (custom_begin(d)) {
                    buf_puts(&d->msg, "unknown field `");
                    buf_append(&d->msg, d->scratch.data, d->scratch.len);
                    buf_puts(&d->msg, "`, ");
                    if (desc->n_fields == 0) {
                        buf_puts(&d->msg, "there are no fields");
                    } else {
                        const char *names[JSON_MAX_FIELDS];

                        for (i = 0; i < desc->n_fields; i++)
                            names[i] = desc->fields[i].name;
                        buf_puts(&d->msg, "expected ");
                        append_one_of(&d->msg, names, desc->n_fields);
                    }
                }
                return -1;
            }
            if (parse_object_colon(d) < 0 || json_dec_ignore(d) < 0)
                return -1;
            continue;
        }
        if (seen[i])
            return json_dec_custom(d, "duplicate field `%s`", f->name);
        seen[i] = true;
        if (parse_object_colon(d) < 0)
            return -1;
        if (decode_field(d, f, out) < 0)
            return -1;
    }
    for (i = 0; i < desc->n_fields; i++)
        if (!seen[i] && field_required(&desc->fields[i]))
            return json_dec_custom(d, "missing field `%s`",
                                   desc->fields[i].name);
    return 0;
}

/* The visit_seq serde derive generates: the fields in declaration order;
 * a missing trailing element is an error unless the field has a default. */
static int visit_struct_seq(struct json_dec *d,
                            const struct json_struct_desc *desc, void *out)
{
    bool first = true;
    size_t i;

    for (i = 0; i < desc->n_fields; i++) {
        const struct json_field *f = &desc->fields[i];
        int r = has_next_element(d, &first);

        if (r < 0)
            return -1;
        if (r == 0) {
            if (f->flags & JSON_FIELD_DEFAULT)
                continue;
            return json_dec_custom(d,
                                   "invalid length %zu, expected struct %s "
                                   "with %zu element%s",
                                   i, desc->rust_name, desc->n_fields,
                                   desc->n_fields == 1 ? "" : "s");
        }
        if (decode_field(d, f, out) < 0)
            return -1;
    }
    return 0;
}

int json_dec_struct(struct json_dec *d, const struct json_struct_desc *desc,
                    void *out)
{
    int c = json_dec_peek_ws(d);
    int rc;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c == '[') {
        if (enter(d) < 0)
            return -1;
        eat(d);
        rc = visit_struct_seq(d, desc, out);
        leave(d);
        if (end_seq(d) < 0)
            rc = -1;
    } else if (c == '{') {
        if (enter(d) < 0)
            return -1;
        eat(d);
        rc = visit_struct_map(d, desc, out);
        leave(d);
        if (end_map(d) < 0)
            rc = -1;
    } else {
        char exp[128];

        snprintf(exp, sizeof(exp), "struct %s", desc->rust_name);
        rc = peek_invalid_type(d, exp);
    }
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

/* ---- whole documents ---- */

int json_dec_end(struct json_dec *d)
{
    if (json_dec_peek_ws(d) >= 0)
        return json_dec_peek_error(d, JSON_E_TRAILING_CHARS);
    return 0;
}

int json_decode(const char *text, size_t len, json_top_fn *top, void *ctx,
                const char *prefix, const char *suffix, struct sq_err *err)
{
    struct json_dec d;
    struct buf msg = BUF_INIT;
    int rc = 0;

    json_dec_init(&d, text, len);
    if (top(&d, ctx) < 0 || json_dec_end(&d) < 0) {
        if (prefix)
            buf_puts(&msg, prefix);
        json_dec_error_text(&d, &msg);
        if (suffix)
            buf_puts(&msg, suffix);
        rc = sq_errf(err, -EINVAL, "%s", msg.data);
        buf_fini(&msg);
    }
    json_dec_fini(&d);
    return rc;
}

/* ====================================================================== */
/* DOM                                                                     */

static struct json_value *new_value(enum json_type t)
{
    struct json_value *v = xcalloc(1, sizeof(*v));

    v->type = t;
    return v;
}

struct json_value *json_new_null(void)
{
    return new_value(JSON_NULL);
}

struct json_value *json_new_bool(bool b)
{
    struct json_value *v = new_value(JSON_BOOL);

    v->boolean = b;
    return v;
}

struct json_value *json_new_u64(uint64_t u)
{
    struct json_value *v = new_value(JSON_NUMBER);

    v->num.kind = JSON_NUM_U64;
    v->num.u = u;
    return v;
}

struct json_value *json_new_i64(int64_t i)
{
    struct json_value *v;

    if (i >= 0)
        return json_new_u64((uint64_t)i);
    v = new_value(JSON_NUMBER);
    v->num.kind = JSON_NUM_I64;
    v->num.i = i;
    return v;
}

struct json_value *json_new_f64(double f)
{
    struct json_value *v;

    if (!isfinite(f))
        return json_new_null();
    v = new_value(JSON_NUMBER);
    v->num.kind = JSON_NUM_F64;
    v->num.f = f;
    return v;
}

struct json_value *json_new_str(const char *s, size_t n)
{
    struct json_value *v = new_value(JSON_STRING);

    v->str.ptr = xmalloc(n + 1);
    if (n)
        memcpy(v->str.ptr, s, n);
    v->str.ptr[n] = '\0';
    v->str.len = n;
    return v;
}

struct json_value *json_new_array(void)
{
    return new_value(JSON_ARRAY);
}

struct json_value *json_new_object(void)
{
    return new_value(JSON_OBJECT);
}

void json_value_free(struct json_value *v)
{
    size_t i;

    if (!v)
        return;
    switch (v->type) {
    case JSON_STRING:
        free(v->str.ptr);
        break;
    case JSON_ARRAY:
        for (i = 0; i < v->arr.n; i++)
            json_value_free(v->arr.items[i]);
        free(v->arr.items);
        break;
    case JSON_OBJECT:
        for (i = 0; i < v->obj.n; i++) {
            free(v->obj.members[i].key);
            json_value_free(v->obj.members[i].value);
        }
        free(v->obj.members);
        break;
    default:
        break;
    }
    free(v);
}

struct json_value *json_value_clone(const struct json_value *v)
{
    struct json_value *c;
    size_t i;

    switch (v->type) {
    case JSON_STRING:
        return json_new_str(v->str.ptr, v->str.len);
    case JSON_ARRAY:
        c = json_new_array();
        for (i = 0; i < v->arr.n; i++)
            json_array_push(c, json_value_clone(v->arr.items[i]));
        return c;
    case JSON_OBJECT:
        c = json_new_object();
        c->obj.members = xmalloc((v->obj.n ? v->obj.n : 1) *
                                 sizeof(*c->obj.members));
        c->obj.cap = v->obj.n ? v->obj.n : 1;
        for (i = 0; i < v->obj.n; i++) {
            const struct json_member *m = &v->obj.members[i];

            c->obj.members[i].key = xmalloc(m->key_len + 1);
            memcpy(c->obj.members[i].key, m->key, m->key_len + 1);
            c->obj.members[i].key_len = m->key_len;
            c->obj.members[i].value = json_value_clone(m->value);
        }
        c->obj.n = v->obj.n;
        return c;
    default:
        c = new_value(v->type);
        *c = *v;
        return c;
    }
}

void json_array_push(struct json_value *arr, struct json_value *item)
{
    if (arr->arr.n == arr->arr.cap) {
        arr->arr.cap = arr->arr.cap ? arr->arr.cap * 2 : 4;
        arr->arr.items =
            xrealloc(arr->arr.items, arr->arr.cap * sizeof(*arr->arr.items));
    }
    arr->arr.items[arr->arr.n++] = item;
}

/* Bytewise key order (Rust's String Ord). */
static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;

    if (c)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Binary search: index of key, or where it would go (*found = false). */
static size_t obj_find(const struct json_value *obj, const char *key,
                       size_t key_len, bool *found)
{
    size_t lo = 0, hi = obj->obj.n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct json_member *m = &obj->obj.members[mid];
        int c = key_cmp(m->key, m->key_len, key, key_len);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

void json_object_set(struct json_value *obj, const char *key, size_t key_len,
                     struct json_value *value)
{
    bool found;
    size_t i = obj_find(obj, key, key_len, &found);
    struct json_member *m;

    if (found) {
        json_value_free(obj->obj.members[i].value);
        obj->obj.members[i].value = value;
        return;
    }
    if (obj->obj.n == obj->obj.cap) {
        obj->obj.cap = obj->obj.cap ? obj->obj.cap * 2 : 4;
        obj->obj.members = xrealloc(obj->obj.members,
                                    obj->obj.cap * sizeof(*obj->obj.members));
    }
    memmove(&obj->obj.members[i + 1], &obj->obj.members[i],
            (obj->obj.n - i) * sizeof(*obj->obj.members));
    m = &obj->obj.members[i];
    m->key = xmalloc(key_len + 1);
    if (key_len)
        memcpy(m->key, key, key_len);
    m->key[key_len] = '\0';
    m->key_len = key_len;
    m->value = value;
    obj->obj.n++;
}

struct json_value *json_object_get(const struct json_value *obj,
                                   const char *key, size_t key_len)
{
    bool found;
    size_t i;

    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    i = obj_find(obj, key, key_len, &found);
    return found ? obj->obj.members[i].value : NULL;
}

bool json_object_remove(struct json_value *obj, const char *key,
                        size_t key_len)
{
    bool found;
    size_t i;

    if (!obj || obj->type != JSON_OBJECT)
        return false;
    i = obj_find(obj, key, key_len, &found);
    if (!found)
        return false;
    free(obj->obj.members[i].key);
    json_value_free(obj->obj.members[i].value);
    memmove(&obj->obj.members[i], &obj->obj.members[i + 1],
            (obj->obj.n - i - 1) * sizeof(*obj->obj.members));
    obj->obj.n--;
    return true;
}

bool json_value_equal(const struct json_value *a, const struct json_value *b)
{
    size_t i;

    if (a->type != b->type)
        return false;
    switch (a->type) {
    case JSON_NULL:
        return true;
    case JSON_BOOL:
        return a->boolean == b->boolean;
    case JSON_NUMBER:
        if (a->num.kind != b->num.kind)
            return false;
        switch (a->num.kind) {
        case JSON_NUM_U64: return a->num.u == b->num.u;
        case JSON_NUM_I64: return a->num.i == b->num.i;
        case JSON_NUM_F64: return a->num.f == b->num.f;
        }
        return false;
    case JSON_STRING:
        return a->str.len == b->str.len &&
               memcmp(a->str.ptr, b->str.ptr, a->str.len) == 0;
    case JSON_ARRAY:
        if (a->arr.n != b->arr.n)
            return false;
        for (i = 0; i < a->arr.n; i++)
            if (!json_value_equal(a->arr.items[i], b->arr.items[i]))
                return false;
        return true;
    case JSON_OBJECT:
        if (a->obj.n != b->obj.n)
            return false;
        for (i = 0; i < a->obj.n; i++) {
            const struct json_member *x = &a->obj.members[i];
            const struct json_member *y = &b->obj.members[i];

            if (key_cmp(x->key, x->key_len, y->key, y->key_len) != 0 ||
                !json_value_equal(x->value, y->value))
                return false;
        }
        return true;
    }
    return false;
}

/* ---- parse: Value's Deserialize through deserialize_any ---- */

static int parse_any(struct json_dec *d, struct json_value **out);

static int parse_any_array(struct json_dec *d, struct json_value *arr)
{
    bool first = true;

    for (;;) {
        struct json_value *item = NULL;
        int r = has_next_element(d, &first);

        if (r <= 0)
            return r;
        if (parse_any(d, &item) < 0)
            return -1;
        json_array_push(arr, item);
    }
}

static int parse_any_object(struct json_dec *d, struct json_value *obj)
{
    bool first = true;

    for (;;) {
        struct json_value *val = NULL;
        char *key;
        size_t klen;
        int r = has_next_key(d, &first);

        if (r <= 0)
            return r;
        if (parse_key(d) < 0)
            return -1;
        klen = d->scratch.len;
        key = xmalloc(klen + 1);
        memcpy(key, d->scratch.data, klen + 1);
        if (parse_object_colon(d) < 0 || parse_any(d, &val) < 0) {
            free(key);
            return -1;
        }
        json_object_set(obj, key, klen, val);
        free(key);
    }
}

static int parse_any(struct json_dec *d, struct json_value **out)
{
    struct json_number n;
    struct json_value *v = NULL;
    int c = json_dec_peek_ws(d);
    int rc = 0;

    *out = NULL;
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    switch (c) {
    case 'n':
        eat(d);
        if (parse_ident(d, "ull") < 0)
            return -1;
        v = json_new_null();
        break;
    case 't':
        eat(d);
        if (parse_ident(d, "rue") < 0)
            return -1;
        v = json_new_bool(true);
        break;
    case 'f':
        eat(d);
        if (parse_ident(d, "alse") < 0)
            return -1;
        v = json_new_bool(false);
        break;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if (c == '-')
            eat(d);
        if (parse_integer(d, c != '-', &n) < 0)
            return -1;
        v = new_value(JSON_NUMBER);
        v->num.kind = n.kind;
        if (n.kind == JSON_NUM_U64)
            v->num.u = n.u;
        else if (n.kind == JSON_NUM_I64)
            v->num.i = n.i;
        else
            v->num.f = n.f;
        break;
    case '"':
        eat(d);
        if (parse_str(d) < 0)
            return -1;
        v = json_new_str(d->scratch.data, d->scratch.len);
        break;
    case '[':
        if (enter(d) < 0)
            return -1;
        eat(d);
        v = json_new_array();
        rc = parse_any_array(d, v);
        leave(d);
        if (end_seq(d) < 0)
            rc = -1;
        break;
    case '{':
        if (enter(d) < 0)
            return -1;
        eat(d);
        v = json_new_object();
        rc = parse_any_object(d, v);
        leave(d);
        if (end_map(d) < 0)
            rc = -1;
        break;
    default:
        return json_dec_peek_error(d, JSON_E_EXPECTED_VALUE);
    }
    if (rc < 0) {
        json_dec_fix_position(d);
        json_value_free(v);
        return -1;
    }
    *out = v;
    return 0;
}

int json_dec_value(struct json_dec *d, struct json_value **out)
{
    return parse_any(d, out);
}

struct parse_ctx {
    struct json_value *v;
};

static int parse_top(struct json_dec *d, void *ctx)
{
    struct parse_ctx *pc = ctx;

    return parse_any(d, &pc->v);
}

int json_parse(const char *text, size_t len, struct json_value **out,
               struct sq_err *err)
{
    struct parse_ctx pc = {NULL};
    int rc = json_decode(text, len, parse_top, &pc, NULL, NULL, err);

    if (rc < 0) {
        json_value_free(pc.v);
        *out = NULL;
        return rc;
    }
    *out = pc.v;
    return 0;
}

/* ---- serialization ---- */

void json_value_write(const struct json_value *v, struct buf *b)
{
    size_t i;

    switch (v->type) {
    case JSON_NULL:
        buf_puts(b, "null");
        break;
    case JSON_BOOL:
        json_write_bool(b, v->boolean);
        break;
    case JSON_NUMBER:
        if (v->num.kind == JSON_NUM_U64)
            json_write_u64(b, v->num.u);
        else if (v->num.kind == JSON_NUM_I64)
            json_write_i64(b, v->num.i);
        else
            json_write_f64(b, v->num.f);
        break;
    case JSON_STRING:
        json_write_str(b, v->str.ptr, v->str.len);
        break;
    case JSON_ARRAY:
        buf_putc(b, '[');
        for (i = 0; i < v->arr.n; i++) {
            if (i)
                buf_putc(b, ',');
            json_value_write(v->arr.items[i], b);
        }
        buf_putc(b, ']');
        break;
    case JSON_OBJECT:
        buf_putc(b, '{');
        for (i = 0; i < v->obj.n; i++) {
            if (i)
                buf_putc(b, ',');
            json_write_str(b, v->obj.members[i].key, v->obj.members[i].key_len);
            buf_putc(b, ':');
            json_value_write(v->obj.members[i].value, b);
        }
        buf_putc(b, '}');
        break;
    }
}

static size_t str_serialized_len(const char *s, size_t n)
{
    size_t len = 2, i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
            c == '\r' || c == '\t')
            len += 2;
        else if (c < 0x20)
            len += 6;
        else
            len += 1;
    }
    return len;
}

size_t json_value_serialized_len(const struct json_value *v)
{
    char tmp[64];
    size_t len = 0, i;

    switch (v->type) {
    case JSON_NULL:
        return 4;
    case JSON_BOOL:
        return v->boolean ? 4 : 5;
    case JSON_NUMBER:
        if (v->num.kind == JSON_NUM_U64)
            return (size_t)snprintf(tmp, sizeof(tmp), "%llu",
                                    (unsigned long long)v->num.u);
        if (v->num.kind == JSON_NUM_I64)
            return (size_t)snprintf(tmp, sizeof(tmp), "%lld",
                                    (long long)v->num.i);
        return isfinite(v->num.f) ? format_f64(v->num.f, tmp) : 4;
    case JSON_STRING:
        return str_serialized_len(v->str.ptr, v->str.len);
    case JSON_ARRAY:
        len = 2 + (v->arr.n ? v->arr.n - 1 : 0);
        for (i = 0; i < v->arr.n; i++)
            len += json_value_serialized_len(v->arr.items[i]);
        return len;
    case JSON_OBJECT:
        len = 2 + (v->obj.n ? v->obj.n - 1 : 0);
        for (i = 0; i < v->obj.n; i++)
            len += str_serialized_len(v->obj.members[i].key,
                                      v->obj.members[i].key_len) +
                   1 + json_value_serialized_len(v->obj.members[i].value);
        return len;
    }
    return 0;
}

/* ---- RFC 7396 merge patch ---- */

void json_merge_patch(struct json_value **target, const struct json_value *patch)
{
    size_t i;

    if (patch->type != JSON_OBJECT) {
        json_value_free(*target);
        *target = json_value_clone(patch);
        return;
    }
    if (!*target || (*target)->type != JSON_OBJECT) {
        json_value_free(*target);
        *target = json_new_object();
    }
    for (i = 0; i < patch->obj.n; i++) {
        const struct json_member *m = &patch->obj.members[i];

        if (m->value->type == JSON_NULL) {
            json_object_remove(*target, m->key, m->key_len);
        } else {
            bool found;
            size_t j = obj_find(*target, m->key, m->key_len, &found);

            if (found) {
                json_merge_patch(&(*target)->obj.members[j].value, m->value);
            } else {
                struct json_value *nv = json_new_null();

                json_merge_patch(&nv, m->value);
                json_object_set(*target, m->key, m->key_len, nv);
            }
        }
    }
}

/* ---- JSON Pointer (serde_json::Value::pointer) ---- */

/* Unescape one token as `.replace("~1", "/").replace("~0", "~")`. */
static size_t pointer_unescape(const char *s, size_t n, char *out)
{
    char *tmp = xmalloc(n + 1);
    size_t i, o = 0, t = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '~' && i + 1 < n && s[i + 1] == '1') {
            tmp[t++] = '/';
            i++;
        } else {
            tmp[t++] = s[i];
        }
    }
    for (i = 0; i < t; i++) {
        if (tmp[i] == '~' && i + 1 < t && tmp[i + 1] == '0') {
            out[o++] = '~';
            i++;
        } else {
            out[o++] = tmp[i];
        }
    }
    free(tmp);
    return o;
}

static bool pointer_index(const char *s, size_t n, size_t *out)
{
    size_t v = 0, i;

    if (n == 0 || s[0] == '+' || (s[0] == '0' && n != 1))
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (SIZE_MAX - (size_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

const struct json_value *json_pointer(const struct json_value *root,
                                      const char *ptr, size_t len)
{
    const struct json_value *cur = root;
    char *tok;
    size_t pos = 1;

    if (len == 0)
        return root;
    if (ptr[0] != '/')
        return NULL;
    tok = xmalloc(len + 1);
    for (;;) {
        size_t end = pos, tlen, idx;

        while (end < len && ptr[end] != '/')
            end++;
        tlen = pointer_unescape(ptr + pos, end - pos, tok);
        if (cur->type == JSON_OBJECT) {
            cur = json_object_get(cur, tok, tlen);
        } else if (cur->type == JSON_ARRAY) {
            cur = (pointer_index(tok, tlen, &idx) && idx < cur->arr.n)
                      ? cur->arr.items[idx]
                      : NULL;
        } else {
            cur = NULL;
        }
        if (!cur || end >= len)
            break;
        pos = end + 1;
    }
    free(tok);
    return cur;
}
