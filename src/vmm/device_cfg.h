/*
 * device_cfg.h: build and patch the virtio devices from the API's validated
 * request types (config/config.h), so that the VMM layer needs no knowledge
 * of device internals and the devices none of JSON.
 *
 * One function per device kind turns its configuration into the device
 * (block_new_from_drive, rng_new_from_entropy, ...), and one struct
 * vdev_class per kind (vmm/vdev.h) wraps it, with the device's own
 * lifecycle functions, for the device list that InstanceStart builds in
 * attach order; each kind in its own file (vdev_<kind>.c). A kind squib
 * cannot build yet would have a class with a name and a count only
 * (docs/adding-a-device.md).
 */
#ifndef SQUIB_VMM_DEVICE_CFG_H
#define SQUIB_VMM_DEVICE_CFG_H

#include "config/config.h"
#include "devices/rate_limiter.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/block.h"
#include "devices/virtio/mem.h"
#include "devices/virtio/net.h"
#include "devices/virtio/pmem.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/vsock/vsock.h"
#include "vmm/mmds_nic.h"
#include "vmm/vdev.h"

/* RateLimiterConfig -> limiter parameters (absent buckets stay absent; a
 * bucket with size 0 or refill 0 is kept as given: the limiter treats it
 * as disabled on creation and as "remove" in a PATCH). */
void rate_limiter_params_from_cfg(const struct rate_limiter_cfg *in,
                                  struct rate_limiter_params *out);

/* The reverse, for GET /vm/config: disabled buckets become absent and a
 * one_time_burst of 0 becomes null (has_one_time_burst false). */
void rate_limiter_cfg_from_params(const struct rate_limiter_params *in,
                                  struct rate_limiter_cfg *out);

/*
 * Create a virtio-block device for a PUT /drives body that selected the
 * virtio backend (path_on_host set, no socket). `fd` is the backing file
 * the configuration store opened at PUT time (struct res_drive.fd;
 * borrowed, duplicated), or -1 to open path_on_host now. Returns 0 and
 * *out, or -errno with err as block_new() (-EINVAL with "Invalid block
 * config." when path_on_host is missing).
 */
int block_new_from_drive(const struct drive_cfg *d, int fd, struct block **out,
                         struct sq_err *err);

/*
 * PATCH /drives/{id} on a virtio-block device: path_on_host (reopen, new
 * capacity, config interrupt) then rate_limiter. Returns 0 or -errno with
 * err as block_update_path().
 */
int block_patch_from_update(struct block *b, const struct drive_update *u,
                            struct sq_err *err);

/*
 * Create a virtio-net device for a PUT /network-interfaces body on the TAP
 * the configuration store opened (`tap_fd`, borrowed, duplicated). With
 * `mmds` (borrowed; must outlive the device) the device detours the MMDS's
 * frames to it. 0 and *out, or -errno with err as net_new().
 */
int net_new_from_iface(const struct net_iface_cfg *c, int tap_fd,
                       struct mmds_nic *mmds, struct net **out,
                       struct sq_err *err);

/* PATCH /network-interfaces/{id}: the RX and TX limiters, each bucket
 * absent = unchanged (upstream's RateLimiterUpdate). */
void net_patch_from_update(struct net *n, const struct net_iface_update *u);

/* PUT /vsock, on the socket bound at PUT time (`listen_fd`, borrowed,
 * duplicated). 0 and *out, or -errno with err as vsock_new(). */
int vsock_new_from_cfg(const struct vsock_cfg *c, int listen_fd,
                       struct vsock **out, struct sq_err *err);

/* PUT /balloon. `changed` (may be NULL) is called on the vmm thread when
 * what GET /balloon/statistics or /balloon/hinting/status show may have
 * changed (balloon_params.changed). 0 and *out, or -errno with err as
 * balloon_new(). */
int balloon_new_from_cfg(const struct balloon_cfg *c,
                         void (*changed)(void *opaque), void *opaque,
                         struct balloon **out, struct sq_err *err);

/* PUT /pmem/{id} (opens and maps path_on_host now). 0 and *out, or
 * -errno with err set to pmem_new()'s text behind upstream's "Cannot
 * create pmem device: ". */
int pmem_new_from_cfg(const struct pmem_cfg *c, struct pmem **out,
                      struct sq_err *err);

/* PUT /hotplug/memory; `changed` (may be NULL) as virtio_mem_params'.
 * The slot hook is the caller's (vdev_mem.c sets it). 0 and *out, or
 * -errno with err set to virtio_mem_new()'s text behind upstream's
 * "Internal error while starting microVM: Failed to create memory hotplug
 * device: ". */
int virtio_mem_new_from_cfg(const struct hotplug_memory_cfg *c,
                            virtio_mem_slot_fn *update_slot, void *slot_opaque,
                            void (*changed)(void *opaque), void *opaque,
                            struct virtio_mem **out, struct sq_err *err);

/* PUT /entropy. 0 and *out or -errno with err set. */
int rng_new_from_entropy(const struct entropy_cfg *e, struct rng **out,
                         struct sq_err *err);

/*
 * The device kinds, in upstream's attach order (vdev.c's table), all
 * built. Block refuses vhost-user drives by name at InstanceStart.
 */
/* patch: VMM_OP_PATCH_BALLOON (struct balloon_update), _STATS (struct
 * balloon_stats_update), _HINTING_START (struct balloon_hinting_start),
 * _HINTING_STOP (NULL); query: VMM_OP_GET_BALLOON_STATS (struct
 * balloon_stats), VMM_OP_GET_BALLOON_HINTING_STATUS (struct
 * balloon_hinting_status). Error texts are upstream's BalloonError. */
extern const struct vdev_class vdev_class_balloon;
extern const struct vdev_class vdev_class_block; /* patch: drive_update */
extern const struct vdev_class vdev_class_net;   /* patch: net_iface_update */
/* pmem: a KVM slot per device over its file window (KVM_MEM_READONLY when
 * read_only); patch: VMM_OP_PATCH_PMEM (struct pmem_update). */
extern const struct vdev_class vdev_class_pmem;
extern const struct vdev_class vdev_class_vsock;
extern const struct vdev_class vdev_class_entropy;
/* virtio-mem: its window in guest memory, a KVM slot per plugged slot;
 * patch: VMM_OP_PATCH_HOTPLUG_MEMORY (struct hotplug_memory_update);
 * query: VMM_OP_GET_HOTPLUG_MEMORY (struct hotplug_memory_status). */
extern const struct vdev_class vdev_class_mem;

#endif
