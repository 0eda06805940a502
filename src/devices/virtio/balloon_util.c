/*
 * balloon_util.c: page-frame compaction and guest memory release for the
 * balloon device (balloon_int.h); upstream's balloon/util.rs and
 * GuestMemory::discard_range.
 */
#include "devices/virtio/balloon_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "obs/log.h"
#include "util/sort.h"

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

size_t balloon_compact_pfns(uint32_t *pfns, size_t n, struct balloon_range *out)
{
    size_t n_out = 0;
    uint32_t start, len;

    if (n == 0)
        return 0;
    /* At most BALLOON_PFN_BUFFER entries: sorting costs little. */
    sq_sort(pfns, n, sizeof(*pfns), cmp_u32);
    start = pfns[0];
    len = 1;
    for (size_t i = 1; i < n; i++) {
        if (pfns[i] == pfns[i - 1]) {
            log_error_rl("Skipping duplicate PFN %u.", pfns[i]);
            continue;
        }
        /* Duplicates are skipped, so the run [start, start + len) holds
         * len distinct values below pfns[i]: start + len cannot wrap. */
        if (pfns[i] == start + len) {
            len++;
        } else {
            out[n_out++] = (struct balloon_range){start, len};
            start = pfns[i];
            len = 1;
        }
    }
    out[n_out++] = (struct balloon_range){start, len};
    return n_out;
}

/* The region holding gpa, or NULL. */
static const struct guest_region *region_of(const struct guest_mem *gm,
                                            gpa_t gpa)
{
    for (size_t i = 0; i < gm->n_regions; i++) {
        const struct guest_region *r = &gm->regions[i];

        if (gpa >= r->gpa && gpa - r->gpa < r->size)
            return r;
    }
    return NULL;
}

int balloon_discard(const struct guest_mem *gm, gpa_t gpa, uint64_t len)
{
    do {
        const struct guest_region *r = region_of(gm, gpa);
        uint64_t chunk;
        void *hva;

        if (!r)
            return -EFAULT;
        chunk = r->size - (gpa - r->gpa);
        if (chunk > len)
            chunk = len;
        if (guest_mem_translate(gm, gpa, chunk, &hva) < 0)
            return -EFAULT;
        if (chunk > 0 && guest_mem_release(r->file_backed, hva, chunk) < 0)
            return -errno;
        gpa += chunk;
        len -= chunk;
    } while (len > 0);
    return 0;
}
