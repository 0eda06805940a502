/*
 * rate_limiter_snap.c: a rate limiter's buckets out and back in
 * (rate_limiter_snap.h).
 */
#include "devices/rate_limiter_snap.h"

#include <errno.h>
#include <string.h>

static void save_bucket(const struct token_bucket *b, uint64_t now,
                        struct token_bucket_state *out)
{
    out->size = b->size;
    out->one_time_burst = b->one_time_burst;
    out->refill_time_ms = b->refill_time_ms;
    out->budget = b->budget;
    out->elapsed_ns = now > b->last_update_ns ? now - b->last_update_ns : 0;
}

void rate_limiter_save(const struct rate_limiter *rl,
                       struct rate_limiter_state *out)
{
    uint64_t now = rate_limiter_now(rl);

    memset(out, 0, sizeof(*out));
    out->has_bandwidth = rl->has_bandwidth;
    if (rl->has_bandwidth)
        save_bucket(&rl->bandwidth, now, &out->bandwidth);
    out->has_ops = rl->has_ops;
    if (rl->has_ops)
        save_bucket(&rl->ops, now, &out->ops);
}

static bool restore_bucket(struct token_bucket *b,
                           const struct token_bucket_state *s, uint64_t now)
{
    if (!token_bucket_init(b, s->size, s->one_time_burst, s->refill_time_ms,
                           now))
        return false;
    b->budget = s->budget < s->size ? s->budget : s->size;
    b->last_update_ns = s->elapsed_ns <= now ? now - s->elapsed_ns : now;
    return true;
}

int rate_limiter_restore(struct rate_limiter *rl,
                         const struct rate_limiter_state *s)
{
    uint64_t now = rate_limiter_now(rl);
    struct token_bucket bw, ops;

    memset(&bw, 0, sizeof(bw));
    memset(&ops, 0, sizeof(ops));
    if ((s->has_bandwidth && !restore_bucket(&bw, &s->bandwidth, now)) ||
        (s->has_ops && !restore_bucket(&ops, &s->ops, now)))
        return -EINVAL;
    rl->has_bandwidth = s->has_bandwidth;
    rl->bandwidth = bw;
    rl->has_ops = s->has_ops;
    rl->ops = ops;
    rl->timer_active = false;
    return 0;
}
