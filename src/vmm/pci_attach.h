/*
 * pci_attach.h: how the vmm puts the virtio devices on PCI (--enable-pci)
 * instead of virtio-mmio: the root bus (devices/pci/root.h), one
 * virtio-pci transport per device (devices/pci/virtio_pci.h) in attach
 * order, slots 1.. and BARs of 512 KiB from the bottom of the 64-bit MMIO
 * window (0x40_0000_0000), MSI-X vectors on GSIs from 24 routed through the
 * VM's routing table (vmm/msi_routes.h), notification ioeventfds. The
 * transports know neither the machine nor KVM; this adapter gives the
 * machine their register ranges and gives them KVM.
 *
 * Order (vmm_start.c): vmm_pci_new (after the device list) ->
 * machine_create with vmm_pci_ranges -> the devices' attach with vm_fd -1
 * -> vmm_pci_attach ... vmm_pci_detach -> the devices' detach ->
 * machine_destroy -> vmm_pci_free -> the device list's free.
 */
#ifndef SQUIB_VMM_PCI_ATTACH_H
#define SQUIB_VMM_PCI_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "vmm/machine.h"
#include "vmm/vdev.h"

#define VMM_PCI_BAR_BASE 0x4000000000ull

struct vmm_pci;
struct virtio_pci;
struct pci_root;

/* Where one device sits: its slot on bus 0, its BAR, its first GSI. */
struct vmm_pci_place {
    unsigned slot;
    uint64_t bar;
    uint32_t first_gsi;
};

/*
 * A PCI front for every device of `l` (borrowed; must outlive the
 * result), each on the next slot, BAR and GSIs. 0 and *out (caller owns),
 * or -errno with err set: more devices than the 31 slots, or no GSIs left.
 */
int vmm_pci_new(const struct vdev_list *l, struct vmm_pci **out,
                struct sq_err *err);

/*
 * The same with at[i] placing device i (a snapshot's restore): slots
 * 1..31 each used once, BARs 512 KiB-aligned in the 64-bit window, GSI
 * ranges inside MSI-X's that no two devices share; -EINVAL / -EBUSY with
 * err set otherwise.
 */
int vmm_pci_new_at(const struct vdev_list *l, const struct vmm_pci_place *at,
                   struct vmm_pci **out, struct sq_err *err);

/* Device i's transport (same index as the list's device), its slot, and
 * the root bus, for a snapshot (vmm/pci_snap.h); borrowed. */
struct virtio_pci *vmm_pci_dev(struct vmm_pci *p, size_t i);
unsigned vmm_pci_slot(const struct vmm_pci *p, size_t i);
struct pci_root *vmm_pci_root(struct vmm_pci *p);

/* The ranges the machine must map (ECAM, ports, the BARs); borrowed from
 * p, *n set to their count. */
const struct machine_bus_range *vmm_pci_ranges(const struct vmm_pci *p,
                                               size_t *n);

/*
 * Connect to the built machine's VM: MSI-X routing and the notification
 * ioeventfds. The routes of every vector the guest left live (a restored
 * state) are pushed to KVM at once, before any irqfd. 0, or -errno with
 * err set and nothing left registered.
 */
int vmm_pci_attach(struct vmm_pci *p, int vm_fd, struct sq_err *err);

/* Undo vmm_pci_attach (before the VM fd closes); idempotent. */
void vmm_pci_detach(struct vmm_pci *p);

/* Free everything, unhooking the transports from the devices; after the
 * machine is destroyed and before the devices are freed. NULL-safe. */
void vmm_pci_free(struct vmm_pci *p);

#endif
