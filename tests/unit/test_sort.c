/*
 * test_sort.c: sq_sort (util/sort.h) against qsort(3) on the same inputs,
 * its stability, odd element sizes and the edge sizes around its runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/sort.h"

/* A small deterministic generator (xorshift64*), so failures repeat. */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ull;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* Key in the first byte only: many ties. The rest says where it came from. */
struct rec {
    uint8_t key;
    uint32_t seq;
    uint8_t pad[3]; /* size 12 with padding: not a power of two */
};

static int cmp_rec_key(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;

    return (x->key > y->key) - (x->key < y->key);
}

/* 7-byte elements ordered by memcmp. */
static int cmp_7(const void *a, const void *b)
{
    return memcmp(a, b, 7);
}

static void test_matches_qsort(void **state)
{
    static const size_t sizes[] = {0,  1,  2,  3,   15,  16,   17,  31,
                                   32, 33, 63, 100, 255, 1000, 4097};

    (void)state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (int mode = 0; mode < 4; mode++) {
            size_t n = sizes[s];
            uint32_t *a = malloc((n ? n : 1) * sizeof(*a));
            uint32_t *b = malloc((n ? n : 1) * sizeof(*b));

            for (size_t i = 0; i < n; i++)
                a[i] = mode == 0   ? (uint32_t)rnd()
                       : mode == 1 ? (uint32_t)i            /* sorted */
                       : mode == 2 ? (uint32_t)(n - i)      /* reversed */
                                   : (uint32_t)(rnd() % 3); /* ties */
            memcpy(b, a, n * sizeof(*a));
            sq_sort(a, n, sizeof(*a), cmp_u32);
            qsort(b, n, sizeof(*b), cmp_u32);
            if (n)
                assert_memory_equal(a, b, n * sizeof(*a));
            free(a);
            free(b);
        }
    }
}

static void test_stable(void **state)
{
    enum { N = 5000 };
    struct rec *r = calloc(N, sizeof(*r));

    (void)state;
    assert_int_equal(sizeof(*r), 12);
    for (uint32_t i = 0; i < N; i++) {
        r[i].key = (uint8_t)(rnd() % 7);
        r[i].seq = i;
    }
    sq_sort(r, N, sizeof(*r), cmp_rec_key);
    for (size_t i = 1; i < N; i++) {
        assert_true(r[i - 1].key <= r[i].key);
        if (r[i - 1].key == r[i].key)
            assert_true(r[i - 1].seq < r[i].seq);
    }
    free(r);
}

static void test_odd_element_size(void **state)
{
    enum { N = 777 };
    unsigned char *a = malloc(N * 7), *b = malloc(N * 7);

    (void)state;
    for (size_t i = 0; i < N * 7; i++)
        a[i] = (unsigned char)rnd();
    memcpy(b, a, N * 7);
    sq_sort(a, N, 7, cmp_7);
    qsort(b, N, 7, cmp_7);
    assert_memory_equal(a, b, N * 7);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_qsort),
        cmocka_unit_test(test_stable),
        cmocka_unit_test(test_odd_element_size),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
