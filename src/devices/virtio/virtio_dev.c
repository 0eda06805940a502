/*
 * virtio_dev.c: attach and detach a virtio device with its own loop fds
 * (virtio_dev.h).
 */
#include "devices/virtio/virtio_dev.h"

#include <sys/epoll.h>

/* Take hs[0..n) with an fd off t->loop (they are on it iff t->loop). */
static void unwatch(struct virtio_mmio *t, struct evloop_handler *const *hs,
                    size_t n)
{
    if (!t->loop)
        return;
    for (size_t i = 0; i < n; i++) {
        if (hs[i]->fd >= 0)
            evloop_del(t->loop, hs[i]);
    }
}

int virtio_dev_attach(struct virtio_mmio *t, const struct guest_mem *gm,
                      int vm_fd, uint64_t addr, struct evloop *loop,
                      struct evloop_handler *const *hs, size_t n)
{
    int rc = virtio_mmio_attach(t, gm, vm_fd, addr, loop);

    if (rc < 0 || !loop)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (hs[i]->fd < 0)
            continue;
        rc = evloop_add(loop, hs[i], EPOLLIN);
        if (rc < 0) {
            unwatch(t, hs, i);
            virtio_mmio_detach(t);
            return rc;
        }
    }
    return 0;
}

void virtio_dev_detach(struct virtio_mmio *t, struct evloop_handler *const *hs,
                       size_t n)
{
    unwatch(t, hs, n);
    virtio_mmio_detach(t);
}
