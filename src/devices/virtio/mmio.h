/*
 * mmio.h: the virtio-mmio transport (virtio 1.x section 4.2, version 2
 * register layout) that every squib virtio device sits behind.
 *
 * One struct virtio_mmio per device: it answers the 4 KiB register window
 * (magic "virt", version 2, device id, vendor 0, features, queue setup,
 * interrupt status/ack, status, config generation, device config from
 * 0x100), runs the device status state machine, owns the device's queues,
 * one eventfd per queue (QueueNotify, registered with KVM_IOEVENTFD on
 * base + 0x50 with datamatch = queue index) and the interrupt eventfd
 * (registered by the machine as an irqfd for the device's GSI).
 *
 * Status state machine (upstream's set_device_status, virtio 1.x 3.1.1):
 *
 *   INIT(0) -> ACK(1) -> ACK|DRIVER(3) -> ..|FEATURES_OK(11)
 *                                     -> ..|DRIVER_OK(15)  [activate()]
 *   any write with FAILED(0x80)        -> status |= FAILED
 *   write 0 when not INIT              -> ops->reset(): true -> INIT
 *                                          (reset()), false -> |= FAILED
 *   any other write                    -> ignored, warned
 *   activation failure (bad rings, device error) -> |= NEEDS_RESET(0x40)
 *                                          and a config interrupt
 *
 * Feature acks are taken only in DRIVER without FEATURES_OK/FAILED/
 * NEEDS_RESET; queue registers only in FEATURES_OK without DRIVER_OK/
 * FAILED; config writes only in DRIVER without FAILED/NEEDS_RESET;
 * interrupt acks only with DRIVER_OK. Unknown features are dropped.
 *
 * Threads: register accesses come from vCPU threads through the bus,
 * which holds `bus.lock`. Queue notifications arrive on the vmm loop
 * (virtio_mmio_attach registered the eventfds there); the transport takes
 * the same lock and calls ops->queue_notify. Device code that runs on the
 * vmm thread for other reasons (timers, PATCH) takes it with
 * bus_dev_lock(&t->bus). Interrupts may be raised from any thread.
 */
#ifndef SQUIB_DEVICES_VIRTIO_MMIO_H
#define SQUIB_DEVICES_VIRTIO_MMIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/queue.h"
#include "util/evloop.h"
#include "vmm/bus.h"
#include "vmm/guest_mem.h"

#define VIRTIO_MMIO_MAX_QUEUES 8
#define VIRTIO_MMIO_MAGIC      0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION    2u
#define VIRTIO_MMIO_NOTIFY     0x50u
#define VIRTIO_MMIO_CONFIG     0x100u

/* Device status bits. */
#define SQ_VIRTIO_STATUS_ACK         0x01u
#define SQ_VIRTIO_STATUS_DRIVER      0x02u
#define SQ_VIRTIO_STATUS_DRIVER_OK   0x04u
#define SQ_VIRTIO_STATUS_FEATURES_OK 0x08u
#define SQ_VIRTIO_STATUS_NEEDS_RESET 0x40u
#define SQ_VIRTIO_STATUS_FAILED      0x80u

/* InterruptStatus bits. */
#define SQ_VIRTIO_INT_VRING  0x1u
#define SQ_VIRTIO_INT_CONFIG 0x2u

/* Feature bits shared by devices. */
#define SQ_VIRTIO_F_RING_INDIRECT_DESC 28
#define SQ_VIRTIO_F_RING_EVENT_IDX     29
#define SQ_VIRTIO_F_VERSION_1          32

/* Device types (digest 6.4). */
#define SQ_VIRTIO_ID_NET     1
#define SQ_VIRTIO_ID_BLOCK   2
#define SQ_VIRTIO_ID_RNG     4
#define SQ_VIRTIO_ID_BALLOON 5

/*
 * What a device implements. All callbacks run with the transport lock held.
 */
struct virtio_dev_ops {
    uint32_t device_type;
    /* Config space reads/writes at `off` from 0x100 (vCPU thread). A read
     * past the device's config returns zeros (upstream). */
    void (*read_config)(void *dev, uint64_t off, uint8_t *data, uint32_t len);
    void (*write_config)(void *dev, uint64_t off, const uint8_t *data,
                         uint32_t len);
    /* DRIVER_OK with every queue validated and activated (vCPU thread).
     * 0, or -errno: the transport then sets NEEDS_RESET. */
    int (*activate)(void *dev);
    /* Driver wrote status 0: stop and forget in-flight work. Return false
     * if the device cannot be reset (the transport sets FAILED). */
    bool (*reset)(void *dev);
    /* The driver notified queue `q` (vmm thread); only when activated. */
    void (*queue_notify)(void *dev, uint16_t q);
};

/*
 * Registers (or, with deassign, removes) an eventfd that a guest write of
 * 4 bytes with value `datamatch` at `addr` signals instead of trapping:
 * KVM_IOEVENTFD with datamatch, for a QueueNotify per queue index. `vm_fd`
 * is the handle given to virtio_mmio_attach(). 0 or -errno. The VMM, which
 * owns KVM, provides it (vmm/mmio_attach.h); the transport never issues a
 * KVM ioctl itself.
 */
typedef int virtio_mmio_ioeventfd_fn(int vm_fd, int fd, uint64_t addr,
                                     uint32_t datamatch, bool deassign);

struct virtio_mmio {
    struct bus_dev bus; /* embedded; bus.lock guards all below */
    const struct virtio_dev_ops *ops;
    void *dev; /* borrowed: the device owns us */

    uint64_t avail_features; /* always includes VERSION_1 */
    uint64_t acked_features;
    uint32_t features_select;
    uint32_t acked_features_select;
    uint32_t queue_select;
    uint32_t status;
    uint32_t config_generation;
    bool activated;

    _Atomic uint32_t irq_status; /* any thread */
    int irq_fd;                  /* owned eventfd (irqfd) */

    size_t n_queues;
    struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
    int queue_fd[VIRTIO_MMIO_MAX_QUEUES]; /* owned eventfds */
    struct evloop_handler queue_h[VIRTIO_MMIO_MAX_QUEUES];

    /* Set by the VMM before virtio_mmio_attach() with a vm_fd; NULL until
     * then. */
    virtio_mmio_ioeventfd_fn *ioeventfd;

    /* Set by a transport that stands in front of this state instead of
     * the MMIO window (virtio-pci, devices/pci/virtio_pci.h): interrupts
     * (the InterruptStatus bit is still set) go to irq_hook(irq_opaque,
     * bit) instead of irq_fd. Called wherever an interrupt is raised, with
     * bus.lock held. NULL for virtio-mmio. */
    int (*irq_hook)(void *opaque, uint32_t bit);
    void *irq_opaque;

    /* Set by virtio_mmio_attach(). */
    const struct guest_mem *gm; /* borrowed */
    struct evloop *loop;        /* borrowed; NULL = not on a loop */
    int vm_fd;                  /* borrowed; -1 = no ioeventfds */
    uint64_t addr;              /* window base */
    bool ioeventfds_on;
};

/*
 * Set up a transport for `dev` with `n_queues` (1..VIRTIO_MMIO_MAX_QUEUES)
 * queues of the given maximum sizes (1..VIRTQ_MAX_SIZE). VERSION_1 is
 * added to avail_features. Creates the eventfds. Returns 0 or -errno
 * (-EINVAL for bad counts or sizes); on failure nothing is left open.
 */
int virtio_mmio_init(struct virtio_mmio *t, const char *name,
                     const struct virtio_dev_ops *ops, void *dev,
                     uint64_t avail_features, size_t n_queues,
                     const uint16_t *max_sizes);

/*
 * Detach (if still attached) and close the eventfds. Safe after
 * a failed init and on a zeroed struct with fds -1 (fds 0 are never ours:
 * init sets them to -1 first).
 */
void virtio_mmio_fini(struct virtio_mmio *t);

/*
 * Connect to a built machine (vmm thread): remember guest memory, register
 * one ioeventfd per queue on addr + 0x50 with datamatch = index through
 * t->ioeventfd when vm_fd >= 0 (-EINVAL if the VMM set none), and watch the
 * queue eventfds on `loop` when not NULL. Returns 0 or -errno (everything
 * registered so far is undone).
 */
int virtio_mmio_attach(struct virtio_mmio *t, const struct guest_mem *gm,
                       int vm_fd, uint64_t addr, struct evloop *loop);

/*
 * Undo virtio_mmio_attach(): leave the loop, deassign the ioeventfds. Call
 * while the VM fd is still open (before machine_destroy()); idempotent.
 */
void virtio_mmio_detach(struct virtio_mmio *t);

/*
 * What the loop does when queue `q`'s eventfd fires: drain it, and if the
 * device is active, call ops->queue_notify with the lock held. Exposed for
 * tests that have no KVM. Takes the lock itself.
 */
void virtio_mmio_notify(struct virtio_mmio *t, uint16_t q);

/* Raise the used-buffer / config-change interrupt: set the InterruptStatus
 * bit, signal the irqfd, count interrupts.triggers (as upstream;
 * config_updates belongs to MSI-X). signal_used may be called from any
 * thread; signal_config also bumps ConfigGeneration and needs the lock
 * held. 0 or -errno. */
int virtio_mmio_signal_used(struct virtio_mmio *t);
int virtio_mmio_signal_config(struct virtio_mmio *t);

/*
 * The device found the driver broke the protocol beyond one request
 * (a corrupt avail ring): set NEEDS_RESET and raise a config interrupt.
 * Lock held.
 */
void virtio_mmio_set_needs_reset(struct virtio_mmio *t);

/* Bus handlers, exposed for tests that drive registers without a bus.
 * Call with t->bus.lock held (bus_read/bus_write do). */
void virtio_mmio_read(struct bus_dev *bd, uint64_t off, uint8_t *data,
                      uint32_t len);
void virtio_mmio_write(struct bus_dev *bd, uint64_t off, const uint8_t *data,
                       uint32_t len);

/* One queue's part of the transport state (snapshots). */
struct virtio_mmio_queue_state {
    uint16_t size;
    bool ready;
    uint64_t desc_addr, avail_addr, used_addr;
    uint16_t next_avail, next_used; /* meaningful when activated */
};

/* What the driver negotiated and set up through the registers, and where
 * the device is in each ring (snapshots). Device-specific state is the
 * device's own. */
struct virtio_mmio_state {
    uint64_t acked_features;
    uint32_t features_select, acked_features_select, queue_select;
    uint32_t status, config_generation, irq_status;
    bool activated;
    uint32_t n_queues;
    struct virtio_mmio_queue_state queues[VIRTIO_MMIO_MAX_QUEUES];
};

/* Read the transport's state (takes the lock). */
void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *out);

/*
 * Put a saved state into an attached transport of the same device kind
 * (takes the lock): registers, queue layouts, and for an activated device
 * the activation itself (queues checked against guest memory, then
 * ops->activate) with each ring's position restored; every queue is then
 * looked at once on the loop, as after DRIVER_OK. Returns 0, -EINVAL when
 * the queue count differs or the rings do not activate (the transport is
 * left reset).
 */
int virtio_mmio_restore(struct virtio_mmio *t,
                        const struct virtio_mmio_state *st);

/* Whether the driver acked feature `bit` (valid from FEATURES_OK on). */
static inline bool virtio_mmio_has_feature(const struct virtio_mmio *t,
                                           unsigned bit)
{
    return (t->acked_features >> bit) & 1;
}

#endif
