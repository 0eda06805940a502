/*
 * vdev_net_int.h: the net kind's device (vdev_net.c) as its snapshot hooks
 * (vdev_net_snap.c) see it. Internal to those two files.
 */
#ifndef SQUIB_VMM_VDEV_NET_INT_H
#define SQUIB_VMM_VDEV_NET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/net.h"
#include "util/buf.h"
#include "util/err.h"
#include "vmm/mmds_nic.h"

/* A NIC and, when PUT /mmds/config listed it, its MMDS. */
struct vnet {
    struct net *net;       /* owned */
    struct mmds_nic *mmds; /* owned; NULL without MMDS */
};

/* The kind's snapshot hooks (struct vdev_class, vdev.h). */
int net_vsave(void *dev, struct buf *out, struct sq_err *err);
int net_vrestore(void *dev, const uint8_t *p, size_t len, struct sq_err *err);

#endif
