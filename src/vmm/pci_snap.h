/*
 * pci_snap.h: the PCI side of a PCI-mode machine's snapshot (--enable-pci,
 * docs/snapshot.md "PCI"): the root bus's state and, per virtio device, its
 * kind and id (as its VDEV section has them), its place on the bus (bus 0,
 * slot, function 0) and its transport's state (devices/pci/pci_snap.h).
 * The devices' virtio and own state stay in vdev_snap.h.
 *
 * A restore (vmm_start.c) builds the device list from the saved
 * configurations as a boot does, then:
 *
 *   pci_snap_places   each device's saved slot, BAR and GSIs, found by
 *                     kind and id  -> vmm_pci_new_at (pci_attach.h)
 *   machine_create, the devices' attach (no MMIO ioeventfds)
 *   pci_snap_restore  root and transports, MSI-X not connected yet
 *   vdev_snap_restore the devices' own state, then their virtio state
 *   vmm_pci_attach    routes of the live vectors pushed once, their
 *                     irqfds, pending ones delivered; notify ioeventfds
 */
#ifndef SQUIB_VMM_PCI_SNAP_H
#define SQUIB_VMM_PCI_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "devices/pci/pci_snap.h"
#include "util/err.h"
#include "vmm/pci_attach.h"
#include "vmm/vdev.h"

struct pci_dev_snap {
    char *kind; /* owned: the class name ("virtio-rng") */
    char *id;   /* owned */
    uint16_t segment;
    uint8_t bus, dev, fn; /* 0, slot, 0 */
    struct virtio_pci_state transport;
};

struct pci_snap {
    struct pci_root_state root;
    size_t n;
    struct pci_dev_snap *devs; /* owned, n; in attach order */
};

/*
 * Save the root and every device of p (built for l), vmm thread, vCPUs
 * paused, after the devices' own save hooks (whatever they raised is in
 * the MSI-X state). *out is new (free with pci_snap_free).
 */
void pci_snap_save(struct vmm_pci *p, const struct vdev_list *l,
                   struct pci_snap **out);

/*
 * The saved placement of each device of l (at[l->n]): the entry of s of
 * the same kind and id. 0, or -EINVAL with err set when a device has no
 * entry, the counts differ, or an entry is not on bus 0 function 0.
 */
int pci_snap_places(const struct pci_snap *s, const struct vdev_list *l,
                    struct vmm_pci_place *at, struct sq_err *err);

/*
 * Put the saved root and transport states into p (built by vmm_pci_new_at
 * from pci_snap_places, not attached yet). 0, or -EINVAL with err set
 * ("virtio-rng rng: the saved PCI transport state does not fit").
 */
int pci_snap_restore(struct vmm_pci *p, const struct vdev_list *l,
                     const struct pci_snap *s, struct sq_err *err);

/* NULL-safe. */
void pci_snap_free(struct pci_snap *s);

#endif
