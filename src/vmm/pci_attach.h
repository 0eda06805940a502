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

#include "util/err.h"
#include "vmm/machine.h"
#include "vmm/vdev.h"

#define VMM_PCI_BAR_BASE 0x4000000000ull

struct vmm_pci;

/*
 * A PCI front for every device of `l` (borrowed; must outlive the
 * result). 0 and *out (caller owns), or -errno with err set: more devices
 * than the 31 slots, or no GSIs left.
 */
int vmm_pci_new(const struct vdev_list *l, struct vmm_pci **out,
                struct sq_err *err);

/* The ranges the machine must map (ECAM, ports, the BARs); borrowed from
 * p, *n set to their count. */
const struct machine_bus_range *vmm_pci_ranges(const struct vmm_pci *p,
                                               size_t *n);

/*
 * Connect to the built machine's VM: MSI-X routing and the notification
 * ioeventfds. 0, or -errno with err set and nothing left registered.
 */
int vmm_pci_attach(struct vmm_pci *p, int vm_fd, struct sq_err *err);

/* Undo vmm_pci_attach (before the VM fd closes); idempotent. */
void vmm_pci_detach(struct vmm_pci *p);

/* Free everything, unhooking the transports from the devices; after the
 * machine is destroyed and before the devices are freed. NULL-safe. */
void vmm_pci_free(struct vmm_pci *p);

#endif
