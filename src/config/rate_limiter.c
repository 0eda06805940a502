/*
 * rate_limiter.c: the token bucket and rate limiter configuration: field
 * tables (shared with every device that takes a limiter), serializers, and
 * the rules upstream applies when it builds or patches a limiter (see
 * rate_limiter.h).
 */
#include "config/rate_limiter.h"

#include <string.h>

#include "config/config_int.h"

static const struct json_field token_bucket_fields[] = {
    {FLD(struct token_bucket_cfg, "size", JSON_F_U64, 0, size)},
    {FLD(struct token_bucket_cfg, "one_time_burst", JSON_F_U64, OPT,
         one_time_burst),
     HAS(struct token_bucket_cfg, has_one_time_burst)},
    {FLD(struct token_bucket_cfg, "refill_time", JSON_F_U64, 0, refill_time)},
};
EDESC(schemas_token_bucket_desc, "TokenBucketConfig", token_bucket_fields,
      false);

static const struct json_field rate_limiter_fields[] = {
    {FLD(struct rate_limiter_cfg, "bandwidth", JSON_F_STRUCT, OPT, bandwidth),
     HAS(struct rate_limiter_cfg, has_bandwidth),
     .sub = &schemas_token_bucket_desc},
    {FLD(struct rate_limiter_cfg, "ops", JSON_F_STRUCT, OPT, ops),
     HAS(struct rate_limiter_cfg, has_ops), .sub = &schemas_token_bucket_desc},
};
EDESC(schemas_rate_limiter_desc, "RateLimiterConfig", rate_limiter_fields,
      true);

void token_bucket_cfg_to_json(const struct token_bucket_cfg *tb, struct buf *b)
{
    buf_puts(b, "{\"size\":");
    json_write_u64(b, tb->size);
    buf_puts(b, ",\"one_time_burst\":");
    if (tb->has_one_time_burst)
        json_write_u64(b, tb->one_time_burst);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"refill_time\":");
    json_write_u64(b, tb->refill_time);
    buf_putc(b, '}');
}

void rate_limiter_cfg_to_json(const struct rate_limiter_cfg *rl, struct buf *b)
{
    buf_puts(b, "{\"bandwidth\":");
    if (rl->has_bandwidth)
        token_bucket_cfg_to_json(&rl->bandwidth, b);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"ops\":");
    if (rl->has_ops)
        token_bucket_cfg_to_json(&rl->ops, b);
    else
        buf_puts(b, "null");
    buf_putc(b, '}');
}

void schemas_opt_rate_limiter_to_json(bool has,
                                      const struct rate_limiter_cfg *rl,
                                      struct buf *b)
{
    if (has)
        rate_limiter_cfg_to_json(rl, b);
    else
        buf_puts(b, "null");
}

/* ====================================================================== */
/* Building and patching a limiter                                         */

/* TokenBucket::new returns None for size 0, refill 0, or a refill time
 * whose nanoseconds overflow a u64: the bucket is off. */
static bool bucket_normalise(bool *has, struct token_bucket_cfg *tb)
{
    if (!*has)
        return false;
    if (tb->size == 0 || tb->refill_time == 0 ||
        tb->refill_time > UINT64_MAX / 1000000u) {
        *has = false;
        memset(tb, 0, sizeof(*tb));
        return false;
    }
    if (tb->has_one_time_burst && tb->one_time_burst == 0)
        tb->has_one_time_burst = false;
    return true;
}

bool rate_limiter_cfg_normalise(struct rate_limiter_cfg *rl)
{
    bool bw = bucket_normalise(&rl->has_bandwidth, &rl->bandwidth);
    bool ops = bucket_normalise(&rl->has_ops, &rl->ops);

    return bw || ops;
}

static void bucket_update(bool *has, struct token_bucket_cfg *cur, bool upd_has,
                          const struct token_bucket_cfg *upd)
{
    if (!upd_has)
        return;
    *cur = *upd;
    *has = true;
    bucket_normalise(has, cur);
}

void rate_limiter_cfg_update(bool *has, struct rate_limiter_cfg *cur,
                             bool upd_has, const struct rate_limiter_cfg *upd)
{
    if (!upd_has)
        return;
    if (!*has)
        memset(cur, 0, sizeof(*cur));
    bucket_update(&cur->has_bandwidth, &cur->bandwidth, upd->has_bandwidth,
                  &upd->bandwidth);
    bucket_update(&cur->has_ops, &cur->ops, upd->has_ops, &upd->ops);
    *has = cur->has_bandwidth || cur->has_ops;
}

void rate_limiter_cfg_store(bool *has, struct rate_limiter_cfg *dst,
                            bool src_has, const struct rate_limiter_cfg *src)
{
    memset(dst, 0, sizeof(*dst));
    *has = false;
    if (!src_has)
        return;
    *dst = *src;
    *has = rate_limiter_cfg_normalise(dst);
}
