/*
 * guest_mem.c: guest RAM mappings and the checked GPA -> HVA translation.
 * See guest_mem.h for the layout and the ownership rules.
 */
#include "vmm/guest_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "obs/log.h"
#include "util/xalloc.h"
#include "vmm/kvm.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

#define SZ_2M (2ULL << 20)

size_t guest_mem_layout(uint64_t mem_size,
                        struct guest_region out[GUEST_MEM_MAX_REGIONS])
{
    size_t n = 0;
    uint64_t left = mem_size;
    uint64_t chunk;

    memset(out, 0, sizeof(*out) * GUEST_MEM_MAX_REGIONS);
    _Static_assert(GUEST_MEM_MAX_RAM <= GUEST_MEM_MAX_REGIONS,
                   "the RAM layout fits the region table");
    if (left == 0)
        return 0;
    /* Region 0: below the 32-bit MMIO hole. */
    chunk = left < GUEST_MEM_MMIO32_START ? left : GUEST_MEM_MMIO32_START;
    out[n].gpa = 0;
    out[n++].size = chunk;
    left -= chunk;
    if (left == 0)
        return n;
    /* Region 1: from 4 GiB to the 64-bit MMIO hole. */
    chunk = GUEST_MEM_MMIO64_START - GUEST_MEM_MMIO32_END;
    if (left < chunk)
        chunk = left;
    out[n].gpa = GUEST_MEM_MMIO32_END;
    out[n++].size = chunk;
    left -= chunk;
    if (left == 0)
        return n;
    /* Region 2: everything else, past the 64-bit MMIO hole. */
    out[n].gpa = GUEST_MEM_MMIO64_END;
    out[n++].size = left;
    return n;
}

/*
 * Rust's io::Error text as upstream prints it. Firecracker is built against
 * musl, whose strerror differs from glibc's for the errors mmap gives.
 */
static const char *mmap_error_text(int errnum, char *buf, size_t len)
{
    if (errnum == ENOMEM) {
        snprintf(buf, len, "Out of memory (os error %d)", ENOMEM);
        return buf;
    }
    return sq_os_error(errnum, buf, len);
}

/* Map `size` bytes aligned to 2 MiB. Returns the mapping or MAP_FAILED (errno
 * set). */
static void *map_aligned(uint64_t size, enum guest_mem_huge_pages hp)
{
    size_t len = (size_t)size;
    size_t resv_len = len + (size_t)SZ_2M;
    uint8_t *resv, *aligned, *p;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    int saved;

    if (len != size || resv_len < len) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    /* Reserve address space, then place the real mapping on a 2 MiB boundary.
     */
    resv = mmap(NULL, resv_len, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (resv == MAP_FAILED)
        return MAP_FAILED;
    aligned =
        (uint8_t *)(((uintptr_t)resv + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1));
    if (hp == GUEST_MEM_HUGE_2M)
        flags |= MAP_HUGETLB | MAP_HUGE_2MB; /* reserved now, not at fault */
    else
        flags |= MAP_NORESERVE;
    p = mmap(aligned, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) {
        saved = errno;
        munmap(resv, resv_len);
        errno = saved;
        return MAP_FAILED;
    }
    /* Give back the slack on both sides. */
    if (aligned > resv)
        munmap(resv, (size_t)(aligned - resv));
    if (resv + resv_len > aligned + len)
        munmap(aligned + len, (size_t)(resv + resv_len - (aligned + len)));
    return p;
}

int guest_mem_new(uint64_t mem_size_mib, enum guest_mem_huge_pages huge_pages,
                  struct guest_mem **out, struct sq_err *err)
{
    struct guest_mem *gm;
    char os[256];
    uint64_t mem_size;
    int rc;

    *out = NULL;
    if (mem_size_mib == 0 ||
        __builtin_mul_overflow(mem_size_mib, 1ULL << 20, &mem_size))
        return sq_errf(err, -EINVAL, "Cannot create mmap region: %s",
                       sq_os_error(EINVAL, os, sizeof(os)));
    if (huge_pages != GUEST_MEM_HUGE_NONE && (mem_size % SZ_2M) != 0)
        return sq_errf(err, -EINVAL, "Cannot create mmap region: %s",
                       sq_os_error(EINVAL, os, sizeof(os)));

    gm = xcalloc(1, sizeof(*gm));
    gm->huge_pages = huge_pages;
    gm->n_regions = guest_mem_layout(mem_size, gm->regions);
    for (size_t i = 0; i < gm->n_regions; i++) {
        struct guest_region *r = &gm->regions[i];
        void *p = map_aligned(r->size, huge_pages);

        if (p == MAP_FAILED) {
            rc = -errno;
            if (huge_pages == GUEST_MEM_HUGE_2M)
                log_warn("Cannot map %llu bytes of 2 MiB hugetlbfs pages; is "
                         "the pool (vm.nr_hugepages) large enough?",
                         (unsigned long long)r->size);
            sq_errf(err, rc, "Cannot create mmap region: %s",
                    mmap_error_text(-rc, os, sizeof(os)));
            goto fail;
        }
        r->hva = p;
        r->slot = (uint32_t)i;
        if (huge_pages == GUEST_MEM_HUGE_THP &&
            madvise(p, (size_t)r->size, MADV_HUGEPAGE) < 0) {
            rc = -errno;
            sq_errf(err, rc, "Error calling madvise: %s",
                    sq_os_error(-rc, os, sizeof(os)));
            goto fail;
        }
    }
    *out = gm;
    return 0;
fail:
    guest_mem_free(gm);
    return rc;
}

int guest_mem_add_borrowed(struct guest_mem *gm, gpa_t gpa, uint64_t size,
                           void *hva)
{
    uint64_t end;

    if (size == 0 || __builtin_add_overflow(gpa, size, &end))
        return -EINVAL;
    if (gm->n_regions >= GUEST_MEM_MAX_REGIONS)
        return -ENOSPC;
    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];

        if (gpa < r->gpa + r->size && r->gpa < end)
            return -EINVAL;
    }
    gm->regions[gm->n_regions] = (struct guest_region){
        .gpa = gpa, .size = size, .hva = hva, .borrowed = true};
    /* A window's dirty pages are logged as RAM's (guest_mem_diff.h). */
    if (gm->track_dirty) {
        int rc = atomic_bitmap_init(&gm->regions[gm->n_regions].dirty,
                                    (size_t)(size / GUEST_MEM_PAGE_SIZE));

        if (rc < 0)
            return rc;
    }
    gm->n_regions++;
    return 0;
}

int guest_mem_add_window(struct guest_mem *gm, gpa_t gpa, uint64_t size)
{
    void *p;
    int rc;

    if (size == 0 || size != (size_t)size)
        return -EINVAL;
    p = map_aligned(size, gm->huge_pages);
    if (p == MAP_FAILED)
        return -errno;
    rc = guest_mem_add_borrowed(gm, gpa, size, p);
    if (rc < 0) {
        munmap(p, (size_t)size);
        return rc;
    }
    gm->regions[gm->n_regions - 1].window_owned = true;
    if (gm->huge_pages == GUEST_MEM_HUGE_THP)
        (void)madvise(p, (size_t)size, MADV_HUGEPAGE);
    return 0;
}

struct guest_region *guest_mem_find_window(struct guest_mem *gm, gpa_t gpa,
                                           uint64_t size)
{
    for (size_t i = 0; i < gm->n_regions; i++) {
        struct guest_region *r = &gm->regions[i];

        if (r->borrowed && r->gpa == gpa && r->size == size)
            return r;
    }
    return NULL;
}

int guest_mem_release(bool file_backed, void *hva, uint64_t len)
{
    if (!file_backed)
        return madvise(hva, (size_t)len, MADV_DONTNEED);
    return mmap(hva, (size_t)len, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
                0) == MAP_FAILED
               ? -1
               : 0;
}

void guest_mem_free(struct guest_mem *gm)
{
    if (!gm)
        return;
    for (size_t i = 0; i < gm->n_regions; i++) {
        if (gm->regions[i].hva &&
            (!gm->regions[i].borrowed || gm->regions[i].window_owned))
            munmap(gm->regions[i].hva, (size_t)gm->regions[i].size);
        atomic_bitmap_fini(&gm->regions[i].dirty);
    }
    free(gm);
}

int guest_mem_register(struct guest_mem *gm, int vm_fd, bool track_dirty)
{
    uint32_t flags = track_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0;
    int rc;

    if (track_dirty) {
        rc = guest_mem_dirty_init(gm);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < gm->n_regions; i++) {
        struct guest_region *r = &gm->regions[i];

        if (r->borrowed)
            continue;
        rc = kvm_set_user_memory_region(vm_fd, r->slot, flags, r->gpa, r->size,
                                        r->hva);
        if (rc < 0)
            return rc;
    }
    gm->track_dirty = track_dirty;
    return 0;
}

int guest_mem_translate(const struct guest_mem *gm, gpa_t gpa, uint64_t len,
                        void **hva)
{
    uint64_t end;

    if (__builtin_add_overflow(gpa, len, &end))
        return -EFAULT;
    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        uint64_t rend = r->gpa + r->size; /* cannot overflow: layout caps it */

        if (gpa < r->gpa || gpa >= rend)
            continue;
        if (end > rend)
            return -EFAULT;
        *hva = r->hva + (gpa - r->gpa);
        return 0;
    }
    return -EFAULT;
}

uint64_t guest_mem_size(const struct guest_mem *gm)
{
    uint64_t total = 0;

    for (size_t i = 0; i < gm->n_regions; i++)
        total += gm->regions[i].borrowed ? 0 : gm->regions[i].size;
    return total;
}

uint64_t guest_mem_file_size(const struct guest_mem *gm)
{
    uint64_t total = 0;

    for (size_t i = 0; i < gm->n_regions; i++)
        total += gm->regions[i].size;
    return total;
}
