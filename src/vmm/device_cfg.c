/*
 * device_cfg.c: API request types -> virtio device creation and updates
 * (device_cfg.h).
 */
#include "vmm/device_cfg.h"

#include <errno.h>
#include <string.h>

static void bucket_from_cfg(const struct token_bucket_cfg *in,
                            struct token_bucket_params *out)
{
    out->size = in->size;
    out->one_time_burst = in->has_one_time_burst ? in->one_time_burst : 0;
    out->refill_time_ms = in->refill_time;
}

void rate_limiter_params_from_cfg(const struct rate_limiter_cfg *in,
                                  struct rate_limiter_params *out)
{
    memset(out, 0, sizeof(*out));
    out->has_bandwidth = in->has_bandwidth;
    if (in->has_bandwidth)
        bucket_from_cfg(&in->bandwidth, &out->bandwidth);
    out->has_ops = in->has_ops;
    if (in->has_ops)
        bucket_from_cfg(&in->ops, &out->ops);
}

static void bucket_to_cfg(const struct token_bucket_params *in,
                          struct token_bucket_cfg *out)
{
    out->size = in->size;
    out->has_one_time_burst = in->one_time_burst != 0;
    out->one_time_burst = in->one_time_burst;
    out->refill_time = in->refill_time_ms;
}

void rate_limiter_cfg_from_params(const struct rate_limiter_params *in,
                                  struct rate_limiter_cfg *out)
{
    memset(out, 0, sizeof(*out));
    out->has_bandwidth = in->has_bandwidth && in->bandwidth.size != 0 &&
                         in->bandwidth.refill_time_ms != 0;
    if (out->has_bandwidth)
        bucket_to_cfg(&in->bandwidth, &out->bandwidth);
    out->has_ops =
        in->has_ops && in->ops.size != 0 && in->ops.refill_time_ms != 0;
    if (out->has_ops)
        bucket_to_cfg(&in->ops, &out->ops);
}

int block_new_from_drive(const struct drive_cfg *d, int fd, struct block **out,
                         struct sq_err *err)
{
    struct rate_limiter_params rl;
    struct block_config cfg;

    if (!d->path_on_host || d->socket)
        return sq_errf(err, -EINVAL, "Invalid block config.");
    memset(&cfg, 0, sizeof(cfg));
    cfg.drive_id = d->drive_id;
    cfg.path_on_host = d->path_on_host;
    cfg.has_fd = fd >= 0;
    cfg.fd = fd;
    cfg.is_read_only = d->has_is_read_only && d->is_read_only;
    cfg.cache_type = d->cache_type == CACHE_TYPE_WRITEBACK
                         ? BLOCK_CACHE_WRITEBACK
                         : BLOCK_CACHE_UNSAFE;
    cfg.io_engine = d->has_io_engine && d->io_engine == IO_ENGINE_ASYNC
                        ? BLOCK_IO_ASYNC
                        : BLOCK_IO_SYNC;
    if (d->has_rate_limiter) {
        rate_limiter_params_from_cfg(&d->rate_limiter, &rl);
        cfg.rate_limiter = &rl;
    }
    return block_new(&cfg, out, err);
}

int block_patch_from_update(struct block *b, const struct drive_update *u,
                            struct sq_err *err)
{
    struct rate_limiter_params rl;
    int rc;

    if (u->path_on_host) {
        rc = block_update_path(b, u->path_on_host, err);
        if (rc < 0)
            return rc;
    }
    if (u->has_rate_limiter) {
        rate_limiter_params_from_cfg(&u->rate_limiter, &rl);
        block_update_rate_limiter(b, &rl);
    }
    return 0;
}

int rng_new_from_entropy(const struct entropy_cfg *e, struct rng **out,
                         struct sq_err *err)
{
    struct rate_limiter_params rl;

    if (!e->has_rate_limiter)
        return rng_new(NULL, out, err);
    rate_limiter_params_from_cfg(&e->rate_limiter, &rl);
    return rng_new(&rl, out, err);
}
