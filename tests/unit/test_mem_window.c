/*
 * test_mem_window.c: the past-64-bit-MMIO window allocator
 * (vmm/mem_window.h): first-fit from 512 GiB in request order, alignment,
 * guest RAM placed there pushed past, running out, slot numbers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vmm/mem_window.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static void test_first_fit_in_order(void **state)
{
    struct mem_window_alloc a;
    gpa_t g;

    (void)state;
    mem_window_init(&a, 128 * MIB);
    /* virtio-mem's region first, then two pmem windows. */
    assert_int_equal(mem_window_take(&a, 256 * MIB, 128 * MIB, &g), 0);
    assert_int_equal(g, 512 * GIB);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, 512 * GIB + 256 * MIB);
    assert_int_equal(mem_window_take(&a, 4 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, 512 * GIB + 258 * MIB);
    /* Alignment rounds the next start up. */
    assert_int_equal(mem_window_take(&a, 128 * MIB, 128 * MIB, &g), 0);
    assert_int_equal(g, 512 * GIB + 384 * MIB);
    assert_int_equal(mem_window_slots(&a, 1), MEM_WINDOW_FIRST_SLOT);
    assert_int_equal(mem_window_slots(&a, 8), MEM_WINDOW_FIRST_SLOT + 1);
    assert_int_equal(mem_window_slots(&a, 1), MEM_WINDOW_FIRST_SLOT + 9);
    assert_true(MEM_WINDOW_FIRST_SLOT >= GUEST_MEM_MAX_RAM);
}

static void test_after_ram_and_full(void **state)
{
    struct mem_window_alloc a;
    gpa_t g = 7;

    (void)state;
    /* 3 GiB + 252 GiB below the hole, 5 GiB from 512 GiB. */
    mem_window_init(&a, 260 * GIB);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, 517 * GIB);
    /* What is left is 507 GiB: a bigger request fails and takes nothing. */
    assert_int_equal(mem_window_take(&a, 508 * GIB, 2 * MIB, &g), -ENOSPC);
    assert_int_equal(mem_window_take(&a, 0, 2 * MIB, &g), -ENOSPC);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 3 * MIB, &g), -ENOSPC);
    assert_int_equal(mem_window_take(&a, ~0ULL, 2 * MIB, &g), -ENOSPC);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, 517 * GIB + 2 * MIB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_fit_in_order),
        cmocka_unit_test(test_after_ram_and_full),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
