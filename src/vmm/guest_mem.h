/*
 * guest_mem.h: guest RAM: host mappings, their layout around the 32-bit
 * MMIO hole, and the one function that turns guest addresses into host
 * pointers.
 *
 * Layout for mem_size = M bytes (digest 6.1): region 0 is [0, min(M, 3 GiB));
 * if M is larger, region 1 starts at 4 GiB and ends at most at 256 GiB; the
 * rest starts at 512 GiB (past the 64-bit MMIO hole). Each region is one
 * anonymous private mapping (2 MiB aligned in the host), registered with
 * KVM as one memory slot (slot number = region index).
 *
 * Ownership: a struct guest_mem owns its mappings. Host pointers returned by
 * guest_mem_translate() are borrowed and valid until guest_mem_free(); never
 * keep one past the request that produced it (STYLE.md 5).
 *
 * Thread safety: the layout is immutable after guest_mem_new(), so any
 * thread may translate; the bytes themselves are shared with the guest.
 */
#ifndef SQUIB_VMM_GUEST_MEM_H
#define SQUIB_VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/atomic_bitmap.h"
#include "util/err.h"

typedef uint64_t gpa_t;

struct iovec;

/* Three regions of RAM and one window (virtio-mem's). */
#define GUEST_MEM_MAX_REGIONS  4
#define GUEST_MEM_MAX_RAM      3
#define GUEST_MEM_MMIO32_START 0xc0000000ULL   /* 3 GiB */
#define GUEST_MEM_MMIO32_END   0x100000000ULL  /* 4 GiB */
#define GUEST_MEM_MMIO64_START 0x4000000000ULL /* 256 GiB */
#define GUEST_MEM_MMIO64_END   0x8000000000ULL /* 512 GiB */
/* The page of dirty-page logs (KVM's and squib's): the host's base page. */
#define GUEST_MEM_PAGE_SIZE 4096u

/* machine-config huge_pages. */
enum guest_mem_huge_pages {
    GUEST_MEM_HUGE_NONE = 0, /* "None": 4 KiB host pages */
    GUEST_MEM_HUGE_THP,      /* "Transparent": madvise(MADV_HUGEPAGE) */
    GUEST_MEM_HUGE_2M,       /* "2M": hugetlbfs, MAP_HUGETLB|MAP_HUGE_2MB */
};

struct guest_region {
    gpa_t gpa;     /* first guest address */
    uint64_t size; /* bytes of guest RAM */
    uint8_t *hva;  /* owned mapping of `size` bytes, 2 MiB aligned */
    /* KVM memory slot: RAM's (one per region); a window's first, when it
     * has slots of its own (slot_size below) */
    uint32_t slot;
    /* Not RAM: a device's window (virtio-mem) added by
     * guest_mem_add_borrowed(). Borrowed (never unmapped here), not
     * registered with KVM here (the device maps its own slots), not counted
     * by guest_mem_size(); guest_mem_translate() does reach it. */
    bool borrowed;
    /* A window guest_mem mapped itself (guest_mem_add_window: a snapshot
     * load's virtio-mem window, whose bytes come from the memory file):
     * still not RAM, like a borrowed one, but unmapped by guest_mem_free().
     * The device adopts the mapping (virtio_mem_use_window). */
    bool window_owned;
    /* Windows only, optional (NULL: every byte counts): which parts of the
     * window hold guest data, one bit per `present_unit` bytes (virtio-mem:
     * its plugged-block bitmap, borrowed from the device). The memory file
     * writers skip the other parts (guest_mem_file.h). */
    const uint64_t *present;
    uint64_t present_unit;
    /* Windows only, optional (slot_size 0: none): the KVM slots the
     * window's owner registers itself (virtio-mem: one per slot_size bytes,
     * numbered from `slot`, with guest RAM's flags), slot k registered
     * while slot_on[k] (borrowed from the device, like `present`). The
     * Diff snapshot reads KVM's dirty log of exactly those slots
     * (guest_mem_diff.h). */
    const bool *slot_on;
    uint64_t slot_size;
    /* RAM mapped MAP_PRIVATE from a snapshot's memory file
     * (guest_mem_file_map): releasing a range needs a fresh anonymous
     * mapping, as MADV_DONTNEED would bring the file's bytes back. */
    bool file_backed;
    /* RAM and windows, when the slots log dirty pages: one bit per page
     * the VMM wrote (guest_mem_mark_dirty*); owned; empty otherwise. */
    struct atomic_bitmap dirty;
};

struct guest_mem {
    size_t n_regions;
    struct guest_region regions[GUEST_MEM_MAX_REGIONS];
    enum guest_mem_huge_pages huge_pages;
    bool track_dirty; /* slots registered with KVM_MEM_LOG_DIRTY_PAGES */
};

/*
 * Compute the region layout for `mem_size` bytes without mapping anything:
 * fills gpa/size of up to GUEST_MEM_MAX_RAM entries (and zeroes the rest of
 * out), returns the count (0 if mem_size is 0).
 */
size_t guest_mem_layout(uint64_t mem_size,
                        struct guest_region out[GUEST_MEM_MAX_REGIONS]);

/*
 * Map `mem_size_mib` MiB of guest RAM. On failure returns -errno with `err`
 * set to upstream's detail text, without the "Invalid Memory
 * Configuration: " prefix, e.g. "Cannot create mmap region: Out of memory
 * (os error 12)"; nothing stays mapped. 2M huge pages are mapped without
 * MAP_NORESERVE, so an empty hugetlbfs pool fails here and not later with
 * SIGBUS in a vCPU. *out is a new heap object owned by the caller.
 */
int guest_mem_new(uint64_t mem_size_mib, enum guest_mem_huge_pages huge_pages,
                  struct guest_mem **out, struct sq_err *err);

/*
 * Let guest_mem_translate() reach [gpa, gpa + size) at hva (borrowed: the
 * caller keeps it mapped until guest_mem_free()), e.g. the hot-pluggable
 * window virtqueue buffers may live in. Before any other thread translates
 * (the layout is then fixed again). When gm tracks dirty pages the window
 * gets its VMM dirty bitmap too. 0, -ENOSPC when every region is in use,
 * -EINVAL for an empty or wrapping range or one overlapping a region,
 * -ENOMEM when there is no room for the bitmap (nothing added).
 */
int guest_mem_add_borrowed(struct guest_mem *gm, gpa_t gpa, uint64_t size,
                           void *hva);

/*
 * Map a window of `size` bytes for [gpa, gpa + size) that guest_mem owns
 * (window_owned): anonymous, 2 MiB aligned, with gm's huge pages, for a
 * snapshot load to fill from the memory file before the device that uses it
 * is built (the device then adopts it). Same rules and returns as
 * guest_mem_add_borrowed(), and -errno of a failed mmap.
 */
int guest_mem_add_window(struct guest_mem *gm, gpa_t gpa, uint64_t size);

/* Where a snapshot's virtio-mem window goes (size 0: there is none). */
struct guest_mem_window {
    gpa_t gpa;
    uint64_t size;
};

/* The window region that starts at gpa and is `size` bytes long, or NULL. */
struct guest_region *guest_mem_find_window(struct guest_mem *gm, gpa_t gpa,
                                           uint64_t size);

/*
 * Give guest memory back to the host so that the guest reads zeros there:
 * MADV_DONTNEED, or, when the mapping is a private mapping of a memory file
 * (file_backed), fresh anonymous memory mapped over the range (MADV_DONTNEED
 * would bring the file's bytes back), as upstream's discard_range. 0 or -1
 * with errno set.
 */
int guest_mem_release(bool file_backed, void *hva, uint64_t len);

/* Unmap everything and free gm; NULL-safe. KVM slots must be gone first
 * (closing the VM fd removes them). */
void guest_mem_free(struct guest_mem *gm);

/*
 * Register every RAM region with KVM on `vm_fd` (slot = region index), with
 * KVM_MEM_LOG_DIRTY_PAGES when track_dirty, which also gives each region
 * (a window added already too) its VMM dirty bitmap. Windows are not
 * registered: their owners map their own slots. Returns 0 or -errno
 * (-ENOMEM: no room for the bitmaps).
 */
int guest_mem_register(struct guest_mem *gm, int vm_fd, bool track_dirty);

/*
 * The only GPA -> HVA translation. Succeeds (0, *hva set) only if the whole
 * range [gpa, gpa + len) lies inside one region; overflow is checked.
 * len 0 asks for a pointer at gpa, which must then be inside a region.
 * Returns -EFAULT otherwise (and leaves *hva untouched).
 */
int guest_mem_translate(const struct guest_mem *gm, gpa_t gpa, uint64_t len,
                        void **hva);

/* Total guest RAM in bytes (borrowed regions are not RAM). */
uint64_t guest_mem_size(const struct guest_mem *gm);

/* The memory file's size: every region, RAM and windows, in region order
 * (guest_mem_file.h). */
uint64_t guest_mem_file_size(const struct guest_mem *gm);

/* ---- the VMM's own dirty-page log (guest_mem_dirty.c, guest_mem_diff.c) --
 *
 * KVM's dirty log sees only the guest's writes. Every write squib itself
 * makes into guest memory (a block read, an RX frame, a used ring entry, a
 * status byte), in RAM or in a window (virtio-mem's plugged blocks), is
 * recorded here too, so that a Diff snapshot holds it (docs/snapshot.md).
 * All of these are no-ops unless the slots log dirty pages (track_dirty),
 * cost one atomic OR per 64 pages when they are, and may be called from
 * any thread. Parts of a range outside every region (a hole) are ignored.
 */

/*
 * Give every region (RAM and windows) its (clear) VMM dirty bitmap and turn
 * marking on; guest_mem_register() does this when track_dirty, and
 * guest_mem_add_borrowed() for a window added later. Returns 0 or -ENOMEM.
 */
int guest_mem_dirty_init(struct guest_mem *gm);

/* The VMM wrote [gpa, gpa + len). */
void guest_mem_mark_dirty(const struct guest_mem *gm, gpa_t gpa, uint64_t len);

/* The VMM wrote [hva, hva + len), a host pointer into guest memory. */
void guest_mem_mark_dirty_hva(const struct guest_mem *gm, const void *hva,
                              uint64_t len);

/* The VMM wrote the first `bytes` bytes of the n iovecs (guest memory). */
void guest_mem_mark_dirty_iov(const struct guest_mem *gm,
                              const struct iovec *iov, size_t n,
                              uint64_t bytes);

/*
 * Mark every page of RAM the host has in memory (mincore) as written by
 * the VMM: called once after the kernel, tables and boot data were loaded,
 * before any vCPU runs, so that a first Diff snapshot holds them (nothing
 * of a window is plugged then).
 */
void guest_mem_mark_resident(const struct guest_mem *gm);

#endif
