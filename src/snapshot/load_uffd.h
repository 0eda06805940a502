/*
 * load_uffd.h: guest RAM for PUT /snapshot/load with the Uffd memory
 * backend (upstream's guest_memory_from_uffd, digest 7.3).
 */
#ifndef SQUIB_SNAPSHOT_LOAD_UFFD_H
#define SQUIB_SNAPSHOT_LOAD_UFFD_H

#include <stdint.h>

#include "util/err.h"
#include "vmm/guest_mem.h"

/*
 * Map `mem_size_mib` MiB of anonymous guest RAM (hugetlbfs with
 * GUEST_MEM_HUGE_2M, MADV_HUGEPAGE with _THP) and, when win is not NULL and
 * not empty, the virtio-mem window after it (guest_mem_add_window: the
 * memory file holds it after the RAM, as upstream's hot-pluggable region
 * is its last memory region), create a userfaultfd
 * (uffd.h), register every region in MISSING mode, and send the handler
 * listening on `socket_path` the region list with the uffd attached.
 *
 * On success *out is the new memory (the caller owns it); the userfaultfd
 * and the connected socket stay open, owned by nobody, for the life of the
 * process, as upstream (its Vm keeps the uffd, the socket is forgotten): a
 * handler that stops serving then freezes the guest rather than letting it
 * run on zero pages. On failure nothing is left mapped or open and err
 * holds upstream's text after "Failed to load guest memory: ", e.g.
 * "Error creating guest memory from uffd: Failed to connect to UDS Unix
 * stream: No such file or directory (os error 2)".
 */
int snapshot_memory_from_uffd(uint64_t mem_size_mib,
                              enum guest_mem_huge_pages huge_pages,
                              const struct guest_mem_window *win,
                              const char *socket_path, struct guest_mem **out,
                              struct sq_err *err);

/* The same, handing back the two fds instead of keeping them (tests; each
 * is -1 on failure). */
int snapshot_memory_from_uffd_fds(uint64_t mem_size_mib,
                                  enum guest_mem_huge_pages huge_pages,
                                  const struct guest_mem_window *win,
                                  const char *socket_path,
                                  struct guest_mem **out, int *uffd, int *sock,
                                  struct sq_err *err);

#endif
