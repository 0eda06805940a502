/*
 * vdev_mem.c: PUT /hotplug/memory -> virtio-mem, PATCH and GET
 * /hotplug/memory after boot, and the virtio-mem kind of the device list
 * (device_cfg.h).
 *
 * The hot-pluggable window sits where vdev_list_create() reserved it
 * (the first window past 512 GiB, 128 MiB aligned, as upstream's
 * allocate_virtio_mem_address). It is added to the machine's guest memory
 * so that virtqueue buffers the guest places in plugged memory translate,
 * and each of its slots (slot_size bytes) is a KVM memory slot of its own,
 * registered by the device's slot hook (below) while any block in it is
 * plugged and removed when none is, with the flags of guest RAM's slots
 * (KVM_MEM_LOG_DIRTY_PAGES with track_dirty_pages), as upstream's
 * register_hotpluggable_memory_region slots. The device gives unplugged
 * memory back to the host (MADV_DONTNEED).
 */
#include "vmm/device_cfg.h"
#include "vmm/errors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/action.h"
#include "vmm/kvm.h"
#include "vmm/vdev_kind_snap.h"

/* StartMicrovmError::Internal over VmmError::VirtioMem. */
#define MEM_ERR_CREATE                                                         \
    "Internal error while starting microVM: Failed to create memory "          \
    "hotplug device: "

/* What the list holds for the virtio-mem device. */
struct vdev_mem {
    struct virtio_mem *vm; /* owned */
    struct virtio_mem_region r;
    gpa_t gpa;
    uint32_t slot_base;           /* first of r.n_slots KVM slot numbers */
    uint32_t flags;               /* guest RAM's slot flags */
    struct mem_window_alloc *win; /* borrowed: the list's; slot numbers */
    int vm_fd;                    /* borrowed; -1 before map and after detach */
};

/* virtio_mem_slot_fn: slot `index` in or out of KVM (vmm thread). */
static int update_slot(void *opaque, uint32_t index, gpa_t gpa, void *hva,
                       uint64_t size, bool plug)
{
    struct vdev_mem *w = opaque;

    if (w->vm_fd < 0)
        return -ENODEV;
    return kvm_set_user_memory_region(w->vm_fd, w->slot_base + index, w->flags,
                                      gpa, plug ? size : 0, plug ? hva : NULL);
}

int virtio_mem_new_from_cfg(const struct hotplug_memory_cfg *c,
                            virtio_mem_slot_fn *slot_fn, void *slot_opaque,
                            void (*changed)(void *opaque), void *opaque,
                            struct virtio_mem **out, struct sq_err *err)
{
    struct virtio_mem_params p;
    int rc;

    memset(&p, 0, sizeof(p));
    p.total_size_mib = c->total_size_mib;
    p.block_size_mib = c->block_size_mib;
    p.slot_size_mib = c->slot_size_mib;
    p.update_slot = slot_fn;
    p.slot_opaque = slot_opaque;
    p.changed = changed;
    p.changed_opaque = opaque;
    rc = virtio_mem_new(&p, out, err);
    if (rc < 0)
        sq_err_prefix(err, MEM_ERR_CREATE);
    return rc;
}

static size_t mem_count(const struct vm_resources *r)
{
    return r->has_memory_hotplug;
}

static int mem_create(const struct vm_resources *r, size_t i,
                      struct vmm_vdev *d, struct sq_err *err)
{
    struct vdev_mem *w = xcalloc(1, sizeof(*w));
    int rc;

    (void)i; /* at most one */
    w->vm_fd = -1;
    w->flags = r->machine.track_dirty_pages ? KVM_MEM_LOG_DIRTY_PAGES : 0;
    rc = virtio_mem_new_from_cfg(&r->memory_hotplug, update_slot, w, d->changed,
                                 d->changed_opaque, &w->vm, err);
    if (rc < 0) {
        free(w);
        return rc;
    }
    virtio_mem_host_region(w->vm, &w->r);
    w->gpa = d->hotplug_gpa;
    rc = virtio_mem_set_guest_addr(w->vm, w->gpa);
    if (rc < 0) {
        virtio_mem_free(w->vm);
        free(w);
        return sq_errf(
            err, rc, "Failed to allocate guest resource: " VMM_ERR_NO_RESOURCE);
    }
    /* StartMicrovmError::KvmVm over VmError::NotEnoughMemorySlots; the
     * region is the first to take slot numbers and never has more than
     * 4096, so this does not happen. */
    rc = mem_window_slots(d->win, w->r.n_slots, &w->slot_base);
    if (rc < 0) {
        virtio_mem_free(w->vm);
        free(w);
        return sq_errf(err, rc,
                       "Error with the KvmVm object: The number of configured "
                       "slots is bigger than the maximum reported by KVM: %u",
                       (unsigned)(MEM_WINDOW_FIRST_SLOT + MEM_WINDOW_N_SLOTS));
    }
    w->win = d->win;
    d->dev = w;
    d->t = virtio_mem_transport(w->vm);
    d->id = xstrdup(VIRTIO_MEM_DEVICE_ID);
    return 0;
}

/*
 * The window into guest memory, its plugged blocks marked as what the
 * memory file holds of it (guest_mem_file.h) and its slots as the ones
 * whose KVM dirty log a Diff reads (guest_mem_diff.h). A snapshot load has
 * mapped the window already, from the memory file (guest_mem_add_window): the
 * device adopts that mapping instead of its own.
 */
static int mem_add_memory(void *dev, struct guest_mem *gm)
{
    struct vdev_mem *w = dev;
    struct guest_region *r = guest_mem_find_window(gm, w->gpa, w->r.size);
    int rc = 0;

    if (r && r->window_owned) {
        rc = virtio_mem_use_window(w->vm, r->hva, r->file_backed);
        w->r.hva = r->hva;
    } else {
        rc = guest_mem_add_borrowed(gm, w->gpa, w->r.size, w->r.hva);
        r = rc == 0 ? &gm->regions[gm->n_regions - 1] : NULL;
    }
    if (rc == 0) {
        r->present = virtio_mem_plugged_bits(w->vm, &r->present_unit);
        r->slot_on = virtio_mem_slots_on(w->vm, &r->slot_size);
        r->slot = w->slot_base;
    }
    return rc;
}

/* Nothing is plugged at boot: the hook registers slots as the guest plugs
 * blocks, from now on. */
static int mem_vmap(void *dev, int vm_fd, struct sq_err *err)
{
    struct vdev_mem *w = dev;

    (void)err;
    w->vm_fd = vm_fd;
    return 0;
}

static int mem_vattach(void *dev, const struct guest_mem *gm, int vm_fd,
                       uint64_t addr, struct evloop *loop)
{
    struct vdev_mem *w = dev;

    return virtio_mem_attach(w->vm, gm, vm_fd, addr, loop);
}

/* The slots stay registered until the VM fd closes (machine_destroy);
 * nothing changes them once the queue is off the loop. */
static void mem_vdetach(void *dev)
{
    struct vdev_mem *w = dev;

    virtio_mem_detach(w->vm);
    w->vm_fd = -1;
}

static void mem_vfree(void *dev)
{
    struct vdev_mem *w = dev;

    if (!w)
        return;
    virtio_mem_free(w->vm);
    mem_window_put_slots(w->win, w->slot_base, w->r.n_slots);
    free(w);
}

static int mem_vpatch(void *dev, int op, const void *update, struct sq_err *err)
{
    struct vdev_mem *w = dev;
    const struct hotplug_memory_update *u = update;

    if (op != VMM_OP_PATCH_HOTPLUG_MEMORY)
        return sq_errf(err, -EOPNOTSUPP, "not a memory hotplug update");
    return virtio_mem_update_requested_size(w->vm, u->requested_size_mib, err);
}

static int mem_vquery(void *dev, int op, void *out, struct sq_err *err)
{
    struct vdev_mem *w = dev;
    struct hotplug_memory_status *st = out;
    struct virtio_mem_status s;

    if (op != VMM_OP_GET_HOTPLUG_MEMORY)
        return sq_errf(err, -EOPNOTSUPP, "not a memory hotplug query");
    virtio_mem_status(w->vm, &s);
    st->block_size_mib = s.block_size_mib;
    st->total_size_mib = s.total_size_mib;
    st->slot_size_mib = s.slot_size_mib;
    st->plugged_size_mib = s.plugged_size_mib;
    st->requested_size_mib = s.requested_size_mib;
    return 0;
}

/* Snapshot hooks (vdev_mem_snap.c's layout). Restore runs after map
 * (vm_fd known), so the plugged blocks' slots go back into KVM. */
static int mem_vsave(void *dev, struct buf *out, struct sq_err *err)
{
    struct vdev_mem *w = dev;
    struct virtio_mem_state s;

    (void)err;
    virtio_mem_save_state(w->vm, &s);
    vdev_mem_state_encode(&s, out);
    virtio_mem_state_fini(&s);
    return 0;
}

static int mem_vrestore(void *dev, const uint8_t *p, size_t len,
                        struct sq_err *err)
{
    struct vdev_mem *w = dev;
    struct virtio_mem_state s;
    int rc = vdev_mem_state_decode(p, len, &s, err);

    if (rc == 0)
        rc = virtio_mem_restore_state(w->vm, &s, err);
    virtio_mem_state_fini(&s);
    return rc;
}

const struct vdev_class vdev_class_mem = {
    .name = "virtio-mem",
    .count = mem_count,
    .create = mem_create,
    .add_memory = mem_add_memory,
    .map = mem_vmap,
    .attach = mem_vattach,
    .detach = mem_vdetach,
    .free = mem_vfree,
    .patch = mem_vpatch,
    .query = mem_vquery,
    .save = mem_vsave,
    .restore = mem_vrestore,
};
