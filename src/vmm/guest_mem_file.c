/*
 * guest_mem_file.c: guest RAM to and from a snapshot's memory file
 * (guest_mem_file.h).
 */
#include "vmm/guest_mem_file.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int guest_mem_file_write(const struct guest_mem *gm, int fd, struct sq_err *err)
{
    uint64_t off = 0;
    char os[128];

    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        uint64_t done = 0;

        while (done < r->size) {
            size_t chunk =
                r->size - done > (1u << 30) ? (1u << 30) : r->size - done;
            ssize_t n = pwrite(fd, r->hva + done, chunk, (off_t)(off + done));

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                int e = n < 0 ? errno : EIO;

                return sq_errf(err, -e, "Cannot dump memory: %s",
                               sq_os_error(e, os, sizeof(os)));
            }
            done += (uint64_t)n;
        }
        off += r->size;
    }
    if (ftruncate(fd, (off_t)off) < 0)
        return sq_errf(err, -errno, "Cannot dump memory: %s",
                       sq_os_error(errno, os, sizeof(os)));
    return 0;
}

int guest_mem_file_map(struct guest_mem *gm, int fd, struct sq_err *err)
{
    uint64_t total = guest_mem_size(gm), off = 0;
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
