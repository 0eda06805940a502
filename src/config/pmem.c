/*
 * pmem.c: the pmem device configuration: field tables, parsers and
 * serializer (see pmem.h).
 */
#include "config/pmem.h"

#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const struct json_field pmem_fields[] = {
    {FLD(struct pmem_cfg, "id", JSON_F_STRING, 0, id),
     LEN(struct pmem_cfg, id_len)},
    {FLD(struct pmem_cfg, "path_on_host", JSON_F_STRING, 0, path_on_host)},
    {FLD(struct pmem_cfg, "root_device", JSON_F_BOOL, DEF, root_device)},
    {FLD(struct pmem_cfg, "read_only", JSON_F_BOOL, DEF, read_only)},
    {FLD(struct pmem_cfg, "rate_limiter", JSON_F_STRUCT, OPT, rate_limiter),
     HAS(struct pmem_cfg, has_rate_limiter), .sub = &schemas_rate_limiter_desc},
};
EDESC(schemas_pmem_desc, "PmemConfig", pmem_fields, true);

void pmem_cfg_fini(struct pmem_cfg *p)
{
    if (!p)
        return;
    free(p->id);
    free(p->path_on_host);
    memset(p, 0, sizeof(*p));
}

int pmem_cfg_parse(const char *body, size_t len, struct pmem_cfg *out,
                   struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_pmem_desc, out, err);
    if (rc)
        pmem_cfg_fini(out);
    return rc;
}

void pmem_cfg_to_json(const struct pmem_cfg *p, struct buf *b)
{
    buf_puts(b, "{\"id\":");
    json_write_str(b, p->id ? p->id : "", p->id ? p->id_len : 0);
    buf_puts(b, ",\"path_on_host\":");
    json_write_cstr(b, p->path_on_host ? p->path_on_host : "");
    buf_puts(b, ",\"root_device\":");
    json_write_bool(b, p->root_device);
    buf_puts(b, ",\"read_only\":");
    json_write_bool(b, p->read_only);
    buf_puts(b, ",\"rate_limiter\":");
    schemas_opt_rate_limiter_to_json(p->has_rate_limiter, &p->rate_limiter, b);
    buf_putc(b, '}');
}

static const struct json_field pmem_update_fields[] = {
    {FLD(struct pmem_update, "id", JSON_F_STRING, 0, id),
     LEN(struct pmem_update, id_len)},
    {FLD(struct pmem_update, "rate_limiter", JSON_F_STRUCT, OPT, rate_limiter),
     HAS(struct pmem_update, has_rate_limiter),
     .sub = &schemas_rate_limiter_desc},
};
DESC(pmem_update_desc, "PmemDeviceUpdateConfig", pmem_update_fields, true);

void pmem_update_fini(struct pmem_update *p)
{
    if (!p)
        return;
    free(p->id);
    memset(p, 0, sizeof(*p));
}

int pmem_update_parse(const char *body, size_t len, struct pmem_update *out,
                      struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &pmem_update_desc, out, err);
    if (rc)
        pmem_update_fini(out);
    return rc;
}
