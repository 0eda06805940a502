/*
 * msi_routes.c: the VM's GSI routing table for MSI-X (msi_routes.h).
 */
#include "vmm/msi_routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/kvm.h"

void msi_routes_init(struct msi_routes *r, int vm_fd)
{
    memset(r, 0, sizeof(*r));
    r->vm_fd = vm_fd;
    pthread_mutex_init(&r->lock, NULL);
}

void msi_routes_fini(struct msi_routes *r)
{
    free(r->msi);
    r->msi = NULL;
    r->n_msi = 0;
    pthread_mutex_destroy(&r->lock);
}

static struct kvm_irq_routing_entry irqchip(uint32_t gsi, uint32_t chip,
                                            uint32_t pin)
{
    struct kvm_irq_routing_entry e;

    memset(&e, 0, sizeof(e));
    e.gsi = gsi;
    e.type = KVM_IRQ_ROUTING_IRQCHIP;
    e.u.irqchip.irqchip = chip;
    e.u.irqchip.pin = pin;
    return e;
}

size_t msi_routes_table(const struct msi_routes *r,
                        struct kvm_irq_routing_entry *e)
{
    size_t n = 0;

    for (uint32_t gsi = 0; gsi < MSI_ROUTES_N_IOAPIC_PINS; gsi++) {
        if (gsi < MSI_ROUTES_N_PIC_PINS)
            e[n++] = irqchip(
                gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                gsi % 8);
        e[n++] = irqchip(gsi, KVM_IRQCHIP_IOAPIC, gsi);
    }
    for (size_t i = 0; i < r->n_msi; i++) {
        memset(&e[n], 0, sizeof(e[n]));
        e[n].gsi = r->msi[i].gsi;
        e[n].type = KVM_IRQ_ROUTING_MSI;
        e[n].u.msi.address_lo = (uint32_t)r->msi[i].addr;
        e[n].u.msi.address_hi = (uint32_t)(r->msi[i].addr >> 32);
        e[n].u.msi.data = r->msi[i].data;
        n++;
    }
    return n;
}

/* Build the whole table and hand it to KVM. Lock held. */
static int push(struct msi_routes *r)
{
    struct kvm_irq_routing_entry *e =
        xcalloc(MSI_ROUTES_N_LEGACY + r->n_msi, sizeof(*e));
    size_t n = msi_routes_table(r, e);
    int rc = kvm_set_gsi_routing(r->vm_fd, e, (uint32_t)n);

    free(e);
    r->is_synced = rc == 0;
    return rc;
}

/* Set the entry of gsi; returns whether it changed. Lock held. */
static bool put(struct msi_routes *r, uint32_t gsi, uint64_t addr,
                uint32_t data)
{
    size_t i;

    for (i = 0; i < r->n_msi && r->msi[i].gsi < gsi; i++)
        ;
    if (i < r->n_msi && r->msi[i].gsi == gsi && r->msi[i].addr == addr &&
        r->msi[i].data == data)
        return false;
    if (i == r->n_msi || r->msi[i].gsi != gsi) {
        r->msi = xrealloc(r->msi, (r->n_msi + 1) * sizeof(*r->msi));
        memmove(&r->msi[i + 1], &r->msi[i], (r->n_msi - i) * sizeof(*r->msi));
        r->n_msi++;
    }
    r->msi[i] = (struct msi_route){gsi, addr, data};
    r->is_synced = false;
    return true;
}

static bool gsi_ok(uint32_t gsi)
{
    return gsi >= MSIX_FIRST_GSI && gsi <= MSIX_LAST_GSI;
}

int msi_routes_set(struct msi_routes *r, uint32_t gsi, uint64_t addr,
                   uint32_t data)
{
    int rc = 0;

    if (!gsi_ok(gsi))
        return -EINVAL;
    pthread_mutex_lock(&r->lock);
    if (put(r, gsi, addr, data) || !r->is_synced)
        rc = push(r);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

int msi_routes_stage(struct msi_routes *r, uint32_t gsi, uint64_t addr,
                     uint32_t data)
{
    if (!gsi_ok(gsi))
        return -EINVAL;
    pthread_mutex_lock(&r->lock);
    (void)put(r, gsi, addr, data);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

int msi_routes_push(struct msi_routes *r)
{
    int rc;

    pthread_mutex_lock(&r->lock);
    rc = push(r);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

static int ops_set_route(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data)
{
    return msi_routes_set(ctx, gsi, addr, data);
}

static int ops_irqfd(void *ctx, int efd, uint32_t gsi, bool deassign)
{
    const struct msi_routes *r = ctx;

    return kvm_irqfd(r->vm_fd, efd, gsi, deassign);
}

const struct msix_irq_ops msi_routes_ops = {ops_set_route, ops_irqfd};
