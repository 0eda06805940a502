/*
 * balloon.c: the balloon request bodies: field tables, parsers and
 * serializer (see balloon.h).
 */
#include "config/balloon.h"

#include <errno.h>
#include <string.h>

#include "config/config_int.h"

static const struct json_field balloon_fields[] = {
    {FLD(struct balloon_cfg, "amount_mib", JSON_F_U32, 0, amount_mib)},
    {FLD(struct balloon_cfg, "deflate_on_oom", JSON_F_BOOL, 0, deflate_on_oom)},
    {FLD(struct balloon_cfg, "stats_polling_interval_s", JSON_F_U16, DEF,
         stats_polling_interval_s)},
    {FLD(struct balloon_cfg, "free_page_hinting", JSON_F_BOOL, DEF,
         free_page_hinting)},
    {FLD(struct balloon_cfg, "free_page_reporting", JSON_F_BOOL, DEF,
         free_page_reporting)},
};
EDESC(schemas_balloon_desc, "BalloonDeviceConfig", balloon_fields, true);

void balloon_cfg_fini(struct balloon_cfg *b)
{
    if (b)
        memset(b, 0, sizeof(*b));
}

int balloon_cfg_parse(const char *body, size_t len, struct balloon_cfg *out,
                      struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &schemas_balloon_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

void balloon_cfg_to_json(const struct balloon_cfg *c, struct buf *b)
{
    buf_printf(b,
               "{\"amount_mib\":%u,\"deflate_on_oom\":%s,"
               "\"stats_polling_interval_s\":%u,\"free_page_hinting\":%s,"
               "\"free_page_reporting\":%s}",
               c->amount_mib, c->deflate_on_oom ? "true" : "false",
               c->stats_polling_interval_s,
               c->free_page_hinting ? "true" : "false",
               c->free_page_reporting ? "true" : "false");
}

static const struct json_field balloon_update_fields[] = {
    {FLD(struct balloon_update, "amount_mib", JSON_F_U32, 0, amount_mib)},
};
DESC(balloon_update_desc, "BalloonUpdateConfig", balloon_update_fields, true);

void balloon_update_fini(struct balloon_update *b)
{
    (void)b;
}

int balloon_update_parse(const char *body, size_t len,
                         struct balloon_update *out, struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &balloon_update_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

static const struct json_field balloon_stats_fields[] = {
    {FLD(struct balloon_stats_update, "stats_polling_interval_s", JSON_F_U16, 0,
         stats_polling_interval_s)},
};
DESC(balloon_stats_desc, "BalloonUpdateStatsConfig", balloon_stats_fields,
     true);

void balloon_stats_update_fini(struct balloon_stats_update *b)
{
    (void)b;
}

int balloon_stats_update_parse(const char *body, size_t len,
                               struct balloon_stats_update *out,
                               struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &balloon_stats_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

static const struct json_field hinting_fields[] = {
    {FLD(struct balloon_hinting_start, "acknowledge_on_stop", JSON_F_BOOL, DEF,
         acknowledge_on_stop)},
};
DESC(hinting_desc, "StartHintingCmd", hinting_fields, false);

void balloon_hinting_start_fini(struct balloon_hinting_start *b)
{
    (void)b;
}

int balloon_hinting_start_parse(const char *body, size_t len,
                                struct balloon_hinting_start *out,
                                struct sq_err *err)
{
    out->acknowledge_on_stop = true;
    if (!body || len == 0)
        return 0;
    if (schemas_api_parse(body, len, &hinting_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}
