/*
 * pci_attach.c: the virtio devices on PCI (pci_attach.h).
 */
#include "vmm/pci_attach.h"

#include <errno.h>
#include <stdlib.h>

#include "devices/pci/root.h"
#include "devices/pci/virtio_pci.h"
#include "util/xalloc.h"
#include "vmm/kvm.h"
#include "vmm/msi_routes.h"

struct vmm_pci {
    struct pci_root root;
    struct msi_routes routes;
    bool has_routes;
    size_t n;                         /* devices */
    struct virtio_pci *devs;          /* owned, n */
    struct machine_bus_range *ranges; /* owned, 2 + n */
    bool is_attached;
};

/* Any-length, no-datamatch KVM_IOEVENTFD for a notification address. */
static int notify_ioeventfd(int vm_fd, int fd, uint64_t addr, bool deassign)
{
    return kvm_ioeventfd(vm_fd, fd, addr, 0, 0, deassign);
}

int vmm_pci_new(const struct vdev_list *l, struct vmm_pci **out,
                struct sq_err *err)
{
    struct vmm_pci *p;
    uint32_t next_gsi = MSIX_FIRST_GSI;
    char os[128];
    int rc = 0;

    /* vdev_list_create refused more already; kept for other callers. */
    if (l->n > PCI_N_DEVICE_SLOTS)
        return sq_errf(err, -ENOSPC, VDEV_ERR_ATTACH_PCI PCI_ERR_NO_SLOT);
    p = xcalloc(1, sizeof(*p));
    pci_root_init(&p->root);
    p->devs = xcalloc(l->n + 1, sizeof(*p->devs));
    p->ranges = xcalloc(l->n + 2, sizeof(*p->ranges));
    p->ranges[0] = (struct machine_bus_range){false, PCI_ECAM_BASE,
                                              PCI_ECAM_SIZE, &p->root.ecam};
    p->ranges[1] = (struct machine_bus_range){true, PCI_PIO_BASE, PCI_PIO_SIZE,
                                              &p->root.pio};
    for (size_t i = 0; i < l->n; i++) {
        struct virtio_pci *d = &p->devs[i];
        uint64_t bar = VMM_PCI_BAR_BASE + i * VIRTIO_PCI_BAR_SIZE;
        uint32_t gsi = 0;
        unsigned slot = 0;

        rc =
            msix_gsi_alloc(&next_gsi, virtio_pci_n_vectors(l->devs[i].t), &gsi);
        if (rc == 0)
            rc = virtio_pci_init(d, l->devs[i].t, bar, gsi);
        if (rc < 0)
            break;
        p->n = i + 1;
        rc = pci_root_add(&p->root, &d->pci, &slot);
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

const struct machine_bus_range *vmm_pci_ranges(const struct vmm_pci *p,
                                               size_t *n)
{
    *n = p->n + 2;
    return p->ranges;
}

int vmm_pci_attach(struct vmm_pci *p, int vm_fd, struct sq_err *err)
{
    char os[128];

    msi_routes_init(&p->routes, vm_fd);
    p->has_routes = true;
    p->is_attached = true;
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
    free(p->ranges);
    free(p);
}
