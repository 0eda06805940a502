/*
 * vdev_pmem.c: PUT and PATCH /pmem/{id} -> virtio-pmem, and the pmem kind
 * of the device list (device_cfg.h).
 *
 * Each device's file window is placed as upstream's Pmem::new places it:
 * first-fit from the past-64-bit-MMIO window (mem_window.h), 2 MiB
 * aligned, in attach order (a hot-plugged device: the lowest hole an
 * unplugged one left that fits), and given its own KVM memory slot,
 * read-only (KVM_MEM_READONLY) for a read-only device so that a guest
 * write exits to the VMM instead of reaching the file. The window is not
 * guest RAM: not in struct guest_mem, not in the E820 map, not
 * dirty-tracked.
 *
 * A snapshot restore builds the device with its saved state at hand
 * (struct vmm_vdev's saved): as upstream's Pmem::restore, the window is
 * the saved one (GuestPmemRegion::from_state), taken at its exact address
 * before anything is mapped, not allocated again: windows placed after
 * hot-unplug and hot-plug are not where attach order would put them. A
 * saved window the allocator cannot give (over guest RAM, over another
 * window, outside the window) fails the restore before the machine is
 * built.
 *
 * Teardown: detach removes the slot (while the VM fd exists) before the
 * device, freed after machine_destroy() (or at once on hot-unplug),
 * unmaps the window and gives the window and the slot number back to the
 * list's allocator.
 */
#include "vmm/device_cfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/action.h"
#include "vmm/kvm.h"
#include "vmm/vdev_kind_snap.h"
#include "vmm/vdev_snap.h"

/* StartMicrovmError::CreatePmemDevice's prefix. */
#define PMEM_ERR_CREATE "Cannot create pmem device: "

/* What the list holds for one pmem device. */
struct vdev_pmem {
    struct pmem *pm; /* owned */
    struct pmem_region r;
    gpa_t gpa;
    uint32_t slot; /* KVM slot number from the list's allocator */
    int vm_fd;     /* borrowed; -1 while the slot is not registered */
    struct mem_window_alloc *win; /* borrowed: the list's; gpa and slot
                                   * are taken from it */
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

/*
 * The saved window of a device being restored (d->saved has it): checked
 * as upstream's new_with_queues checks it, then reserved at its address.
 * 0, or -errno with err set ("virtio-pmem {id}: ...", as the restore's
 * own errors).
 */
static int take_saved_window(struct vdev_pmem *w, const struct vmm_vdev *d,
                             const char *id, const uint8_t *p, size_t len,
                             struct sq_err *err)
{
    struct pmem_state s;
    char prefix[256];
    int rc = vdev_pmem_state_decode(p, len, &s, err);

    if (rc == 0)
        rc = pmem_restore_window(w->pm, &s, err);
    if (rc == 0) {
        rc = mem_window_take_at(d->win, s.gpa, s.size);
        if (rc == -EBUSY)
            sq_errf(err, rc,
                    "pmem state: saved window at %#llx (%llu bytes) "
                    "overlaps guest memory or another device's window",
                    (unsigned long long)s.gpa, (unsigned long long)s.size);
        else if (rc == -ENOSPC)
            sq_errf(err, rc,
                    "pmem state: saved window at %#llx: too many windows",
                    (unsigned long long)s.gpa);
        else if (rc < 0)
            sq_errf(err, rc,
                    "pmem state: saved window at %#llx (%llu bytes) is "
                    "outside the device memory window",
                    (unsigned long long)s.gpa, (unsigned long long)s.size);
    }
    if (rc < 0) {
        snprintf(prefix, sizeof(prefix), "%s %s: ", vdev_class_pmem.name, id);
        sq_err_prefix(err, prefix);
        return rc;
    }
    w->gpa = s.gpa;
    return 0;
}

/* A window first-fit, as upstream's GuestPmemRegion::new. 0 or -errno
 * with err set (PmemError::AllocationFailed). */
static int take_window(struct vdev_pmem *w, const struct vmm_vdev *d,
                       struct sq_err *err)
{
    int rc = mem_window_take(d->win, w->r.size, w->r.align, &w->gpa);

    if (rc == 0) {
        rc = pmem_set_guest_addr(w->pm, w->gpa);
        if (rc < 0)
            (void)mem_window_put(d->win, w->gpa, w->r.size);
    }
    return rc < 0 ? sq_errf(err, rc,
                            PMEM_ERR_CREATE "Failed to allocate memory region")
                  : 0;
}

static int pmem_create(const struct vm_resources *r, size_t i,
                       struct vmm_vdev *d, struct sq_err *err)
{
    const struct pmem_cfg *c = &r->pmems[i];
    struct vdev_pmem *w;
    struct pmem *pm;
    const uint8_t *saved;
    size_t saved_len;
    int rc = pmem_new_from_cfg(c, &pm, err);

    if (rc < 0)
        return rc;
    w = xcalloc(1, sizeof(*w));
    w->pm = pm;
    w->vm_fd = -1;
    pmem_host_region(pm, &w->r);
    if (vdev_snap_saved_state(d, &vdev_class_pmem, c->id, &saved, &saved_len))
        rc = take_saved_window(w, d, c->id, saved, saved_len, err);
    else
        rc = take_window(w, d, err);
    if (rc == 0) {
        /* KvmMemSlot::new: PmemError::NoKvmSlotAvailable. */
        rc = mem_window_slots(d->win, 1, &w->slot);
        if (rc < 0) {
            (void)mem_window_put(d->win, w->gpa, w->r.size);
            sq_errf(err, rc,
                    PMEM_ERR_CREATE
                    "Unablet to allocate a KVM slot for the device");
        }
    }
    if (rc < 0) {
        pmem_free(pm);
        free(w);
        return rc;
    }
    w->win = d->win;
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
    /* GuestPmemRegion's drop; squib also frees the slot number. */
    (void)mem_window_put(w->win, w->gpa, w->r.size);
    mem_window_put_slots(w->win, w->slot, 1);
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
 * The restored device is built from the saved configuration and its saved
 * window (pmem_create), its file mapped again, read-only with a read-only
 * slot if it was; restore checks the window once more and takes the
 * limiter back. */
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
