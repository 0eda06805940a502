/*
 * guest_mem_diff.h: the pages of guest RAM that changed since the last
 * snapshot, and the sparse memory file of a Diff snapshot (digest 7.1,
 * docs/snapshot.md "Diff snapshots").
 *
 * A page is dirty when KVM's dirty log says the guest wrote it, or when
 * squib wrote it itself (guest_mem_mark_dirty*, the VMM's bitmap). Without
 * track_dirty_pages there is neither: the dirty set is then every page the
 * host holds in memory (mincore), a superset, as upstream does.
 *
 * A window (virtio-mem's hot-pluggable region) is logged like RAM, as
 * upstream's plugged slots are: with track_dirty, KVM's log of each of its
 * slots registered now (guest_region.slot_on; the others are not in KVM and
 * hold nothing the guest wrote), and the VMM's bitmap; without, mincore of
 * its present units (plugged blocks). Only pages of present units are
 * written: a block unplugged since the last snapshot is skipped (the device
 * state's bitmap says it is unplugged; the file may keep older bytes
 * there), and a block plugged since contributes its dirty pages only, as
 * upstream's (its other pages were never written, in the VM: zeros; in a
 * layered file: the base's bytes). A window without slots of its own has
 * no KVM log: with track_dirty every page of its present units counts.
 *
 * The memory file has the layout of a Full one (guest_mem_file.h: regions
 * concatenated, full size); a Diff writes only the dirty pages at their
 * offsets and leaves the others as they are: holes in a new file, the base's
 * pages in an existing one.
 *
 * Every function here runs on the vmm thread with the vCPUs paused and the
 * devices quiet (no other writer of the logs).
 */
#ifndef SQUIB_VMM_GUEST_MEM_DIFF_H
#define SQUIB_VMM_GUEST_MEM_DIFF_H

#include <stdint.h>

#include "util/err.h"
#include "vmm/guest_mem.h"

/* One page bitmap per region, laid out as KVM_GET_DIRTY_LOG's (bit p % 64
 * of word p / 64 is page p of the region; a window's slot k from page
 * k * slot_size / page size on). */
struct guest_mem_log {
    uint64_t *bits[GUEST_MEM_MAX_REGIONS]; /* owned; NULL: not taken */
};

/*
 * Take the guest's dirty log: with track_dirty, KVM_GET_DIRTY_LOG of each
 * RAM slot and each registered window slot on vm_fd (which also clears
 * KVM's log: the caller owns those pages now, see guest_mem_log_keep);
 * otherwise mincore() of each RAM region and each window's present units.
 * Returns 0, or -errno with upstream's VmError text in err ("Failed to get
 * KVM's dirty log: {os error}", "Error calling mincore: {os error}"); *out
 * then owns nothing, and the pages of slots already read are kept in the
 * VMM's bitmap (nothing is lost).
 */
int guest_mem_log_take(const struct guest_mem *gm, int vm_fd,
                       struct guest_mem_log *out, struct sq_err *err);

/* Free the bitmaps; NULL-safe. */
void guest_mem_log_fini(struct guest_mem_log *l);

/* Whether page p of region i is dirty in l or in the VMM's bitmap. */
bool guest_mem_page_dirty(const struct guest_mem *gm,
                          const struct guest_mem_log *l, size_t i, size_t p);

/*
 * Write every page dirty in l or in the VMM's bitmap to fd at its memory
 * file offset (pwrite: the file offset is not used; runs of dirty pages go
 * in one call); of a window, only those in present units (virtio-mem's
 * plugged blocks). Other bytes of the file are not touched. *written, if
 * not NULL, gets the bytes written. Returns 0, or -errno with err set to
 * "Volatile memory error: {os error}".
 */
int guest_mem_file_write_dirty(const struct guest_mem *gm,
                               const struct guest_mem_log *l, int fd,
                               uint64_t *written, struct sq_err *err);

/*
 * After a Diff that failed: fold l into the VMM's bitmap (RAM's and each
 * window's) so that the pages KVM no longer reports stay dirty for the
 * next snapshot (upstream's store_dirty_bitmap). No-op without track_dirty.
 */
void guest_mem_log_keep(const struct guest_mem *gm,
                        const struct guest_mem_log *l);

/*
 * After a successful snapshot: the next Diff holds only what changes from
 * now on. Clears the VMM's bitmaps (RAM's and windows') and, when
 * `kvm_too` (a Full snapshot, which did not take KVM's log), reads and
 * drops KVM's log of each RAM slot and each registered window slot.
 */
void guest_mem_dirty_reset(const struct guest_mem *gm, int vm_fd, bool kvm_too);

#endif
