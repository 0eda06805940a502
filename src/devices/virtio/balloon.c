/*
 * balloon.c: virtio memory balloon (balloon.h), upstream's Balloon in C:
 * the config space, the five queues, the statistics timer and the
 * operations behind the /balloon API routes. The page-range helpers are in
 * balloon_util.c.
 */
#include "devices/virtio/balloon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/balloon_int.h"
#include "devices/virtio/virtio_dev.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/xalloc.h"

#define SIZE_OF_PFN 4u
#define MAX_QUEUES  5

struct balloon {
    struct virtio_mmio t;
    struct metrics_balloon *m;

    /* Fixed at creation. */
    bool has_stats_vq; /* upstream: interval > 0 when created */
    bool hinting;
    bool reporting;
    bool deflate_on_oom;
    int stats_idx, hint_idx, report_idx; /* -1 when not offered */

    /* Under t.bus.lock. */
    uint32_t num_pages;
    uint32_t actual_pages;
    uint32_t hint_cmd_id; /* config space's free_page_hint_cmd_id */
    uint16_t interval_s;
    bool has_stats_desc; /* the guest's stats buffer is held */
    uint16_t stats_desc;
    struct balloon_dev_stats stats; /* the guest's part (has/value) */
    /* Hinting: upstream's HintingState. */
    uint32_t host_cmd;
    uint32_t last_cmd_id;
    bool has_guest_cmd;
    uint32_t guest_cmd;
    bool ack_on_finish;
    uint64_t discard_fails;

    void (*changed)(void *opaque); /* balloon_params.changed */
    void *changed_opaque;

    int timer_fd;               /* owned timerfd */
    struct evloop_handler tm_h; /* the timer on the loop (virtio_dev.h) */
    int cfg_fd;                 /* owned eventfd: the driver moved `actual` */
    struct evloop_handler cfg_h;

    /* Scratch, only used while processing a queue. */
    struct virtq_chain chain;
    uint32_t pfns[BALLOON_PFN_BUFFER];
    struct balloon_range ranges[BALLOON_PFN_BUFFER];
};

/* ---- config space ---- */

static void config_bytes(const struct balloon *b,
                         uint8_t out[BALLOON_CONFIG_LEN])
{
    const uint32_t w[3] = {b->num_pages, b->actual_pages, b->hint_cmd_id};

    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++)
            out[i * 4 + j] = (uint8_t)(w[i] >> (8 * j));
}

static void balloon_read_config(void *dev, uint64_t off, uint8_t *data,
                                uint32_t len)
{
    uint8_t cfg[BALLOON_CONFIG_LEN];

    config_bytes(dev, cfg);
    for (uint32_t i = 0; i < len; i++)
        data[i] = off + i < BALLOON_CONFIG_LEN ? cfg[off + i] : 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* The driver writes `actual` (and may write any in-bounds bytes, as
 * upstream lets it). */
static void balloon_write_config(void *dev, uint64_t off, const uint8_t *data,
                                 uint32_t len)
{
    struct balloon *b = dev;
    uint8_t cfg[BALLOON_CONFIG_LEN];

    if (off > BALLOON_CONFIG_LEN || len > BALLOON_CONFIG_LEN - off) {
        log_warn_rl("virtio-balloon: guest driver attempted to write device "
                    "config out of bounds (offset=%#llx, len=%#x)",
                    (unsigned long long)off, len);
        return;
    }
    config_bytes(b, cfg);
    memcpy(cfg + off, data, len);
    b->num_pages = le32(cfg);
    if (le32(cfg + 4) != b->actual_pages && b->cfg_fd >= 0)
        evloop_eventfd_signal(b->cfg_fd); /* GETs show it (on_cfg) */
    b->actual_pages = le32(cfg + 4);
    b->hint_cmd_id = le32(cfg + 8);
}

/* ---- queues ---- */

static void signal_used(struct balloon *b, struct virtq *q)
{
    if (virtq_should_notify(q) && virtio_mmio_signal_used(&b->t) < 0) {
        log_error_rl("balloon: failed to signal the used queue");
        metrics_counter_inc(&b->m->event_fails);
    }
}

/* virtq_pop() with upstream's answer to a corrupt ring (it panics; we
 * ask for a reset). 1 chain, 0 empty, -1 broken ring. */
static int pop(struct balloon *b, struct virtq *q)
{
    int rc = virtq_pop(q, &b->chain);

    if (rc < 0) {
        log_error_rl("balloon: the driver corrupted the available ring; "
                     "the device needs a reset");
        metrics_counter_inc(&b->m->event_fails);
        virtio_mmio_set_needs_reset(&b->t);
        return -1;
    }
    return rc;
}

/* Return head `id` with 0 bytes written; false if the ring refused. */
static bool put(struct balloon *b, struct virtq *q, uint16_t id)
{
    if (virtq_add_used(q, id, 0) < 0) {
        log_error_rl("balloon: could not add a used descriptor");
        metrics_counter_inc(&b->m->event_fails);
        return false;
    }
    return true;
}

static void discard_pfns(struct balloon *b, size_t n)
{
    size_t n_ranges = balloon_compact_pfns(b->pfns, n, b->ranges);

    for (size_t i = 0; i < n_ranges; i++) {
        gpa_t gpa = (gpa_t)b->ranges[i].pfn << BALLOON_PFN_SHIFT;
        uint64_t len = (uint64_t)b->ranges[i].len << BALLOON_PFN_SHIFT;
        int rc = balloon_discard(b->t.gm, gpa, len);

        if (rc < 0) {
            b->discard_fails++;
            log_error_rl("Error removing memory range: %#llx+%#llx: "
                         "errno %d",
                         (unsigned long long)gpa, (unsigned long long)len, -rc);
        }
    }
}

/*
 * Take the PFNs of the chain just popped into pfns[n..]; returns the new
 * count, or SIZE_MAX if they do not fit (the chain must be put back).
 */
static size_t take_pfns(struct balloon *b, size_t n)
{
    const struct virtq_buf *h = &b->chain.bufs[0];
    size_t count;

    if (b->chain.n == 0 || h->is_write || h->len % SIZE_OF_PFN)
        return n; /* returned unread, as upstream */
    count = h->len / SIZE_OF_PFN;
    if (count > BALLOON_MAX_PAGES_IN_DESC) {
        /* Upstream skips it without returning it; we return it. */
        log_error_rl("Inflate descriptor has bogus page count %zu > %u, "
                     "skipping.",
                     count, BALLOON_MAX_PAGES_IN_DESC);
        return n;
    }
    if (BALLOON_PFN_BUFFER - n < count)
        return SIZE_MAX;
    if (!h->hva) {
        log_error_rl("balloon: inflate buffer outside guest memory");
        metrics_counter_inc(&b->m->event_fails);
        return n;
    }
    memcpy(&b->pfns[n], h->hva, count * SIZE_OF_PFN);
    return n + count;
}

static void process_inflate(struct balloon *b)
{
    struct virtq *q = &b->t.queues[BALLOON_INFLATE_INDEX];
    bool used_any = false, more = true;

    metrics_counter_inc(&b->m->inflate_count);
    while (more) {
        size_t n = 0;

        more = false;
        for (;;) {
            size_t next;
            int rc = pop(b, q);

            if (rc <= 0)
                break;
            next = take_pfns(b, n);
            if (next == SIZE_MAX) {
                /* The buffer is full: release what we have, then come
                 * back for this chain. */
                virtq_undo_pop(q);
                more = true;
                break;
            }
            n = next;
            if (!put(b, q, b->chain.head))
                break;
            used_any = true;
        }
        discard_pfns(b, n);
    }
    virtq_flush_used(q);
    if (used_any)
        signal_used(b, q);
}

static void process_deflate(struct balloon *b)
{
    struct virtq *q = &b->t.queues[BALLOON_DEFLATE_INDEX];
    bool used_any = false;

    metrics_counter_inc(&b->m->deflate_count);
    while (pop(b, q) > 0) {
        if (!put(b, q, b->chain.head))
            break;
        used_any = true;
    }
    virtq_flush_used(q);
    if (used_any)
        signal_used(b, q);
}

static void parse_stats(struct balloon *b, const uint8_t *p, uint32_t len)
{
    for (uint32_t off = 0; len - off >= BALLOON_STAT_LEN;
         off += BALLOON_STAT_LEN) {
        uint16_t tag = (uint16_t)(p[off] | p[off + 1] << 8);
        uint64_t val = 0;

        for (unsigned i = 0; i < 8; i++)
            val |= (uint64_t)p[off + 2 + i] << (8 * i);
        if (tag < BALLOON_N_STATS) {
            b->stats.has[tag] = true;
            b->stats.value[tag] = val;
        } else {
            metrics_counter_inc(&b->m->stats_update_fails);
            log_debug("balloon: unknown stats update tag: %u", tag);
        }
    }
}

/* Give the held stats buffer back: the guest refills it and returns it. */
static void give_back_stats(struct balloon *b)
{
    struct virtq *q = &b->t.queues[b->stats_idx];

    b->has_stats_desc = false;
    if (!put(b, q, b->stats_desc))
        return;
    virtq_flush_used(q);
    signal_used(b, q);
}

static void process_stats(struct balloon *b)
{
    struct virtq *q = &b->t.queues[b->stats_idx];

    metrics_counter_inc(&b->m->stats_updates_count);
    while (pop(b, q) > 0) {
        const struct virtq_buf *h = &b->chain.bufs[0];

        if (b->has_stats_desc) {
            /* A compliant driver keeps one buffer with us. */
            log_error_rl("balloon: driver is not compliant, more than one "
                         "stats buffer received");
            give_back_stats(b);
        }
        if (b->chain.n == 0) {
            /* Cannot happen: a popped chain has its head. */
        } else if (h->len > BALLOON_MAX_STATS_LEN) {
            log_warn_rl("balloon: stats descriptor too large: %u > %u, "
                        "skipping",
                        h->len, BALLOON_MAX_STATS_LEN);
        } else if (!h->hva) {
            log_error_rl("balloon: stats buffer outside guest memory");
            metrics_counter_inc(&b->m->event_fails);
        } else {
            parse_stats(b, h->hva, h->len);
        }
        /* Held even when unreadable, so the request/answer cycle goes on. */
        b->has_stats_desc = true;
        b->stats_desc = b->chain.head;
    }
}

static int set_hint_cmd(struct balloon *b, uint32_t cmd)
{
    if (!b->t.activated)
        return -ENODEV;
    b->host_cmd = cmd;
    b->hint_cmd_id = cmd;
    return virtio_mmio_signal_config(&b->t);
}

/* One buffer of a hinting chain; sets *complete as upstream. */
static void hint_buf(struct balloon *b, const struct virtq_buf *d,
                     uint32_t host_cmd, bool *complete)
{
    int rc;

    if (d->len == 4) {
        *complete = false;
        if (!d->hva) {
            log_error_rl("balloon hinting: command outside guest memory");
            metrics_counter_inc(&b->m->event_fails);
            return;
        }
        b->guest_cmd = le32(d->hva);
        b->has_guest_cmd = true;
        if (b->guest_cmd == BALLOON_HINT_CMD_STOP)
            *complete = true;
        if (b->guest_cmd == BALLOON_HINT_CMD_DONE) {
            log_warn_rl("balloon hinting: Unexpected cmd from guest: %u",
                        b->guest_cmd);
            *complete = true;
        }
        return;
    }
    if (host_cmd == BALLOON_HINT_CMD_DONE || host_cmd == BALLOON_HINT_CMD_STOP)
        return;
    if (!b->has_guest_cmd) {
        log_warn_rl("balloon hinting: received range with no command id.");
        return;
    }
    if (b->guest_cmd != host_cmd) {
        log_info_rl("balloon hinting: Received chain from previous command "
                    "ignoring.");
        return;
    }
    metrics_counter_inc(&b->m->free_page_hint_count);
    rc = balloon_discard(b->t.gm, d->gpa, d->len);
    if (rc < 0) {
        metrics_counter_inc(&b->m->free_page_hint_fails);
        log_error_rl("balloon hinting: failed to remove range: errno %d", -rc);
    } else {
        metrics_counter_add(&b->m->free_page_hint_freed, d->len);
    }
}

static void process_hinting(struct balloon *b)
{
    struct virtq *q = &b->t.queues[b->hint_idx];
    uint32_t host_cmd = b->host_cmd;
    bool used_any = false, complete = false;

    while (pop(b, q) > 0) {
        for (uint16_t i = 0; i < b->chain.n; i++)
            hint_buf(b, &b->chain.bufs[i], host_cmd, &complete);
        if (!put(b, q, b->chain.head))
            break;
        used_any = true;
    }
    virtq_flush_used(q);
    if (used_any)
        signal_used(b, q);
    if (complete && b->ack_on_finish &&
        set_hint_cmd(b, BALLOON_HINT_CMD_DONE) < 0)
        metrics_counter_inc(&b->m->event_fails);
}

static void process_reporting(struct balloon *b)
{
    struct virtq *q = &b->t.queues[b->report_idx];
    bool used_any = false;

    while (pop(b, q) > 0) {
        for (uint16_t i = 0; i < b->chain.n; i++) {
            const struct virtq_buf *d = &b->chain.bufs[i];
            int rc;

            metrics_counter_inc(&b->m->free_page_report_count);
            rc = balloon_discard(b->t.gm, d->gpa, d->len);
            if (rc < 0) {
                metrics_counter_inc(&b->m->free_page_report_fails);
                log_error_rl("balloon: failed to remove range: errno %d", -rc);
            } else {
                metrics_counter_add(&b->m->free_page_report_freed, d->len);
            }
        }
        if (!put(b, q, b->chain.head))
            break;
        used_any = true;
    }
    virtq_flush_used(q);
    if (used_any)
        signal_used(b, q);
}

static void note_changed(struct balloon *b)
{
    if (b->changed)
        b->changed(b->changed_opaque);
}

static void balloon_queue_notify(void *dev, uint16_t qi)
{
    struct balloon *b = dev;

    if (qi == BALLOON_INFLATE_INDEX) {
        process_inflate(b);
    } else if (qi == BALLOON_DEFLATE_INDEX) {
        process_deflate(b);
    } else if ((int)qi == b->stats_idx) {
        process_stats(b);
        note_changed(b);
    } else if ((int)qi == b->hint_idx) {
        process_hinting(b);
        note_changed(b);
    } else if ((int)qi == b->report_idx) {
        process_reporting(b);
    }
}

/* ---- lifecycle ---- */

static void arm_timer(struct balloon *b)
{
    uint64_t ms = (uint64_t)b->interval_s * 1000;

    if (evloop_timerfd_arm(b->timer_fd, ms, ms) < 0)
        log_error_rl("balloon: cannot arm the statistics timer");
}

static int balloon_activate(void *dev)
{
    struct balloon *b = dev;

    if (b->has_stats_vq && b->interval_s > 0)
        arm_timer(b);
    return 0;
}

static bool balloon_reset(void *dev)
{
    struct balloon *b = dev;

    b->actual_pages = 0;
    b->hint_cmd_id = BALLOON_HINT_CMD_STOP;
    evloop_timerfd_arm(b->timer_fd, 0, 0);
    b->has_stats_desc = false;
    memset(&b->stats, 0, sizeof(b->stats));
    b->host_cmd = BALLOON_HINT_CMD_STOP;
    b->last_cmd_id = 0;
    b->has_guest_cmd = false;
    b->guest_cmd = 0;
    b->ack_on_finish = false;
    return true;
}

static const struct virtio_dev_ops balloon_ops = {
    .device_type = SQ_VIRTIO_ID_BALLOON,
    .read_config = balloon_read_config,
    .write_config = balloon_write_config,
    .activate = balloon_activate,
    .reset = balloon_reset,
    .queue_notify = balloon_queue_notify,
};

void balloon_stats_timer_event(struct balloon *b)
{
    uint64_t ticks;

    bus_dev_lock(&b->t.bus);
    /* Drain first: a level-triggered timerfd left readable spins the
     * loop. EAGAIN (tests call this without a tick) is fine. */
    if (read(b->timer_fd, &ticks, sizeof(ticks)) < 0)
        ticks = 0;
    if (b->t.activated && b->has_stats_vq) {
        if (b->has_stats_desc)
            give_back_stats(b);
        else
            log_error_rl("Failed to update balloon stats, missing "
                         "descriptor.");
        /* The guest's `actual` may have moved since the last look. */
        note_changed(b);
    }
    bus_dev_unlock(&b->t.bus);
}

static void on_timer(struct evloop *loop, struct evloop_handler *h,
                     uint32_t events)
{
    (void)loop;
    (void)events;
    balloon_stats_timer_event(h->opaque);
}

/* The driver wrote a new `actual` (on a vCPU thread): the answers to GET
 * /balloon/statistics change, as upstream's read it live. */
static void on_cfg(struct evloop *loop, struct evloop_handler *h,
                   uint32_t events)
{
    struct balloon *b = h->opaque;

    (void)loop;
    (void)events;
    evloop_eventfd_drain(b->cfg_fd);
    note_changed(b);
}

int balloon_new(const struct balloon_params *p, struct balloon **out,
                struct sq_err *err)
{
    static const uint16_t sizes[MAX_QUEUES] = {
        BALLOON_QUEUE_SIZE, BALLOON_QUEUE_SIZE, BALLOON_QUEUE_SIZE,
        BALLOON_QUEUE_SIZE, BALLOON_QUEUE_SIZE};
    uint64_t features = 0;
    size_t n_queues = 2;
    struct balloon *b;
    char os[128];
    int rc;

    if (p->amount_mib > UINT32_MAX / BALLOON_PAGES_PER_MIB)
        return sq_errf(err, -EINVAL,
                       "Requested memory should be less than %uMiB",
                       UINT32_MAX / BALLOON_PAGES_PER_MIB);
    b = xcalloc(1, sizeof(*b));
    b->t.irq_fd = -1;
    for (size_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        b->t.queue_fd[i] = -1;
    b->stats_idx = b->hint_idx = b->report_idx = -1;
    if (p->deflate_on_oom)
        features |= 1ULL << SQ_VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    if (p->stats_polling_interval_s > 0) {
        features |= 1ULL << SQ_VIRTIO_BALLOON_F_STATS_VQ;
        b->stats_idx = (int)n_queues++;
    }
    if (p->free_page_hinting) {
        log_warn("Free Page Hinting is in development preview.");
        features |= 1ULL << SQ_VIRTIO_BALLOON_F_FREE_PAGE_HINT;
        b->hint_idx = (int)n_queues++;
    }
    if (p->free_page_reporting) {
        features |= 1ULL << SQ_VIRTIO_BALLOON_F_PAGE_REPORTING;
        b->report_idx = (int)n_queues++;
    }
    b->has_stats_vq = b->stats_idx >= 0;
    b->hinting = p->free_page_hinting;
    b->reporting = p->free_page_reporting;
    b->deflate_on_oom = p->deflate_on_oom;
    b->changed = p->changed;
    b->changed_opaque = p->changed_opaque;
    b->interval_s = p->stats_polling_interval_s;
    b->num_pages = p->amount_mib * BALLOON_PAGES_PER_MIB;
    b->m = metrics_balloon();
    b->cfg_fd = -1;
    b->timer_fd = evloop_timerfd_new();
    if (b->timer_fd < 0) {
        rc = b->timer_fd;
        sq_errf(err, rc, "EventFd error: %s", sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    b->cfg_fd = evloop_eventfd_new();
    if (b->cfg_fd < 0) {
        rc = b->cfg_fd;
        sq_errf(err, rc, "EventFd error: %s", sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    rc = virtio_mmio_init(&b->t, "virtio-balloon", &balloon_ops, b, features,
                          n_queues, sizes);
    if (rc < 0) {
        sq_errf(err, rc, "EventFd error: %s", sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    *out = b;
    return 0;
fail:
    balloon_free(b);
    return rc;
}

void balloon_detach(struct balloon *b)
{
    struct evloop_handler *hs[] = {&b->tm_h, &b->cfg_h};

    virtio_dev_detach(&b->t, hs, 2);
}

void balloon_free(struct balloon *b)
{
    if (!b)
        return;
    balloon_detach(b);
    virtio_mmio_fini(&b->t);
    if (b->timer_fd >= 0)
        close(b->timer_fd);
    if (b->cfg_fd >= 0)
        close(b->cfg_fd);
    free(b);
}

struct virtio_mmio *balloon_transport(struct balloon *b)
{
    return &b->t;
}

int balloon_attach(struct balloon *b, const struct guest_mem *gm, int vm_fd,
                   uint64_t addr, struct evloop *loop)
{
    struct evloop_handler *hs[] = {&b->tm_h, &b->cfg_h};

    /* Only a device with a stats queue watches its timer, as upstream. */
    b->tm_h = (struct evloop_handler){b->has_stats_vq ? b->timer_fd : -1,
                                      on_timer, b};
    b->cfg_h = (struct evloop_handler){b->cfg_fd, on_cfg, b};
    return virtio_dev_attach(&b->t, gm, vm_fd, addr, loop, hs, 2);
}

int balloon_stats_timer_fd(const struct balloon *b)
{
    return b->timer_fd;
}

int balloon_config_event_fd(const struct balloon *b)
{
    return b->cfg_fd;
}

uint64_t balloon_discard_failures(struct balloon *b)
{
    uint64_t n;

    bus_dev_lock(&b->t.bus);
    n = b->discard_fails;
    bus_dev_unlock(&b->t.bus);
    return n;
}

/* ---- the API's operations ---- */

#define ERR_NOT_ACTIVE "Device not activated yet."
#define ERR_NO_HINTING "Attempting to use hinting when not enabled"

void balloon_get_config(struct balloon *b, struct balloon_params *out)
{
    bus_dev_lock(&b->t.bus);
    out->amount_mib = b->num_pages / BALLOON_PAGES_PER_MIB;
    out->deflate_on_oom = b->deflate_on_oom;
    out->stats_polling_interval_s = b->interval_s;
    out->free_page_hinting = b->hinting;
    out->free_page_reporting = b->reporting;
    bus_dev_unlock(&b->t.bus);
}

int balloon_update_size(struct balloon *b, uint32_t amount_mib,
                        struct sq_err *err)
{
    int rc = 0;

    bus_dev_lock(&b->t.bus);
    if (!b->t.activated) {
        rc = sq_errf(err, -ENODEV, ERR_NOT_ACTIVE);
    } else if ((uint64_t)amount_mib > guest_mem_size(b->t.gm) >> 20 ||
               amount_mib > UINT32_MAX / BALLOON_PAGES_PER_MIB) {
        rc = sq_errf(err, -EINVAL, "Requested memory should be less than %uMiB",
                     amount_mib);
    } else {
        b->num_pages = amount_mib * BALLOON_PAGES_PER_MIB;
        rc = virtio_mmio_signal_config(&b->t);
        if (rc < 0)
            sq_errf(err, rc,
                    "Received error while sending an interrupt: "
                    "interrupt failed");
    }
    bus_dev_unlock(&b->t.bus);
    return rc;
}

int balloon_update_stats_interval(struct balloon *b, uint16_t interval_s,
                                  struct sq_err *err)
{
    int rc = 0;

    bus_dev_lock(&b->t.bus);
    if (b->interval_s == interval_s)
        goto out;
    if (b->interval_s == 0 || interval_s == 0) {
        rc = sq_errf(err, -EINVAL,
                     "Statistics cannot be enabled/disabled "
                     "after activation.");
        goto out;
    }
    /* Answer now so that the new period starts from fresh numbers. */
    if (b->t.activated && b->has_stats_desc)
        give_back_stats(b);
    else
        log_error("Failed to update balloon stats, missing descriptor.");
    b->interval_s = interval_s;
    arm_timer(b);
out:
    bus_dev_unlock(&b->t.bus);
    return rc;
}

int balloon_get_stats(struct balloon *b, struct balloon_dev_stats *out,
                      struct sq_err *err)
{
    int rc = 0;

    bus_dev_lock(&b->t.bus);
    if (b->interval_s == 0) {
        rc = sq_errf(err, -EINVAL,
                     "Received stats query when stats are disabled.");
    } else {
        *out = b->stats;
        out->target_pages = b->num_pages;
        out->actual_pages = b->actual_pages;
        out->target_mib = b->num_pages / BALLOON_PAGES_PER_MIB;
        out->actual_mib = b->actual_pages / BALLOON_PAGES_PER_MIB;
    }
    bus_dev_unlock(&b->t.bus);
    return rc;
}

static int hint_cmd_err(int rc, struct sq_err *err)
{
    if (rc == -ENODEV)
        return sq_errf(err, rc, ERR_NOT_ACTIVE);
    if (rc < 0)
        return sq_errf(err, rc,
                       "Received error while sending an interrupt: "
                       "interrupt failed");
    return 0;
}

int balloon_start_hinting(struct balloon *b, bool acknowledge_on_stop,
                          struct sq_err *err)
{
    int rc;

    if (!b->hinting)
        return sq_errf(err, -EINVAL, ERR_NO_HINTING);
    bus_dev_lock(&b->t.bus);
    b->last_cmd_id++;
    if (b->last_cmd_id <= BALLOON_HINT_CMD_DONE)
        b->last_cmd_id = 2;
    b->ack_on_finish = acknowledge_on_stop;
    rc = hint_cmd_err(set_hint_cmd(b, b->last_cmd_id), err);
    bus_dev_unlock(&b->t.bus);
    return rc;
}

int balloon_stop_hinting(struct balloon *b, struct sq_err *err)
{
    int rc;

    if (!b->hinting)
        return sq_errf(err, -EINVAL, ERR_NO_HINTING);
    bus_dev_lock(&b->t.bus);
    rc = hint_cmd_err(set_hint_cmd(b, BALLOON_HINT_CMD_DONE), err);
    bus_dev_unlock(&b->t.bus);
    return rc;
}

int balloon_hinting_status(struct balloon *b, struct balloon_dev_hinting *out,
                           struct sq_err *err)
{
    if (!b->hinting)
        return sq_errf(err, -EINVAL, ERR_NO_HINTING);
    bus_dev_lock(&b->t.bus);
    out->host_cmd = b->host_cmd;
    out->has_guest_cmd = b->has_guest_cmd;
    out->guest_cmd = b->guest_cmd;
    bus_dev_unlock(&b->t.bus);
    return 0;
}

/* ---- snapshot ---- */

void balloon_save_state(struct balloon *b, struct balloon_state *out)
{
    memset(out, 0, sizeof(*out));
    bus_dev_lock(&b->t.bus);
    out->num_pages = b->num_pages;
    out->actual_pages = b->actual_pages;
    out->interval_s = b->interval_s;
    out->has_stats_desc = b->has_stats_desc;
    out->stats_desc = b->stats_desc;
    memcpy(out->has, b->stats.has, sizeof(out->has));
    memcpy(out->value, b->stats.value, sizeof(out->value));
    out->hint_cmd_id = b->hint_cmd_id;
    out->host_cmd = b->host_cmd;
    out->last_cmd_id = b->last_cmd_id;
    out->has_guest_cmd = b->has_guest_cmd;
    out->guest_cmd = b->guest_cmd;
    out->ack_on_finish = b->ack_on_finish;
    bus_dev_unlock(&b->t.bus);
}

int balloon_restore_state(struct balloon *b, const struct balloon_state *s,
                          struct sq_err *err)
{
    if ((s->interval_s > 0) != b->has_stats_vq)
        return sq_errf(err, -EINVAL,
                       "statistics interval %u for a device %s a statistics "
                       "queue",
                       (unsigned)s->interval_s,
                       b->has_stats_vq ? "with" : "without");
    if (s->has_stats_desc &&
        (!b->has_stats_vq || s->stats_desc >= BALLOON_QUEUE_SIZE))
        return sq_errf(err, -EINVAL,
                       "held statistics buffer %u is not in "
                       "the statistics queue",
                       (unsigned)s->stats_desc);
    bus_dev_lock(&b->t.bus);
    b->num_pages = s->num_pages;
    b->actual_pages = s->actual_pages;
    b->interval_s = s->interval_s;
    b->has_stats_desc = s->has_stats_desc;
    b->stats_desc = s->stats_desc;
    memcpy(b->stats.has, s->has, sizeof(s->has));
    memcpy(b->stats.value, s->value, sizeof(s->value));
    b->hint_cmd_id = s->hint_cmd_id;
    b->host_cmd = s->host_cmd;
    b->last_cmd_id = s->last_cmd_id;
    b->has_guest_cmd = s->has_guest_cmd;
    b->guest_cmd = s->guest_cmd;
    b->ack_on_finish = s->ack_on_finish;
    bus_dev_unlock(&b->t.bus);
    return 0;
}
