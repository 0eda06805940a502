/*
 * metrics.c: the metrics configuration: the properties map (a
 * BTreeMap<String, String>), field table and parser (see metrics.h).
 */
#include "config/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "util/xalloc.h"

static int property_entry(struct json_dec *d, void *ctx, const char *key,
                          size_t key_len)
{
    struct metrics_cfg *m = ctx;
    struct metrics_cfg_property *p;
    char *value;
    size_t lo = 0, hi = m->n_properties;

    if (json_dec_string(d, "a string", &value, NULL) < 0)
        return -1;
    /* BTreeMap::insert: sorted by key bytes, a repeated key replaces */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->properties[mid].key, key);

        if (c == 0) {
            free(m->properties[mid].value);
            m->properties[mid].value = value;
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    schemas_vec_push((void **)&m->properties, &m->n_properties, sizeof(*p));
    memmove(&m->properties[lo + 1], &m->properties[lo],
            (m->n_properties - 1 - lo) * sizeof(*p));
    p = &m->properties[lo];
    p->key = xmalloc(key_len + 1);
    memcpy(p->key, key, key_len + 1);
    p->value = value;
    return 0;
}

static int dec_properties(struct json_dec *d, void *field_ptr,
                          const struct json_field *f)
{
    struct metrics_cfg *m =
        (struct metrics_cfg *)((char *)field_ptr - f->offset);

    return json_dec_map(d, "a map", property_entry, m);
}

static const struct json_field metrics_fields[] = {
    {FLD(struct metrics_cfg, "metrics_path", JSON_F_PATH, 0, metrics_path)},
    {FLD(struct metrics_cfg, "emit_id", JSON_F_BOOL, DEF, emit_id)},
    {FLD(struct metrics_cfg, "properties", JSON_F_CUSTOM, OPT | DEF,
         properties),
     HAS(struct metrics_cfg, has_properties), .custom = dec_properties},
};
EDESC(schemas_metrics_desc, "MetricsConfig", metrics_fields, false);

void metrics_cfg_fini(struct metrics_cfg *m)
{
    size_t i;

    if (!m)
        return;
    free(m->metrics_path);
    for (i = 0; i < m->n_properties; i++) {
        free(m->properties[i].key);
        free(m->properties[i].value);
    }
    free(m->properties);
    memset(m, 0, sizeof(*m));
}

int metrics_cfg_parse(const char *body, size_t len, struct metrics_cfg *out,
                      struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_metrics_desc, out, err);
    if (rc)
        metrics_cfg_fini(out);
    return rc;
}
