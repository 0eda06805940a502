/*
 * sort.c: sq_sort (sort.h), a stable bottom-up merge sort over opaque
 * elements.
 */
#include "util/sort.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* Runs of this many elements are insertion-sorted before merging. */
#define SORT_RUN 16u

typedef int (*sort_cmp)(const void *, const void *);

static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
    while (size--) {
        unsigned char t = *a;

        *a++ = *b;
        *b++ = t;
    }
}

/* Stable insertion sort of n elements at b (n is small). */
static void insertion(unsigned char *b, size_t n, size_t size, sort_cmp cmp)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp(b + (j - 1) * size, b + j * size) > 0;
             j--)
            swap_bytes(b + (j - 1) * size, b + j * size, size);
}

/* Merge the sorted runs src[lo, mid) and src[mid, hi) into dst[lo, hi);
 * on ties the left run's element goes first (stability). */
static void merge(const unsigned char *src, unsigned char *dst, size_t lo,
                  size_t mid, size_t hi, size_t size, sort_cmp cmp)
{
    size_t i = lo, j = mid, o = lo;

    while (i < mid && j < hi) {
        if (cmp(src + j * size, src + i * size) < 0)
            memcpy(dst + o++ * size, src + j++ * size, size);
        else
            memcpy(dst + o++ * size, src + i++ * size, size);
    }
    if (i < mid)
        memcpy(dst + o * size, src + i * size, (mid - i) * size);
    else if (j < hi)
        memcpy(dst + o * size, src + j * size, (hi - j) * size);
}

void sq_sort(void *base, size_t n, size_t size, sort_cmp cmp)
{
    unsigned char *a = base, *tmp, *src, *dst;

    if (n < 2 || size == 0)
        return;
    for (size_t lo = 0; lo < n; lo += SORT_RUN)
        insertion(a + lo * size, n - lo < SORT_RUN ? n - lo : SORT_RUN, size,
                  cmp);
    if (n <= SORT_RUN)
        return;
    /* n * size bytes already exist at base: the product cannot wrap. */
    tmp = xmalloc(n * size);
    src = a;
    dst = tmp;
    for (size_t w = SORT_RUN; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = n - lo > w ? lo + w : n;
            size_t hi = n - lo > 2 * w ? lo + 2 * w : n;

            merge(src, dst, lo, mid, hi, size, cmp);
        }
        {
            unsigned char *t = src;

            src = dst;
            dst = t;
        }
        /* w * 2 cannot wrap: w < n <= SIZE_MAX / size. */
        if (w > n / 2)
            break;
    }
    if (src != a)
        memcpy(a, src, n * size);
    free(tmp);
}
