/*
 * vdev_snap.h: the virtio devices of a machine for a snapshot: per device,
 * its kind, id and placement, its transport's state (registers, queues,
 * ring positions) and the device's own state from its kind's save hook
 * (struct vdev_class). The devices' configurations travel apart, as the
 * configuration types they were built from (the snapshot module keeps
 * them), so a restore builds the same list in the same places first.
 */
#ifndef SQUIB_VMM_VDEV_SNAP_H
#define SQUIB_VMM_VDEV_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "util/buf.h"
#include "util/err.h"
#include "vmm/vdev.h"

struct vdev_snap {
    char *kind; /* owned: the class name ("virtio-block") */
    char *id;   /* owned: the configured id */
    uint64_t addr;
    uint32_t gsi;
    struct virtio_mmio_state transport;
    struct buf device; /* owned: the kind's own state */
};

/*
 * The name of the first device in l whose kind cannot be saved yet (no save
 * hook), or NULL.
 */
const char *vdev_snap_unsupported(const struct vdev_list *l);

/*
 * Save every device of l (vmm thread, vCPUs paused), in list order: the
 * kind's save hook first (which finishes the host's work on guest
 * memory), then the transport. Returns 0 and *out (n entries, free with
 * vdev_snap_free), or -errno with err set and nothing allocated.
 */
int vdev_snap_save(struct vdev_list *l, struct vdev_snap **out, size_t *n,
                   struct sq_err *err);

/*
 * Restore into l, attached and built from the same configuration: each of
 * l's devices takes the saved device of its kind and id (in any order: a
 * PCI bus after hot-plug lists a plugged device last), which must have its
 * placement; then its own state (restore hook) and its transport.
 * Returns 0, or -errno with err set ("virtio-block rootfs: ...").
 */
int vdev_snap_restore(struct vdev_list *l, const struct vdev_snap *s, size_t n,
                      struct sq_err *err);

/*
 * For a kind's create during a restore (struct vmm_vdev's saved): the own
 * state saved for the device of kind c with this id, as (*p, *len)
 * borrowed from d->saved. true, or false when d carries no snapshot or the
 * snapshot has no such device (create then places it as a boot does).
 */
bool vdev_snap_saved_state(const struct vmm_vdev *d, const struct vdev_class *c,
                           const char *id, const uint8_t **p, size_t *len);

/* Free n entries and the array; NULL-safe. */
void vdev_snap_free(struct vdev_snap *s, size_t n);

#endif
