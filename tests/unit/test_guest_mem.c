/*
 * test_guest_mem.c: guest RAM layout around the MMIO holes, the checked
 * GPA -> HVA translation, and mapping errors with upstream's texts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "obs/log.h"
#include "vmm/guest_mem.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void test_layout_table(void **state)
{
    static const struct {
        uint64_t mem;
        size_t n;
        uint64_t gpa[3], size[3];
    } cases[] = {
        {0, 0, {0}, {0}},
        {128 * MiB, 1, {0}, {128 * MiB}},
        {3 * GiB, 1, {0}, {3 * GiB}},
        {3 * GiB + 2 * MiB, 2, {0, 4 * GiB}, {3 * GiB, 2 * MiB}},
        {255 * GiB, 2, {0, 4 * GiB}, {3 * GiB, 252 * GiB}},
        {256 * GiB, 3, {0, 4 * GiB, 512 * GiB}, {3 * GiB, 252 * GiB, 1 * GiB}},
    };
    struct guest_region r[GUEST_MEM_MAX_REGIONS];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = guest_mem_layout(cases[i].mem, r);

        assert_int_equal(n, cases[i].n);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(r[j].gpa, cases[i].gpa[j]);
            assert_int_equal(r[j].size, cases[i].size[j]);
        }
    }
}

static void test_translate_bounds(void **state)
{
    struct guest_mem *gm = NULL;
    struct sq_err err;
    void *p = NULL, *q = NULL;
    uint64_t size = 4 * MiB;

    (void)state;
    assert_int_equal(guest_mem_new(4, GUEST_MEM_HUGE_NONE, &gm, &err), 0);
    assert_int_equal(gm->n_regions, 1);
    assert_int_equal(guest_mem_size(gm), size);
    /* The host mapping is 2 MiB aligned. */
    assert_int_equal((uintptr_t)gm->regions[0].hva % (2 * MiB), 0);

    assert_int_equal(guest_mem_translate(gm, 0, size, &p), 0);
    assert_ptr_equal(p, gm->regions[0].hva);
    assert_int_equal(guest_mem_translate(gm, 0x1234, 16, &q), 0);
    assert_ptr_equal(q, gm->regions[0].hva + 0x1234);
    memset(q, 0xab, 16); /* writable */
    assert_int_equal(guest_mem_translate(gm, size - 1, 1, &p), 0);
    assert_int_equal(guest_mem_translate(gm, size - 1, 0, &p), 0);

    p = NULL;
    assert_int_equal(guest_mem_translate(gm, size - 1, 2, &p), -EFAULT);
    assert_int_equal(guest_mem_translate(gm, size, 1, &p), -EFAULT);
    assert_int_equal(guest_mem_translate(gm, size, 0, &p), -EFAULT);
    assert_int_equal(guest_mem_translate(gm, 0, size + 1, &p), -EFAULT);
    assert_int_equal(guest_mem_translate(gm, 16, UINT64_MAX, &p), -EFAULT);
    assert_int_equal(guest_mem_translate(gm, UINT64_MAX, 2, &p), -EFAULT);
    assert_int_equal(guest_mem_translate(gm, 0xc0000000, 4, &p), -EFAULT);
    assert_null(p); /* untouched on failure */
    guest_mem_free(gm);
    guest_mem_free(NULL);
}

static void test_translate_second_region(void **state)
{
    /* A fake layout (no mapping needed): [0, 3 GiB) and [4 GiB, 5 GiB). */
    static uint8_t r0[16], r1[16];
    struct guest_mem gm;
    void *p;

    (void)state;
    memset(&gm, 0, sizeof(gm));
    gm.n_regions = 2;
    gm.regions[0] =
        (struct guest_region){.gpa = 0, .size = 3 * GiB, .hva = r0, .slot = 0};
    gm.regions[1] = (struct guest_region){
        .gpa = 4 * GiB, .size = 1 * GiB, .hva = r1, .slot = 1};
    assert_int_equal(guest_mem_translate(&gm, 4 * GiB + 8, 8, &p), 0);
    assert_ptr_equal(p, r1 + 8);
    /* Straddling the hole is refused even though both ends are RAM-ish. */
    assert_int_equal(guest_mem_translate(&gm, 3 * GiB - 4, 8, &p), -EFAULT);
    assert_int_equal(guest_mem_translate(&gm, 3 * GiB, 4, &p), -EFAULT);
    assert_int_equal(guest_mem_translate(&gm, 5 * GiB, 1, &p), -EFAULT);
}

/* A borrowed window (virtio-mem's): translated, not RAM, not unmapped. */
static void test_borrowed_region(void **state)
{
    static uint8_t win[4096];
    struct guest_mem *gm;
    struct sq_err err;
    void *p;

    (void)state;
    assert_int_equal(guest_mem_new(2, GUEST_MEM_HUGE_NONE, &gm, &err), 0);
    assert_int_equal(guest_mem_add_borrowed(gm, 1ULL << 20, 4096, win),
                     -EINVAL); /* overlaps RAM */
    assert_int_equal(guest_mem_add_borrowed(gm, 512 * GiB, 0, win), -EINVAL);
    assert_int_equal(guest_mem_add_borrowed(gm, ~0ULL - 10, 4096, win),
                     -EINVAL); /* wraps */
    assert_int_equal(guest_mem_add_borrowed(gm, 512 * GiB, 4096, win), 0);
    assert_int_equal(guest_mem_size(gm), 2ULL << 20);
    assert_int_equal(guest_mem_translate(gm, 512 * GiB + 16, 8, &p), 0);
    assert_ptr_equal(p, win + 16);
    assert_int_equal(guest_mem_translate(gm, 512 * GiB + 4090, 8, &p), -EFAULT);
    assert_int_equal(guest_mem_add_borrowed(gm, 513 * GiB, 4096, win), 0);
    assert_int_equal(guest_mem_add_borrowed(gm, 514 * GiB, 4096, win), 0);
    /* One RAM region and three borrowed: the table is full. */
    assert_int_equal(guest_mem_add_borrowed(gm, 515 * GiB, 4096, win), -ENOSPC);
    guest_mem_free(gm); /* win is static: unmapping it would fail loudly */
}

static void test_errors(void **state)
{
    struct guest_mem *gm = (void *)1;
    struct sq_err err;
    FILE *f;
    long pages = -1;

    (void)state;
    /* Bigger than the address space: the text upstream prints. */
    sq_err_clear(&err);
    assert_int_equal(guest_mem_new(1ULL << 30, GUEST_MEM_HUGE_NONE, &gm, &err),
                     -ENOMEM);
    assert_null(gm);
    assert_string_equal(err.msg, "Cannot create mmap region: Out of memory "
                                 "(os error 12)");

    /* Transparent huge pages: madvise on an ordinary mapping. */
    assert_int_equal(guest_mem_new(4, GUEST_MEM_HUGE_THP, &gm, &err), 0);
    assert_int_equal(gm->huge_pages, GUEST_MEM_HUGE_THP);
    guest_mem_free(gm);

    /* 2M hugetlbfs: with an empty pool, it fails now (not SIGBUS later). */
    f = fopen("/proc/sys/vm/nr_hugepages", "r");
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1)
            pages = -1;
        fclose(f);
    }
    if (pages == 0) {
        sq_err_clear(&err);
        assert_int_equal(guest_mem_new(4, GUEST_MEM_HUGE_2M, &gm, &err),
                         -ENOMEM);
        assert_string_equal(err.msg, "Cannot create mmap region: Out of memory "
                                     "(os error 12)");
    } else if (pages >= 2) {
        /* Depends on free pages too; only check it does not crash. */
        if (guest_mem_new(4, GUEST_MEM_HUGE_2M, &gm, &err) == 0)
            guest_mem_free(gm);
    } else {
        printf("note: hugetlbfs pool has %ld pages; 2M error case not run\n",
               pages);
    }
    /* 2M and THP need a size that is a multiple of 2 MiB. */
    assert_int_equal(guest_mem_new(3, GUEST_MEM_HUGE_2M, &gm, &err), -EINVAL);
    assert_int_equal(guest_mem_new(0, GUEST_MEM_HUGE_NONE, &gm, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_table),
        cmocka_unit_test(test_translate_bounds),
        cmocka_unit_test(test_translate_second_region),
        cmocka_unit_test(test_borrowed_region),
        cmocka_unit_test(test_errors),
    };

    log_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
