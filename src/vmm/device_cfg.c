/*
 * device_cfg.c: API request types -> virtio device creation and updates,
 * and each device kind's class for the device list (device_cfg.h).
 */
#include "vmm/device_cfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/action.h"

static void bucket_from_cfg(const struct token_bucket_cfg *in,
                            struct token_bucket_params *out)
{
    out->size = in->size;
    out->one_time_burst = in->has_one_time_burst ? in->one_time_burst : 0;
    out->refill_time_ms = in->refill_time;
}

void rate_limiter_params_from_cfg(const struct rate_limiter_cfg *in,
                                  struct rate_limiter_params *out)
{
    memset(out, 0, sizeof(*out));
    out->has_bandwidth = in->has_bandwidth;
    if (in->has_bandwidth)
        bucket_from_cfg(&in->bandwidth, &out->bandwidth);
    out->has_ops = in->has_ops;
    if (in->has_ops)
        bucket_from_cfg(&in->ops, &out->ops);
}

static void bucket_to_cfg(const struct token_bucket_params *in,
                          struct token_bucket_cfg *out)
{
    out->size = in->size;
    out->has_one_time_burst = in->one_time_burst != 0;
    out->one_time_burst = in->one_time_burst;
    out->refill_time = in->refill_time_ms;
}

void rate_limiter_cfg_from_params(const struct rate_limiter_params *in,
                                  struct rate_limiter_cfg *out)
{
    memset(out, 0, sizeof(*out));
    out->has_bandwidth = in->has_bandwidth && in->bandwidth.size != 0 &&
                         in->bandwidth.refill_time_ms != 0;
    if (out->has_bandwidth)
        bucket_to_cfg(&in->bandwidth, &out->bandwidth);
    out->has_ops =
        in->has_ops && in->ops.size != 0 && in->ops.refill_time_ms != 0;
    if (out->has_ops)
        bucket_to_cfg(&in->ops, &out->ops);
}

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

int net_new_from_iface(const struct net_iface_cfg *c, int tap_fd,
                       struct mmds_nic *mmds, struct net **out,
                       struct sq_err *err)
{
    struct rate_limiter_params rx, tx;
    struct net_params p;

    memset(&p, 0, sizeof(p));
    p.iface_id = c->iface_id;
    p.tap_fd = tap_fd;
    p.has_mac = c->has_guest_mac;
    memcpy(p.mac, c->guest_mac, sizeof(p.mac));
    p.has_mtu = c->has_mtu;
    p.mtu = c->mtu;
    if (c->has_rx_rate_limiter) {
        rate_limiter_params_from_cfg(&c->rx_rate_limiter, &rx);
        p.rx_rl = &rx;
    }
    if (c->has_tx_rate_limiter) {
        rate_limiter_params_from_cfg(&c->tx_rate_limiter, &tx);
        p.tx_rl = &tx;
    }
    if (mmds)
        mmds_nic_hook(mmds, &p);
    return net_new(&p, out, err);
}

void net_patch_from_update(struct net *n, const struct net_iface_update *u)
{
    struct rate_limiter_params rx, tx;

    if (u->has_rx_rate_limiter)
        rate_limiter_params_from_cfg(&u->rx_rate_limiter, &rx);
    if (u->has_tx_rate_limiter)
        rate_limiter_params_from_cfg(&u->tx_rate_limiter, &tx);
    net_update_rate_limiters(n, u->has_rx_rate_limiter ? &rx : NULL,
                             u->has_tx_rate_limiter ? &tx : NULL);
}

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

int rng_new_from_entropy(const struct entropy_cfg *e, struct rng **out,
                         struct sq_err *err)
{
    struct rate_limiter_params rl;

    if (!e->has_rate_limiter)
        return rng_new(NULL, out, err);
    rate_limiter_params_from_cfg(&e->rate_limiter, &rl);
    return rng_new(&rl, out, err);
}

/* ---- the device kinds (vmm/vdev.h), in attach order ---------------------- */

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
};

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

const struct vdev_class vdev_class_block = {
    .name = "virtio-block",
    .count = block_count,
    .unsupported = block_unsupported,
    .create = block_create,
    .attach = block_vattach,
    .detach = block_vdetach,
    .free = block_vfree,
    .patch = block_vpatch,
};

static size_t net_count(const struct vm_resources *r)
{
    return r->n_nets;
}

/* A NIC and, when PUT /mmds/config listed it, its MMDS. */
struct vnet {
    struct net *net;       /* owned */
    struct mmds_nic *mmds; /* owned; NULL without MMDS */
};

static int net_create(const struct vm_resources *r, size_t i,
                      struct vmm_vdev *d, struct sq_err *err)
{
    const struct res_net *rn = &r->nets[i];
    struct vnet *vn = xcalloc(1, sizeof(*vn));
    int rc = 0;

    /* res_set_mmds_config() created the store before marking a NIC. */
    if (rn->mmds && r->mmds)
        rc = mmds_nic_new(r->mmds, rn->mmds_ipv4, &vn->mmds, err);
    if (rc == 0)
        rc = net_new_from_iface(&rn->cfg, rn->tap_fd, vn->mmds, &vn->net, err);
    if (rc) {
        mmds_nic_free(vn->mmds);
        free(vn);
        return rc;
    }
    d->dev = vn;
    d->t = net_transport(vn->net);
    d->id = xstrdup(rn->cfg.iface_id);
    return 0;
}

static int net_vattach(void *dev, const struct guest_mem *gm, int vm_fd,
                       uint64_t addr, struct evloop *loop)
{
    struct vnet *vn = dev;

    return net_attach(vn->net, gm, vm_fd, addr, loop);
}

static void net_vdetach(void *dev)
{
    struct vnet *vn = dev;

    net_detach(vn->net);
}

static void net_vfree(void *dev)
{
    struct vnet *vn = dev;

    if (!vn)
        return;
    net_free(vn->net); /* before the MMDS its hooks point at */
    mmds_nic_free(vn->mmds);
    free(vn);
}

static int net_vpatch(void *dev, int op, const void *update, struct sq_err *err)
{
    struct vnet *vn = dev;

    if (op != VMM_OP_PATCH_NET)
        return sq_errf(err, -EOPNOTSUPP, "not a network interface update");
    net_patch_from_update(vn->net, update);
    return 0;
}

const struct vdev_class vdev_class_net = {
    .name = "virtio-net",
    .count = net_count,
    .create = net_create,
    .attach = net_vattach,
    .detach = net_vdetach,
    .free = net_vfree,
    .patch = net_vpatch,
};

static size_t pmem_count(const struct vm_resources *r)
{
    return r->n_pmems;
}

const struct vdev_class vdev_class_pmem = {
    .name = "virtio-pmem",
    .count = pmem_count,
};

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
};

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

const struct vdev_class vdev_class_entropy = {
    .name = "virtio-rng",
    .count = entropy_count,
    .create = entropy_create,
    .attach = rng_vattach,
    .detach = rng_vdetach,
    .free = rng_vfree,
};

static size_t mem_count(const struct vm_resources *r)
{
    return r->has_memory_hotplug;
}

const struct vdev_class vdev_class_mem = {
    .name = "virtio-mem",
    .count = mem_count,
};
