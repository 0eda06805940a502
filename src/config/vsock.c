/*
 * vsock.c: the vsock device configuration: field table, parser and
 * serializer (see vsock.h).
 */
#include "config/vsock.h"

#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const struct json_field vsock_fields[] = {
    {FLD(struct vsock_cfg, "vsock_id", JSON_F_STRING, OPT | DEF, vsock_id)},
    {FLD(struct vsock_cfg, "guest_cid", JSON_F_U32, 0, guest_cid)},
    {FLD(struct vsock_cfg, "uds_path", JSON_F_STRING, 0, uds_path)},
};
EDESC(schemas_vsock_desc, "VsockDeviceConfig", vsock_fields, true);

void vsock_cfg_fini(struct vsock_cfg *v)
{
    if (!v)
        return;
    free(v->vsock_id);
    free(v->uds_path);
    memset(v, 0, sizeof(*v));
}

int vsock_cfg_parse(const char *body, size_t len, struct vsock_cfg *out,
                    struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_vsock_desc, out, err);
    if (rc) {
        vsock_cfg_fini(out);
        return rc;
    }
    out->deprecated = out->vsock_id != NULL;
    return 0;
}

void vsock_cfg_to_json(const struct vsock_cfg *v, struct buf *b)
{
    buf_puts(b, "{\"guest_cid\":");
    json_write_u64(b, v->guest_cid);
    buf_puts(b, ",\"uds_path\":");
    json_write_cstr(b, v->uds_path ? v->uds_path : "");
    buf_putc(b, '}');
}
