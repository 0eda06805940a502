/*
 * pci_hotplug.h: attach one virtio device to a running machine's PCI bus
 * and detach it again (upstream's PciDevices::attach_pci_virtio_device and
 * detach_pci_virtio_device), behind PUT and DELETE on /drives, /pmem and
 * /network-interfaces after InstanceStart (vmm_hotplug.c decides, the
 * machine layer calls this).
 *
 * Attach, in order; a failure undoes every step before it, so nothing is
 * left (no slot, GSI, route, irqfd, ioeventfd, loop handler, KVM memory
 * slot, device or fd of the device's own):
 *   1. the device built from its configuration, already stored in `r`, by
 *      its kind's create, exactly as at boot (vdev_list_add);
 *   2. its KVM memory slots (class map; pmem) when there is a VM;
 *   3. the device on the vmm loop (class attach, no MMIO ioeventfds);
 *   4. its transport: the lowest free slot, that slot's BAR, GSIs, MSI-X
 *      routing and notification ioeventfds, then the root bus and the
 *      MMIO bus through `update` (vmm_pci_plug), which keeps the vCPUs
 *      out of the buses while they change.
 * Detach: off the buses first (no vCPU can reach the device after that),
 * then its ioeventfds, irqfds, GSIs, slot, the loop, its memory slot, and
 * the device freed (its file or TAP is the configuration's, which the
 * caller drops after).
 *
 * vmm thread only. With vm_fd -1 (tests) nothing reaches KVM.
 */
#ifndef SQUIB_VMM_PCI_HOTPLUG_H
#define SQUIB_VMM_PCI_HOTPLUG_H

#include "vmm/action.h"
#include "vmm/pci_attach.h"
#include "vmm/vdev.h"

struct pci_hotplug {
    struct vdev_list *l;           /* the machine's devices */
    struct vmm_pci *p;             /* the machine's PCI root */
    const struct guest_mem *gm;    /* borrowed */
    int vm_fd;                     /* -1: no VM (tests) */
    struct evloop *loop;           /* the vmm loop; NULL in tests */
    vmm_pci_bus_update_fn *update; /* machine_bus_update or a test's */
    void *update_ctx;
};

/* The kind a hot-plug PUT or DELETE names: VMM_OP_PUT_DRIVE and
 * VMM_OP_DELETE_DRIVE block, _PMEM pmem, _NET net. */
const struct vdev_class *pci_hotplug_class(enum vmm_op op);

/*
 * Attach the i-th configured device of the kind `op` names (see the top). 0 and
 * the device's slot in *slot, or -errno with err set: the kind's create text
 * (e.g. "Cannot create pmem device: ..."), a map text, or upstream's
 * "PCI manager error: ..." (a full bus: PCI_ERR_NO_SLOT).
 */
int pci_hotplug_attach(const struct pci_hotplug *h, enum vmm_op op,
                       const struct vm_resources *r, size_t i, unsigned *slot,
                       struct sq_err *err);

/*
 * Detach the device of the kind `op` names with this id. 0, or -ENODEV ("Device
 * not found") or the bus change's -errno with err set and the device kept.
 */
int pci_hotplug_detach(const struct pci_hotplug *h, enum vmm_op op,
                       const char *id, struct sq_err *err);

#endif
