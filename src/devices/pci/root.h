/*
 * root.h: squib's one PCI segment: the root bus 0 with the host bridge at
 * 00:00.0 and up to 31 device slots, reached by the guest through the ECAM
 * window (MMIO at 0xeec00000, PCIe enhanced configuration access) and the
 * legacy configuration mechanism #1 ports 0xcf8 (CONFIG_ADDRESS) and 0xcfc
 * (CONFIG_DATA), both decoding to the same functions (digest 6.8).
 *
 *   ECAM offset:     bus[27:20] dev[19:15] fn[14:12] reg[11:2] byte[1:0]
 *   CONFIG_ADDRESS:  enable[31] bus[23:16] dev[15:11] fn[10:8] reg[7:2]
 *
 * Only bus 0 and function 0 exist (no bridges, no multi-function devices),
 * as upstream: anything else, an empty slot, CONFIG_DATA while the enable
 * bit is clear, or an access that crosses a dword reads all ones and drops
 * writes. The legacy ports reach the first 256 bytes of each function,
 * ECAM all 4 KiB. Accesses of 8 bytes are refused the same way.
 *
 * The host bridge is Intel's virtual PCIe host (8086:0d57, class 06/00),
 * as upstream's PciRoot.
 *
 * Threads: the ECAM and port handlers run on vCPU threads with their own
 * bus_dev lock held (the port's also guards CONFIG_ADDRESS) and take the
 * target function's lock inside (device.h). Slots change at boot and, for
 * hot-plug, only under both handlers' bus_dev locks (pci_root_add,
 * pci_root_remove), so a configuration access never sees a slot change
 * half way; the VMM also pauses the vCPUs around a hot-plug (bus.h).
 */
#ifndef SQUIB_DEVICES_PCI_ROOT_H
#define SQUIB_DEVICES_PCI_ROOT_H

#include <pthread.h>
#include <stdint.h>

#include "devices/pci/device.h"
#include "vmm/bus.h"

#define PCI_ECAM_BASE      0xeec00000ull
#define PCI_ECAM_SIZE      0x100000ull /* bus 0: 32 x 8 functions x 4 KiB */
#define PCI_PIO_BASE       0xcf8u
#define PCI_PIO_SIZE       8u
#define PCI_N_SLOTS        32u
#define PCI_HOST_VENDOR_ID 0x8086u
#define PCI_HOST_DEVICE_ID 0x0d57u
/* Device slots for devices: all but the host bridge's. */
#define PCI_N_DEVICE_SLOTS (PCI_N_SLOTS - 1u)

/* Upstream's PciRootError::NoPciDeviceSlotAvailable, after its
 * PciManagerError::PciRoot prefix (firecracker src/vmm/src/pci/bus.rs,
 * device_manager/pci_mngr.rs). */
#define PCI_ERR_NO_SLOT                                                        \
    "PCI root error: Could not find an available device slot on the PCI bus."

struct pci_root {
    struct pci_dev *slots[PCI_N_SLOTS]; /* borrowed; [0] = &host */
    struct pci_dev host;
    pthread_mutex_t host_lock;
    struct bus_dev ecam;     /* ECAM window handlers */
    struct bus_dev pio;      /* 0xcf8..0xcff; its lock guards the next */
    uint32_t config_address; /* CONFIG_ADDRESS as the guest wrote it */
};

/* The root with only the host bridge. */
void pci_root_init(struct pci_root *r);
/* Drop the slots (the devices are not ours) and the locks. */
void pci_root_fini(struct pci_root *r);

/*
 * Put `d` in the lowest free slot (1..31; d->lock set) and return it in
 * *slot. 0, or -ENOSPC when all 31 are taken.
 */
int pci_root_add(struct pci_root *r, struct pci_dev *d, unsigned *slot);

/* The lowest free device slot (1..31), or 0 when all are taken. */
unsigned pci_root_free_slot(struct pci_root *r);

/* Empty device slot `slot` (1..31; the host bridge stays). */
void pci_root_remove(struct pci_root *r, unsigned slot);

/*
 * Put `d` in slot `slot` (1..31), as a snapshot's restore does. 0, -EINVAL
 * for another slot number, -EBUSY when the slot is taken.
 */
int pci_root_add_at(struct pci_root *r, struct pci_dev *d, unsigned slot);

/*
 * Map the ECAM window on `mmio` and the ports on `pio`. 0 or bus_add()'s
 * -errno; buses cannot remove a range, so a failure must fail the machine
 * being built.
 */
int pci_root_register(struct pci_root *r, struct bus *mmio, struct bus *pio);

/* The bus handlers, for tests that drive them without a bus (hold the
 * bus_dev's lock as bus_read/bus_write do). */
void pci_root_ecam_read(struct bus_dev *bd, uint64_t off, uint8_t *data,
                        uint32_t len);
void pci_root_ecam_write(struct bus_dev *bd, uint64_t off, const uint8_t *data,
                         uint32_t len);
void pci_root_pio_read(struct bus_dev *bd, uint64_t off, uint8_t *data,
                       uint32_t len);
void pci_root_pio_write(struct bus_dev *bd, uint64_t off, const uint8_t *data,
                        uint32_t len);

#endif
