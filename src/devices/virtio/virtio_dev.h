/*
 * virtio_dev.h: what the virtio devices share above the transport (mmio.h):
 * attaching to a built machine together with the device's own fds.
 *
 * Besides its queue eventfds (the transport's), a device may own fds the
 * vmm loop must watch while it is attached: a rate limiter's timerfd, an
 * I/O engine's completion eventfd, later a TAP fd or a statistics timer.
 * The device fills one struct evloop_handler per such fd (fd, callback,
 * opaque) and hands them over on attach and detach; a handler whose fd is
 * -1 is skipped (e.g. no completion fd for the Sync block engine).
 *
 * The handlers are on the loop exactly while the transport is (t->loop
 * set), so no per-handler flag is needed.
 */
#ifndef SQUIB_DEVICES_VIRTIO_VIRTIO_DEV_H
#define SQUIB_DEVICES_VIRTIO_VIRTIO_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"

/*
 * virtio_mmio_attach(t, gm, vm_fd, addr, loop), then, when `loop` is set,
 * add each of the n handlers hs[i] with fd >= 0 for EPOLLIN. The handlers
 * are borrowed and must stay valid until virtio_dev_detach(). Returns 0 or
 * -errno; on failure nothing stays registered (the transport is detached).
 */
int virtio_dev_attach(struct virtio_mmio *t, const struct guest_mem *gm,
                      int vm_fd, uint64_t addr, struct evloop *loop,
                      struct evloop_handler *const *hs, size_t n);

/*
 * Undo virtio_dev_attach() with the same handlers: take them off the loop,
 * then virtio_mmio_detach(). Before machine_destroy(); idempotent.
 */
void virtio_dev_detach(struct virtio_mmio *t, struct evloop_handler *const *hs,
                       size_t n);

#endif
