/*
 * atomic_bitmap.c: the concurrently settable bitmap (atomic_bitmap.h).
 *
 * Setting looks at the word first and skips the atomic OR when the bits
 * are already set: the common case for a page written again and again (a
 * used ring), which then costs one load and no cache-line ownership.
 */
#include "util/atomic_bitmap.h"

#include <errno.h>
#include <stdlib.h>

int atomic_bitmap_init(struct atomic_bitmap *b, size_t n_bits)
{
    size_t n = atomic_bitmap_n_words(n_bits);

    b->n_bits = 0;
    b->words = NULL;
    if (n == 0)
        return 0;
    b->words = calloc(n, sizeof(*b->words));
    if (!b->words)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        atomic_init(&b->words[i], 0);
    b->n_bits = n_bits;
    return 0;
}

void atomic_bitmap_fini(struct atomic_bitmap *b)
{
    if (!b)
        return;
    free(b->words);
    b->words = NULL;
    b->n_bits = 0;
}

/* Bits [lo, hi) of one word, 0 <= lo < hi <= 64. */
static uint64_t mask_of(unsigned lo, unsigned hi)
{
    uint64_t upto = hi == 64 ? ~0ULL : (1ULL << hi) - 1;

    return upto & ~((1ULL << lo) - 1);
}

void atomic_bitmap_set_range(const struct atomic_bitmap *b, size_t first,
                             size_t n)
{
    size_t end;

    if (first >= b->n_bits || n == 0)
        return;
    end = n > b->n_bits - first ? b->n_bits : first + n;
    while (first < end) {
        size_t w = first / 64;
        unsigned lo = (unsigned)(first % 64);
        unsigned hi = end - w * 64 >= 64 ? 64 : (unsigned)(end - w * 64);
        uint64_t m = mask_of(lo, hi);

        if ((atomic_load_explicit(&b->words[w], memory_order_relaxed) & m) != m)
            atomic_fetch_or_explicit(&b->words[w], m, memory_order_release);
        first = w * 64 + hi;
    }
}

bool atomic_bitmap_test(const struct atomic_bitmap *b, size_t i)
{
    if (i >= b->n_bits)
        return false;
    return (atomic_bitmap_word(b, i / 64) >> (i % 64)) & 1;
}

uint64_t atomic_bitmap_word(const struct atomic_bitmap *b, size_t w)
{
    if (w >= atomic_bitmap_n_words(b->n_bits))
        return 0;
    return atomic_load_explicit(&b->words[w], memory_order_acquire);
}

void atomic_bitmap_or_words(const struct atomic_bitmap *b, const uint64_t *src,
                            size_t n_words)
{
    size_t n = atomic_bitmap_n_words(b->n_bits);

    if (n_words > n)
        n_words = n;
    for (size_t w = 0; w < n_words; w++) {
        uint64_t v = src[w];

        if (w == n - 1 && b->n_bits % 64)
            v &= mask_of(0, (unsigned)(b->n_bits % 64));
        if (v)
            atomic_fetch_or_explicit(&b->words[w], v, memory_order_release);
    }
}

void atomic_bitmap_clear(const struct atomic_bitmap *b)
{
    size_t n = atomic_bitmap_n_words(b->n_bits);

    for (size_t w = 0; w < n; w++)
        atomic_store_explicit(&b->words[w], 0, memory_order_release);
}
