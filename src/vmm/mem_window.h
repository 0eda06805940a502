/*
 * mem_window.h: guest-physical windows past the 64-bit MMIO hole, for the
 * devices whose memory is not guest RAM (virtio-mem's hot-pluggable region,
 * virtio-pmem's file windows), and the KVM memory slot numbers they use.
 *
 * Upstream allocates these windows first-fit from its past_mmio64_memory
 * allocator (512 GiB, 512 GiB long): virtio-mem's region first (128 MiB
 * aligned, right after the VM exists), then each pmem window (2 MiB
 * aligned) in attach order. squib does the same, starting after any guest
 * RAM placed there (guest_mem.h's third region), so the windows never
 * overlap RAM. Nothing is freed: a machine's windows live as long as it.
 *
 * KVM slot numbers: guest RAM uses 0 .. GUEST_MEM_MAX_REGIONS - 1 (slot =
 * region index); the windows take numbers from MEM_WINDOW_FIRST_SLOT up,
 * in the order they are asked for.
 *
 * Pure bookkeeping (no KVM, no machine), like mmio_alloc (machine.h), so
 * InstanceStart can place every device before the machine is built.
 */
#ifndef SQUIB_VMM_MEM_WINDOW_H
#define SQUIB_VMM_MEM_WINDOW_H

#include <stdint.h>

#include "vmm/guest_mem.h"

#define MEM_WINDOW_BASE       GUEST_MEM_MMIO64_END /* 512 GiB */
#define MEM_WINDOW_SIZE       (512ULL << 30)
#define MEM_WINDOW_FIRST_SLOT ((uint32_t)GUEST_MEM_MAX_REGIONS)

struct mem_window_alloc {
    uint64_t next;      /* first free guest address */
    uint64_t end;       /* MEM_WINDOW_BASE + MEM_WINDOW_SIZE */
    uint32_t next_slot; /* next free KVM slot number */
};

/* Start an allocator for a machine with `mem_size` bytes of guest RAM. */
void mem_window_init(struct mem_window_alloc *a, uint64_t mem_size);

/*
 * Take `size` bytes (> 0) aligned to `align` (a power of two) first-fit:
 * 0 and *gpa, or -ENOSPC when the window is used up (nothing taken).
 */
int mem_window_take(struct mem_window_alloc *a, uint64_t size, uint64_t align,
                    gpa_t *gpa);

/* Reserve `n` consecutive KVM slot numbers; returns the first. */
uint32_t mem_window_slots(struct mem_window_alloc *a, uint32_t n);

#endif
