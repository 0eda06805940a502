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
 *
 * Hot-plug after boot (pci_hotplug.h drives it): vmm_pci_plug gives a
 * device already built and attached to the loop the lowest free slot, that
 * slot's BAR, free GSIs, MSI-X routing and ioeventfds, then puts it on the
 * root bus and the MMIO bus through `update`, which must run the change
 * with no vCPU inside a bus lookup (machine_bus_update); vmm_pci_unplug
 * takes it off both buses the same way first, then gives everything back.
 * All on the vmm thread.
 */
#ifndef SQUIB_VMM_PCI_ATTACH_H
#define SQUIB_VMM_PCI_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "devices/pci/virtio_pci.h"
#include "util/err.h"
#include "vmm/machine.h"
#include "vmm/vdev.h"

#define VMM_PCI_BAR_BASE 0x4000000000ull
/* Upstream's VmmActionError::PciManager, before a PciManagerError. */
#define VMM_PCI_ERR_PREFIX "PCI manager error: "

struct vmm_pci;
struct pci_root;

/* Where one device sits: its slot on bus 0, its BAR, its first GSI. */
struct vmm_pci_place {
    unsigned slot;
    uint64_t bar;
    uint32_t first_gsi;
};

/*
 * A PCI front for every device of `l` (borrowed; must outlive the
 * result). 0 and *out (caller owns), or -errno with err set: more devices
 * than the 31 slots, or no GSIs left.
 */
int vmm_pci_new(const struct vdev_list *l, struct vmm_pci **out,
                struct sq_err *err);

/*
 * The same with at[i] placing device i (a snapshot's restore): slots
 * 1..31 each used once, each BAR its slot's (vmm_pci_bar_addr), GSI ranges
 * inside MSI-X's that no two devices share; -EBUSY (a slot twice) or
 * -EINVAL with err set otherwise. A later hot-plug takes what is free.
 */
int vmm_pci_new_at(const struct vdev_list *l, const struct vmm_pci_place *at,
                   struct vmm_pci **out, struct sq_err *err);

/* The transport in slot `slot`, or NULL for an empty slot; borrowed. */
struct virtio_pci *vmm_pci_dev(struct vmm_pci *p, unsigned slot);

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

/* The BAR of device slot `slot` (1..31). */
uint64_t vmm_pci_bar_addr(unsigned slot);

/* Runs fn(mmio, pio, opaque) with no vCPU inside a bus lookup and returns
 * its result (machine_bus_update's shape; err set only by the runner's
 * own failure, fn sets none). */
typedef int vmm_pci_bus_update_fn(void *ctx, machine_bus_fn *fn, void *opaque,
                                  struct sq_err *err);

/*
 * Put the device whose virtio state is `t` on the running bus (see the
 * top). 0 and *slot, or -errno with err set to upstream's text after
 * "PCI manager error: " (a full bus: PCI_ERR_NO_SLOT) and nothing taken:
 * no slot, GSI, route, irqfd or ioeventfd, no bus range.
 */
int vmm_pci_plug(struct vmm_pci *p, struct virtio_mmio *t,
                 vmm_pci_bus_update_fn *update, void *ctx, unsigned *slot,
                 struct sq_err *err);

/*
 * Take the device whose virtio state is `t` off the buses, then release
 * its ioeventfds, irqfds, GSIs, transport and slot (the device itself
 * stays the caller's). 0, or -errno with err set: -ENODEV when t is not
 * on the bus; a failed bus change leaves everything as it was.
 */
int vmm_pci_unplug(struct vmm_pci *p, const struct virtio_mmio *t,
                   vmm_pci_bus_update_fn *update, void *ctx,
                   struct sq_err *err);

/* The slot of the device whose virtio state is t, or 0. */
unsigned vmm_pci_slot_of(const struct vmm_pci *p, const struct virtio_mmio *t);

/* Tests: replace KVM_IOEVENTFD for the notification ioeventfds. */
void vmm_pci_set_ioeventfd_fn(struct vmm_pci *p, virtio_pci_ioeventfd_fn *fn);
/* The root bus, for a snapshot (vmm/pci_snap.h) and tests; borrowed. */
struct pci_root *vmm_pci_root(struct vmm_pci *p);

#endif
