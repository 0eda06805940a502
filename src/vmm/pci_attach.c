/*
 * pci_attach.c: the virtio devices on PCI (pci_attach.h).
 */
#include "vmm/pci_attach.h"

#include <errno.h>
#include <stdlib.h>

#include "devices/pci/root.h"
#include "devices/pci/virtio_pci.h"
#include "obs/log.h"
#include "util/xalloc.h"
#include "vmm/kvm.h"
#include "vmm/msi_routes.h"

struct vmm_pci {
    struct pci_root root;
    struct msi_routes routes;
    bool has_routes;
    size_t n;                         /* devices */
    struct virtio_pci *devs;          /* owned, n */
    unsigned *slots;                  /* owned, n */
    struct machine_bus_range *ranges; /* owned, 2 + n */
    bool is_attached;
};

/* Any-length, no-datamatch KVM_IOEVENTFD for a notification address. */
static int notify_ioeventfd(int vm_fd, int fd, uint64_t addr, bool deassign)
{
    return kvm_ioeventfd(vm_fd, fd, addr, 0, 0, deassign);
}

/* Whether a restore's placements can be used (vmm_pci_new_at): BARs in the
 * 64-bit window, GSI ranges inside MSI-X's and not shared. */
static bool places_ok(const struct vdev_list *l, const struct vmm_pci_place *at)
{
    for (size_t i = 0; i < l->n; i++) {
        uint16_t n = virtio_pci_n_vectors(l->devs[i].t);

        if (at[i].bar < VMM_PCI_BAR_BASE ||
            at[i].bar > UINT64_MAX - VIRTIO_PCI_BAR_SIZE ||
            at[i].first_gsi < MSIX_FIRST_GSI ||
            at[i].first_gsi > MSIX_LAST_GSI + 1u - n)
            return false;
        for (size_t j = 0; j < i; j++) {
            uint16_t m = virtio_pci_n_vectors(l->devs[j].t);

            if (at[i].first_gsi < at[j].first_gsi + m &&
                at[j].first_gsi < at[i].first_gsi + n)
                return false;
        }
    }
    return true;
}

/* vmm_pci_new and vmm_pci_new_at (at NULL: the boot's placement). */
static int pci_new(const struct vdev_list *l, const struct vmm_pci_place *at,
                   struct vmm_pci **out, struct sq_err *err)
{
    struct vmm_pci *p;
    uint32_t next_gsi = MSIX_FIRST_GSI;
    char os[128];
    int rc = 0;

    /* vdev_list_create refused more already; kept for other callers. */
    if (l->n > PCI_N_DEVICE_SLOTS)
        return sq_errf(err, -ENOSPC, VDEV_ERR_ATTACH_PCI PCI_ERR_NO_SLOT);
    if (at && !places_ok(l, at))
        return sq_errf(err, -EINVAL,
                       VDEV_ERR_ATTACH_PCI "the saved BARs or MSI-X GSIs "
                                           "cannot be used");
    p = xcalloc(1, sizeof(*p));
    pci_root_init(&p->root);
    p->devs = xcalloc(l->n + 1, sizeof(*p->devs));
    p->slots = xcalloc(l->n + 1, sizeof(*p->slots));
    p->ranges = xcalloc(l->n + 2, sizeof(*p->ranges));
    p->ranges[0] = (struct machine_bus_range){false, PCI_ECAM_BASE,
                                              PCI_ECAM_SIZE, &p->root.ecam};
    p->ranges[1] = (struct machine_bus_range){true, PCI_PIO_BASE, PCI_PIO_SIZE,
                                              &p->root.pio};
    for (size_t i = 0; i < l->n; i++) {
        struct virtio_pci *d = &p->devs[i];
        uint64_t bar =
            at ? at[i].bar : VMM_PCI_BAR_BASE + i * VIRTIO_PCI_BAR_SIZE;
        uint32_t gsi = at ? at[i].first_gsi : 0;

        if (!at)
            rc = msix_gsi_alloc(&next_gsi, virtio_pci_n_vectors(l->devs[i].t),
                                &gsi);
        if (rc == 0)
            rc = virtio_pci_init(d, l->devs[i].t, bar, gsi);
        if (rc < 0)
            break;
        p->n = i + 1;
        if (at) {
            p->slots[i] = at[i].slot;
            rc = pci_root_add_at(&p->root, &d->pci, at[i].slot);
        } else {
            rc = pci_root_add(&p->root, &d->pci, &p->slots[i]);
        }
        if (rc < 0)
            break;
        p->ranges[2 + i] = (struct machine_bus_range){
            false, bar, VIRTIO_PCI_BAR_SIZE, &d->bar};
    }
    if (rc < 0) {
        vmm_pci_free(p);
        return sq_errf(err, rc, VDEV_ERR_ATTACH_PCI "%s",
                       sq_os_error(-rc, os, sizeof(os)));
    }
    *out = p;
    return 0;
}

int vmm_pci_new(const struct vdev_list *l, struct vmm_pci **out,
                struct sq_err *err)
{
    return pci_new(l, NULL, out, err);
}

int vmm_pci_new_at(const struct vdev_list *l, const struct vmm_pci_place *at,
                   struct vmm_pci **out, struct sq_err *err)
{
    return pci_new(l, at, out, err);
}

struct virtio_pci *vmm_pci_dev(struct vmm_pci *p, size_t i)
{
    return i < p->n ? &p->devs[i] : NULL;
}

unsigned vmm_pci_slot(const struct vmm_pci *p, size_t i)
{
    return i < p->n ? p->slots[i] : 0;
}

struct pci_root *vmm_pci_root(struct vmm_pci *p)
{
    return &p->root;
}

const struct machine_bus_range *vmm_pci_ranges(const struct vmm_pci *p,
                                               size_t *n)
{
    *n = p->n + 2;
    return p->ranges;
}

/* Route every vector the guest left live, then push the table once
 * (upstream's set_gsi_routes after a restore); nothing to do at boot. */
static int stage_live_routes(struct vmm_pci *p)
{
    bool any = false;

    for (size_t i = 0; i < p->n; i++) {
        const struct msix *m = &p->devs[i].msix;

        bus_dev_lock(&p->devs[i].t->bus);
        for (uint16_t v = 0; v < m->n_vectors; v++) {
            const struct msix_vector *e = &m->vec[v];

            if (!msix_wants_live(m, v))
                continue;
            (void)msi_routes_stage(&p->routes, e->gsi,
                                   (uint64_t)e->addr_hi << 32 | e->addr_lo,
                                   e->data);
            any = true;
        }
        bus_dev_unlock(&p->devs[i].t->bus);
    }
    return any ? msi_routes_push(&p->routes) : 0;
}

int vmm_pci_attach(struct vmm_pci *p, int vm_fd, struct sq_err *err)
{
    char os[128];

    msi_routes_init(&p->routes, vm_fd);
    p->has_routes = true;
    p->is_attached = true;
    /* A failure is msix.c's to report per vector (it retries the push). */
    if (stage_live_routes(p) < 0)
        log_warn("msi-x: could not set the restored GSI routes");
    for (size_t i = 0; i < p->n; i++) {
        int rc;

        bus_dev_lock(&p->devs[i].t->bus);
        msix_connect(&p->devs[i].msix, &msi_routes_ops, &p->routes);
        bus_dev_unlock(&p->devs[i].t->bus);
        rc = virtio_pci_attach(&p->devs[i], vm_fd, notify_ioeventfd);
        if (rc < 0) {
            vmm_pci_detach(p);
            return sq_errf(err, rc,
                           "Could not attach device: Failed to register IO "
                           "event: %s",
                           sq_os_error(-rc, os, sizeof(os)));
        }
    }
    return 0;
}

void vmm_pci_detach(struct vmm_pci *p)
{
    if (!p || !p->is_attached)
        return;
    for (size_t i = 0; i < p->n; i++) {
        virtio_pci_detach(&p->devs[i]);
        /* Take the vectors' irqfds off while the VM exists. */
        bus_dev_lock(&p->devs[i].t->bus);
        msix_connect(&p->devs[i].msix, NULL, NULL);
        bus_dev_unlock(&p->devs[i].t->bus);
    }
    p->is_attached = false;
}

void vmm_pci_free(struct vmm_pci *p)
{
    if (!p)
        return;
    vmm_pci_detach(p);
    for (size_t i = 0; i < p->n; i++)
        virtio_pci_fini(&p->devs[i]);
    if (p->has_routes)
        msi_routes_fini(&p->routes);
    pci_root_fini(&p->root);
    free(p->devs);
    free(p->slots);
    free(p->ranges);
    free(p);
}
