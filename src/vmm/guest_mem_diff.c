/*
 * guest_mem_diff.c: dirty logs and the sparse memory file of a Diff
 * snapshot (guest_mem_diff.h).
 */
#include "vmm/guest_mem_diff.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/guest_mem_file.h"
#include "vmm/kvm.h"

static size_t region_pages(const struct guest_region *r)
{
    return (size_t)(r->size / GUEST_MEM_PAGE_SIZE);
}

/* mincore's answer for [hva, hva + len) (a byte per page, bit 0 =
 * resident) ORed into a page bitmap from page `first` on. */
static int mincore_bits(uint8_t *hva, uint64_t len, uint64_t *bits,
                        size_t first)
{
    size_t n = (size_t)(len / GUEST_MEM_PAGE_SIZE);
    unsigned char *vec = malloc(n ? n : 1);

    if (!vec)
        return -ENOMEM;
    if (mincore(hva, (size_t)len, vec) < 0) {
        int e = errno;

        free(vec);
        return -e;
    }
    for (size_t p = 0; p < n; p++)
        bits[(first + p) / 64] |= (uint64_t)(vec[p] & 1) << ((first + p) % 64);
    free(vec);
    return 0;
}

/* Slots of a window that has its own (guest_region.slot_on), else 0. */
static size_t window_slots(const struct guest_region *r)
{
    return r->borrowed && r->slot_on && r->slot_size ? r->size / r->slot_size
                                                     : 0;
}

/* First word of slot k's pages in a region bitmap (a slot is a whole
 * number of 2 MiB blocks, so its pages fill whole words). */
static size_t slot_word(const struct guest_region *r, size_t k)
{
    return (size_t)(k * (r->slot_size / GUEST_MEM_PAGE_SIZE) / 64);
}

void guest_mem_mark_resident(const struct guest_mem *gm)
{
    if (!gm || !gm->track_dirty)
        return;
    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        size_t words = atomic_bitmap_n_words(region_pages(r));
        uint64_t *bits;

        if (r->borrowed || !r->dirty.words)
            continue;
        bits = calloc(words ? words : 1, sizeof(uint64_t));
        if (!bits || mincore_bits(r->hva, r->size, bits, 0) < 0) {
            /* Without the answer, every page counts as written. */
            atomic_bitmap_set_range(&r->dirty, 0, region_pages(r));
        } else {
            atomic_bitmap_or_words(&r->dirty, bits, words);
        }
        free(bits);
    }
}

/*
 * KVM's log of a window: each registered slot's (upstream's
 * get_dirty_bitmap over plugged_slots); the others hold no guest writes.
 * A window without slots of its own has no log: every page counts.
 */
static int window_kvm_log(int vm_fd, const struct guest_region *r,
                          uint64_t *bits)
{
    size_t n = window_slots(r);

    if (!r->slot_on || !r->slot_size) {
        for (size_t w = 0; w < atomic_bitmap_n_words(region_pages(r)); w++)
            bits[w] = ~0ULL;
        return 0;
    }
    for (size_t k = 0; k < n; k++) {
        int rc;

        if (!r->slot_on[k])
            continue;
        rc = kvm_get_dirty_log(vm_fd, r->slot + (uint32_t)k,
                               bits + slot_word(r, k));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* mincore of a window's present units (virtio-mem: plugged blocks). */
static int window_mincore(const struct guest_region *r, uint64_t *bits)
{
    uint64_t unit = r->present ? r->present_unit : r->size;
    uint64_t n = unit ? r->size / unit : 0;

    for (uint64_t u = 0; u < n; u++) {
        int rc;

        if (!guest_region_unit_present(r, u))
            continue;
        rc = mincore_bits(r->hva + u * unit, unit, bits,
                          (size_t)(u * unit / GUEST_MEM_PAGE_SIZE));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Region r's log into bits (clear): KVM's with track_dirty, else mincore. */
static int region_log(const struct guest_mem *gm, int vm_fd,
                      const struct guest_region *r, uint64_t *bits)
{
    if (gm->track_dirty)
        return r->borrowed ? window_kvm_log(vm_fd, r, bits)
                           : kvm_get_dirty_log(vm_fd, r->slot, bits);
    return r->borrowed ? window_mincore(r, bits)
                       : mincore_bits(r->hva, r->size, bits, 0);
}

int guest_mem_log_take(const struct guest_mem *gm, int vm_fd,
                       struct guest_mem_log *out, struct sq_err *err)
{
    char os[128];

    for (size_t i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
        out->bits[i] = NULL;
    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        size_t words = atomic_bitmap_n_words(region_pages(r));
        int rc;

        out->bits[i] = calloc(words ? words : 1, sizeof(uint64_t));
        if (!out->bits[i]) {
            guest_mem_log_keep(gm, out);
            guest_mem_log_fini(out);
            return sq_errf(err, -ENOMEM, "Error calling mincore: %s",
                           sq_os_error(ENOMEM, os, sizeof(os)));
        }
        rc = region_log(gm, vm_fd, r, out->bits[i]);
        if (rc < 0 && gm->track_dirty) {
            /* The slots read before are empty in KVM now: keep their
             * pages dirty in squib's bitmap. */
            guest_mem_log_keep(gm, out);
            guest_mem_log_fini(out);
            return sq_errf(err, rc, "Failed to get KVM's dirty log: %s",
                           sq_os_error(-rc, os, sizeof(os)));
        }
        if (rc < 0) {
            guest_mem_log_fini(out);
            return sq_errf(err, rc, "Error calling mincore: %s",
                           sq_os_error(-rc, os, sizeof(os)));
        }
    }
    return 0;
}

void guest_mem_log_fini(struct guest_mem_log *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < GUEST_MEM_MAX_REGIONS; i++) {
        free(l->bits[i]);
        l->bits[i] = NULL;
    }
}

/* Word w of region i's dirty set: the log's bits and the VMM's. */
static uint64_t dirty_word(const struct guest_mem *gm,
                           const struct guest_mem_log *l, size_t i, size_t w)
{
    uint64_t v = atomic_bitmap_word(&gm->regions[i].dirty, w);

    if (l && l->bits[i])
        v |= l->bits[i][w];
    return v;
}

bool guest_mem_page_dirty(const struct guest_mem *gm,
                          const struct guest_mem_log *l, size_t i, size_t p)
{
    if (i >= gm->n_regions || p >= region_pages(&gm->regions[i]))
        return false;
    return (dirty_word(gm, l, i, p / 64) >> (p % 64)) & 1;
}

/* Whether page p of region r goes into the file: dirty, and (a window)
 * in a present unit. */
static bool page_written(const struct guest_mem *gm,
                         const struct guest_mem_log *l, size_t i, size_t p)
{
    const struct guest_region *r = &gm->regions[i];

    if (!guest_mem_page_dirty(gm, l, i, p))
        return false;
    return !r->present || !r->present_unit ||
           guest_region_unit_present(r, (uint64_t)p * GUEST_MEM_PAGE_SIZE /
                                            r->present_unit);
}

int guest_mem_file_write_dirty(const struct guest_mem *gm,
                               const struct guest_mem_log *l, int fd,
                               uint64_t *written, struct sq_err *err)
{
    uint64_t file_off = 0, total = 0;
    char os[128];

    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        size_t n = region_pages(r), p = 0;

        while (p < n) {
            size_t first;
            uint64_t at, len;
            int rc;

            if (p % 64 == 0 && !dirty_word(gm, l, i, p / 64)) {
                p += 64; /* 64 clean pages */
                continue;
            }
            if (!page_written(gm, l, i, p)) {
                p++;
                continue;
            }
            /* A run of pages to write [first, p): one write. */
            first = p;
            while (p < n && page_written(gm, l, i, p))
                p++;
            at = (uint64_t)first * GUEST_MEM_PAGE_SIZE;
            len = (uint64_t)(p - first) * GUEST_MEM_PAGE_SIZE;
            rc = guest_mem_pwrite_all(fd, r->hva + at, len, file_off + at);
            if (rc < 0)
                return sq_errf(err, rc, "Volatile memory error: %s",
                               sq_os_error(-rc, os, sizeof(os)));
            total += len;
        }
        file_off += r->size;
    }
    if (written)
        *written = total;
    return 0;
}

void guest_mem_log_keep(const struct guest_mem *gm,
                        const struct guest_mem_log *l)
{
    if (!gm->track_dirty)
        return;
    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];

        if (!l->bits[i])
            continue;
        atomic_bitmap_or_words(&r->dirty, l->bits[i],
                               atomic_bitmap_n_words(region_pages(r)));
    }
}

/* Read and drop KVM's log of region r (upstream's reset_dirty_bitmap: each
 * registered slot's; the result is ignored, as upstream's). */
static void drop_kvm_log(int vm_fd, const struct guest_region *r)
{
    size_t words = atomic_bitmap_n_words(region_pages(r));
    uint64_t *scratch = calloc(words ? words : 1, sizeof(uint64_t));

    if (!scratch)
        return;
    if (!r->borrowed) {
        (void)kvm_get_dirty_log(vm_fd, r->slot, scratch);
    } else {
        for (size_t k = 0; k < window_slots(r); k++)
            if (r->slot_on[k])
                (void)kvm_get_dirty_log(vm_fd, r->slot + (uint32_t)k,
                                        scratch + slot_word(r, k));
    }
    free(scratch);
}

void guest_mem_dirty_reset(const struct guest_mem *gm, int vm_fd, bool kvm_too)
{
    if (!gm->track_dirty)
        return;
    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];

        if (kvm_too)
            drop_kvm_log(vm_fd, r);
        atomic_bitmap_clear(&r->dirty);
    }
}
