/*
 * action.c: the table of operations and the lifetime of requests and
 * replies (see action.h).
 */
#include "vmm/action.h"

#include <stdlib.h>

#include "util/json.h"

static const struct vmm_op_info op_table[VMM_OP_COUNT] = {
#define SQ_VMM_OP_ROW(op, m, p, b, c, pr, po, cnt, fl)                         \
    [VMM_OP_##                                                                 \
        op] = {#op,      m,   p, VMM_BODY_##b, ACTION_CLASS_##c, VMM_##pr,     \
               VMM_##po, cnt, fl},
    VMM_OPS(SQ_VMM_OP_ROW)
#undef SQ_VMM_OP_ROW
};

const struct vmm_op_info *vmm_op_info(enum vmm_op op)
{
    return &op_table[op];
}

const char *vmm_op_name(enum vmm_op op)
{
    return (unsigned)op < VMM_OP_COUNT ? op_table[op].name : "?";
}

bool vmm_op_is_read(enum vmm_op op)
{
    return (unsigned)op < VMM_OP_COUNT && op_table[op].method[0] == 'G';
}

void vmm_request_fini(struct vmm_request *req)
{
    union vmm_body *b = &req->body;

    free(req->id);
    req->id = NULL;
    switch (op_table[req->op].body) {
    case VMM_BODY_NONE:
        break;
    case VMM_BODY_INSTANCE_ACTION:
        instance_action_fini(&b->instance_action);
        break;
    case VMM_BODY_BOOT_SOURCE:
        boot_source_cfg_fini(&b->boot_source);
        break;
    case VMM_BODY_CPU_CONFIG:
        cpu_template_fini(&b->cpu_config);
        break;
    case VMM_BODY_DRIVE:
        drive_cfg_fini(&b->drive);
        break;
    case VMM_BODY_DRIVE_UPDATE:
        drive_update_fini(&b->drive_update);
        break;
    case VMM_BODY_PMEM:
        pmem_cfg_fini(&b->pmem);
        break;
    case VMM_BODY_PMEM_UPDATE:
        pmem_update_fini(&b->pmem_update);
        break;
    case VMM_BODY_NET:
        net_iface_cfg_fini(&b->net);
        break;
    case VMM_BODY_NET_UPDATE:
        net_iface_update_fini(&b->net_update);
        break;
    case VMM_BODY_MACHINE:
    case VMM_BODY_MACHINE_UPDATE:
        machine_cfg_fini(&b->machine);
        break;
    case VMM_BODY_LOGGER:
        logger_cfg_fini(&b->logger);
        break;
    case VMM_BODY_METRICS:
        metrics_cfg_fini(&b->metrics);
        break;
    case VMM_BODY_MMDS_DATA:
        json_value_free(b->mmds_data);
        b->mmds_data = NULL;
        break;
    case VMM_BODY_MMDS_CONFIG:
        mmds_cfg_fini(&b->mmds_config);
        break;
    case VMM_BODY_VSOCK:
        vsock_cfg_fini(&b->vsock);
        break;
    case VMM_BODY_ENTROPY:
        entropy_cfg_fini(&b->entropy);
        break;
    case VMM_BODY_SERIAL:
        serial_cfg_fini(&b->serial);
        break;
    case VMM_BODY_BALLOON:
        balloon_cfg_fini(&b->balloon);
        break;
    case VMM_BODY_BALLOON_UPDATE:
        balloon_update_fini(&b->balloon_update);
        break;
    case VMM_BODY_BALLOON_STATS_UPDATE:
        balloon_stats_update_fini(&b->balloon_stats_update);
        break;
    case VMM_BODY_BALLOON_HINTING_START:
        balloon_hinting_start_fini(&b->hinting_start);
        break;
    case VMM_BODY_HOTPLUG_MEMORY:
        hotplug_memory_cfg_fini(&b->hotplug_memory);
        break;
    case VMM_BODY_HOTPLUG_MEMORY_UPDATE:
        hotplug_memory_update_fini(&b->hotplug_memory_update);
        break;
    case VMM_BODY_SNAPSHOT_CREATE:
        snapshot_create_fini(&b->snapshot_create);
        break;
    case VMM_BODY_SNAPSHOT_LOAD:
        snapshot_load_fini(&b->snapshot_load);
        break;
    case VMM_BODY_VM_STATE:
        vm_state_req_fini(&b->vm_state);
        break;
    }
}

bool vmm_request_deprecated(const struct vmm_request *req)
{
    const union vmm_body *b = &req->body;

    switch (op_table[req->op].body) {
    case VMM_BODY_MACHINE:
    case VMM_BODY_MACHINE_UPDATE:
        return b->machine.deprecated;
    case VMM_BODY_VSOCK:
        return b->vsock.deprecated;
    case VMM_BODY_MMDS_CONFIG:
        return b->mmds_config.deprecated;
    case VMM_BODY_SNAPSHOT_LOAD:
        return b->snapshot_load.deprecated;
    case VMM_BODY_NONE:
    case VMM_BODY_INSTANCE_ACTION:
    case VMM_BODY_BOOT_SOURCE:
    case VMM_BODY_CPU_CONFIG:
    case VMM_BODY_DRIVE:
    case VMM_BODY_DRIVE_UPDATE:
    case VMM_BODY_PMEM:
    case VMM_BODY_PMEM_UPDATE:
    case VMM_BODY_NET:
    case VMM_BODY_NET_UPDATE:
    case VMM_BODY_LOGGER:
    case VMM_BODY_METRICS:
    case VMM_BODY_MMDS_DATA:
    case VMM_BODY_ENTROPY:
    case VMM_BODY_SERIAL:
    case VMM_BODY_BALLOON:
    case VMM_BODY_BALLOON_UPDATE:
    case VMM_BODY_BALLOON_STATS_UPDATE:
    case VMM_BODY_BALLOON_HINTING_START:
    case VMM_BODY_HOTPLUG_MEMORY:
    case VMM_BODY_HOTPLUG_MEMORY_UPDATE:
    case VMM_BODY_SNAPSHOT_CREATE:
    case VMM_BODY_VM_STATE:
        return false;
    }
    return false;
}

enum action_class vmm_request_class(const struct vmm_request *req)
{
    if (req->op == VMM_OP_PUT_ACTIONS)
        return req->body.instance_action.action_type == ACTION_INSTANCE_START
                   ? ACTION_CLASS_START
                   : ACTION_CLASS_VCPU;
    return op_table[req->op].cls;
}

void vmm_reply_fini(struct vmm_reply *rep)
{
    buf_fini(&rep->body);
}
