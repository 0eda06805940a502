/*
 * pci_attach.c: the virtio devices on PCI (pci_attach.h).
 *
 * Each device's transport lives at devs[slot], its BAR at
 * VMM_PCI_BAR_BASE + (slot - 1) * VIRTIO_PCI_BAR_SIZE and its vectors on
 * the first run of free GSIs from MSIX_FIRST_GSI: at boot the devices take
 * slots 1.. in attach order and consecutive GSIs, and a hot-plugged device
 * takes the lowest free slot, that slot's BAR and the first free GSIs, so
 * what an unplug gave back is used again. A snapshot's restore puts each
 * device back at its saved slot and GSIs (vmm_pci_new_at); its BAR is its
 * slot's, as for every device squib places.
 */
#include "vmm/pci_attach.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
    struct virtio_pci devs[PCI_N_SLOTS]; /* [slot], used[slot] */
    bool used[PCI_N_SLOTS];
    bool gsi_used[MSIX_LAST_GSI + 1];
    /* The boot devices' ranges for machine_create: ECAM, ports, BARs. */
    struct machine_bus_range ranges[2 + PCI_N_DEVICE_SLOTS];
    size_t n_ranges;
    virtio_pci_ioeventfd_fn *ioeventfd;
    int vm_fd;
    bool is_attached;
};

/* Any-length, no-datamatch KVM_IOEVENTFD for a notification address. */
static int notify_ioeventfd(int vm_fd, int fd, uint64_t addr, bool deassign)
{
    return kvm_ioeventfd(vm_fd, fd, addr, 0, 0, deassign);
}

uint64_t vmm_pci_bar_addr(unsigned slot)
{
    return VMM_PCI_BAR_BASE + (uint64_t)(slot - 1) * VIRTIO_PCI_BAR_SIZE;
}

/* The first run of n free GSIs, marked used: 0 and *first, or -ENOSPC. */
static int gsi_take(struct vmm_pci *p, uint16_t n, uint32_t *first)
{
    uint32_t run = 0;

    for (uint32_t g = MSIX_FIRST_GSI; g <= MSIX_LAST_GSI && n; g++) {
        run = p->gsi_used[g] ? 0 : run + 1;
        if (run == n) {
            *first = g + 1 - n;
            for (uint32_t i = *first; i <= g; i++)
                p->gsi_used[i] = true;
            return 0;
        }
    }
    return -ENOSPC;
}

static void gsi_give(struct vmm_pci *p, uint32_t first, uint16_t n)
{
    for (uint32_t i = 0; i < n && first + i <= MSIX_LAST_GSI; i++)
        p->gsi_used[first + i] = false;
}

/* The lowest slot without a transport, or 0. */
static unsigned free_slot(const struct vmm_pci *p)
{
    for (unsigned s = 1; s < PCI_N_SLOTS; s++) {
        if (!p->used[s])
            return s;
    }
    return 0;
}

/* Whether GSIs first..first+n-1 are MSI-X's and free. */
static bool gsis_free(const struct vmm_pci *p, uint32_t first, uint16_t n)
{
    if (first < MSIX_FIRST_GSI || first > MSIX_LAST_GSI + 1u - n)
        return false;
    for (uint32_t g = first; g < first + n; g++) {
        if (p->gsi_used[g])
            return false;
    }
    return true;
}

/*
 * A transport for t (not on the root bus yet) in slot `at` with GSIs from
 * `gsi` (a restore), or, with at == NULL, in the lowest free slot with the
 * first free GSIs; its BAR is the slot's. 0 and *slot, or -errno with
 * nothing taken: -ENOSPC (no slot or GSIs left), -EBUSY (the saved slot is
 * taken), -EINVAL (a saved slot, BAR or GSI range that cannot be used).
 */
static int place(struct vmm_pci *p, struct virtio_mmio *t,
                 const struct vmm_pci_place *at, unsigned *slot)
{
    unsigned s = at ? at->slot : free_slot(p);
    uint16_t n = virtio_pci_n_vectors(t);
    uint32_t gsi = 0;
    int rc;

    if (at) {
        if (s == 0 || s >= PCI_N_SLOTS)
            return -EINVAL;
        if (p->used[s])
            return -EBUSY;
        if (at->bar != vmm_pci_bar_addr(s))
            return -EINVAL;
        if (n && !gsis_free(p, at->first_gsi, n))
            return -EINVAL;
        gsi = at->first_gsi;
        for (uint32_t g = gsi; g < gsi + n; g++)
            p->gsi_used[g] = true;
    } else {
        if (!s)
            return -ENOSPC;
        rc = gsi_take(p, n, &gsi);
        if (rc < 0)
            return rc;
    }
    rc = virtio_pci_init(&p->devs[s], t, vmm_pci_bar_addr(s), gsi);
    if (rc < 0) {
        gsi_give(p, gsi, n);
        return rc;
    }
    p->used[s] = true;
    *slot = s;
    return 0;
}

/* Undo place(): the transport closed, its GSIs and slot free again. */
static void unplace(struct vmm_pci *p, unsigned s)
{
    struct virtio_pci *d = &p->devs[s];

    gsi_give(p, d->msix.vec[0].gsi, d->msix.n_vectors);
    virtio_pci_fini(d);
    memset(d, 0, sizeof(*d));
    p->used[s] = false;
}

/* vmm_pci_new and vmm_pci_new_at (at NULL: the boot's placement). */
static int pci_new(const struct vdev_list *l, const struct vmm_pci_place *at,
                   struct vmm_pci **out, struct sq_err *err)
{
    struct vmm_pci *p;
    char os[128];
    int rc = 0;

    /* vdev_list_create refused more already; kept for other callers. */
    if (l->n > PCI_N_DEVICE_SLOTS)
        return sq_errf(err, -ENOSPC, VDEV_ERR_ATTACH_PCI PCI_ERR_NO_SLOT);
    p = xcalloc(1, sizeof(*p));
    pci_root_init(&p->root);
    p->ioeventfd = notify_ioeventfd;
    p->vm_fd = -1;
    p->ranges[0] = (struct machine_bus_range){false, PCI_ECAM_BASE,
                                              PCI_ECAM_SIZE, &p->root.ecam};
    p->ranges[1] = (struct machine_bus_range){true, PCI_PIO_BASE, PCI_PIO_SIZE,
                                              &p->root.pio};
    p->n_ranges = 2;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        unsigned slot = 0, got = 0;

        rc = place(p, l->devs[i].t, at ? &at[i] : NULL, &slot);
        if (rc == 0 && at)
            rc = pci_root_add_at(&p->root, &p->devs[slot].pci, slot);
        else if (rc == 0)
            rc = pci_root_add(&p->root, &p->devs[slot].pci, &got);
        if (rc == 0)
            p->ranges[p->n_ranges++] = (struct machine_bus_range){
                false, vmm_pci_bar_addr(slot), VIRTIO_PCI_BAR_SIZE,
                &p->devs[slot].bar};
    }
    if (rc < 0) {
        vmm_pci_free(p);
        if (rc == -EINVAL && at)
            return sq_errf(err, rc,
                           VDEV_ERR_ATTACH_PCI "the saved slots, BARs or "
                                               "MSI-X GSIs cannot be used");
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

struct virtio_pci *vmm_pci_dev(struct vmm_pci *p, unsigned slot)
{
    return slot > 0 && slot < PCI_N_SLOTS && p->used[slot] ? &p->devs[slot]
                                                           : NULL;
}

const struct machine_bus_range *vmm_pci_ranges(const struct vmm_pci *p,
                                               size_t *n)
{
    *n = p->n_ranges;
    return p->ranges;
}

/* MSI-X to the routing table and the notification ioeventfds of slot s.
 * 0 or -errno with neither left. */
static int connect_slot(struct vmm_pci *p, unsigned s)
{
    struct virtio_pci *d = &p->devs[s];
    int rc;

    bus_dev_lock(&d->t->bus);
    msix_connect(&d->msix, &msi_routes_ops, &p->routes);
    bus_dev_unlock(&d->t->bus);
    rc = virtio_pci_attach(d, p->vm_fd, p->ioeventfd);
    if (rc < 0) {
        bus_dev_lock(&d->t->bus);
        msix_connect(&d->msix, NULL, NULL);
        bus_dev_unlock(&d->t->bus);
    }
    return rc;
}

static void disconnect_slot(struct vmm_pci *p, unsigned s)
{
    struct virtio_pci *d = &p->devs[s];

    virtio_pci_detach(d);
    /* Take the vectors' irqfds off while the VM exists. */
    bus_dev_lock(&d->t->bus);
    msix_connect(&d->msix, NULL, NULL);
    bus_dev_unlock(&d->t->bus);
}

/* Route every vector the guest left live, then push the table once
 * (upstream's set_gsi_routes after a restore); nothing to do at boot. */
static int stage_live_routes(struct vmm_pci *p)
{
    bool any = false;

    for (unsigned s = 1; s < PCI_N_SLOTS; s++) {
        const struct msix *m = &p->devs[s].msix;

        if (!p->used[s])
            continue;
        bus_dev_lock(&p->devs[s].t->bus);
        for (uint16_t v = 0; v < m->n_vectors; v++) {
            const struct msix_vector *e = &m->vec[v];

            if (!msix_wants_live(m, v))
                continue;
            (void)msi_routes_stage(&p->routes, e->gsi,
                                   (uint64_t)e->addr_hi << 32 | e->addr_lo,
                                   e->data);
            any = true;
        }
        bus_dev_unlock(&p->devs[s].t->bus);
    }
    return any ? msi_routes_push(&p->routes) : 0;
}

int vmm_pci_attach(struct vmm_pci *p, int vm_fd, struct sq_err *err)
{
    char os[128];

    msi_routes_init(&p->routes, vm_fd);
    p->has_routes = true;
    p->is_attached = true;
    p->vm_fd = vm_fd;
    /* A failure is msix.c's to report per vector (it retries the push). */
    if (stage_live_routes(p) < 0)
        log_warn("msi-x: could not set the restored GSI routes");
    for (unsigned s = 1; s < PCI_N_SLOTS; s++) {
        int rc = p->used[s] ? connect_slot(p, s) : 0;

        if (rc < 0) {
            /* connect_slot left slot s as it was; the others go back. */
            p->used[s] = false;
            vmm_pci_detach(p);
            p->used[s] = true;
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
    for (unsigned s = 1; s < PCI_N_SLOTS; s++) {
        if (p->used[s])
            disconnect_slot(p, s);
    }
    p->is_attached = false;
}

void vmm_pci_free(struct vmm_pci *p)
{
    if (!p)
        return;
    vmm_pci_detach(p);
    for (unsigned s = 1; s < PCI_N_SLOTS; s++) {
        if (p->used[s])
            virtio_pci_fini(&p->devs[s]);
    }
    if (p->has_routes)
        msi_routes_fini(&p->routes);
    pci_root_fini(&p->root);
    free(p);
}

void vmm_pci_set_ioeventfd_fn(struct vmm_pci *p, virtio_pci_ioeventfd_fn *fn)
{
    p->ioeventfd = fn;
}

struct pci_root *vmm_pci_root(struct vmm_pci *p)
{
    return &p->root;
}

/* ---- hot-plug ------------------------------------------------------------ */

/* Run a bus change through `update`; a failure of fn itself (the runner
 * set no error) gets the bus error text. */
static int run_update(vmm_pci_bus_update_fn *update, void *ctx,
                      machine_bus_fn *fn, void *opaque, struct sq_err *err)
{
    struct sq_err uerr = {0, ""};
    char os[128];
    int rc = update(ctx, fn, opaque, &uerr);

    if (rc >= 0)
        return 0;
    if (uerr.code)
        *err = uerr;
    else
        sq_errf(err, rc, VMM_PCI_ERR_PREFIX "Bus error: %s",
                sq_os_error(-rc, os, sizeof(os)));
    return rc;
}

/* What the bus change of a plug or an unplug does (machine_bus_fn). */
struct bus_change {
    struct vmm_pci *p;
    unsigned slot;
};

static int bus_plug(struct bus *mmio, struct bus *pio, void *opaque)
{
    struct bus_change *c = opaque;
    struct virtio_pci *d = &c->p->devs[c->slot];
    unsigned at = 0;
    int rc;

    (void)pio;
    rc = bus_add(mmio, vmm_pci_bar_addr(c->slot), VIRTIO_PCI_BAR_SIZE, &d->bar);
    if (rc < 0)
        return rc;
    rc = pci_root_add(&c->p->root, &d->pci, &at);
    if (rc == 0 && at != c->slot) {
        pci_root_remove(&c->p->root, at);
        rc = -EIO; /* the root and this table disagree: a bug */
    }
    if (rc < 0)
        (void)bus_remove(mmio, vmm_pci_bar_addr(c->slot), &d->bar);
    return rc;
}

static int bus_unplug(struct bus *mmio, struct bus *pio, void *opaque)
{
    struct bus_change *c = opaque;
    int rc;

    (void)pio;
    rc = bus_remove(mmio, vmm_pci_bar_addr(c->slot), &c->p->devs[c->slot].bar);
    if (rc == 0)
        pci_root_remove(&c->p->root, c->slot);
    return rc;
}

int vmm_pci_plug(struct vmm_pci *p, struct virtio_mmio *t,
                 vmm_pci_bus_update_fn *update, void *ctx, unsigned *slot,
                 struct sq_err *err)
{
    struct bus_change c = {p, 0};
    char os[128];
    int rc = place(p, t, NULL, &c.slot);

    if (rc == -ENOSPC && !free_slot(p))
        return sq_errf(err, rc, VMM_PCI_ERR_PREFIX PCI_ERR_NO_SLOT);
    if (rc < 0)
        return sq_errf(err, rc, VMM_PCI_ERR_PREFIX "MSI error: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    if (p->is_attached) {
        rc = connect_slot(p, c.slot);
        if (rc < 0) {
            unplace(p, c.slot);
            return sq_errf(err, rc, VMM_PCI_ERR_PREFIX "KVM error: %s",
                           sq_os_error(-rc, os, sizeof(os)));
        }
    }
    rc = run_update(update, ctx, bus_plug, &c, err);
    if (rc < 0) {
        if (p->is_attached)
            disconnect_slot(p, c.slot);
        unplace(p, c.slot);
        return rc;
    }
    *slot = c.slot;
    return 0;
}

int vmm_pci_unplug(struct vmm_pci *p, const struct virtio_mmio *t,
                   vmm_pci_bus_update_fn *update, void *ctx, struct sq_err *err)
{
    struct bus_change c = {p, 0};
    int rc;

    for (unsigned s = 1; s < PCI_N_SLOTS && !c.slot; s++) {
        if (p->used[s] && p->devs[s].t == t)
            c.slot = s;
    }
    if (!c.slot)
        return sq_errf(err, -ENODEV, "Device not found");
    rc = run_update(update, ctx, bus_unplug, &c, err);
    if (rc < 0)
        return rc;
    if (p->is_attached)
        disconnect_slot(p, c.slot);
    unplace(p, c.slot);
    return 0;
}

unsigned vmm_pci_slot_of(const struct vmm_pci *p, const struct virtio_mmio *t)
{
    for (unsigned s = 1; s < PCI_N_SLOTS; s++) {
        if (p->used[s] && p->devs[s].t == t)
            return s;
    }
    return 0;
}
