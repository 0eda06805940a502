/*
 * snapshot.c: the snapshot request bodies, including the
 * mem_backend / mem_file_path rule upstream checks after
 * deserializing (see snapshot.h).
 */
#include "config/snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

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
