/*
 * render.c: the bodies of every GET, as upstream's serde output (digest 1.8,
 * 15), and the read mirror built from them.
 *
 * Key order is the Rust struct's field order; Option::None is written as
 * null except where upstream skips it (machine-config's cpu_template).
 * Everything is rendered from the configuration store, which holds each
 * device's configuration in the normalised form upstream reads back from
 * its devices (resources.h), so pre- and post-boot answers agree as
 * upstream's do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/store.h"
#include "util/json.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vmm/vmm_int.h"

/* ---------------------------------------------------------------------- */
/* JSON writing (util/json.h has serde_json's escaping) */

void vmm_json_str(struct buf *b, const char *s, size_t n)
{
    json_write_str(b, s, n);
}

void vmm_json_cstr(struct buf *b, const char *s)
{
    json_write_cstr(b, s);
}

void vmm_render_fault(struct buf *b, const char *msg)
{
    buf_puts(b, "{\"fault_message\":");
    vmm_json_cstr(b, msg);
    buf_putc(b, '}');
}

static void key(struct buf *b, const char *k, bool first)
{
    if (!first)
        buf_putc(b, ',');
    vmm_json_cstr(b, k);
    buf_putc(b, ':');
}

static void ku64(struct buf *b, const char *k, uint64_t v, bool first)
{
    key(b, k, first);
    buf_printf(b, "%llu", (unsigned long long)v);
}

static void kstr(struct buf *b, const char *k, const char *v, bool first)
{
    key(b, k, first);
    vmm_json_cstr(b, v);
}

/* ---------------------------------------------------------------------- */
/* Config objects: api/schemas.h renders each upstream struct; the store
 * keeps them in the form upstream reads back (resources.h). */

/* VmResources::mmds_config: present only when the store exists and some
 * NIC forwards to it; the address is the first such NIC's. */
static void render_mmds_config(const struct vm_resources *r, struct buf *b)
{
    const struct res_net *first = NULL;
    struct mmds_cfg c;
    char **ids;

    if (!r->mmds || !res_mmds_attached(r)) {
        buf_puts(b, "null");
        return;
    }
    memset(&c, 0, sizeof(c));
    ids = xcalloc(r->n_nets, sizeof(*ids));
    for (size_t i = 0; i < r->n_nets; i++) {
        const struct res_net *n = &r->nets[i];

        if (!n->mmds)
            continue;
        ids[c.n_network_interfaces++] = n->cfg.iface_id;
        if (!first)
            first = n;
    }
    c.version = mmds_store_version(r->mmds);
    c.network_interfaces = ids;
    c.has_ipv4_address = true;
    memcpy(c.ipv4_address, first->mmds_ipv4, 4);
    c.imds_compat = mmds_store_imds_compat(r->mmds);
    mmds_cfg_to_json(&c, b);
    free(ids);
}

void vmm_render_vm_config(struct vmm *v, struct buf *b)
{
    const struct vm_resources *r = &v->res;

    buf_puts(b, "{\"balloon\":");
    if (r->has_balloon)
        balloon_cfg_to_json(&r->balloon, b);
    else
        buf_puts(b, "null");

    buf_puts(b, ",\"drives\":[");
    for (size_t i = 0; i < r->n_drives; i++) {
        if (i)
            buf_putc(b, ',');
        drive_cfg_to_json(&r->drives[i].cfg, b);
    }
    buf_putc(b, ']');

    /* boot_source is not an Option upstream: "" before any PUT. */
    buf_puts(b, ",\"boot-source\":");
    boot_source_cfg_to_json(&r->boot.cfg, b);
    buf_puts(b, ",\"cpu-config\":null,\"logger\":null,\"machine-config\":");
    machine_cfg_to_json(&r->machine, b);
    buf_puts(b, ",\"metrics\":null,\"mmds-config\":");
    render_mmds_config(r, b);

    buf_puts(b, ",\"network-interfaces\":[");
    for (size_t i = 0; i < r->n_nets; i++) {
        if (i)
            buf_putc(b, ',');
        net_iface_cfg_to_json(&r->nets[i].cfg, b);
    }
    buf_putc(b, ']');

    buf_puts(b, ",\"vsock\":");
    if (r->has_vsock)
        vsock_cfg_to_json(&r->vsock.cfg, b);
    else
        buf_puts(b, "null");

    buf_puts(b, ",\"entropy\":");
    if (r->has_entropy)
        entropy_cfg_to_json(&r->entropy, b);
    else
        buf_puts(b, "null");

    buf_puts(b, ",\"pmem\":[");
    for (size_t i = 0; i < r->n_pmems; i++) {
        if (i)
            buf_putc(b, ',');
        pmem_cfg_to_json(&r->pmems[i], b);
    }
    buf_putc(b, ']');

    buf_puts(b, ",\"memory-hotplug\":");
    if (r->has_memory_hotplug)
        hotplug_memory_cfg_to_json(&r->memory_hotplug, b);
    else
        buf_puts(b, "null");
    buf_putc(b, '}');
}

/* ---------------------------------------------------------------------- */
/* GET endpoints */

#define DEVICE_NOT_FOUND "Failed perform action on device: Device not found"

static int fault(struct buf *b, const char *msg)
{
    vmm_render_fault(b, msg);
    return 400;
}

static int render_balloon_get(struct vmm *v, struct buf *b)
{
    if (!v->res.has_balloon)
        return fault(b, vmm_is_started(v)
                            ? "Internal VMM error: " DEVICE_NOT_FOUND
                            : "Balloon config error: No balloon device found.");
    balloon_cfg_to_json(&v->res.balloon, b);
    return 200;
}

/* Balloon::latest_stats: the target from the config space, what the guest
 * reported for the rest (nothing yet: no driver has talked to the device). */
static int render_balloon_stats(struct vmm *v, struct buf *b)
{
    uint64_t target_pages;

    if (!vmm_is_started(v))
        return fault(b, VMM_ERR_NS_PRE);
    if (!v->res.has_balloon)
        return fault(b, "Internal VMM error: " DEVICE_NOT_FOUND);
    if (v->res.balloon.stats_polling_interval_s == 0)
        return fault(b, "Internal VMM error: Balloon: Received stats query "
                        "when stats are disabled.");
    target_pages = (uint64_t)v->res.balloon.amount_mib << 8; /* 4 KiB pages */
    buf_putc(b, '{');
    ku64(b, "target_pages", target_pages, true);
    ku64(b, "actual_pages", 0, false);
    ku64(b, "target_mib", target_pages >> 8, false);
    ku64(b, "actual_mib", 0, false);
    buf_putc(b, '}');
    return 200;
}

static int render_hinting_status(struct vmm *v, struct buf *b)
{
    if (!vmm_is_started(v))
        return fault(b, VMM_ERR_NS_PRE);
    if (!v->res.has_balloon)
        return fault(b, "Balloon update error: " DEVICE_NOT_FOUND);
    if (!v->res.balloon.free_page_hinting)
        return fault(b, "Balloon update error: Balloon: Attempting to use "
                        "hinting when not enabled");
    buf_puts(b, "{\"host_cmd\":0,\"guest_cmd\":null}");
    return 200;
}

static int render_hotplug_status(struct vmm *v, struct buf *b)
{
    const struct hotplug_memory_cfg *h = &v->res.memory_hotplug;

    if (!vmm_is_started(v))
        return fault(b, VMM_ERR_NS_PRE);
    if (!v->res.has_memory_hotplug)
        return fault(b, "Internal VMM error: " DEVICE_NOT_FOUND);
    buf_putc(b, '{');
    ku64(b, "block_size_mib", h->block_size_mib, true);
    ku64(b, "total_size_mib", h->total_size_mib, false);
    ku64(b, "slot_size_mib", h->slot_size_mib, false);
    ku64(b, "plugged_size_mib", 0, false);
    ku64(b, "requested_size_mib", 0, false);
    buf_putc(b, '}');
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

int vmm_render_get(struct vmm *v, enum api_op op, struct buf *b)
{
    switch (op) {
    case API_OP_GET_INSTANCE_INFO:
        buf_putc(b, '{');
        kstr(b, "id", v->instance_id, true);
        kstr(b, "state", vmm_state_name(v->state), false);
        kstr(b, "vmm_version", VMM_VERSION, false);
        kstr(b, "app_name", VMM_APP_NAME, false);
        buf_putc(b, '}');
        return 200;
    case API_OP_GET_VERSION:
        buf_puts(b, "{\"firecracker_version\":\"" VMM_VERSION "\"}");
        return 200;
    case API_OP_GET_MACHINE_CONFIG:
        machine_cfg_to_json(&v->res.machine, b);
        return 200;
    case API_OP_GET_VM_CONFIG:
        vmm_render_vm_config(v, b);
        return 200;
    case API_OP_GET_BALLOON:
        return render_balloon_get(v, b);
    case API_OP_GET_BALLOON_STATS:
        return render_balloon_stats(v, b);
    case API_OP_GET_BALLOON_HINTING_STATUS:
        return render_hinting_status(v, b);
    case API_OP_GET_HOTPLUG_MEMORY:
        return render_hotplug_status(v, b);
    case API_OP_GET_MMDS:
        return render_mmds(v, b);
    default:
        return fault(b, "Invalid request method and/or path.");
    }
}

struct mirror *vmm_render_mirror(struct vmm *v)
{
    struct mirror *m = mirror_new();
    struct buf b = BUF_INIT;

    for (int op = 0; op < API_OP_COUNT; op++) {
        int status;

        if (!api_op_is_read((enum api_op)op))
            continue;
        buf_reset(&b);
        status = vmm_render_get(v, (enum api_op)op, &b);
        mirror_set(m, (enum api_op)op, status, b.data, b.len);
    }
    buf_fini(&b);
    return m;
}
