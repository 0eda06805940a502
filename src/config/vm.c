/*
 * vm.c: request bodies about the machine and its lifecycle:
 * actions, boot source, machine configuration, custom CPU templates,
 * logger, metrics, MMDS configuration and data, snapshots and PATCH /vm
 * (see config.h). Custom decoders reproduce upstream's hand-written
 * Deserialize impls, raising their errors where upstream does (inside or
 * after serde_json's deserialize_str), which decides the reported column.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "util/xalloc.h"

/* ====================================================================== */
/* MMDS                                                                    */

static const char *const mmds_version_variants[] = {"V1", "V2"};

static int string_elem(struct json_dec *d, void *ctx, size_t index)
{
    struct mmds_cfg *m = ctx;
    char *s;
    char **slot;

    (void)index;
    if (json_dec_string(d, "a string", &s, NULL) < 0)
        return -1;
    slot = schemas_vec_push((void **)&m->network_interfaces,
                            &m->n_network_interfaces, sizeof(*slot));
    *slot = s;
    return 0;
}

static int dec_iface_list(struct json_dec *d, void *field_ptr,
                          const struct json_field *f)
{
    struct mmds_cfg *m = (struct mmds_cfg *)((char *)field_ptr - f->offset);

    return json_dec_seq(d, "a sequence", string_elem, m);
}

/* Rust's Ipv4Addr::from_str: at most 15 bytes, four decimal octets of 1-3
 * digits, no leading zeros, each <= 255. */
static bool parse_ipv4(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;
    int k;

    if (n > 15)
        return false;
    for (k = 0; k < 4; k++) {
        unsigned v = 0, digits = 0;

        if (k) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
        while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 3) {
            if (digits == 1 && v == 0)
                return false; /* leading zero */
            v = v * 10 + (unsigned)(s[i] - '0');
            digits++;
            i++;
        }
        if (!digits || v > 255)
            return false;
        out[k] = (uint8_t)v;
    }
    return i == n;
}

/* serde's Ipv4Addr: deserialize_str with a FromStr visitor, so the parse
 * error is raised inside serde_json's deserialize_str and positioned right
 * after the string. */
static int dec_ipv4(struct json_dec *d, void *field_ptr,
                    const struct json_field *f)
{
    char *s;
    size_t n;
    bool ok;

    (void)f;
    if (json_dec_string(d, "IPv4 address", &s, &n) < 0)
        return -1;
    ok = parse_ipv4(s, n, field_ptr);
    free(s);
    if (!ok) {
        json_dec_custom(d, "invalid IPv4 address syntax");
        json_dec_fix_position(d);
        return -1;
    }
    return 0;
}

static const struct json_field mmds_fields[] = {
    {FLD(struct mmds_cfg, "version", JSON_F_ENUM, DEF, version),
     VARIANTS(mmds_version_variants)},
    {FLD(struct mmds_cfg, "network_interfaces", JSON_F_CUSTOM, 0,
         network_interfaces),
     .custom = dec_iface_list},
    {FLD(struct mmds_cfg, "ipv4_address", JSON_F_CUSTOM, OPT, ipv4_address),
     HAS(struct mmds_cfg, has_ipv4_address), .custom = dec_ipv4},
    {FLD(struct mmds_cfg, "imds_compat", JSON_F_BOOL, DEF, imds_compat)},
};
EDESC(schemas_mmds_desc, "MmdsConfig", mmds_fields, true);

void mmds_cfg_fini(struct mmds_cfg *m)
{
    size_t i;

    if (!m)
        return;
    for (i = 0; i < m->n_network_interfaces; i++)
        free(m->network_interfaces[i]);
    free(m->network_interfaces);
    memset(m, 0, sizeof(*m));
}

int mmds_cfg_parse(const char *body, size_t len, struct mmds_cfg *out,
                   struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_mmds_desc, out, err);
    if (rc) {
        mmds_cfg_fini(out);
        return rc;
    }
    out->deprecated = out->version == MMDS_VERSION_V1;
    return 0;
}

void mmds_cfg_to_json(const struct mmds_cfg *m, struct buf *b)
{
    static const uint8_t def[4] = {169, 254, 169, 254};
    const uint8_t *ip = m->has_ipv4_address ? m->ipv4_address : def;
    size_t i;

    buf_puts(b, "{\"version\":");
    json_write_cstr(b, m->version == MMDS_VERSION_V2 ? "V2" : "V1");
    buf_puts(b, ",\"network_interfaces\":[");
    for (i = 0; i < m->n_network_interfaces; i++) {
        if (i)
            buf_putc(b, ',');
        json_write_cstr(b, m->network_interfaces[i]);
    }
    buf_printf(b, "],\"ipv4_address\":\"%u.%u.%u.%u\",\"imds_compat\":", ip[0],
               ip[1], ip[2], ip[3]);
    json_write_bool(b, m->imds_compat);
    buf_putc(b, '}');
}

int mmds_body_parse(const char *body, size_t len, struct json_value **out,
                    struct sq_err *err)
{
    int rc = json_parse(body, len, out, err);

    if (rc) {
        char msg[SQ_ERR_MSG_MAX];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        sq_errf(err, rc, SCHEMAS_SERDE_PREFIX "%s.", msg);
    }
    return rc;
}

/* ====================================================================== */
/* Snapshots                                                               */

static const char *const snapshot_type_variants[] = {"Diff", "Full"};

static const struct json_field snapshot_create_fields[] = {
    {FLD(struct snapshot_create, "snapshot_type", JSON_F_ENUM, DEF,
         snapshot_type),
     VARIANTS(snapshot_type_variants)},
    {FLD(struct snapshot_create, "snapshot_path", JSON_F_PATH, 0,
         snapshot_path)},
    {FLD(struct snapshot_create, "mem_file_path", JSON_F_PATH, 0,
         mem_file_path)},
};
DESC(snapshot_create_desc, "CreateSnapshotParams", snapshot_create_fields,
     true);

void snapshot_create_fini(struct snapshot_create *s)
{
    if (!s)
        return;
    free(s->snapshot_path);
    free(s->mem_file_path);
    memset(s, 0, sizeof(*s));
}

int snapshot_create_parse(const char *body, size_t len,
                          struct snapshot_create *out, struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    out->snapshot_type = SNAPSHOT_TYPE_FULL;
    rc = schemas_api_parse(body, len, &snapshot_create_desc, out, err);
    if (rc)
        snapshot_create_fini(out);
    return rc;
}

/* LoadSnapshotConfig as deserialized, before upstream's handler turns it
 * into LoadSnapshotParams. */
struct mem_backend_raw {
    char *backend_path;
    enum mem_backend_type backend_type;
};

struct vsock_override_raw {
    char *uds_path;
};

struct snapshot_load_raw {
    char *snapshot_path;
    char *mem_file_path;
    bool has_mem_backend;
    struct mem_backend_raw mem_backend;
    bool enable_diff_snapshots;
    bool track_dirty_pages;
    bool resume_vm;
    size_t n_network_overrides;
    struct network_override *network_overrides;
    bool has_vsock_override;
    struct vsock_override_raw vsock_override;
    bool clock_realtime;
    enum snapshot_load_huge_pages huge_pages;
};

static const char *const mem_backend_type_variants[] = {"File", "Uffd"};
static const char *const snapshot_huge_pages_variants[] = {"Snapshot", "None",
                                                           "Transparent", "2M"};

static const struct json_field mem_backend_fields[] = {
    {FLD(struct mem_backend_raw, "backend_path", JSON_F_PATH, 0, backend_path)},
    {FLD(struct mem_backend_raw, "backend_type", JSON_F_ENUM, 0, backend_type),
     VARIANTS(mem_backend_type_variants)},
};
DESC(mem_backend_desc, "MemBackendConfig", mem_backend_fields, true);

static const struct json_field network_override_fields[] = {
    {FLD(struct network_override, "iface_id", JSON_F_STRING, 0, iface_id)},
    {FLD(struct network_override, "host_dev_name", JSON_F_STRING, 0,
         host_dev_name)},
};
DESC(network_override_desc, "NetworkOverride", network_override_fields, false);

static const struct json_field vsock_override_fields[] = {
    {FLD(struct vsock_override_raw, "uds_path", JSON_F_STRING, 0, uds_path)},
};
DESC(vsock_override_desc, "VsockOverride", vsock_override_fields, false);

static int dec_network_overrides(struct json_dec *d, void *field_ptr,
                                 const struct json_field *f)
{
    return schemas_dec_vec_struct(d, field_ptr, f,
                                  sizeof(struct network_override),
                                  &network_override_desc, NULL);
}

static const struct json_field snapshot_load_fields[] = {
    {FLD(struct snapshot_load_raw, "snapshot_path", JSON_F_PATH, 0,
         snapshot_path)},
    {FLD(struct snapshot_load_raw, "mem_file_path", JSON_F_PATH, OPT,
         mem_file_path)},
    {FLD(struct snapshot_load_raw, "mem_backend", JSON_F_STRUCT, OPT,
         mem_backend),
     HAS(struct snapshot_load_raw, has_mem_backend), .sub = &mem_backend_desc},
    {FLD(struct snapshot_load_raw, "enable_diff_snapshots", JSON_F_BOOL, DEF,
         enable_diff_snapshots)},
    {FLD(struct snapshot_load_raw, "track_dirty_pages", JSON_F_BOOL, DEF,
         track_dirty_pages)},
    {FLD(struct snapshot_load_raw, "resume_vm", JSON_F_BOOL, DEF, resume_vm)},
    {FLD(struct snapshot_load_raw, "network_overrides", JSON_F_CUSTOM, DEF,
         network_overrides),
     LEN(struct snapshot_load_raw, n_network_overrides),
     .custom = dec_network_overrides},
    {FLD(struct snapshot_load_raw, "vsock_override", JSON_F_STRUCT, OPT,
         vsock_override),
     HAS(struct snapshot_load_raw, has_vsock_override),
     .sub = &vsock_override_desc},
    {FLD(struct snapshot_load_raw, "clock_realtime", JSON_F_BOOL, DEF,
         clock_realtime)},
    {FLD(struct snapshot_load_raw, "huge_pages", JSON_F_ENUM, DEF, huge_pages),
     VARIANTS(snapshot_huge_pages_variants)},
};
DESC(snapshot_load_desc, "LoadSnapshotConfig", snapshot_load_fields, true);

static void network_overrides_free(struct network_override *o, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(o[i].iface_id);
        free(o[i].host_dev_name);
    }
    free(o);
}

static void snapshot_load_raw_fini(struct snapshot_load_raw *r)
{
    free(r->snapshot_path);
    free(r->mem_file_path);
    free(r->mem_backend.backend_path);
    network_overrides_free(r->network_overrides, r->n_network_overrides);
    free(r->vsock_override.uds_path);
    memset(r, 0, sizeof(*r));
}

void snapshot_load_fini(struct snapshot_load *s)
{
    if (!s)
        return;
    free(s->snapshot_path);
    free(s->mem_backend_path);
    network_overrides_free(s->network_overrides, s->n_network_overrides);
    free(s->vsock_override_uds_path);
    memset(s, 0, sizeof(*s));
}

int snapshot_load_parse(const char *body, size_t len, struct snapshot_load *out,
                        struct sq_err *err)
{
    struct snapshot_load_raw r;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    rc = schemas_api_parse(body, len, &snapshot_load_desc, &r, err);
    if (rc) {
        snapshot_load_raw_fini(&r);
        return rc;
    }
    /* serde_json::Error::custom(..) built outside the deserializer: no
     * position. */
    if (r.has_mem_backend && r.mem_file_path) {
        snapshot_load_raw_fini(&r);
        return sq_errf(err, -EINVAL,
                       SCHEMAS_SERDE_PREFIX
                       "too many fields: either `mem_backend` or "
                       "`mem_file_path` exclusively is required.");
    }
    if (!r.has_mem_backend && !r.mem_file_path) {
        snapshot_load_raw_fini(&r);
        return sq_errf(err, -EINVAL,
                       SCHEMAS_SERDE_PREFIX
                       "missing field: either `mem_backend` or "
                       "`mem_file_path` is required.");
    }
    out->deprecated = r.mem_file_path != NULL || r.enable_diff_snapshots;
    out->snapshot_path = r.snapshot_path;
    if (r.has_mem_backend) {
        out->mem_backend_type = r.mem_backend.backend_type;
        out->mem_backend_path = r.mem_backend.backend_path;
        r.mem_backend.backend_path = NULL;
    } else {
        out->mem_backend_type = MEM_BACKEND_FILE;
        out->mem_backend_path = r.mem_file_path;
        r.mem_file_path = NULL;
    }
    out->track_dirty_pages = r.enable_diff_snapshots || r.track_dirty_pages;
    out->resume_vm = r.resume_vm;
    out->n_network_overrides = r.n_network_overrides;
    out->network_overrides = r.network_overrides;
    if (r.has_vsock_override) {
        out->vsock_override_uds_path = r.vsock_override.uds_path;
        r.vsock_override.uds_path = NULL;
    }
    out->clock_realtime = r.clock_realtime;
    out->huge_pages = r.huge_pages;
    /* everything moved out of r is owned by *out now */
    r.snapshot_path = NULL;
    r.network_overrides = NULL;
    r.n_network_overrides = 0;
    snapshot_load_raw_fini(&r);
    return 0;
}
