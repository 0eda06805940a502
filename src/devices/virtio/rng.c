/*
 * rng.c: virtio entropy device (rng.h), upstream's Entropy in C.
 */
#include "devices/virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "devices/virtio/virtio_dev.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/xalloc.h"

struct rng {
    struct virtio_mmio t;
    struct rate_limiter rl;
    struct evloop_handler rl_h; /* the limiter's timer (virtio_dev.h) */
    struct metrics_entropy *m;
    struct virtq_chain chain; /* scratch */
};

/* Total writable length of a chain, or -EINVAL if it cannot take entropy. */
static int64_t chain_capacity(const struct virtq_chain *c)
{
    uint64_t total = 0;

    if (c->err != VIRTQ_CHAIN_OK)
        return -EINVAL;
    for (uint16_t i = 0; i < c->n; i++) {
        if (!c->bufs[i].is_write || (!c->bufs[i].hva && c->bufs[i].len))
            return -EINVAL;
        total += c->bufs[i].len; /* <= 256 * 4 GiB: no overflow */
    }
    return (int64_t)total;
}

/* Fill the first `len` bytes of the chain's buffers. 0 or -errno. */
static int fill(const struct virtq_chain *c, uint32_t len)
{
    for (uint16_t i = 0; i < c->n && len > 0; i++) {
        uint8_t *p = c->bufs[i].hva;
        uint32_t want = c->bufs[i].len < len ? c->bufs[i].len : len;

        len -= want;
        while (want > 0) {
            ssize_t n = getrandom(p, want, 0);

            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            p += n;
            want -= (uint32_t)n;
        }
    }
    return 0;
}

static bool rate_limit_request(struct rng *r, uint64_t bytes)
{
    if (!rate_limiter_consume(&r->rl, 1, RL_TOKEN_OPS))
        return false;
    if (!rate_limiter_consume(&r->rl, bytes, RL_TOKEN_BYTES)) {
        rate_limiter_replenish(&r->rl, 1, RL_TOKEN_OPS);
        return false;
    }
    return true;
}

/* Lock held, device active. */
static void process_queue(struct rng *r)
{
    struct virtq *q = &r->t.queues[0];
    bool used_any = false;

    for (;;) {
        int64_t cap;
        uint32_t bytes = 0;
        int rc = virtq_pop(q, &r->chain);

        if (rc < 0) {
            log_error_rl("entropy: the driver corrupted the available ring; "
                         "the device needs a reset");
            metrics_counter_inc(&r->m->entropy_event_fails);
            virtio_mmio_set_needs_reset(&r->t);
            break;
        }
        if (rc == 0)
            break;
        metrics_counter_inc(&r->m->entropy_event_count);
        cap = chain_capacity(&r->chain);
        if (cap < 0) {
            log_error_rl("entropy: Could not parse descriptor chain");
            metrics_counter_inc(&r->m->entropy_event_fails);
        } else {
            if (!rate_limit_request(r, (uint64_t)cap)) {
                metrics_counter_inc(&r->m->entropy_rate_limiter_throttled);
                virtq_undo_pop(q);
                break;
            }
            bytes = cap > RNG_MAX_ENTROPY_BYTES ? RNG_MAX_ENTROPY_BYTES
                                                : (uint32_t)cap;
            virtq_chain_written(q, &r->chain, bytes);
            if (bytes > 0 && fill(&r->chain, bytes) < 0) {
                log_error_rl("entropy: host random number generator failed");
                metrics_counter_inc(&r->m->host_rng_fails);
                metrics_counter_inc(&r->m->entropy_event_fails);
                bytes = 0;
            }
        }
        if (virtq_add_used(q, r->chain.head, bytes) < 0) {
            log_error_rl("entropy: Could not add used descriptor to queue");
            rate_limiter_replenish(&r->rl, 1, RL_TOKEN_OPS);
            rate_limiter_replenish(&r->rl, bytes, RL_TOKEN_BYTES);
            metrics_counter_inc(&r->m->entropy_event_fails);
            break;
        }
        used_any = true;
        metrics_counter_add(&r->m->entropy_bytes, bytes);
    }
    virtq_flush_used(q);
    if (used_any && virtq_should_notify(q) &&
        virtio_mmio_signal_used(&r->t) < 0)
        metrics_counter_inc(&r->m->entropy_event_fails);
}

static void rng_queue_notify(void *dev, uint16_t qi)
{
    struct rng *r = dev;

    (void)qi;
    if (rate_limiter_is_blocked(&r->rl))
        metrics_counter_inc(&r->m->rate_limiter_event_count); /* upstream */
    else
        process_queue(r);
}

static bool rng_reset(void *dev)
{
    (void)dev;
    return true;
}

static const struct virtio_dev_ops rng_ops = {
    .device_type = SQ_VIRTIO_ID_RNG,
    .reset = rng_reset,
    .queue_notify = rng_queue_notify,
};

void rng_rate_limiter_event(struct rng *r)
{
    bus_dev_lock(&r->t.bus);
    metrics_counter_inc(&r->m->rate_limiter_event_count);
    if (rate_limiter_timer_event(&r->rl) < 0) {
        log_error_rl("entropy: Failed to handle rate-limiter event");
        metrics_counter_inc(&r->m->entropy_event_fails);
    } else if (r->t.activated) {
        process_queue(r);
    }
    bus_dev_unlock(&r->t.bus);
}

static void on_rl_timer(struct evloop *loop, struct evloop_handler *h,
                        uint32_t events)
{
    (void)loop;
    (void)events;
    rng_rate_limiter_event(h->opaque);
}

int rng_new(const struct rate_limiter_params *rl, struct rng **out,
            struct sq_err *err)
{
    static const uint16_t sizes[1] = {RNG_QUEUE_SIZE};
    struct rng *r = xcalloc(1, sizeof(*r));
    char os[128];
    int rc;

    r->t.irq_fd = -1;
    for (size_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        r->t.queue_fd[i] = -1;
    rc = rate_limiter_init(&r->rl, rl);
    if (rc < 0) {
        r->rl.timer_fd = -1;
        sq_errf(err, rc, "Error creating the rate limiter: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    rc = virtio_mmio_init(&r->t, "virtio-rng", &rng_ops, r, 0, 1, sizes);
    if (rc < 0) {
        sq_errf(err, rc, "Error while handling an Event file descriptor: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    r->m = metrics_entropy();
    *out = r;
    return 0;
fail:
    rng_free(r);
    return rc;
}

void rng_detach(struct rng *r)
{
    struct evloop_handler *hs[] = {&r->rl_h};

    virtio_dev_detach(&r->t, hs, 1);
}

void rng_free(struct rng *r)
{
    if (!r)
        return;
    rng_detach(r);
    virtio_mmio_fini(&r->t);
    rate_limiter_fini(&r->rl);
    free(r);
}

struct virtio_mmio *rng_transport(struct rng *r)
{
    return &r->t;
}

int rng_attach(struct rng *r, const struct guest_mem *gm, int vm_fd,
               uint64_t addr, struct evloop *loop)
{
    struct evloop_handler *hs[] = {&r->rl_h};

    r->rl_h = (struct evloop_handler){r->rl.timer_fd, on_rl_timer, r};
    return virtio_dev_attach(&r->t, gm, vm_fd, addr, loop, hs, 1);
}

struct rate_limiter *rng_rate_limiter(struct rng *r)
{
    return &r->rl;
}
