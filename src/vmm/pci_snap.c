/*
 * pci_snap.c: a PCI-mode machine's PCI state out and back in
 * (pci_snap.h).
 */
#include "vmm/pci_snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

void pci_snap_save(struct vmm_pci *p, const struct vdev_list *l,
                   struct pci_snap **out)
{
    struct pci_snap *s = xcalloc(1, sizeof(*s));

    pci_root_save(vmm_pci_root(p), &s->root);
    s->devs = xcalloc(l->n ? l->n : 1, sizeof(*s->devs));
    s->n = l->n;
    for (size_t i = 0; i < l->n; i++) {
        struct pci_dev_snap *d = &s->devs[i];

        d->kind = xstrdup(l->devs[i].cls->name);
        d->id = xstrdup(l->devs[i].id);
        d->dev = (uint8_t)vmm_pci_slot_of(p, l->devs[i].t);
        virtio_pci_save(vmm_pci_dev(p, d->dev), &d->transport);
    }
    *out = s;
}

static const struct pci_dev_snap *find(const struct pci_snap *s,
                                       const struct vmm_vdev *d)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->devs[i].kind, d->cls->name) &&
            !strcmp(s->devs[i].id, d->id))
            return &s->devs[i];
    return NULL;
}

int pci_snap_places(const struct pci_snap *s, const struct vdev_list *l,
                    struct vmm_pci_place *at, struct sq_err *err)
{
    if (s->n != l->n)
        return sq_errf(err, -EINVAL, "%zu PCI devices saved, %zu built", s->n,
                       l->n);
    for (size_t i = 0; i < l->n; i++) {
        const struct vmm_vdev *d = &l->devs[i];
        const struct pci_dev_snap *e = find(s, d);

        if (!e)
            return sq_errf(err, -EINVAL, "%s %s: no saved PCI state",
                           d->cls->name, d->id);
        if (e->segment || e->bus || e->fn)
            return sq_errf(err, -EINVAL,
                           "%s %s: saved at %04x:%02x:%02x.%u, not on bus 0",
                           d->cls->name, d->id, e->segment, e->bus, e->dev,
                           (unsigned)e->fn);
        at[i] = (struct vmm_pci_place){e->dev, e->transport.bar_addr,
                                       e->transport.first_gsi};
    }
    return 0;
}

int pci_snap_restore(struct vmm_pci *p, const struct vdev_list *l,
                     const struct pci_snap *s, struct sq_err *err)
{
    if (pci_root_restore(vmm_pci_root(p), &s->root) < 0)
        return sq_errf(err, -EINVAL,
                       "the saved PCI root bus state does not fit");
    for (size_t i = 0; i < l->n; i++) {
        const struct vmm_vdev *d = &l->devs[i];
        const struct pci_dev_snap *e = find(s, d);

        struct virtio_pci *t = vmm_pci_dev(p, vmm_pci_slot_of(p, d->t));

        if (!e || !t || virtio_pci_restore(t, &e->transport) < 0)
            return sq_errf(err, -EINVAL,
                           "%s %s: the saved PCI transport state does not fit",
                           d->cls->name, d->id);
    }
    return 0;
}

void pci_snap_free(struct pci_snap *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->devs[i].kind);
        free(s->devs[i].id);
    }
    free(s->devs);
    free(s);
}
