/*
 * vdev_kind_snap.h: the own state of the virtio kinds that have one, in
 * the layout of vdev_state.h (docs/snapshot.md, "Sections"), and those
 * kinds' snapshot hooks (struct vdev_class's save and restore).
 *
 *   virtio-balloon  vdev_balloon_snap.c  u32 layout 1, struct balloon_state
 *   virtio-vsock    vdev_vsock_snap.c    u32 layout 1, struct vsock_state
 *   virtio-pmem     vdev_pmem_snap.c     u32 layout 1, struct pmem_state
 *   virtio-mem      vdev_mem_snap.c      u32 layout 1, struct virtio_mem_state
 *
 * The codecs are pure (the unit tests and the state-file fuzzer use them
 * alone): encode appends to out; decode fills *out from exactly (p, len)
 * and returns 0, or -EBADMSG with err set to "{kind} state: ..." for an
 * unknown layout, a short or long payload or a bad flag byte.
 */
#ifndef SQUIB_VMM_VDEV_KIND_SNAP_H
#define SQUIB_VMM_VDEV_KIND_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/balloon.h"
#include "devices/virtio/mem.h"
#include "devices/virtio/pmem.h"
#include "devices/virtio/vsock/vsock.h"
#include "util/buf.h"
#include "util/err.h"

#define VDEV_BALLOON_STATE_LAYOUT 1u
#define VDEV_VSOCK_STATE_LAYOUT   1u
#define VDEV_PMEM_STATE_LAYOUT    1u
#define VDEV_MEM_STATE_LAYOUT     1u

void vdev_balloon_state_encode(const struct balloon_state *s, struct buf *out);
int vdev_balloon_state_decode(const uint8_t *p, size_t len,
                              struct balloon_state *out, struct sq_err *err);

void vdev_vsock_state_encode(const struct vsock_state *s, struct buf *out);
int vdev_vsock_state_decode(const uint8_t *p, size_t len,
                            struct vsock_state *out, struct sq_err *err);

void vdev_pmem_state_encode(const struct pmem_state *s, struct buf *out);
int vdev_pmem_state_decode(const uint8_t *p, size_t len, struct pmem_state *out,
                           struct sq_err *err);

/* The virtio-mem decoder also checks that the sizes hang together (block |
 * slot | region, the bitmap's length) before it allocates the bitmap, and
 * that no bit lies past the last block. A decoded state owns its bitmap:
 * virtio_mem_state_fini(). */
void vdev_mem_state_encode(const struct virtio_mem_state *s, struct buf *out);
int vdev_mem_state_decode(const uint8_t *p, size_t len,
                          struct virtio_mem_state *out, struct sq_err *err);

/*
 * Hooks. Balloon: save takes the state; restore decodes and puts it back
 * (balloon_restore_state). Vsock: save first sends the guest a
 * TRANSPORT_RESET when the device is active (upstream sends it at snapshot
 * creation, before the queues are saved, so the event is in the saved
 * rings and the restored guest drops its connections; a failure to send is
 * logged, as upstream's), then takes the state; restore decodes and puts
 * it back.
 */
int vdev_balloon_save(void *dev, struct buf *out, struct sq_err *err);
int vdev_balloon_restore(void *dev, const uint8_t *p, size_t len,
                         struct sq_err *err);
int vdev_vsock_save(void *dev, struct buf *out, struct sq_err *err);
int vdev_vsock_restore(void *dev, const uint8_t *p, size_t len,
                       struct sq_err *err);

#endif
