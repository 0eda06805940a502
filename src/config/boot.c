/*
 * boot.c: the boot source: field table, parser and serializer (see
 * boot.h).
 */
#include "config/boot.h"

#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const struct json_field boot_source_fields[] = {
    {FLD(struct boot_source_cfg, "kernel_image_path", JSON_F_STRING, 0,
         kernel_image_path)},
    {FLD(struct boot_source_cfg, "initrd_path", JSON_F_STRING, OPT,
         initrd_path)},
    {FLD(struct boot_source_cfg, "boot_args", JSON_F_STRING, OPT, boot_args)},
};
EDESC(schemas_boot_source_desc, "BootSourceConfig", boot_source_fields, true);

void boot_source_cfg_fini(struct boot_source_cfg *c)
{
    if (!c)
        return;
    free(c->kernel_image_path);
    free(c->initrd_path);
    free(c->boot_args);
    memset(c, 0, sizeof(*c));
}

int boot_source_cfg_parse(const char *body, size_t len,
                          struct boot_source_cfg *out, struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_boot_source_desc, out, err);
    if (rc)
        boot_source_cfg_fini(out);
    return rc;
}

void boot_source_cfg_to_json(const struct boot_source_cfg *c, struct buf *b)
{
    buf_puts(b, "{\"kernel_image_path\":");
    json_write_cstr(b, c->kernel_image_path ? c->kernel_image_path : "");
    buf_puts(b, ",\"initrd_path\":");
    json_write_cstr(b, c->initrd_path);
    buf_puts(b, ",\"boot_args\":");
    json_write_cstr(b, c->boot_args);
    buf_putc(b, '}');
}
