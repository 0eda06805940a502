/*
 * serial.c: the serial console configuration: field table and parser
 * (see serial.h).
 */
#include "config/serial.h"

#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const struct json_field serial_fields[] = {
    {FLD(struct serial_cfg, "serial_out_path", JSON_F_PATH, OPT,
         serial_out_path)},
    {FLD(struct serial_cfg, "rate_limiter", JSON_F_STRUCT, OPT, rate_limiter),
     HAS(struct serial_cfg, has_rate_limiter),
     .sub = &schemas_token_bucket_desc},
};
DESC(serial_desc, "SerialConfig", serial_fields, true);

void serial_cfg_fini(struct serial_cfg *s)
{
    if (!s)
        return;
    free(s->serial_out_path);
    memset(s, 0, sizeof(*s));
}

int serial_cfg_parse(const char *body, size_t len, struct serial_cfg *out,
                     struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &serial_desc, out, err);
    if (rc)
        serial_cfg_fini(out);
    return rc;
}
