/*
 * memory_hotplug.c: the memory hotplug configuration: defaults, field
 * tables, parsers, the size rules and the serializer (see
 * memory_hotplug.h).
 */
#include "config/memory_hotplug.h"

#include <errno.h>
#include <string.h>

#include "config/config_int.h"

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
