/*
 * rng.h: the virtio entropy device (virtio-rng, device id 4, internal id
 * "rng") behind virtio-mmio.
 *
 * One queue of 256 entries; feature VERSION_1 only (upstream). Each chain
 * must be made of device-writable buffers inside guest RAM; the device
 * fills min(total length, 64 KiB) bytes from getrandom() (at least one byte
 * for any non-empty chain, as the virtio spec asks) and returns that count.
 * A chain with a device-readable buffer, a buffer outside RAM or a
 * malformed structure is returned with 0 bytes (entropy_event_fails).
 * Requests pay one op and their full buffer length in bytes to the rate
 * limiter; a throttled queue resumes from the limiter's timer on the vmm
 * loop. Metrics: the "entropy" group.
 *
 * Lifecycle as block.h: rng_new -> virtio_mmio_machine_dev(rng_transport)
 * -> machine_create -> rng_attach -> rng_detach -> machine_destroy ->
 * rng_free.
 */
#ifndef SQUIB_DEVICES_VIRTIO_RNG_H
#define SQUIB_DEVICES_VIRTIO_RNG_H

#include <stdint.h>

#include "devices/rate_limiter.h"
#include "devices/virtio/mmio.h"
#include "util/err.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"

#define RNG_QUEUE_SIZE        256
#define RNG_MAX_ENTROPY_BYTES (64u * 1024u)
#define RNG_DEVICE_ID         "rng"

struct rng;

/* Build the device; `rl` NULL = unlimited. 0 and *out (caller owns) or
 * -errno with err set. */
int rng_new(const struct rate_limiter_params *rl, struct rng **out,
            struct sq_err *err);
/* Detach if needed and free; NULL-safe. After machine_destroy(). */
void rng_free(struct rng *r);
/* The device's transport (borrowed; lives as long as the device). */
struct virtio_mmio *rng_transport(struct rng *r);
/* As block_attach(): ioeventfd, queue eventfd and limiter timer; 0, or
 * -errno with nothing left registered. */
int rng_attach(struct rng *r, const struct guest_mem *gm, int vm_fd,
               uint64_t addr, struct evloop *loop);
/* Leave the loop and deassign the ioeventfd; before machine_destroy().
 * rng_free() calls it too. Idempotent. */
void rng_detach(struct rng *r);
/* The limiter's timer fired (what the loop runs; tests call it). */
void rng_rate_limiter_event(struct rng *r);
/* The device's limiter (borrowed), for GET /vm/config and tests. */
struct rate_limiter *rng_rate_limiter(struct rng *r);

#endif
