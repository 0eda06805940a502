/*
 * vdev_block.c: PUT and PATCH /drives -> virtio-block, and the block kind of
 * the device list (device_cfg.h).
 */
#include "vmm/device_cfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/action.h"

int block_new_from_drive(const struct drive_cfg *d, int fd, struct block **out,
                         struct sq_err *err)
{
    struct rate_limiter_params rl;
    struct block_config cfg;

    if (!d->path_on_host || d->socket)
        return sq_errf(err, -EINVAL, "Invalid block config.");
    memset(&cfg, 0, sizeof(cfg));
    cfg.drive_id = d->drive_id;
    cfg.path_on_host = d->path_on_host;
    cfg.has_fd = fd >= 0;
    cfg.fd = fd;
    cfg.is_read_only = d->has_is_read_only && d->is_read_only;
    cfg.cache_type = d->cache_type == CACHE_TYPE_WRITEBACK
                         ? BLOCK_CACHE_WRITEBACK
                         : BLOCK_CACHE_UNSAFE;
    cfg.io_engine = d->has_io_engine && d->io_engine == IO_ENGINE_ASYNC
                        ? BLOCK_IO_ASYNC
                        : BLOCK_IO_SYNC;
    if (d->has_rate_limiter) {
        rate_limiter_params_from_cfg(&d->rate_limiter, &rl);
        cfg.rate_limiter = &rl;
    }
    return block_new(&cfg, out, err);
}

int block_patch_from_update(struct block *b, const struct drive_update *u,
                            struct sq_err *err)
{
    struct rate_limiter_params rl;
    int rc;

    if (u->path_on_host) {
        rc = block_update_path(b, u->path_on_host, err);
        if (rc < 0)
            return rc;
    }
    if (u->has_rate_limiter) {
        rate_limiter_params_from_cfg(&u->rate_limiter, &rl);
        block_update_rate_limiter(b, &rl);
    }
    return 0;
}

static size_t block_count(const struct vm_resources *r)
{
    return r->n_drives;
}

static const char *block_unsupported(const struct vm_resources *r)
{
    for (size_t i = 0; i < r->n_drives; i++) {
        if (r->drives[i].is_vhost_user)
            return "vhost-user-block";
    }
    return NULL;
}

static int block_create(const struct vm_resources *r, size_t i,
                        struct vmm_vdev *d, struct sq_err *err)
{
    const struct res_drive *rd = &r->drives[i];
    struct block *b = NULL;
    int rc = block_new_from_drive(&rd->cfg, rd->fd, &b, err);

    if (rc)
        return rc;
    d->dev = b;
    d->t = block_transport(b);
    d->id = xstrdup(rd->cfg.drive_id);
    return 0;
}

static int block_vattach(void *dev, const struct guest_mem *gm, int vm_fd,
                         uint64_t addr, struct evloop *loop)
{
    return block_attach(dev, gm, vm_fd, addr, loop);
}

static void block_vdetach(void *dev)
{
    block_detach(dev);
}

static void block_vfree(void *dev)
{
    block_free(dev);
}

static int block_vpatch(void *dev, int op, const void *update,
                        struct sq_err *err)
{
    if (op != VMM_OP_PATCH_DRIVE)
        return sq_errf(err, -EOPNOTSUPP, "not a drive update");
    return block_patch_from_update(dev, update, err);
}

/* The device's own state is its configuration, which the snapshot keeps
 * apart; saving only lets Async requests in flight finish. */
static int block_vsave(void *dev, struct buf *out, struct sq_err *err)
{
    (void)out;
    (void)err;
    block_quiesce(dev);
    return 0;
}

const struct vdev_class vdev_class_block = {
    .name = "virtio-block",
    .count = block_count,
    .unsupported = block_unsupported,
    .create = block_create,
    .attach = block_vattach,
    .detach = block_vdetach,
    .free = block_vfree,
    .patch = block_vpatch,
    .save = block_vsave,
    .restore = vdev_restore_nothing,
};
