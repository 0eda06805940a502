/*
 * guest_mem_file.c: guest RAM to and from a snapshot's memory file
 * (guest_mem_file.h).
 */
#include "vmm/guest_mem_file.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int guest_mem_pwrite_all(int fd, const uint8_t *hva, uint64_t len, uint64_t off)
{
    while (len > 0) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
        ssize_t n = pwrite(fd, hva, chunk, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        hva += n;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return 0;
}

bool guest_region_unit_present(const struct guest_region *r, uint64_t u)
{
    return !r->present || (r->present[u / 64] >> (u % 64) & 1);
}

int guest_mem_write_present(const struct guest_region *r, int fd,
                            uint64_t file_off, uint64_t *written)
{
    uint64_t unit = r->present ? r->present_unit : r->size;
    uint64_t n = unit ? r->size / unit : 0, u = 0;

    while (u < n) {
        uint64_t first;
        int rc;

        if (!guest_region_unit_present(r, u)) {
            u++;
            continue;
        }
        first = u;
        while (u < n && guest_region_unit_present(r, u))
            u++;
        rc = guest_mem_pwrite_all(fd, r->hva + first * unit, (u - first) * unit,
                                  file_off + first * unit);
        if (rc < 0)
            return rc;
        if (written)
            *written += (u - first) * unit;
    }
    return 0;
}

int guest_mem_file_write(const struct guest_mem *gm, int fd, struct sq_err *err)
{
    uint64_t off = 0;
    char os[128];
    int rc;

    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];

        rc = guest_mem_write_present(r, fd, off, NULL);
        if (rc < 0)
            return sq_errf(err, rc, "Cannot dump memory: %s",
                           sq_os_error(-rc, os, sizeof(os)));
        off += r->size;
    }
    if (ftruncate(fd, (off_t)off) < 0)
        return sq_errf(err, -errno, "Cannot dump memory: %s",
                       sq_os_error(errno, os, sizeof(os)));
    return 0;
}

int guest_mem_file_map(struct guest_mem *gm, int fd, struct sq_err *err)
{
    uint64_t total = guest_mem_file_size(gm), off = 0;
    struct stat st;
    char os[128];

    if (fstat(fd, &st) < 0)
        return sq_errf(err, -errno,
                       "Cannot retrieve snapshot file metadata: %s",
                       sq_os_error(errno, os, sizeof(os)));
    /* Touching a page mapped past the end of the file would SIGBUS a vCPU:
     * refuse a short file now (upstream's OffsetTooLarge). */
    if ((uint64_t)st.st_size < total)
        return sq_errf(err, -EINVAL,
                       "Total sum of memory regions exceeds largest possible "
                       "file offset");
    for (size_t i = 0; i < gm->n_regions; i++) {
        struct guest_region *r = &gm->regions[i];
        void *p = mmap(r->hva, (size_t)r->size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)off);

        if (p == MAP_FAILED)
            return sq_errf(err, -errno, "Cannot create mmap region: %s",
                           sq_os_error(errno, os, sizeof(os)));
        /* "Transparent" asks for huge pages on the new mapping too (a
         * hint: the file's filesystem may not provide them). */
        if (gm->huge_pages == GUEST_MEM_HUGE_THP)
            (void)madvise(p, (size_t)r->size, MADV_HUGEPAGE);
        r->file_backed = true;
        off += r->size;
    }
    return 0;
}
