/*
 * strnum.c: Rust's str::parse::<u32>() (see strnum.h).
 */
#include "util/strnum.h"

bool strnum_parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v = 0;

    if (n > 0 && s[0] == '+') {
        s++;
        n--;
    }
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}
