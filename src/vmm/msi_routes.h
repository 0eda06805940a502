/*
 * msi_routes.h: the VM's GSI routing table for MSI-X (devices/pci/msix.h's
 * struct msix_irq_ops, backed by KVM).
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so this keeps it: the
 * in-kernel irqchip's default entries (GSIs 0..15 to both 8259 PICs and
 * the IOAPIC, 16..23 to the IOAPIC, as KVM sets them up itself; the serial
 * port, i8042 and virtio-mmio irqfds keep working) followed by one MSI
 * entry per routed GSI (24..4095), and pushes it to KVM on every change.
 * irqfds go straight to KVM_IRQFD.
 *
 * Threads: MSI-X table writes of different devices arrive on different
 * vCPU threads at once; a mutex serialises the table.
 */
#ifndef SQUIB_VMM_MSI_ROUTES_H
#define SQUIB_VMM_MSI_ROUTES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "devices/pci/msix.h"

#define MSI_ROUTES_N_IOAPIC_PINS 24u
#define MSI_ROUTES_N_PIC_PINS    16u
/* Entries before the MSI ones: 16 PIC + 24 IOAPIC. */
#define MSI_ROUTES_N_LEGACY (MSI_ROUTES_N_PIC_PINS + MSI_ROUTES_N_IOAPIC_PINS)

struct msi_route {
    uint32_t gsi;
    uint64_t addr;
    uint32_t data;
};

struct msi_routes {
    int vm_fd;             /* borrowed */
    pthread_mutex_t lock;  /* guards the rest */
    size_t n_msi;          /* MSI entries in msi[] */
    struct msi_route *msi; /* owned; sorted by GSI */
    bool is_synced;        /* KVM has the table as it is */
};

/* Empty table for `vm_fd` (nothing is sent to KVM yet). */
void msi_routes_init(struct msi_routes *r, int vm_fd);
void msi_routes_fini(struct msi_routes *r);

/*
 * Set (or replace) the MSI route of `gsi` (>= MSIX_FIRST_GSI) and push the
 * table, unless KVM has it already with that very route. 0, -EINVAL for a
 * legacy GSI, or KVM's -errno (the table then keeps the entry; the next
 * push retries it).
 */
int msi_routes_set(struct msi_routes *r, uint32_t gsi, uint64_t addr,
                   uint32_t data);

/*
 * Many routes at once (a snapshot's restore, as upstream's one
 * set_gsi_routes): msi_routes_stage() sets entries without pushing (0 or
 * -EINVAL as above), msi_routes_push() then pushes the table once (0 or
 * KVM's -errno). msi_routes_set() for a staged route then costs nothing,
 * so the irqfds go on after the routes they need.
 */
int msi_routes_stage(struct msi_routes *r, uint32_t gsi, uint64_t addr,
                     uint32_t data);
int msi_routes_push(struct msi_routes *r);

/*
 * Fill `e` (room for MSI_ROUTES_N_LEGACY + r->n_msi entries) with the
 * table as it is pushed; returns the count. Lock held or single-threaded
 * (tests).
 */
size_t msi_routes_table(const struct msi_routes *r,
                        struct kvm_irq_routing_entry *e);

/* The ops to give msix_connect() with ctx = the struct msi_routes. */
extern const struct msix_irq_ops msi_routes_ops;

#endif
