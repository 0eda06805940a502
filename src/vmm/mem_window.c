/*
 * mem_window.c: the past-64-bit-MMIO window allocator and KVM slot
 * numbers (mem_window.h).
 */
#include "vmm/mem_window.h"

#include <errno.h>

void mem_window_init(struct mem_window_alloc *a, uint64_t mem_size)
{
    struct guest_region r[GUEST_MEM_MAX_REGIONS];
    size_t n = guest_mem_layout(mem_size, r);

    a->next = MEM_WINDOW_BASE;
    a->end = MEM_WINDOW_BASE + MEM_WINDOW_SIZE;
    a->next_slot = MEM_WINDOW_FIRST_SLOT;
    /* RAM beyond 256 GiB continues at 512 GiB: the windows go after it. */
    for (size_t i = 0; i < n; i++) {
        if (r[i].gpa >= MEM_WINDOW_BASE && r[i].gpa + r[i].size > a->next)
            a->next = r[i].gpa + r[i].size;
    }
}

int mem_window_take(struct mem_window_alloc *a, uint64_t size, uint64_t align,
                    gpa_t *gpa)
{
    uint64_t start, end;

    if (size == 0 || align == 0 || (align & (align - 1)) != 0 ||
        __builtin_add_overflow(a->next, align - 1, &start))
        return -ENOSPC;
    start &= ~(align - 1);
    if (__builtin_add_overflow(start, size, &end) || end > a->end)
        return -ENOSPC;
    a->next = end;
    *gpa = start;
    return 0;
}

uint32_t mem_window_slots(struct mem_window_alloc *a, uint32_t n)
{
    uint32_t first = a->next_slot;

    a->next_slot += n;
    return first;
}
