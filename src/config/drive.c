/*
 * drive.c: the block device configuration: field tables, the io_engine
 * mapping, parsers and serializer (see drive.h). The table follows
 * upstream's declaration order, which decides the first missing field
 * and the "expected one of" lists.
 */
#include "config/drive.h"

#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const char *const cache_type_variants[] = {"Unsafe", "Writeback"};
/* FileEngineType declares Async first. */
static const char *const io_engine_variants[] = {"Async", "Sync"};

static const struct json_field drive_fields[] = {
    {FLD(struct drive_cfg, "drive_id", JSON_F_STRING, 0, drive_id),
     LEN(struct drive_cfg, drive_id_len)},
    {FLD(struct drive_cfg, "partuuid", JSON_F_STRING, OPT, partuuid)},
    {FLD(struct drive_cfg, "is_root_device", JSON_F_BOOL, 0, is_root_device)},
    {FLD(struct drive_cfg, "cache_type", JSON_F_ENUM, DEF, cache_type),
     VARIANTS(cache_type_variants)},
    {FLD(struct drive_cfg, "is_read_only", JSON_F_BOOL, OPT, is_read_only),
     HAS(struct drive_cfg, has_is_read_only)},
    {FLD(struct drive_cfg, "path_on_host", JSON_F_STRING, OPT, path_on_host)},
    {FLD(struct drive_cfg, "rate_limiter", JSON_F_STRUCT, OPT, rate_limiter),
     HAS(struct drive_cfg, has_rate_limiter),
     .sub = &schemas_rate_limiter_desc},
    {FLD(struct drive_cfg, "io_engine", JSON_F_ENUM, OPT, io_engine),
     HAS(struct drive_cfg, has_io_engine), VARIANTS(io_engine_variants)},
    {FLD(struct drive_cfg, "socket", JSON_F_STRING, OPT, socket)},
};
EDESC(schemas_drive_desc, "BlockDeviceConfig", drive_fields, true);

/* C enum values follow our own order; map from variant index. */
void schemas_drive_fixup(struct drive_cfg *d)
{
    /* io_engine was stored as the variant index (Async = 0, Sync = 1) */
    if (d->has_io_engine)
        d->io_engine =
            (int)d->io_engine == 0 ? IO_ENGINE_ASYNC : IO_ENGINE_SYNC;
    else
        d->io_engine = IO_ENGINE_SYNC;
}

void drive_cfg_fini(struct drive_cfg *d)
{
    if (!d)
        return;
    free(d->drive_id);
    free(d->partuuid);
    free(d->path_on_host);
    free(d->socket);
    memset(d, 0, sizeof(*d));
}

int drive_cfg_parse(const char *body, size_t len, struct drive_cfg *out,
                    struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_drive_desc, out, err);
    if (rc) {
        drive_cfg_fini(out);
        return rc;
    }
    schemas_drive_fixup(out);
    return 0;
}

void drive_cfg_to_json(const struct drive_cfg *d, struct buf *b)
{
    buf_puts(b, "{\"drive_id\":");
    json_write_str(b, d->drive_id ? d->drive_id : "",
                   d->drive_id ? d->drive_id_len : 0);
    buf_puts(b, ",\"partuuid\":");
    json_write_cstr(b, d->partuuid);
    buf_puts(b, ",\"is_root_device\":");
    json_write_bool(b, d->is_root_device);
    buf_puts(b, ",\"cache_type\":");
    json_write_cstr(b, d->cache_type == CACHE_TYPE_WRITEBACK ? "Writeback"
                                                             : "Unsafe");
    buf_puts(b, ",\"is_read_only\":");
    if (d->has_is_read_only)
        json_write_bool(b, d->is_read_only);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"path_on_host\":");
    json_write_cstr(b, d->path_on_host);
    buf_puts(b, ",\"rate_limiter\":");
    schemas_opt_rate_limiter_to_json(d->has_rate_limiter, &d->rate_limiter, b);
    buf_puts(b, ",\"io_engine\":");
    if (d->has_io_engine)
        json_write_cstr(b, d->io_engine == IO_ENGINE_ASYNC ? "Async" : "Sync");
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"socket\":");
    json_write_cstr(b, d->socket);
    buf_putc(b, '}');
}

static const struct json_field drive_update_fields[] = {
    {FLD(struct drive_update, "drive_id", JSON_F_STRING, 0, drive_id),
     LEN(struct drive_update, drive_id_len)},
    {FLD(struct drive_update, "path_on_host", JSON_F_STRING, OPT,
         path_on_host)},
    {FLD(struct drive_update, "rate_limiter", JSON_F_STRUCT, OPT, rate_limiter),
     HAS(struct drive_update, has_rate_limiter),
     .sub = &schemas_rate_limiter_desc},
};
DESC(drive_update_desc, "BlockDeviceUpdateConfig", drive_update_fields, true);

void drive_update_fini(struct drive_update *d)
{
    if (!d)
        return;
    free(d->drive_id);
    free(d->path_on_host);
    memset(d, 0, sizeof(*d));
}

int drive_update_parse(const char *body, size_t len, struct drive_update *out,
                       struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &drive_update_desc, out, err);
    if (rc)
        drive_update_fini(out);
    return rc;
}
