/*
 * pmem.c: virtio persistent-memory device (pmem.h), upstream's Pmem in C:
 * the backing file's mapping, the 16-byte config space and the FLUSH
 * request queue.
 */
#include "devices/virtio/pmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/virtio_dev.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/xalloc.h"

struct pmem {
    struct virtio_mmio t;
    struct rate_limiter rl;
    struct evloop_handler rl_h; /* the limiter's timer (virtio_dev.h) */
    struct metrics_pmem *m;

    uint8_t *map;      /* owned mapping of map_len bytes; NULL if none */
    uint64_t map_len;  /* file_len rounded up to PMEM_ALIGNMENT */
    uint64_t file_len; /* > 0 */
    bool read_only;
    gpa_t gpa; /* the window's guest address (config `start`) */

    struct virtq_chain chain; /* scratch */
};

/* ---- The backing file ---------------------------------------------------- */

/*
 * Map `fd` (file_len bytes) as upstream's PmemMmap: one shared mapping when
 * the length is already aligned; otherwise reserve the aligned length with
 * private anonymous memory and map the file over its start, so the guest
 * window is a whole number of 2 MiB units. 0 or -errno.
 */
static int map_file(struct pmem *pm, int fd)
{
    int prot = PROT_READ | (pm->read_only ? 0 : PROT_WRITE);
    void *base;

    pm->map_len = (pm->file_len + PMEM_ALIGNMENT - 1) & ~(PMEM_ALIGNMENT - 1);
    if (pm->map_len < pm->file_len || pm->map_len > SIZE_MAX)
        return -EFBIG;
    if (pm->map_len == pm->file_len) {
        base = mmap(NULL, (size_t)pm->file_len, prot,
                    MAP_SHARED | MAP_NORESERVE, fd, 0);
        if (base == MAP_FAILED)
            return -errno;
        pm->map = base;
        return 0;
    }
    base = mmap(NULL, (size_t)pm->map_len, prot,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return -errno;
    pm->map = base; /* from here pmem_free() unmaps it */
    if (mmap(base, (size_t)pm->file_len, prot,
             MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0) == MAP_FAILED)
        return -errno;
    return 0;
}

/* Open, size and map the file; err set on failure. */
static int open_backing(struct pmem *pm, const char *path, struct sq_err *err)
{
    struct stat st;
    char os[128];
    int fd, rc;

    fd = open(path, (pm->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        goto os_fail;
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto os_fail;
    }
    if (st.st_size <= 0) {
        close(fd);
        return sq_errf(err, -EINVAL, "Error backing file size is 0");
    }
    pm->file_len = (uint64_t)st.st_size;
    rc = map_file(pm, fd);
    if (rc < 0)
        goto os_fail;
    close(fd); /* the mapping keeps the file */
    return 0;
os_fail:
    if (fd >= 0)
        close(fd);
    return sq_errf(err, rc, "Error accessing backing file: %s",
                   sq_os_error(-rc, os, sizeof(os)));
}

/* ---- Requests ------------------------------------------------------------ */

/* Why a request is refused (upstream's PmemError, for the log). */
enum req_err {
    REQ_OK,
    REQ_WRITE_ONLY_HEAD,
    REQ_BAD_HEAD_LEN,
    REQ_BAD_TYPE,
    REQ_TOO_SHORT,
    REQ_READ_ONLY_STATUS,
    REQ_BAD_STATUS_LEN,
    REQ_GUEST_MEMORY,
};

static const char *const req_err_text[] = {
    [REQ_OK] = "ok",
    [REQ_WRITE_ONLY_HEAD] = "Unexpected write-only descriptor",
    [REQ_BAD_HEAD_LEN] = "Head descriptor has invalid length",
    [REQ_BAD_TYPE] = "UnknownRequestType",
    [REQ_TOO_SHORT] = "Descriptor chain too short",
    [REQ_READ_ONLY_STATUS] = "Unexpected read-only descriptor",
    [REQ_BAD_STATUS_LEN] = "Status descriptor has invalid length",
    [REQ_GUEST_MEMORY] = "Guest memory error",
};

/* msync the file's bytes: the FLUSH status. */
static int32_t flush_file(struct pmem *pm)
{
    if (msync(pm->map, (size_t)pm->file_len, MS_SYNC) < 0) {
        log_error_rl("pmem: Unable to msync the file. Error: %d", -errno);
        return PMEM_STATUS_FAILURE;
    }
    return PMEM_STATUS_OK;
}

/*
 * One chain, in upstream's order of checks. Only the first two buffers
 * matter (the walk's bufs[] holds those even when a later link was bad).
 * *cached is the batch's msync status, or 1 before the first sync.
 */
static enum req_err process_chain(struct pmem *pm, const struct virtq_chain *c,
                                  int32_t *cached)
{
    const struct virtq_buf *head = &c->bufs[0], *st;
    uint32_t type;

    if (c->n == 0)
        return REQ_TOO_SHORT; /* a walk always gives the head; defensive */
    if (head->is_write)
        return REQ_WRITE_ONLY_HEAD;
    if (head->len != 4)
        return REQ_BAD_HEAD_LEN;
    if (!head->hva)
        return REQ_GUEST_MEMORY;
    memcpy(&type, head->hva, 4);
    if (type != PMEM_REQ_TYPE_FLUSH)
        return REQ_BAD_TYPE;
    if (c->n < 2)
        return REQ_TOO_SHORT;
    st = &c->bufs[1];
    if (!st->is_write)
        return REQ_READ_ONLY_STATUS;
    if (st->len != 4)
        return REQ_BAD_STATUS_LEN;
    if (*cached == 1)
        *cached = flush_file(pm);
    if (!st->hva)
        return REQ_GUEST_MEMORY;
    memcpy(st->hva, cached, 4);
    return REQ_OK;
}

/* Pay for one batch: one op and the file's length (upstream). */
static bool rate_limit_batch(struct pmem *pm)
{
    if (!rate_limiter_consume(&pm->rl, 1, RL_TOKEN_OPS))
        return false;
    if (!rate_limiter_consume(&pm->rl, pm->file_len, RL_TOKEN_BYTES)) {
        rate_limiter_replenish(&pm->rl, 1, RL_TOKEN_OPS);
        return false;
    }
    return true;
}

/* Upstream's handle_queue. Lock held, device active. */
static void handle_queue(struct pmem *pm)
{
    struct virtq *q = &pm->t.queues[0];
    int32_t cached = 1; /* no msync yet */
    bool used_any = false;

    if (virtq_pending(q) == 0)
        return;
    if (!rate_limit_batch(pm)) {
        metrics_counter_inc(&pm->m->rate_limiter_throttled_events);
        return;
    }
    for (;;) {
        enum req_err e;
        int rc = virtq_pop(q, &pm->chain);

        if (rc < 0) {
            log_error_rl("pmem: the driver corrupted the available ring; "
                         "the device needs a reset");
            metrics_counter_inc(&pm->m->event_fails);
            virtio_mmio_set_needs_reset(&pm->t);
            break;
        }
        if (rc == 0)
            break;
        e = process_chain(pm, &pm->chain, &cached);
        if (e == REQ_OK) /* the 4-byte status */
            virtq_chain_written(q, &pm->chain, 4);
        if (e != REQ_OK) {
            log_error_rl("pmem: %s", req_err_text[e]);
            metrics_counter_inc(&pm->m->event_fails);
        }
        if (virtq_add_used(q, pm->chain.head, e == REQ_OK ? 4 : 0) < 0) {
            log_error_rl("pmem: Could not add used descriptor to queue");
            metrics_counter_inc(&pm->m->event_fails);
            break;
        }
        used_any = true;
    }
    virtq_flush_used(q);
    if (used_any && virtq_should_notify(q) &&
        virtio_mmio_signal_used(&pm->t) < 0)
        metrics_counter_inc(&pm->m->event_fails);
}

/* ---- Transport callbacks --------------------------------------------------
 */

static void pmem_read_config(void *dev, uint64_t off, uint8_t *data,
                             uint32_t len)
{
    struct pmem *pm = dev;
    uint8_t cfg[PMEM_CONFIG_LEN];

    /* Little-endian host (x86_64), as the virtio config layout wants. */
    memcpy(cfg, &pm->gpa, 8);
    memcpy(cfg + 8, &pm->map_len, 8);
    for (uint32_t i = 0; i < len; i++)
        data[i] = off + i < sizeof(cfg) ? cfg[off + i] : 0;
}

static void pmem_write_config(void *dev, uint64_t off, const uint8_t *data,
                              uint32_t len)
{
    struct pmem *pm = dev;

    (void)data;
    metrics_counter_inc(&pm->m->cfg_fails);
    log_warn_rl("virtio-pmem: guest driver attempted to write device config "
                "(offset=%#llx, len=%#x)",
                (unsigned long long)off, len);
}

static void pmem_queue_notify(void *dev, uint16_t qi)
{
    struct pmem *pm = dev;

    (void)qi;
    metrics_counter_inc(&pm->m->queue_event_count);
    if (rate_limiter_is_blocked(&pm->rl))
        metrics_counter_inc(&pm->m->rate_limiter_throttled_events);
    else
        handle_queue(pm);
}

static bool pmem_reset(void *dev)
{
    (void)dev;
    return true; /* nothing in flight: every request completes at once */
}

static const struct virtio_dev_ops pmem_ops = {
    .device_type = SQ_VIRTIO_ID_PMEM,
    .read_config = pmem_read_config,
    .write_config = pmem_write_config,
    .reset = pmem_reset,
    .queue_notify = pmem_queue_notify,
};

void pmem_rate_limiter_event(struct pmem *pm)
{
    bus_dev_lock(&pm->t.bus);
    metrics_counter_inc(&pm->m->rate_limiter_event_count);
    if (rate_limiter_timer_event(&pm->rl) < 0) {
        log_error_rl("pmem: Failed to get rate-limiter event");
        metrics_counter_inc(&pm->m->event_fails);
    } else if (pm->t.activated) {
        handle_queue(pm);
    }
    bus_dev_unlock(&pm->t.bus);
}

static void on_rl_timer(struct evloop *loop, struct evloop_handler *h,
                        uint32_t events)
{
    (void)loop;
    (void)events;
    pmem_rate_limiter_event(h->opaque);
}

/* ---- Lifecycle ------------------------------------------------------------
 */

int pmem_new(const struct pmem_params *p, struct pmem **out, struct sq_err *err)
{
    static const uint16_t sizes[1] = {PMEM_QUEUE_SIZE};
    struct pmem *pm = xcalloc(1, sizeof(*pm));
    char os[128];
    int rc;

    pm->t.irq_fd = -1;
    for (size_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        pm->t.queue_fd[i] = -1;
    pm->rl.timer_fd = -1;
    pm->read_only = p->read_only;
    rc = open_backing(pm, p->path, err);
    if (rc < 0)
        goto fail;
    rc = rate_limiter_init(&pm->rl, p->rl);
    if (rc < 0) {
        pm->rl.timer_fd = -1;
        sq_errf(err, rc, "Error creating the rate limiter: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    rc = virtio_mmio_init(&pm->t, "virtio-pmem", &pmem_ops, pm, 0, 1, sizes);
    if (rc < 0) {
        sq_errf(err, rc, "Error with EventFd: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    pm->m = metrics_pmem_get(p->id);
    *out = pm;
    return 0;
fail:
    pmem_free(pm);
    return rc;
}

void pmem_detach(struct pmem *pm)
{
    struct evloop_handler *hs[] = {&pm->rl_h};

    virtio_dev_detach(&pm->t, hs, 1);
}

void pmem_free(struct pmem *pm)
{
    if (!pm)
        return;
    pmem_detach(pm);
    virtio_mmio_fini(&pm->t);
    rate_limiter_fini(&pm->rl);
    if (pm->map)
        munmap(pm->map, (size_t)pm->map_len);
    free(pm);
}

struct virtio_mmio *pmem_transport(struct pmem *pm)
{
    return &pm->t;
}

void pmem_host_region(const struct pmem *pm, struct pmem_region *out)
{
    out->hva = pm->map;
    out->size = pm->map_len;
    out->align = PMEM_ALIGNMENT;
    out->file_len = pm->file_len;
    out->read_only = pm->read_only;
}

int pmem_set_guest_addr(struct pmem *pm, gpa_t gpa)
{
    uint64_t end;

    if (gpa % PMEM_ALIGNMENT || __builtin_add_overflow(gpa, pm->map_len, &end))
        return -EINVAL;
    pm->gpa = gpa;
    return 0;
}

gpa_t pmem_guest_addr(const struct pmem *pm)
{
    return pm->gpa;
}

int pmem_attach(struct pmem *pm, const struct guest_mem *gm, int vm_fd,
                uint64_t addr, struct evloop *loop)
{
    struct evloop_handler *hs[] = {&pm->rl_h};

    pm->rl_h = (struct evloop_handler){pm->rl.timer_fd, on_rl_timer, pm};
    return virtio_dev_attach(&pm->t, gm, vm_fd, addr, loop, hs, 1);
}

void pmem_update_rate_limiter(struct pmem *pm,
                              const struct rate_limiter_params *rl)
{
    bus_dev_lock(&pm->t.bus);
    rate_limiter_patch(&pm->rl, rl);
    bus_dev_unlock(&pm->t.bus);
}

struct rate_limiter *pmem_rate_limiter(struct pmem *pm)
{
    return &pm->rl;
}

void pmem_save_state(struct pmem *pm, struct pmem_state *out)
{
    memset(out, 0, sizeof(*out));
    bus_dev_lock(&pm->t.bus);
    out->gpa = pm->gpa;
    out->size = pm->map_len;
    rate_limiter_save(&pm->rl, &out->rl);
    bus_dev_unlock(&pm->t.bus);
}

/* Upstream's PmemError::RestoredSizeMismatch. */
static int check_size(const struct pmem *pm, const struct pmem_state *s,
                      struct sq_err *err)
{
    if (s->size != pm->map_len)
        return sq_errf(err, -EINVAL,
                       "Restored pmem size %llu does not match backing file "
                       "mapping size %llu",
                       (unsigned long long)s->size,
                       (unsigned long long)pm->map_len);
    return 0;
}

int pmem_restore_window(struct pmem *pm, const struct pmem_state *s,
                        struct sq_err *err)
{
    int rc = check_size(pm, s, err);

    if (rc == 0 && pmem_set_guest_addr(pm, s->gpa) < 0)
        rc = sq_errf(err, -EINVAL,
                     "pmem state: saved window at %#llx is not 2 MiB aligned",
                     (unsigned long long)s->gpa);
    return rc;
}

int pmem_restore_state(struct pmem *pm, const struct pmem_state *s,
                       struct sq_err *err)
{
    int rc = check_size(pm, s, err);

    if (rc < 0)
        return rc;
    if (s->gpa != pm->gpa)
        return sq_errf(err, -EINVAL,
                       "pmem state: saved window at %#llx, built at %#llx",
                       (unsigned long long)s->gpa, (unsigned long long)pm->gpa);
    bus_dev_lock(&pm->t.bus);
    rc = rate_limiter_restore(&pm->rl, &s->rl);
    bus_dev_unlock(&pm->t.bus);
    if (rc < 0)
        return sq_errf(err, rc,
                       "Error restoring rate limiter: invalid input "
                       "parameter");
    return 0;
}
