/*
 * test_dirty_bitmap.c: the atomic bitmap (util/atomic_bitmap.h) and the
 * VMM's dirty-page log on guest RAM (guest_mem_mark_dirty*): ranges across
 * word and region boundaries, the hole between regions, iovecs, tracking
 * off, and setters racing on one word.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "util/atomic_bitmap.h"
#include "vmm/guest_mem.h"

#define MiB  (1ULL << 20)
#define GiB  (1ULL << 30)
#define PAGE GUEST_MEM_PAGE_SIZE

static size_t count_set(const struct atomic_bitmap *b)
{
    size_t n = 0;

    for (size_t i = 0; i < b->n_bits; i++)
        n += atomic_bitmap_test(b, i);
    return n;
}

static void test_set_ranges(void **state)
{
    struct atomic_bitmap b;

    (void)state;
    assert_int_equal(atomic_bitmap_init(&b, 200), 0);
    assert_int_equal(count_set(&b), 0);
    /* Across the first word boundary: bits 60..67. */
    atomic_bitmap_set_range(&b, 60, 8);
    for (size_t i = 0; i < 200; i++)
        assert_int_equal(atomic_bitmap_test(&b, i), i >= 60 && i < 68);
    assert_int_equal(atomic_bitmap_word(&b, 0), 0xfULL << 60);
    assert_int_equal(atomic_bitmap_word(&b, 1), 0xfULL);
    /* A whole word and the partial last one; past the end is dropped. */
    atomic_bitmap_set_range(&b, 128, 1000);
    assert_int_equal(atomic_bitmap_word(&b, 2), ~0ULL);
    assert_int_equal(atomic_bitmap_word(&b, 3), (1ULL << 8) - 1);
    assert_false(atomic_bitmap_test(&b, 200));
    assert_int_equal(atomic_bitmap_word(&b, 4), 0);
    assert_int_equal(count_set(&b), 8 + 72);
    /* Empty and out-of-range requests change nothing. */
    atomic_bitmap_set_range(&b, 10, 0);
    atomic_bitmap_set_range(&b, 500, 3);
    assert_int_equal(count_set(&b), 80);
    atomic_bitmap_clear(&b);
    assert_int_equal(count_set(&b), 0);
    atomic_bitmap_fini(&b);
    atomic_bitmap_fini(&b); /* idempotent */
    assert_int_equal(atomic_bitmap_init(&b, 0), 0);
    atomic_bitmap_set_range(&b, 0, 1);
    assert_false(atomic_bitmap_test(&b, 0));
    atomic_bitmap_fini(&b);
}

static void test_or_words(void **state)
{
    struct atomic_bitmap b;
    const uint64_t src[3] = {0x8000000000000001ULL, 0, ~0ULL};

    (void)state;
    assert_int_equal(atomic_bitmap_init(&b, 130), 0);
    atomic_bitmap_set_range(&b, 5, 1);
    /* A longer source than the map: the extra words and bits are dropped. */
    atomic_bitmap_or_words(&b, src, 3);
    assert_true(atomic_bitmap_test(&b, 0));
    assert_true(atomic_bitmap_test(&b, 5));
    assert_true(atomic_bitmap_test(&b, 63));
    assert_true(atomic_bitmap_test(&b, 128));
    assert_true(atomic_bitmap_test(&b, 129));
    assert_int_equal(atomic_bitmap_word(&b, 2), 3);
    assert_int_equal(count_set(&b), 5);
    atomic_bitmap_fini(&b);
}

struct racer {
    struct atomic_bitmap *b;
    size_t first;
};

/* Each thread sets every 4th bit from its own start: all four share every
 * word, so lost updates would show as clear bits. */
static void *race(void *arg)
{
    const struct racer *r = arg;

    for (int round = 0; round < 50; round++)
        for (size_t i = r->first; i < r->b->n_bits; i += 4)
            atomic_bitmap_set_range(r->b, i, 1);
    return NULL;
}

static void test_concurrent_setters(void **state)
{
    struct atomic_bitmap b;
    struct racer r[4];
    pthread_t t[4];

    (void)state;
    assert_int_equal(atomic_bitmap_init(&b, 64 * 64), 0);
    for (size_t i = 0; i < 4; i++) {
        r[i] = (struct racer){&b, i};
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (size_t w = 0; w < 64; w++)
        assert_int_equal(atomic_bitmap_word(&b, w), ~0ULL);
    atomic_bitmap_fini(&b);
}

static struct guest_mem *tracked(uint64_t mib)
{
    struct guest_mem *gm;
    struct sq_err err;

    assert_int_equal(guest_mem_new(mib, GUEST_MEM_HUGE_NONE, &gm, &err), 0);
    assert_int_equal(guest_mem_dirty_init(gm), 0);
    assert_true(gm->track_dirty);
    return gm;
}

static bool page_marked(const struct guest_mem *gm, size_t region, uint64_t off)
{
    return atomic_bitmap_test(&gm->regions[region].dirty, off / PAGE);
}

static void test_mark_across_regions(void **state)
{
    /* 4 GiB: region 0 is [0, 3 GiB), region 1 is [4 GiB, 5 GiB). */
    struct guest_mem *gm = tracked(4096);

    (void)state;
    assert_int_equal(gm->n_regions, 2);
    assert_int_equal(gm->regions[0].dirty.n_bits, 3 * GiB / PAGE);
    assert_int_equal(gm->regions[1].dirty.n_bits, 1 * GiB / PAGE);
    /* From the last page of region 0, over the hole, into region 1. */
    guest_mem_mark_dirty(gm, 3 * GiB - PAGE, GiB + PAGE + 1);
    assert_true(page_marked(gm, 0, 3 * GiB - PAGE));
    assert_false(page_marked(gm, 0, 3 * GiB - 2 * PAGE));
    assert_true(page_marked(gm, 1, 0));
    assert_false(page_marked(gm, 1, PAGE));
    assert_int_equal(count_set(&gm->regions[0].dirty), 1);
    assert_int_equal(count_set(&gm->regions[1].dirty), 1);
    /* Two bytes straddling a page boundary mark both pages. */
    guest_mem_mark_dirty(gm, 10 * PAGE - 1, 2);
    assert_true(page_marked(gm, 0, 9 * PAGE));
    assert_true(page_marked(gm, 0, 10 * PAGE));
    /* Outside RAM, empty, wrapping: nothing. */
    guest_mem_mark_dirty(gm, 3 * GiB + 100, 4096);
    guest_mem_mark_dirty(gm, 0, 0);
    guest_mem_mark_dirty(gm, UINT64_MAX - 10, 100);
    assert_int_equal(count_set(&gm->regions[0].dirty), 3);
    assert_int_equal(count_set(&gm->regions[1].dirty), 1);
    /* By host address, and through iovecs (only the first `bytes`). */
    guest_mem_mark_dirty_hva(gm, gm->regions[1].hva + 7 * PAGE + 5, 1);
    assert_true(page_marked(gm, 1, 7 * PAGE));
    {
        struct iovec iov[2] = {{gm->regions[0].hva + 20 * PAGE, 100},
                               {gm->regions[1].hva + 30 * PAGE, 3 * PAGE}};

        guest_mem_mark_dirty_iov(gm, iov, 2, 100 + PAGE + 1);
        assert_true(page_marked(gm, 0, 20 * PAGE));
        assert_true(page_marked(gm, 1, 30 * PAGE));
        assert_true(page_marked(gm, 1, 31 * PAGE));
        assert_false(page_marked(gm, 1, 32 * PAGE));
    }
    guest_mem_free(gm);
}

static void test_untracked_marks_nothing(void **state)
{
    struct guest_mem *gm;
    struct sq_err err;

    (void)state;
    assert_int_equal(guest_mem_new(8, GUEST_MEM_HUGE_NONE, &gm, &err), 0);
    assert_false(gm->track_dirty);
    guest_mem_mark_dirty(gm, 0, MiB);
    guest_mem_mark_dirty_hva(gm, gm->regions[0].hva, 1);
    guest_mem_mark_resident(gm);
    assert_null(gm->regions[0].dirty.words);
    guest_mem_mark_dirty(NULL, 0, 1);
    guest_mem_free(gm);
}

static void test_mark_resident(void **state)
{
    struct guest_mem *gm = tracked(8);

    (void)state;
    /* What a loader wrote is resident; untouched anonymous pages are not. */
    gm->regions[0].hva[3 * PAGE] = 1;
    gm->regions[0].hva[1000 * PAGE + 17] = 1;
    guest_mem_mark_resident(gm);
    assert_true(page_marked(gm, 0, 3 * PAGE));
    assert_true(page_marked(gm, 0, 1000 * PAGE));
    assert_false(page_marked(gm, 0, 1500 * PAGE)); /* another 2 MiB */
    guest_mem_free(gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_ranges),
        cmocka_unit_test(test_or_words),
        cmocka_unit_test(test_concurrent_setters),
        cmocka_unit_test(test_mark_across_regions),
        cmocka_unit_test(test_untracked_marks_nothing),
        cmocka_unit_test(test_mark_resident),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
