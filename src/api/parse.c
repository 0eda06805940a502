/*
 * parse.c: write requests -> typed bodies (see parse.h).
 *
 * The table below is the one place that says which schema type travels with
 * which operation; vmm_handle_action() casts a->body accordingly.
 *
 *   op                              a->body
 *   PUT /actions                    struct instance_action
 *   PUT /boot-source                struct boot_source_cfg
 *   PUT /cpu-config                 struct cpu_template
 *   PUT /drives/{id}                struct drive_cfg
 *   PATCH /drives/{id}              struct drive_update
 *   PUT /pmem/{id}                  struct pmem_cfg
 *   PATCH /pmem/{id}                struct pmem_update
 *   PUT /network-interfaces/{id}    struct net_iface_cfg
 *   PATCH /network-interfaces/{id}  struct net_iface_update
 *   PUT /machine-config             struct machine_cfg
 *   PATCH /machine-config           struct machine_cfg (has_* = given)
 *   PUT /logger                     struct logger_cfg
 *   PUT /metrics                    struct metrics_cfg
 *   PUT, PATCH /mmds                struct json_value (json_value_free)
 *   PUT /mmds/config                struct mmds_cfg
 *   PUT /vsock                      struct vsock_cfg
 *   PUT /entropy                    struct entropy_cfg
 *   PUT /serial                     struct serial_cfg
 *   PUT /balloon                    struct balloon_cfg
 *   PATCH /balloon                  struct balloon_update
 *   PATCH /balloon/statistics       struct balloon_stats_update
 *   PATCH /balloon/hinting/start    struct balloon_hinting_start
 *   PUT /hotplug/memory             struct hotplug_memory_cfg
 *   PATCH /hotplug/memory           struct hotplug_memory_update
 *   PUT /snapshot/create            struct snapshot_create
 *   PUT /snapshot/load              struct snapshot_load
 *   PATCH /vm                       struct vm_state_req
 *   DELETE, hinting/stop            none (a->id carries the path id)
 */
#include "api/parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/json.h"
#include "util/xalloc.h"

/* Typed wrappers: allocate, parse, and pair the body with its destructor. */
#define SQ_BODY(T)                                                           \
    static void free_##T(void *p)                                            \
    {                                                                        \
        T##_fini(p);                                                         \
        free(p);                                                             \
    }                                                                        \
    static int parse_##T(const char *b, size_t n, struct api_action *a,      \
                         struct sq_err *e)                                   \
    {                                                                        \
        struct T *p = xcalloc(1, sizeof(*p));                                \
        int rc = T##_parse(b, n, p, e);                                      \
        if (rc) {                                                            \
            free(p);                                                         \
            return rc;                                                       \
        }                                                                    \
        a->body = p;                                                         \
        a->body_free = free_##T;                                             \
        return 0;                                                            \
    }

SQ_BODY(instance_action)
SQ_BODY(boot_source_cfg)
SQ_BODY(drive_cfg)
SQ_BODY(drive_update)
SQ_BODY(pmem_cfg)
SQ_BODY(pmem_update)
SQ_BODY(net_iface_cfg)
SQ_BODY(net_iface_update)
SQ_BODY(machine_cfg)
SQ_BODY(logger_cfg)
SQ_BODY(metrics_cfg)
SQ_BODY(mmds_cfg)
SQ_BODY(vsock_cfg)
SQ_BODY(entropy_cfg)
SQ_BODY(serial_cfg)
SQ_BODY(balloon_cfg)
SQ_BODY(balloon_update)
SQ_BODY(balloon_stats_update)
SQ_BODY(hotplug_memory_cfg)
SQ_BODY(hotplug_memory_update)
SQ_BODY(snapshot_create)
SQ_BODY(snapshot_load)
SQ_BODY(vm_state_req)

static void free_machine_cfg_patch(void *p)
{
    machine_cfg_fini(p);
    free(p);
}

static void free_cpu_template(void *p)
{
    cpu_template_fini(p);
    free(p);
}

static void free_json_value(void *p)
{
    json_value_free(p);
}

static void free_hinting_start(void *p)
{
    balloon_hinting_start_fini(p);
    free(p);
}

/* Compare the path id with the body id (both may hold any bytes). */
static bool same_id(const struct api_route *r, const char *id, size_t id_len)
{
    return r->id_len == id_len && !memcmp(r->id, id, id_len);
}

static int id_mismatch(struct sq_err *err)
{
    return sq_errf(err, -EINVAL,
                   "The id from the path does not match the id from the body!");
}

static int net_id_mismatch(const struct api_route *r, const char *body_id,
                           size_t body_id_len, struct sq_err *err)
{
    return sq_errf(err, -EINVAL,
                   "The id from the path [%.*s] does not match the id from "
                   "the body [%.*s]!",
                   (int)r->id_len, r->id, (int)body_id_len, body_id);
}

int api_parse_body(const struct api_route *r, const char *body,
                   size_t body_len, struct api_action *a, struct sq_err *err)
{
    int rc = 0;

    switch (r->op) {
    case API_OP_PUT_ACTIONS:
        return parse_instance_action(body, body_len, a, err);
    case API_OP_PUT_BOOT_SOURCE:
        return parse_boot_source_cfg(body, body_len, a, err);
    case API_OP_PUT_CPU_CONFIG: {
        struct cpu_template *t = xcalloc(1, sizeof(*t));

        rc = cpu_config_parse(body, body_len, t, err);
        if (rc) {
            free(t);
            return rc;
        }
        a->body = t;
        a->body_free = free_cpu_template;
        return 0;
    }
    case API_OP_PUT_DRIVE:
        rc = parse_drive_cfg(body, body_len, a, err);
        if (!rc) {
            const struct drive_cfg *d = a->body;

            if (!same_id(r, d->drive_id, d->drive_id_len))
                rc = id_mismatch(err);
        }
        break;
    case API_OP_PATCH_DRIVE:
        rc = parse_drive_update(body, body_len, a, err);
        if (!rc) {
            const struct drive_update *d = a->body;

            if (!same_id(r, d->drive_id, d->drive_id_len))
                rc = id_mismatch(err);
        }
        break;
    case API_OP_PUT_PMEM:
        rc = parse_pmem_cfg(body, body_len, a, err);
        if (!rc) {
            const struct pmem_cfg *p = a->body;

            if (!same_id(r, p->id, p->id_len))
                rc = id_mismatch(err);
        }
        break;
    case API_OP_PATCH_PMEM:
        rc = parse_pmem_update(body, body_len, a, err);
        if (!rc) {
            const struct pmem_update *p = a->body;

            if (!same_id(r, p->id, p->id_len))
                rc = id_mismatch(err);
        }
        break;
    case API_OP_PUT_NET:
        rc = parse_net_iface_cfg(body, body_len, a, err);
        if (!rc) {
            const struct net_iface_cfg *n = a->body;

            if (!same_id(r, n->iface_id, n->iface_id_len))
                rc = net_id_mismatch(r, n->iface_id, n->iface_id_len, err);
        }
        break;
    case API_OP_PATCH_NET:
        rc = parse_net_iface_update(body, body_len, a, err);
        if (!rc) {
            const struct net_iface_update *n = a->body;

            if (!same_id(r, n->iface_id, n->iface_id_len))
                rc = net_id_mismatch(r, n->iface_id, n->iface_id_len, err);
        }
        break;
    case API_OP_PUT_MACHINE_CONFIG:
        rc = parse_machine_cfg(body, body_len, a, err);
        if (!rc)
            a->deprecated = ((struct machine_cfg *)a->body)->deprecated;
        return rc;
    case API_OP_PATCH_MACHINE_CONFIG: {
        struct machine_cfg *m = xcalloc(1, sizeof(*m));

        rc = machine_cfg_update_parse(body, body_len, m, err);
        if (rc) {
            free(m);
            return rc;
        }
        a->body = m;
        a->body_free = free_machine_cfg_patch;
        a->deprecated = m->deprecated;
        return 0;
    }
    case API_OP_PUT_LOGGER:
        return parse_logger_cfg(body, body_len, a, err);
    case API_OP_PUT_METRICS:
        return parse_metrics_cfg(body, body_len, a, err);
    case API_OP_PUT_MMDS:
    case API_OP_PATCH_MMDS: {
        struct json_value *v = NULL;

        rc = mmds_body_parse(body, body_len, &v, err);
        if (rc)
            return rc;
        a->body = v;
        a->body_free = free_json_value;
        return 0;
    }
    case API_OP_PUT_MMDS_CONFIG:
        rc = parse_mmds_cfg(body, body_len, a, err);
        if (!rc)
            a->deprecated = ((struct mmds_cfg *)a->body)->deprecated;
        return rc;
    case API_OP_PUT_VSOCK:
        rc = parse_vsock_cfg(body, body_len, a, err);
        if (!rc)
            a->deprecated = ((struct vsock_cfg *)a->body)->deprecated;
        return rc;
    case API_OP_PUT_ENTROPY:
        return parse_entropy_cfg(body, body_len, a, err);
    case API_OP_PUT_SERIAL:
        return parse_serial_cfg(body, body_len, a, err);
    case API_OP_PUT_BALLOON:
        return parse_balloon_cfg(body, body_len, a, err);
    case API_OP_PATCH_BALLOON:
        return parse_balloon_update(body, body_len, a, err);
    case API_OP_PATCH_BALLOON_STATS:
        return parse_balloon_stats_update(body, body_len, a, err);
    case API_OP_PATCH_BALLOON_HINTING_START: {
        struct balloon_hinting_start *h = xcalloc(1, sizeof(*h));

        /* No body: StartHintingCmd::default(), which acknowledges on stop. */
        h->acknowledge_on_stop = true;
        if (body_len)
            rc = balloon_hinting_start_parse(body, body_len, h, err);
        if (rc) {
            free(h);
            return rc;
        }
        a->body = h;
        a->body_free = free_hinting_start;
        return 0;
    }
    case API_OP_PUT_HOTPLUG_MEMORY:
        return parse_hotplug_memory_cfg(body, body_len, a, err);
    case API_OP_PATCH_HOTPLUG_MEMORY:
        return parse_hotplug_memory_update(body, body_len, a, err);
    case API_OP_PUT_SNAPSHOT_CREATE:
        return parse_snapshot_create(body, body_len, a, err);
    case API_OP_PUT_SNAPSHOT_LOAD:
        rc = parse_snapshot_load(body, body_len, a, err);
        if (!rc)
            a->deprecated = ((struct snapshot_load *)a->body)->deprecated;
        return rc;
    case API_OP_PATCH_VM:
        return parse_vm_state_req(body, body_len, a, err);
    case API_OP_PATCH_BALLOON_HINTING_STOP:
    case API_OP_DELETE_DRIVE:
    case API_OP_DELETE_PMEM:
    case API_OP_DELETE_NET:
        return 0;
    default:
        return sq_errf(err, -EINVAL, "internal: %s is not a write operation",
                       api_op_name(r->op));
    }

    if (rc && a->body) {
        a->body_free(a->body);
        a->body = NULL;
        a->body_free = NULL;
    }
    return rc;
}
