/*
 * json_write.c: compact JSON output helpers (serde_json's string escaping
 * and float format) and Rust's Debug quoting of strings, used in serde's
 * "invalid type: string ..." messages (see json.h).
 */
#include "util/json.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_debug_table.h"
#include "util/json_int.h"
#include "util/utf8.h"

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
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
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
 * decimal digits (no trailing zeros) and the value is 0.DIGITS * 10^(*kk).
 * For p = 1, 2, ... we take printf's correctly rounded p-digit significand
 * D and keep the first that strtod reads back exactly. At a power of two
 * the rounding interval is lopsided (the gap below is half the gap above),
 * so D can miss while D+1 or D-1 still reads back: we try those too, as a
 * shortest-digits algorithm (Ryu, Schubfach, zmij) would find them.
 */
static bool try_digits(uint64_t m, int exp10, double v)
{
    char tmp[48];

    snprintf(tmp, sizeof(tmp), "%llue%d", (unsigned long long)m, exp10);
    return strtod(tmp, NULL) == v;
}

static void shortest_digits(double v, char digits[24], int *n_digits, int *kk)
{
    char tmp[40];
    int prec, n = 0, exp10 = 0;
    uint64_t m = 0, pow_p = 1;
    const char *e;

    for (prec = 1; prec <= 17; prec++, pow_p *= 10) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        m = 0;
        for (const char *q = tmp; *q && *q != 'e'; q++)
            if (*q >= '0' && *q <= '9')
                m = m * 10 + (uint64_t)(*q - '0');
        e = strchr(tmp, 'e');
        exp10 = (e ? atoi(e + 1) : 0) - (prec - 1); /* v ~ m * 10^exp10 */
        if (try_digits(m, exp10, v))
            break;
        if (prec < 17 && m + 1 < pow_p * 10 && try_digits(m + 1, exp10, v)) {
            m++;
            break;
        }
        if (prec < 17 && m - 1 >= pow_p && try_digits(m - 1, exp10, v)) {
            m--;
            break;
        }
    }
    if (prec > 17)
        prec = 17;
    n = snprintf(digits, 24, "%llu", (unsigned long long)m);
    /* 0.DIGITS * 10^kk == m * 10^exp10 */
    *kk = exp10 + n;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *n_digits = n;
}

/* Format like zmij/ryu's format_finite (serde_json's float output). */
size_t json_format_f64(double v, char *out)
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
    buf_append(b, tmp, json_format_f64(v, tmp));
}

/* Does Rust's str Debug print c as \u{..}? (binary search in the table) */
static bool rust_debug_escapes(uint32_t c)
{
    size_t lo = 0, hi = sizeof(rust_debug_escape_ranges) /
                        sizeof(rust_debug_escape_ranges[0]);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c < rust_debug_escape_ranges[mid][0])
            hi = mid;
        else if (c > rust_debug_escape_ranges[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

void json_rust_str_debug(struct buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    buf_putc(b, '"');
    while (i < n) {
        uint32_t c;
        size_t l, run = i;

        /* Printable ASCII other than '"' and '\\' stands for itself. */
        while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' &&
               p[run] != '\\')
            run++;
        if (run > i) {
            buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        l = utf8_decode(p + i, n - i, &c);

        if (l == 0) {
            /* not UTF-8 (a Rust str cannot hold it): show the byte */
            buf_printf(b, "\\x%02x", p[i]);
            i++;
            continue;
        }
        switch (c) {
        case '\t':
            buf_puts(b, "\\t");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\0':
            buf_puts(b, "\\0");
            break;
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

/* ---- pretty layout (serde_json's PrettyFormatter) ---- */

void json_pretty_init(struct json_pretty *p, struct buf *b)
{
    memset(p, 0, sizeof(*p));
    p->b = b;
}

static void pretty_indent(struct json_pretty *p)
{
    for (unsigned i = 0; i < p->depth; i++)
        buf_puts(p->b, "  ");
}

void json_pretty_open(struct json_pretty *p, char open)
{
    buf_putc(p->b, open);
    if (p->depth + 1 < JSON_PRETTY_MAX_DEPTH)
        p->depth++;
    p->has_value[p->depth] = false;
}

void json_pretty_close(struct json_pretty *p, char close)
{
    bool had = p->has_value[p->depth];

    if (p->depth)
        p->depth--;
    if (had) {
        buf_putc(p->b, '\n');
        pretty_indent(p);
    }
    buf_putc(p->b, close);
}

void json_pretty_elem(struct json_pretty *p)
{
    buf_puts(p->b, p->has_value[p->depth] ? ",\n" : "\n");
    p->has_value[p->depth] = true;
    pretty_indent(p);
}

void json_pretty_key(struct json_pretty *p, const char *key)
{
    json_pretty_elem(p);
    json_write_cstr(p->b, key);
    buf_puts(p->b, ": ");
}
