/*
 * balloon_int.h: helpers the balloon device (balloon.c) shares with its
 * tests: page-frame compaction and releasing guest memory. Not for other
 * modules.
 */
#ifndef SQUIB_DEVICES_VIRTIO_BALLOON_INT_H
#define SQUIB_DEVICES_VIRTIO_BALLOON_INT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

/* A run of `len` consecutive 4 KiB pages starting at page `pfn`. */
struct balloon_range {
    uint32_t pfn;
    uint32_t len;
};

/*
 * Upstream's compact_page_frame_numbers(): sort pfns[0..n) in place, drop
 * duplicates (logged) and write the runs of consecutive pages to out[],
 * which must have room for n entries. Returns the number of runs (0 for
 * n 0). Never overflows, also for duplicates of UINT32_MAX.
 */
size_t balloon_compact_pfns(uint32_t *pfns, size_t n,
                            struct balloon_range *out);

/*
 * Release [gpa, gpa + len) of guest RAM: madvise(MADV_DONTNEED) on each
 * region's part, so the host frees the pages and later guest reads see
 * zeros (true of squib's private anonymous RAM, hugetlb included); on a
 * region mapped from a snapshot's memory file (file_backed) a new
 * anonymous mapping over the part instead. Like upstream's discard_range, the
 * parts before a gap are released and the gap is an error. Returns 0, -EFAULT
 * for a range not wholly inside guest RAM, or madvise's -errno (EINVAL
 * for an address that is not page aligned, or not huge-page aligned on
 * hugetlb). len 0 succeeds if gpa is in RAM.
 */
int balloon_discard(const struct guest_mem *gm, gpa_t gpa, uint64_t len);

#endif
