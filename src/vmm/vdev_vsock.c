/*
 * vdev_vsock.c: PUT /vsock -> virtio-vsock, and the vsock kind of the device
 * list (device_cfg.h).
 */
#include "vmm/device_cfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/action.h"
#include "vmm/vdev_kind_snap.h"

int vsock_new_from_cfg(const struct vsock_cfg *c, int listen_fd,
                       struct vsock **out, struct sq_err *err)
{
    struct vsock_params p;

    memset(&p, 0, sizeof(p));
    p.guest_cid = c->guest_cid;
    p.listen_fd = listen_fd;
    p.uds_path = c->uds_path;
    return vsock_new(&p, out, err);
}

static size_t vsock_count(const struct vm_resources *r)
{
    return r->has_vsock;
}

static int vsock_create(const struct vm_resources *r, size_t i,
                        struct vmm_vdev *d, struct sq_err *err)
{
    struct vsock *v;
    int rc = vsock_new_from_cfg(&r->vsock.cfg, r->vsock.listen_fd, &v, err);

    (void)i; /* at most one */
    if (rc)
        return rc;
    d->dev = v;
    d->t = vsock_transport(v);
    d->id = xstrdup(VSOCK_DEVICE_ID);
    return 0;
}

static int vsock_vattach(void *dev, const struct guest_mem *gm, int vm_fd,
                         uint64_t addr, struct evloop *loop)
{
    return vsock_attach(dev, gm, vm_fd, addr, loop);
}

static void vsock_vdetach(void *dev)
{
    vsock_detach(dev);
}

static void vsock_vfree(void *dev)
{
    vsock_free(dev);
}

const struct vdev_class vdev_class_vsock = {
    .name = "virtio-vsock",
    .count = vsock_count,
    .create = vsock_create,
    .attach = vsock_vattach,
    .detach = vsock_vdetach,
    .free = vsock_vfree,
    .save = vdev_vsock_save,
    .restore = vdev_vsock_restore,
};
