/*
 * vdev_net.c: PUT and PATCH /network-interfaces -> virtio-net (with the MMDS on
 * the NICs PUT /mmds/config lists), and the net kind of the device list
 * (device_cfg.h).
 */
#include "vmm/device_cfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/action.h"
#include "vmm/vdev_net_int.h"

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

static size_t net_count(const struct vm_resources *r)
{
    return r->n_nets;
}

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
    .save = net_vsave,
    .restore = net_vrestore,
};
