/*
 * load_kinds.h: a saved vsock, balloon, pmem or virtio-mem configuration
 * (the API's JSON form, from a VDEV section) put back into the resources at
 * PUT /snapshot/load, as PUT /vsock or PUT /balloon would put it, without
 * marking the process as configured for boot.
 */
#ifndef SQUIB_SNAPSHOT_LOAD_KINDS_H
#define SQUIB_SNAPSHOT_LOAD_KINDS_H

#include "util/err.h"
#include "vmm/resources.h"

/*
 * kind "virtio-vsock" (binds its uds_path, as upstream's restore binds the
 * backend's socket) or "virtio-balloon" (its amount checked against the
 * machine config already taken from the snapshot). 0, or -errno with err
 * set by the parser or the resource's setter.
 */
int snapshot_take_vsock_balloon(struct vm_resources *r, const char *kind,
                                const char *json, struct sq_err *err);

/*
 * kind "virtio-pmem" (as PUT /pmem/{id}: the file is opened when the
 * device is built) or "virtio-mem" (as PUT /hotplug/memory, its sizes
 * checked again). 0, or -errno with err set by the parser or the setter.
 */
int snapshot_take_memory_device(struct vm_resources *r, const char *kind,
                                const char *json, struct sq_err *err);

#endif
