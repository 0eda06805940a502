/*
 * rate_limiter.c: the token bucket and rate limiter configuration: field
 * tables (shared with every device that takes a limiter) and serializers
 * (see rate_limiter.h).
 */
#include "config/rate_limiter.h"

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
