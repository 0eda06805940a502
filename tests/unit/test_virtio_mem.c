/*
 * test_virtio_mem.c: the virtio-mem device driven through its request
 * queue with a fake slot hook standing in for KVM: identity, features and
 * the required UNPLUGGED_INACCESSIBLE ack, config space, PATCH of the
 * requested size (config interrupt, usable region in whole slots), PLUG /
 * UNPLUG / UNPLUG_ALL / STATE with upstream's validation, the bitmap and
 * slot transitions, memory given back on unplug, a failing hook, hostile
 * chains, reset and GET status; and its snapshot state
 * (virtio_mem_save_state / virtio_mem_restore_state): taken from one
 * device and put into a new one with its transport, the plugged blocks'
 * slots registered again, GET status the same, the driver's ring and a
 * PATCH of the requested size going on from there; a state that does not
 * fit the built device refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/mem.h"
#include "obs/metrics.h"
#include "virtq_driver.h"

#define MEM_SIZE 0x400000ULL
#define REQ      0x100000ULL
#define RESP     0x200000ULL
#define MIB      (1024ULL * 1024)
#define BASE     0x8000000000ULL /* 512 GiB */

#define F_N  SQ_VIRTQ_DESC_F_NEXT
#define F_W  SQ_VIRTQ_DESC_F_WRITE
#define F_UI (1ULL << SQ_VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE)

/* Total 512 MiB, blocks of 2 MiB, slots of 128 MiB: 256 blocks, 4 slots. */
#define TOTAL_MIB 512
#define BLOCK     (2 * MIB)
#define SLOT      (128 * MIB)

struct fx {
    struct drv_mem mem;
    struct drv d;
    uint16_t next_desc;
    struct virtio_mem *vm;
    /* Fake hook. */
    bool slot_on[8];
    int hook_calls;
    int hook_fail; /* -errno to return */
};

static int fake_slot(void *opaque, uint32_t index, gpa_t gpa, void *hva,
                     uint64_t size, bool plug)
{
    struct fx *f = opaque;
    struct virtio_mem_region r;

    virtio_mem_host_region(f->vm, &r);
    assert_true(index < r.n_slots);
    assert_int_equal(gpa, BASE + index * SLOT);
    assert_ptr_equal(hva, (uint8_t *)r.hva + index * SLOT);
    assert_int_equal(size, SLOT);
    f->hook_calls++;
    if (f->hook_fail)
        return f->hook_fail;
    assert_true(f->slot_on[index] != plug);
    f->slot_on[index] = plug;
    return 0;
}

static uint64_t cnt(struct metrics_counter *c)
{
    return atomic_load(&c->v);
}

static struct metrics_memory_hotplug *m(void)
{
    return metrics_memory_hotplug();
}

static struct virtio_mmio *tp(struct fx *f)
{
    return virtio_mem_transport(f->vm);
}

static void fx_new(struct fx *f)
{
    struct virtio_mem_params p = {.total_size_mib = TOTAL_MIB,
                                  .block_size_mib = 2,
                                  .slot_size_mib = 128,
                                  .update_slot = fake_slot,
                                  .slot_opaque = f};
    struct sq_err err;

    sq_err_clear(&err);
    assert_int_equal(virtio_mem_new(&p, &f->vm, &err), 0);
    assert_int_equal(virtio_mem_set_guest_addr(f->vm, BASE), 0);
    assert_int_equal(virtio_mem_attach(f->vm, &f->mem.gm, -1, 0xc0004000, NULL),
                     0);
}

static void fx_start(struct fx *f)
{
    assert_int_equal(drv_setup(&f->d, &f->mem, tp(f), 256, F_UI), 15);
    f->next_desc = 0;
}

static void fx_open(struct fx *f, uint32_t requested_mib)
{
    struct sq_err err;

    fx_new(f);
    fx_start(f);
    sq_err_clear(&err);
    assert_int_equal(
        virtio_mem_update_requested_size(f->vm, requested_mib, &err), 0);
    (void)drv_irqs(&f->d);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    drv_mem_init(&f->mem, MEM_SIZE);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    virtio_mem_free(f->vm);
    drv_mem_fini(&f->mem);
    free(f);
    return 0;
}

static uint64_t cfg64(struct fx *f, unsigned off)
{
    return reg_rd(tp(f), 0x100 + off) | (uint64_t)reg_rd(tp(f), 0x100 + off + 4)
                                            << 32;
}

/* Send one request through a 2-descriptor chain; returns used length and
 * fills the response type and state. */
static uint32_t request(struct fx *f, uint16_t type, uint64_t addr, uint16_t nb,
                        uint16_t *resp, uint16_t *st)
{
    uint8_t req[24] = {0}, *out = g2h(&f->mem, RESP, 10);
    uint16_t head = f->next_desc;
    uint32_t id, len;

    memcpy(req, &type, 2);
    memcpy(req + 8, &addr, 8);
    memcpy(req + 16, &nb, 2);
    memcpy(g2h(&f->mem, REQ, 24), req, 24);
    memset(out, 0xee, 10);
    drv_desc(&f->d, head, REQ, 24, F_N, (uint16_t)((head + 1) % 256));
    drv_desc(&f->d, (uint16_t)((head + 1) % 256), RESP, 10, F_W, 0);
    f->next_desc = (uint16_t)((head + 2) % 256);
    drv_publish(&f->d, head);
    virtio_mmio_notify(tp(f), 0);
    drv_used_elem(&f->d, (uint16_t)(drv_used_idx(&f->d) - 1), &id, &len);
    assert_int_equal(id, head);
    memcpy(resp, out, 2);
    memcpy(st, out + 8, 2);
    return len;
}

static uint16_t req_ok(struct fx *f, uint16_t type, uint64_t addr, uint16_t nb)
{
    uint16_t resp, st;

    assert_int_equal(request(f, type, addr, nb, &resp, &st), 10);
    return resp == 0 ? st : (uint16_t)(0x100 | resp);
}

#define PLUG        0
#define UNPLUG      1
#define UNPLUGALL   2
#define STATE       3
#define ACK         0
#define ERR         (0x100 | 3)
#define S_PLUGGED   0
#define S_UNPLUGGED 1
#define S_MIXED     2

static void test_identity_config(void **state)
{
    struct fx *f = *state;
    struct virtio_mem_region r;
    struct virtio_mem_status s;
    struct sq_err err;
    uint64_t act = cnt(&m()->activate_fails);

    fx_new(f);
    assert_int_equal(reg_rd(tp(f), 0x08), 24);
    reg_wr(tp(f), 0x14, 0);
    assert_int_equal(reg_rd(tp(f), 0x10), 2); /* UNPLUGGED_INACCESSIBLE */
    reg_wr(tp(f), 0x14, 1);
    assert_int_equal(reg_rd(tp(f), 0x10), 1); /* VERSION_1 */
    reg_wr(tp(f), 0x30, 0);
    assert_int_equal(reg_rd(tp(f), 0x34), 256);

    virtio_mem_host_region(f->vm, &r);
    assert_non_null(r.hva);
    assert_int_equal((uintptr_t)r.hva % (2 * MIB), 0);
    assert_int_equal(r.size, TOTAL_MIB * MIB);
    assert_int_equal(r.align, 128 * MIB);
    assert_int_equal(r.slot_size, SLOT);
    assert_int_equal(r.n_slots, 4);
    assert_int_equal(virtio_mem_set_guest_addr(f->vm, BASE + 2 * MIB), -EINVAL);

    assert_int_equal(cfg64(f, 0), BLOCK);
    assert_int_equal(cfg64(f, 8), 0); /* node_id + padding */
    assert_int_equal(cfg64(f, 16), BASE);
    assert_int_equal(cfg64(f, 24), TOTAL_MIB * MIB);
    assert_int_equal(cfg64(f, 32), 0); /* usable */
    assert_int_equal(cfg64(f, 40), 0); /* plugged */
    assert_int_equal(cfg64(f, 48), 0); /* requested */
    assert_int_equal(reg_rd(tp(f), 0x100 + 56), 0);

    /* PATCH before the driver is up: refused. */
    sq_err_clear(&err);
    assert_int_equal(virtio_mem_update_requested_size(f->vm, 64, &err),
                     -ENODEV);
    assert_string_equal(err.msg, "Device is not active");

    /* Without UNPLUGGED_INACCESSIBLE, activation fails. */
    assert_int_equal(drv_setup(&f->d, &f->mem, tp(f), 256, 0) &
                         SQ_VIRTIO_STATUS_NEEDS_RESET,
                     SQ_VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(cnt(&m()->activate_fails), act + 1);
    fx_start(f);
    assert_true(tp(f)->activated);

    /* Guest writes are ignored. */
    reg_wr(tp(f), 0x100 + 48, 0x12345678);
    assert_int_equal(cfg64(f, 48), 0);

    virtio_mem_status(f->vm, &s);
    assert_int_equal(s.block_size_mib, 2);
    assert_int_equal(s.total_size_mib, TOTAL_MIB);
    assert_int_equal(s.slot_size_mib, 128);
    assert_int_equal(s.plugged_size_mib, 0);
    assert_int_equal(s.requested_size_mib, 0);
}

static void test_bad_sizes(void **state)
{
    static const struct virtio_mem_params bad[] = {
        {.total_size_mib = 512, .block_size_mib = 1, .slot_size_mib = 128},
        {.total_size_mib = 512, .block_size_mib = 6, .slot_size_mib = 126},
        {.total_size_mib = 512, .block_size_mib = 256, .slot_size_mib = 128},
        {.total_size_mib = 500, .block_size_mib = 2, .slot_size_mib = 128},
        {.total_size_mib = 0, .block_size_mib = 2, .slot_size_mib = 128},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct virtio_mem *vm = NULL;
        struct sq_err err;

        sq_err_clear(&err);
        assert_int_equal(virtio_mem_new(&bad[i], &vm, &err), -EINVAL);
        assert_null(vm);
    }
}

static void test_requested_size(void **state)
{
    struct fx *f = *state;
    struct sq_err err;
    uint32_t gen;

    fx_new(f);
    fx_start(f);
    gen = reg_rd(tp(f), 0xfc);
    sq_err_clear(&err);
    assert_int_equal(virtio_mem_update_requested_size(f->vm, 130, &err), 0);
    assert_int_equal(cfg64(f, 48), 130 * MIB);
    assert_int_equal(cfg64(f, 32), 256 * MIB); /* whole slots */
    assert_true(reg_rd(tp(f), 0x60) & SQ_VIRTIO_INT_CONFIG);
    assert_int_equal(reg_rd(tp(f), 0xfc), gen + 1);
    assert_int_equal(drv_irqs(&f->d), 1);
    /* Lowering the request keeps the usable region. */
    assert_int_equal(virtio_mem_update_requested_size(f->vm, 4, &err), 0);
    assert_int_equal(cfg64(f, 48), 4 * MIB);
    assert_int_equal(cfg64(f, 32), 256 * MIB);
    /* Not a block multiple, or above the total. */
    assert_int_equal(virtio_mem_update_requested_size(f->vm, 3, &err), -EINVAL);
    assert_string_equal(err.msg, "Size 3145728 is invalid: it must be a "
                                 "multiple of block size and less than the "
                                 "total size");
    assert_int_equal(virtio_mem_update_requested_size(f->vm, 514, &err),
                     -EINVAL);
    assert_int_equal(virtio_mem_update_requested_size(f->vm, TOTAL_MIB, &err),
                     0);
    assert_int_equal(cfg64(f, 32), TOTAL_MIB * MIB);
}

static void test_plug_unplug(void **state)
{
    struct fx *f = *state;
    struct virtio_mem_region r;
    struct virtio_mem_status s;
    uint64_t plugs = cnt(&m()->plug_count), pbytes = cnt(&m()->plug_bytes),
             ufails = cnt(&m()->unplug_fails);
    uint8_t *hva;

    fx_open(f, 140); /* usable: 256 MiB = slots 0 and 1 */
    virtio_mem_host_region(f->vm, &r);
    hva = r.hva;

    /* Plug 4 blocks at the start of slot 0: slot 0 mapped. */
    assert_int_equal(req_ok(f, PLUG, BASE, 4), ACK);
    assert_true(f->slot_on[0]);
    assert_false(f->slot_on[1]);
    assert_int_equal(f->hook_calls, 1);
    assert_true(virtio_mem_block_plugged(f->vm, 3));
    assert_false(virtio_mem_block_plugged(f->vm, 4));
    assert_int_equal(cfg64(f, 40), 8 * MIB);
    assert_int_equal(cnt(&m()->plug_count) - plugs, 1);
    assert_int_equal(cnt(&m()->plug_bytes) - pbytes, 8 * MIB);
    assert_int_equal(drv_irqs(&f->d), 1);

    /* A range across slots 0 and 1: both mapped, one more hook call. */
    assert_int_equal(req_ok(f, PLUG, BASE + SLOT - BLOCK, 2), ACK);
    assert_true(f->slot_on[1]);
    assert_int_equal(f->hook_calls, 2);

    /* STATE: plugged, unplugged, mixed. */
    assert_int_equal(req_ok(f, STATE, BASE, 4), S_PLUGGED);
    assert_int_equal(req_ok(f, STATE, BASE + 4 * BLOCK, 8), S_UNPLUGGED);
    assert_int_equal(req_ok(f, STATE, BASE, 8), S_MIXED);

    /* Refused plugs: overlap, misaligned, zero blocks, below the window,
     * past the usable region, more than requested. */
    assert_int_equal(req_ok(f, PLUG, BASE + 2 * BLOCK, 4), ERR);
    assert_int_equal(req_ok(f, PLUG, BASE + 4096, 1), ERR);
    assert_int_equal(req_ok(f, PLUG, BASE + 8 * BLOCK, 0), ERR);
    assert_int_equal(req_ok(f, PLUG, BASE - BLOCK, 1), ERR);
    assert_int_equal(req_ok(f, PLUG, BASE + 2 * SLOT, 1), ERR);
    assert_int_equal(req_ok(f, PLUG, BASE + 2 * SLOT - BLOCK, 2), ERR);
    assert_int_equal(req_ok(f, PLUG, UINT64_MAX - BLOCK + 1, 1), ERR);
    assert_int_equal(req_ok(f, PLUG, BASE + 8 * BLOCK, 65), ERR); /* > 140 */
    assert_int_equal(req_ok(f, STATE, BASE + 2 * SLOT, 1), ERR);

    /* Write into the plugged memory; unplugging gives it back (zeros). */
    hva[0] = 0xab;
    hva[BLOCK] = 0xcd;
    assert_int_equal(req_ok(f, UNPLUG, BASE, 2), ACK);
    assert_int_equal(hva[0], 0);
    assert_int_equal(hva[BLOCK], 0);
    assert_true(f->slot_on[0]); /* blocks 2, 3 still in slot 0 */
    assert_int_equal(cfg64(f, 40), 8 * MIB);
    /* Unplugging a mixed or unplugged range is refused. */
    assert_int_equal(req_ok(f, UNPLUG, BASE, 4), ERR);
    assert_int_equal(req_ok(f, UNPLUG, BASE, 1), ERR);
    assert_int_equal(cnt(&m()->unplug_fails) - ufails, 2);
    /* Block 63 keeps slot 0 mapped; when it goes, the slot is removed. */
    assert_int_equal(req_ok(f, UNPLUG, BASE + 2 * BLOCK, 2), ACK);
    assert_true(f->slot_on[0]);
    assert_int_equal(req_ok(f, UNPLUG, BASE + SLOT - BLOCK, 1), ACK);
    assert_false(f->slot_on[0]);
    assert_true(f->slot_on[1]);

    virtio_mem_status(f->vm, &s);
    assert_int_equal(s.plugged_size_mib, 2);
    assert_int_equal(s.requested_size_mib, 140);

    /* UNPLUG_ALL: nothing plugged, no slot, usable region 0. */
    assert_int_equal(req_ok(f, UNPLUGALL, 0, 0), ACK);
    assert_false(f->slot_on[1]);
    assert_int_equal(cfg64(f, 40), 0);
    assert_int_equal(cfg64(f, 32), 0);
    assert_int_equal(req_ok(f, PLUG, BASE, 1), ERR); /* nothing usable */
}

static void test_hook_failure(void **state)
{
    struct fx *f = *state;

    fx_open(f, 256);
    f->hook_fail = -ENOSPC;
    assert_int_equal(req_ok(f, PLUG, BASE, 2), ERR);
    assert_false(virtio_mem_block_plugged(f->vm, 0));
    assert_int_equal(cfg64(f, 40), 0);
    f->hook_fail = 0;
    assert_int_equal(req_ok(f, PLUG, BASE, 2), ACK);
    f->hook_fail = -EIO;
    assert_int_equal(req_ok(f, UNPLUG, BASE, 2), ERR);
    assert_true(virtio_mem_block_plugged(f->vm, 1));
    assert_int_equal(cfg64(f, 40), 4 * MIB);
    assert_int_equal(req_ok(f, UNPLUGALL, 0, 0), ERR);
    assert_true(virtio_mem_block_plugged(f->vm, 0));
    f->hook_fail = 0;
    assert_true(f->slot_on[0]);
}

static void test_hostile(void **state)
{
    struct fx *f = *state;
    static const struct {
        uint64_t a0;
        uint32_t l0;
        uint16_t f0;
        int n;
        uint64_t a1;
        uint32_t l1;
        uint16_t f1;
    } cases[] = {
        {REQ, 24, F_W, 2, RESP, 10, F_W},        /* write-only head */
        {REQ, 23, 0, 2, RESP, 10, F_W},          /* short request */
        {REQ, 24, 0, 1, 0, 0, 0},                /* no response buffer */
        {REQ, 24, 0, 2, RESP, 10, 0},            /* read-only response */
        {REQ, 24, 0, 2, RESP, 9, F_W},           /* short response */
        {MEM_SIZE - 8, 24, 0, 2, RESP, 10, F_W}, /* request past RAM */
        {REQ, 24, 0, 2, MEM_SIZE - 4, 10, F_W},  /* response past RAM */
        {REQ + 64, 24, 0, 2, RESP, 10, F_W},     /* unknown type 7 */
    };
    uint64_t fails = cnt(&m()->queue_event_fails);
    uint16_t type7 = 7;

    fx_open(f, 64);
    memset(g2h(&f->mem, REQ, 24), 0, 24);
    memcpy(g2h(&f->mem, REQ + 64, 2), &type7, 2);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint16_t head = f->next_desc, nx = (uint16_t)((head + 1) % 256);
        uint32_t id, len;

        drv_desc(&f->d, head, cases[i].a0, cases[i].l0,
                 (uint16_t)(cases[i].f0 | (cases[i].n > 1 ? F_N : 0)), nx);
        drv_desc(&f->d, nx, cases[i].a1, cases[i].l1, cases[i].f1, 0);
        f->next_desc = (uint16_t)((head + 2) % 256);
        drv_publish(&f->d, head);
        virtio_mmio_notify(tp(f), 0);
        assert_int_equal(drv_used_idx(&f->d), i + 1);
        drv_used_elem(&f->d, (uint16_t)i, &id, &len);
        assert_int_equal(id, head);
        assert_int_equal(len, 0);
        assert_int_equal(cnt(&m()->queue_event_fails), fails + i + 1);
    }
    assert_false(virtio_mem_block_plugged(f->vm, 0));
    /* Still serving; a longer response buffer is fine. */
    assert_int_equal(req_ok(f, PLUG, BASE, 1), ACK);
    /* A corrupt ring: NEEDS_RESET; the blocks survive the reset. */
    drv_set_avail_idx(&f->d, 999);
    virtio_mmio_notify(tp(f), 0);
    assert_true(reg_rd(tp(f), 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
    fx_start(f);
    assert_true(virtio_mem_block_plugged(f->vm, 0));
    assert_int_equal(cfg64(f, 40), BLOCK);
    assert_int_equal(req_ok(f, STATE, BASE, 1), S_PLUGGED);
}

/* The state of a device with blocks plugged in slots 0 and 2 into a new
 * device built the same way (as a snapshot load builds it), with the
 * transport: same bitmap, sizes and status, slots 0 and 2 back in "KVM",
 * and the driver's queue and PATCH working on from there. */
static void test_snapshot_round_trip(void **state)
{
    struct fx *f = *state;
    struct virtio_mem_state s, again, bad;
    struct virtio_mmio_state t;
    struct virtio_mem_status before, after;
    struct sq_err err;

    fx_open(f, 300); /* usable: 384 MiB = slots 0 to 2 */
    assert_int_equal(req_ok(f, PLUG, BASE, 4), ACK);
    assert_int_equal(req_ok(f, PLUG, BASE + 2 * SLOT + 2 * BLOCK, 2), ACK);
    virtio_mem_status(f->vm, &before);
    virtio_mem_save_state(f->vm, &s);
    virtio_mmio_save(tp(f), &t);
    assert_int_equal(s.addr, BASE);
    assert_int_equal(s.region_size, TOTAL_MIB * MIB);
    assert_int_equal(s.block_size, BLOCK);
    assert_int_equal(s.slot_size, SLOT);
    assert_int_equal(s.usable_region_size, 3 * SLOT);
    assert_int_equal(s.requested_size, 300 * MIB);
    assert_int_equal(s.n_blocks, 256);
    assert_int_equal(s.plugged[0], 0xf);
    assert_int_equal(s.plugged[2], 0x3ULL << 2);

    /* A new device, as the load builds it: nothing plugged, no slot. */
    virtio_mem_free(f->vm);
    memset(f->slot_on, 0, sizeof(f->slot_on));
    f->hook_calls = 0;
    fx_new(f);
    bad = s;
    bad.slot_size = 2 * SLOT;
    sq_err_clear(&err);
    assert_int_equal(virtio_mem_restore_state(f->vm, &bad, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "virtio-mem state: saved region at "));
    bad = s;
    bad.requested_size = TOTAL_MIB * MIB + BLOCK;
    assert_int_equal(virtio_mem_restore_state(f->vm, &bad, &err), -EINVAL);
    assert_int_equal(f->hook_calls, 0);

    assert_int_equal(virtio_mem_restore_state(f->vm, &s, &err), 0);
    assert_int_equal(f->hook_calls, 2);
    assert_true(f->slot_on[0]);
    assert_false(f->slot_on[1]);
    assert_true(f->slot_on[2]);
    assert_int_equal(virtio_mmio_restore(tp(f), &t), 0);
    assert_true(tp(f)->activated);
    virtio_mem_status(f->vm, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_int_equal(cfg64(f, 32), 3 * SLOT);
    assert_int_equal(cfg64(f, 40), 12 * MIB);
    for (uint64_t b = 0; b < 256; b++)
        assert_int_equal(virtio_mem_block_plugged(f->vm, b),
                         b < 4 || b == 130 || b == 131);

    /* The driver goes on on the restored ring; PATCH works. */
    assert_int_equal(req_ok(f, STATE, BASE, 4), S_PLUGGED);
    assert_int_equal(req_ok(f, STATE, BASE + 4 * BLOCK, 1), S_UNPLUGGED);
    assert_int_equal(virtio_mem_update_requested_size(f->vm, 400, &err), 0);
    assert_int_equal(cfg64(f, 32), 4 * SLOT);
    assert_int_equal(req_ok(f, PLUG, BASE + 3 * SLOT, 1), ACK);
    assert_true(f->slot_on[3]);
    virtio_mem_save_state(f->vm, &again);
    assert_int_equal(again.plugged[3], 1);
    assert_int_equal(again.requested_size, 400 * MIB);
    virtio_mem_state_fini(&again);
    virtio_mem_state_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requested_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plug_unplug, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
