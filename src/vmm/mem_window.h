/*
 * mem_window.h: guest-physical windows past the 64-bit MMIO hole, for the
 * devices whose memory is not guest RAM (virtio-mem's hot-pluggable region,
 * virtio-pmem's file windows), and the KVM memory slot numbers they use.
 *
 * Upstream allocates these windows first-fit from its past_mmio64_memory
 * allocator (512 GiB, 512 GiB long): virtio-mem's region first (128 MiB
 * aligned, right after the VM exists), then each pmem window (2 MiB
 * aligned) in attach order, and a pmem window goes back to the allocator
 * when its device is dropped (hot-unplug), so the next window is the
 * lowest hole it fits in. squib does the same, starting after any guest
 * RAM placed there (guest_mem.h's third region), so the windows never
 * overlap RAM.
 *
 * The allocator keeps the taken ranges, sorted and disjoint, in a small
 * array (MEM_WINDOW_MAX_RANGES of them at once: a machine has at most one
 * virtio-mem region and a few dozen pmem devices). It is not saved in a
 * snapshot: a restore takes each saved window again at its exact address
 * (mem_window_take_at), which refuses a window that overlaps RAM or
 * another one.
 *
 * KVM slot numbers: guest RAM uses 0 .. GUEST_MEM_MAX_REGIONS - 1 (slot =
 * region index); the windows take numbers from MEM_WINDOW_FIRST_SLOT up,
 * the lowest free run first, and give them back when their device goes
 * (upstream never reuses a number; the guest cannot tell). Numbers past
 * MEM_WINDOW_N_SLOTS are never handed out: virtio-mem's region has at
 * most 512 GiB / 128 MiB = 4096 slots, the pmem devices one each.
 *
 * Pure bookkeeping (no KVM, no machine, no allocation), like mmio_alloc
 * (machine.h), so InstanceStart can place every device before the machine
 * is built. vmm thread only.
 */
#ifndef SQUIB_VMM_MEM_WINDOW_H
#define SQUIB_VMM_MEM_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

#define MEM_WINDOW_BASE       GUEST_MEM_MMIO64_END /* 512 GiB */
#define MEM_WINDOW_SIZE       (512ULL << 30)
#define MEM_WINDOW_FIRST_SLOT ((uint32_t)GUEST_MEM_MAX_REGIONS)
#define MEM_WINDOW_MAX_RANGES 64
#define MEM_WINDOW_N_SLOTS    8192

/* One taken window: [gpa, gpa + size). */
struct mem_window_range {
    gpa_t gpa;
    uint64_t size;
};

struct mem_window_alloc {
    gpa_t lo;  /* first address past the guest RAM placed in the window */
    gpa_t end; /* MEM_WINDOW_BASE + MEM_WINDOW_SIZE */
    struct mem_window_range taken[MEM_WINDOW_MAX_RANGES]; /* by gpa */
    size_t n_taken;
    /* Bit i: slot number MEM_WINDOW_FIRST_SLOT + i is taken. */
    uint64_t slots[MEM_WINDOW_N_SLOTS / 64];
};

/* Start an allocator for a machine with `mem_size` bytes of guest RAM:
 * nothing taken, every slot number free. */
void mem_window_init(struct mem_window_alloc *a, uint64_t mem_size);

/*
 * Take `size` bytes (> 0) aligned to `align` (a power of two) first-fit:
 * the lowest aligned start in a hole (between RAM, the taken windows and
 * the end) that holds them. 0 and *gpa, or -ENOSPC when no hole does, the
 * arguments are not as above, or MEM_WINDOW_MAX_RANGES are taken (nothing
 * taken).
 */
int mem_window_take(struct mem_window_alloc *a, uint64_t size, uint64_t align,
                    gpa_t *gpa);

/*
 * Take exactly [gpa, gpa + size) (a saved window, at restore). 0; -EINVAL
 * when size is 0 or the range is not inside the window (below
 * MEM_WINDOW_BASE, past its end, wrapping); -EBUSY when it overlaps the
 * guest RAM placed in the window or a taken window; -ENOSPC when
 * MEM_WINDOW_MAX_RANGES are taken. Nothing changes on failure.
 */
int mem_window_take_at(struct mem_window_alloc *a, gpa_t gpa, uint64_t size);

/*
 * Give back the window [gpa, gpa + size) exactly as it was taken, so a
 * later take may use the hole. 0, or -ENOENT when no such window is taken
 * (nothing changes).
 */
int mem_window_put(struct mem_window_alloc *a, gpa_t gpa, uint64_t size);

/*
 * Take `n` (> 0) consecutive KVM slot numbers, the lowest free run: 0 and
 * the first in *first, or -ENOSPC when no run of n is free below
 * MEM_WINDOW_FIRST_SLOT + MEM_WINDOW_N_SLOTS, or n is 0 (nothing taken).
 */
int mem_window_slots(struct mem_window_alloc *a, uint32_t n, uint32_t *first);

/* Give back slot numbers first .. first + n - 1 (taken by
 * mem_window_slots; numbers outside the allocator's range are ignored). */
void mem_window_put_slots(struct mem_window_alloc *a, uint32_t first,
                          uint32_t n);

/* Whether slot number `slot` is taken (false outside the range). */
bool mem_window_slot_taken(const struct mem_window_alloc *a, uint32_t slot);

#endif
