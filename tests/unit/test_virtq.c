/*
 * test_virtq.c: the split virtqueue against hand-built rings, including a
 * table of hostile layouts and chains. Guest RAM ends right before a
 * PROT_NONE page, so any read or write past it would crash the test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/queue.h"
#include "virtq_driver.h"

#define MEM_SIZE 0x100000ULL /* 1 MiB */

struct fx {
    struct drv_mem mem;
    struct virtq q;
    struct drv d; /* only the ring helpers are used */
    struct virtq_chain c;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    drv_mem_init(&f->mem, MEM_SIZE);
    virtq_init(&f->q, 256);
    f->q.size = 16;
    f->q.ready = true;
    f->q.desc_addr = DRV_DESC;
    f->q.avail_addr = DRV_AVAIL;
    f->q.used_addr = DRV_USED;
    f->d.mem = &f->mem;
    f->d.qsize = 16;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    drv_mem_fini(&f->mem);
    free(f);
    return 0;
}

/* ---- activation -----------------------------------------------------------
 */

struct layout_case {
    const char *name;
    bool ready;
    uint16_t size;
    uint64_t desc, avail, used;
    int expect;
};

static void test_activation_rules(void **state)
{
    static const struct layout_case cases[] = {
        {"valid", true, 16, DRV_DESC, DRV_AVAIL, DRV_USED, 0},
        {"valid max", true, 256, DRV_DESC, 0x4000, 0x5000, 0},
        {"not ready", false, 16, DRV_DESC, DRV_AVAIL, DRV_USED, -ENODEV},
        {"size 0", true, 0, DRV_DESC, DRV_AVAIL, DRV_USED, -EINVAL},
        {"size not pow2", true, 12, DRV_DESC, DRV_AVAIL, DRV_USED, -EINVAL},
        {"size > max", true, 512, DRV_DESC, DRV_AVAIL, DRV_USED, -EINVAL},
        {"huge size", true, 0x8000, DRV_DESC, DRV_AVAIL, DRV_USED, -EINVAL},
        {"desc misaligned", true, 16, DRV_DESC + 8, DRV_AVAIL, DRV_USED,
         -EFAULT},
        {"avail misaligned", true, 16, DRV_DESC, DRV_AVAIL + 1, DRV_USED,
         -EFAULT},
        {"used misaligned", true, 16, DRV_DESC, DRV_AVAIL, DRV_USED + 2,
         -EFAULT},
        {"desc outside RAM", true, 16, MEM_SIZE, DRV_AVAIL, DRV_USED, -EFAULT},
        {"desc straddles end", true, 16, MEM_SIZE - 0x80, DRV_AVAIL, DRV_USED,
         -EFAULT},
        {"used straddles end", true, 16, DRV_DESC, DRV_AVAIL, MEM_SIZE - 0x40,
         -EFAULT},
        {"avail wraps", true, 16, DRV_DESC, 0xfffffffffffffffeULL, DRV_USED,
         -EFAULT},
        {"in the 32-bit hole", true, 16, 0xc0000000ULL, DRV_AVAIL, DRV_USED,
         -EFAULT},
    };
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct layout_case *c = &cases[i];
        struct virtq q;

        virtq_init(&q, 256);
        q.ready = c->ready;
        q.size = c->size;
        q.desc_addr = c->desc;
        q.avail_addr = c->avail;
        q.used_addr = c->used;
        if (virtq_activate(&q, &f->mem.gm) != c->expect)
            fail_msg("case '%s': expected %d", c->name, c->expect);
        assert_int_equal(q.activated, c->expect == 0);
    }
}

/* ---- normal operation -----------------------------------------------------
 */

static void test_pop_and_used(void **state)
{
    struct fx *f = *state;
    uint32_t id, len;

    assert_int_equal(virtq_activate(&f->q, &f->mem.gm), 0);
    assert_int_equal(virtq_pop(&f->q, &f->c), 0);
    drv_desc(&f->d, 3, DRV_DATA, 16, SQ_VIRTQ_DESC_F_NEXT, 7);
    drv_desc(&f->d, 7, DRV_DATA + 0x100, 512,
             SQ_VIRTQ_DESC_F_NEXT | SQ_VIRTQ_DESC_F_WRITE, 1);
    drv_desc(&f->d, 1, DRV_DATA + 0x400, 1, SQ_VIRTQ_DESC_F_WRITE, 0);
    drv_publish(&f->d, 3);
    assert_int_equal(virtq_pending(&f->q), 1);
    assert_int_equal(virtq_pop(&f->q, &f->c), 1);
    assert_int_equal(f->c.err, VIRTQ_CHAIN_OK);
    assert_int_equal(f->c.head, 3);
    assert_int_equal(f->c.n, 3);
    assert_int_equal(f->c.bufs[0].gpa, DRV_DATA);
    assert_false(f->c.bufs[0].is_write);
    assert_int_equal(f->c.bufs[1].len, 512);
    assert_true(f->c.bufs[1].is_write);
    assert_ptr_equal(f->c.bufs[2].hva, f->mem.map + DRV_DATA + 0x400);
    assert_int_equal(virtq_pop(&f->q, &f->c), 0);

    virtq_undo_pop(&f->q);
    assert_int_equal(virtq_pop(&f->q, &f->c), 1);
    assert_int_equal(f->c.head, 3);

    assert_int_equal(virtq_add_used(&f->q, 3, 513), 0);
    assert_int_equal(drv_used_idx(&f->d), 0); /* not yet published */
    virtq_flush_used(&f->q);
    assert_int_equal(drv_used_idx(&f->d), 1);
    drv_used_elem(&f->d, 0, &id, &len);
    assert_int_equal(id, 3);
    assert_int_equal(len, 513);
    assert_int_equal(virtq_add_used(&f->q, 16, 0), -EINVAL);
    assert_true(virtq_should_notify(&f->q)); /* no EVENT_IDX: always */
}

/* Diff snapshots: the used ring marks what the device wrote into it, and
 * virtq_chain_written() the first `len` bytes of the chain's writable
 * buffers, in squib's dirty-page log; readable buffers are never marked. */
static void test_dirty_marks(void **state)
{
    struct fx *f = *state;
    const struct atomic_bitmap *dirty = &f->mem.gm.regions[0].dirty;
    size_t n_set = 0;

    assert_int_equal(guest_mem_dirty_init(&f->mem.gm), 0);
    assert_int_equal(virtq_activate(&f->q, &f->mem.gm), 0);
    drv_desc(&f->d, 0, DRV_DATA, 16, SQ_VIRTQ_DESC_F_NEXT, 1);
    drv_desc(&f->d, 1, DRV_DATA + 0x2000, 0x1800,
             SQ_VIRTQ_DESC_F_NEXT | SQ_VIRTQ_DESC_F_WRITE, 2);
    drv_desc(&f->d, 2, DRV_DATA + 0x5000, 1, SQ_VIRTQ_DESC_F_WRITE, 0);
    drv_publish(&f->d, 0);
    assert_int_equal(virtq_pop(&f->q, &f->c), 1);
    for (size_t p = 0; p < dirty->n_bits; p++)
        assert_false(atomic_bitmap_test(dirty, p)); /* popping writes nothing */

    virtq_chain_written(&f->q, &f->c, 0x800);
    assert_true(atomic_bitmap_test(dirty, (DRV_DATA + 0x2000) / 4096));
    assert_false(atomic_bitmap_test(dirty, (DRV_DATA + 0x3000) / 4096));
    virtq_chain_written(&f->q, &f->c, 0x1800 + 1);
    assert_true(atomic_bitmap_test(dirty, (DRV_DATA + 0x3000) / 4096));
    assert_true(atomic_bitmap_test(dirty, (DRV_DATA + 0x5000) / 4096));
    assert_false(atomic_bitmap_test(dirty, DRV_DATA / 4096)); /* readable */

    assert_int_equal(virtq_add_used(&f->q, 0, 0x1801), 0);
    virtq_flush_used(&f->q);
    assert_true(atomic_bitmap_test(dirty, DRV_USED / 4096));
    for (size_t p = 0; p < dirty->n_bits; p++)
        n_set += atomic_bitmap_test(dirty, p);
    assert_int_equal(n_set, 4);
    atomic_bitmap_fini(&f->mem.gm.regions[0].dirty);
}

static void test_ring_wraps_16bit_index(void **state)
{
    struct fx *f = *state;

    assert_int_equal(virtq_activate(&f->q, &f->mem.gm), 0);
    drv_desc(&f->d, 0, DRV_DATA, 8, 0, 0);
    /* Start both sides just below the 16-bit wrap. */
    f->q.next_avail = 0xfffe;
    f->q.next_used = 0xfffe;
    f->d.avail_idx = 0xfffe;
    for (int i = 0; i < 5; i++) {
        drv_publish(&f->d, 0);
        assert_int_equal(virtq_pop(&f->q, &f->c), 1);
        assert_int_equal(virtq_add_used(&f->q, 0, (uint32_t)i), 0);
    }
    virtq_flush_used(&f->q);
    assert_int_equal(drv_used_idx(&f->d), 3);
    assert_int_equal(virtq_pop(&f->q, &f->c), 0);
}

static void test_event_idx(void **state)
{
    struct fx *f = *state;

    f->q.event_idx = true;
    assert_int_equal(virtq_activate(&f->q, &f->mem.gm), 0);
    drv_desc(&f->d, 0, DRV_DATA, 8, 0, 0);

    /* Empty ring: the device asks to be notified at next_avail. */
    assert_int_equal(virtq_pop_or_enable_notification(&f->q, &f->c), 0);
    assert_int_equal(drv_avail_event(&f->d), 0);

    /* The driver wants an interrupt only once used idx passes 2. */
    drv_set_used_event(&f->d, 2);
    for (int i = 0; i < 4; i++)
        drv_publish(&f->d, 0);
    assert_int_equal(virtq_pop_or_enable_notification(&f->q, &f->c), 1);
    virtq_add_used(&f->q, 0, 0);
    virtq_flush_used(&f->q);
    assert_false(virtq_should_notify(&f->q)); /* used idx 1 */
    assert_int_equal(virtq_pop_or_enable_notification(&f->q, &f->c), 1);
    virtq_add_used(&f->q, 0, 0);
    virtq_flush_used(&f->q);
    assert_false(virtq_should_notify(&f->q)); /* used idx 2 */
    assert_int_equal(virtq_pop_or_enable_notification(&f->q, &f->c), 1);
    virtq_add_used(&f->q, 0, 0);
    virtq_flush_used(&f->q);
    assert_true(virtq_should_notify(&f->q)); /* 2 -> 3 crosses used_event */
    assert_int_equal(virtq_pop_or_enable_notification(&f->q, &f->c), 1);
    virtq_add_used(&f->q, 0, 0);
    virtq_flush_used(&f->q);
    assert_false(virtq_should_notify(&f->q)); /* already told */
    /* Drained: avail_event now asks for the 5th entry. */
    assert_int_equal(virtq_pop_or_enable_notification(&f->q, &f->c), 0);
    assert_int_equal(drv_avail_event(&f->d), 4);
}

static void test_indirect_table(void **state)
{
    struct fx *f = *state;
    struct virtq_desc *tbl = g2h(&f->mem, 0x8000, 3 * 16);

    f->q.indirect = true;
    assert_int_equal(virtq_activate(&f->q, &f->mem.gm), 0);
    tbl[0] = (struct virtq_desc){DRV_DATA, 16, SQ_VIRTQ_DESC_F_NEXT, 2};
    tbl[2] = (struct virtq_desc){
        DRV_DATA + 0x200, 512, SQ_VIRTQ_DESC_F_NEXT | SQ_VIRTQ_DESC_F_WRITE, 1};
    tbl[1] = (struct virtq_desc){DRV_DATA + 0x800, 1, SQ_VIRTQ_DESC_F_WRITE, 0};
    drv_desc(&f->d, 5, 0x8000, 3 * 16, SQ_VIRTQ_DESC_F_INDIRECT, 0);
    drv_publish(&f->d, 5);
    assert_int_equal(virtq_pop(&f->q, &f->c), 1);
    assert_int_equal(f->c.err, VIRTQ_CHAIN_OK);
    assert_int_equal(f->c.head, 5);
    assert_int_equal(f->c.n, 3);
    assert_int_equal(f->c.bufs[1].gpa, DRV_DATA + 0x200);
    assert_int_equal(f->c.bufs[2].len, 1);

    /* Without the feature the flag is ignored (upstream): one buffer. */
    f->q.indirect = false;
    drv_publish(&f->d, 5);
    assert_int_equal(virtq_pop(&f->q, &f->c), 1);
    assert_int_equal(f->c.err, VIRTQ_CHAIN_OK);
    assert_int_equal(f->c.n, 1);
    assert_int_equal(f->c.bufs[0].gpa, 0x8000);
}

/* ---- hostile chains -------------------------------------------------------
 */

struct hostile_case {
    const char *name;
    /* descriptors 0..3 of the main table; head is 0 */
    struct virtq_desc d[4];
    /* indirect table at 0x8000 (or at the end of RAM for some cases) */
    struct virtq_desc ind[4];
    enum virtq_chain_err err;
    uint16_t n;         /* buffers expected (when err is OK) */
    bool buf0_unmapped; /* first buffer translated to NULL */
};

#define F_N SQ_VIRTQ_DESC_F_NEXT
#define F_W SQ_VIRTQ_DESC_F_WRITE
#define F_I SQ_VIRTQ_DESC_F_INDIRECT

static void test_hostile_chains(void **state)
{
    static const struct hostile_case cases[] = {
        {"addr past RAM",
         {{MEM_SIZE, 16, 0, 0}},
         {{0}},
         VIRTQ_CHAIN_OK,
         1,
         true},
        {"len past RAM",
         {{MEM_SIZE - 8, 16, 0, 0}},
         {{0}},
         VIRTQ_CHAIN_OK,
         1,
         true},
        {"wrapping length",
         {{0xfffffffffffff000ULL, 0x2000, 0, 0}},
         {{0}},
         VIRTQ_CHAIN_OK,
         1,
         true},
        {"max length",
         {{DRV_DATA, 0xffffffffu, 0, 0}},
         {{0}},
         VIRTQ_CHAIN_OK,
         1,
         true},
        {"zero length", {{DRV_DATA, 0, 0, 0}}, {{0}}, VIRTQ_CHAIN_OK, 1, false},
        {"next out of range",
         {{DRV_DATA, 16, F_N, 16}},
         {{0}},
         VIRTQ_CHAIN_BAD_NEXT,
         0,
         false},
        {"next 0xffff",
         {{DRV_DATA, 16, F_N, 0xffff}},
         {{0}},
         VIRTQ_CHAIN_BAD_NEXT,
         0,
         false},
        {"self loop",
         {{DRV_DATA, 16, F_N, 0}},
         {{0}},
         VIRTQ_CHAIN_TOO_LONG,
         0,
         false},
        {"two-cycle",
         {{DRV_DATA, 16, F_N, 1}, {DRV_DATA, 16, F_N, 0}},
         {{0}},
         VIRTQ_CHAIN_TOO_LONG,
         0,
         false},
        {"indirect + next",
         {{0x8000, 32, F_I | F_N, 1}},
         {{0}},
         VIRTQ_CHAIN_BAD_INDIRECT,
         0,
         false},
        {"indirect len 0",
         {{0x8000, 0, F_I, 0}},
         {{0}},
         VIRTQ_CHAIN_BAD_INDIRECT,
         0,
         false},
        {"indirect len not x16",
         {{0x8000, 24, F_I, 0}},
         {{0}},
         VIRTQ_CHAIN_BAD_INDIRECT,
         0,
         false},
        {"indirect misaligned",
         {{0x8008, 32, F_I, 0}},
         {{0}},
         VIRTQ_CHAIN_BAD_INDIRECT,
         0,
         false},
        {"indirect oversized",
         {{0x8000, 17 * 16, F_I, 0}},
         {{0}},
         VIRTQ_CHAIN_BAD_INDIRECT,
         0,
         false},
        {"indirect huge",
         {{0x8000, 0xfffffff0u, F_I, 0}},
         {{0}},
         VIRTQ_CHAIN_BAD_INDIRECT,
         0,
         false},
        {"indirect past RAM",
         {{MEM_SIZE - 16, 32, F_I, 0}},
         {{0}},
         VIRTQ_CHAIN_BAD_INDIRECT,
         0,
         false},
        {"nested indirect",
         {{0x8000, 32, F_I, 0}},
         {{DRV_DATA, 16, F_N, 1}, {0x9000, 16, F_I, 0}},
         VIRTQ_CHAIN_NESTED_INDIRECT,
         0,
         false},
        {"indirect loop",
         {{0x8000, 32, F_I, 0}},
         {{DRV_DATA, 16, F_N, 1}, {DRV_DATA, 16, F_N, 0}},
         VIRTQ_CHAIN_TOO_LONG,
         0,
         false},
        {"indirect next out of table",
         {{0x8000, 32, F_I, 0}},
         {{DRV_DATA, 16, F_N, 2}},
         VIRTQ_CHAIN_BAD_NEXT,
         0,
         false},
        {"prefix then indirect",
         {{DRV_DATA, 16, F_N, 1}, {0x8000, 32, F_I, 0}},
         {{DRV_DATA + 16, 16, F_N, 1}, {DRV_DATA + 32, 1, F_W, 0}},
         VIRTQ_CHAIN_OK,
         3,
         false},
    };
    struct fx *f = *state;

    f->q.indirect = true;
    assert_int_equal(virtq_activate(&f->q, &f->mem.gm), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct hostile_case *c = &cases[i];
        struct virtq_desc *tbl = g2h(&f->mem, 0x8000, sizeof(c->ind));

        for (uint16_t j = 0; j < 4; j++)
            drv_desc(&f->d, j, c->d[j].addr, c->d[j].len, c->d[j].flags,
                     c->d[j].next);
        memcpy(tbl, c->ind, sizeof(c->ind));
        drv_publish(&f->d, 0);
        assert_int_equal(virtq_pop(&f->q, &f->c), 1);
        if (f->c.err != c->err)
            fail_msg("case '%s': err %d, expected %d", c->name, f->c.err,
                     c->err);
        assert_true(f->c.n <= f->q.size);
        if (c->err == VIRTQ_CHAIN_OK) {
            if (f->c.n != c->n)
                fail_msg("case '%s': %u buffers", c->name, f->c.n);
            if ((f->c.bufs[0].hva == NULL) != c->buf0_unmapped)
                fail_msg("case '%s': translation", c->name);
        }
        /* The device can always return the head. */
        assert_int_equal(virtq_add_used(&f->q, f->c.head, 0), 0);
    }
    /* A 16-entry loop is capped at 16 buffers. */
    for (uint16_t j = 0; j < 16; j++)
        drv_desc(&f->d, j, DRV_DATA, 1, F_N, (uint16_t)((j + 1) % 16));
    drv_publish(&f->d, 0);
    assert_int_equal(virtq_pop(&f->q, &f->c), 1);
    assert_int_equal(f->c.err, VIRTQ_CHAIN_TOO_LONG);
    assert_int_equal(f->c.n, 16);
}

static void test_hostile_ring_indices(void **state)
{
    struct fx *f = *state;
    uint16_t *avail = g2h(&f->mem, DRV_AVAIL, 4 + 2 * 16);

    assert_int_equal(virtq_activate(&f->q, &f->mem.gm), 0);
    /* Head index out of range: nothing popped, ring is broken. */
    drv_publish(&f->d, 16);
    assert_int_equal(virtq_pop(&f->q, &f->c), -EPROTO);
    assert_int_equal(f->q.next_avail, 0);
    avail[2] = 0xffff;
    assert_int_equal(virtq_pop(&f->q, &f->c), -EPROTO);
    /* avail idx claims more entries than the ring holds. */
    avail[2] = 0;
    drv_desc(&f->d, 0, DRV_DATA, 1, 0, 0);
    drv_set_avail_idx(&f->d, 17);
    assert_int_equal(virtq_pop(&f->q, &f->c), -EPROTO);
    f->q.event_idx = true;
    assert_int_equal(virtq_pop_or_enable_notification(&f->q, &f->c), -EPROTO);
    drv_set_avail_idx(&f->d, 16); /* exactly full is fine */
    assert_int_equal(virtq_pop(&f->q, &f->c), 1);
    /* An inactive queue never touches memory. */
    virtq_reset(&f->q);
    assert_int_equal(virtq_pop(&f->q, &f->c), 0);
    assert_int_equal(virtq_add_used(&f->q, 0, 0), -EINVAL);
    virtq_flush_used(&f->q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_activation_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pop_and_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_wraps_16bit_index, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_chains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_ring_indices, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
