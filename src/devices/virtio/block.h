/*
 * block.h: the virtio-block device (device id 2) behind virtio-mmio.
 *
 * Backed by a regular file or a block device opened at creation
 * (read-only if is_read_only, else read-write; digest 11.1). One queue of
 * 256 entries. Features: VERSION_1, EVENT_IDX, FLUSH only for cache_type
 * Writeback, RO for read-only drives; no discard or write-zeroes (upstream
 * offers neither, so those requests get VIRTIO_BLK_S_UNSUPP). The config
 * space is the capacity in 512-byte sectors (file size >> 9). GET_ID
 * answers the decimal concatenation of the backing file's st_dev, st_rdev
 * and st_ino, truncated to 20 bytes.
 *
 * Requests follow upstream's parser: a device-readable 16-byte header, one
 * optional data descriptor, a device-writable status byte. A malformed
 * chain is returned with 0 bytes and no status (execute_fails); a request
 * that fails on the backing file (EIO, ENOSPC, a write to a read-only
 * drive, a data buffer outside RAM) gets VIRTIO_BLK_S_IOERR; an unknown
 * type gets VIRTIO_BLK_S_UNSUPP (both invalid_reqs_count). The VMM keeps
 * running in every case. A corrupt avail ring sets DEVICE_NEEDS_RESET.
 *
 * Metrics go to block_{drive_id} (and so to the "block" aggregate).
 *
 * Lifecycle (vmm thread): block_new() -> virtio_mmio_machine_dev() on
 * block_transport() for machine_config.mmio[] -> machine_create() ->
 * block_attach() -> (guest drives it) -> block_detach() -> machine_destroy()
 * -> block_free(). block_detach() must come while guest memory and the VM
 * fd still exist: it completes Async I/O that targets guest memory and
 * deassigns the ioeventfds.
 */
#ifndef SQUIB_DEVICES_VIRTIO_BLOCK_H
#define SQUIB_DEVICES_VIRTIO_BLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/rate_limiter.h"
#include "devices/virtio/block_io.h"
#include "devices/virtio/mmio.h"
#include "util/err.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"

#define BLOCK_SECTOR_SHIFT 9
#define BLOCK_SECTOR_SIZE  512u
#define BLOCK_ID_BYTES     20u
#define BLOCK_QUEUE_SIZE   256

/* Feature bits (linux/virtio_blk.h). */
#define SQ_VIRTIO_BLK_F_RO    5
#define SQ_VIRTIO_BLK_F_FLUSH 9

/* Request types and status values. */
#define SQ_VIRTIO_BLK_T_IN           0
#define SQ_VIRTIO_BLK_T_OUT          1
#define SQ_VIRTIO_BLK_T_FLUSH        4
#define SQ_VIRTIO_BLK_T_GET_ID       8
#define SQ_VIRTIO_BLK_T_DISCARD      11
#define SQ_VIRTIO_BLK_T_WRITE_ZEROES 13
#define SQ_VIRTIO_BLK_S_OK           0
#define SQ_VIRTIO_BLK_S_IOERR        1
#define SQ_VIRTIO_BLK_S_UNSUPP       2

enum block_cache_type { BLOCK_CACHE_UNSAFE = 0, BLOCK_CACHE_WRITEBACK };

struct block_config {
    const char *drive_id;     /* borrowed; metrics key */
    const char *path_on_host; /* borrowed; also named in errors */
    /* The backing file already opened at PUT /drives (upstream opens it
     * then): has_fd with a borrowed fd, which the device duplicates.
     * Otherwise path_on_host is opened now. */
    bool has_fd;
    int fd;
    bool is_read_only;
    enum block_cache_type cache_type;
    enum block_io_engine io_engine;
    const struct rate_limiter_params *rate_limiter; /* NULL = none */
};

/* Why upstream's parser rejected a chain (exposed for tests and fuzzing). */
enum block_parse_err {
    BLOCK_PARSE_OK = 0,
    BLOCK_PARSE_MALFORMED_CHAIN, /* the queue flagged the chain */
    BLOCK_PARSE_WRITE_ONLY_DESC, /* UnexpectedWriteOnlyDescriptor */
    BLOCK_PARSE_READ_ONLY_DESC,  /* UnexpectedReadOnlyDescriptor */
    BLOCK_PARSE_TOO_SHORT,       /* DescriptorChainTooShort */
    BLOCK_PARSE_LEN_TOO_SMALL,   /* DescriptorLengthTooSmall */
    BLOCK_PARSE_GUEST_MEMORY,    /* header outside RAM */
    BLOCK_PARSE_BAD_DATA_LEN,    /* InvalidDataLength */
    BLOCK_PARSE_BAD_OFFSET,      /* InvalidOffset */
};

struct block_request {
    uint32_t type;
    uint64_t sector;
    gpa_t data_gpa;
    uint32_t data_len;
    gpa_t status_gpa;
};

/*
 * Upstream's Request::parse over a popped chain, against a disk of
 * `nsectors`. Reads the header through `gm`. Never touches memory outside
 * the guest. Returns BLOCK_PARSE_OK and fills *req, or the reason.
 */
enum block_parse_err block_request_parse(const struct guest_mem *gm,
                                         const struct virtq_chain *chain,
                                         uint64_t nsectors,
                                         struct block_request *req);

struct block;

/*
 * Open (or duplicate) the backing file and build the device (not yet on a
 * machine). Capacity and serial come from the file as it is now.
 * Returns 0 and *out (owned by the caller), or -errno with err set to the
 * VirtioBlockError text, e.g. "Virtio backend error: Error manipulating
 * the backing file: No such file or directory (os error 2) {path}"; the
 * API layer prefixes "Drive config error: Unable to create the virtio
 * block device: ".
 */
int block_new(const struct block_config *cfg, struct block **out,
              struct sq_err *err);

/* Close everything; NULL-safe. The machine must be gone (machine_destroy)
 * or its vCPUs stopped, so no vCPU can reach the registers. */
void block_free(struct block *b);

/* The device's transport (borrowed; lives as long as the device). */
struct virtio_mmio *block_transport(struct block *b);

/*
 * Connect to a built machine's memory, VM fd (-1: no ioeventfds, for tests)
 * and vmm loop (NULL: tests drive block_* by hand): ioeventfds, queue
 * eventfd, rate-limiter timer and io_uring completion fd
 * (virtio_dev_attach). 0, or -errno with nothing left registered.
 */
int block_attach(struct block *b, const struct guest_mem *gm, int vm_fd,
                 uint64_t addr, struct evloop *loop);

/*
 * Leave the loop, deassign the ioeventfds and complete (or, for an
 * inactive device, drop) every Async request in flight. Call before
 * machine_destroy(); block_free() calls it if still attached. Idempotent.
 */
void block_detach(struct block *b);

/*
 * PATCH path_on_host: open the new file with the drive's read-only mode,
 * swap it in, update capacity and serial, and raise a config-change
 * interrupt when active; counts update_count (update_fails on failure).
 * Returns 0 or -errno with err as block_new(); the old file stays on
 * failure. Vmm thread.
 */
int block_update_path(struct block *b, const char *path, struct sq_err *err);

/* PATCH rate_limiter (digest 1.5 semantics; NULL = absent). Vmm thread. */
void block_update_rate_limiter(struct block *b,
                               const struct rate_limiter_params *p);

/* Timer and completion callbacks, as the loop runs them (tests). */
void block_rate_limiter_event(struct block *b);
void block_completion_event(struct block *b);

/*
 * Before a snapshot (vmm thread, vCPUs paused): submit what is queued and
 * wait for every Async request in flight, completing each into the used
 * ring, so guest memory holds no request the host still works on. Takes the
 * transport lock. No-op for Sync.
 */
void block_quiesce(struct block *b);

/* Async requests submitted and not yet completed (0 for Sync). */
unsigned block_in_flight(const struct block *b);

/* For GET /vm/config and tests. */
uint64_t block_nsectors(const struct block *b);
const uint8_t *block_image_id(const struct block *b); /* BLOCK_ID_BYTES */
struct rate_limiter *block_rate_limiter(struct block *b);
const char *block_path(const struct block *b);

#endif
