/*
 * vdev.c: the virtio device list and its attach-order table (vdev.h).
 *
 * The order decides each device's MMIO window, its GSI, its place on the
 * kernel command line and in the DSDT, so it is upstream's to the letter:
 * build_microvm_for_boot (firecracker src/vmm/src/builder.rs:229-290)
 * attaches the balloon, then the block devices (root first, then in
 * insertion order; vhost-user ones among them), the network interfaces,
 * the pmem devices, vsock, entropy and last virtio-mem, each taking the
 * next window and GSI as it is attached (attach_boot_virtio_device).
 */
#include "vmm/vdev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/root.h"
#include "devices/virtio/mem.h"
#include "util/xalloc.h"
#include "vmm/device_cfg.h"
#include "vmm/errors.h"

const struct vdev_class *const vdev_attach_order[] = {
    &vdev_class_balloon, &vdev_class_block,   &vdev_class_net, &vdev_class_pmem,
    &vdev_class_vsock,   &vdev_class_entropy, &vdev_class_mem,
};
const size_t vdev_attach_order_len =
    sizeof(vdev_attach_order) / sizeof(vdev_attach_order[0]);

const char *vdev_unsupported(const struct vm_resources *r)
{
    for (size_t k = 0; k < vdev_attach_order_len; k++) {
        const struct vdev_class *c = vdev_attach_order[k];
        const char *name = c->unsupported ? c->unsupported(r) : NULL;

        if (name)
            return name;
        if (!c->create && c->count(r))
            return c->name;
    }
    return NULL;
}

/* Build the i-th device of kind c into the next entry (room for it in
 * l->devs), which counts from then on. 0 or the class's -errno. */
static int build_one(struct vdev_list *l, const struct vdev_class *c,
                     const struct vm_resources *r, size_t i, struct sq_err *err)
{
    struct vmm_vdev *d = &l->devs[l->n];
    int rc;

    memset(d, 0, sizeof(*d));
    d->changed = l->changed;
    d->changed_opaque = l->changed_opaque;
    d->win = &l->win;
    d->hotplug_gpa = l->hotplug_gpa;
    d->saved = l->saved;
    d->n_saved = l->n_saved;
    rc = c->create(r, i, d, err);
    d->saved = NULL;
    d->n_saved = 0;
    if (rc)
        return rc;
    d->cls = c;
    l->n++;
    return 0;
}

/* Build the i-th device of kind c into the next entry, then place it
 * (vdev_list_create says how; alloc NULL: on PCI). */
static int create_one(struct vdev_list *l, const struct vdev_class *c,
                      const struct vm_resources *r, size_t i,
                      struct mmio_alloc *alloc, struct sq_err *err)
{
    struct vmm_vdev *d = &l->devs[l->n];
    int rc = build_one(l, c, r, i, err);

    if (rc)
        return rc;
    if (!alloc) {
        /* PciSegment::next_device_sbdf: slot 0 is the host bridge's. */
        if (l->n > PCI_N_DEVICE_SLOTS)
            return sq_errf(err, -ENOSPC, VDEV_ERR_ATTACH_PCI PCI_ERR_NO_SLOT);
        return 0;
    }
    rc = mmio_alloc_device(alloc, &d->addr, &d->gsi, err);
    if (rc)
        sq_err_prefix(err, VDEV_ERR_ATTACH_MMIO);
    return rc;
}

size_t vdev_count(const struct vm_resources *r)
{
    size_t total = 0;

    for (size_t k = 0; k < vdev_attach_order_len; k++) {
        if (vdev_attach_order[k]->create)
            total += vdev_attach_order[k]->count(r);
    }
    return total;
}

int vdev_list_create(struct vdev_list *l, const struct vm_resources *r,
                     struct mmio_alloc *alloc, struct sq_err *err)
{
    size_t total = vdev_count(r);
    int rc;

    l->devs = xcalloc(total ? total : 1, sizeof(*l->devs));
    l->n = 0;
    mem_window_init(&l->win, (uint64_t)r->machine.mem_size_mib << 20);
    l->hotplug_gpa = 0;
    /* Upstream's allocate_virtio_mem_address: the hot-pluggable region
     * takes the first window, 128 MiB aligned, before any device. */
    if (r->has_memory_hotplug &&
        mem_window_take(&l->win,
                        (uint64_t)r->memory_hotplug.total_size_mib << 20,
                        VIRTIO_MEM_ADDR_ALIGN, &l->hotplug_gpa) < 0)
        return sq_errf(
            err, -ENOSPC,
            "Failed to allocate guest resource: " VMM_ERR_NO_RESOURCE);
    for (size_t k = 0; k < vdev_attach_order_len; k++) {
        const struct vdev_class *c = vdev_attach_order[k];
        size_t n = c->create ? c->count(r) : 0;

        for (size_t i = 0; i < n; i++) {
            rc = create_one(l, c, r, i, alloc, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int vdev_list_add_memory(struct vdev_list *l, struct guest_mem *gm,
                         struct sq_err *err)
{
    char os[128];
    int rc;

    for (size_t i = 0; i < l->n; i++) {
        struct vmm_vdev *d = &l->devs[i];

        if (!d->cls->add_memory)
            continue;
        rc = d->cls->add_memory(d->dev, gm);
        if (rc)
            return sq_errf(err, rc, "Invalid Memory Configuration: %s",
                           sq_os_error(-rc, os, sizeof(os)));
    }
    return 0;
}

int vdev_list_attach(struct vdev_list *l, const struct guest_mem *gm, int vm_fd,
                     struct evloop *loop, struct sq_err *err)
{
    char os[128];
    int rc;

    for (size_t i = 0; i < l->n && vm_fd >= 0; i++) {
        struct vmm_vdev *d = &l->devs[i];

        if (d->cls->map) {
            rc = d->cls->map(d->dev, vm_fd, err);
            if (rc)
                return rc;
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        struct vmm_vdev *d = &l->devs[i];

        rc = d->cls->attach(d->dev, gm, vm_fd, d->addr, loop);
        if (rc)
            return sq_errf(
                err, rc, VDEV_ERR_ATTACH_MMIO "Failed to register IO event: %s",
                sq_os_error(-rc, os, sizeof(os)));
    }
    return 0;
}

void vdev_list_detach(struct vdev_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        l->devs[i].cls->detach(l->devs[i].dev);
}

void vdev_list_free(struct vdev_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        l->devs[i].cls->free(l->devs[i].dev);
        free(l->devs[i].id);
    }
    free(l->devs);
    l->devs = NULL;
    l->n = 0;
}

struct vmm_vdev *vdev_list_add(struct vdev_list *l, const struct vdev_class *c,
                               const struct vm_resources *r, size_t i,
                               struct sq_err *err)
{
    l->devs = xrealloc(l->devs, (l->n + 1) * sizeof(*l->devs));
    if (build_one(l, c, r, i, err))
        return NULL;
    return &l->devs[l->n - 1];
}

void vdev_list_remove(struct vdev_list *l, struct vmm_vdev *d)
{
    size_t i = (size_t)(d - l->devs);

    d->cls->detach(d->dev);
    d->cls->free(d->dev);
    free(d->id);
    memmove(&l->devs[i], &l->devs[i + 1], (l->n - i - 1) * sizeof(*l->devs));
    l->n--;
}

struct vmm_vdev *vdev_find(const struct vdev_list *l,
                           const struct vdev_class *cls, const char *id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->devs[i].cls == cls && strcmp(l->devs[i].id, id) == 0)
            return &l->devs[i];
    }
    return NULL;
}

int vdev_save_nothing(void *dev, struct buf *out, struct sq_err *err)
{
    (void)dev;
    (void)out;
    (void)err;
    return 0;
}

int vdev_restore_nothing(void *dev, const uint8_t *p, size_t len,
                         struct sq_err *err)
{
    (void)dev;
    (void)p;
    return len ? sq_errf(err, -EINVAL, "unexpected device state") : 0;
}
