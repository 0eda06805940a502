/*
 * devices.c: request bodies of the devices: drives, pmem, network
 * interfaces, vsock, entropy, serial, balloon and memory hotplug (see
 * config.h). Field tables follow upstream's declaration order, which
 * decides the first missing field and the "expected one of" lists.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "util/xalloc.h"

/* ====================================================================== */
/* Balloon                                                                 */

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

/* ====================================================================== */
/* Memory hotplug                                                          */

#define HOTPLUG_DEFAULT_BLOCK_MIB 2
#define HOTPLUG_DEFAULT_SLOT_MIB  128

static const struct json_field hotplug_fields[] = {
    {FLD(struct hotplug_memory_cfg, "total_size_mib", JSON_F_U32, 0,
         total_size_mib)},
    {FLD(struct hotplug_memory_cfg, "block_size_mib", JSON_F_U32, DEF,
         block_size_mib)},
    {FLD(struct hotplug_memory_cfg, "slot_size_mib", JSON_F_U32, DEF,
         slot_size_mib)},
};
EDESC(schemas_hotplug_desc, "MemoryHotplugConfig", hotplug_fields, true);

void schemas_hotplug_defaults(struct hotplug_memory_cfg *h)
{
    memset(h, 0, sizeof(*h));
    h->block_size_mib = HOTPLUG_DEFAULT_BLOCK_MIB;
    h->slot_size_mib = HOTPLUG_DEFAULT_SLOT_MIB;
}

void hotplug_memory_cfg_fini(struct hotplug_memory_cfg *h)
{
    (void)h;
}

int hotplug_memory_cfg_parse(const char *body, size_t len,
                             struct hotplug_memory_cfg *out, struct sq_err *err)
{
    int rc;

    schemas_hotplug_defaults(out);
    rc = schemas_api_parse(body, len, &schemas_hotplug_desc, out, err);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}

int hotplug_memory_cfg_validate(const struct hotplug_memory_cfg *h,
                                struct sq_err *err)
{
    if (h->block_size_mib < HOTPLUG_DEFAULT_BLOCK_MIB)
        return sq_errf(err, -EINVAL, "Block size must not be lower than %u MiB",
                       HOTPLUG_DEFAULT_BLOCK_MIB);
    if (h->block_size_mib & (h->block_size_mib - 1))
        return sq_errf(err, -EINVAL, "Block size must be a power of 2");
    if (h->slot_size_mib < HOTPLUG_DEFAULT_SLOT_MIB)
        return sq_errf(err, -EINVAL, "Slot size must not be lower than %u MiB",
                       HOTPLUG_DEFAULT_SLOT_MIB);
    if (h->slot_size_mib % h->block_size_mib)
        return sq_errf(err, -EINVAL,
                       "Slot size must be a multiple of block size (%u MiB)",
                       h->block_size_mib);
    if (h->total_size_mib < h->slot_size_mib)
        return sq_errf(err, -EINVAL,
                       "Total size must not be lower than slot size (%u MiB)",
                       h->slot_size_mib);
    if (h->total_size_mib % h->slot_size_mib)
        return sq_errf(err, -EINVAL,
                       "Total size must be a multiple of slot size (%u MiB)",
                       h->slot_size_mib);
    return 0;
}

void hotplug_memory_cfg_to_json(const struct hotplug_memory_cfg *h,
                                struct buf *b)
{
    buf_printf(b,
               "{\"total_size_mib\":%u,\"block_size_mib\":%u,"
               "\"slot_size_mib\":%u}",
               h->total_size_mib, h->block_size_mib, h->slot_size_mib);
}

static const struct json_field hotplug_update_fields[] = {
    {FLD(struct hotplug_memory_update, "requested_size_mib", JSON_F_U32, 0,
         requested_size_mib)},
};
DESC(hotplug_update_desc, "MemoryHotplugSizeUpdate", hotplug_update_fields,
     true);

void hotplug_memory_update_fini(struct hotplug_memory_update *h)
{
    (void)h;
}

int hotplug_memory_update_parse(const char *body, size_t len,
                                struct hotplug_memory_update *out,
                                struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &hotplug_update_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}
