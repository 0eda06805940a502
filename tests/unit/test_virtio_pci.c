/*
 * test_virtio_pci.c: the virtio-pci transport (devices/pci/virtio_pci.h)
 * in front of a real device, virtio-rng, in-process: the guest's side is
 * played through the real MMIO bus (ECAM for config space, the BAR for the
 * virtio structures), with a fake VMM for MSI-X routing.
 *
 * It checks the PCI identity and capabilities a driver looks for, BAR
 * sizing, the Linux driver's init sequence through the common
 * configuration, an entropy request completed with the queue's MSI-X
 * vector raised (and only it), a masked vector left pending and delivered
 * on unmask, the config vector on a config interrupt, and hostile accesses
 * (wrong sizes, read-only fields, vectors out of range, queue_select out of
 * range, gaps in the BAR, invalid status transitions), after each of which
 * the device still works.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "virtio_pci_fixture.h"

static void test_identity_and_caps(void **state)
{
    struct fx *f = *state;
    unsigned c;

    assert_int_equal(rd(f, cfg(0), 4), 0x10441af4);
    assert_int_equal(rd(f, cfg(0x08), 4), 0xffff0001); /* class, rev 1 */
    assert_int_equal(rd(f, cfg(0x2c), 4), 0x10441af4);
    assert_int_equal(rd(f, cfg(0x06), 2) & PCI_STATUS_CAP_LIST,
                     PCI_STATUS_CAP_LIST);
    /* BAR 0: 64-bit memory at BAR, 512 KiB. */
    assert_int_equal(rd(f, cfg(0x10), 4), 0x4);
    assert_int_equal(rd(f, cfg(0x14), 4), BAR >> 32);
    wr(f, cfg(0x10), 4, 0xffffffff);
    assert_int_equal(rd(f, cfg(0x10), 4), 0xfff80004);
    wr(f, cfg(0x10), 4, 0x4);
    /* The four virtio structures, all in BAR 0, where the BAR has them. */
    c = find_vendor_cap(f, 1);
    assert_true(c);
    assert_int_equal(rd(f, cfg(c + 2), 1), 16);
    assert_int_equal(rd(f, cfg(c + 4), 1), 0);
    assert_int_equal(rd(f, cfg(c + 8), 4), VIRTIO_PCI_COMMON);
    assert_int_equal(rd(f, cfg(c + 12), 4), 56);
    c = find_vendor_cap(f, 3);
    assert_int_equal(rd(f, cfg(c + 8), 4), VIRTIO_PCI_ISR);
    c = find_vendor_cap(f, 4);
    assert_int_equal(rd(f, cfg(c + 8), 4), VIRTIO_PCI_DEVICE_CFG);
    assert_int_equal(rd(f, cfg(c + 12), 4), 0x1000);
    c = find_vendor_cap(f, 2);
    assert_int_equal(rd(f, cfg(c + 2), 1), 20);
    assert_int_equal(rd(f, cfg(c + 8), 4), VIRTIO_PCI_NOTIFY);
    assert_int_equal(rd(f, cfg(c + 16), 4), 4); /* notify multiplier */
    /* MSI-X: 2 vectors (queue + config), table and PBA in BAR 0. */
    c = find_msix_cap(f);
    assert_true(c);
    assert_int_equal(rd(f, cfg(c + 2), 2), 1); /* size 2, disabled */
    assert_int_equal(rd(f, cfg(c + 4), 4), VIRTIO_PCI_MSIX_TABLE);
    assert_int_equal(rd(f, cfg(c + 8), 4), VIRTIO_PCI_MSIX_PBA);
    /* Table size and offsets are read-only. */
    wr(f, cfg(c + 2), 2, 0x07ff);
    wr(f, cfg(c + 4), 4, 0x1234);
    assert_int_equal(rd(f, cfg(c + 2), 2), 1);
    assert_int_equal(rd(f, cfg(c + 4), 4), VIRTIO_PCI_MSIX_TABLE);
}

static void test_request_raises_queue_vector(void **state)
{
    struct fx *f = *state;
    uint8_t *buf = g2h(&f->mem, BUF, 64);

    assert_int_equal(driver_init(f), 15);
    assert_int_equal(f->vm.n_routes, 2);
    memset(buf, 0, 64);
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 1);
    assert_int_equal(fired(f, 0), 0);
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 1);
    /* A config interrupt (the device's NEEDS_RESET path) raises vector 0
     * only. */
    bus_dev_lock(&f->d.t->bus);
    virtio_mmio_set_needs_reset(f->d.t);
    bus_dev_unlock(&f->d.t->bus);
    assert_int_equal(fired(f, 0), 1);
    assert_int_equal(fired(f, 1), 0);
    assert_true(rd(f, common(0x14), 1) & SQ_VIRTIO_STATUS_NEEDS_RESET);
    /* ISR read clears it. */
    assert_int_equal(rd(f, BAR + VIRTIO_PCI_ISR, 1), 3);
    assert_int_equal(rd(f, BAR + VIRTIO_PCI_ISR, 1), 0);
}

static void test_masked_vector_pends(void **state)
{
    struct fx *f = *state;
    uint64_t e1 = BAR + VIRTIO_PCI_MSIX_TABLE + 16;

    assert_int_equal(driver_init(f), 15);
    wr(f, e1 + 12, 4, 1); /* mask the queue's vector */
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 0);
    assert_int_equal(rd(f, BAR + VIRTIO_PCI_MSIX_PBA, 8), 2);
    wr(f, e1 + 12, 4, 0);
    assert_int_equal(fired(f, 1), 1);
    assert_int_equal(rd(f, BAR + VIRTIO_PCI_MSIX_PBA, 8), 0);
    /* The function mask holds it too. */
    wr(f, cfg(find_msix_cap(f) + 2), 2, MSIX_CTL_ENABLE | MSIX_CTL_FMASK);
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 0);
    msix_enable(f, true);
    assert_int_equal(fired(f, 1), 1);
    /* No vector for the queue: nothing is raised. */
    wr(f, common(0x16), 2, 0);
    wr(f, common(0x1a), 2, MSIX_NO_VECTOR);
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1) + fired(f, 0), 0);
}

static void test_hostile_accesses(void **state)
{
    struct fx *f = *state;
    uint8_t b[8];

    /* Vectors out of range read back as NO_VECTOR. */
    wr(f, common(0x10), 2, 2);
    assert_int_equal(rd(f, common(0x10), 2), MSIX_NO_VECTOR);
    wr(f, common(0x16), 2, 0);
    wr(f, common(0x1a), 2, 0x7fff);
    assert_int_equal(rd(f, common(0x1a), 2), MSIX_NO_VECTOR);
    /* queue_select out of range: the queue fields read 0 / NO_VECTOR and
     * writes go nowhere. */
    wr(f, common(0x16), 2, 9);
    assert_int_equal(rd(f, common(0x18), 2), 0);
    assert_int_equal(rd(f, common(0x1a), 2), MSIX_NO_VECTOR);
    wr(f, common(0x1a), 2, 1);
    wr(f, common(0x1c), 2, 1);
    wr(f, common(0x20), 8, 0x1234);
    assert_int_equal(rd(f, common(0x20), 8), 0);
    /* Wrong sizes and misaligned fields are ignored; read-only fields
     * keep their values. */
    wr(f, common(0x14), 4, 0xffffffff);
    wr(f, common(0x12), 2, 7);
    wr(f, common(0x15), 1, 9);
    wr(f, common(0x1e), 2, 5);
    wr(f, common(0x04), 4, 0);
    wr(f, common(0x01), 2, 0xffff);
    wr(f, common(0x22), 4, 0xffff);
    assert_int_equal(rd(f, common(0x14), 1), 0);
    assert_int_equal(rd(f, common(0x12), 2), 1);
    assert_int_equal(rd(f, common(0x14), 2), 0); /* wrong size: 0 */
    assert_int_equal(rd(f, common(0x36), 4), 0); /* past the structure */
    /* Invalid status transitions are refused (state machine of mmio.c). */
    wr(f, common(0x14), 1, SQ_VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(rd(f, common(0x14), 1), 0);
    /* Gaps, the read-only PBA and ISR, past the MSI-X table, 8-byte and
     * odd accesses: nothing breaks. */
    wr(f, BAR + 0x1000, 4, 0xffffffff);
    wr(f, BAR + VIRTIO_PCI_MSIX_PBA, 8, ~0ull);
    wr(f, BAR + VIRTIO_PCI_ISR, 1, 0xff);
    wr(f, BAR + VIRTIO_PCI_MSIX_TABLE + 32, 4, 0);
    wr(f, BAR + VIRTIO_PCI_NOTIFY + 4, 4, 0); /* queue 1 does not exist */
    wr(f, BAR + VIRTIO_PCI_NOTIFY + 2, 2, 0); /* not a queue's slot */
    assert_int_equal(evloop_eventfd_drain(f->d.t->queue_fd[0]), 0);
    assert_int_equal(rd(f, BAR + 0x1000, 4), 0);
    assert_int_equal(rd(f, BAR + VIRTIO_PCI_MSIX_TABLE + 32, 4), 0xffffffff);
    assert_int_equal(rd(f, BAR + VIRTIO_PCI_DEVICE_CFG + 0xffc, 4), 0);
    assert_int_equal(rd(f, BAR + VIRTIO_PCI_NOTIFY, 4), 0);
    memset(b, 0xff, sizeof(b));
    pthread_mutex_lock(&f->p.bar.lock);
    virtio_pci_bar_read(&f->p.bar, VIRTIO_PCI_BAR_SIZE, b, 4);
    virtio_pci_bar_write(&f->p.bar, UINT64_MAX - 1, b, 4);
    virtio_pci_bar_read(&f->p.bar, 0, b, 0);
    pthread_mutex_unlock(&f->p.bar.lock);
    assert_int_equal(pci_bytes_get(b, 4), 0);
    /* After all that, the driver still brings the device up and it works. */
    assert_int_equal(driver_init(f), 15);
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 1);
}

static void test_reset_and_again(void **state)
{
    struct fx *f = *state;

    assert_int_equal(driver_init(f), 15);
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 1);
    /* Reset: used index starts over; the next request still raises the
     * queue's vector. */
    wr(f, common(0x14), 1, 0);
    assert_int_equal(rd(f, common(0x14), 1), 0);
    memset(g2h(&f->mem, DRV_DESC, DRV_QSTRIDE), 0, DRV_QSTRIDE);
    drv_view(&f->d, &f->mem, rng_transport(f->r), 256, 0);
    assert_int_equal(driver_init(f), 15);
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 1);
}

static void test_init_refused(void **state)
{
    struct fx *f = *state;
    struct virtio_pci p2;

    /* A BAR address that is not 512 KiB aligned. */
    assert_int_equal(virtio_pci_init(&p2, f->d.t, BAR + 0x1000, 30), -EINVAL);
    virtio_pci_fini(&p2);
    virtio_pci_fini(&p2);
    /* The first transport is still the one hooked. */
    assert_ptr_equal(f->d.t->irq_opaque, &f->p);
    assert_int_equal(virtio_pci_n_vectors(f->d.t), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_and_caps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_request_raises_queue_vector, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_masked_vector_pends, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hostile_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_and_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_refused, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
