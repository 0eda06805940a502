/*
 * block.c: virtio-block device (block.h).
 *
 * Request flow on the vmm thread, with the transport lock held:
 *
 *   queue notify / rate-limiter timer / io_uring completion
 *     -> process_queue(): pop chain -> block_request_parse()
 *          malformed           -> used(head, 0), execute_fails
 *          rate limited        -> undo pop, stop until the timer fires
 *          Sync                -> do the I/O now -> finish() -> used
 *          Async               -> submit (tag = head index) ... completion
 *                                 -> finish() -> used
 *          ring full (Async)   -> undo pop, stop until a completion
 *     -> publish used index, interrupt if the driver wants one (EVENT_IDX)
 *
 * finish() is upstream's PendingRequest::finish: it turns the engine's
 * result into a status byte and the used length (bytes written into
 * guest memory, plus one for the status byte when it could be written).
 */
#include "devices/virtio/block.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/virtio_dev.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/time.h"
#include "util/xalloc.h"

struct pending {
    bool in_flight;
    uint32_t type;
    uint32_t data_len;
    gpa_t data_gpa;
    gpa_t status_gpa;
};

struct block {
    struct virtio_mmio t; /* first: the transport's dev pointer */
    char *id;             /* owned */
    char *path;           /* owned */
    bool read_only;
    enum block_cache_type cache_type;
    int fd; /* owned backing file */
    struct block_io io;
    uint64_t nsectors;
    uint8_t image_id[BLOCK_ID_BYTES];
    uint8_t config[8]; /* capacity, little-endian */
    struct rate_limiter rl;
    bool io_throttled;
    /* The limiter's timer and the Async completion fd, on the vmm loop
     * while attached (virtio_dev.h). */
    struct evloop_handler rl_h, io_h;
    struct metrics_block *m;  /* process-lifetime group */
    struct virtq_chain chain; /* scratch for the chain being parsed */
    struct pending pend[BLOCK_QUEUE_SIZE]; /* Async, indexed by head */
};

/* ---- the backing file ---------------------------------------------------- */

static int backing_err(struct sq_err *err, int rc, const char *path)
{
    char os[128];

    return sq_errf(err, rc,
                   "Virtio backend error: Error manipulating the backing "
                   "file: %s %s",
                   sq_os_error(-rc, os, sizeof(os)), path);
}

/* Open (or duplicate `given_fd` when >= 0), size and identify a backing
 * file. */
static int open_backing(const char *path, int given_fd, bool read_only,
                        int *fd_out, uint64_t *nsectors,
                        uint8_t id[BLOCK_ID_BYTES], struct sq_err *err)
{
    struct stat st;
    char buf[96];
    off_t size;
    int fd, rc;
    size_t n;

    if (given_fd >= 0)
        fd = fcntl(given_fd, F_DUPFD_CLOEXEC, 0);
    else
        fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return backing_err(err, -errno, path);
    size = lseek(fd, 0, SEEK_END);
    if (size < 0) {
        rc = -errno;
        close(fd);
        return backing_err(err, rc, path);
    }
    if (size % BLOCK_SECTOR_SIZE)
        log_warn("Disk size %lld is not a multiple of sector size %u; the "
                 "remainder will not be visible to the guest.",
                 (long long)size, BLOCK_SECTOR_SIZE);
    memset(id, 0, BLOCK_ID_BYTES);
    if (fstat(fd, &st) == 0) {
        snprintf(buf, sizeof(buf), "%" PRIu64 "%" PRIu64 "%" PRIu64,
                 (uint64_t)st.st_dev, (uint64_t)st.st_rdev,
                 (uint64_t)st.st_ino);
        n = strlen(buf);
        memcpy(id, buf, n < BLOCK_ID_BYTES ? n : BLOCK_ID_BYTES);
    }
    *fd_out = fd;
    *nsectors = (uint64_t)size >> BLOCK_SECTOR_SHIFT;
    return 0;
}

static void set_capacity(struct block *b)
{
    for (int i = 0; i < 8; i++)
        b->config[i] = (uint8_t)(b->nsectors >> (8 * i));
}

/* ---- request parsing ------------------------------------------------------
 */

enum block_parse_err block_request_parse(const struct guest_mem *gm,
                                         const struct virtq_chain *c,
                                         uint64_t nsectors,
                                         struct block_request *req)
{
    const struct virtq_buf *data = NULL, *status;
    uint8_t hdr[16];
    void *hva;
    uint64_t top;

    memset(req, 0, sizeof(*req));
    if (c->err != VIRTQ_CHAIN_OK)
        return BLOCK_PARSE_MALFORMED_CHAIN;
    if (c->n < 1)
        return BLOCK_PARSE_TOO_SHORT;
    if (c->bufs[0].is_write)
        return BLOCK_PARSE_WRITE_ONLY_DESC;
    /* Upstream reads the 16-byte header whatever the descriptor says. */
    if (guest_mem_translate(gm, c->bufs[0].gpa, sizeof(hdr), &hva) < 0)
        return BLOCK_PARSE_GUEST_MEMORY;
    memcpy(hdr, hva, sizeof(hdr));
    memcpy(&req->type, hdr, 4);
    memcpy(&req->sector, hdr + 8, 8);
    if (c->n < 2)
        return BLOCK_PARSE_TOO_SHORT;
    if (c->n == 2) {
        status = &c->bufs[1];
        if (req->type != SQ_VIRTIO_BLK_T_FLUSH)
            return BLOCK_PARSE_TOO_SHORT;
    } else {
        data = &c->bufs[1];
        status = &c->bufs[2];
        if (data->is_write && req->type == SQ_VIRTIO_BLK_T_OUT)
            return BLOCK_PARSE_WRITE_ONLY_DESC;
        if (!data->is_write && (req->type == SQ_VIRTIO_BLK_T_IN ||
                                req->type == SQ_VIRTIO_BLK_T_GET_ID))
            return BLOCK_PARSE_READ_ONLY_DESC;
        req->data_gpa = data->gpa;
        req->data_len = data->len;
    }
    switch (req->type) {
    case SQ_VIRTIO_BLK_T_IN:
    case SQ_VIRTIO_BLK_T_OUT:
        if (req->data_len % BLOCK_SECTOR_SIZE)
            return BLOCK_PARSE_BAD_DATA_LEN;
        if (__builtin_add_overflow(
                req->sector, (uint64_t)req->data_len >> BLOCK_SECTOR_SHIFT,
                &top) ||
            top > nsectors)
            return BLOCK_PARSE_BAD_OFFSET;
        break;
    case SQ_VIRTIO_BLK_T_GET_ID:
        if (req->data_len < BLOCK_ID_BYTES)
            return BLOCK_PARSE_BAD_DATA_LEN;
        break;
    default:
        break;
    }
    if (!status->is_write)
        return BLOCK_PARSE_READ_ONLY_DESC;
    if (status->len < 1)
        return BLOCK_PARSE_LEN_TOO_SMALL;
    req->status_gpa = status->gpa;
    return BLOCK_PARSE_OK;
}

static const char *parse_err_name(enum block_parse_err e)
{
    switch (e) {
    case BLOCK_PARSE_OK:
        return "Ok";
    case BLOCK_PARSE_MALFORMED_CHAIN:
        return "MalformedDescriptorChain";
    case BLOCK_PARSE_WRITE_ONLY_DESC:
        return "UnexpectedWriteOnlyDescriptor";
    case BLOCK_PARSE_READ_ONLY_DESC:
        return "UnexpectedReadOnlyDescriptor";
    case BLOCK_PARSE_TOO_SHORT:
        return "DescriptorChainTooShort";
    case BLOCK_PARSE_LEN_TOO_SMALL:
        return "DescriptorLengthTooSmall";
    case BLOCK_PARSE_GUEST_MEMORY:
        return "GuestMemory";
    case BLOCK_PARSE_BAD_DATA_LEN:
        return "InvalidDataLength";
    case BLOCK_PARSE_BAD_OFFSET:
        return "InvalidOffset";
    }
    return "?";
}

/* ---- completing requests ---------------------------------------------------
 */

/* Status byte and used length for a request whose engine result is `res`
 * (bytes transferred, or -errno). */
static uint32_t finish(struct block *b, uint32_t type, uint32_t data_len,
                       gpa_t status_gpa, int64_t res)
{
    uint8_t st = SQ_VIRTIO_BLK_S_OK;
    uint32_t to_mem = 0;
    void *hva;

    switch (type) {
    case SQ_VIRTIO_BLK_T_IN:
    case SQ_VIRTIO_BLK_T_OUT:
    case SQ_VIRTIO_BLK_T_GET_ID:
        if (res < 0) {
            st = SQ_VIRTIO_BLK_S_IOERR;
            break;
        }
        if (type == SQ_VIRTIO_BLK_T_IN) {
            metrics_counter_add(&b->m->read_bytes, (uint64_t)res);
            if ((uint64_t)res == data_len)
                metrics_counter_inc(&b->m->read_count);
        } else if (type == SQ_VIRTIO_BLK_T_OUT) {
            metrics_counter_add(&b->m->write_bytes, (uint64_t)res);
            if ((uint64_t)res == data_len)
                metrics_counter_inc(&b->m->write_count);
        }
        if (type != SQ_VIRTIO_BLK_T_OUT)
            to_mem = (uint32_t)res;
        if ((uint64_t)res != data_len)
            st = SQ_VIRTIO_BLK_S_IOERR; /* partial transfer */
        break;
    case SQ_VIRTIO_BLK_T_FLUSH:
        if (res < 0)
            st = SQ_VIRTIO_BLK_S_IOERR;
        else
            metrics_counter_inc(&b->m->flush_count);
        break;
    default:
        st = SQ_VIRTIO_BLK_S_UNSUPP;
        break;
    }
    if (st == SQ_VIRTIO_BLK_S_IOERR) {
        metrics_counter_inc(&b->m->invalid_reqs_count);
        log_error_rl("Failed to execute virtio block request of type %u: "
                     "result %lld",
                     type, (long long)res);
    } else if (st == SQ_VIRTIO_BLK_S_UNSUPP) {
        metrics_counter_inc(&b->m->invalid_reqs_count);
        log_error_rl("Received unsupported virtio block request: %u", type);
    }
    if (guest_mem_translate(b->t.gm, status_gpa, 1, &hva) < 0) {
        log_error_rl("Failed to write virtio block status");
        return 0;
    }
    *(volatile uint8_t *)hva = st;
    guest_mem_mark_dirty(b->t.gm, status_gpa, 1);
    return to_mem + 1;
}

enum outcome { DONE, SUBMITTED, THROTTLED };

/* Run (Sync) or submit (Async) a parsed request; *used_len when DONE. */
static enum outcome execute(struct block *b, const struct block_request *r,
                            uint16_t head, uint32_t *used_len)
{
    enum block_io_op op;
    void *hva = NULL;
    int64_t res;
    uint64_t t0;
    int rc;

    switch (r->type) {
    case SQ_VIRTIO_BLK_T_IN:
        op = BLOCK_IO_READ;
        break;
    case SQ_VIRTIO_BLK_T_OUT:
        op = BLOCK_IO_WRITE;
        break;
    case SQ_VIRTIO_BLK_T_FLUSH:
        op = BLOCK_IO_FLUSH;
        break;
    case SQ_VIRTIO_BLK_T_GET_ID:
        res = -EFAULT;
        if (guest_mem_translate(b->t.gm, r->data_gpa, BLOCK_ID_BYTES, &hva) ==
            0) {
            memcpy(hva, b->image_id, BLOCK_ID_BYTES);
            guest_mem_mark_dirty(b->t.gm, r->data_gpa, BLOCK_ID_BYTES);
            res = BLOCK_ID_BYTES;
        }
        *used_len = finish(b, r->type, r->data_len, r->status_gpa, res);
        return DONE;
    default:
        *used_len = finish(b, r->type, r->data_len, r->status_gpa, 0);
        return DONE;
    }
    if (op != BLOCK_IO_FLUSH &&
        guest_mem_translate(b->t.gm, r->data_gpa, r->data_len, &hva) < 0) {
        *used_len = finish(b, r->type, r->data_len, r->status_gpa, -EFAULT);
        return DONE;
    }
    if (b->io.kind == BLOCK_IO_ASYNC) {
        rc = block_io_submit(&b->io, op, r->sector << BLOCK_SECTOR_SHIFT, hva,
                             r->data_len, head);
        if (rc == -EBUSY)
            return THROTTLED;
        if (rc == 0) {
            b->pend[head].in_flight = true;
            b->pend[head].type = r->type;
            b->pend[head].data_len = r->data_len;
            b->pend[head].data_gpa = r->data_gpa;
            b->pend[head].status_gpa = r->status_gpa;
            return SUBMITTED;
        }
        *used_len = finish(b, r->type, r->data_len, r->status_gpa, rc);
        return DONE;
    }
    t0 = time_mono_us();
    res = block_io_sync(&b->io, op, r->sector << BLOCK_SECTOR_SHIFT, hva,
                        r->data_len);
    if (op == BLOCK_IO_READ) /* even a failed read may have written */
        guest_mem_mark_dirty(b->t.gm, r->data_gpa, r->data_len);
    if (op == BLOCK_IO_READ)
        metrics_latency_record(&b->m->read_agg, time_mono_us() - t0);
    else if (op == BLOCK_IO_WRITE)
        metrics_latency_record(&b->m->write_agg, time_mono_us() - t0);
    /* The sync engine reads and writes exactly (upstream read_exact). */
    if (op != BLOCK_IO_FLUSH && res >= 0 && res != r->data_len)
        res = -EIO;
    *used_len = finish(b, r->type, r->data_len, r->status_gpa, res);
    return DONE;
}

/* Upstream's Request::rate_limit: one op, plus the bytes for reads and
 * writes; true if the request must wait. */
static bool rate_limited(struct block *b, const struct block_request *r)
{
    if (!rate_limiter_consume(&b->rl, 1, RL_TOKEN_OPS))
        return true;
    if ((r->type == SQ_VIRTIO_BLK_T_IN || r->type == SQ_VIRTIO_BLK_T_OUT) &&
        !rate_limiter_consume(&b->rl, r->data_len, RL_TOKEN_BYTES)) {
        rate_limiter_replenish(&b->rl, 1, RL_TOKEN_OPS);
        return true;
    }
    return false;
}

static void kick_guest(struct block *b, struct virtq *q)
{
    virtq_flush_used(q);
    if (virtq_should_notify(q) && virtio_mmio_signal_used(&b->t) < 0)
        metrics_counter_inc(&b->m->event_fails);
}

/* Lock held, device active. */
static void process_queue(struct block *b)
{
    struct virtq *q = &b->t.queues[0];
    bool used_any = false;

    for (;;) {
        struct block_request r;
        enum block_parse_err perr;
        uint32_t len = 0;
        int rc;

        rc = virtq_pop_or_enable_notification(q, &b->chain);
        if (rc < 0) {
            log_error_rl("virtio-block: the driver corrupted the available "
                         "ring; the device needs a reset");
            metrics_counter_inc(&b->m->event_fails);
            virtio_mmio_set_needs_reset(&b->t);
            break;
        }
        if (rc == 0)
            break;
        metrics_counter_add(&b->m->remaining_reqs_count, virtq_pending(q));
        perr = block_request_parse(b->t.gm, &b->chain, b->nsectors, &r);
        if (perr != BLOCK_PARSE_OK) {
            log_error_rl("Failed to parse available descriptor chain: %s",
                         parse_err_name(perr));
            metrics_counter_inc(&b->m->execute_fails);
            virtq_add_used(q, b->chain.head, 0);
            used_any = true;
            continue;
        }
        if (rate_limited(b, &r)) {
            virtq_undo_pop(q);
            metrics_counter_inc(&b->m->rate_limiter_throttled_events);
            break;
        }
        switch (execute(b, &r, b->chain.head, &len)) {
        case SUBMITTED:
            continue;
        case THROTTLED:
            virtq_undo_pop(q);
            b->io_throttled = true;
            break;
        case DONE:
            if (virtq_add_used(q, b->chain.head, len) < 0)
                log_error_rl("Failed to add available descriptor head %u",
                             (unsigned)b->chain.head);
            used_any = true;
            continue;
        }
        break;
    }
    virtq_flush_used(q);
    if (used_any && virtq_should_notify(q) &&
        virtio_mmio_signal_used(&b->t) < 0)
        metrics_counter_inc(&b->m->event_fails);
    if (b->io.kind == BLOCK_IO_ASYNC && block_io_kick(&b->io) < 0)
        log_error_rl("BlockError submitting pending block requests");
    if (!used_any)
        metrics_counter_inc(&b->m->no_avail_buffer);
}

/* Lock held. Finish every completed Async request; with `wait`, every
 * request in flight. */
static void reap_completions(struct block *b, bool wait)
{
    struct virtq *q = &b->t.queues[0];
    bool used_any = false;
    uint64_t tag;
    int32_t res;

    while (block_io_reap(&b->io, wait, &tag, &res) == 1) {
        struct pending *p;
        uint32_t len;

        if (tag >= BLOCK_QUEUE_SIZE || !b->pend[tag].in_flight)
            continue;
        p = &b->pend[tag];
        p->in_flight = false;
        /* The kernel wrote the read's data into guest memory. */
        if (p->type == SQ_VIRTIO_BLK_T_IN)
            guest_mem_mark_dirty(b->t.gm, p->data_gpa, p->data_len);
        len = finish(b, p->type, p->data_len, p->status_gpa, res);
        if (virtq_add_used(q, (uint16_t)tag, len) < 0)
            log_error_rl("Failed to add available descriptor head %u",
                         (unsigned)tag);
        used_any = true;
    }
    if (used_any)
        kick_guest(b, q);
}

/* ---- transport callbacks ------------------------------------------------- */

static void blk_read_config(void *dev, uint64_t off, uint8_t *data,
                            uint32_t len)
{
    struct block *b = dev;

    for (uint32_t i = 0; i < len; i++)
        data[i] = off + i < sizeof(b->config) ? b->config[off + i] : 0;
}

static void blk_write_config(void *dev, uint64_t off, const uint8_t *data,
                             uint32_t len)
{
    struct block *b = dev;

    (void)data;
    metrics_counter_inc(&b->m->cfg_fails);
    log_warn_rl("virtio-block: guest driver attempted to write device config "
                "(offset=%#llx, len=%#x)",
                (unsigned long long)off, len);
}

static int blk_activate(void *dev)
{
    (void)dev;
    return 0;
}

static void drop_in_flight(struct block *b)
{
    uint64_t tag;
    int32_t res;

    block_io_kick(&b->io);
    while (b->io.inflight > 0 && block_io_reap(&b->io, true, &tag, &res) == 1)
        ;
    memset(b->pend, 0, sizeof(b->pend));
}

void block_quiesce(struct block *b)
{
    bus_dev_lock(&b->t.bus);
    block_io_kick(&b->io);
    reap_completions(b, true);
    bus_dev_unlock(&b->t.bus);
}

static bool blk_reset(void *dev)
{
    struct block *b = dev;

    drop_in_flight(b);
    b->io_throttled = false;
    return true;
}

static void blk_queue_notify(void *dev, uint16_t qi)
{
    struct block *b = dev;

    (void)qi;
    metrics_counter_inc(&b->m->queue_event_count);
    if (rate_limiter_is_blocked(&b->rl))
        metrics_counter_inc(&b->m->rate_limiter_throttled_events);
    else if (b->io_throttled)
        metrics_counter_inc(&b->m->io_engine_throttled_events);
    else
        process_queue(b);
}

static const struct virtio_dev_ops block_ops = {
    .device_type = SQ_VIRTIO_ID_BLOCK,
    .read_config = blk_read_config,
    .write_config = blk_write_config,
    .activate = blk_activate,
    .reset = blk_reset,
    .queue_notify = blk_queue_notify,
};

/* ---- loop callbacks ------------------------------------------------------ */

void block_rate_limiter_event(struct block *b)
{
    bus_dev_lock(&b->t.bus);
    metrics_counter_inc(&b->m->rate_limiter_event_count);
    if (rate_limiter_timer_event(&b->rl) == 0 && b->t.activated)
        process_queue(b);
    bus_dev_unlock(&b->t.bus);
}

void block_completion_event(struct block *b)
{
    bus_dev_lock(&b->t.bus);
    if (b->io.completion_fd >= 0)
        evloop_eventfd_drain(b->io.completion_fd);
    if (b->t.activated) {
        reap_completions(b, false);
        if (b->io_throttled) {
            b->io_throttled = false;
            process_queue(b);
        }
    }
    bus_dev_unlock(&b->t.bus);
}

static void on_rl_timer(struct evloop *loop, struct evloop_handler *h,
                        uint32_t events)
{
    (void)loop;
    (void)events;
    block_rate_limiter_event(h->opaque);
}

static void on_completion(struct evloop *loop, struct evloop_handler *h,
                          uint32_t events)
{
    (void)loop;
    (void)events;
    block_completion_event(h->opaque);
}

/* ---- lifecycle ----------------------------------------------------------- */

int block_new(const struct block_config *cfg, struct block **out,
              struct sq_err *err)
{
    static const uint16_t sizes[1] = {BLOCK_QUEUE_SIZE};
    uint64_t features;
    struct block *b;
    char os[128];
    int rc;

    b = xcalloc(1, sizeof(*b));
    b->fd = -1;
    b->rl.timer_fd = -1;
    b->io.completion_fd = -1;
    b->t.irq_fd = -1;
    for (size_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        b->t.queue_fd[i] = -1;
    b->id = xstrdup(cfg->drive_id);
    b->path = xstrdup(cfg->path_on_host);
    b->read_only = cfg->is_read_only;
    b->cache_type = cfg->cache_type;
    rc =
        open_backing(cfg->path_on_host, cfg->has_fd ? cfg->fd : -1,
                     cfg->is_read_only, &b->fd, &b->nsectors, b->image_id, err);
    if (rc < 0)
        goto fail;
    set_capacity(b);
    rc = block_io_open(&b->io, b->fd, cfg->io_engine, err);
    if (rc < 0)
        goto fail;
    rc = rate_limiter_init(&b->rl, cfg->rate_limiter);
    if (rc < 0) {
        sq_errf(err, rc,
                "Virtio backend error: Error coming from the rate "
                "limiter: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    features = 1ULL << SQ_VIRTIO_F_RING_EVENT_IDX;
    if (cfg->cache_type == BLOCK_CACHE_WRITEBACK)
        features |= 1ULL << SQ_VIRTIO_BLK_F_FLUSH;
    if (cfg->is_read_only)
        features |= 1ULL << SQ_VIRTIO_BLK_F_RO;
    rc = virtio_mmio_init(&b->t, "virtio-block", &block_ops, b, features, 1,
                          sizes);
    if (rc < 0) {
        sq_errf(err, rc, "Virtio backend error: Error opening eventfd: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    b->m = metrics_block_get(cfg->drive_id);
    *out = b;
    return 0;
fail:
    block_free(b);
    return rc;
}

void block_detach(struct block *b)
{
    struct evloop_handler *hs[] = {&b->rl_h, &b->io_h};

    virtio_dev_detach(&b->t, hs, 2);
    /* No I/O may still target guest memory once this returns. */
    bus_dev_lock(&b->t.bus);
    if (b->io.kind == BLOCK_IO_ASYNC && b->io.inflight > 0) {
        if (b->t.activated) {
            block_io_kick(&b->io);
            reap_completions(b, true);
        } else {
            drop_in_flight(b);
        }
    }
    bus_dev_unlock(&b->t.bus);
}

void block_free(struct block *b)
{
    if (!b)
        return;
    if (b->t.bus.opaque == &b->t)
        block_detach(b);
    virtio_mmio_fini(&b->t);
    block_io_close(&b->io);
    if (b->cache_type == BLOCK_CACHE_WRITEBACK && b->fd >= 0 &&
        fsync(b->fd) < 0)
        log_error("Failed to drain ops and flush block data: errno %d", errno);
    rate_limiter_fini(&b->rl);
    if (b->fd >= 0)
        close(b->fd);
    free(b->id);
    free(b->path);
    free(b);
}

struct virtio_mmio *block_transport(struct block *b)
{
    return &b->t;
}

int block_attach(struct block *b, const struct guest_mem *gm, int vm_fd,
                 uint64_t addr, struct evloop *loop)
{
    struct evloop_handler *hs[] = {&b->rl_h, &b->io_h};

    b->rl_h = (struct evloop_handler){b->rl.timer_fd, on_rl_timer, b};
    /* -1 (skipped) for the Sync engine. */
    b->io_h = (struct evloop_handler){b->io.completion_fd, on_completion, b};
    return virtio_dev_attach(&b->t, gm, vm_fd, addr, loop, hs, 2);
}

int block_update_path(struct block *b, const char *path, struct sq_err *err)
{
    uint8_t id[BLOCK_ID_BYTES];
    uint64_t nsectors;
    int fd = -1, rc;

    rc = open_backing(path, -1, b->read_only, &fd, &nsectors, id, err);
    if (rc < 0) {
        metrics_counter_inc(&b->m->update_fails);
        return rc;
    }
    bus_dev_lock(&b->t.bus);
    /* Requests in flight on the old file complete first (upstream drains). */
    if (b->t.activated && b->io.kind == BLOCK_IO_ASYNC) {
        block_io_kick(&b->io);
        reap_completions(b, true);
    }
    rc = block_io_set_fd(&b->io, fd);
    if (rc < 0) {
        bus_dev_unlock(&b->t.bus);
        close(fd);
        metrics_counter_inc(&b->m->update_fails);
        return sq_errf(err, rc,
                       "Virtio backend error: Error coming from the "
                       "IO engine: Async error: IoUring: Could not "
                       "register file");
    }
    close(b->fd);
    b->fd = fd;
    b->nsectors = nsectors;
    memcpy(b->image_id, id, sizeof(id));
    set_capacity(b);
    free(b->path);
    b->path = xstrdup(path);
    if (b->t.activated)
        virtio_mmio_signal_config(&b->t);
    bus_dev_unlock(&b->t.bus);
    metrics_counter_inc(&b->m->update_count);
    return 0;
}

void block_update_rate_limiter(struct block *b,
                               const struct rate_limiter_params *p)
{
    rate_limiter_patch(&b->rl, p);
}

unsigned block_in_flight(const struct block *b)
{
    return b->io.inflight;
}

uint64_t block_nsectors(const struct block *b)
{
    return b->nsectors;
}

const uint8_t *block_image_id(const struct block *b)
{
    return b->image_id;
}

struct rate_limiter *block_rate_limiter(struct block *b)
{
    return &b->rl;
}

const char *block_path(const struct block *b)
{
    return b->path;
}
