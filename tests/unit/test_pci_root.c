/*
 * test_pci_root.c: the PCI root bus (devices/pci/root.h) through the real
 * MMIO and port buses: the host bridge at 00:00.0, slot allocation up to
 * 31 devices, ECAM and 0xcf8/0xcfc reaching the same functions, and hostile
 * accesses (other buses and functions, empty slots, the enable bit clear,
 * accesses crossing a dword or 8 bytes wide, offsets past the window).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/pci/root.h"
#include "pci_bytes.h"
#include "vmm/bus.h"

struct fixture {
    struct bus mmio, pio;
    struct pci_root root;
    struct pci_dev dev;
    pthread_mutex_t dev_lock;
    int n_written;
    uint32_t last_reg;
};

static void on_written(struct pci_dev *d, uint32_t reg)
{
    struct fixture *f = d->opaque;

    f->n_written++;
    f->last_reg = reg;
}

static int setup(void **state)
{
    static struct fixture f;
    static const struct pci_ids ids = {
        .vendor_id = 0x1af4, .device_id = 0x1042, .class_code = 0x01};
    unsigned slot = 0;

    memset(&f, 0, sizeof(f));
    bus_init(&f.mmio);
    bus_init(&f.pio);
    pci_root_init(&f.root);
    assert_int_equal(pci_root_register(&f.root, &f.mmio, &f.pio), 0);
    pthread_mutex_init(&f.dev_lock, NULL);
    pci_config_init(&f.dev.cfg, &ids);
    f.dev.lock = &f.dev_lock;
    f.dev.config_written = on_written;
    f.dev.opaque = &f;
    assert_int_equal(pci_root_add(&f.root, &f.dev, &slot), 0);
    assert_int_equal(slot, 1);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    pci_root_fini(&f->root);
    pthread_mutex_destroy(&f->dev_lock);
    bus_fini(&f->mmio);
    bus_fini(&f->pio);
    return 0;
}

static uint64_t ecam(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    return PCI_ECAM_BASE + ((uint64_t)bus << 20 | dev << 15 | fn << 12 | off);
}

static uint32_t mmio_rd(struct fixture *f, uint64_t addr, uint32_t len)
{
    uint8_t b[8] = {0};

    assert_int_equal(bus_read(&f->mmio, addr, b, len), 0);
    return pci_bytes_get(b, len);
}

static void mmio_wr(struct fixture *f, uint64_t addr, uint32_t len, uint32_t v)
{
    uint8_t b[8] = {0};

    pci_bytes_put(b, v);
    assert_int_equal(bus_write(&f->mmio, addr, b, len), 0);
}

static uint32_t pio_rd(struct fixture *f, uint16_t port, uint32_t len)
{
    uint8_t b[4] = {0};

    assert_int_equal(bus_read(&f->pio, port, b, len), 0);
    return pci_bytes_get(b, len);
}

static void pio_wr(struct fixture *f, uint16_t port, uint32_t len, uint32_t v)
{
    uint8_t b[4];

    pci_bytes_put(b, v);
    assert_int_equal(bus_write(&f->pio, port, b, len), 0);
}

static uint32_t cf8(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
    return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | reg << 2;
}

static void test_host_bridge(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(mmio_rd(f, ecam(0, 0, 0, 0), 4), 0x0d578086);
    assert_int_equal(mmio_rd(f, ecam(0, 0, 0, 0x0a), 2), 0x0600);
    assert_int_equal(mmio_rd(f, ecam(0, 0, 0, 0x0e), 1), 0);
    pio_wr(f, 0xcf8, 4, cf8(0, 0, 0, 0));
    assert_int_equal(pio_rd(f, 0xcfc, 4), 0x0d578086);
    assert_int_equal(pio_rd(f, 0xcfe, 2), 0x0d57);
    assert_int_equal(pio_rd(f, 0xcf8, 4), cf8(0, 0, 0, 0));
}

static void test_same_function_both_ways(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(mmio_rd(f, ecam(0, 1, 0, 0), 4), 0x10421af4);
    /* A write through the ports is seen through ECAM, and the other way. */
    pio_wr(f, 0xcf8, 4, cf8(0, 1, 0, 1));
    pio_wr(f, 0xcfc, 2, 0x0006);
    assert_int_equal(f->n_written, 1);
    assert_int_equal(f->last_reg, 1);
    assert_int_equal(mmio_rd(f, ecam(0, 1, 0, 4), 2), 0x0006);
    mmio_wr(f, ecam(0, 1, 0, 0x3c), 1, 0x0a);
    assert_int_equal(f->n_written, 2);
    assert_int_equal(f->last_reg, 15);
    pio_wr(f, 0xcf8, 4, cf8(0, 1, 0, 15));
    assert_int_equal(pio_rd(f, 0xcfc, 1), 0x0a);
    /* Byte lanes of CONFIG_DATA. */
    pio_wr(f, 0xcf8, 4, cf8(0, 1, 0, 0));
    assert_int_equal(pio_rd(f, 0xcfd, 1), 0x1a);
    assert_int_equal(pio_rd(f, 0xcfe, 2), 0x1042);
    /* CONFIG_ADDRESS written in pieces. */
    pio_wr(f, 0xcf8, 4, 0);
    pio_wr(f, 0xcf9, 1, 0x08); /* device 1 */
    pio_wr(f, 0xcfa, 2, 0x8000);
    assert_int_equal(pio_rd(f, 0xcf8, 4), cf8(0, 1, 0, 0));
    assert_int_equal(pio_rd(f, 0xcfc, 4), 0x10421af4);
}

static void test_absent_functions(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(mmio_rd(f, ecam(0, 2, 0, 0), 4), 0xffffffff);
    assert_int_equal(mmio_rd(f, ecam(0, 31, 0, 0), 2), 0xffff);
    assert_int_equal(mmio_rd(f, ecam(0, 1, 1, 0), 4), 0xffffffff);
    assert_int_equal(mmio_rd(f, ecam(0, 0, 7, 0), 4), 0xffffffff);
    pio_wr(f, 0xcf8, 4, cf8(1, 0, 0, 0));
    assert_int_equal(pio_rd(f, 0xcfc, 4), 0xffffffff);
    pio_wr(f, 0xcf8, 4, cf8(0, 1, 3, 0));
    assert_int_equal(pio_rd(f, 0xcfc, 4), 0xffffffff);
    /* The enable bit clear: nothing is selected. */
    pio_wr(f, 0xcf8, 4, cf8(0, 1, 0, 0) & 0x7fffffffu);
    assert_int_equal(pio_rd(f, 0xcfc, 4), 0xffffffff);
    pio_wr(f, 0xcfc, 4, 0x0007);
    assert_int_equal(f->n_written, 0);
    /* The legacy ports reach 256 bytes only: CONFIG_ADDRESS bits 27:24
     * (AMD's extended register bits) are not decoded. */
    pio_wr(f, 0xcf8, 4, cf8(0, 1, 0, 0) | 0x0f000000u);
    assert_int_equal(pio_rd(f, 0xcfc, 4), 0x10421af4);
}

static void test_hostile_accesses(void **state)
{
    struct fixture *f = *state;
    struct pci_config before = f->dev.cfg;
    uint8_t b[8];

    /* Crossing a dword, 8 bytes, misaligned writes: all ones, nothing
     * written. */
    assert_int_equal(mmio_rd(f, ecam(0, 1, 0, 3), 2), 0xffff);
    memset(b, 0, sizeof(b));
    assert_int_equal(bus_read(&f->mmio, ecam(0, 1, 0, 0), b, 8), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(b[i], 0xff);
    memset(b, 0xff, sizeof(b));
    assert_int_equal(bus_write(&f->mmio, ecam(0, 1, 0, 0), b, 8), 0);
    mmio_wr(f, ecam(0, 1, 0, 6), 4, 0xffffffff);
    mmio_wr(f, ecam(0, 1, 0, 5), 2, 0xffff);
    pio_wr(f, 0xcf8, 4, cf8(0, 1, 0, 1));
    pio_wr(f, 0xcfd, 2, 0xffff);
    pio_wr(f, 0xcfe, 4 - 2, 0xffff); /* Status: read-only */
    assert_int_equal(pio_rd(f, 0xcfe, 2), 0);
    assert_memory_equal(f->dev.cfg.regs, before.regs, sizeof(before.regs));
    /* Only the status write got through the decode (dropped by the
     * model's read-only bits, but the device still hears about it). */
    assert_int_equal(f->n_written, 1);
    /* Past the 1 MiB window: no device on the bus. */
    assert_int_equal(bus_read(&f->mmio, PCI_ECAM_BASE + PCI_ECAM_SIZE, b, 4),
                     -ENOENT);
    /* Handlers called directly with offsets the bus never gives. */
    memset(b, 0, sizeof(b));
    pthread_mutex_lock(&f->root.ecam.lock);
    pci_root_ecam_read(&f->root.ecam, PCI_ECAM_SIZE, b, 4);
    pci_root_ecam_write(&f->root.ecam, UINT64_MAX, b, 4);
    pthread_mutex_unlock(&f->root.ecam.lock);
    assert_int_equal(b[0], 0xff);
    pthread_mutex_lock(&f->root.pio.lock);
    pci_root_pio_read(&f->root.pio, 8, b, 1);
    pci_root_pio_write(&f->root.pio, 8, b, 1);
    pci_root_pio_read(&f->root.pio, 2, b, 4);
    pthread_mutex_unlock(&f->root.pio.lock);
    assert_int_equal(b[3], 0xff);
}

static void test_31_slots(void **state)
{
    struct fixture *f = *state;
    struct pci_dev extra[31];
    unsigned slot = 0;

    for (unsigned i = 0; i < 30; i++) {
        extra[i] = f->dev;
        assert_int_equal(pci_root_add(&f->root, &extra[i], &slot), 0);
        assert_int_equal(slot, i + 2);
    }
    extra[30] = f->dev;
    assert_int_equal(pci_root_add(&f->root, &extra[30], &slot), -ENOSPC);
    assert_int_equal(mmio_rd(f, ecam(0, 31, 0, 0), 4), 0x10421af4);
    pio_wr(f, 0xcf8, 4, cf8(0, 31, 0, 0));
    assert_int_equal(pio_rd(f, 0xcfc, 4), 0x10421af4);

    /* Hot-unplug: the slot reads empty both ways and is the next one
     * filled; the host bridge's slot cannot be emptied. */
    pci_root_remove(&f->root, 7);
    assert_int_equal(mmio_rd(f, ecam(0, 7, 0, 0), 4), 0xffffffff);
    pio_wr(f, 0xcf8, 4, cf8(0, 7, 0, 0));
    assert_int_equal(pio_rd(f, 0xcfc, 4), 0xffffffff);
    assert_int_equal(pci_root_free_slot(&f->root), 7);
    assert_int_equal(pci_root_add(&f->root, &extra[30], &slot), 0);
    assert_int_equal(slot, 7);
    assert_int_equal(pci_root_free_slot(&f->root), 0);
    pci_root_remove(&f->root, 0);
    pci_root_remove(&f->root, 32);
    assert_int_equal(mmio_rd(f, ecam(0, 0, 0, 0), 4), 0x0d578086);
}

/* A vCPU-like thread reading slot 2's IDs through ECAM and the ports. */
struct reader {
    struct fixture *f;
    atomic_int stop;
    int bad; /* read after the join */
};

static void *read_slot2(void *arg)
{
    struct reader *r = arg;
    uint8_t addr[4] = {0, 0x10, 0, 0x80}; /* CONFIG_ADDRESS: slot 2, reg 0 */

    while (!atomic_load(&r->stop)) {
        uint8_t b[4];
        uint32_t v;

        memset(b, 0, sizeof(b));
        (void)bus_read(&r->f->mmio, PCI_ECAM_BASE + (2u << 15), b, 4);
        v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
            (uint32_t)b[3] << 24;
        r->bad += v != 0x10421af4 && v != 0xffffffff;
        (void)bus_write(&r->f->pio, 0xcf8, addr, 4);
        (void)bus_read(&r->f->pio, 0xcfc, b, 4);
    }
    return NULL;
}

/* Hot-plug: slots filled and emptied while another thread decodes
 * configuration accesses; each access sees the slot either empty or
 * filled (the slot table changes under both handlers' locks; TSan checks
 * the locking in the TSan build). */
static void test_slots_change_under_accesses(void **state)
{
    struct fixture *f = *state;
    struct reader r = {.f = f, .bad = 0};
    struct pci_dev extra = f->dev;
    pthread_t t;

    atomic_init(&r.stop, 0);
    assert_int_equal(pthread_create(&t, NULL, read_slot2, &r), 0);
    for (int i = 0; i < 2000; i++) {
        unsigned slot = 0;

        assert_int_equal(pci_root_add(&f->root, &extra, &slot), 0);
        assert_int_equal(slot, 2);
        pci_root_remove(&f->root, 2);
    }
    atomic_store(&r.stop, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r.bad, 0);
    assert_int_equal(pci_root_free_slot(&f->root), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_function_both_ways, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_absent_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_31_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slots_change_under_accesses, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
