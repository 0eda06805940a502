/*
 * pci_hotplug.c: one device onto and off a running PCI bus (pci_hotplug.h).
 */
#include "vmm/pci_hotplug.h"

#include <errno.h>

#include "obs/log.h"
#include "vmm/device_cfg.h"

const struct vdev_class *pci_hotplug_class(enum vmm_op op)
{
    if (op == VMM_OP_PUT_DRIVE || op == VMM_OP_DELETE_DRIVE)
        return &vdev_class_block;
    if (op == VMM_OP_PUT_PMEM || op == VMM_OP_DELETE_PMEM)
        return &vdev_class_pmem;
    return &vdev_class_net;
}

int pci_hotplug_attach(const struct pci_hotplug *h, enum vmm_op op,
                       const struct vm_resources *r, size_t i, unsigned *slot,
                       struct sq_err *err)
{
    const struct vdev_class *c = pci_hotplug_class(op);
    struct vmm_vdev *d = vdev_list_add(h->l, c, r, i, err);
    char os[128];
    int rc = 0;

    if (!d)
        return err->code ? err->code : -EINVAL;
    if (h->vm_fd >= 0 && c->map)
        rc = c->map(d->dev, h->vm_fd, err);
    if (rc == 0) {
        /* On PCI the device registers no MMIO ioeventfds (vm_fd -1). */
        rc = c->attach(d->dev, h->gm, -1, 0, h->loop);
        if (rc < 0)
            sq_errf(err, rc,
                    VMM_PCI_ERR_PREFIX "Could not register the device on "
                                       "the event loop: %s",
                    sq_os_error(-rc, os, sizeof(os)));
    }
    if (rc == 0)
        rc = vmm_pci_plug(h->p, d->t, h->update, h->update_ctx, slot, err);
    if (rc < 0) {
        vdev_list_remove(h->l, d); /* detach, unmap and free */
        return rc;
    }
    log_debug("Hot-plugged %s '%s' in PCI slot 00:%02x.0", c->name, d->id,
              *slot);
    return 0;
}

int pci_hotplug_detach(const struct pci_hotplug *h, enum vmm_op op,
                       const char *id, struct sq_err *err)
{
    const struct vdev_class *c = pci_hotplug_class(op);
    struct vmm_vdev *d = vdev_find(h->l, c, id);
    unsigned slot;
    int rc;

    if (!d)
        return sq_errf(err, -ENODEV, "Device not found");
    slot = vmm_pci_slot_of(h->p, d->t);
    rc = vmm_pci_unplug(h->p, d->t, h->update, h->update_ctx, err);
    if (rc < 0)
        return rc;
    vdev_list_remove(h->l, d);
    log_debug("Hot-unplugged %s '%s' from PCI slot 00:%02x.0", c->name, id,
              slot);
    return 0;
}
