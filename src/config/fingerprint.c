/*
 * fingerprint.c: struct fingerprint's JSON codec (see fingerprint.h).
 */
#include "config/fingerprint.h"

#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const char *const field_names[FINGERPRINT_N_FIELDS] = {
    "firecracker_version", "kernel_version", "microcode_version",
    "bios_version",        "bios_revision",  "guest_cpu_config",
};

const char *fingerprint_field_name(enum fingerprint_field f)
{
    return (unsigned)f < FINGERPRINT_N_FIELDS ? field_names[f] : NULL;
}

#define STR_FIELD(key, i)                                                      \
    {                                                                          \
        FLD(struct fingerprint, key, JSON_F_STRING, 0, str[i]),                \
            LEN(struct fingerprint, str_len[i])                                \
    }

static const struct json_field fingerprint_fields[] = {
    STR_FIELD("firecracker_version", FINGERPRINT_FIRECRACKER_VERSION),
    STR_FIELD("kernel_version", FINGERPRINT_KERNEL_VERSION),
    STR_FIELD("microcode_version", FINGERPRINT_MICROCODE_VERSION),
    STR_FIELD("bios_version", FINGERPRINT_BIOS_VERSION),
    STR_FIELD("bios_revision", FINGERPRINT_BIOS_REVISION),
    {FLD(struct fingerprint, "guest_cpu_config", JSON_F_STRUCT, 0,
         guest_cpu_config),
     .sub = &schemas_cpu_template_desc},
};
DESC(fingerprint_desc, "Fingerprint", fingerprint_fields, false);

void fingerprint_fini(struct fingerprint *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < FINGERPRINT_GUEST_CPU_CONFIG; i++)
        free(f->str[i]);
    cpu_template_fini(&f->guest_cpu_config);
    memset(f, 0, sizeof(*f));
}

int fingerprint_parse(const char *json, size_t len, struct fingerprint *out,
                      struct sq_err *err)
{
    struct top_ctx t = {&fingerprint_desc, out};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = json_decode(json, len, schemas_top_struct, &t, NULL, NULL, err);
    if (rc)
        fingerprint_fini(out);
    return rc;
}

void fingerprint_to_json(const struct fingerprint *f, struct buf *b)
{
    struct json_pretty p;

    json_pretty_init(&p, b);
    json_pretty_open(&p, '{');
    for (size_t i = 0; i < FINGERPRINT_GUEST_CPU_CONFIG; i++) {
        json_pretty_key(&p, field_names[i]);
        json_write_str(b, f->str[i] ? f->str[i] : "",
                       f->str[i] ? f->str_len[i] : 0);
    }
    json_pretty_key(&p, field_names[FINGERPRINT_GUEST_CPU_CONFIG]);
    cpu_template_write_pretty(&f->guest_cpu_config, &p);
    json_pretty_close(&p, '}');
}
