/*
 * block_io.c: Sync and Async (io_uring) file engines (block_io.h).
 */
#include "devices/virtio/block_io.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "obs/log.h"
#include "util/evloop.h"

#define URING_ERR "Error coming from the IO engine: Async error: IoUring: "

/* Debian 12's liburing 2.3 exports no wrappers for these two; the raw
 * io_uring_register(2) calls are stable kernel ABI (5.10+). */
static int uring_register(struct io_uring *ring, unsigned op, void *arg,
                          unsigned n)
{
    long rc = syscall(__NR_io_uring_register, ring->ring_fd, op, arg, n);

    return rc < 0 ? -errno : 0;
}

/*
 * Upstream's IoUring::new order: a disabled ring, feature and opcode
 * checks, the completion eventfd, restrictions (only fixed files, only
 * read/write/fsync, and among register calls only file updates for a
 * PATCH), the file, then enable. A request the VMM builds wrongly can
 * then never reach another fd or another operation.
 */
int block_io_open(struct block_io *io, int fd, enum block_io_engine kind,
                  struct sq_err *err)
{
    struct io_uring_restriction res[6];
    struct io_uring_params params;
    struct io_uring_probe *probe;
    char os[128];
    int rc;

    memset(io, 0, sizeof(*io));
    io->kind = kind;
    io->fd = fd;
    io->completion_fd = -1;
    if (kind == BLOCK_IO_SYNC)
        return 0;
    log_warn("[DevPreview] Async file IO is in development preview.");
    memset(&params, 0, sizeof(params));
    params.flags = IORING_SETUP_R_DISABLED;
    rc = io_uring_queue_init_params(BLOCK_IO_URING_ENTRIES, &io->ring, &params);
    if (rc < 0)
        return sq_errf(err, rc, URING_ERR "Error calling io_uring_setup: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    io->has_ring = true;
    if (!(params.features & IORING_FEAT_NODROP)) {
        rc = sq_errf(err, -EOPNOTSUPP,
                     URING_ERR "Required feature is not supported on the host "
                               "kernel: IORING_FEAT_NODROP");
        goto fail;
    }
    probe = io_uring_get_probe_ring(&io->ring);
    if (!probe) {
        rc = sq_errf(err, -EOPNOTSUPP,
                     URING_ERR "Error probing the io_uring subsystem: "
                               "Operation not supported (os error 95)");
        goto fail;
    }
    rc = 0;
    if (!io_uring_opcode_supported(probe, IORING_OP_READ))
        rc = sq_errf(err, -EOPNOTSUPP,
                     URING_ERR "Required operation is not supported on the "
                               "host kernel: Read");
    else if (!io_uring_opcode_supported(probe, IORING_OP_WRITE))
        rc = sq_errf(err, -EOPNOTSUPP,
                     URING_ERR "Required operation is not supported on the "
                               "host kernel: Write");
    io_uring_free_probe(probe);
    if (rc < 0)
        goto fail;
    io->completion_fd = evloop_eventfd_new();
    if (io->completion_fd < 0) {
        rc = io->completion_fd;
        io->completion_fd = -1;
        sq_errf(err, rc,
                "Error coming from the IO engine: Async error: "
                "EventFd: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    rc = io_uring_register_eventfd(&io->ring, io->completion_fd);
    if (rc < 0) {
        sq_errf(err, rc, URING_ERR "Could not register eventfd: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    memset(res, 0, sizeof(res));
    res[0].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
    res[0].sqe_flags = IOSQE_FIXED_FILE;
    res[1].opcode = IORING_RESTRICTION_SQE_OP;
    res[1].sqe_op = IORING_OP_READ;
    res[2].opcode = IORING_RESTRICTION_SQE_OP;
    res[2].sqe_op = IORING_OP_WRITE;
    res[3].opcode = IORING_RESTRICTION_SQE_OP;
    res[3].sqe_op = IORING_OP_FSYNC;
    res[4].opcode = IORING_RESTRICTION_REGISTER_OP;
    res[4].register_op = IORING_REGISTER_FILES_UPDATE;
    res[5].opcode = IORING_RESTRICTION_REGISTER_OP;
    res[5].register_op = IORING_REGISTER_FILES_UPDATE2;
    rc = uring_register(&io->ring, IORING_REGISTER_RESTRICTIONS, res, 6);
    if (rc < 0) {
        sq_errf(err, rc, URING_ERR "Could not register restrictions: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    rc = io_uring_register_files(&io->ring, &fd, 1);
    if (rc < 0) {
        sq_errf(err, rc, URING_ERR "Could not register file: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    rc = uring_register(&io->ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    if (rc < 0) {
        sq_errf(err, rc, URING_ERR "Could not enable the ring: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    return 0;
fail:
    block_io_close(io);
    return rc;
}

static void drain(struct block_io *io)
{
    uint64_t tag;
    int32_t res;

    while (io->inflight > 0 && block_io_reap(io, true, &tag, &res) == 1)
        ;
}

void block_io_close(struct block_io *io)
{
    if (io->has_ring) {
        block_io_kick(io);
        drain(io);
        io_uring_queue_exit(&io->ring);
        io->has_ring = false;
    }
    if (io->completion_fd >= 0)
        close(io->completion_fd);
    io->completion_fd = -1;
}

int block_io_set_fd(struct block_io *io, int fd)
{
    int rc;

    if (io->has_ring) {
        block_io_kick(io);
        drain(io);
        rc = io_uring_register_files_update(&io->ring, 0, &fd, 1);
        if (rc < 0)
            return rc;
    }
    io->fd = fd;
    return 0;
}

long block_io_sync(struct block_io *io, enum block_io_op op, uint64_t off,
                   void *buf, uint32_t len)
{
    uint32_t done = 0;

    if (op == BLOCK_IO_FLUSH)
        return fsync(io->fd) < 0 ? -errno : 0;
    while (done < len) {
        ssize_t n;

        if (op == BLOCK_IO_READ)
            n = pread(io->fd, (uint8_t *)buf + done, len - done,
                      (off_t)(off + done));
        else
            n = pwrite(io->fd, (const uint8_t *)buf + done, len - done,
                       (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        done += (uint32_t)n;
    }
    return done;
}

int block_io_submit(struct block_io *io, enum block_io_op op, uint64_t off,
                    void *buf, uint32_t len, uint64_t tag)
{
    struct io_uring_sqe *sqe;

    if (!io->has_ring)
        return -ENODEV;
    sqe = io_uring_get_sqe(&io->ring);
    if (!sqe)
        return -EBUSY;
    switch (op) {
    case BLOCK_IO_READ:
        io_uring_prep_read(sqe, 0, buf, len, off);
        break;
    case BLOCK_IO_WRITE:
        io_uring_prep_write(sqe, 0, buf, len, off);
        break;
    case BLOCK_IO_FLUSH:
        io_uring_prep_fsync(sqe, 0, 0);
        break;
    }
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, tag);
    io->inflight++;
    return 0;
}

int block_io_kick(struct block_io *io)
{
    int rc;

    if (!io->has_ring)
        return 0;
    rc = io_uring_submit(&io->ring);
    return rc < 0 ? rc : 0;
}

int block_io_reap(struct block_io *io, bool wait, uint64_t *tag, int32_t *res)
{
    struct io_uring_cqe *cqe = NULL;
    int rc;

    if (!io->has_ring || io->inflight == 0)
        return 0;
    rc = wait ? io_uring_wait_cqe(&io->ring, &cqe)
              : io_uring_peek_cqe(&io->ring, &cqe);
    if (rc == -EAGAIN || !cqe)
        return 0;
    if (rc < 0)
        return rc;
    *tag = io_uring_cqe_get_data64(cqe);
    *res = cqe->res;
    io_uring_cqe_seen(&io->ring, cqe);
    io->inflight--;
    return 1;
}
