/*
 * guest_mem_dirty.c: the VMM's own dirty-page log (guest_mem.h, "the
 * VMM's own dirty-page log").
 *
 * Each region of a tracking guest_mem (RAM and windows) has an atomic
 * bitmap, one bit per GUEST_MEM_PAGE_SIZE page of the region. A range is
 * clipped to each region it meets; what lies in no region is ignored, as
 * upstream's mark_dirty ignores invalid ranges. (guest_mem_mark_resident() is
 * in guest_mem_diff.c, beside the other user of mincore.)
 */
#include "vmm/guest_mem.h"

#include <sys/uio.h>

int guest_mem_dirty_init(struct guest_mem *gm)
{
    for (size_t i = 0; i < gm->n_regions; i++) {
        struct guest_region *r = &gm->regions[i];
        int rc;

        if (r->dirty.words)
            continue;
        rc = atomic_bitmap_init(&r->dirty,
                                (size_t)(r->size / GUEST_MEM_PAGE_SIZE));
        if (rc < 0)
            return rc;
    }
    gm->track_dirty = true;
    return 0;
}

/* Mark [off, off + len) of region r (offsets inside the region). */
static void mark_region(const struct guest_region *r, uint64_t off,
                        uint64_t len)
{
    uint64_t first, last;

    if (len == 0 || off >= r->size)
        return;
    if (len > r->size - off)
        len = r->size - off;
    first = off / GUEST_MEM_PAGE_SIZE;
    last = (off + len - 1) / GUEST_MEM_PAGE_SIZE;
    atomic_bitmap_set_range(&r->dirty, (size_t)first,
                            (size_t)(last - first + 1));
}

void guest_mem_mark_dirty(const struct guest_mem *gm, gpa_t gpa, uint64_t len)
{
    uint64_t end;

    if (!gm || !gm->track_dirty || len == 0)
        return;
    if (__builtin_add_overflow(gpa, len, &end))
        end = UINT64_MAX;
    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        uint64_t lo, hi;

        if (!r->dirty.words)
            continue;
        lo = gpa > r->gpa ? gpa : r->gpa;
        hi = end < r->gpa + r->size ? end : r->gpa + r->size;
        if (lo < hi)
            mark_region(r, lo - r->gpa, hi - lo);
    }
}

void guest_mem_mark_dirty_hva(const struct guest_mem *gm, const void *hva,
                              uint64_t len)
{
    uintptr_t p = (uintptr_t)hva;

    if (!gm || !gm->track_dirty || len == 0)
        return;
    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        uintptr_t base = (uintptr_t)r->hva;

        if (!r->dirty.words || p < base || p - base >= r->size)
            continue;
        mark_region(r, p - base, len);
        return;
    }
}

void guest_mem_mark_dirty_iov(const struct guest_mem *gm,
                              const struct iovec *iov, size_t n, uint64_t bytes)
{
    if (!gm || !gm->track_dirty)
        return;
    for (size_t i = 0; i < n && bytes > 0; i++) {
        uint64_t len = iov[i].iov_len < bytes ? iov[i].iov_len : bytes;

        guest_mem_mark_dirty_hva(gm, iov[i].iov_base, len);
        bytes -= len;
    }
}
