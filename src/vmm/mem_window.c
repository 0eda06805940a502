/*
 * mem_window.c: the past-64-bit-MMIO window allocator and KVM slot
 * numbers (mem_window.h).
 */
#include "vmm/mem_window.h"

#include <errno.h>
#include <string.h>

void mem_window_init(struct mem_window_alloc *a, uint64_t mem_size)
{
    struct guest_region r[GUEST_MEM_MAX_REGIONS];
    size_t n = guest_mem_layout(mem_size, r);

    memset(a, 0, sizeof(*a));
    a->lo = MEM_WINDOW_BASE;
    a->end = MEM_WINDOW_BASE + MEM_WINDOW_SIZE;
    /* RAM beyond 256 GiB continues at 512 GiB: the windows go after it. */
    for (size_t i = 0; i < n; i++) {
        if (r[i].gpa >= MEM_WINDOW_BASE && r[i].gpa + r[i].size > a->lo)
            a->lo = r[i].gpa + r[i].size;
    }
}

/* Put [gpa, gpa + size) at index i of the sorted array (room checked). */
static void insert(struct mem_window_alloc *a, size_t i, gpa_t gpa,
                   uint64_t size)
{
    memmove(&a->taken[i + 1], &a->taken[i],
            (a->n_taken - i) * sizeof(a->taken[0]));
    a->taken[i] = (struct mem_window_range){gpa, size};
    a->n_taken++;
}

/* An aligned [start, start + size) inside [from, to)? *at then. */
static bool fits(gpa_t from, gpa_t to, uint64_t size, uint64_t align, gpa_t *at)
{
    uint64_t start, end;

    if (__builtin_add_overflow(from, align - 1, &start))
        return false;
    start &= ~(align - 1);
    if (__builtin_add_overflow(start, size, &end) || end > to)
        return false;
    *at = start;
    return true;
}

int mem_window_take(struct mem_window_alloc *a, uint64_t size, uint64_t align,
                    gpa_t *gpa)
{
    gpa_t from = a->lo, at;

    if (size == 0 || align == 0 || (align & (align - 1)) != 0 ||
        a->n_taken == MEM_WINDOW_MAX_RANGES)
        return -ENOSPC;
    /* The holes in address order: before each taken range, then the
     * last one up to the end. */
    for (size_t i = 0; i <= a->n_taken; i++) {
        gpa_t to = i < a->n_taken ? a->taken[i].gpa : a->end;

        if (fits(from, to, size, align, &at)) {
            insert(a, i, at, size);
            *gpa = at;
            return 0;
        }
        if (i < a->n_taken)
            from = a->taken[i].gpa + a->taken[i].size;
    }
    return -ENOSPC;
}

int mem_window_take_at(struct mem_window_alloc *a, gpa_t gpa, uint64_t size)
{
    uint64_t end;
    size_t i = 0;

    if (size == 0 || gpa < MEM_WINDOW_BASE ||
        __builtin_add_overflow(gpa, size, &end) || end > a->end)
        return -EINVAL;
    if (gpa < a->lo)
        return -EBUSY; /* guest RAM */
    while (i < a->n_taken && a->taken[i].gpa + a->taken[i].size <= gpa)
        i++;
    /* taken[i] is the first range ending after gpa: it must start at or
     * after the new one's end. */
    if (i < a->n_taken && a->taken[i].gpa < end)
        return -EBUSY;
    if (a->n_taken == MEM_WINDOW_MAX_RANGES)
        return -ENOSPC;
    insert(a, i, gpa, size);
    return 0;
}

int mem_window_put(struct mem_window_alloc *a, gpa_t gpa, uint64_t size)
{
    for (size_t i = 0; i < a->n_taken; i++) {
        if (a->taken[i].gpa == gpa && a->taken[i].size == size) {
            memmove(&a->taken[i], &a->taken[i + 1],
                    (a->n_taken - i - 1) * sizeof(a->taken[0]));
            a->n_taken--;
            return 0;
        }
    }
    return -ENOENT;
}

/* Bit `i` of the slot bitmap (i < MEM_WINDOW_N_SLOTS). */
static bool bit(const struct mem_window_alloc *a, uint32_t i)
{
    return (a->slots[i / 64] >> (i % 64)) & 1;
}

static void set_bits(struct mem_window_alloc *a, uint32_t i, uint32_t n,
                     bool on)
{
    for (uint32_t k = i; k < i + n; k++) {
        uint64_t m = 1ULL << (k % 64);

        a->slots[k / 64] = on ? a->slots[k / 64] | m : a->slots[k / 64] & ~m;
    }
}

int mem_window_slots(struct mem_window_alloc *a, uint32_t n, uint32_t *first)
{
    uint32_t run = 0;

    if (n == 0 || n > MEM_WINDOW_N_SLOTS)
        return -ENOSPC;
    for (uint32_t i = 0; i < MEM_WINDOW_N_SLOTS; i++) {
        run = bit(a, i) ? 0 : run + 1;
        if (run == n) {
            set_bits(a, i + 1 - n, n, true);
            *first = MEM_WINDOW_FIRST_SLOT + i + 1 - n;
            return 0;
        }
    }
    return -ENOSPC;
}

void mem_window_put_slots(struct mem_window_alloc *a, uint32_t first,
                          uint32_t n)
{
    uint64_t lo = first, hi = (uint64_t)first + n;

    if (lo < MEM_WINDOW_FIRST_SLOT)
        lo = MEM_WINDOW_FIRST_SLOT;
    if (hi > (uint64_t)MEM_WINDOW_FIRST_SLOT + MEM_WINDOW_N_SLOTS)
        hi = (uint64_t)MEM_WINDOW_FIRST_SLOT + MEM_WINDOW_N_SLOTS;
    if (lo < hi)
        set_bits(a, (uint32_t)(lo - MEM_WINDOW_FIRST_SLOT), (uint32_t)(hi - lo),
                 false);
}

bool mem_window_slot_taken(const struct mem_window_alloc *a, uint32_t slot)
{
    if (slot < MEM_WINDOW_FIRST_SLOT ||
        slot - MEM_WINDOW_FIRST_SLOT >= MEM_WINDOW_N_SLOTS)
        return false;
    return bit(a, slot - MEM_WINDOW_FIRST_SLOT);
}
