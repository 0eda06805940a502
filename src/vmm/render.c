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
#include <string.h>

#include "mmds/store.h"
#include "util/log.h"
#include "vmm/vmm_int.h"

/* ---------------------------------------------------------------------- */
/* JSON writing */

void vmm_json_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        switch (c) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        case '\b':
            buf_puts(b, "\\b");
            break;
        case '\f':
            buf_puts(b, "\\f");
            break;
        default:
            if (c < 0x20) {
                char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};

                buf_puts(b, u);
            } else {
                buf_putc(b, (char)c);
            }
        }
    }
    buf_putc(b, '"');
}

void vmm_json_cstr(struct buf *b, const char *s)
{
    if (!s) {
        buf_puts(b, "null");
        return;
    }
    vmm_json_str(b, s, strlen(s));
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

static void kbool(struct buf *b, const char *k, bool v, bool first)
{
    key(b, k, first);
    buf_puts(b, v ? "true" : "false");
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
/* Config objects */

static const char *cpu_template_name(enum static_cpu_template t)
{
    switch (t) {
    case STATIC_CPU_TEMPLATE_C3:
        return "C3";
    case STATIC_CPU_TEMPLATE_T2:
        return "T2";
    case STATIC_CPU_TEMPLATE_T2S:
        return "T2S";
    case STATIC_CPU_TEMPLATE_T2CL:
        return "T2CL";
    case STATIC_CPU_TEMPLATE_T2A:
        return "T2A";
    default:
        return "None";
    }
}

static const char *huge_pages_str(enum huge_pages h)
{
    switch (h) {
    case HUGE_PAGES_TRANSPARENT:
        return "Transparent";
    case HUGE_PAGES_2M:
        return "2M";
    default:
        return "None";
    }
}

static void render_bucket(struct buf *b, bool has,
                          const struct token_bucket_cfg *tb)
{
    if (!has) {
        buf_puts(b, "null");
        return;
    }
    buf_putc(b, '{');
    ku64(b, "size", tb->size, true);
    key(b, "one_time_burst", false);
    if (tb->has_one_time_burst)
        buf_printf(b, "%llu", (unsigned long long)tb->one_time_burst);
    else
        buf_puts(b, "null");
    ku64(b, "refill_time", tb->refill_time, false);
    buf_putc(b, '}');
}

static void render_limiter(struct buf *b, bool has,
                           const struct rate_limiter_cfg *rl)
{
    if (!has) {
        buf_puts(b, "null");
        return;
    }
    buf_puts(b, "{\"bandwidth\":");
    render_bucket(b, rl->has_bandwidth, &rl->bandwidth);
    buf_puts(b, ",\"ops\":");
    render_bucket(b, rl->has_ops, &rl->ops);
    buf_putc(b, '}');
}

static void render_machine(const struct vm_resources *r, struct buf *b)
{
    const struct machine_cfg *m = &r->machine;

    buf_putc(b, '{');
    ku64(b, "vcpu_count", m->vcpu_count, true);
    ku64(b, "mem_size_mib", m->mem_size_mib, false);
    kbool(b, "smt", m->smt, false);
    /* Only a static template is shown; a custom one (or none) is skipped. */
    if (m->has_cpu_template && m->cpu_template != STATIC_CPU_TEMPLATE_NONE)
        kstr(b, "cpu_template", cpu_template_name(m->cpu_template), false);
    kbool(b, "track_dirty_pages", m->track_dirty_pages, false);
    kstr(b, "huge_pages", huge_pages_str(m->huge_pages), false);
    buf_putc(b, '}');
}

static void render_balloon(const struct balloon_cfg *c, struct buf *b)
{
    buf_putc(b, '{');
    ku64(b, "amount_mib", c->amount_mib, true);
    kbool(b, "deflate_on_oom", c->deflate_on_oom, false);
    ku64(b, "stats_polling_interval_s", c->stats_polling_interval_s, false);
    kbool(b, "free_page_hinting", c->free_page_hinting, false);
    kbool(b, "free_page_reporting", c->free_page_reporting, false);
    buf_putc(b, '}');
}

static void render_drive(const struct drive_cfg *d, struct buf *b)
{
    buf_putc(b, '{');
    key(b, "drive_id", true);
    vmm_json_str(b, d->drive_id, d->drive_id_len);
    kstr(b, "partuuid", d->partuuid, false);
    kbool(b, "is_root_device", d->is_root_device, false);
    kstr(b, "cache_type",
         d->cache_type == CACHE_TYPE_WRITEBACK ? "Writeback" : "Unsafe", false);
    key(b, "is_read_only", false);
    buf_puts(b, !d->has_is_read_only ? "null"
                : d->is_read_only   ? "true"
                                    : "false");
    kstr(b, "path_on_host", d->path_on_host, false);
    key(b, "rate_limiter", false);
    render_limiter(b, d->has_rate_limiter, &d->rate_limiter);
    key(b, "io_engine", false);
    if (d->has_io_engine)
        vmm_json_cstr(b, d->io_engine == IO_ENGINE_ASYNC ? "Async" : "Sync");
    else
        buf_puts(b, "null");
    kstr(b, "socket", d->socket, false);
    buf_putc(b, '}');
}

static void render_net(const struct net_iface_cfg *n, struct buf *b)
{
    buf_putc(b, '{');
    key(b, "iface_id", true);
    vmm_json_str(b, n->iface_id, n->iface_id_len);
    kstr(b, "host_dev_name", n->host_dev_name, false);
    key(b, "guest_mac", false);
    if (n->has_guest_mac)
        buf_printf(b, "\"%02x:%02x:%02x:%02x:%02x:%02x\"", n->guest_mac[0],
                   n->guest_mac[1], n->guest_mac[2], n->guest_mac[3],
                   n->guest_mac[4], n->guest_mac[5]);
    else
        buf_puts(b, "null");
    key(b, "mtu", false);
    if (n->has_mtu)
        buf_printf(b, "%u", (unsigned)n->mtu);
    else
        buf_puts(b, "null");
    key(b, "rx_rate_limiter", false);
    render_limiter(b, n->has_rx_rate_limiter, &n->rx_rate_limiter);
    key(b, "tx_rate_limiter", false);
    render_limiter(b, n->has_tx_rate_limiter, &n->tx_rate_limiter);
    buf_putc(b, '}');
}

static void render_pmem(const struct pmem_cfg *p, struct buf *b)
{
    buf_putc(b, '{');
    key(b, "id", true);
    vmm_json_str(b, p->id, p->id_len);
    kstr(b, "path_on_host", p->path_on_host, false);
    kbool(b, "root_device", p->root_device, false);
    kbool(b, "read_only", p->read_only, false);
    key(b, "rate_limiter", false);
    render_limiter(b, p->has_rate_limiter, &p->rate_limiter);
    buf_putc(b, '}');
}

/* VmResources::mmds_config: present only when the store exists and some
 * NIC forwards to it; the address is the first such NIC's. */
static void render_mmds_config(const struct vm_resources *r, struct buf *b)
{
    const struct res_net *first = NULL;
    bool any = false;

    if (!r->mmds || !res_mmds_attached(r)) {
        buf_puts(b, "null");
        return;
    }
    buf_putc(b, '{');
    kstr(b, "version",
         mmds_store_version(r->mmds) == MMDS_VERSION_V2 ? "V2" : "V1", true);
    key(b, "network_interfaces", false);
    buf_putc(b, '[');
    for (size_t i = 0; i < r->n_nets; i++) {
        const struct res_net *n = &r->nets[i];

        if (!n->mmds)
            continue;
        if (any)
            buf_putc(b, ',');
        vmm_json_str(b, n->cfg.iface_id, n->cfg.iface_id_len);
        any = true;
        if (!first)
            first = n;
    }
    buf_putc(b, ']');
    key(b, "ipv4_address", false);
    buf_printf(b, "\"%u.%u.%u.%u\"", first->mmds_ipv4[0], first->mmds_ipv4[1],
               first->mmds_ipv4[2], first->mmds_ipv4[3]);
    kbool(b, "imds_compat", mmds_store_imds_compat(r->mmds), false);
    buf_putc(b, '}');
}

void vmm_render_vm_config(struct vmm *v, struct buf *b)
{
    const struct vm_resources *r = &v->res;

    buf_puts(b, "{\"balloon\":");
    if (r->has_balloon)
        render_balloon(&r->balloon, b);
    else
        buf_puts(b, "null");

    buf_puts(b, ",\"drives\":[");
    for (size_t i = 0; i < r->n_drives; i++) {
        if (i)
            buf_putc(b, ',');
        render_drive(&r->drives[i].cfg, b);
    }
    buf_putc(b, ']');

    /* boot_source is not an Option upstream: "" before any PUT. */
    buf_puts(b, ",\"boot-source\":{");
    kstr(b, "kernel_image_path",
         r->boot.cfg.kernel_image_path ? r->boot.cfg.kernel_image_path : "",
         true);
    kstr(b, "initrd_path", r->boot.cfg.initrd_path, false);
    kstr(b, "boot_args", r->boot.cfg.boot_args, false);
    buf_putc(b, '}');

    buf_puts(b, ",\"cpu-config\":null,\"logger\":null,\"machine-config\":");
    render_machine(r, b);
    buf_puts(b, ",\"metrics\":null,\"mmds-config\":");
    render_mmds_config(r, b);

    buf_puts(b, ",\"network-interfaces\":[");
    for (size_t i = 0; i < r->n_nets; i++) {
        if (i)
            buf_putc(b, ',');
        render_net(&r->nets[i].cfg, b);
    }
    buf_putc(b, ']');

    buf_puts(b, ",\"vsock\":");
    if (r->has_vsock) {
        buf_putc(b, '{');
        ku64(b, "guest_cid", r->vsock.cfg.guest_cid, true);
        kstr(b, "uds_path", r->vsock.cfg.uds_path, false);
        buf_putc(b, '}');
    } else {
        buf_puts(b, "null");
    }

    buf_puts(b, ",\"entropy\":");
    if (r->has_entropy) {
        buf_puts(b, "{\"rate_limiter\":");
        render_limiter(b, r->entropy.has_rate_limiter, &r->entropy.rate_limiter);
        buf_putc(b, '}');
    } else {
        buf_puts(b, "null");
    }

    buf_puts(b, ",\"pmem\":[");
    for (size_t i = 0; i < r->n_pmems; i++) {
        if (i)
            buf_putc(b, ',');
        render_pmem(&r->pmems[i], b);
    }
    buf_putc(b, ']');

    buf_puts(b, ",\"memory-hotplug\":");
    if (r->has_memory_hotplug) {
        buf_putc(b, '{');
        ku64(b, "total_size_mib", r->memory_hotplug.total_size_mib, true);
        ku64(b, "block_size_mib", r->memory_hotplug.block_size_mib, false);
        ku64(b, "slot_size_mib", r->memory_hotplug.slot_size_mib, false);
        buf_putc(b, '}');
    } else {
        buf_puts(b, "null");
    }
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
    render_balloon(&v->res.balloon, b);
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
        render_machine(&v->res, b);
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
