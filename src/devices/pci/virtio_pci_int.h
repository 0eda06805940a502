/*
 * virtio_pci_int.h: what virtio_pci.c and virtio_pci_common.c share
 * (private to the virtio-pci transport).
 */
#ifndef SQUIB_DEVICES_PCI_VIRTIO_PCI_INT_H
#define SQUIB_DEVICES_PCI_VIRTIO_PCI_INT_H

#include <stdint.h>

#include "devices/pci/virtio_pci.h"

/* Guest access to the common configuration at byte `off` (< 56) of it;
 * t->bus.lock held. */
void virtio_pci_common_read(struct virtio_pci *p, uint32_t off, uint8_t *data,
                            uint32_t len);
void virtio_pci_common_write(struct virtio_pci *p, uint32_t off,
                             const uint8_t *data, uint32_t len);

/* BAR 0 access at `off` (virtio_pci_bar_read/write), t->bus.lock held. */
void virtio_pci_bar_read_locked(struct virtio_pci *p, uint64_t off,
                                uint8_t *data, uint32_t len);
void virtio_pci_bar_write_locked(struct virtio_pci *p, uint64_t off,
                                 const uint8_t *data, uint32_t len);

/* Answer the VIRTIO_PCI_CAP_PCI_CFG window's registers (p->cfg_cap_off
 * and p->cfg_cap set) through p->pci's hooks (virtio_pci_cfgcap.c). */
void virtio_pci_cfg_cap_hook(struct virtio_pci *p);

#endif
