/*
 * pci_snap.h: the state of the PCI root bus and of a virtio-pci transport
 * for snapshots (docs/snapshot.md, "PCI"), as plain structures: what the
 * guest set that a rebuilt device does not have from its construction.
 *
 * A restore rebuilds every function exactly as a boot does (the same
 * identity, capabilities, BAR size, vector count), so the read-only parts
 * of a configuration space are not saved: only the registers with bits the
 * guest may write (Command, Cache Line Size, Interrupt Line, MSI-X Message
 * Control) and which BAR registers are in sizing state. A restore writes
 * a saved register through its write mask, so a state file cannot change
 * a read-only bit, and refuses a register that has no writable bit.
 *
 * virtio-pci adds the MSI-X table and PBA, the vectors the driver chose
 * (configuration and per queue) and each queue's used index at its last
 * interrupt, and the VIRTIO_PCI_CAP_PCI_CFG window's bytes (any value is
 * one the guest can write; a state without them, from an older file,
 * leaves the window as built). The virtio state behind the transport (features,
 * status, queue addresses and enables) is the virtio_mmio state's own
 * (virtio_mmio_save / virtio_mmio_restore).
 *
 * Restore order (vmm/pci_snap.h): the transport rebuilt at the saved BAR
 * and GSIs, virtio_pci_restore while MSI-X is not connected to a VM (no
 * routing, no irqfd; what the device raises meanwhile becomes pending),
 * the device's own state and its virtio state, then msix_connect: each
 * vector the guest left enabled and unmasked is routed and gets its irqfd
 * again, and a pending one is delivered once.
 *
 * Locking: the save and restore functions take the device's lock (the
 * root: its port lock and the host bridge's lock) themselves.
 */
#ifndef SQUIB_DEVICES_PCI_PCI_SNAP_H
#define SQUIB_DEVICES_PCI_PCI_SNAP_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci/root.h"
#include "devices/pci/virtio_pci.h"

/* More than any function here has (4 registers with writable bits). */
#define PCI_SNAP_MAX_REGS 16u

struct pci_reg_state {
    uint16_t reg; /* register index (dword), < PCI_CONFIG_REGS */
    uint32_t value;
};

/* The guest-writable part of one configuration space. */
struct pci_config_state {
    uint8_t bar_sizing; /* bit per BAR register reading its size mask */
    uint32_t n_regs;
    struct pci_reg_state regs[PCI_SNAP_MAX_REGS];
};

struct pci_root_state {
    uint32_t config_address; /* CONFIG_ADDRESS (0xcf8) as the guest left it */
    struct pci_config_state host; /* the host bridge at 00:00.0 */
};

struct msix_entry_state {
    uint32_t addr_lo, addr_hi, data, ctrl;
};

struct virtio_pci_state {
    uint64_t bar_addr; /* BAR 0 */
    struct pci_config_state config;
    uint16_t config_vector;
    uint32_t n_queues;
    uint16_t queue_vector[VIRTIO_MMIO_MAX_QUEUES];
    uint16_t last_used[VIRTIO_MMIO_MAX_QUEUES];
    uint16_t n_vectors;
    uint32_t first_gsi; /* vector i is on GSI first_gsi + i */
    struct msix_entry_state vec[MSIX_MAX_VECTORS];
    uint64_t pba[MSIX_MAX_VECTORS / 64];
    bool has_cfg_cap;     /* false: none saved (PCID layout 1) */
    uint16_t cfg_cap_off; /* config offset of the window's cap_len byte */
    uint8_t cfg_cap[VIRTIO_PCI_CFG_CAP_LEN];
};

/* The root's state (CONFIG_ADDRESS, the host bridge's writable registers). */
void pci_root_save(struct pci_root *r, struct pci_root_state *out);

/*
 * Put a saved root state into a root built as pci_root_init() does.
 * 0, or -EINVAL when a register is not one the guest may write (nothing
 * changed then).
 */
int pci_root_restore(struct pci_root *r, const struct pci_root_state *s);

/* The transport's state (after virtio_pci_init). */
void virtio_pci_save(struct virtio_pci *p, struct virtio_pci_state *out);

/*
 * Put a saved state into a transport built for the same device at the
 * same BAR and GSIs, before msix_connect (see the order above). 0, or
 * -EINVAL (nothing changed) when the state does not fit the transport:
 * another BAR, queue count, vector count, first GSI or window offset; a
 * register without
 * writable bits; a vector number out of range; reserved Vector Control
 * bits; pending bits past the last vector.
 */
int virtio_pci_restore(struct virtio_pci *p, const struct virtio_pci_state *s);

#endif
