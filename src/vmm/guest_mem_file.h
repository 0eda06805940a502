/*
 * guest_mem_file.h: guest RAM and a snapshot's memory file (digest 7.1).
 *
 * The memory file is every region's bytes, concatenated in region order:
 * guest RAM in guest-address order, then any window (virtio-mem's
 * hot-pluggable region); a region's file offset is the sum of the sizes
 * before it. Saving
 * writes all of it (a Full snapshot). Restoring with the File backend maps
 * the file over the regions MAP_PRIVATE: nothing is read up front, pages
 * come in on first touch, and the guest's writes stay private to the
 * process (copy-on-write), so many processes may restore one file.
 */
#ifndef SQUIB_VMM_GUEST_MEM_FILE_H
#define SQUIB_VMM_GUEST_MEM_FILE_H

#include "util/err.h"
#include "vmm/guest_mem.h"

/*
 * Write every region of gm to fd from offset 0 and truncate the file to
 * the total size (guest_mem_file_size). Of a window with a `present` map
 * (virtio-mem's plugged blocks) only the present units are written; the
 * others are left as they are (holes in a new file), as upstream's dump
 * skips unplugged slots. Returns 0, or -errno with err set to upstream's
 * MemoryError text ("Cannot dump memory: {os error}").
 */
int guest_mem_file_write(const struct guest_mem *gm, int fd,
                         struct sq_err *err);

/* Write [hva, hva + len) to fd at offset `off`, whole (pwrite: the file
 * offset is not used; at most 1 GiB per call, EINTR retried). 0 or -errno
 * (-EIO when nothing could be written). */
int guest_mem_pwrite_all(int fd, const uint8_t *hva, uint64_t len,
                         uint64_t off);

/* Whether unit u of r's window holds guest data (always, without a map). */
bool guest_region_unit_present(const struct guest_region *r, uint64_t u);

/* Write the present units of r at file offset file_off + their offset in
 * r (every byte of r without a map), adding the bytes written to *written
 * (if not NULL). 0 or -errno. */
int guest_mem_write_present(const struct guest_region *r, int fd,
                            uint64_t file_off, uint64_t *written);

/*
 * Replace every region's anonymous mapping by a MAP_PRIVATE|MAP_FIXED
 * mapping of fd at the region's file offset (gm must not be registered with
 * KVM yet), windows included (guest_mem_add_window), advised MADV_HUGEPAGE
 * when gm uses transparent huge pages. A file shorter than
 * guest_mem_file_size() is refused first with upstream's text "Total sum
 * of memory regions exceeds largest possible file offset" (a longer one is
 * accepted, as upstream). On failure returns -errno with err set ("Cannot
 * create mmap region: {os error}", "Cannot retrieve snapshot file metadata: {os
 * error}"); gm is then still valid.
 */
int guest_mem_file_map(struct guest_mem *gm, int fd, struct sq_err *err);

#endif
