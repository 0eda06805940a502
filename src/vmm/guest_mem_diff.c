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

/* mincore's answer (a byte per page, bit 0 = resident) as a page bitmap. */
static int mincore_bits(const struct guest_region *r, uint64_t *bits)
{
    size_t n = region_pages(r);
    unsigned char *vec = malloc(n ? n : 1);

    if (!vec)
        return -ENOMEM;
    if (mincore(r->hva, (size_t)r->size, vec) < 0) {
        int e = errno;

        free(vec);
        return -e;
    }
    for (size_t p = 0; p < n; p++)
        bits[p / 64] |= (uint64_t)(vec[p] & 1) << (p % 64);
    free(vec);
    return 0;
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
        if (!bits || mincore_bits(r, bits) < 0) {
            /* Without the answer, every page counts as written. */
            atomic_bitmap_set_range(&r->dirty, 0, region_pages(r));
        } else {
            atomic_bitmap_or_words(&r->dirty, bits, words);
        }
        free(bits);
    }
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

        if (r->borrowed)
            continue;
        out->bits[i] = calloc(words ? words : 1, sizeof(uint64_t));
        if (!out->bits[i]) {
            guest_mem_log_fini(out);
            return sq_errf(err, -ENOMEM, "Error calling mincore: %s",
                           sq_os_error(ENOMEM, os, sizeof(os)));
        }
        if (gm->track_dirty) {
            rc = kvm_get_dirty_log(vm_fd, r->slot, out->bits[i]);
            if (rc < 0) {
                /* The slots read before are empty in KVM now: keep their
                 * pages dirty in squib's bitmap. */
                guest_mem_log_keep(gm, out);
                guest_mem_log_fini(out);
                return sq_errf(err, rc, "Failed to get KVM's dirty log: %s",
                               sq_os_error(-rc, os, sizeof(os)));
            }
        } else {
            rc = mincore_bits(r, out->bits[i]);
            if (rc < 0) {
                guest_mem_log_fini(out);
                return sq_errf(err, rc, "Error calling mincore: %s",
                               sq_os_error(-rc, os, sizeof(os)));
            }
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

int guest_mem_file_write_dirty(const struct guest_mem *gm,
                               const struct guest_mem_log *l, int fd,
                               uint64_t *written, struct sq_err *err)
{
    uint64_t file_off = 0, total = 0;
    char os[128];

    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        size_t n = region_pages(r), p = 0;

        if (r->borrowed) {
            /* A window's dirty pages are not logged: every present unit
             * (virtio-mem: plugged block) goes in. */
            int rc = guest_mem_write_present(r, fd, file_off, &total);

            if (rc < 0)
                return sq_errf(err, rc, "Volatile memory error: %s",
                               sq_os_error(-rc, os, sizeof(os)));
            file_off += r->size;
            continue;
        }
        while (p < n) {
            size_t first;
            uint64_t at, len;
            int rc;

            if (p % 64 == 0 && !dirty_word(gm, l, i, p / 64)) {
                p += 64; /* 64 clean pages */
                continue;
            }
            if (!guest_mem_page_dirty(gm, l, i, p)) {
                p++;
                continue;
            }
            /* A run of dirty pages [first, p): one write. */
            first = p;
            while (p < n && guest_mem_page_dirty(gm, l, i, p))
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

        if (r->borrowed || !l->bits[i])
            continue;
        atomic_bitmap_or_words(&r->dirty, l->bits[i],
                               atomic_bitmap_n_words(region_pages(r)));
    }
}

void guest_mem_dirty_reset(const struct guest_mem *gm, int vm_fd, bool kvm_too)
{
    if (!gm->track_dirty)
        return;
    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];

        if (r->borrowed)
            continue;
        if (kvm_too) {
            size_t words = atomic_bitmap_n_words(region_pages(r));
            uint64_t *scratch = calloc(words ? words : 1, sizeof(uint64_t));

            /* Upstream ignores this read's result too: the log is only
             * being emptied. */
            if (scratch)
                (void)kvm_get_dirty_log(vm_fd, r->slot, scratch);
            free(scratch);
        }
        atomic_bitmap_clear(&r->dirty);
    }
}
