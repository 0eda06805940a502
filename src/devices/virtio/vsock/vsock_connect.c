/*
 * vsock_connect.c: the "CONNECT <port>\n" command (vsock_connect.h).
 */
#include "devices/virtio/vsock/vsock_connect.h"

#include <errno.h>
#include <stdbool.h>

#include "util/strnum.h"
#include "util/utf8.h"

uint32_t vsock_connect_want(const struct vsock_connect_line *l)
{
    if (l->len < VSOCK_CONNECT_MIN_LEN)
        return VSOCK_CONNECT_MIN_LEN - l->len;
    if (l->buf[l->len - 1] == '\n' || l->len >= VSOCK_CONNECT_MAX_LEN)
        return 0;
    return 1;
}

/* str::split_whitespace, one step: the next word of [*pos, n) in s.
 * Returns false when there is none. The input is valid UTF-8. */
static bool next_word(const uint8_t *s, size_t n, size_t *pos,
                      const uint8_t **word, size_t *word_len)
{
    size_t i = *pos, start;
    uint32_t cp = 0;
    size_t l;

    while (i < n) {
        l = utf8_decode(s + i, n - i, &cp);
        if (l == 0 || !utf8_is_whitespace(cp))
            break;
        i += l;
    }
    if (i >= n) {
        *pos = n;
        return false;
    }
    start = i;
    while (i < n) {
        l = utf8_decode(s + i, n - i, &cp);
        if (l == 0)
            l = 1; /* cannot happen: validated */
        else if (utf8_is_whitespace(cp))
            break;
        i += l;
    }
    *word = s + start;
    *word_len = i - start;
    *pos = i;
    return true;
}

/* word.to_lowercase() == "connect": no non-ASCII character lowercases to
 * one of these letters, so an ASCII comparison is exact. */
static bool is_connect(const uint8_t *w, size_t n)
{
    static const char kw[] = "connect";

    if (n != sizeof(kw) - 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = w[i];

        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)kw[i])
            return false;
    }
    return true;
}

int vsock_connect_parse(const uint8_t *buf, size_t len, uint32_t *port)
{
    const uint8_t *w = NULL;
    size_t wl = 0, pos = 0;

    if (!utf8_valid(buf, len))
        return -EINVAL;
    if (!next_word(buf, len, &pos, &w, &wl) || !is_connect(w, wl))
        return -EINVAL;
    if (!next_word(buf, len, &pos, &w, &wl))
        return -EINVAL;
    if (!strnum_parse_u32((const char *)w, wl, port))
        return -EINVAL;
    return 0;
}
