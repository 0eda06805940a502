/*
 * vdev_pmem.c: PUT and PATCH /pmem/{id} -> virtio-pmem, and the pmem kind
 * of the device list (device_cfg.h).
 *
 * Each device's file window is placed as upstream's Pmem::new places it:
 * first-fit from the past-64-bit-MMIO window (mem_window.h), 2 MiB
 * aligned, in attach order, and given its own KVM memory slot, read-only
 * (KVM_MEM_READONLY) for a read-only device so that a guest write exits to
 * the VMM instead of reaching the file. The window is not guest RAM: not in
 * struct guest_mem, not in the E820 map, not dirty-tracked.
 *
 * Teardown: detach removes the slot (while the VM fd exists) before the
 * device, freed after machine_destroy(), unmaps the window.
 */
#include "vmm/device_cfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/action.h"
#include "vmm/kvm.h"
#include "vmm/vdev_kind_snap.h"

/* StartMicrovmError::CreatePmemDevice's prefix. */
#define PMEM_ERR_CREATE "Cannot create pmem device: "

/* What the list holds for one pmem device. */
struct vdev_pmem {
    struct pmem *pm; /* owned */
    struct pmem_region r;
    gpa_t gpa;
    uint32_t slot; /* KVM slot number from the list's allocator */
    int vm_fd;     /* borrowed; -1 while the slot is not registered */
};

int pmem_new_from_cfg(const struct pmem_cfg *c, struct pmem **out,
                      struct sq_err *err)
{
    struct rate_limiter_params rl;
    struct pmem_params p;
    int rc;

    memset(&p, 0, sizeof(p));
    p.id = c->id;
    p.path = c->path_on_host;
    p.read_only = c->read_only;
    if (c->has_rate_limiter) {
        rate_limiter_params_from_cfg(&c->rate_limiter, &rl);
        p.rl = &rl;
    }
    rc = pmem_new(&p, out, err);
    if (rc < 0)
        sq_err_prefix(err, PMEM_ERR_CREATE);
    return rc;
}

static size_t pmem_count(const struct vm_resources *r)
{
    return r->n_pmems;
}

static int pmem_create(const struct vm_resources *r, size_t i,
                       struct vmm_vdev *d, struct sq_err *err)
{
    const struct pmem_cfg *c = &r->pmems[i];
    struct vdev_pmem *w;
    struct pmem *pm;
    int rc = pmem_new_from_cfg(c, &pm, err);

    if (rc < 0)
        return rc;
    w = xcalloc(1, sizeof(*w));
    w->pm = pm;
    w->vm_fd = -1;
    pmem_host_region(pm, &w->r);
    /* GuestPmemRegion::new: PmemError::AllocationFailed. */
    rc = mem_window_take(d->win, w->r.size, w->r.align, &w->gpa);
    if (rc == 0)
        rc = pmem_set_guest_addr(pm, w->gpa);
    if (rc < 0) {
        pmem_free(pm);
        free(w);
        return sq_errf(err, rc,
                       PMEM_ERR_CREATE "Failed to allocate memory region");
    }
    w->slot = mem_window_slots(d->win, 1);
    d->dev = w;
    d->t = pmem_transport(pm);
    d->id = xstrdup(c->id);
    return 0;
}

/* Upstream's KvmMemSlot::new. */
static int pmem_vmap(void *dev, int vm_fd, struct sq_err *err)
{
    struct vdev_pmem *w = dev;
    uint32_t flags = w->r.read_only ? KVM_MEM_READONLY : 0;
    char os[128];
    int rc = kvm_set_user_memory_region(vm_fd, w->slot, flags, w->gpa,
                                        w->r.size, w->r.hva);

    if (rc < 0)
        return sq_errf(err, rc,
                       PMEM_ERR_CREATE "Cannot set the memory regions: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    w->vm_fd = vm_fd;
    return 0;
}

static int pmem_vattach(void *dev, const struct guest_mem *gm, int vm_fd,
                        uint64_t addr, struct evloop *loop)
{
    struct vdev_pmem *w = dev;

    return pmem_attach(w->pm, gm, vm_fd, addr, loop);
}

static void pmem_vdetach(void *dev)
{
    struct vdev_pmem *w = dev;

    pmem_detach(w->pm);
    /* Upstream's KvmMemSlot drop: memory_size 0 removes the slot. */
    if (w->vm_fd >= 0)
        (void)kvm_set_user_memory_region(w->vm_fd, w->slot, 0, 0, 0, NULL);
    w->vm_fd = -1;
}

static void pmem_vfree(void *dev)
{
    struct vdev_pmem *w = dev;

    if (!w)
        return;
    pmem_free(w->pm);
    free(w);
}

static int pmem_vpatch(void *dev, int op, const void *update,
                       struct sq_err *err)
{
    struct vdev_pmem *w = dev;
    const struct pmem_update *u = update;
    struct rate_limiter_params rl;

    if (op != VMM_OP_PATCH_PMEM)
        return sq_errf(err, -EOPNOTSUPP, "not a pmem update");
    if (u->has_rate_limiter) {
        rate_limiter_params_from_cfg(&u->rate_limiter, &rl);
        pmem_update_rate_limiter(w->pm, &rl);
    }
    return 0;
}

/* Snapshot hooks: the window and the limiter (vdev_pmem_snap.c's layout).
 * The restored device is built from the saved configuration, so its file is
 * mapped again at the window the allocator gives it, read-only with a
 * read-only slot if it was; the restore checks that window is the saved
 * one. */
static int pmem_vsave(void *dev, struct buf *out, struct sq_err *err)
{
    struct vdev_pmem *w = dev;
    struct pmem_state s;

    (void)err;
    pmem_save_state(w->pm, &s);
    vdev_pmem_state_encode(&s, out);
    return 0;
}

static int pmem_vrestore(void *dev, const uint8_t *p, size_t len,
                         struct sq_err *err)
{
    struct vdev_pmem *w = dev;
    struct pmem_state s;
    int rc = vdev_pmem_state_decode(p, len, &s, err);

    return rc < 0 ? rc : pmem_restore_state(w->pm, &s, err);
}

const struct vdev_class vdev_class_pmem = {
    .name = "virtio-pmem",
    .count = pmem_count,
    .create = pmem_create,
    .map = pmem_vmap,
    .attach = pmem_vattach,
    .detach = pmem_vdetach,
    .free = pmem_vfree,
    .patch = pmem_vpatch,
    .save = pmem_vsave,
    .restore = pmem_vrestore,
};
