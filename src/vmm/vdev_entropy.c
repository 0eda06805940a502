/*
 * vdev_entropy.c: PUT /entropy -> virtio-rng, and the entropy kind of the
 * device list (device_cfg.h).
 */
#include "vmm/device_cfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/action.h"

int rng_new_from_entropy(const struct entropy_cfg *e, struct rng **out,
                         struct sq_err *err)
{
    struct rate_limiter_params rl;

    if (!e->has_rate_limiter)
        return rng_new(NULL, out, err);
    rate_limiter_params_from_cfg(&e->rate_limiter, &rl);
    return rng_new(&rl, out, err);
}

static size_t entropy_count(const struct vm_resources *r)
{
    return r->has_entropy;
}

static int entropy_create(const struct vm_resources *r, size_t i,
                          struct vmm_vdev *d, struct sq_err *err)
{
    struct rng *rng;
    int rc = rng_new_from_entropy(&r->entropy, &rng, err);

    (void)i; /* at most one */
    if (rc)
        return rc;
    d->dev = rng;
    d->t = rng_transport(rng);
    d->id = xstrdup(RNG_DEVICE_ID);
    return 0;
}

static int rng_vattach(void *dev, const struct guest_mem *gm, int vm_fd,
                       uint64_t addr, struct evloop *loop)
{
    return rng_attach(dev, gm, vm_fd, addr, loop);
}

static void rng_vdetach(void *dev)
{
    rng_detach(dev);
}

static void rng_vfree(void *dev)
{
    rng_free(dev);
}

/* virtio-rng answers each request as it is popped: nothing of its own to
 * save beyond the transport. */
const struct vdev_class vdev_class_entropy = {
    .name = "virtio-rng",
    .count = entropy_count,
    .create = entropy_create,
    .attach = rng_vattach,
    .detach = rng_vdetach,
    .free = rng_vfree,
    .save = vdev_save_nothing,
    .restore = vdev_restore_nothing,
};
