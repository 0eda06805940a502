/*
 * test_virtio_mmio.c: the virtio-mmio transport.
 *
 * Part 1 drives the registers of a stub device through the bus handlers:
 * identification, features, the status state machine (upstream's valid
 * transitions, FAILED, reset, NEEDS_RESET on a bad queue layout), when
 * queue and config registers may be written, interrupt status and ack,
 * and notifications before DRIVER_OK.
 *
 * Part 2 builds a real machine (skipped, saying why, when /dev/kvm is not
 * usable) with an entropy and a block device attached through the
 * machine's public API only (mmio_alloc_device, virtio_mmio_machine_dev,
 * machine_create, rng_attach, block_attach), and runs hand-placed guest
 * code that, for each device, reads magic, version and device id through
 * the MMIO bus, initialises it, notifies its queue through the ioeventfd
 * and waits for the used ring, which the vmm loop fills (random bytes; a
 * sector of the disk).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "kvm_usable.h"

#include "devices/virtio/block.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/rng.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "virtq_driver.h"
#include "vmm/machine.h"
#include "vmm/mmio_attach.h"

#define MEM_SIZE 0x100000ULL

#define S_ACK SQ_VIRTIO_STATUS_ACK
#define S_DRV SQ_VIRTIO_STATUS_DRIVER
#define S_FOK SQ_VIRTIO_STATUS_FEATURES_OK
#define S_DOK SQ_VIRTIO_STATUS_DRIVER_OK

/* ---- a stub device ------------------------------------------------------ */

struct stub {
    struct virtio_mmio t;
    uint8_t config[8];
    int activations, resets, notifies, config_writes;
    int activate_rc;
    bool reset_ok;
};

static void stub_read_config(void *dev, uint64_t off, uint8_t *data,
                             uint32_t len)
{
    struct stub *s = dev;

    for (uint32_t i = 0; i < len; i++)
        data[i] = off + i < sizeof(s->config) ? s->config[off + i] : 0;
}

static void stub_write_config(void *dev, uint64_t off, const uint8_t *data,
                              uint32_t len)
{
    struct stub *s = dev;

    (void)off;
    (void)data;
    (void)len;
    s->config_writes++;
}

static int stub_activate(void *dev)
{
    struct stub *s = dev;

    s->activations++;
    return s->activate_rc;
}

static bool stub_reset(void *dev)
{
    struct stub *s = dev;

    s->resets++;
    return s->reset_ok;
}

static void stub_notify(void *dev, uint16_t q)
{
    struct stub *s = dev;

    (void)q;
    s->notifies++;
}

static const struct virtio_dev_ops stub_ops = {
    .device_type = 77,
    .read_config = stub_read_config,
    .write_config = stub_write_config,
    .activate = stub_activate,
    .reset = stub_reset,
    .queue_notify = stub_notify,
};

struct fx {
    struct drv_mem mem;
    struct stub s;
    struct drv d;
};

static int setup(void **state)
{
    static const uint16_t sizes[2] = {16, 256};
    struct fx *f = calloc(1, sizeof(*f));

    drv_mem_init(&f->mem, MEM_SIZE);
    assert_int_equal(virtio_mmio_init(&f->s.t, "stub", &stub_ops, &f->s,
                                      (1ULL << 3) | (1ULL << 40), 2, sizes),
                     0);
    assert_int_equal(
        virtio_mmio_attach(&f->s.t, &f->mem.gm, -1, 0xd0000000, NULL), 0);
    f->s.reset_ok = true;
    memcpy(f->s.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    virtio_mmio_fini(&f->s.t);
    drv_mem_fini(&f->mem);
    free(f);
    return 0;
}

static void test_identification(void **state)
{
    struct fx *f = *state;
    uint8_t b[8];

    assert_int_equal(reg_rd(&f->s.t, 0x00), 0x74726976); /* "virt" */
    assert_int_equal(reg_rd(&f->s.t, 0x04), 2);
    assert_int_equal(reg_rd(&f->s.t, 0x08), 77);
    assert_int_equal(reg_rd(&f->s.t, 0x0c), 0);
    /* features: page 0, page 1 (with VERSION_1), unknown page 0 */
    assert_int_equal(reg_rd(&f->s.t, 0x10), 1u << 3);
    reg_wr(&f->s.t, 0x14, 1);
    assert_int_equal(reg_rd(&f->s.t, 0x10), (1u << 8) | 1u);
    reg_wr(&f->s.t, 0x14, 7);
    assert_int_equal(reg_rd(&f->s.t, 0x10), 0);
    /* queue max sizes; a missing queue reads 0 */
    assert_int_equal(reg_rd(&f->s.t, 0x34), 16);
    reg_wr(&f->s.t, 0x30, 1);
    assert_int_equal(reg_rd(&f->s.t, 0x34), 256);
    reg_wr(&f->s.t, 0x30, 2);
    assert_int_equal(reg_rd(&f->s.t, 0x34), 0);
    /* config space, any width, zeros past its end */
    memset(b, 0xee, sizeof(b));
    bus_dev_lock(&f->s.t.bus);
    virtio_mmio_read(&f->s.t.bus, 0x106, b, 4);
    bus_dev_unlock(&f->s.t.bus);
    assert_memory_equal(b, "\x07\x08\x00\x00", 4);
    /* a 2-byte read of a register leaves the (zeroed) buffer alone */
    memset(b, 0, sizeof(b));
    bus_dev_lock(&f->s.t.bus);
    virtio_mmio_read(&f->s.t.bus, 0x00, b, 2);
    bus_dev_unlock(&f->s.t.bus);
    assert_memory_equal(b, "\x00\x00", 2);
}

struct transition {
    uint32_t from_writes[4]; /* 0-terminated sequence (after a reset) */
    uint32_t write;
    uint32_t expect;
};

static void test_status_machine(void **state)
{
    static const struct transition cases[] = {
        {{0}, S_ACK, S_ACK},
        {{0}, S_ACK | S_DRV, 0}, /* skips a step */
        {{S_ACK, 0}, S_ACK | S_DRV, S_ACK | S_DRV},
        {{S_ACK, 0}, S_DRV, S_ACK}, /* clears a bit */
        {{S_ACK, S_ACK | S_DRV, 0}, S_ACK | S_DRV | S_DOK, S_ACK | S_DRV},
        {{S_ACK, S_ACK | S_DRV, 0},
         S_ACK | S_DRV | S_FOK,
         S_ACK | S_DRV | S_FOK},
        {{S_ACK, 0}, SQ_VIRTIO_STATUS_FAILED, S_ACK | SQ_VIRTIO_STATUS_FAILED},
        {{0}, 0xff, SQ_VIRTIO_STATUS_FAILED},
    };
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reg_wr(&f->s.t, 0x70, 0);
        for (int j = 0; j < 4 && cases[i].from_writes[j]; j++)
            reg_wr(&f->s.t, 0x70, cases[i].from_writes[j]);
        reg_wr(&f->s.t, 0x70, cases[i].write);
        if (reg_rd(&f->s.t, 0x70) != cases[i].expect)
            fail_msg("case %zu: status %#x, expected %#x", i,
                     reg_rd(&f->s.t, 0x70), cases[i].expect);
    }
    assert_int_equal(f->s.activations, 0);
}

static void test_activation_and_reset(void **state)
{
    struct fx *f = *state;
    struct drv d;

    /* Both queues must be set up: ready queue 1 by hand first. */
    reg_wr(&f->s.t, 0x70, S_ACK);
    reg_wr(&f->s.t, 0x70, S_ACK | S_DRV);
    reg_wr(&f->s.t, 0x70, S_ACK | S_DRV | S_FOK);
    reg_wr(&f->s.t, 0x30, 1);
    reg_wr(&f->s.t, 0x38, 16);
    reg_wr(&f->s.t, 0x80, 0x8000);
    reg_wr(&f->s.t, 0x90, 0x8100);
    reg_wr(&f->s.t, 0xa0, 0x8200);
    reg_wr(&f->s.t, 0x44, 1);
    assert_int_equal(reg_rd(&f->s.t, 0x44), 1);
    reg_wr(&f->s.t, 0x70, 0); /* reset clears it again */
    assert_int_equal(f->s.resets, 1);
    assert_int_equal(reg_rd(&f->s.t, 0x44), 0);

    /* Queue 1 not ready: activation fails as upstream's (every queue is
     * initialised), NEEDS_RESET and a config interrupt. */
    assert_int_equal(drv_setup(&d, &f->mem, &f->s.t, 16, 1ULL << 3),
                     S_ACK | S_DRV | S_FOK | S_DOK |
                         SQ_VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(f->s.activations, 0);
    assert_false(f->s.t.activated);
    assert_int_equal(drv_irqs(&d), 1);
    assert_int_equal(reg_rd(&f->s.t, 0x60), SQ_VIRTIO_INT_CONFIG);

    /* Now with both queues. */
    reg_wr(&f->s.t, 0x70, 0);
    reg_wr(&f->s.t, 0x70, S_ACK);
    reg_wr(&f->s.t, 0x70, S_ACK | S_DRV);
    reg_wr(&f->s.t, 0x24, 0);
    reg_wr(&f->s.t, 0x20, 0xffffffff); /* unknown bits are dropped */
    reg_wr(&f->s.t, 0x24, 1);
    reg_wr(&f->s.t, 0x20, 0xffffffff);
    reg_wr(&f->s.t, 0x70, S_ACK | S_DRV | S_FOK);
    reg_wr(&f->s.t, 0x24, 0);
    reg_wr(&f->s.t, 0x20, 1u << 4); /* too late: ignored */
    reg_wr(&f->s.t, 0x30, 1);
    reg_wr(&f->s.t, 0x38, 16);
    reg_wr(&f->s.t, 0x80, 0x8000);
    reg_wr(&f->s.t, 0x90, 0x8100);
    reg_wr(&f->s.t, 0xa0, 0x8200);
    reg_wr(&f->s.t, 0x44, 1);
    d.t = &f->s.t;
    d.mem = &f->mem;
    d.qsize = 16;
    drv_queue_regs(&d, 16);
    assert_int_equal(reg_rd(&f->s.t, 0x60), 0); /* reset cleared it */
    reg_wr(&f->s.t, 0x70, S_ACK | S_DRV | S_FOK | S_DOK);
    assert_int_equal(reg_rd(&f->s.t, 0x70), S_ACK | S_DRV | S_FOK | S_DOK);
    assert_int_equal(f->s.activations, 1);
    assert_true(f->s.t.activated);
    assert_int_equal(f->s.t.acked_features,
                     (1ULL << 3) | (1ULL << 40) |
                         (1ULL << SQ_VIRTIO_F_VERSION_1));
    /* Queue registers are frozen after DRIVER_OK. */
    reg_wr(&f->s.t, 0x30, 0);
    reg_wr(&f->s.t, 0x38, 8);
    assert_int_equal(f->s.t.queues[0].size, 16);

    /* Activation re-signalled every queue: pending buffers get seen. */
    virtio_mmio_notify(&f->s.t, 0);
    assert_int_equal(f->s.notifies, 1);
    virtio_mmio_notify(&f->s.t, 5); /* no such queue: ignored */
    assert_int_equal(f->s.notifies, 1);

    /* Interrupts: used-buffer bit, ack clears only the acked bits. */
    assert_int_equal(virtio_mmio_signal_used(&f->s.t), 0);
    assert_int_equal(virtio_mmio_signal_config(&f->s.t), 0);
    assert_int_equal(reg_rd(&f->s.t, 0x60), 3);
    assert_int_equal(reg_rd(&f->s.t, 0xfc), 1); /* config generation */
    reg_wr(&f->s.t, 0x64, SQ_VIRTIO_INT_VRING);
    assert_int_equal(reg_rd(&f->s.t, 0x60), SQ_VIRTIO_INT_CONFIG);
    assert_int_equal(evloop_eventfd_drain(f->s.t.irq_fd), 2);

    /* Config writes reach the device once DRIVER is set. */
    bus_dev_lock(&f->s.t.bus);
    virtio_mmio_write(&f->s.t.bus, 0x100, (const uint8_t *)"\x01", 1);
    bus_dev_unlock(&f->s.t.bus);
    assert_int_equal(f->s.config_writes, 1);

    /* A device that cannot reset: FAILED, still active. */
    f->s.reset_ok = false;
    reg_wr(&f->s.t, 0x70, 0);
    assert_true(reg_rd(&f->s.t, 0x70) & SQ_VIRTIO_STATUS_FAILED);
    assert_true(f->s.t.activated);
    /* One that can: back to INIT, queues and features forgotten, the
     * config generation kept. */
    f->s.reset_ok = true;
    reg_wr(&f->s.t, 0x70, 0);
    assert_int_equal(reg_rd(&f->s.t, 0x70), 0);
    assert_false(f->s.t.activated);
    assert_int_equal(f->s.t.acked_features, 0);
    assert_false(f->s.t.queues[0].ready);
    assert_false(f->s.t.queues[0].activated);
    assert_int_equal(reg_rd(&f->s.t, 0xfc), 1);
}

/* An active transport saved mid-stream and restored into a fresh one on
 * the same memory: registers, features, queue layouts and ring positions
 * come back, the device is activated again, and popping continues after
 * the entries the first one took. A saved state with another queue count
 * is refused. */
static void test_save_restore(void **state)
{
    static const uint16_t sizes[2] = {16, 256};
    struct fx *f = *state;
    struct virtio_mmio_state st;
    struct virtq_chain chain;
    struct drv d[2];
    struct stub s2;

    memset(&s2, 0, sizeof(s2));
    assert_int_equal(drv_setup_n(d, 2, &f->mem, &f->s.t, 16, 1ULL << 3),
                     S_ACK | S_DRV | S_FOK | S_DOK);
    for (uint16_t i = 0; i < 3; i++) {
        drv_desc(&d[0], i, 0x9000 + i * 16u, 16, 0, 0);
        drv_publish(&d[0], i);
    }
    bus_dev_lock(&f->s.t.bus);
    assert_int_equal(virtq_pop(&f->s.t.queues[0], &chain), 1);
    assert_int_equal(virtq_add_used(&f->s.t.queues[0], chain.head, 0), 0);
    virtq_flush_used(&f->s.t.queues[0]);
    bus_dev_unlock(&f->s.t.bus);
    assert_int_equal(virtio_mmio_signal_used(&f->s.t), 0);
    virtio_mmio_save(&f->s.t, &st);
    assert_true(st.activated);
    assert_int_equal(st.n_queues, 2);
    assert_int_equal(st.queues[0].next_avail, 1);
    assert_int_equal(st.queues[0].next_used, 1);
    assert_int_equal(st.irq_status, SQ_VIRTIO_INT_VRING);

    assert_int_equal(virtio_mmio_init(&s2.t, "stub2", &stub_ops, &s2,
                                      (1ULL << 3) | (1ULL << 40), 2, sizes),
                     0);
    assert_int_equal(
        virtio_mmio_attach(&s2.t, &f->mem.gm, -1, 0xd0001000, NULL), 0);
    assert_int_equal(virtio_mmio_restore(&s2.t, &st), 0);
    assert_int_equal(s2.activations, 1);
    assert_true(s2.t.activated);
    assert_int_equal(reg_rd(&s2.t, 0x70), S_ACK | S_DRV | S_FOK | S_DOK);
    assert_int_equal(reg_rd(&s2.t, 0x60), SQ_VIRTIO_INT_VRING);
    assert_true(s2.t.acked_features == f->s.t.acked_features);
    assert_int_equal(s2.t.queues[1].desc_addr, f->s.t.queues[1].desc_addr);
    bus_dev_lock(&s2.t.bus);
    assert_int_equal(virtq_pop(&s2.t.queues[0], &chain), 1);
    assert_int_equal(chain.head, 1); /* after the one already taken */
    assert_int_equal(virtq_add_used(&s2.t.queues[0], chain.head, 0), 0);
    virtq_flush_used(&s2.t.queues[0]);
    bus_dev_unlock(&s2.t.bus);
    assert_int_equal(drv_used_idx(&d[0]), 2);
    /* Every queue is looked at once after the restore, as after DRIVER_OK. */
    assert_int_equal(evloop_eventfd_drain(s2.t.queue_fd[1]), 1);

    st.n_queues = 1;
    assert_int_equal(virtio_mmio_restore(&s2.t, &st), -EINVAL);
    virtio_mmio_fini(&s2.t);
}

static void test_rules_before_driver_ok(void **state)
{
    struct fx *f = *state;

    /* Notifications before DRIVER_OK are drained and ignored. */
    evloop_eventfd_signal(f->s.t.queue_fd[0]);
    virtio_mmio_notify(&f->s.t, 0);
    assert_int_equal(f->s.notifies, 0);
    assert_int_equal(evloop_eventfd_drain(f->s.t.queue_fd[0]), 0);
    /* Interrupt ack before DRIVER_OK does nothing. */
    virtio_mmio_signal_used(&f->s.t);
    reg_wr(&f->s.t, 0x64, 1);
    assert_int_equal(reg_rd(&f->s.t, 0x60), 1);
    /* Feature acks before DRIVER are ignored. */
    reg_wr(&f->s.t, 0x20, 1u << 3);
    assert_int_equal(f->s.t.acked_features, 0);
    /* Queue registers before FEATURES_OK are ignored. */
    reg_wr(&f->s.t, 0x38, 4);
    assert_int_equal(f->s.t.queues[0].size, 16);
    /* Config writes before DRIVER are ignored. */
    bus_dev_lock(&f->s.t.bus);
    virtio_mmio_write(&f->s.t.bus, 0x100, (const uint8_t *)"\x01", 1);
    bus_dev_unlock(&f->s.t.bus);
    assert_int_equal(f->s.config_writes, 0);
    /* Unknown registers and widths change nothing. */
    reg_wr(&f->s.t, 0x50, 0);
    reg_wr(&f->s.t, 0xfc, 9);
    assert_int_equal(reg_rd(&f->s.t, 0xfc), 0);
    assert_int_equal(reg_rd(&f->s.t, 0x38), 0);
    drv_irqs(&(struct drv){.t = &f->s.t});
}

static void test_bad_queue_layouts_need_reset(void **state)
{
    static const struct {
        uint16_t size;
        uint64_t desc;
    } bad[] = {{0, DRV_DESC},      {3, DRV_DESC},  {32, DRV_DESC},
               {16, DRV_DESC + 4}, {16, MEM_SIZE}, {16, 0x1ffff0000ULL}};
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reg_wr(&f->s.t, 0x70, 0);
        reg_wr(&f->s.t, 0x70, S_ACK);
        reg_wr(&f->s.t, 0x70, S_ACK | S_DRV);
        reg_wr(&f->s.t, 0x70, S_ACK | S_DRV | S_FOK);
        reg_wr(&f->s.t, 0x30, 1);
        reg_wr(&f->s.t, 0x38, 16);
        reg_wr(&f->s.t, 0x80, 0x8000);
        reg_wr(&f->s.t, 0x90, 0x8100);
        reg_wr(&f->s.t, 0xa0, 0x8200);
        reg_wr(&f->s.t, 0x44, 1);
        reg_wr(&f->s.t, 0x30, 0);
        reg_wr(&f->s.t, 0x38, bad[i].size);
        reg_wr(&f->s.t, 0x80, (uint32_t)bad[i].desc);
        reg_wr(&f->s.t, 0x84, (uint32_t)(bad[i].desc >> 32));
        reg_wr(&f->s.t, 0x90, (uint32_t)DRV_AVAIL);
        reg_wr(&f->s.t, 0xa0, (uint32_t)DRV_USED);
        reg_wr(&f->s.t, 0x44, 1);
        reg_wr(&f->s.t, 0x70, S_ACK | S_DRV | S_FOK | S_DOK);
        if (!(reg_rd(&f->s.t, 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET))
            fail_msg("layout %zu did not set NEEDS_RESET", i);
        assert_false(f->s.t.activated);
        /* The broken device ignores notifications. */
        virtio_mmio_notify(&f->s.t, 0);
        assert_int_equal(f->s.notifies, 0);
    }
    /* A failing device activation also asks for a reset. */
    f->s.activate_rc = -EIO;
    reg_wr(&f->s.t, 0x70, 0);
    reg_wr(&f->s.t, 0x70, S_ACK);
    reg_wr(&f->s.t, 0x70, S_ACK | S_DRV);
    reg_wr(&f->s.t, 0x70, S_ACK | S_DRV | S_FOK);
    reg_wr(&f->s.t, 0x30, 1);
    reg_wr(&f->s.t, 0x80, 0x8000);
    reg_wr(&f->s.t, 0x90, 0x8100);
    reg_wr(&f->s.t, 0xa0, 0x8200);
    reg_wr(&f->s.t, 0x38, 16);
    reg_wr(&f->s.t, 0x44, 1);
    {
        struct drv d = {.t = &f->s.t, .mem = &f->mem, .qsize = 16};

        drv_queue_regs(&d, 16);
    }
    reg_wr(&f->s.t, 0x70, S_ACK | S_DRV | S_FOK | S_DOK);
    assert_int_equal(f->s.activations, 1);
    assert_true(reg_rd(&f->s.t, 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
    assert_false(f->s.t.activated);
}

static void test_init_rejects_bad_queues(void **state)
{
    struct virtio_mmio t;
    uint16_t sizes[1] = {0};
    uint16_t big[1] = {512};

    (void)state;
    assert_int_equal(virtio_mmio_init(&t, "x", &stub_ops, NULL, 0, 0, sizes),
                     -EINVAL);
    virtio_mmio_fini(&t);
    assert_int_equal(virtio_mmio_init(&t, "x", &stub_ops, NULL, 0, 1, sizes),
                     -EINVAL);
    virtio_mmio_fini(&t);
    assert_int_equal(virtio_mmio_init(&t, "x", &stub_ops, NULL, 0, 1, big),
                     -EINVAL);
    virtio_mmio_fini(&t);
    assert_int_equal(virtio_mmio_init(&t, "x", &stub_ops, NULL, 0, 9, big),
                     -EINVAL);
    virtio_mmio_fini(&t);
}

/* ---- part 2: a real machine ---------------------------------------------- */

#define CODE_GPA 0x10000
#define PT_GPA   0x30000

/*
 * main:  mov $0xc0001000,%edi; mov $0x7000,%esi; mov $0x5000,%ebx; call init
 *        mov $0xc0002000,%edi; mov $0x9000,%esi; mov $0x5020,%ebx; call init
 *        mov $0xfe,%al; out %al,$0x64                 reset
 *     3: hlt; jmp 3b
 * init:  (%rdi = window, %rsi = rings, %rbx = results)
 *        mov (%rdi),%eax;  mov %eax,(%rbx)             magic
 *        mov 4(%rdi),%eax; mov %eax,4(%rbx)            version
 *        mov 8(%rdi),%eax; mov %eax,8(%rbx)            device id
 *        movl $1,0x70(%rdi); movl $3,0x70(%rdi)        ACK, DRIVER
 *        movl $1,0x24(%rdi); movl $1,0x20(%rdi)        ack VERSION_1
 *        movl $11,0x70(%rdi)                           FEATURES_OK
 *        queue 0: size 16, desc %rsi, avail %rsi+0x100, used %rsi+0x200, ready
 *        movl $15,0x70(%rdi)                           DRIVER_OK
 *        mov 0x70(%rdi),%eax; mov %eax,12(%rbx)
 *        movl $0,0x50(%rdi)                            QueueNotify (ioeventfd)
 *     1: movzwl 0x202(%rsi),%eax; cmp $1,%eax; jne 1b   wait for the
 *                                       device (the host gives up after 60 s)
 *        mov %eax,16(%rbx)                             used idx seen
 *        mov 0x60(%rdi),%eax; mov %eax,20(%rbx)        InterruptStatus
 *        mov %eax,0x64(%rdi); ret                      InterruptACK
 */
static const uint8_t g_virtio[] = {
    0xbf, 0x00, 0x10, 0x00, 0xc0, 0xbe, 0x00, 0x70, 0x00, 0x00, 0xbb, 0x00,
    0x50, 0x00, 0x00, 0xe8, 0x1b, 0x00, 0x00, 0x00, 0xbf, 0x00, 0x20, 0x00,
    0xc0, 0xbe, 0x00, 0x90, 0x00, 0x00, 0xbb, 0x20, 0x50, 0x00, 0x00, 0xe8,
    0x07, 0x00, 0x00, 0x00, 0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd, 0x8b,
    0x07, 0x89, 0x03, 0x8b, 0x47, 0x04, 0x89, 0x43, 0x04, 0x8b, 0x47, 0x08,
    0x89, 0x43, 0x08, 0xc7, 0x47, 0x70, 0x01, 0x00, 0x00, 0x00, 0xc7, 0x47,
    0x70, 0x03, 0x00, 0x00, 0x00, 0xc7, 0x47, 0x24, 0x01, 0x00, 0x00, 0x00,
    0xc7, 0x47, 0x20, 0x01, 0x00, 0x00, 0x00, 0xc7, 0x47, 0x70, 0x0b, 0x00,
    0x00, 0x00, 0xc7, 0x47, 0x30, 0x00, 0x00, 0x00, 0x00, 0xc7, 0x47, 0x38,
    0x10, 0x00, 0x00, 0x00, 0x89, 0xb7, 0x80, 0x00, 0x00, 0x00, 0xc7, 0x87,
    0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8d, 0x86, 0x00, 0x01,
    0x00, 0x00, 0x89, 0x87, 0x90, 0x00, 0x00, 0x00, 0xc7, 0x87, 0x94, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8d, 0x86, 0x00, 0x02, 0x00, 0x00,
    0x89, 0x87, 0xa0, 0x00, 0x00, 0x00, 0xc7, 0x87, 0xa4, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xc7, 0x47, 0x44, 0x01, 0x00, 0x00, 0x00, 0xc7,
    0x47, 0x70, 0x0f, 0x00, 0x00, 0x00, 0x8b, 0x47, 0x70, 0x89, 0x43, 0x0c,
    0xc7, 0x47, 0x50, 0x00, 0x00, 0x00, 0x00, 0x0f, 0xb7, 0x86, 0x02, 0x02,
    0x00, 0x00, 0x83, 0xf8, 0x01, 0x75, 0xf4, 0x89, 0x43, 0x10, 0x8b, 0x47,
    0x60, 0x89, 0x43, 0x14, 0x89, 0x47, 0x64, 0xc3};

/* A minimal ELF64 vmlinux whose entry is never used. */
static int make_kernel(void)
{
    uint8_t img[0x200];
    Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
    Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
    int fd = memfd_create("vmlinux", MFD_CLOEXEC);

    assert_true(fd >= 0);
    memset(img, 0, sizeof(img));
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_entry = 0x100100;
    eh->e_phoff = sizeof(*eh);
    eh->e_ehsize = sizeof(*eh);
    eh->e_phentsize = sizeof(*ph);
    eh->e_phnum = 1;
    ph->p_type = PT_LOAD;
    ph->p_flags = PF_R | PF_X;
    ph->p_vaddr = ph->p_paddr = 0x100000;
    ph->p_filesz = ph->p_memsz = sizeof(img);
    ph->p_align = 0x1000;
    img[0x100] = 0xf4;
    assert_int_equal(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
    return fd;
}

static void *gpa(struct machine *m, uint64_t a, uint64_t len)
{
    void *p = NULL;

    assert_int_equal(guest_mem_translate(machine_guest_mem(m), a, len, &p), 0);
    return p;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
                    bool code64)
{
    memset(s, 0, sizeof(*s));
    s->selector = sel;
    s->limit = 0xffffffff;
    s->type = type;
    s->present = 1;
    s->s = 1;
    s->g = 1;
    s->l = code64;
    s->db = !code64;
}

/* Identity-map 0..1 GiB and 3..4 GiB (2 MiB pages); vCPU 0 at CODE_GPA. */
static void enter_long_mode(struct machine *m)
{
    uint64_t *pml4 = gpa(m, PT_GPA, 0x5000);
    uint64_t *pdpt = pml4 + 512, *pd0 = pml4 + 1024, *pd3 = pml4 + 1536;
    uint64_t *gdt = pml4 + 2048;
    struct kvm_sregs s;
    struct kvm_regs r;

    memset(pml4, 0, 0x5000);
    pml4[0] = (PT_GPA + 0x1000) | 3;
    pdpt[0] = (PT_GPA + 0x2000) | 3;
    pdpt[3] = (PT_GPA + 0x3000) | 3;
    for (uint64_t i = 0; i < 512; i++) {
        pd0[i] = (i << 21) | 0x83;
        pd3[i] = (0xc0000000ULL + (i << 21)) | 0x83 | 0x10;
    }
    gdt[1] = 0x00af9b000000ffffULL;
    gdt[2] = 0x00cf93000000ffffULL;
    assert_int_equal(machine_vcpu_get_regs(m, 0, NULL, &s), 0);
    s.cr3 = PT_GPA;
    s.cr4 = 0x20;
    s.cr0 = 0x80050033;
    s.efer = 0x500;
    set_seg(&s.cs, 0x8, 0xb, true);
    set_seg(&s.ds, 0x10, 0x3, false);
    s.es = s.fs = s.gs = s.ss = s.ds;
    s.gdt.base = PT_GPA + 0x4000;
    s.gdt.limit = 3 * 8 - 1;
    s.idt.base = 0;
    s.idt.limit = 0;
    memset(&r, 0, sizeof(r));
    r.rip = CODE_GPA;
    r.rsp = 0x8000;
    r.rflags = 0x2; /* interrupts off: the irqfd only sets the line */
    assert_int_equal(machine_vcpu_set_regs(m, 0, &r, &s), 0);
}

static int exit_code = -1;

static void on_exit_cb(void *opaque, int code)
{
    (void)opaque;
    exit_code = code;
}

/* Results the guest stores per device (see init above). */
struct guest_result {
    uint32_t magic, version, device_id, status, used_idx, irq_status;
};

static void check_result(struct machine *m, uint64_t at, uint32_t dev_id)
{
    struct guest_result *g = gpa(m, at, sizeof(*g));

    assert_int_equal(g->magic, 0x74726976);
    assert_int_equal(g->version, 2);
    assert_int_equal(g->device_id, dev_id);
    assert_int_equal(g->status, 15);
    assert_int_equal(g->used_idx, 1);
    assert_int_equal(g->irq_status, SQ_VIRTIO_INT_VRING);
}

/* Two devices in two windows (the attach order is the controller's
 * business; here entropy, then block): the guest initialises both and gets
 * 64 random bytes and sector 1 of the disk. */
static void test_guest_drives_two_devices(void **state)
{
    struct machine_config cfg;
    struct machine_mmio_dev devs[2];
    struct mmio_alloc alloc;
    struct machine *m = NULL;
    struct evloop *loop;
    struct rng *r = NULL;
    struct block *b = NULL;
    struct block_config bcfg;
    struct sq_err err;
    uint64_t bytes_before;
    char log_path[] = "/tmp/squib-virtio-mmio-log-XXXXXX";
    char disk_path[] = "/tmp/squib-virtio-mmio-disk-XXXXXX";
    uint8_t sector[512];
    int kernel_fd, fd;

    (void)state;
    if (!kvm_usable())
        skip();
    fd = mkstemp(log_path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(log_set_target(log_path), 0);
    fd = mkstemp(disk_path);
    assert_true(fd >= 0);
    for (int i = 0; i < 4 * 512; i++) {
        uint8_t c = (uint8_t)(i * 13 + 1);

        assert_int_equal(write(fd, &c, 1), 1);
    }
    close(fd);
    loop = evloop_new();
    assert_non_null(loop);
    kernel_fd = make_kernel();

    /* Everything through public APIs, in the integrator's order. */
    sq_err_clear(&err);
    assert_int_equal(rng_new(NULL, &r, &err), 0);
    memset(&bcfg, 0, sizeof(bcfg));
    bcfg.drive_id = "kvmdisk";
    bcfg.path_on_host = disk_path;
    assert_int_equal(block_new(&bcfg, &b, &err), 0);
    mmio_alloc_init(&alloc);
    assert_int_equal(
        mmio_alloc_device(&alloc, &devs[0].addr, &devs[0].gsi, &err), 0);
    assert_int_equal(
        mmio_alloc_device(&alloc, &devs[1].addr, &devs[1].gsi, &err), 0);
    assert_int_equal(devs[0].addr, 0xc0001000ULL);
    assert_int_equal(devs[1].addr, 0xc0002000ULL);
    virtio_mmio_machine_dev(rng_transport(r), devs[0].addr, devs[0].gsi,
                            &devs[0]);
    virtio_mmio_machine_dev(block_transport(b), devs[1].addr, devs[1].gsi,
                            &devs[1]);
    memset(&cfg, 0, sizeof(cfg));
    cfg.vcpu_count = 1;
    cfg.mem_size_mib = 64;
    cfg.kernel_fd = kernel_fd;
    cfg.initrd_fd = -1;
    cfg.cmdline = "console=ttyS0 reboot=k panic=1";
    cfg.serial_out_fd = -1;
    cfg.n_mmio = 2;
    cfg.mmio = devs;
    cfg.on_exit = on_exit_cb;
    exit_code = -1;
    if (machine_create(&cfg, loop, &m, &err) != 0)
        fail_msg("machine_create: %s", err.msg);
    assert_int_equal(rng_attach(r, machine_guest_mem(m), machine_vm_fd(m),
                                devs[0].addr, loop),
                     0);
    assert_int_equal(block_attach(b, machine_guest_mem(m), machine_vm_fd(m),
                                  devs[1].addr, loop),
                     0);

    /* The rings the guest hands over. Entropy: one 64-byte buffer. */
    memset(gpa(m, 0x5000, 0x40), 0, 0x40);
    memset(gpa(m, 0x6000, 64), 0, 64);
    memset(gpa(m, 0x7000, 0x300), 0, 0x300);
    memset(gpa(m, 0x9000, 0x300), 0, 0x300);
    {
        struct virtq_desc *d = gpa(m, 0x7000, 16 * 16);
        uint16_t *avail = gpa(m, 0x7100, 4 + 2 * 16 + 2);

        d[0] = (struct virtq_desc){0x6000, 64, SQ_VIRTQ_DESC_F_WRITE, 0};
        avail[2] = 0;
        avail[1] = 1;
    }
    /* Block: read sector 1 into 0xb000, status at 0xa100. */
    {
        struct virtq_desc *d = gpa(m, 0x9000, 16 * 16);
        uint16_t *avail = gpa(m, 0x9100, 4 + 2 * 16 + 2);
        uint8_t *hdr = gpa(m, 0xa000, 16);
        uint64_t sec = 1;

        memset(hdr, 0, 16);
        memcpy(hdr + 8, &sec, 8);
        *(uint8_t *)gpa(m, 0xa100, 1) = 0xAA;
        memset(gpa(m, 0xb000, 512), 0, 512);
        d[0] = (struct virtq_desc){0xa000, 16, SQ_VIRTQ_DESC_F_NEXT, 1};
        d[1] = (struct virtq_desc){
            0xb000, 512, SQ_VIRTQ_DESC_F_NEXT | SQ_VIRTQ_DESC_F_WRITE, 2};
        d[2] = (struct virtq_desc){0xa100, 1, SQ_VIRTQ_DESC_F_WRITE, 0};
        avail[2] = 0;
        avail[1] = 1;
    }
    memcpy(gpa(m, CODE_GPA, sizeof(g_virtio)), g_virtio, sizeof(g_virtio));
    enter_long_mode(m);
    bytes_before = atomic_load(&metrics_entropy()->entropy_bytes.v);
    if (machine_start(m, &err) != 0)
        fail_msg("machine_start: %s", err.msg);
    for (int waited = 0; exit_code < 0 && waited < 60000; waited += 50)
        evloop_run_once(loop, 50);
    assert_int_equal(exit_code, 0);

    check_result(m, 0x5000, SQ_VIRTIO_ID_RNG);
    check_result(m, 0x5020, SQ_VIRTIO_ID_BLOCK);
    {
        uint32_t *used = gpa(m, 0x7200 + 4, 8);
        uint8_t *buf = gpa(m, 0x6000, 64);
        uint8_t zero[64] = {0};

        assert_int_equal(used[0], 0);
        assert_int_equal(used[1], 64);
        assert_memory_not_equal(buf, zero, 64);
    }
    assert_int_equal(
        atomic_load(&metrics_entropy()->entropy_bytes.v) - bytes_before, 64);
    {
        uint32_t *used = gpa(m, 0x9200 + 4, 8);

        assert_int_equal(used[0], 0);
        assert_int_equal(used[1], 513);
        assert_int_equal(*(uint8_t *)gpa(m, 0xa100, 1), SQ_VIRTIO_BLK_S_OK);
        fd = open(disk_path, O_RDONLY | O_CLOEXEC);
        assert_int_equal(pread(fd, sector, 512, 512), 512);
        close(fd);
        assert_memory_equal(gpa(m, 0xb000, 512), sector, 512);
    }
    rng_detach(r);
    block_detach(b);
    machine_destroy(m);
    rng_free(r);
    block_free(b);
    evloop_free(loop);
    close(kernel_fd);
    unlink(log_path);
    unlink(disk_path);
}

/* A registrar in place of KVM's: records each call. */
static struct {
    int n_calls, fail_at; /* fail_at: the call that fails, or -1 */
    int vm_fd[8], fd[8];
    uint64_t addr[8];
    uint32_t datamatch[8];
    bool deassign[8];
} g_ioev;

static int fake_ioeventfd(int vm_fd, int fd, uint64_t addr, uint32_t datamatch,
                          bool deassign)
{
    int i = g_ioev.n_calls++;

    assert_true(i < 8);
    g_ioev.vm_fd[i] = vm_fd;
    g_ioev.fd[i] = fd;
    g_ioev.addr[i] = addr;
    g_ioev.datamatch[i] = datamatch;
    g_ioev.deassign[i] = deassign;
    return i == g_ioev.fail_at ? -ENOSPC : 0;
}

/* The transport registers one ioeventfd per queue (QueueNotify, datamatch =
 * index) through the VMM's registrar, removes them on detach, undoes a
 * partial registration, and refuses a VM fd without a registrar. */
static void test_ioeventfds_through_the_registrar(void **state)
{
    static const uint16_t sizes[2] = {16, 256};
    struct fx *f = *state;
    struct virtio_mmio t;
    struct machine_mmio_dev md;

    (void)f;
    assert_int_equal(virtio_mmio_init(&t, "stub", &stub_ops, NULL, 0, 2, sizes),
                     0);
    assert_int_equal(virtio_mmio_attach(&t, &f->mem.gm, 42, 0xd0000000, NULL),
                     -EINVAL);
    virtio_mmio_machine_dev(&t, 0xd0000000, 5, &md);
    assert_non_null(t.ioeventfd); /* the KVM one, never called here */
    assert_int_equal(md.addr, 0xd0000000);
    assert_int_equal(md.gsi, 5);
    assert_ptr_equal(md.regs, &t.bus);
    assert_int_equal(md.irq_fd, t.irq_fd);

    t.ioeventfd = fake_ioeventfd;
    memset(&g_ioev, 0, sizeof(g_ioev));
    g_ioev.fail_at = -1;
    assert_int_equal(virtio_mmio_attach(&t, &f->mem.gm, 42, 0xd0000000, NULL),
                     0);
    virtio_mmio_detach(&t);
    assert_int_equal(g_ioev.n_calls, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(g_ioev.vm_fd[i], 42);
        assert_int_equal(g_ioev.fd[i], t.queue_fd[i % 2]);
        assert_int_equal(g_ioev.addr[i], 0xd0000000 + VIRTIO_MMIO_NOTIFY);
        assert_int_equal(g_ioev.datamatch[i], i % 2);
        assert_int_equal(g_ioev.deassign[i], i >= 2);
    }

    /* Queue 1 fails: queue 0's registration is removed again. */
    memset(&g_ioev, 0, sizeof(g_ioev));
    g_ioev.fail_at = 1;
    assert_int_equal(virtio_mmio_attach(&t, &f->mem.gm, 42, 0xd0000000, NULL),
                     -ENOSPC);
    assert_int_equal(g_ioev.n_calls, 3);
    assert_int_equal(g_ioev.datamatch[2], 0);
    assert_true(g_ioev.deassign[2]);
    virtio_mmio_detach(&t);
    assert_int_equal(g_ioev.n_calls, 3);
    virtio_mmio_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ioeventfds_through_the_registrar,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activation_and_reset, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_save_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_before_driver_ok, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_queue_layouts_need_reset,
                                        setup, teardown),
        cmocka_unit_test(test_init_rejects_bad_queues),
        cmocka_unit_test(test_guest_drives_two_devices),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
