/*
 * vdev_snap.c: the device list's state out and back in (vdev_snap.h).
 */
#include "vmm/vdev_snap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

const char *vdev_snap_unsupported(const struct vdev_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!l->devs[i].cls->save || !l->devs[i].cls->restore)
            return l->devs[i].cls->name;
    return NULL;
}

/* rc, with "{kind} {id}: " before err's text. */
static int dev_error(struct sq_err *err, const struct vmm_vdev *d, int rc)
{
    char prefix[256];

    snprintf(prefix, sizeof(prefix), "%s %s: ", d->cls->name, d->id);
    sq_err_prefix(err, prefix);
    return rc;
}

void vdev_snap_free(struct vdev_snap *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++) {
        free(s[i].kind);
        free(s[i].id);
        buf_fini(&s[i].device);
    }
    free(s);
}

int vdev_snap_save(struct vdev_list *l, struct vdev_snap **out, size_t *n,
                   struct sq_err *err)
{
    const char *kind = vdev_snap_unsupported(l);
    struct vdev_snap *s;

    *out = NULL;
    *n = 0;
    if (kind)
        return sq_errf(err, -EOPNOTSUPP,
                       "Devices without snapshot support are present: %s",
                       kind);
    s = xcalloc(l->n ? l->n : 1, sizeof(*s));
    for (size_t i = 0; i < l->n; i++) {
        struct vmm_vdev *d = &l->devs[i];
        int rc;

        buf_init(&s[i].device);
        s[i].kind = xstrdup(d->cls->name);
        s[i].id = xstrdup(d->id);
        s[i].addr = d->addr;
        s[i].gsi = d->gsi;
        rc = d->cls->save(d->dev, &s[i].device, err);
        if (rc < 0) {
            vdev_snap_free(s, i + 1);
            return dev_error(err, d, rc);
        }
        virtio_mmio_save(d->t, &s[i].transport);
    }
    *out = s;
    *n = l->n;
    return 0;
}

/* The saved entry of `kind` and `id` (not taken yet, when `taken` is
 * given), or NULL. */
static const struct vdev_snap *find_saved(const struct vdev_snap *s, size_t n,
                                          const bool *taken, const char *kind,
                                          const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if ((!taken || !taken[i]) && !strcmp(s[i].kind, kind) &&
            !strcmp(s[i].id, id))
            return &s[i];
    }
    return NULL;
}

bool vdev_snap_saved_state(const struct vmm_vdev *d, const struct vdev_class *c,
                           const char *id, const uint8_t **p, size_t *len)
{
    const struct vdev_snap *e =
        d->saved ? find_saved(d->saved, d->n_saved, NULL, c->name, id) : NULL;

    if (!e)
        return false;
    *p = (const uint8_t *)e->device.data;
    *len = e->device.len;
    return true;
}

int vdev_snap_restore(struct vdev_list *l, const struct vdev_snap *s, size_t n,
                      struct sq_err *err)
{
    bool *taken;
    int rc = 0;

    if (n != l->n)
        return sq_errf(err, -EINVAL, "%zu virtio devices saved, %zu built", n,
                       l->n);
    /* Found by kind and id: a PCI bus after hot-plug lists a plugged device
     * after the others, its rebuild with the boot devices of its kind. */
    taken = xcalloc(n ? n : 1, sizeof(*taken));
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct vmm_vdev *d = &l->devs[i];
        const struct vdev_snap *e =
            find_saved(s, n, taken, d->cls->name, d->id);

        if (!e) {
            rc = sq_errf(err, -EINVAL, "%s %s: not in the snapshot",
                         d->cls->name, d->id);
            break;
        }
        taken[e - s] = true;
        if (e->addr != d->addr || e->gsi != d->gsi) {
            rc = sq_errf(err, -EINVAL,
                         "%s %s: saved at %#llx GSI %u, built as %s %s at "
                         "%#llx GSI %u",
                         e->kind, e->id, (unsigned long long)e->addr, e->gsi,
                         d->cls->name, d->id, (unsigned long long)d->addr,
                         d->gsi);
            break;
        }
        rc = d->cls->restore(d->dev, (const uint8_t *)e->device.data,
                             e->device.len, err);
        if (rc == 0 && virtio_mmio_restore(d->t, &e->transport) < 0)
            rc = sq_errf(err, -EINVAL, "the saved queues do not activate");
        if (rc < 0)
            rc = dev_error(err, d, rc);
    }
    free(taken);
    return rc;
}
