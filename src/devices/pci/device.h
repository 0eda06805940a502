/*
 * device.h: a function on squib's PCI root bus, as the bus sees it: its
 * configuration space (config.h), the lock that guards it, and a hook for
 * the device to react to a guest write (MSI-X enable and mask bits), and
 * optional hooks for registers the device answers itself instead of the
 * stored space (virtio-pci's VIRTIO_PCI_CAP_PCI_CFG window).
 *
 * The lock is the device's own register lock (for virtio-pci, the mutex of
 * the bus_dev that answers its BAR), so a config write and a BAR access
 * of the same device never run at once. The root (root.h) takes it around
 * each access; lock order is root, then device.
 */
#ifndef SQUIB_DEVICES_PCI_DEVICE_H
#define SQUIB_DEVICES_PCI_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci/config.h"

struct pci_dev;

/* Called after the guest's config write to register `reg` was applied,
 * with the device's lock held. */
typedef void pci_config_written_fn(struct pci_dev *d, uint32_t reg);

/*
 * Device-answered registers, device lock held, called only for accesses
 * config.h's rules take. read_reg: true and *value when the device
 * answers the whole register `reg` (the bus extracts the bytes read);
 * false for the stored space. write: true when the device took the write
 * of `len` bytes at byte `off` of `reg` itself (the stored space and
 * config_written are then left alone).
 */
typedef bool pci_config_read_reg_fn(struct pci_dev *d, uint32_t reg,
                                    uint32_t *value);
typedef bool pci_config_write_fn(struct pci_dev *d, uint32_t reg, uint32_t off,
                                 const uint8_t *data, uint32_t len);

struct pci_dev {
    struct pci_config cfg; /* guarded by *lock */
    pthread_mutex_t *lock; /* borrowed; outlives the device's bus slot */
    pci_config_written_fn *config_written; /* NULL: nothing to do */
    pci_config_read_reg_fn *read_reg;      /* NULL: the stored space */
    pci_config_write_fn *write;            /* NULL: the stored space */
    void *opaque;                          /* the device object */
};

/* Guest config read/write of `len` bytes at byte `off` of register `reg`
 * (config.h's rules), under d->lock; the write calls d->config_written
 * when it was taken. */
void pci_dev_config_read(struct pci_dev *d, uint32_t reg, uint32_t off,
                         uint8_t *data, uint32_t len);
void pci_dev_config_write(struct pci_dev *d, uint32_t reg, uint32_t off,
                          const uint8_t *data, uint32_t len);

#endif
