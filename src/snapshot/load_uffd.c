/*
 * load_uffd.c: guest RAM served by a page-fault handler (load_uffd.h), in
 * upstream's order: anonymous memory, the userfaultfd, every region
 * registered, the handshake.
 */
#include "snapshot/load_uffd.h"

#include <errno.h>
#include <unistd.h>

#include "snapshot/uffd.h"

#define ERR_UFFD "Error creating guest memory from uffd: "

int snapshot_memory_from_uffd_fds(uint64_t mem_size_mib,
                                  enum guest_mem_huge_pages huge_pages,
                                  const struct guest_mem_window *win,
                                  const char *socket_path,
                                  struct guest_mem **out, int *uffd, int *sock,
                                  struct sq_err *err)
{
    struct uffd_region_map maps[GUEST_MEM_MAX_REGIONS];
    /* upstream's HugePageConfig::page_size: "Transparent" is 4 KiB. */
    uint64_t page_size = huge_pages == GUEST_MEM_HUGE_2M ? 2ULL << 20 : 4096;
    struct guest_mem *gm = NULL;
    uint64_t off = 0;
    size_t n = 0;
    int rc;

    *out = NULL;
    *uffd = -1;
    *sock = -1;
    rc = guest_mem_new(mem_size_mib, huge_pages, &gm, err);
    if (rc < 0)
        return sq_err_prefix(err, ERR_UFFD "Failed to restore guest memory: ");
    if (win && win->size) {
        char os[128];

        rc = guest_mem_add_window(gm, win->gpa, win->size);
        if (rc < 0) {
            guest_mem_free(gm);
            return sq_errf(err, rc,
                           ERR_UFFD "Failed to restore guest memory: Cannot "
                                    "create mmap region: %s",
                           sq_os_error(-rc, os, sizeof(os)));
        }
    }
    rc = uffd_open(uffd, err);
    for (size_t i = 0; rc == 0 && i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];

        rc = uffd_register(*uffd, r->hva, r->size, err);
        maps[n++] = (struct uffd_region_map){
            .base_host_virt_addr = (uint64_t)(uintptr_t)r->hva,
            .size = r->size,
            .offset = off,
            .page_size = page_size,
        };
        off += r->size;
    }
    if (rc == 0)
        rc = uffd_handshake(socket_path, maps, n, *uffd, sock, err);
    if (rc < 0) {
        if (*uffd >= 0)
            close(*uffd);
        *uffd = -1;
        guest_mem_free(gm);
        return sq_err_prefix(err, ERR_UFFD);
    }
    *out = gm;
    return 0;
}

int snapshot_memory_from_uffd(uint64_t mem_size_mib,
                              enum guest_mem_huge_pages huge_pages,
                              const struct guest_mem_window *win,
                              const char *socket_path, struct guest_mem **out,
                              struct sq_err *err)
{
    int uffd, sock;

    /* Both fds are deliberately kept (see load_uffd.h). */
    return snapshot_memory_from_uffd_fds(mem_size_mib, huge_pages, win,
                                         socket_path, out, &uffd, &sock, err);
}
