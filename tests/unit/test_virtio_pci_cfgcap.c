/*
 * test_virtio_pci_cfgcap.c: the VIRTIO_PCI_CAP_PCI_CFG window
 * (devices/pci/virtio_pci_cfgcap.c) on virtio-rng behind the real
 * virtio-pci transport, driven through ECAM as a guest would.
 *
 * It checks the capability's place in the list (upstream's offsets: 0x84,
 * MSI-X after it at 0x98), that the common configuration and the notify
 * area read through the window match direct BAR accesses, that writes
 * through it take effect (queue select, status, a notification), and
 * upstream's rules for bad accesses: length 3 or > 4, offsets past the BAR
 * or unaligned, a bar field other than 0 (still BAR 0, as upstream),
 * config accesses the bus refuses; none crashes or changes the device's
 * state, and the driver still brings the device up afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "virtio_pci_fixture.h"

#define CAP 0x84u /* upstream's offset of the capability */

/* Point the window at BAR 0 + off for `len` bytes. */
static void window(struct fx *f, uint32_t off, uint32_t len)
{
    wr(f, cfg(CAP + 8), 4, off);
    wr(f, cfg(CAP + 12), 4, len);
}

static uint32_t win_read(struct fx *f, uint32_t off, uint32_t len)
{
    window(f, off, len);
    return (uint32_t)rd(f, cfg(CAP + 16), 4);
}

static void win_write(struct fx *f, uint32_t off, uint32_t len, uint32_t v)
{
    window(f, off, len);
    wr(f, cfg(CAP + 16), 4, v);
}

static void test_capability_list(void **state)
{
    struct fx *f = *state;

    assert_int_equal(find_vendor_cap(f, 2), 0x70);
    assert_int_equal(rd(f, cfg(0x71), 1), CAP); /* notify's next */
    assert_int_equal(find_vendor_cap(f, 5), CAP);
    assert_int_equal(rd(f, cfg(CAP), 4), 0x05140000u | 0x9800u | 0x09u);
    assert_int_equal(find_msix_cap(f), 0x98);
    /* Fresh: bar 0, offset 0, length 0; with length 0 every window
     * register reads 0 (upstream reads `length` bytes of each). */
    for (unsigned o = 4; o < 20; o += 4)
        assert_int_equal(rd(f, cfg(CAP + o), 4), 0);
    window(f, 0x1234, 4);
    assert_int_equal(rd(f, cfg(CAP + 8), 4), 0x1234);
    assert_int_equal(rd(f, cfg(CAP + 12), 4), 4);
    assert_int_equal(rd(f, cfg(CAP + 12), 1), 4);
    window(f, 0x1234, 2); /* only `length` bytes of the offset read back */
    assert_int_equal(rd(f, cfg(CAP + 8), 4), 0x1234);
    window(f, 0x51234, 2);
    assert_int_equal(rd(f, cfg(CAP + 8), 4), 0x1234);
}

/* The common configuration's fields (4-byte halves of the addresses). */
static const struct {
    uint32_t off, len;
} fields[] = {
    {0x00, 4}, {0x04, 4}, {0x08, 4}, {0x0c, 4}, {0x10, 2}, {0x12, 2},
    {0x14, 1}, {0x15, 1}, {0x16, 2}, {0x18, 2}, {0x1a, 2}, {0x1c, 2},
    {0x1e, 2}, {0x20, 4}, {0x24, 4}, {0x28, 4}, {0x30, 4}, {0x34, 4},
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static void test_reads_match_bar(void **state)
{
    struct fx *f = *state;

    assert_int_equal(driver_init(f), 15);
    for (size_t i = 0; i < N_FIELDS; i++) {
        uint32_t off = fields[i].off, len = fields[i].len;

        assert_int_equal(win_read(f, off, len), rd(f, common(off), len));
    }
    assert_int_equal(win_read(f, 0x12, 2), 1); /* num_queues */
    assert_int_equal(win_read(f, 0x14, 1), 15);
    assert_int_not_equal(win_read(f, 0x20, 4), 0);
    /* A byte of pci_cfg_data: the BAR read, then that byte of it. */
    window(f, 0x18, 2);
    assert_int_equal(rd(f, cfg(CAP + 16), 1), 256 & 0xff);
    assert_int_equal(rd(f, cfg(CAP + 17), 1), 256 >> 8);
    /* The notify area, the MSI-X table and the device config. */
    assert_int_equal(win_read(f, VIRTIO_PCI_NOTIFY, 4),
                     rd(f, BAR + VIRTIO_PCI_NOTIFY, 4));
    assert_int_equal(win_read(f, VIRTIO_PCI_MSIX_TABLE + 24, 4), 0x31);
    assert_int_equal(win_read(f, VIRTIO_PCI_DEVICE_CFG, 4),
                     rd(f, BAR + VIRTIO_PCI_DEVICE_CFG, 4));
}

static void test_writes_take_effect(void **state)
{
    struct fx *f = *state;
    struct virtio_mmio *t = rng_transport(f->r);
    uint64_t n = 0;

    assert_int_equal(driver_init(f), 15);
    win_write(f, 0x16, 2, 5); /* queue_select */
    assert_int_equal(rd(f, common(0x16), 2), 5);
    assert_int_equal(rd(f, common(0x18), 2), 0); /* no queue 5 */
    win_write(f, 0x16, 2, 0);
    assert_int_equal(rd(f, common(0x18), 2), 256);
    win_write(f, 0x1a, 2, 0); /* the queue's vector */
    assert_int_equal(rd(f, common(0x1a), 2), 0);
    win_write(f, 0x1a, 2, 1);
    win_write(f, 0x10, 2, 1); /* the config vector */
    assert_int_equal(rd(f, common(0x10), 2), 1);
    win_write(f, 0x10, 2, 0);
    assert_int_equal(rd(f, common(0x10), 2), 0);
    /* A notification through the window signals the queue's eventfd. */
    win_write(f, VIRTIO_PCI_NOTIFY, 4, 0);
    assert_int_equal(read(t->queue_fd[0], &n, sizeof(n)), sizeof(n));
    assert_int_equal(n, 1);
    /* A 1-byte config write with length 4: one byte reaches the BAR, here
     * device_status: a reset. Then the driver again, directly. */
    window(f, 0x14, 4);
    wr(f, cfg(CAP + 16), 1, 0);
    assert_int_equal(rd(f, common(0x14), 1), 0);
    assert_int_equal(driver_init(f), 15);
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 1);
}

/* What the device shows a driver, to compare before and after. */
static void snapshot_common(struct fx *f, uint32_t *out)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        out[i] = (uint32_t)rd(f, common(fields[i].off), fields[i].len);
}

static void test_hostile_accesses(void **state)
{
    struct fx *f = *state;
    uint32_t before[N_FIELDS], after[N_FIELDS];

    assert_int_equal(driver_init(f), 15);
    snapshot_common(f, before);
    /* Length 3: the BAR takes no 3-byte common config access. */
    assert_int_equal(win_read(f, 0x16, 3), 0);
    win_write(f, 0x16, 3, 0x111111);
    /* Longer than pci_cfg_data: reads 0 everywhere, writes nothing. */
    assert_int_equal(win_read(f, 0x12, 8), 0);
    assert_int_equal(rd(f, cfg(CAP + 8), 4), 0);
    win_write(f, 0x16, 8, 7);
    win_write(f, 0x16, 0xffffffff, 7);
    /* Offsets past the BAR, in its gaps, unaligned in a field. */
    assert_int_equal(win_read(f, VIRTIO_PCI_BAR_SIZE, 4), 0);
    assert_int_equal(win_read(f, 0xfffffffc, 4), 0);
    win_write(f, 0xfffffffc, 4, 7);
    win_write(f, VIRTIO_PCI_BAR_SIZE + 0x16, 2, 7);
    assert_int_equal(win_read(f, 0x1000, 4), 0);
    win_write(f, 0x1000, 4, 7);
    assert_int_equal(win_read(f, 0x17, 1), 0);
    win_write(f, 0x17, 1, 7);
    win_write(f, 0x15, 2, 7);
    /* Read-only fields stay so through the window. */
    win_write(f, 0x12, 2, 9);
    /* Length 0: nothing. */
    assert_int_equal(win_read(f, 0x12, 0), 0);
    win_write(f, 0x16, 0, 7);
    /* Config accesses the bus refuses: unaligned writes, 3 bytes,
     * crossing a dword. */
    window(f, 0x16, 2);
    wr(f, cfg(CAP + 17), 2, 7);
    wr(f, cfg(CAP + 18), 4, 7);
    wr(f, cfg(CAP + 16), 3, 7);
    assert_int_equal(rd(f, cfg(CAP + 18), 4) & 0xffffffffu, 0xffffffffu);
    snapshot_common(f, after);
    assert_memory_equal(before, after, sizeof(before));
    /* cap_len and cfg_type written through the window: stored in it (as
     * upstream), the list's header still reads as built. */
    wr(f, cfg(CAP + 2), 2, 0xffff);
    assert_int_equal(rd(f, cfg(CAP), 4), 0x05149809u);
    assert_int_equal(f->p.cfg_cap[0], 0xff);
    /* bar != 0: upstream does not look at it, the access is BAR 0's. */
    wr(f, cfg(CAP + 4), 1, 5);
    assert_int_equal(win_read(f, 0x12, 2), 1);
    window(f, 0x16, 2);
    assert_int_equal(rd(f, cfg(CAP + 4), 1), 5);
    /* The device still works. */
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_capability_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_match_bar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_take_effect, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hostile_accesses, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
