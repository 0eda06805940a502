/*
 * pmem.h: the virtio persistent-memory device (virtio-pmem, device id 27)
 * behind virtio-mmio; upstream's Pmem
 * (src/vmm/src/devices/virtio/pmem/device.rs) in C.
 *
 * The backing file is mapped MAP_SHARED | MAP_NORESERVE into the host and
 * that mapping is given to the guest as a window of guest-physical memory
 * outside guest RAM (its own KVM memory slot), which the guest's
 * virtio-pmem driver exposes as /dev/pmemN (DAX). The window's size is the
 * file's length rounded up to PMEM_ALIGNMENT (2 MiB, what the virtio-pmem
 * spec and upstream ask for); when the file is shorter, the tail of the
 * window is private anonymous memory, as upstream's double mapping does.
 * Read-only devices open the file O_RDONLY and map it PROT_READ only; the
 * machine layer adds the slot with KVM_MEM_READONLY.
 *
 * Features: VERSION_1 only. Config space (16 bytes, little-endian, as
 * upstream's ConfigSpace): u64 start (the window's guest-physical
 * address) at 0, u64 size (the window's length) at 8. Reads past it return
 * zeros (the transport); guest writes are refused, logged and counted
 * (cfg_fails).
 *
 * One request queue of PMEM_QUEUE_SIZE entries. A request is a chain whose
 * first descriptor is device-readable, exactly 4 bytes, holding the type
 * (only FLUSH = 0 exists), and whose second is device-writable, exactly 4
 * bytes, receiving an i32 status: 0 after msync(MS_SYNC) of the file's
 * bytes succeeded, -1 if it failed. Further descriptors are ignored, as
 * upstream does, and so is a structural fault after the second one. One
 * notification's worth of requests shares a single msync (upstream's
 * cached result): the first valid request syncs, the rest get its status.
 * A good request is returned with 4 bytes used; a malformed one (order,
 * direction, lengths, unknown type, a buffer outside guest RAM) with 0
 * bytes, logged (rate-limited) and counted (event_fails). A corrupt avail
 * ring sets DEVICE_NEEDS_RESET.
 *
 * Rate limiting as upstream: before looking at a non-empty queue the
 * device pays one op and the file's length in bytes (the cost of the
 * coalesced msync), for the whole batch; if the limiter refuses, nothing
 * is popped (rate_limiter_throttled_events) and the queue is retried when
 * the limiter's timer fires (rate_limiter_event_count).
 *
 * Metrics: the pmem_{id} group (and so the "pmem" aggregate) with
 * upstream's keys.
 *
 * Lifecycle: pmem_new -> [machine layer maps pmem_host_region() at a
 * guest address it chose and calls pmem_set_guest_addr()] ->
 * virtio_mmio_machine_dev(pmem_transport) -> machine_create ->
 * pmem_attach -> pmem_detach -> machine_destroy (removes the slot) ->
 * pmem_free (unmaps). All calls on the vmm thread.
 */
#ifndef SQUIB_DEVICES_VIRTIO_PMEM_H
#define SQUIB_DEVICES_VIRTIO_PMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/rate_limiter.h"
#include "devices/rate_limiter_snap.h"
#include "devices/virtio/mmio.h"
#include "util/err.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"

#define SQ_VIRTIO_ID_PMEM 27

#define PMEM_QUEUE_SIZE 256
/* Guest address and size of the window are multiples of this (upstream's
 * Pmem::ALIGNMENT). */
#define PMEM_ALIGNMENT  (2ULL * 1024 * 1024)
#define PMEM_CONFIG_LEN 16u

#define PMEM_REQ_TYPE_FLUSH 0u
#define PMEM_STATUS_OK      0
#define PMEM_STATUS_FAILURE (-1)

struct pmem_params {
    const char *id;   /* borrowed; metrics key (pmem_{id}) */
    const char *path; /* borrowed; the backing file, opened by pmem_new() */
    bool read_only;
    const struct rate_limiter_params *rl; /* NULL = unlimited */
};

/* What the machine layer maps into the guest (pmem_host_region()). */
struct pmem_region {
    void *hva;         /* borrowed; valid until pmem_free() */
    uint64_t size;     /* window length, a multiple of PMEM_ALIGNMENT */
    uint64_t align;    /* PMEM_ALIGNMENT: the guest address must be too */
    uint64_t file_len; /* bytes of the file at the start of the window */
    bool read_only;    /* register the slot with KVM_MEM_READONLY */
};

struct pmem;

/*
 * Open and map the backing file, build the device (not yet on a machine).
 * Returns 0 and *out (owned by the caller), or -errno with err set to
 * upstream's PmemError text, which the caller prefixes with "Cannot
 * create pmem device: ": "Error accessing backing file: {os error}" (open,
 * fstat or mmap failed), "Error backing file size is 0" (-EINVAL), or a
 * limiter/eventfd failure. Nothing is left open on failure.
 */
int pmem_new(const struct pmem_params *p, struct pmem **out,
             struct sq_err *err);
/* Detach if needed, unmap and free; NULL-safe. The KVM slot over the
 * mapping must be gone first (machine_destroy() or the machine layer
 * removing it). */
void pmem_free(struct pmem *pm);
/* The device's transport (borrowed; lives as long as the device). */
struct virtio_mmio *pmem_transport(struct pmem *pm);

/* The host mapping to give the guest, see struct pmem_region. */
void pmem_host_region(const struct pmem *pm, struct pmem_region *out);
/*
 * Tell the device where the machine layer mapped the window (what the
 * config space reports as `start`). Before the guest's driver probes.
 * Returns 0, or -EINVAL if gpa is not a multiple of PMEM_ALIGNMENT or the
 * window would wrap past 2^64 (nothing changes).
 */
int pmem_set_guest_addr(struct pmem *pm, gpa_t gpa);
/* The window's guest address (0 until pmem_set_guest_addr()). */
gpa_t pmem_guest_addr(const struct pmem *pm);

/* As rng_attach(): ioeventfd, queue eventfd and the limiter's timer on
 * `loop` when not NULL. 0, or -errno with nothing left registered. */
int pmem_attach(struct pmem *pm, const struct guest_mem *gm, int vm_fd,
                uint64_t addr, struct evloop *loop);
/* Leave the loop and deassign the ioeventfd; idempotent. pmem_free()
 * calls it too. */
void pmem_detach(struct pmem *pm);

/* The limiter's timer fired (what the loop runs; tests call it). Takes
 * the transport lock. */
void pmem_rate_limiter_event(struct pmem *pm);
/* PATCH /pmem/{id}: the limiter as in rate_limiter_patch() (NULL =
 * absent: unchanged). Takes the transport lock. */
void pmem_update_rate_limiter(struct pmem *pm,
                              const struct rate_limiter_params *rl);
/* The device's limiter (borrowed), for GET /vm/config and tests. */
struct rate_limiter *pmem_rate_limiter(struct pmem *pm);

/* What a snapshot keeps of the device besides its configuration and its
 * transport: upstream's PmemState config_space (the window's guest address
 * and size) and rate_limiter_state. */
struct pmem_state {
    gpa_t gpa;
    uint64_t size;
    struct rate_limiter_state rl;
};

/* The device's state (takes the transport lock). */
void pmem_save_state(struct pmem *pm, struct pmem_state *out);
/*
 * Upstream's Pmem::new_with_queues with a saved config space: before the
 * device is placed, check that the window is as large as it was (-EINVAL,
 * upstream's "Restored pmem size {saved} does not match backing file
 * mapping size {now}") and take the saved address as the window's
 * (-EINVAL, "pmem state: saved window at {gpa} is not 2 MiB aligned").
 * The machine layer reserves that window and maps it; nothing else
 * changes. 0 or -errno with err set.
 */
int pmem_restore_window(struct pmem *pm, const struct pmem_state *s,
                        struct sq_err *err);
/*
 * Put a saved state into a device built from the same configuration and
 * placed: the window must be as large as it was (-EINVAL, upstream's
 * "Restored pmem size {saved} does not match backing file mapping size
 * {now}": the backing file changed size) and where it was (-EINVAL, "pmem
 * state: saved window at {gpa}, built at {gpa}"), then the limiter's
 * buckets (-EINVAL, upstream's "Error restoring rate limiter: invalid input
 * parameter"). Takes the transport lock.
 */
int pmem_restore_state(struct pmem *pm, const struct pmem_state *s,
                       struct sq_err *err);

#endif
