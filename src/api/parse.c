/*
 * parse.c: write requests -> the vmm's typed requests (see parse.h).
 *
 * Which body travels with which operation is the `body` column of the table
 * of operations (vmm/action.h); this file only knows, per body kind, which
 * config/ parser fills which member and where its id is.
 */
#include "api/parse.h"

#include <errno.h>

#include "config/config.h"
#include "util/json.h"
#include "util/xalloc.h"

/* Drives and pmem: upstream's generic mismatch text. */
static int check_id(const struct api_route *r, const char *id, size_t id_len,
                    struct sq_err *err)
{
    return schemas_check_body_id(r->id, r->id_len, id, id_len, err);
}

/* Network interfaces: upstream names both ids. */
static int check_iface_id(const struct api_route *r, const char *id,
                          size_t id_len, struct sq_err *err)
{
    return schemas_check_iface_id(r->id, r->id_len, id, id_len, err);
}

static int parse_kind(const struct api_route *r, const char *p, size_t n,
                      union vmm_body *b, struct sq_err *e)
{
    int rc;

    switch (vmm_op_info(r->op)->body) {
    case VMM_BODY_NONE:
        return 0;
    case VMM_BODY_INSTANCE_ACTION:
        return instance_action_parse(p, n, &b->instance_action, e);
    case VMM_BODY_BOOT_SOURCE:
        return boot_source_cfg_parse(p, n, &b->boot_source, e);
    case VMM_BODY_CPU_CONFIG:
        return cpu_config_parse(p, n, &b->cpu_config, e);
    case VMM_BODY_DRIVE:
        rc = drive_cfg_parse(p, n, &b->drive, e);
        return rc ? rc
                  : check_id(r, b->drive.drive_id, b->drive.drive_id_len, e);
    case VMM_BODY_DRIVE_UPDATE:
        rc = drive_update_parse(p, n, &b->drive_update, e);
        return rc ? rc
                  : check_id(r, b->drive_update.drive_id,
                             b->drive_update.drive_id_len, e);
    case VMM_BODY_PMEM:
        rc = pmem_cfg_parse(p, n, &b->pmem, e);
        return rc ? rc : check_id(r, b->pmem.id, b->pmem.id_len, e);
    case VMM_BODY_PMEM_UPDATE:
        rc = pmem_update_parse(p, n, &b->pmem_update, e);
        return rc ? rc
                  : check_id(r, b->pmem_update.id, b->pmem_update.id_len, e);
    case VMM_BODY_NET:
        rc = net_iface_cfg_parse(p, n, &b->net, e);
        return rc ? rc
                  : check_iface_id(r, b->net.iface_id, b->net.iface_id_len, e);
    case VMM_BODY_NET_UPDATE:
        rc = net_iface_update_parse(p, n, &b->net_update, e);
        return rc ? rc
                  : check_iface_id(r, b->net_update.iface_id,
                                   b->net_update.iface_id_len, e);
    case VMM_BODY_MACHINE:
        return machine_cfg_parse(p, n, &b->machine, e);
    case VMM_BODY_MACHINE_UPDATE:
        return machine_cfg_update_parse(p, n, &b->machine, e);
    case VMM_BODY_LOGGER:
        return logger_cfg_parse(p, n, &b->logger, e);
    case VMM_BODY_METRICS:
        return metrics_cfg_parse(p, n, &b->metrics, e);
    case VMM_BODY_MMDS_DATA:
        return mmds_body_parse(p, n, &b->mmds_data, e);
    case VMM_BODY_MMDS_CONFIG:
        return mmds_cfg_parse(p, n, &b->mmds_config, e);
    case VMM_BODY_VSOCK:
        return vsock_cfg_parse(p, n, &b->vsock, e);
    case VMM_BODY_ENTROPY:
        return entropy_cfg_parse(p, n, &b->entropy, e);
    case VMM_BODY_SERIAL:
        return serial_cfg_parse(p, n, &b->serial, e);
    case VMM_BODY_BALLOON:
        return balloon_cfg_parse(p, n, &b->balloon, e);
    case VMM_BODY_BALLOON_UPDATE:
        return balloon_update_parse(p, n, &b->balloon_update, e);
    case VMM_BODY_BALLOON_STATS_UPDATE:
        return balloon_stats_update_parse(p, n, &b->balloon_stats_update, e);
    case VMM_BODY_BALLOON_HINTING_START:
        /* No body: StartHintingCmd::default(), which acknowledges on stop. */
        b->hinting_start.acknowledge_on_stop = true;
        return n ? balloon_hinting_start_parse(p, n, &b->hinting_start, e) : 0;
    case VMM_BODY_HOTPLUG_MEMORY:
        return hotplug_memory_cfg_parse(p, n, &b->hotplug_memory, e);
    case VMM_BODY_HOTPLUG_MEMORY_UPDATE:
        return hotplug_memory_update_parse(p, n, &b->hotplug_memory_update, e);
    case VMM_BODY_SNAPSHOT_CREATE:
        return snapshot_create_parse(p, n, &b->snapshot_create, e);
    case VMM_BODY_SNAPSHOT_LOAD:
        return snapshot_load_parse(p, n, &b->snapshot_load, e);
    case VMM_BODY_VM_STATE:
        return vm_state_req_parse(p, n, &b->vm_state, e);
    }
    return sq_errf(e, -EINVAL, "internal: %s has no body kind",
                   vmm_op_name(r->op));
}

int api_parse_body(const struct api_route *r, const char *body, size_t body_len,
                   struct vmm_request *req, struct sq_err *err)
{
    if (vmm_op_is_read(r->op))
        return sq_errf(err, -EINVAL, "internal: %s is not a write operation",
                       vmm_op_name(r->op));
    req->op = r->op;
    if (r->id)
        req->id = xstrndup(r->id, r->id_len);
    return parse_kind(r, body, body_len, &req->body, err);
}
