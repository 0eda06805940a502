/*
 * entropy.c: the entropy device configuration: field table, parser
 * and serializer (see entropy.h).
 */
#include "config/entropy.h"

#include <errno.h>
#include <string.h>

#include "config/config_int.h"

static const struct json_field entropy_fields[] = {
    {FLD(struct entropy_cfg, "rate_limiter", JSON_F_STRUCT, OPT, rate_limiter),
     HAS(struct entropy_cfg, has_rate_limiter),
     .sub = &schemas_rate_limiter_desc},
};
EDESC(schemas_entropy_desc, "EntropyDeviceConfig", entropy_fields, true);

void entropy_cfg_fini(struct entropy_cfg *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

int entropy_cfg_parse(const char *body, size_t len, struct entropy_cfg *out,
                      struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &schemas_entropy_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

void entropy_cfg_to_json(const struct entropy_cfg *e, struct buf *b)
{
    buf_puts(b, "{\"rate_limiter\":");
    schemas_opt_rate_limiter_to_json(e->has_rate_limiter, &e->rate_limiter, b);
    buf_putc(b, '}');
}
