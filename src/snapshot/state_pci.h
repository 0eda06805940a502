/*
 * state_pci.h: the PCI sections of a PCI-mode machine's state file
 * (--enable-pci, docs/snapshot.md "PCI"); a virtio-mmio machine's file has
 * none. Both start with a u32 layout number of their own (PCIR 1, PCID
 * 2), so their layout can change without the file's version (which is
 * upstream's).
 *
 *   PCIR  once, before the PCID sections: u32 layout, u32 CONFIG_ADDRESS,
 *         the host bridge's configuration space (below)
 *   PCID  one per virtio device, in attach order: u32 layout, kind, id
 *         (strings, as its VDEV section), u16 segment, u8 bus, u8 device,
 *         u8 function, u64 BAR 0 address, the configuration space, u16
 *         config MSI-X vector, u32 n queues + per queue u16 MSI-X vector
 *         and u16 used index at its last interrupt, u16 n vectors, u32
 *         first GSI, per vector u32 address low, address high, data,
 *         Vector Control, then u32 n + n u64 words of pending bits;
 *         layout 2 adds the VIRTIO_PCI_CAP_PCI_CFG window: u16 config
 *         offset of its cap_len byte, u32 n (18) + n bytes from cap_len on
 *         (upstream's cap_pci_cfg_offset and cap_pci_cfg). Layout 1 still
 *         decodes, without the window (the restore leaves it as built),
 *         and such a state is encoded in layout 1 again
 *
 *   configuration space: u8 BAR registers in sizing state (bit per
 *   register), u32 n + n × (u16 register index, u32 value): the registers
 *   with bits the guest may write
 *
 * Decoding checks counts against what squib can hold (registers, queues,
 * vectors, PBA words); whether a state fits the device it is restored
 * into is checked at the restore (devices/pci/pci_snap.h).
 */
#ifndef SQUIB_SNAPSHOT_STATE_PCI_H
#define SQUIB_SNAPSHOT_STATE_PCI_H

#include "snapshot/format.h"
#include "vmm/pci_snap.h"

#define SNAP_TAG_PCI_ROOT    SNAP_TAG('P', 'C', 'I', 'R')
#define SNAP_TAG_PCI_DEV     SNAP_TAG('P', 'C', 'I', 'D')
#define SNAP_PCI_ROOT_LAYOUT 1u
#define SNAP_PCI_DEV_LAYOUT  2u /* 1 still read: no window */

/* At most this many PCID sections (bus 0's device slots). */
#define SNAP_PCI_MAX_DEVS PCI_N_DEVICE_SLOTS

/* The PCIR section, then one PCID section per device, into w. */
void snap_pci_encode(const struct pci_snap *s, struct snap_writer *w);

/*
 * A PCIR payload into *out (allocated when NULL), or a PCID payload as the
 * next device of *out (allocated when NULL; counted even when bad, so that
 * what it owns is freed with *out). A bad payload, an unknown layout or
 * one device too many make r bad. The caller frees *out either way.
 */
void snap_pci_decode_root(struct snap_reader *r, struct pci_snap **out);
void snap_pci_decode_dev(struct snap_reader *r, struct pci_snap **out);

#endif
