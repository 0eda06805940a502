/*
 * query.c: the answer to every GET, as upstream's serde output (digest 1.8,
 * 15): vmm_query(), from which the api's read mirror is rendered.
 *
 * The JSON itself is written by config/config.h's renderers (upstream's serde
 * field order, nulls where upstream has them); this file decides *what* each
 * GET answers in each phase. Everything comes from the configuration store,
 * which holds each device's configuration in the normalised form upstream reads
 * back from its devices (resources.h), so pre- and post-boot answers agree as
 * upstream's do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/store.h"
#include "obs/log.h"
#include "util/xalloc.h"
#include "vmm/vmm_int.h"

/* ---------------------------------------------------------------------- */
/* Config objects: config/config.h renders each upstream struct; the store
 * keeps them in the form upstream reads back (resources.h). */

/*
 * GET /vm/config: a borrowed view of the store as a config-file document
 * (upstream's From<&VmResources> for VmmConfig), rendered by config/config.h.
 * The structs are shallow copies; nothing here is freed through them.
 */
void vmm_render_vm_config(struct vmm *v, struct buf *b)
{
    const struct vm_resources *r = &v->res;
    struct vmm_config_file c;
    char **ids = xcalloc(r->n_nets + 1, sizeof(*ids));

    memset(&c, 0, sizeof(c));
    c.has_balloon = r->has_balloon;
    c.balloon = r->balloon;
    c.n_drives = r->n_drives;
    c.drives = xcalloc(r->n_drives + 1, sizeof(*c.drives));
    for (size_t i = 0; i < r->n_drives; i++)
        c.drives[i] = r->drives[i].cfg;
    /* boot_source is not an Option upstream: "" before any PUT. */
    c.boot_source = r->boot.cfg;
    c.has_machine_config = true;
    c.machine_config = r->machine;
    c.has_mmds_config = res_mmds_config_view(r, &c.mmds_config, ids);
    c.n_network_interfaces = r->n_nets;
    c.network_interfaces =
        xcalloc(r->n_nets + 1, sizeof(*c.network_interfaces));
    for (size_t i = 0; i < r->n_nets; i++)
        c.network_interfaces[i] = r->nets[i].cfg;
    c.has_vsock = r->has_vsock;
    c.vsock = r->vsock.cfg;
    c.has_entropy = r->has_entropy;
    c.entropy = r->entropy;
    c.n_pmem = r->n_pmems;
    c.pmem = r->pmems;
    c.has_memory_hotplug = r->has_memory_hotplug;
    c.memory_hotplug = r->memory_hotplug;

    vmm_config_file_to_json(&c, b);
    free(c.drives);
    free(c.network_interfaces);
    free(ids);
}

/* ---------------------------------------------------------------------- */
/* GET endpoints */

/* An error answer: its text (the api puts it in a fault_message). */
static int fault(struct buf *b, const char *msg)
{
    buf_puts(b, msg);
    return 400;
}

static int render_balloon_get(struct vmm *v, struct buf *b)
{
    if (!v->res.has_balloon)
        return fault(b, vmm_is_started(v)
                            ? "Internal VMM error: " VMM_ERR_DEVICE_NOT_FOUND
                            : "Balloon config error: No balloon device found.");
    balloon_cfg_to_json(&v->res.balloon, b);
    return 200;
}

/* Balloon::latest_stats through the running device; a machine layer
 * without devices (unit tests' fakes) shows the target and nothing the
 * guest reported. */
static int render_balloon_stats(struct vmm *v, struct buf *b)
{
    struct balloon_stats st;
    struct sq_err err;

    if (!vmm_is_started(v))
        return fault(b, VMM_ERR_NS_PRE);
    if (!v->res.has_balloon)
        return fault(b, "Internal VMM error: " VMM_ERR_DEVICE_NOT_FOUND);
    if (v->res.balloon.stats_polling_interval_s == 0)
        return fault(b, "Internal VMM error: Balloon: Received stats query "
                        "when stats are disabled.");
    memset(&st, 0, sizeof(st));
    if (v->ops->query_device) {
        sq_err_clear(&err);
        if (v->ops->query_device(v, VMM_OP_GET_BALLOON_STATS, "balloon", &st,
                                 &err) < 0) {
            buf_puts(b, "Internal VMM error: Balloon: ");
            return fault(b, err.msg);
        }
    } else {
        st.target_pages = v->res.balloon.amount_mib << 8; /* 4 KiB pages */
        st.target_mib = st.target_pages >> 8;
    }
    balloon_stats_to_json(&st, b);
    return 200;
}

static int render_hinting_status(struct vmm *v, struct buf *b)
{
    struct balloon_hinting_status hs = {0, false, 0};
    struct sq_err err;

    if (!vmm_is_started(v))
        return fault(b, VMM_ERR_NS_PRE);
    if (!v->res.has_balloon)
        return fault(b, "Balloon update error: " VMM_ERR_DEVICE_NOT_FOUND);
    if (!v->res.balloon.free_page_hinting)
        return fault(b, VMM_ERR_HINTING_NOT_ENABLED);
    /* Without a device: HintingState::default(), STOP (0) from us,
     * nothing from the guest. */
    if (v->ops->query_device) {
        sq_err_clear(&err);
        if (v->ops->query_device(v, VMM_OP_GET_BALLOON_HINTING_STATUS,
                                 "balloon", &hs, &err) < 0) {
            buf_puts(b, "Balloon update error: Balloon: ");
            return fault(b, err.msg);
        }
    }
    balloon_hinting_status_to_json(&hs, b);
    return 200;
}

/* VirtioMem::status through the running device; a machine layer without
 * devices (unit tests' fakes) shows nothing plugged or requested. */
static int render_hotplug_status(struct vmm *v, struct buf *b)
{
    const struct hotplug_memory_cfg *h = &v->res.memory_hotplug;
    struct hotplug_memory_status st;
    struct sq_err err;

    if (!vmm_is_started(v))
        return fault(b, VMM_ERR_NS_PRE);
    if (!v->res.has_memory_hotplug)
        return fault(b, "Internal VMM error: " VMM_ERR_DEVICE_NOT_FOUND);
    memset(&st, 0, sizeof(st));
    st.block_size_mib = h->block_size_mib;
    st.total_size_mib = h->total_size_mib;
    st.slot_size_mib = h->slot_size_mib;
    if (v->ops->query_device) {
        sq_err_clear(&err);
        if (v->ops->query_device(v, VMM_OP_GET_HOTPLUG_MEMORY, "mem", &st,
                                 &err) < 0) {
            buf_puts(b, "Internal VMM error: ");
            return fault(b, err.msg);
        }
    }
    hotplug_memory_status_to_json(&st, b);
    return 200;
}

static int render_mmds(struct vmm *v, struct buf *b)
{
    /* After boot upstream reaches the store only through a NIC with MMDS. */
    if (vmm_is_started(v) && !res_mmds_attached(&v->res))
        return fault(b, "MMDS error: " MMDS_ERR_NOT_INITIALIZED);
    mmds_store_render(v->res.mmds, b);
    return 200;
}

/* The body of GET `op` into b; 200, or 400 with the error text in b. */
static int query_get(struct vmm *v, enum vmm_op op, struct buf *b)
{
    switch (op) {
    case VMM_OP_GET_INSTANCE_INFO: {
        static const enum instance_state states[] = {
            [VMM_STATE_NOT_STARTED] = INSTANCE_STATE_NOT_STARTED,
            [VMM_STATE_RUNNING] = INSTANCE_STATE_RUNNING,
            [VMM_STATE_PAUSED] = INSTANCE_STATE_PAUSED,
        };
        struct instance_info ii = {v->instance_id, states[v->state],
                                   VMM_VERSION, VMM_APP_NAME};

        instance_info_to_json(&ii, b);
        return 200;
    }
    case VMM_OP_GET_VERSION:
        version_to_json(VMM_VERSION, b);
        return 200;
    case VMM_OP_GET_MACHINE_CONFIG:
        machine_cfg_to_json(&v->res.machine, b);
        return 200;
    case VMM_OP_GET_VM_CONFIG:
        vmm_render_vm_config(v, b);
        return 200;
    case VMM_OP_GET_BALLOON:
        return render_balloon_get(v, b);
    case VMM_OP_GET_BALLOON_STATS:
        return render_balloon_stats(v, b);
    case VMM_OP_GET_BALLOON_HINTING_STATUS:
        return render_hinting_status(v, b);
    case VMM_OP_GET_HOTPLUG_MEMORY:
        return render_hotplug_status(v, b);
    case VMM_OP_GET_MMDS:
        return render_mmds(v, b);
    case VMM_OP_PUT_ACTIONS:
    case VMM_OP_PUT_BALLOON:
    case VMM_OP_PATCH_BALLOON:
    case VMM_OP_PATCH_BALLOON_STATS:
    case VMM_OP_PATCH_BALLOON_HINTING_START:
    case VMM_OP_PATCH_BALLOON_HINTING_STOP:
    case VMM_OP_PUT_BOOT_SOURCE:
    case VMM_OP_PUT_CPU_CONFIG:
    case VMM_OP_PUT_DRIVE:
    case VMM_OP_PATCH_DRIVE:
    case VMM_OP_DELETE_DRIVE:
    case VMM_OP_PUT_PMEM:
    case VMM_OP_PATCH_PMEM:
    case VMM_OP_DELETE_PMEM:
    case VMM_OP_PUT_LOGGER:
    case VMM_OP_PUT_MACHINE_CONFIG:
    case VMM_OP_PATCH_MACHINE_CONFIG:
    case VMM_OP_PUT_METRICS:
    case VMM_OP_PUT_MMDS:
    case VMM_OP_PATCH_MMDS:
    case VMM_OP_PUT_MMDS_CONFIG:
    case VMM_OP_PUT_ENTROPY:
    case VMM_OP_PUT_SERIAL:
    case VMM_OP_PUT_HOTPLUG_MEMORY:
    case VMM_OP_PATCH_HOTPLUG_MEMORY:
    case VMM_OP_PUT_NET:
    case VMM_OP_PATCH_NET:
    case VMM_OP_DELETE_NET:
    case VMM_OP_PUT_SNAPSHOT_CREATE:
    case VMM_OP_PUT_SNAPSHOT_LOAD:
    case VMM_OP_PATCH_VM:
    case VMM_OP_PUT_VSOCK:
    case VMM_OP_COUNT:
        break;
    }
    return fault(b, VMM_ERR_INVALID_REQUEST);
}

void vmm_query(struct vmm *v, enum vmm_op op, struct vmm_reply *rep)
{
    buf_reset(&rep->body);
    rep->deprecated = false;
    rep->kind =
        query_get(v, op, &rep->body) == 200 ? VMM_REPLY_DATA : VMM_REPLY_ERROR;
}
