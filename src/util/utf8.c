/*
 * utf8.c: Rust's core::str UTF-8 rules (see utf8.h).
 *
 * Everything rests on check_seq(), which looks at one sequence the way
 * core::str::from_utf8 does: the first byte gives the width (0xc0, 0xc1
 * and 0xf5..0xff start nothing), the second byte's range excludes the
 * overlong forms (after 0xe0 and 0xf0), the surrogates (after 0xed) and
 * code points above U+10FFFF (after 0xf4), and the later bytes must be
 * continuation bytes. The first byte that breaks a rule ends the maximal
 * invalid subpart, which gives Rust's error_len; running out of input
 * first is Rust's error_len None.
 */
#include "util/utf8.h"

#include "util/alnum_table.h"

static bool is_cont(uint8_t b)
{
    return (b & 0xc0) == 0x80;
}

/*
 * The sequence at s (n >= 1 bytes): returns its width (1..4) if it is a
 * valid character. Otherwise returns 0 with *bad = the length of its
 * maximal invalid subpart (1..3), or 0 if the input ends before a rule
 * is broken.
 */
static size_t check_seq(const uint8_t *s, size_t n, size_t *bad)
{
    uint8_t b = s[0], lo = 0x80, hi = 0xbf;
    size_t w;

    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf) {
        w = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        w = 3;
        if (b == 0xe0)
            lo = 0xa0; /* below: overlong */
        else if (b == 0xed)
            hi = 0x9f; /* above: surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        w = 4;
        if (b == 0xf0)
            lo = 0x90; /* below: overlong */
        else if (b == 0xf4)
            hi = 0x8f; /* above: beyond U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t k = 1; k < w; k++) {
        if (k >= n) {
            *bad = 0;
            return 0;
        }
        if (k == 1 ? s[1] < lo || s[1] > hi : !is_cont(s[k])) {
            *bad = k;
            return 0;
        }
    }
    return w;
}

bool utf8_validate(const void *buf, size_t n, struct utf8_error *err)
{
    const uint8_t *s = buf;
    size_t i = 0, bad = 0;

    while (i < n) {
        size_t w = check_seq(s + i, n - i, &bad);

        if (w == 0) {
            if (err) {
                err->valid_up_to = i;
                err->error_len = bad;
            }
            return false;
        }
        i += w;
    }
    return true;
}

bool utf8_valid(const void *s, size_t n)
{
    return utf8_validate(s, n, NULL);
}

size_t utf8_decode(const void *buf, size_t n, uint32_t *cp)
{
    const uint8_t *s = buf;
    size_t w, bad;

    if (n == 0)
        return 0;
    w = check_seq(s, n, &bad);
    switch (w) {
    case 1:
        *cp = s[0];
        break;
    case 2:
        *cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
        break;
    case 3:
        *cp = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
              (s[2] & 0x3f);
        break;
    case 4:
        *cp = ((uint32_t)(s[0] & 0x07) << 18) |
              ((uint32_t)(s[1] & 0x3f) << 12) | ((uint32_t)(s[2] & 0x3f) << 6) |
              (s[3] & 0x3f);
        break;
    default:
        break;
    }
    return w;
}

size_t utf8_chunk(const void *buf, size_t n, size_t *valid_len,
                  size_t *invalid_len)
{
    const uint8_t *s = buf;
    size_t i = 0, bad = 0;

    while (i < n) {
        size_t w = check_seq(s + i, n - i, &bad);

        if (w == 0) {
            /* A sequence cut off by the end is one chunk with the rest. */
            *valid_len = i;
            *invalid_len = bad ? bad : n - i;
            return i + *invalid_len;
        }
        i += w;
    }
    *valid_len = n;
    *invalid_len = 0;
    return n;
}

bool utf8_is_alphanumeric(uint32_t c)
{
    size_t lo = 0,
           hi = sizeof(rust_alnum_ranges) / sizeof(rust_alnum_ranges[0]);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c < rust_alnum_ranges[mid][0])
            hi = mid;
        else if (c > rust_alnum_ranges[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool utf8_is_whitespace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
           c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

void utf8_trim(const char **str, size_t *n)
{
    const uint8_t *p = (const uint8_t *)*str;
    size_t len = *n, w;
    uint32_t c = 0;

    while (len > 0 && (w = utf8_decode(p, len, &c)) > 0 &&
           utf8_is_whitespace(c)) {
        p += w;
        len -= w;
    }
    while (len > 0) {
        size_t start = len - 1;

        /* back to the first byte of the last character (at most 3 steps) */
        while (start > 0 && len - start < 4 && is_cont(p[start]))
            start--;
        if (utf8_decode(p + start, len - start, &c) != len - start ||
            !utf8_is_whitespace(c))
            break;
        len = start;
    }
    *str = (const char *)p;
    *n = len;
}
