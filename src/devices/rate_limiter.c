/*
 * rate_limiter.c: token buckets with a timerfd to resume (rate_limiter.h).
 *
 * The refill arithmetic follows upstream's TokenBucket: tokens accrue at
 * size / refill_time_ns, computed on integers reduced by their gcd, and
 * last_update advances only by the time the granted tokens paid for, so a
 * caller polling often does not lose the fractions in between.
 */
#include "devices/rate_limiter.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "obs/log.h"
#include "util/time.h"

#define NS_PER_MS 1000000ULL

uint64_t rate_limiter_now(const struct rate_limiter *rl)
{
    if (rl->clock)
        return rl->clock(rl->clock_opaque);
    return time_mono_ns();
}

static uint64_t now_ns(const struct rate_limiter *rl)
{
    return rate_limiter_now(rl);
}

static uint64_t gcd(uint64_t x, uint64_t y)
{
    while (y != 0) {
        uint64_t t = y;

        y = x % y;
        x = t;
    }
    return x;
}

bool token_bucket_init(struct token_bucket *b, uint64_t size,
                       uint64_t one_time_burst, uint64_t refill_time_ms,
                       uint64_t now)
{
    uint64_t refill_ns, g;

    memset(b, 0, sizeof(*b));
    if (size == 0 || refill_time_ms == 0)
        return false;
    if (__builtin_mul_overflow(refill_time_ms, NS_PER_MS, &refill_ns))
        return false;
    g = gcd(size, refill_ns);
    b->size = size;
    b->one_time_burst = one_time_burst;
    b->initial_one_time_burst = one_time_burst;
    b->refill_time_ms = refill_time_ms;
    b->budget = size;
    b->last_update_ns = now;
    b->processed_capacity = size / g;
    b->processed_refill_time = refill_ns / g;
    return true;
}

static void bucket_replenish_auto(struct token_bucket *b, uint64_t now)
{
    uint64_t delta = now > b->last_update_ns ? now - b->last_update_ns : 0;
    unsigned __int128 tokens, adjust;

    if (delta >= b->refill_time_ms * NS_PER_MS) {
        b->budget = b->size;
        b->last_update_ns = now;
        return;
    }
    tokens = (unsigned __int128)delta * b->processed_capacity /
             b->processed_refill_time;
    /* Advance the clock only by what the granted tokens cost, rounded up. */
    adjust = tokens * b->processed_refill_time / b->processed_capacity;
    if ((tokens * b->processed_refill_time) % b->processed_capacity)
        adjust++;
    b->last_update_ns += (uint64_t)adjust;
    if ((unsigned __int128)b->budget + tokens >= b->size)
        b->budget = b->size;
    else
        b->budget += (uint64_t)tokens;
}

enum token_bucket_reduction token_bucket_reduce(struct token_bucket *b,
                                                uint64_t tokens, uint64_t now,
                                                uint64_t *over_ns)
{
    if (b->one_time_burst > 0) {
        if (b->one_time_burst >= tokens) {
            b->one_time_burst -= tokens;
            b->last_update_ns = now;
            return TOKEN_BUCKET_SUCCESS;
        }
        tokens -= b->one_time_burst;
        b->one_time_burst = 0;
    }
    if (tokens > b->budget) {
        bucket_replenish_auto(b, now);
        if (tokens > b->size) {
            unsigned __int128 debt;

            log_error("Consumed %llu tokens from bucket of size %llu",
                      (unsigned long long)tokens, (unsigned long long)b->size);
            tokens -= b->budget;
            b->budget = 0;
            /* ratio * refill_time, as upstream (tokens / size of it). */
            debt = (unsigned __int128)tokens * b->refill_time_ms * NS_PER_MS /
                   b->size;
            *over_ns = debt > UINT64_MAX ? UINT64_MAX : (uint64_t)debt;
            return TOKEN_BUCKET_OVER_CONSUMPTION;
        }
        if (tokens > b->budget)
            return TOKEN_BUCKET_FAILURE;
    }
    b->budget -= tokens;
    return TOKEN_BUCKET_SUCCESS;
}

static void bucket_force_replenish(struct token_bucket *b, uint64_t tokens)
{
    if (b->one_time_burst > 0) {
        uint64_t v = b->one_time_burst + tokens;

        if (v < tokens || v > b->initial_one_time_burst)
            v = b->initial_one_time_burst;
        b->one_time_burst = v;
        return;
    }
    if (b->budget + tokens < tokens || b->budget + tokens > b->size)
        b->budget = b->size;
    else
        b->budget += tokens;
}

static void arm_timer(struct rate_limiter *rl, uint64_t ns)
{
    struct itimerspec its;

    memset(&its, 0, sizeof(its));
    if (ns == 0)
        ns = 1; /* a zero it_value would disarm the timer and never unblock */
    its.it_value.tv_sec = (time_t)(ns / 1000000000ULL);
    its.it_value.tv_nsec = (long)(ns % 1000000000ULL);
    if (rl->timer_fd >= 0 && timerfd_settime(rl->timer_fd, 0, &its, NULL) < 0)
        log_error("rate limiter: cannot arm its timer: errno %d", errno);
    rl->timer_active = true;
}

static void init_buckets(struct rate_limiter *rl,
                         const struct rate_limiter_params *p, uint64_t now)
{
    rl->has_bandwidth = p && p->has_bandwidth &&
                        token_bucket_init(&rl->bandwidth, p->bandwidth.size,
                                          p->bandwidth.one_time_burst,
                                          p->bandwidth.refill_time_ms, now);
    rl->has_ops =
        p && p->has_ops &&
        token_bucket_init(&rl->ops, p->ops.size, p->ops.one_time_burst,
                          p->ops.refill_time_ms, now);
}

int rate_limiter_init(struct rate_limiter *rl,
                      const struct rate_limiter_params *p)
{
    memset(rl, 0, sizeof(*rl));
    rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (rl->timer_fd < 0)
        return -errno;
    init_buckets(rl, p, now_ns(rl));
    return 0;
}

void rate_limiter_fini(struct rate_limiter *rl)
{
    if (rl->timer_fd >= 0)
        close(rl->timer_fd);
    rl->timer_fd = -1;
}

void rate_limiter_set_clock(struct rate_limiter *rl, rate_limiter_clock_fn *fn,
                            void *opaque)
{
    rl->clock = fn;
    rl->clock_opaque = opaque;
    rl->bandwidth.last_update_ns = now_ns(rl);
    rl->ops.last_update_ns = now_ns(rl);
}

bool rate_limiter_consume(struct rate_limiter *rl, uint64_t tokens,
                          enum rate_limiter_token kind)
{
    struct token_bucket *b;
    bool has;
    uint64_t over_ns = 0;

    if (rl->timer_active)
        return false;
    b = kind == RL_TOKEN_BYTES ? &rl->bandwidth : &rl->ops;
    has = kind == RL_TOKEN_BYTES ? rl->has_bandwidth : rl->has_ops;
    if (!has)
        return true;
    switch (token_bucket_reduce(b, tokens, now_ns(rl), &over_ns)) {
    case TOKEN_BUCKET_SUCCESS:
        return true;
    case TOKEN_BUCKET_OVER_CONSUMPTION:
        arm_timer(rl, over_ns);
        return true;
    case TOKEN_BUCKET_FAILURE:
    default:
        arm_timer(rl, RATE_LIMITER_REFILL_TIMER_MS * NS_PER_MS);
        return false;
    }
}

void rate_limiter_replenish(struct rate_limiter *rl, uint64_t tokens,
                            enum rate_limiter_token kind)
{
    if (kind == RL_TOKEN_BYTES && rl->has_bandwidth)
        bucket_force_replenish(&rl->bandwidth, tokens);
    else if (kind == RL_TOKEN_OPS && rl->has_ops)
        bucket_force_replenish(&rl->ops, tokens);
}

bool rate_limiter_is_blocked(const struct rate_limiter *rl)
{
    return rl->timer_active;
}

int rate_limiter_timer_event(struct rate_limiter *rl)
{
    uint64_t expirations = 0;
    ssize_t n;

    if (rl->timer_fd < 0)
        return -EAGAIN;
    n = read(rl->timer_fd, &expirations, sizeof(expirations));
    if (n != (ssize_t)sizeof(expirations) || expirations == 0)
        return -EAGAIN;
    rl->timer_active = false;
    return 0;
}

enum rate_limiter_update_kind
rate_limiter_update_kind(bool present, const struct token_bucket_params *p)
{
    if (!present)
        return RL_UPDATE_KEEP;
    if (p->size == 0 || p->refill_time_ms == 0)
        return RL_UPDATE_DISABLE;
    return RL_UPDATE_REPLACE;
}

static void update_one(struct rate_limiter *rl, bool *has,
                       struct token_bucket *b,
                       enum rate_limiter_update_kind kind,
                       const struct token_bucket_params *p)
{
    switch (kind) {
    case RL_UPDATE_KEEP:
        break;
    case RL_UPDATE_DISABLE:
        *has = false;
        memset(b, 0, sizeof(*b));
        break;
    case RL_UPDATE_REPLACE:
        *has = token_bucket_init(b, p->size, p->one_time_burst,
                                 p->refill_time_ms, now_ns(rl));
        break;
    }
}

void rate_limiter_update(struct rate_limiter *rl,
                         enum rate_limiter_update_kind bw_kind,
                         const struct token_bucket_params *bw,
                         enum rate_limiter_update_kind ops_kind,
                         const struct token_bucket_params *ops)
{
    update_one(rl, &rl->has_bandwidth, &rl->bandwidth, bw_kind, bw);
    update_one(rl, &rl->has_ops, &rl->ops, ops_kind, ops);
}

void rate_limiter_patch(struct rate_limiter *rl,
                        const struct rate_limiter_params *p)
{
    if (!p)
        return;
    rate_limiter_update(
        rl, rate_limiter_update_kind(p->has_bandwidth, &p->bandwidth),
        &p->bandwidth, rate_limiter_update_kind(p->has_ops, &p->ops), &p->ops);
}

void rate_limiter_get_params(const struct rate_limiter *rl,
                             struct rate_limiter_params *out)
{
    memset(out, 0, sizeof(*out));
    out->has_bandwidth = rl->has_bandwidth;
    if (rl->has_bandwidth) {
        out->bandwidth.size = rl->bandwidth.size;
        out->bandwidth.one_time_burst = rl->bandwidth.initial_one_time_burst;
        out->bandwidth.refill_time_ms = rl->bandwidth.refill_time_ms;
    }
    out->has_ops = rl->has_ops;
    if (rl->has_ops) {
        out->ops.size = rl->ops.size;
        out->ops.one_time_burst = rl->ops.initial_one_time_burst;
        out->ops.refill_time_ms = rl->ops.refill_time_ms;
    }
}
