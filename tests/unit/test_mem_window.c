/*
 * test_mem_window.c: the past-64-bit-MMIO window allocator
 * (vmm/mem_window.h): first-fit from 512 GiB in request order, alignment,
 * guest RAM placed there pushed past, running out; windows given back and
 * their holes reused lowest first; exact saved ranges and their conflicts;
 * slot numbers taken, given back, reused and run out.
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
    assert_int_equal(a.n_taken, 4);
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

/* Unplug then plug: a window given back leaves a hole the next take uses
 * when it fits (lowest first), and skips when it does not. */
static void test_put_and_holes(void **state)
{
    struct mem_window_alloc a;
    gpa_t g0, g1, g2, g;

    (void)state;
    mem_window_init(&a, 128 * MIB);
    assert_int_equal(mem_window_take(&a, 128 * MIB, 128 * MIB, &g), 0);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g0), 0);
    assert_int_equal(mem_window_take(&a, 4 * MIB, 2 * MIB, &g1), 0);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g2), 0);
    assert_int_equal(g1, 512 * GIB + 130 * MIB);
    assert_int_equal(g2, 512 * GIB + 134 * MIB);

    /* The middle window goes: a same-size one takes its place. */
    assert_int_equal(mem_window_put(&a, g1, 4 * MIB), 0);
    assert_int_equal(a.n_taken, 3);
    assert_int_equal(mem_window_take(&a, 4 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, g1);
    /* Two smaller ones share a hole, lowest first. */
    assert_int_equal(mem_window_put(&a, g1, 4 * MIB), 0);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, g1);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, g1 + 2 * MIB);
    /* A hole too small (the first pmem's, 2 MiB) is skipped. */
    assert_int_equal(mem_window_put(&a, g0, 2 * MIB), 0);
    assert_int_equal(mem_window_take(&a, 4 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, g2 + 2 * MIB);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, g0);
    /* Alignment inside a hole: a 128 MiB-aligned take cannot use the
     * 2 MiB holes, and lands on the next 128 MiB boundary. */
    assert_int_equal(mem_window_take(&a, 2 * MIB, 128 * MIB, &g), 0);
    assert_int_equal(g, 512 * GIB + 256 * MIB);

    /* Only a range exactly as taken goes back. */
    assert_int_equal(mem_window_put(&a, g0, 4 * MIB), -ENOENT);
    assert_int_equal(mem_window_put(&a, g0 + MIB, 2 * MIB), -ENOENT);
    assert_int_equal(mem_window_put(&a, 512 * GIB - 2 * MIB, 2 * MIB), -ENOENT);
    assert_int_equal(mem_window_put(&a, g0, 2 * MIB), 0);
    assert_int_equal(mem_window_put(&a, g0, 2 * MIB), -ENOENT);
}

/* Saved ranges taken exactly: in a hole, at either edge of one, not over
 * RAM, another window or the window's ends. */
static void test_take_at(void **state)
{
    struct mem_window_alloc a;
    gpa_t g;
    const gpa_t ram_end = 517 * GIB;

    (void)state;
    mem_window_init(&a, 260 * GIB); /* RAM up to 517 GiB */
    assert_int_equal(mem_window_take_at(&a, ram_end + 10 * MIB, 4 * MIB), 0);
    /* Over RAM, over the taken one (any overlap), out of the window. */
    assert_int_equal(mem_window_take_at(&a, ram_end - 2 * MIB, 4 * MIB),
                     -EBUSY);
    assert_int_equal(mem_window_take_at(&a, 512 * GIB, 2 * MIB), -EBUSY);
    assert_int_equal(mem_window_take_at(&a, ram_end + 8 * MIB, 4 * MIB),
                     -EBUSY);
    assert_int_equal(mem_window_take_at(&a, ram_end + 12 * MIB, 4 * MIB),
                     -EBUSY);
    assert_int_equal(mem_window_take_at(&a, ram_end + 10 * MIB, 2 * MIB),
                     -EBUSY);
    assert_int_equal(mem_window_take_at(&a, ram_end, 64 * MIB), -EBUSY);
    assert_int_equal(mem_window_take_at(&a, 256 * GIB, 2 * MIB), -EINVAL);
    assert_int_equal(mem_window_take_at(&a, 1024 * GIB - 2 * MIB, 4 * MIB),
                     -EINVAL);
    assert_int_equal(mem_window_take_at(&a, ~0ULL - MIB, 2 * MIB), -EINVAL);
    assert_int_equal(mem_window_take_at(&a, ram_end + 20 * MIB, 0), -EINVAL);
    assert_int_equal(a.n_taken, 1);
    /* Touching on both sides is fine; so is the window's last byte. */
    assert_int_equal(mem_window_take_at(&a, ram_end + 6 * MIB, 4 * MIB), 0);
    assert_int_equal(mem_window_take_at(&a, ram_end + 14 * MIB, 2 * MIB), 0);
    assert_int_equal(mem_window_take_at(&a, ram_end, 2 * MIB), 0);
    assert_int_equal(mem_window_take_at(&a, 1024 * GIB - 2 * MIB, 2 * MIB), 0);
    /* First-fit goes around them: 2..6 MiB past RAM is the first hole. */
    assert_int_equal(mem_window_take(&a, 4 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, ram_end + 2 * MIB);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g), 0);
    assert_int_equal(g, ram_end + 16 * MIB);
    for (size_t i = 1; i < a.n_taken; i++)
        assert_true(a.taken[i - 1].gpa + a.taken[i - 1].size <= a.taken[i].gpa);
}

/* MEM_WINDOW_MAX_RANGES windows at once, then no more of either kind
 * until one goes back. */
static void test_table_full(void **state)
{
    struct mem_window_alloc a;
    gpa_t g, first = 0;

    (void)state;
    mem_window_init(&a, 128 * MIB);
    for (int i = 0; i < MEM_WINDOW_MAX_RANGES; i++) {
        assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g), 0);
        if (i == 0)
            first = g;
    }
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g), -ENOSPC);
    assert_int_equal(mem_window_take_at(&a, 600 * GIB, 2 * MIB), -ENOSPC);
    assert_int_equal(mem_window_take_at(&a, first, 2 * MIB), -EBUSY);
    assert_int_equal(mem_window_put(&a, first, 2 * MIB), 0);
    assert_int_equal(mem_window_take_at(&a, 600 * GIB, 2 * MIB), 0);
    assert_int_equal(mem_window_take(&a, 2 * MIB, 2 * MIB, &g), -ENOSPC);
}

/* Slot numbers: the lowest free run, given back and reused, run out. */
static void test_slots(void **state)
{
    struct mem_window_alloc a;
    uint32_t s0, s1, s2, s;
    const uint32_t base = MEM_WINDOW_FIRST_SLOT;

    (void)state;
    mem_window_init(&a, 128 * MIB);
    assert_false(mem_window_slot_taken(&a, base));
    assert_int_equal(mem_window_slots(&a, 1, &s0), 0);
    assert_int_equal(mem_window_slots(&a, 8, &s1), 0);
    assert_int_equal(mem_window_slots(&a, 1, &s2), 0);
    assert_int_equal(s0, base);
    assert_int_equal(s1, base + 1);
    assert_int_equal(s2, base + 9);
    assert_true(mem_window_slot_taken(&a, base + 8));
    assert_false(mem_window_slot_taken(&a, base + 10));
    assert_false(mem_window_slot_taken(&a, 0));
    assert_false(mem_window_slot_taken(&a, base + MEM_WINDOW_N_SLOTS));

    /* An unplugged device's number is the next one handed out. */
    mem_window_put_slots(&a, s0, 1);
    assert_false(mem_window_slot_taken(&a, s0));
    assert_int_equal(mem_window_slots(&a, 1, &s), 0);
    assert_int_equal(s, s0);
    /* A run needs room: 2 do not fit in a hole of 1. */
    mem_window_put_slots(&a, s1 + 3, 1);
    assert_int_equal(mem_window_slots(&a, 2, &s), 0);
    assert_int_equal(s, base + 10);
    assert_int_equal(mem_window_slots(&a, 1, &s), 0);
    assert_int_equal(s, s1 + 3);
    /* Numbers outside the range are ignored when given back. */
    mem_window_put_slots(&a, 0, base);
    mem_window_put_slots(&a, base + MEM_WINDOW_N_SLOTS, 5);
    assert_true(mem_window_slot_taken(&a, base));

    /* Run out: every number taken, then none; one back, one out. */
    assert_int_equal(mem_window_slots(&a, 0, &s), -ENOSPC);
    assert_int_equal(mem_window_slots(&a, MEM_WINDOW_N_SLOTS + 1, &s), -ENOSPC);
    assert_int_equal(mem_window_slots(&a, MEM_WINDOW_N_SLOTS - 12, &s), 0);
    assert_int_equal(s, base + 12);
    assert_int_equal(mem_window_slots(&a, 1, &s), -ENOSPC);
    mem_window_put_slots(&a, base + 4000, 1);
    assert_int_equal(mem_window_slots(&a, 2, &s), -ENOSPC);
    assert_int_equal(mem_window_slots(&a, 1, &s), 0);
    assert_int_equal(s, base + 4000);
    /* The largest run a fresh allocator has is all of them. */
    mem_window_init(&a, 128 * MIB);
    assert_int_equal(mem_window_slots(&a, MEM_WINDOW_N_SLOTS, &s), 0);
    assert_int_equal(s, base);
    mem_window_put_slots(&a, base, MEM_WINDOW_N_SLOTS);
    assert_false(mem_window_slot_taken(&a, base + MEM_WINDOW_N_SLOTS - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_fit_in_order),
        cmocka_unit_test(test_after_ram_and_full),
        cmocka_unit_test(test_put_and_holes),
        cmocka_unit_test(test_take_at),
        cmocka_unit_test(test_table_full),
        cmocka_unit_test(test_slots),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
