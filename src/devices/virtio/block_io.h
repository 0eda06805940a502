/*
 * block_io.h: the block device's file engines (upstream's FileEngine):
 * Sync (pread/pwrite/fsync on the vmm thread, bounded disk I/O) and Async
 * (io_uring through liburing; completions signal an eventfd that the vmm
 * loop watches). Private to block.c; tests use it through block.h.
 *
 * Buffers are host pointers into guest memory obtained by the caller from
 * guest_mem_translate(); for Async they must stay valid until completion,
 * which holds because guest memory outlives the device and a reset drains
 * the ring first.
 */
#ifndef SQUIB_DEVICES_VIRTIO_BLOCK_IO_H
#define SQUIB_DEVICES_VIRTIO_BLOCK_IO_H

#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>

#include "util/err.h"

/* Ring entries (upstream IO_URING_NUM_ENTRIES): a 256-entry queue holds at
 * most 128 requests of two or more descriptors. */
#define BLOCK_IO_URING_ENTRIES 128

enum block_io_engine { BLOCK_IO_SYNC = 0, BLOCK_IO_ASYNC };

enum block_io_op { BLOCK_IO_READ, BLOCK_IO_WRITE, BLOCK_IO_FLUSH };

struct block_io {
    enum block_io_engine kind;
    int fd;               /* borrowed backing file */
    struct io_uring ring; /* Async only */
    bool has_ring;
    int completion_fd; /* owned eventfd (Async), else -1 */
    uint32_t inflight; /* submitted, not yet reaped */
};

/*
 * Set up the engine on `fd`. Async creates the ring as upstream does
 * (disabled; NODROP and read/write opcodes checked; completion eventfd;
 * restricted to fixed file 0 and read/write/fsync; file registered;
 * enabled) and its completion eventfd. Errors carry upstream's text, e.g.
 * a kernel without io_uring: "Error coming from the IO engine: Async
 * error: IoUring: Error calling io_uring_setup: {os error}".
 * Returns 0 or -errno; nothing is left open on failure.
 */
int block_io_open(struct block_io *io, int fd, enum block_io_engine kind,
                  struct sq_err *err);
/* Drain in-flight work (Async), tear the ring down. Safe twice. */
void block_io_close(struct block_io *io);

/* Swap the backing fd (PATCH): drains in-flight work first (their
 * completions are consumed: the caller reaps them before), re-registers
 * the file. 0 or -errno (the old fd stays in use). */
int block_io_set_fd(struct block_io *io, int fd);

/*
 * Sync: do the whole transfer now. Returns the bytes moved (== len on
 * success; short only at end of file), or -errno.
 */
long block_io_sync(struct block_io *io, enum block_io_op op, uint64_t off,
                   void *buf, uint32_t len);

/*
 * Async: queue one operation tagged `tag`. Returns 0, -EBUSY when the
 * submission queue is full (the caller throttles and retries after a
 * completion), or -errno.
 */
int block_io_submit(struct block_io *io, enum block_io_op op, uint64_t off,
                    void *buf, uint32_t len, uint64_t tag);
/* Push queued submissions to the kernel. 0 or -errno. */
int block_io_kick(struct block_io *io);
/*
 * Reap one completion: returns 1 with *tag and *res (bytes or -errno),
 * 0 if none is ready. When `wait`, blocks for one while any is in flight.
 */
int block_io_reap(struct block_io *io, bool wait, uint64_t *tag, int32_t *res);

#endif
