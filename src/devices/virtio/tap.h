/*
 * tap.h: the TAP backend of virtio-net (upstream's net/tap.rs): open a
 * named TAP interface through /dev/net/tun and set what the device needs
 * on it. The device itself only reads and writes the fd (net.h).
 */
#ifndef SQUIB_DEVICES_VIRTIO_TAP_H
#define SQUIB_DEVICES_VIRTIO_TAP_H

#include <stddef.h>

#include "util/err.h"

#define TAP_IFNAMSIZ 16

/*
 * Open /dev/net/tun non-blocking and close-on-exec, attach it to the TAP
 * interface `name` with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (TUNSETIFF) and
 * set the vnet header size to 12 (TUNSETVNETHDRSZ). Returns 0 with *fd_out
 * (owned by the caller) and the kernel's interface name in if_name, or
 * -errno with err set to upstream's text and nothing left open.
 */
int tap_open(const char *name, int *fd_out, char if_name[TAP_IFNAMSIZ],
             struct sq_err *err);

/* TUNSETVNETHDRSZ. 0 or -errno. */
int tap_set_vnet_hdr_size(int fd, int size);

/* TUNSETOFFLOAD with TUN_F_* flags. 0 or -errno. */
int tap_set_offload(int fd, unsigned flags);

#endif
