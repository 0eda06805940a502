/*
 * fake_pci_machine.h: the PCI half of a unit test's fake machine
 * (struct vmm_machine_ops): at InstanceStart with --enable-pci it builds
 * the real device list (vdev.h) and PCI root (pci_attach.h) onto buses of
 * its own, and its hot-plug ops run the real core (pci_hotplug.h) with no
 * KVM: vm_fd -1, notification ioeventfds counted by a fake that can be
 * told to fail, and a bus update that can be told to fail. Everything a
 * guest would reach is reachable through the buses (ECAM, BARs).
 */
#ifndef SQUIB_TESTS_UNIT_FAKE_PCI_MACHINE_H
#define SQUIB_TESTS_UNIT_FAKE_PCI_MACHINE_H

#include <errno.h>
#include <string.h>

#include "devices/pci/root.h"
#include "devices/pci/virtio_pci.h"
#include "vmm/pci_attach.h"
#include "vmm/pci_hotplug.h"
#include "vmm/vdev.h"
#include "vmm/vmm.h"

struct fake_pci {
    bool built;
    struct vdev_list l;
    struct vmm_pci *p;
    struct bus mmio, pio;
    int ioeventfds;     /* registered now */
    int fail_ioeventfd; /* fail registrations from the n-th one on (1..) */
    int registrations;  /* registrations tried so far */
    int fail_bus;       /* the bus update fails with this -errno */
};

static struct fake_pci *g_fake_pci;

static int fake_pci_ioeventfd(int vm_fd, int fd, uint64_t addr, bool deassign)
{
    (void)vm_fd;
    (void)fd;
    (void)addr;
    if (deassign) {
        g_fake_pci->ioeventfds--;
        return 0;
    }
    g_fake_pci->registrations++;
    if (g_fake_pci->fail_ioeventfd &&
        g_fake_pci->registrations >= g_fake_pci->fail_ioeventfd)
        return -ENOSPC;
    g_fake_pci->ioeventfds++;
    return 0;
}

static int fake_pci_update(void *ctx, machine_bus_fn *fn, void *opaque,
                           struct sq_err *err)
{
    struct fake_pci *fp = ctx;

    (void)err;
    if (fp->fail_bus)
        return fp->fail_bus;
    return fn(&fp->mmio, &fp->pio, opaque);
}

/* InstanceStart's PCI devices, as vmm_start.c places them. */
static int fake_pci_build(struct fake_pci *fp, struct vmm *v,
                          struct sq_err *err)
{
    const struct machine_bus_range *ranges;
    size_t n = 0;
    int rc;

    g_fake_pci = fp;
    bus_init(&fp->mmio);
    bus_init(&fp->pio);
    fp->built = true;
    rc = vdev_list_create(&fp->l, &v->res, NULL, err);
    if (rc == 0)
        rc = vmm_pci_new(&fp->l, &fp->p, err);
    if (rc)
        return rc;
    vmm_pci_set_ioeventfd_fn(fp->p, fake_pci_ioeventfd);
    ranges = vmm_pci_ranges(fp->p, &n);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = bus_add(ranges[i].is_pio ? &fp->pio : &fp->mmio, ranges[i].base,
                     ranges[i].len, ranges[i].dev);
    rc = rc ? rc : vdev_list_attach(&fp->l, NULL, -1, NULL, err);
    return rc ? rc : vmm_pci_attach(fp->p, -1, err);
}

static void fake_pci_free(struct fake_pci *fp)
{
    if (!fp->built)
        return;
    vmm_pci_detach(fp->p);
    vdev_list_detach(&fp->l);
    vmm_pci_free(fp->p);
    vdev_list_free(&fp->l);
    bus_fini(&fp->mmio);
    bus_fini(&fp->pio);
    memset(fp, 0, sizeof(*fp));
}

static struct pci_hotplug fake_pci_ctx(struct fake_pci *fp)
{
    return (struct pci_hotplug){&fp->l, fp->p,           NULL, -1,
                                NULL,   fake_pci_update, fp};
}

static int fake_pci_hotplug(struct fake_pci *fp, struct vmm *v, enum vmm_op op,
                            size_t index, struct sq_err *err)
{
    struct pci_hotplug h = fake_pci_ctx(fp);
    unsigned slot = 0;

    if (!fp->built)
        return sq_errf(err, -ENODEV, "PCI is not enabled");
    return pci_hotplug_attach(&h, op, &v->res, index, &slot, err);
}

static int fake_pci_unplug(struct fake_pci *fp, enum vmm_op op, const char *id,
                           struct sq_err *err)
{
    struct pci_hotplug h = fake_pci_ctx(fp);

    if (!fp->built)
        return sq_errf(err, -ENODEV, "PCI is not enabled");
    return pci_hotplug_detach(&h, op, id, err);
}

/* The vendor and device IDs in slot `slot` as a guest reads them through
 * ECAM (0xffffffff for an empty slot). */
static uint32_t fake_pci_ids(struct fake_pci *fp, unsigned slot)
{
    uint8_t b[4] = {0, 0, 0, 0};

    (void)bus_read(&fp->mmio, PCI_ECAM_BASE + ((uint64_t)slot << 15), b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

/* Whether slot `slot`'s BAR is on the MMIO bus. */
static bool fake_pci_bar_mapped(struct fake_pci *fp, unsigned slot)
{
    uint8_t b[4];

    return bus_read(&fp->mmio, vmm_pci_bar_addr(slot), b, 4) == 0;
}

/* The 64-bit little-endian value at `off` of slot `slot`'s device
 * configuration (virtio-pmem: 0 its window's start, 8 its size) as a
 * guest reads it through the BAR, in two 32-bit reads. */
static uint64_t fake_pci_dev_cfg64(struct fake_pci *fp, unsigned slot,
                                   uint64_t off)
{
    uint64_t at = vmm_pci_bar_addr(slot) + VIRTIO_PCI_DEVICE_CFG + off;
    uint8_t b[8] = {0};
    uint64_t v = 0;

    (void)bus_read(&fp->mmio, at, b, 4);
    (void)bus_read(&fp->mmio, at + 4, b + 4, 4);
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

#endif
