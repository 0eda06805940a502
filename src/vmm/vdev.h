/*
 * vdev.h: the virtio device list that InstanceStart builds, one entry per
 * device in upstream's attach order, each driven through its kind's
 * operations (struct vdev_class).
 *
 * The attach order is one static table, vdev_attach_order[] (vdev.c),
 * following upstream's build_microvm_for_boot: balloon, block, net, pmem,
 * vsock, entropy, virtio-mem. Each kind's class lives beside its
 * config -> device function in vdev_<kind>.c (device_cfg.h); a kind squib
 * cannot build yet has a class with only a name and a count (device_cfg.c),
 * and is refused at InstanceStart
 * (vdev_unsupported) rather than booted without the device the guest was
 * promised. docs/adding-a-device.md says what a new kind touches.
 *
 * Lifecycle of a list (vmm thread), as vmm_start.c drives it:
 *
 *   vdev_list_create()  devices built from the configuration and placed
 *                       (virtio-mmio: 4 KiB window from 0xc0001000, GSI
 *                       from 5; PCI: a slot counted, pci_attach.h places
 *                       it; memory windows past 512 GiB, mem_window.h),
 *                       in order
 *   ... the machine is built from each entry's transport and placement ...
 *   vdev_list_add_memory()  device windows virtqueue buffers may use
 *   vdev_list_attach()  each device's KVM slots (map), then each device on
 *                       guest memory, the VM fd and the loop
 *   vdev_find() + cls->patch   post-boot updates (PATCH /drives, ...)
 *   vdev_find() + cls->query   what post-boot GETs show (balloon statistics)
 *   vdev_list_add()     hot-plug: one more device built from r (pci_hotplug.h)
 *   vdev_list_remove()  hot-unplug: one device detached and freed
 *   vdev_list_detach()  before machine_destroy() (vCPUs stopped)
 *   vdev_list_free()    after machine_destroy(), or after a failed create
 */
#ifndef SQUIB_VMM_VDEV_H
#define SQUIB_VMM_VDEV_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"
#include "vmm/machine.h"
#include "vmm/mem_window.h"
#include "vmm/resources.h"

/* Upstream's StartMicrovmError::AttachDevice over
 * AttachDeviceError::MmioTransport: placement and ioeventfd failures. */
#define VDEV_ERR_ATTACH_MMIO "Could not attach device: MMIO transport error: "
/* The same over AttachDeviceError::PciTransport (--enable-pci). */
#define VDEV_ERR_ATTACH_PCI "Could not attach device: Error attach PCI device: "

struct vmm_vdev;
struct vdev_snap;

/*
 * One device kind. `dev` is the kind's own device (struct block *, struct
 * rng *, ...). Every operation runs on the vmm thread.
 */
struct vdev_class {
    /* The kind's name in "the %s device is not implemented by squib yet". */
    const char *name;
    /* How many devices of this kind the configuration asks for. */
    size_t (*count)(const struct vm_resources *r);
    /* Optional: the name of the first configured device of this kind that
     * squib cannot build yet (e.g. a vhost-user drive), or NULL. */
    const char *(*unsupported)(const struct vm_resources *r);
    /* Build the i-th configured device (not on a machine yet) through the
     * kind's device_cfg function and fill d->dev, d->t and d->id (the
     * list owns them from then on). 0, or -errno with err as that
     * function sets it and d untouched. NULL: the kind is not
     * implemented yet; the operations below may be NULL too. */
    int (*create)(const struct vm_resources *r, size_t i, struct vmm_vdev *d,
                  struct sq_err *err);
    /* Optional: add the device's guest-physical memory that virtqueue
     * buffers may live in to the machine's guest memory
     * (guest_mem_add_borrowed). 0 or -errno. */
    int (*add_memory)(void *dev, struct guest_mem *gm);
    /* Optional: register the device's memory windows as KVM memory slots
     * on vm_fd (skipped when vm_fd < 0: no KVM). 0, or -errno with err set
     * to upstream's full text. Undone by detach or by closing the VM fd. */
    int (*map)(void *dev, int vm_fd, struct sq_err *err);
    /* Connect to the built machine and the vmm loop. 0 or -errno. */
    int (*attach)(void *dev, const struct guest_mem *gm, int vm_fd,
                  uint64_t addr, struct evloop *loop);
    /* Undo attach, while guest memory and the VM fd exist. Idempotent. */
    void (*detach)(void *dev);
    /* Free the device (NULL-safe), after machine_destroy(). */
    void (*free)(void *dev);
    /* Optional: apply post-boot update `op` (an enum vmm_op: the kind may
     * have several, e.g. the balloon's size, statistics interval, hinting
     * start and stop) with its body type (block: struct drive_update).
     * 0 or -errno with err set to the detail text; -EOPNOTSUPP for an op
     * the kind does not have. NULL: the kind has no update. */
    int (*patch)(void *dev, int op, const void *update, struct sq_err *err);
    /* Optional: fill `out` (the op's response type from config/
     * responses.h) with what GET `op` shows of the device now. 0 or
     * -errno with err set to the detail text. */
    int (*query)(void *dev, int op, void *out, struct sq_err *err);
    /* Snapshot hooks (vdev_snap.h), NULL for a kind whose state snapshots
     * cannot hold yet. save (machine paused): finish any work the host
     * still does on guest memory and append the device's own state (not
     * the transport's) to out. restore (attached, before the vCPUs run):
     * take it back from (p, len). 0 or -errno with err set. */
    int (*save)(void *dev, struct buf *out, struct sq_err *err);
    int (*restore)(void *dev, const uint8_t *p, size_t len, struct sq_err *err);
};

/* Snapshot hooks for a kind whose only state is its transport's and its
 * configuration: save appends nothing; restore accepts only nothing. */
int vdev_save_nothing(void *dev, struct buf *out, struct sq_err *err);
int vdev_restore_nothing(void *dev, const uint8_t *p, size_t len,
                         struct sq_err *err);

/* One built device. */
struct vmm_vdev {
    const struct vdev_class *cls;
    void *dev;             /* owned: cls->free */
    struct virtio_mmio *t; /* borrowed from dev */
    char *id;              /* owned copy of the configured id */
    uint64_t addr;         /* 4 KiB window base */
    uint32_t gsi;
    /* The list's change hook, set before create (see struct vdev_list). */
    void (*changed)(void *opaque);
    void *changed_opaque;
    /* The list's window allocator (memory windows, KVM slot numbers) and
     * the hot-pluggable region's address it reserved first, for create.
     * A device that takes windows or slot numbers from it keeps the
     * pointer and gives them back in its class free (the list outlives
     * its devices). */
    struct mem_window_alloc *win;
    gpa_t hotplug_gpa;
    /* The list's saved devices during a snapshot restore's create, for
     * create to take a saved placement (vdev_snap_saved_state); NULL
     * otherwise. Borrowed; not valid after create. */
    const struct vdev_snap *saved;
    size_t n_saved;
};

/* The devices of one machine, in attach order. Zero-initialise. */
struct vdev_list {
    struct vmm_vdev *devs; /* owned array */
    size_t n;
    /* Optional, set before vdev_list_create(): a device whose state that
     * GETs show changes on the guest's schedule (balloon statistics) calls
     * it on the vmm thread; it must only take note. */
    void (*changed)(void *opaque);
    void *changed_opaque;
    /* Optional, set by a snapshot restore around vdev_list_create() only
     * (and cleared after it): the snapshot's devices (borrowed), whose own
     * state a kind's create reads to take its saved placement (pmem: its
     * window, vdev_snap_saved_state). */
    const struct vdev_snap *saved;
    size_t n_saved;
    /* Set up by vdev_list_create(). */
    struct mem_window_alloc win;
    gpa_t hotplug_gpa; /* virtio-mem's window; 0 without memory hotplug */
};

/* Upstream's attach order (vdev.c cites it). */
extern const struct vdev_class *const vdev_attach_order[];
extern const size_t vdev_attach_order_len;

/*
 * The first configured device squib cannot build yet, in attach order, by
 * name ("virtio-balloon", "vhost-user-block", ...), or NULL when every
 * configured device can be built.
 */
const char *vdev_unsupported(const struct vm_resources *r);

/* How many devices vdev_list_create() builds from r (every configured
 * device of a kind squib can build). */
size_t vdev_count(const struct vm_resources *r);

/*
 * Build every configured device in attach order and place each one right
 * after building it, as upstream's attach_boot_virtio_device does:
 * - alloc non-NULL (virtio-mmio): mmio_alloc_device on `alloc`; the 20th
 *   device finds no legacy GSI (VDEV_ERR_ATTACH_MMIO before the
 *   allocator's text);
 * - alloc NULL (--enable-pci): the device takes the next of the PCI bus's
 *   31 device slots (addr and gsi stay 0; pci_attach.h places it); the
 *   32nd finds none (VDEV_ERR_ATTACH_PCI PCI_ERR_NO_SLOT).
 * Memory windows come from l->win: virtio-mem's region first (as upstream
 * allocates it as soon as the VM exists), then each device's as it is
 * built (first-fit; with l->saved, a device the snapshot has takes its
 * saved window instead). Call after vdev_unsupported() found nothing. Returns
 * 0, or -errno with err set; on failure the devices built so far stay in l for
 * vdev_list_free().
 */
int vdev_list_create(struct vdev_list *l, const struct vm_resources *r,
                     struct mmio_alloc *alloc, struct sq_err *err);

/*
 * Add each device's memory window to the built machine's guest memory
 * (class add_memory), before any vCPU runs. 0, or -errno with err set.
 */
int vdev_list_add_memory(struct vdev_list *l, struct guest_mem *gm,
                         struct sq_err *err);

/*
 * Map every device's memory windows as KVM slots (class map), then attach
 * every device to a built machine's memory and VM fd and to the vmm loop,
 * in order. Returns 0, or -errno with the map's text or upstream's
 * RegisterIoEvent text; the caller then detaches the whole list.
 */
int vdev_list_attach(struct vdev_list *l, const struct guest_mem *gm, int vm_fd,
                     struct evloop *loop, struct sq_err *err);

/* Detach every device (also those never attached). */
void vdev_list_detach(struct vdev_list *l);

/* Free every device and the array; l is empty (and reusable) after. */
void vdev_list_free(struct vdev_list *l);

/*
 * Hot-plug: build the i-th configured device of kind c (its configuration
 * already in r) exactly as vdev_list_create() does, and append it, not
 * placed and not attached. The new entry (borrowed; valid until the list
 * changes), or NULL with err set as the class's create sets it and the
 * list unchanged. The list's array grows: entries move, so no entry
 * pointer is kept across list changes.
 */
struct vmm_vdev *vdev_list_add(struct vdev_list *l, const struct vdev_class *c,
                               const struct vm_resources *r, size_t i,
                               struct sq_err *err);

/* Hot-unplug: detach and free entry d (of l) and close the gap. The
 * device's memory windows and KVM slot numbers go back to l->win. */
void vdev_list_remove(struct vdev_list *l, struct vmm_vdev *d);

/* The device of kind `cls` with this id, or NULL. Borrowed. */
struct vmm_vdev *vdev_find(const struct vdev_list *l,
                           const struct vdev_class *cls, const char *id);

#endif
