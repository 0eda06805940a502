/*
 * mem.h: the virtio memory device (virtio-mem, device id 24, internal id
 * "mem") behind virtio-mmio; upstream's VirtioMem
 * (src/vmm/src/devices/virtio/mem/device.rs) in C.
 *
 * The device owns a window of hot-pluggable guest memory: `total_size`
 * bytes of host memory (private, anonymous, MAP_NORESERVE, 2 MiB aligned)
 * that the machine layer places at a guest-physical address outside guest
 * RAM. The window is cut into blocks (`block_size`, the unit the guest
 * plugs) and KVM slots (`slot_size`, the unit the machine layer maps): a
 * slot is registered with KVM while at least one of its blocks is plugged
 * and removed when none is, through the slot hook the machine layer gives.
 * Unplugged blocks are given back to the host with madvise(MADV_DONTNEED).
 *
 * Features: VERSION_1 and UNPLUGGED_INACCESSIBLE (which the driver must
 * ack, else activation fails: activate_fails, NEEDS_RESET). Config space
 * (struct virtio_mem_config, 56 bytes, little-endian): block_size, node_id
 * (0), addr, region_size (= total_size), usable_region_size, plugged_size,
 * requested_size. Guest writes are refused and warned.
 *
 * One guest request queue of VIRTIO_MEM_QUEUE_SIZE entries. A request is a
 * device-readable head of at least 24 bytes (struct virtio_mem_req) and a
 * device-writable second descriptor of at least 10 bytes (struct
 * virtio_mem_resp), as upstream parses them. Responses, as upstream:
 *   PLUG(addr, n)   ACK if the range is valid (block aligned, n > 0,
 *                   inside usable_region_size), wholly unplugged and
 *                   plugged_size + n blocks <= requested_size; else ERROR.
 *   UNPLUG(addr, n) ACK if valid and wholly plugged; else ERROR.
 *   UNPLUG_ALL      ACK: every block unplugged, usable_region_size = 0.
 *   STATE(addr, n)  ACK with PLUGGED / UNPLUGGED / MIXED if valid; else
 *                   ERROR.
 * The response (10 bytes) is written at the second descriptor and the
 * chain returned with 10 bytes used. A malformed chain (direction, short
 * buffers, outside guest RAM, unknown type) is returned with 0 bytes and
 * counts queue_event_fails (upstream stops the queue there; see
 * docs/compat.md). A corrupt avail ring sets DEVICE_NEEDS_RESET.
 *
 * PATCH /hotplug/memory is virtio_mem_update_requested_size(): sets
 * requested_size, grows usable_region_size to requested_size rounded up to
 * slot_size when it is smaller (it never shrinks but through UNPLUG_ALL)
 * and raises a config interrupt. GET /hotplug/memory is
 * virtio_mem_status(). Reset keeps every block's state (virtio 1.x
 * 5.15.5.2). Metrics: the memory_hotplug group with upstream's keys.
 *
 * Lifecycle: virtio_mem_new -> [machine layer places
 * virtio_mem_host_region() and calls virtio_mem_set_guest_addr()] ->
 * virtio_mmio_machine_dev(virtio_mem_transport) -> machine_create ->
 * virtio_mem_attach -> virtio_mem_detach -> machine_destroy ->
 * virtio_mem_free. All calls on the vmm thread.
 */
#ifndef SQUIB_DEVICES_VIRTIO_MEM_H
#define SQUIB_DEVICES_VIRTIO_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "util/err.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"

#define SQ_VIRTIO_ID_MEM     24
#define VIRTIO_MEM_DEVICE_ID "mem"

#define VIRTIO_MEM_QUEUE_SIZE 256
#define VIRTIO_MEM_CONFIG_LEN 56u
#define VIRTIO_MEM_REQ_LEN    24u /* struct virtio_mem_req */
#define VIRTIO_MEM_RESP_LEN   10u /* struct virtio_mem_resp */
/* Upstream places the window at a multiple of the default slot size. */
#define VIRTIO_MEM_ADDR_ALIGN (128ULL * 1024 * 1024)

#define SQ_VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE 1

/*
 * The machine layer's slot hook: register (plug) or remove (!plug) KVM
 * memory slot number `index` (0-based within the device; the machine maps
 * it to a KVM slot of its own) covering [gpa, gpa + size) backed by
 * [hva, hva + size). Called on the vmm thread with the transport lock
 * held, only when the slot's state changes. 0, or -errno: the request is
 * answered ERROR and the blocks keep their previous state.
 */
typedef int virtio_mem_slot_fn(void *opaque, uint32_t index, gpa_t gpa,
                               void *hva, uint64_t size, bool plug);

struct virtio_mem_params {
    uint32_t total_size_mib; /* validated: hotplug_memory_cfg_validate() */
    uint32_t block_size_mib;
    uint32_t slot_size_mib;
    virtio_mem_slot_fn *update_slot; /* NULL = no KVM (tests) */
    void *slot_opaque;
    /* Optional: called on the vmm thread (transport lock held) after a
     * batch of guest requests changed what virtio_mem_status() shows
     * (plugged_size); it must only take note. */
    void (*changed)(void *opaque);
    void *changed_opaque;
};

/* What the machine layer places in the guest (virtio_mem_host_region()). */
struct virtio_mem_region {
    void *hva;      /* borrowed; valid until virtio_mem_free() */
    uint64_t size;  /* total_size in bytes */
    uint64_t align; /* VIRTIO_MEM_ADDR_ALIGN: the guest address must be too */
    uint64_t slot_size;
    uint32_t n_slots;
};

/* GET /hotplug/memory (upstream's VirtioMemStatus), all in MiB. */
struct virtio_mem_status {
    uint32_t block_size_mib;
    uint32_t total_size_mib;
    uint32_t slot_size_mib;
    uint32_t plugged_size_mib;
    uint32_t requested_size_mib;
};

struct virtio_mem;

/*
 * Build the device and map its window (nothing plugged, requested 0).
 * Returns 0 and *out (owned by the caller), or -errno with err set:
 * -EINVAL for sizes that break the rules of hotplug_memory_cfg_validate()
 * (block >= 2 MiB and a power of two, slot >= block and a multiple of it,
 * total a non-zero multiple of slot), or a failed mmap / eventfd.
 */
int virtio_mem_new(const struct virtio_mem_params *p, struct virtio_mem **out,
                   struct sq_err *err);
/* Detach if needed, unmap and free; NULL-safe. The KVM slots over the
 * window must be gone first (machine_destroy()). */
void virtio_mem_free(struct virtio_mem *vm);
/* The device's transport (borrowed; lives as long as the device). */
struct virtio_mmio *virtio_mem_transport(struct virtio_mem *vm);

/* The host window to place, see struct virtio_mem_region. */
void virtio_mem_host_region(const struct virtio_mem *vm,
                            struct virtio_mem_region *out);
/* Where the machine placed it (config `addr`): 0, or -EINVAL if not a
 * multiple of VIRTIO_MEM_ADDR_ALIGN or wrapping past 2^64. Before the
 * guest's driver probes. */
int virtio_mem_set_guest_addr(struct virtio_mem *vm, gpa_t gpa);

/* As rng_attach(): ioeventfd and queue eventfd. 0, or -errno with nothing
 * left registered. */
int virtio_mem_attach(struct virtio_mem *vm, const struct guest_mem *gm,
                      int vm_fd, uint64_t addr, struct evloop *loop);
/* Leave the loop and deassign the ioeventfd; idempotent. */
void virtio_mem_detach(struct virtio_mem *vm);

/*
 * PATCH /hotplug/memory: 0, or -errno with err set to upstream's
 * VirtioMemError text (the caller adds its prefix): "Device is not active"
 * (-ENODEV) before the driver set DRIVER_OK, "Size {bytes} is invalid: it
 * must be a multiple of block size and less than the total size"
 * (-EINVAL). Takes the transport lock.
 */
int virtio_mem_update_requested_size(struct virtio_mem *vm,
                                     uint32_t requested_size_mib,
                                     struct sq_err *err);
/* GET /hotplug/memory. Takes the transport lock. */
void virtio_mem_status(struct virtio_mem *vm, struct virtio_mem_status *out);
/* Whether block `i` is plugged (tests, snapshots). */
bool virtio_mem_block_plugged(const struct virtio_mem *vm, uint64_t i);

/* ---- Snapshots (upstream's VirtioMemState beside the transport's) ---- */

/* What a snapshot keeps of the device besides its configuration (sizes in
 * bytes; plugged_size is the bitmap's count times block_size). */
struct virtio_mem_state {
    gpa_t addr;
    uint64_t region_size, block_size, slot_size;
    uint64_t usable_region_size, requested_size;
    uint64_t n_blocks; /* region_size / block_size */
    uint64_t *plugged; /* owned: (n_blocks + 63) / 64 words, bit = block */
};

/* The device's state (takes the transport lock); free with
 * virtio_mem_state_fini(). */
void virtio_mem_save_state(struct virtio_mem *vm, struct virtio_mem_state *out);
/* Free what s owns; NULL-safe in s->plugged. */
void virtio_mem_state_fini(struct virtio_mem_state *s);

/*
 * Put a saved state into a device built from the same configuration and
 * placed (virtio_mem_set_guest_addr) and, with KVM, mapped: the region's
 * address and sizes must be the built ones, the requested and usable sizes
 * inside the region and block multiples, else -EINVAL and
 * "virtio-mem state: ..."; then the bitmap, sizes, and the KVM slot of
 * every slot holding a plugged block registered again through the slot
 * hook (a hook failure: its -errno, "virtio-mem state: Cannot set the
 * memory regions: {os error}"). Takes the transport lock.
 */
int virtio_mem_restore_state(struct virtio_mem *vm,
                             const struct virtio_mem_state *s,
                             struct sq_err *err);

/*
 * Use `hva` (total_size bytes, 2 MiB aligned, borrowed: the caller unmaps
 * it after virtio_mem_free) as the window instead of the device's own
 * mapping, which is unmapped: a snapshot load's window, filled from the
 * memory file (guest_mem_add_window). file_backed: a private mapping of a
 * file, whose unplugged blocks are released with fresh anonymous memory
 * (guest_mem_release). Before anything is plugged; 0 or -EINVAL.
 */
int virtio_mem_use_window(struct virtio_mem *vm, void *hva, bool file_backed);

/* The plugged-block bitmap (borrowed, lives as long as the device; one bit
 * per *block_size bytes of the window), for the memory file writers. */
const uint64_t *virtio_mem_plugged_bits(const struct virtio_mem *vm,
                                        uint64_t *block_size);

/* Which slots are registered through the slot hook (borrowed, lives as
 * long as the device; n_slots entries, slot k covering *slot_size bytes
 * from k * *slot_size), for the dirty logs of a Diff snapshot. */
const bool *virtio_mem_slots_on(const struct virtio_mem *vm,
                                uint64_t *slot_size);

#endif
