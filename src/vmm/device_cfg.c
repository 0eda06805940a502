/*
 * device_cfg.c: what the device kinds share (rate limiter configuration
 * <-> limiter parameters). Each kind has its own file: vdev_balloon.c,
 * vdev_block.c, vdev_net.c, vdev_pmem.c, vdev_vsock.c, vdev_entropy.c,
 * vdev_mem.c (device_cfg.h).
 */
#include "vmm/device_cfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/action.h"

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
