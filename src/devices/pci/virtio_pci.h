/*
 * virtio_pci.h: the virtio-pci modern transport (virtio 1.x section 4.1)
 * in front of a device's existing virtio state.
 *
 * Every squib virtio device embeds a struct virtio_mmio (devices/virtio/
 * mmio.h): its features, status state machine, queues, queue eventfds and
 * the struct virtio_dev_ops the device implements. In PCI mode the same
 * struct and the same device code are used; only the guest's way in
 * changes: instead of the 4 KiB MMIO window, a PCI function (vendor
 * 0x1af4, device 0x1040 + type, revision 1, subsystem the same) with one
 * 64-bit BAR of 512 KiB laid out as upstream's:
 *
 *   0x00000  common configuration (56 bytes)    -> the virtio_mmio registers
 *   0x02000  ISR status (1 byte, read clears)      of the same meaning, so
 *   0x04000  device configuration (4 KiB)          the status machine, the
 *   0x06000  notifications, 4 bytes per queue      feature and queue rules
 *   0x08000  MSI-X table (256 KiB reserved)        are mmio.c's, unchanged
 *   0x48000  MSI-X PBA (2 KiB reserved)
 *
 * and capabilities: common, ISR, device, notify (multiplier 4) and PCI
 * configuration access (VIRTIO_PCI_CAP_PCI_CFG, at 0x84) vendor
 * capabilities, then MSI-X with n_queues + 1 vectors, at upstream's
 * offsets. The PCI configuration access capability is a window onto BAR 0
 * from config space, with upstream's rules (virtio_pci_cfgcap.c). Interrupts:
 * the transport hooks the state's interrupt path (virtio_mmio.irq_hook); a
 * config change raises config_msix_vector, a used-ring update raises
 * the vector of each queue whose used index moved since its last
 * interrupt (devices signal "used" without saying which queue; if none
 * moved, every queue's vector is raised), each vector at most once.
 * Vectors the driver sets out of range read back as NO_VECTOR (0xffff), as
 * the spec asks, so Linux falls back. Notifications: an ioeventfd per queue
 * at BAR + 0x6000 + 4 * q (any length, no datamatch, as upstream) signals
 * the queue's eventfd; without one, a write there signals it from the vCPU
 * thread.
 *
 * Common configuration accesses must have the field's size (the 64-bit
 * queue addresses also as two 4-byte halves); anything else, and anything
 * in the BAR outside the regions, reads 0 and writes nothing, logged at a
 * rate limit. The device's own lock (t->bus.lock) guards everything: BAR
 * and config accesses take it, and devices hold it when they raise
 * interrupts (the hook needs it for MSI-X).
 *
 * Lifecycle: device_new -> virtio_pci_init (config space, BAR, MSI-X,
 * hook) -> pci_root_add + bus_add (virtio_pci_bar) + msix_connect ->
 * the device's attach with vm_fd -1 (no MMIO ioeventfds) ->
 * virtio_pci_attach (notify ioeventfds) ... virtio_pci_detach ->
 * device detach -> virtio_pci_fini -> device_free.
 */
#ifndef SQUIB_DEVICES_PCI_VIRTIO_PCI_H
#define SQUIB_DEVICES_PCI_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci/device.h"
#include "devices/pci/msix.h"
#include "devices/virtio/mmio.h"
#include "vmm/bus.h"

#define VIRTIO_PCI_VENDOR_ID      0x1af4u
#define VIRTIO_PCI_DEVICE_ID_BASE 0x1040u
#define VIRTIO_PCI_BAR_SIZE       0x80000ull
#define VIRTIO_PCI_COMMON         0x0000u
#define VIRTIO_PCI_COMMON_SIZE    56u
#define VIRTIO_PCI_ISR            0x2000u
#define VIRTIO_PCI_DEVICE_CFG     0x4000u
#define VIRTIO_PCI_DEVICE_SIZE    0x1000u
#define VIRTIO_PCI_NOTIFY         0x6000u
#define VIRTIO_PCI_NOTIFY_SIZE    0x1000u
#define VIRTIO_PCI_NOTIFY_MULT    4u
#define VIRTIO_PCI_MSIX_TABLE     0x8000u
#define VIRTIO_PCI_MSIX_TABLE_MAX 0x40000u
#define VIRTIO_PCI_MSIX_PBA       0x48000u
#define VIRTIO_PCI_MSIX_PBA_MAX   0x800u
/* struct virtio_pci_cfg_cap after its id and next bytes: cap_len,
 * cfg_type, bar, id, padding[2], offset, length, pci_cfg_data[4]. */
#define VIRTIO_PCI_CFG_CAP_LEN 18u

/*
 * Registers (or with deassign, removes) an eventfd that a guest write of
 * any length at `addr` signals (KVM_IOEVENTFD, no datamatch). 0 or
 * -errno. The VMM provides it; the transport issues no ioctl.
 */
typedef int virtio_pci_ioeventfd_fn(int vm_fd, int fd, uint64_t addr,
                                    bool deassign);

struct virtio_pci {
    struct bus_dev bar;    /* the BAR's handlers; t->bus.lock guards state */
    struct pci_dev pci;    /* config space; pci.lock = &t->bus.lock */
    struct msix msix;      /* n_queues + 1 vectors */
    struct virtio_mmio *t; /* borrowed: the device's virtio state */
    uint64_t bar_addr;
    uint16_t msix_cap; /* config offset of the MSI-X capability */
    /* The VIRTIO_PCI_CAP_PCI_CFG window: its bytes from cap_len on, as the
     * guest last wrote them (the stored space keeps the initial ones), and
     * the config offset of its cap_len byte (upstream's cap_pci_cfg and
     * cap_pci_cfg_offset). */
    uint8_t cfg_cap[VIRTIO_PCI_CFG_CAP_LEN];
    uint16_t cfg_cap_off;
    uint16_t config_vector;
    uint16_t queue_vector[VIRTIO_MMIO_MAX_QUEUES];
    uint16_t last_used[VIRTIO_MMIO_MAX_QUEUES]; /* next_used at the last
                                                 * interrupt */
    virtio_pci_ioeventfd_fn *ioeventfd;         /* set by virtio_pci_attach */
    int vm_fd;                                  /* borrowed; -1: none */
};

/*
 * Put a PCI front on `t` (already virtio_mmio_init()ed by its device) with
 * its BAR at `bar_addr` (VIRTIO_PCI_BAR_SIZE-aligned) and its MSI-X
 * vectors on GSIs first_gsi.. (n_queues + 1 of them: msix_gsi_alloc()).
 * Installs the interrupt hook. 0 or -errno (-EINVAL for a bad BAR address),
 * with nothing left to undo.
 */
int virtio_pci_init(struct virtio_pci *p, struct virtio_mmio *t,
                    uint64_t bar_addr, uint32_t first_gsi);

/* Detach, remove the hook, close the MSI-X eventfds. Safe after a failed
 * init (on a zeroed struct) and twice. */
void virtio_pci_fini(struct virtio_pci *p);

/* Vectors the transport needs for `t`: n_queues + 1. */
uint16_t virtio_pci_n_vectors(const struct virtio_mmio *t);

/*
 * Register one notification ioeventfd per queue through `fn` on `vm_fd`
 * (after the device's own attach, which watches the queue eventfds).
 * 0 or -errno with none left registered.
 */
int virtio_pci_attach(struct virtio_pci *p, int vm_fd,
                      virtio_pci_ioeventfd_fn *fn);
/* Remove them; before the VM fd closes. Idempotent. */
void virtio_pci_detach(struct virtio_pci *p);

/* BAR handlers, exposed for tests that drive them without a bus (hold
 * p->bar.lock as bus_read/bus_write do, or nothing). */
void virtio_pci_bar_read(struct bus_dev *bd, uint64_t off, uint8_t *data,
                         uint32_t len);
void virtio_pci_bar_write(struct bus_dev *bd, uint64_t off, const uint8_t *data,
                          uint32_t len);

#endif
