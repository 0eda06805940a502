/*
 * machine.c: the machine configuration: field tables of the PUT and
 * PATCH forms, the PUT -> update conversion, parsers and serializer (see
 * machine.h).
 */
#include "config/machine.h"

#include <errno.h>
#include <string.h>

#include "config/config_int.h"

/* StaticCpuTemplate and HugePageConfig, in declaration order (= C enums). */
static const char *const static_cpu_template_variants[] = {
    "C3", "T2", "T2S", "None", "T2CL", "T2A"};
static const char *const huge_pages_variants[] = {"None", "Transparent", "2M"};

const char *static_cpu_template_name(enum static_cpu_template t)
{
    if ((size_t)t >= ARRAY_LEN(static_cpu_template_variants))
        return "None";
    return static_cpu_template_variants[t];
}

const char *huge_pages_name(enum huge_pages h)
{
    if ((size_t)h >= ARRAY_LEN(huge_pages_variants))
        return "None";
    return huge_pages_variants[h];
}

static const struct json_field machine_fields[] = {
    {FLD(struct machine_cfg, "vcpu_count", JSON_F_U8, 0, vcpu_count),
     HAS(struct machine_cfg, has_vcpu_count)},
    {FLD(struct machine_cfg, "mem_size_mib", JSON_F_USIZE, 0, mem_size_mib),
     HAS(struct machine_cfg, has_mem_size_mib)},
    {FLD(struct machine_cfg, "smt", JSON_F_BOOL, DEF, smt)},
    /* default + deserialize_with = Option::<StaticCpuTemplate>::deserialize */
    {FLD(struct machine_cfg, "cpu_template", JSON_F_ENUM, OPT | DEF,
         cpu_template),
     HAS(struct machine_cfg, has_cpu_template),
     VARIANTS(static_cpu_template_variants)},
    {FLD(struct machine_cfg, "track_dirty_pages", JSON_F_BOOL, DEF,
         track_dirty_pages)},
    {FLD(struct machine_cfg, "huge_pages", JSON_F_ENUM, DEF, huge_pages),
     VARIANTS(huge_pages_variants)},
};
EDESC(schemas_machine_desc, "MachineConfig", machine_fields, true);

static const struct json_field machine_update_fields[] = {
    {FLD(struct machine_cfg, "vcpu_count", JSON_F_U8, OPT | DEF, vcpu_count),
     HAS(struct machine_cfg, has_vcpu_count)},
    {FLD(struct machine_cfg, "mem_size_mib", JSON_F_USIZE, OPT | DEF,
         mem_size_mib),
     HAS(struct machine_cfg, has_mem_size_mib)},
    {FLD(struct machine_cfg, "smt", JSON_F_BOOL, OPT | DEF, smt),
     HAS(struct machine_cfg, has_smt)},
    {FLD(struct machine_cfg, "cpu_template", JSON_F_ENUM, OPT | DEF,
         cpu_template),
     HAS(struct machine_cfg, has_cpu_template),
     VARIANTS(static_cpu_template_variants)},
    {FLD(struct machine_cfg, "track_dirty_pages", JSON_F_BOOL, OPT | DEF,
         track_dirty_pages),
     HAS(struct machine_cfg, has_track_dirty_pages)},
    {FLD(struct machine_cfg, "huge_pages", JSON_F_ENUM, OPT | DEF, huge_pages),
     HAS(struct machine_cfg, has_huge_pages), VARIANTS(huge_pages_variants)},
};
DESC(machine_update_desc, "MachineConfigUpdate", machine_update_fields, true);

/* MachineConfig -> MachineConfigUpdate, as upstream converts a PUT. */
void schemas_machine_put_fixup(struct machine_cfg *m)
{
    m->has_vcpu_count = true;
    m->has_mem_size_mib = true;
    m->has_smt = true;
    m->has_track_dirty_pages = true;
    m->has_huge_pages = true;
    m->deprecated = m->has_cpu_template;
}

void machine_cfg_fini(struct machine_cfg *m)
{
    if (m)
        memset(m, 0, sizeof(*m));
}

int machine_cfg_parse(const char *body, size_t len, struct machine_cfg *out,
                      struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_machine_desc, out, err);
    if (rc) {
        machine_cfg_fini(out);
        return rc;
    }
    schemas_machine_put_fixup(out);
    return 0;
}

int machine_cfg_update_parse(const char *body, size_t len,
                             struct machine_cfg *out, struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &machine_update_desc, out, err);
    if (rc) {
        machine_cfg_fini(out);
        return rc;
    }
    if (!out->has_vcpu_count && !out->has_mem_size_mib && !out->has_smt &&
        !out->has_cpu_template && !out->has_track_dirty_pages &&
        !out->has_huge_pages) {
        machine_cfg_fini(out);
        return sq_errf(err, -EINVAL, "Empty PATCH request.");
    }
    out->deprecated = out->has_cpu_template;
    return 0;
}

void machine_cfg_to_json(const struct machine_cfg *m, struct buf *b)
{
    buf_puts(b, "{\"vcpu_count\":");
    json_write_u64(b, m->vcpu_count);
    buf_puts(b, ",\"mem_size_mib\":");
    json_write_u64(b, m->mem_size_mib);
    buf_puts(b, ",\"smt\":");
    json_write_bool(b, m->smt);
    if (m->has_cpu_template && m->cpu_template != STATIC_CPU_TEMPLATE_NONE) {
        buf_puts(b, ",\"cpu_template\":");
        json_write_cstr(b, static_cpu_template_name(m->cpu_template));
    }
    buf_puts(b, ",\"track_dirty_pages\":");
    json_write_bool(b, m->track_dirty_pages);
    buf_puts(b, ",\"huge_pages\":");
    json_write_cstr(b, huge_pages_name(m->huge_pages));
    buf_putc(b, '}');
}
