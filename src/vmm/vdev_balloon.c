/*
 * vdev_balloon.c: PUT /balloon -> virtio-balloon, its PATCH and GET operations,
 * and the balloon kind of the device list (device_cfg.h).
 */
#include "vmm/device_cfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/action.h"
#include "vmm/vdev_kind_snap.h"

int balloon_new_from_cfg(const struct balloon_cfg *c,
                         void (*changed)(void *opaque), void *opaque,
                         struct balloon **out, struct sq_err *err)
{
    struct balloon_params p;

    memset(&p, 0, sizeof(p));
    p.amount_mib = c->amount_mib;
    p.deflate_on_oom = c->deflate_on_oom;
    p.stats_polling_interval_s = c->stats_polling_interval_s;
    p.free_page_hinting = c->free_page_hinting;
    p.free_page_reporting = c->free_page_reporting;
    p.changed = changed;
    p.changed_opaque = opaque;
    return balloon_new(&p, out, err);
}

static size_t balloon_count(const struct vm_resources *r)
{
    return r->has_balloon;
}

static int balloon_create(const struct vm_resources *r, size_t i,
                          struct vmm_vdev *d, struct sq_err *err)
{
    struct balloon *b;
    int rc = balloon_new_from_cfg(&r->balloon, d->changed, d->changed_opaque,
                                  &b, err);

    (void)i; /* at most one */
    if (rc)
        return rc;
    d->dev = b;
    d->t = balloon_transport(b);
    d->id = xstrdup(BALLOON_DEVICE_ID);
    return 0;
}

static int balloon_vattach(void *dev, const struct guest_mem *gm, int vm_fd,
                           uint64_t addr, struct evloop *loop)
{
    return balloon_attach(dev, gm, vm_fd, addr, loop);
}

static void balloon_vdetach(void *dev)
{
    balloon_detach(dev);
}

static void balloon_vfree(void *dev)
{
    balloon_free(dev);
}

static int balloon_vpatch(void *dev, int op, const void *update,
                          struct sq_err *err)
{
    if (op == VMM_OP_PATCH_BALLOON) {
        const struct balloon_update *u = update;

        return balloon_update_size(dev, u->amount_mib, err);
    }
    if (op == VMM_OP_PATCH_BALLOON_STATS) {
        const struct balloon_stats_update *u = update;

        return balloon_update_stats_interval(dev, u->stats_polling_interval_s,
                                             err);
    }
    if (op == VMM_OP_PATCH_BALLOON_HINTING_START) {
        const struct balloon_hinting_start *u = update;

        /* No body: upstream's default command acknowledges on stop. */
        return balloon_start_hinting(dev, u ? u->acknowledge_on_stop : true,
                                     err);
    }
    if (op == VMM_OP_PATCH_BALLOON_HINTING_STOP)
        return balloon_stop_hinting(dev, err);
    return sq_errf(err, -EOPNOTSUPP, "not a balloon update");
}

_Static_assert(BALLOON_N_STATS == BALLOON_STAT_COUNT,
               "the device's stat tags are the API's fields");

static int balloon_vquery(void *dev, int op, void *out, struct sq_err *err)
{
    if (op == VMM_OP_GET_BALLOON_STATS) {
        struct balloon_stats *st = out;
        struct balloon_dev_stats ds;
        int rc = balloon_get_stats(dev, &ds, err);

        if (rc < 0)
            return rc;
        st->target_pages = ds.target_pages;
        st->actual_pages = ds.actual_pages;
        st->target_mib = ds.target_mib;
        st->actual_mib = ds.actual_mib;
        for (size_t i = 0; i < BALLOON_N_STATS; i++) {
            st->has[i] = ds.has[i];
            st->value[i] = ds.value[i];
        }
        return 0;
    }
    if (op == VMM_OP_GET_BALLOON_HINTING_STATUS) {
        struct balloon_hinting_status *hs = out;
        struct balloon_dev_hinting dh;
        int rc = balloon_hinting_status(dev, &dh, err);

        if (rc < 0)
            return rc;
        hs->host_cmd = dh.host_cmd;
        hs->has_guest_cmd = dh.has_guest_cmd;
        hs->guest_cmd = dh.guest_cmd;
        return 0;
    }
    return sq_errf(err, -EOPNOTSUPP, "not a balloon query");
}

const struct vdev_class vdev_class_balloon = {
    .name = "virtio-balloon",
    .count = balloon_count,
    .create = balloon_create,
    .attach = balloon_vattach,
    .detach = balloon_vdetach,
    .free = balloon_vfree,
    .patch = balloon_vpatch,
    .query = balloon_vquery,
    .save = vdev_balloon_save,
    .restore = vdev_balloon_restore,
};
