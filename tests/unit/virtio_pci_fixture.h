/*
 * virtio_pci_fixture.h: virtio-rng behind the virtio-pci transport
 * (devices/pci/virtio_pci.h), in-process, for unit tests: the guest's side
 * is played through the real MMIO bus (ECAM for config space, the BAR for
 * the virtio structures), with a fake VMM for MSI-X routing that counts
 * routes. setup/teardown are cmocka fixtures over a struct fx; the helpers
 * are the guest's accesses, the Linux driver's init, one entropy request
 * and the interrupts raised on a vector. Include from one test file per
 * binary (static functions only).
 */
#ifndef SQUIB_TESTS_VIRTIO_PCI_FIXTURE_H
#define SQUIB_TESTS_VIRTIO_PCI_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/pci/root.h"
#include "devices/pci/virtio_pci.h"
#include "devices/virtio/rng.h"
#include "pci_bytes.h"
#include "virtq_driver.h"

#define MEM_SIZE 0x400000ULL
#define BUF      0x100000ULL
#define BAR      0x4000000000ULL
#define SLOT     1u

struct fake_vm {
    int n_routes;
    int n_irqfds; /* registered now */
    uint32_t last_gsi, last_data;
};

static __attribute__((unused)) int fake_route(void *ctx, uint32_t gsi,
                                              uint64_t addr, uint32_t data)
{
    struct fake_vm *vm = ctx;

    (void)addr;
    vm->n_routes++;
    vm->last_gsi = gsi;
    vm->last_data = data;
    return 0;
}

static __attribute__((unused)) int fake_irqfd(void *ctx, int efd, uint32_t gsi,
                                              bool deassign)
{
    struct fake_vm *vm = ctx;

    (void)efd;
    (void)gsi;
    vm->n_irqfds += deassign ? -1 : 1;
    return 0;
}

static const struct msix_irq_ops fake_ops = {fake_route, fake_irqfd};

struct fx {
    struct drv_mem mem;
    struct drv d;
    struct rng *r;
    struct virtio_pci p;
    struct pci_root root;
    struct bus mmio, pio;
    struct fake_vm vm;
};

/* Guest accesses through the bus. */
static __attribute__((unused)) uint64_t rd(struct fx *f, uint64_t addr,
                                           uint32_t len)
{
    uint8_t b[8] = {0};

    assert_int_equal(bus_read(&f->mmio, addr, b, len), 0);
    return pci_bytes_get(b, 4) | (uint64_t)pci_bytes_get(b + 4, 4) << 32;
}

static __attribute__((unused)) void wr(struct fx *f, uint64_t addr,
                                       uint32_t len, uint64_t v)
{
    uint8_t b[8];

    pci_bytes_put(b, (uint32_t)v);
    pci_bytes_put(b + 4, (uint32_t)(v >> 32));
    assert_int_equal(bus_write(&f->mmio, addr, b, len), 0);
}

static __attribute__((unused)) uint64_t cfg(unsigned off)
{
    return PCI_ECAM_BASE + (SLOT << 15) + off;
}

static __attribute__((unused)) uint64_t common(unsigned off)
{
    return BAR + VIRTIO_PCI_COMMON + off;
}

static __attribute__((unused)) int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct sq_err err;
    unsigned slot = 0;

    drv_mem_init(&f->mem, MEM_SIZE);
    sq_err_clear(&err);
    assert_int_equal(rng_new(NULL, &f->r, &err), 0);
    bus_init(&f->mmio);
    bus_init(&f->pio);
    pci_root_init(&f->root);
    assert_int_equal(pci_root_register(&f->root, &f->mmio, &f->pio), 0);
    assert_int_equal(virtio_pci_init(&f->p, rng_transport(f->r), BAR, 24), 0);
    assert_int_equal(pci_root_add(&f->root, &f->p.pci, &slot), 0);
    assert_int_equal(slot, SLOT);
    assert_int_equal(bus_add(&f->mmio, BAR, VIRTIO_PCI_BAR_SIZE, &f->p.bar), 0);
    msix_connect(&f->p.msix, &fake_ops, &f->vm);
    /* No MMIO ioeventfds (vm_fd -1) and no loop: the test plays the loop
     * with virtio_mmio_notify(). */
    assert_int_equal(rng_attach(f->r, &f->mem.gm, -1, BAR, NULL), 0);
    drv_view(&f->d, &f->mem, rng_transport(f->r), 256, 0);
    memset(g2h(&f->mem, DRV_DESC, DRV_QSTRIDE), 0, DRV_QSTRIDE);
    *state = f;
    return 0;
}

static __attribute__((unused)) int teardown(void **state)
{
    struct fx *f = *state;

    virtio_pci_fini(&f->p);
    rng_free(f->r);
    pci_root_fini(&f->root);
    bus_fini(&f->mmio);
    bus_fini(&f->pio);
    drv_mem_fini(&f->mem);
    free(f);
    return 0;
}

/* The capability of `type` in the list (vendor id 9), or 0. */
static __attribute__((unused)) unsigned find_vendor_cap(struct fx *f,
                                                        uint8_t type)
{
    unsigned p = (unsigned)rd(f, cfg(0x34), 1);

    for (int n = 0; p && n < 48; n++) {
        if (rd(f, cfg(p), 1) == PCI_CAP_ID_VENDOR &&
            rd(f, cfg(p + 3), 1) == type)
            return p;
        p = (unsigned)rd(f, cfg(p + 1), 1);
    }
    return 0;
}

static __attribute__((unused)) unsigned find_msix_cap(struct fx *f)
{
    unsigned p = (unsigned)rd(f, cfg(0x34), 1);

    for (int n = 0; p && n < 48; n++) {
        if (rd(f, cfg(p), 1) == PCI_CAP_ID_MSIX)
            return p;
        p = (unsigned)rd(f, cfg(p + 1), 1);
    }
    return 0;
}

/* Enable MSI-X and program vector v with data `data`, unmasked. */
static __attribute__((unused)) void msix_vector(struct fx *f, unsigned v,
                                                uint32_t data)
{
    uint64_t e = BAR + VIRTIO_PCI_MSIX_TABLE + 16u * v;

    wr(f, e, 8, 0xfee00000ull);
    wr(f, e + 8, 4, data);
    wr(f, e + 12, 4, 0);
}

static __attribute__((unused)) void msix_enable(struct fx *f, bool on)
{
    unsigned c = find_msix_cap(f);

    wr(f, cfg(c + 2), 2, on ? MSIX_CTL_ENABLE : 0);
}

/* The Linux driver's modern init, MSI-X vector 0 for config changes and
 * 1 for the queue. Returns the status read back. */
static __attribute__((unused)) uint32_t driver_init(struct fx *f)
{
    msix_enable(f, true);
    msix_vector(f, 0, 0x30);
    msix_vector(f, 1, 0x31);
    wr(f, common(0x14), 1, 0);
    assert_int_equal(rd(f, common(0x14), 1), 0);
    wr(f, common(0x14), 1, SQ_VIRTIO_STATUS_ACK);
    wr(f, common(0x14), 1, SQ_VIRTIO_STATUS_ACK | SQ_VIRTIO_STATUS_DRIVER);
    wr(f, common(0x00), 4, 1);
    assert_true(rd(f, common(0x04), 4) & 1); /* VERSION_1 */
    wr(f, common(0x08), 4, 0);
    wr(f, common(0x0c), 4, 0);
    wr(f, common(0x08), 4, 1);
    wr(f, common(0x0c), 4, 1);
    assert_int_equal(rd(f, common(0x0c), 4), 1);
    wr(f, common(0x14), 1,
       SQ_VIRTIO_STATUS_ACK | SQ_VIRTIO_STATUS_DRIVER |
           SQ_VIRTIO_STATUS_FEATURES_OK);
    assert_true(rd(f, common(0x14), 1) & SQ_VIRTIO_STATUS_FEATURES_OK);
    wr(f, common(0x10), 2, 0);
    assert_int_equal(rd(f, common(0x10), 2), 0);
    assert_int_equal(rd(f, common(0x12), 2), 1);
    wr(f, common(0x16), 2, 0);
    assert_int_equal(rd(f, common(0x18), 2), 256);
    wr(f, common(0x18), 2, 256);
    wr(f, common(0x1a), 2, 1);
    assert_int_equal(rd(f, common(0x1a), 2), 1);
    /* Linux writes the 64-bit addresses as two halves; take one whole. */
    wr(f, common(0x20), 4, DRV_DESC);
    wr(f, common(0x24), 4, 0);
    wr(f, common(0x28), 8, DRV_AVAIL);
    wr(f, common(0x30), 4, DRV_USED);
    wr(f, common(0x34), 4, 0);
    assert_int_equal(rd(f, common(0x28), 8), DRV_AVAIL);
    assert_int_equal(rd(f, common(0x30), 4), DRV_USED);
    assert_int_equal(rd(f, common(0x1e), 2), 0);
    wr(f, common(0x1c), 2, 1);
    assert_int_equal(rd(f, common(0x1c), 2), 1);
    wr(f, common(0x14), 1,
       SQ_VIRTIO_STATUS_ACK | SQ_VIRTIO_STATUS_DRIVER |
           SQ_VIRTIO_STATUS_FEATURES_OK | SQ_VIRTIO_STATUS_DRIVER_OK);
    evloop_eventfd_drain(f->d.t->queue_fd[0]);
    return (uint32_t)rd(f, common(0x14), 1);
}

/* Interrupts raised on vector v since the last call. */
static __attribute__((unused)) uint64_t fired(struct fx *f, unsigned v)
{
    return evloop_eventfd_drain(f->p.msix.vec[v].efd);
}

/* One 64-byte entropy request: publish, notify through the notify
 * region, run the queue as the loop would; returns the used length. */
static __attribute__((unused)) uint32_t request(struct fx *f)
{
    uint16_t before = drv_used_idx(&f->d);
    uint32_t id, len;

    drv_desc(&f->d, before % 256, BUF, 64, SQ_VIRTQ_DESC_F_WRITE, 0);
    drv_publish(&f->d, before % 256);
    wr(f, BAR + VIRTIO_PCI_NOTIFY, 2, 0); /* no ioeventfd: signals */
    assert_int_equal(evloop_eventfd_drain(f->d.t->queue_fd[0]), 1);
    virtio_mmio_notify(f->d.t, 0);
    assert_int_equal(drv_used_idx(&f->d), (uint16_t)(before + 1));
    drv_used_elem(&f->d, before, &id, &len);
    assert_int_equal(id, before % 256);
    return len;
}

#endif
