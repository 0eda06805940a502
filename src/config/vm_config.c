/*
 * vm_config.c: the --config-file document (upstream's VmmConfig:
 * kebab-case keys, unknown keys ignored, cpu-config as a path or an inline
 * template through an untagged enum), built from the API body tables
 * (see vm_config.h).
 */
#include "config/vm_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "util/xalloc.h"

/* ====================================================================== */
/* --config-file                                                           */

static int dec_drives(struct json_dec *d, void *field_ptr,
                      const struct json_field *f)
{
    return schemas_dec_vec_struct(d, field_ptr, f, sizeof(struct drive_cfg),
                                  &schemas_drive_desc, NULL);
}

static int dec_net_ifaces(struct json_dec *d, void *field_ptr,
                          const struct json_field *f)
{
    return schemas_dec_vec_struct(d, field_ptr, f, sizeof(struct net_iface_cfg),
                                  &schemas_net_desc, NULL);
}

static int dec_pmems(struct json_dec *d, void *field_ptr,
                     const struct json_field *f)
{
    return schemas_dec_vec_struct(d, field_ptr, f, sizeof(struct pmem_cfg),
                                  &schemas_pmem_desc, NULL);
}

/*
 * CustomCpuTemplateOrPath is #[serde(untagged)]: serde buffers the value
 * (any syntax error is reported as usual), then tries PathBuf, then
 * CustomCpuTemplate; if neither fits, one custom error without detail.
 */
static int dec_cpu_config(struct json_dec *d, void *field_ptr,
                          const struct json_field *f)
{
    struct vmm_config_file *c =
        (struct vmm_config_file *)((char *)field_ptr - f->offset);
    struct json_value *v = NULL;
    struct json_dec sub;
    size_t start;
    int rc;

    json_dec_peek_ws(d);
    start = d->pos;
    if (json_dec_value(d, &v) < 0)
        return -1;
    if (v->type == JSON_STRING) {
        c->cpu_config_kind = CPU_CONFIG_PATH;
        c->cpu_config_path = xmalloc(v->str.len + 1);
        memcpy(c->cpu_config_path, v->str.ptr, v->str.len + 1);
        json_value_free(v);
        return 0;
    }
    json_value_free(v);
    json_dec_init(&sub, (const char *)d->p + start, d->pos - start);
    rc = json_dec_struct(&sub, &schemas_cpu_template_desc, &c->cpu_config);
    json_dec_fini(&sub);
    if (rc < 0) {
        cpu_template_fini(&c->cpu_config);
        return json_dec_custom(d, "data did not match any variant of untagged "
                                  "enum CustomCpuTemplateOrPath");
    }
    c->cpu_config_kind = CPU_CONFIG_TEMPLATE;
    return 0;
}

static const struct json_field config_fields[] = {
    {FLD(struct vmm_config_file, "balloon", JSON_F_STRUCT, OPT, balloon),
     HAS(struct vmm_config_file, has_balloon), .sub = &schemas_balloon_desc},
    {FLD(struct vmm_config_file, "drives", JSON_F_CUSTOM, 0, drives),
     LEN(struct vmm_config_file, n_drives), .custom = dec_drives},
    {FLD(struct vmm_config_file, "boot-source", JSON_F_STRUCT, 0, boot_source),
     .sub = &schemas_boot_source_desc},
    {FLD(struct vmm_config_file, "cpu-config", JSON_F_CUSTOM, OPT,
         cpu_config_kind),
     .custom = dec_cpu_config},
    {FLD(struct vmm_config_file, "logger", JSON_F_STRUCT, OPT, logger),
     HAS(struct vmm_config_file, has_logger), .sub = &schemas_logger_desc},
    {FLD(struct vmm_config_file, "machine-config", JSON_F_STRUCT, OPT,
         machine_config),
     HAS(struct vmm_config_file, has_machine_config),
     .sub = &schemas_machine_desc},
    {FLD(struct vmm_config_file, "metrics", JSON_F_STRUCT, OPT, metrics),
     HAS(struct vmm_config_file, has_metrics), .sub = &schemas_metrics_desc},
    {FLD(struct vmm_config_file, "mmds-config", JSON_F_STRUCT, OPT,
         mmds_config),
     HAS(struct vmm_config_file, has_mmds_config), .sub = &schemas_mmds_desc},
    {FLD(struct vmm_config_file, "network-interfaces", JSON_F_CUSTOM, DEF,
         network_interfaces),
     LEN(struct vmm_config_file, n_network_interfaces),
     .custom = dec_net_ifaces},
    {FLD(struct vmm_config_file, "vsock", JSON_F_STRUCT, OPT, vsock),
     HAS(struct vmm_config_file, has_vsock), .sub = &schemas_vsock_desc},
    {FLD(struct vmm_config_file, "entropy", JSON_F_STRUCT, OPT, entropy),
     HAS(struct vmm_config_file, has_entropy), .sub = &schemas_entropy_desc},
    {FLD(struct vmm_config_file, "pmem", JSON_F_CUSTOM, DEF, pmem),
     LEN(struct vmm_config_file, n_pmem), .custom = dec_pmems},
    {FLD(struct vmm_config_file, "memory-hotplug", JSON_F_STRUCT, OPT,
         memory_hotplug),
     HAS(struct vmm_config_file, has_memory_hotplug),
     .sub = &schemas_hotplug_desc},
};
DESC(config_desc, "VmmConfig", config_fields, false);

void vmm_config_file_fini(struct vmm_config_file *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->n_drives; i++)
        drive_cfg_fini(&c->drives[i]);
    free(c->drives);
    boot_source_cfg_fini(&c->boot_source);
    free(c->cpu_config_path);
    cpu_template_fini(&c->cpu_config);
    logger_cfg_fini(&c->logger);
    metrics_cfg_fini(&c->metrics);
    mmds_cfg_fini(&c->mmds_config);
    for (i = 0; i < c->n_network_interfaces; i++)
        net_iface_cfg_fini(&c->network_interfaces[i]);
    free(c->network_interfaces);
    vsock_cfg_fini(&c->vsock);
    for (i = 0; i < c->n_pmem; i++)
        pmem_cfg_fini(&c->pmem[i]);
    free(c->pmem);
    memset(c, 0, sizeof(*c));
}

int vmm_config_file_parse(const char *json, size_t len,
                          struct vmm_config_file *out, struct sq_err *err)
{
    struct top_ctx t = {&config_desc, out};
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    schemas_hotplug_defaults(&out->memory_hotplug);
    rc = json_decode(json, len, schemas_top_struct, &t, "Invalid JSON: ", NULL,
                     err);
    if (rc) {
        vmm_config_file_fini(out);
        return rc;
    }
    for (i = 0; i < out->n_drives; i++)
        schemas_drive_fixup(&out->drives[i]);
    if (out->has_machine_config)
        schemas_machine_put_fixup(&out->machine_config);
    if (out->has_mmds_config)
        out->mmds_config.deprecated =
            out->mmds_config.version == MMDS_VERSION_V1;
    if (out->has_vsock)
        out->vsock.deprecated = out->vsock.vsock_id != NULL;
    return 0;
}

/* Optional section: the serializer, or null. */
static void opt_section(struct buf *b, const char *key, bool has,
                        void (*fn)(const void *, struct buf *), const void *obj)
{
    buf_printf(b, ",\"%s\":", key);
    if (has)
        fn(obj, b);
    else
        buf_puts(b, "null");
}

#define SECTION(b, key, has, fn, obj)                                          \
    opt_section(b, key, has, (void (*)(const void *, struct buf *))(fn), obj)

void vmm_config_file_to_json(const struct vmm_config_file *c, struct buf *b)
{
    size_t i;

    buf_puts(b, "{\"balloon\":");
    if (c->has_balloon)
        balloon_cfg_to_json(&c->balloon, b);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"drives\":[");
    for (i = 0; i < c->n_drives; i++) {
        if (i)
            buf_putc(b, ',');
        drive_cfg_to_json(&c->drives[i], b);
    }
    buf_puts(b, "],\"boot-source\":");
    boot_source_cfg_to_json(&c->boot_source, b);
    /* upstream never reports these three */
    buf_puts(b, ",\"cpu-config\":null,\"logger\":null");
    SECTION(b, "machine-config", c->has_machine_config, machine_cfg_to_json,
            &c->machine_config);
    buf_puts(b, ",\"metrics\":null");
    SECTION(b, "mmds-config", c->has_mmds_config, mmds_cfg_to_json,
            &c->mmds_config);
    buf_puts(b, ",\"network-interfaces\":[");
    for (i = 0; i < c->n_network_interfaces; i++) {
        if (i)
            buf_putc(b, ',');
        net_iface_cfg_to_json(&c->network_interfaces[i], b);
    }
    buf_putc(b, ']');
    SECTION(b, "vsock", c->has_vsock, vsock_cfg_to_json, &c->vsock);
    SECTION(b, "entropy", c->has_entropy, entropy_cfg_to_json, &c->entropy);
    buf_puts(b, ",\"pmem\":[");
    for (i = 0; i < c->n_pmem; i++) {
        if (i)
            buf_putc(b, ',');
        pmem_cfg_to_json(&c->pmem[i], b);
    }
    buf_putc(b, ']');
    SECTION(b, "memory-hotplug", c->has_memory_hotplug,
            hotplug_memory_cfg_to_json, &c->memory_hotplug);
    buf_putc(b, '}');
}
