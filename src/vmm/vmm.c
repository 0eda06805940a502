/*
 * vmm.c: the VMM controller (see vmm.h): which operation is legal when, what
 * it does to the configuration, and which error a client sees.
 *
 * Lifecycle (digest 1.4, 7.4):
 *
 *                       InstanceStart
 *                 (handle_start -> ops->start)
 *   +-------------+ ----------------------> +---------+  PATCH /vm Paused
 *   | Not started |                         | Running | ------------+
 *   +-------------+                         +---------+ (ops->pause) |
 *      |      ^                                  ^                   v
 *      +------+                                  |              +--------+
 *   start failed, or                             +------------- | Paused |
 *   PUT /snapshot/load                          PATCH /vm       +--------+
 *   (refused: no snapshot                       Resumed
 *   support yet)                                (ops->resume)
 *
 * "Not started" is upstream's pre-boot phase (PrebootApiController): the
 * configuration endpoints work and the runtime ones answer NSPre. Once the
 * machine is built (Running or Paused) the roles swap (RuntimeApiController).
 * Pausing a paused VM or resuming a running one succeeds (upstream does not
 * check either). There is no way back to Not started: when the machine
 * stops (guest reset or shutdown, fatal vCPU exit) vmm_start.c's on_exit
 * sets exit_requested and the process ends.
 *
 * Every handler returns 204 (or 200 with data in the response buffer), or a
 * negative errno with the full fault_message in err; err->http_status 413 is
 * kept for the MMDS limit.
 */
#include "vmm/vmm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/store.h"
#include "obs/log.h"
#include "util/xalloc.h"
#include "vmm/vmm_int.h"
#include "vmm/vmm_metrics.h"

#define DEFAULT_MMDS_LIMIT 51200

/* ---------------------------------------------------------------------- */
/* Helpers */

static int fail(struct sq_err *err, const char *prefix)
{
    sq_err_prefix(err, prefix);
    return err->code ? err->code : -EINVAL;
}

static int ns_pre(struct sq_err *err)
{
    return sq_errf(err, -EPERM, VMM_ERR_NS_PRE);
}

static int ns_post(struct sq_err *err)
{
    return sq_errf(err, -EPERM, VMM_ERR_NS_POST);
}

const char *vmm_state_name(enum vmm_state s)
{
    switch (s) {
    case VMM_STATE_RUNNING:
        return "Running";
    case VMM_STATE_PAUSED:
        return "Paused";
    default:
        return "Not started";
    }
}

bool vmm_is_started(const struct vmm *v)
{
    return v->state != VMM_STATE_NOT_STARTED;
}

/* ---------------------------------------------------------------------- */
/* Lifetime */

struct vmm *vmm_new(struct evloop *loop, const struct vmm_opts *opts)
{
    struct vmm *v = xcalloc(1, sizeof(*v));
    size_t limit = opts && opts->mmds_size_limit ? opts->mmds_size_limit
                                                 : DEFAULT_MMDS_LIMIT;

    v->loop = loop;
    v->instance_id = xstrdup(opts && opts->instance_id ? opts->instance_id
                                                       : "anonymous-instance");
    res_init(&v->res, limit, opts && opts->enable_pci,
             opts && opts->boot_timer);
    v->state = VMM_STATE_NOT_STARTED;
    v->ops = &vmm_default_machine_ops;
    return v;
}

void vmm_free(struct vmm *v)
{
    if (!v)
        return;
    if (v->ops && v->ops->stop)
        v->ops->stop(v);
    res_fini(&v->res);
    free(v->instance_id);
    free(v);
}

void vmm_note_metrics_initialised(struct vmm *v)
{
    v->metrics_initialised = true;
}

int vmm_put_metadata(struct vmm *v, struct json_value *doc, struct sq_err *err)
{
    return mmds_store_put(res_mmds_or_default(&v->res), doc, err);
}

/* ---------------------------------------------------------------------- */
/* Logger and metrics (shared with the config file) */

static enum log_level level_from_filter(enum log_level_filter f)
{
    switch (f) {
    case LOG_FILTER_OFF:
        return LOG_OFF;
    case LOG_FILTER_TRACE:
        return LOG_TRACE;
    case LOG_FILTER_DEBUG:
        return LOG_DEBUG;
    case LOG_FILTER_WARN:
        return LOG_WARN;
    case LOG_FILTER_ERROR:
        return LOG_ERROR;
    default:
        return LOG_INFO;
    }
}

int vmm_apply_logger(struct vmm *v, const struct logger_cfg *cfg,
                     struct sq_err *err)
{
    struct logger_config lc = LOGGER_CONFIG_INIT;

    (void)v;
    /* Logger::update semantics live in the logger (log_apply_config): the
     * file is opened first, an omitted level resets to Info, the other
     * omitted fields keep their values. */
    lc.log_path = cfg->log_path;
    lc.has_level = cfg->has_level;
    lc.level = cfg->has_level ? level_from_filter(cfg->level) : LOG_INFO;
    lc.show_level = cfg->has_show_level ? cfg->show_level : -1;
    lc.show_log_origin = cfg->has_show_log_origin ? cfg->show_log_origin : -1;
    lc.module = cfg->module;
    return log_apply_config(&lc, err);
}

int vmm_apply_metrics(struct vmm *v, const struct metrics_cfg *cfg,
                      struct sq_err *err)
{
    const char **keys = NULL, **values = NULL;
    size_t n = cfg->has_properties ? cfg->n_properties : 0;
    int rc;

    if (n) {
        keys = xcalloc(n, sizeof(*keys));
        values = xcalloc(n, sizeof(*values));
        for (size_t i = 0; i < n; i++) {
            keys[i] = cfg->properties[i].key;
            values[i] = cfg->properties[i].value;
        }
    }
    rc =
        vmm_metrics_init(cfg->metrics_path, cfg->emit_id, keys, values, n, err);
    free(keys);
    free(values);
    if (rc == 0)
        v->metrics_initialised = true;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Pre-boot handlers */

static int handle_start(struct vmm *v, struct sq_err *err)
{
    int rc;

    /* build_microvm_for_boot: the kernel check comes before anything is
     * allocated. */
    if (!v->res.boot.configured)
        return sq_errf(err, -EINVAL,
                       "Start microvm error: Cannot start microvm without "
                       "kernel configuration.");
    rc = v->ops->start(v, err);
    if (rc < 0)
        return fail(err, "Start microvm error: ");
    v->state = VMM_STATE_RUNNING;
    return 204;
}

static int handle_mmds_put(struct vmm *v, struct api_action *a,
                           struct sq_err *err)
{
    struct json_value *doc = a->body;
    int rc;

    if (!doc)
        return sq_errf(err, -EINVAL, "MMDS error: missing body");
    a->body = NULL; /* the store takes the document */
    rc = mmds_store_put(res_mmds_or_default(&v->res), doc, err);
    if (rc == -EFBIG) {
        fail(err, "MMDS limit exceeded error: ");
        err->http_status = 413;
        return rc;
    }
    return rc < 0 ? fail(err, "MMDS error: ") : 204;
}

static int handle_mmds_patch(struct vmm *v, struct api_action *a,
                             struct sq_err *err)
{
    int rc;

    if (!a->body)
        return sq_errf(err, -EINVAL, "MMDS error: missing body");
    rc = mmds_store_patch(res_mmds_or_default(&v->res), a->body, err);
    if (rc == -EFBIG) {
        fail(err, "MMDS limit exceeded error: ");
        err->http_status = 413;
        return rc;
    }
    return rc < 0 ? fail(err, "MMDS error: ") : 204;
}

static int handle_snapshot_load(struct vmm *v, struct sq_err *err)
{
    if (v->boot_path) {
        log_info("Loading a microVM snapshot not allowed after configuring "
                 "boot-specific resources.");
        return sq_errf(err, -EPERM,
                       "Load snapshot error: Loading a microVM snapshot not "
                       "allowed after configuring boot-specific resources.");
    }
    /* The snapshot module does not exist yet: nothing was attempted, so the
     * process is not dirty and this is not upstream's fatal restore error. */
    return sq_errf(err, -EOPNOTSUPP,
                   "Load snapshot error: Failed to restore from snapshot: "
                   "snapshot restore is not supported by squib yet");
}

static int handle_preboot(struct vmm *v, struct api_action *a,
                          struct sq_err *err)
{
    struct vm_resources *r = &v->res;
    void *b = a->body;
    int rc;

    switch (a->op) {
    case API_OP_PUT_ACTIONS: {
        const struct instance_action *act = b;

        if (act->action_type == ACTION_INSTANCE_START)
            return handle_start(v, err);
        return ns_pre(err);
    }
    case API_OP_PUT_BOOT_SOURCE:
        v->boot_path = true;
        rc = res_set_boot_source(r, b, err);
        return rc < 0 ? fail(err, "Boot source error: ") : 204;
    case API_OP_PUT_DRIVE:
        v->boot_path = true;
        rc = res_set_drive(r, b, err);
        return rc < 0 ? fail(err, "Drive config error: ") : 204;
    case API_OP_PUT_PMEM:
        v->boot_path = true;
        rc = res_set_pmem(r, b, err);
        return rc < 0 ? fail(err, "Pmem config error: ") : 204;
    case API_OP_PUT_NET:
        v->boot_path = true;
        rc = res_set_net(r, b, err);
        return rc < 0 ? fail(err, "Network config error: ") : 204;
    case API_OP_PUT_VSOCK:
        v->boot_path = true;
        rc = res_set_vsock(r, b, err);
        return rc < 0 ? fail(err, "Vsock config error: ") : 204;
    case API_OP_PUT_ENTROPY:
        v->boot_path = true;
        rc = res_set_entropy(r, b, err);
        return rc < 0 ? fail(err, "Entropy config error: ") : 204;
    case API_OP_PUT_BALLOON:
        v->boot_path = true;
        rc = res_set_balloon(r, b, err);
        return rc < 0 ? fail(err, "Balloon config error: ") : 204;
    case API_OP_PUT_MACHINE_CONFIG:
    case API_OP_PATCH_MACHINE_CONFIG:
        v->boot_path = true;
        rc = res_update_machine_config(r, b, err);
        return rc < 0 ? fail(err, "Machine config error: ") : 204;
    case API_OP_PUT_MMDS_CONFIG:
        v->boot_path = true;
        rc = res_set_mmds_config(r, b, v->instance_id, err);
        return rc < 0 ? fail(err, "MMMDS config error: ") : 204;
    case API_OP_PUT_HOTPLUG_MEMORY:
        v->boot_path = true;
        rc = res_set_memory_hotplug(r, b, err);
        return rc < 0 ? fail(err, "Memory hotplug config error: ") : 204;
    case API_OP_PUT_CPU_CONFIG:
        res_set_custom_cpu_template(r, b);
        return 204;
    case API_OP_PUT_SERIAL:
        res_set_serial(r, b);
        return 204;
    case API_OP_PUT_LOGGER:
        rc = vmm_apply_logger(v, b, err);
        return rc < 0 ? fail(err, "Logger error: ") : 204;
    case API_OP_PUT_METRICS:
        rc = vmm_apply_metrics(v, b, err);
        return rc < 0 ? fail(err, "Metrics error: ") : 204;
    case API_OP_PUT_MMDS:
        return handle_mmds_put(v, a, err);
    case API_OP_PATCH_MMDS:
        return handle_mmds_patch(v, a, err);
    case API_OP_PUT_SNAPSHOT_LOAD:
        return handle_snapshot_load(v, err);
    case API_OP_PATCH_BALLOON:
    case API_OP_PATCH_BALLOON_STATS:
    case API_OP_PATCH_BALLOON_HINTING_START:
    case API_OP_PATCH_BALLOON_HINTING_STOP:
    case API_OP_PATCH_DRIVE:
    case API_OP_DELETE_DRIVE:
    case API_OP_PATCH_PMEM:
    case API_OP_DELETE_PMEM:
    case API_OP_PATCH_NET:
    case API_OP_DELETE_NET:
    case API_OP_PATCH_HOTPLUG_MEMORY:
    case API_OP_PUT_SNAPSHOT_CREATE:
    case API_OP_PATCH_VM:
        return ns_pre(err);
    default:
        return sq_errf(err, -EINVAL, "Invalid request method and/or path.");
    }
}

/* ---------------------------------------------------------------------- */
/* Post-boot handlers */

/* Upstream's VmmError::FindDeviceError(DeviceNotFound). */
#define DEVICE_NOT_FOUND "Failed perform action on device: Device not found"
/* squib has no balloon device yet, so no driver ever activated one:
 * what upstream answers for a device the guest has not activated. */
#define BALLOON_NOT_ACTIVE "Balloon: Device not activated yet."

static int balloon_update(struct vmm *v, const struct balloon_update *u,
                          struct sq_err *err)
{
    (void)u;
    if (!v->res.has_balloon)
        return sq_errf(err, -ENODEV, "Balloon update error: " DEVICE_NOT_FOUND);
    return sq_errf(err, -EAGAIN, "Balloon update error: " BALLOON_NOT_ACTIVE);
}

static int balloon_stats_update(struct vmm *v,
                                const struct balloon_stats_update *u,
                                struct sq_err *err)
{
    struct balloon_cfg *bc = &v->res.balloon;

    if (!v->res.has_balloon)
        return sq_errf(err, -ENODEV, "Balloon update error: " DEVICE_NOT_FOUND);
    if (bc->stats_polling_interval_s == u->stats_polling_interval_s)
        return 204;
    if (bc->stats_polling_interval_s == 0 || u->stats_polling_interval_s == 0)
        return sq_errf(err, -EINVAL,
                       "Balloon update error: Balloon: Statistics cannot be "
                       "enabled/disabled after activation.");
    /* Only the interval changes; with no stats descriptor from the guest
     * upstream also just records it. */
    bc->stats_polling_interval_s = u->stats_polling_interval_s;
    return 204;
}

static int balloon_hinting(struct vmm *v, struct sq_err *err)
{
    if (!v->res.has_balloon)
        return sq_errf(err, -ENODEV, "Balloon update error: " DEVICE_NOT_FOUND);
    if (!v->res.balloon.free_page_hinting)
        return sq_errf(err, -EINVAL,
                       "Balloon update error: Balloon: Attempting to use "
                       "hinting when not enabled");
    return sq_errf(err, -EAGAIN, "Balloon update error: " BALLOON_NOT_ACTIVE);
}

/* PUT /drives, /pmem, /network-interfaces after boot: PCI hot-plug
 * (DeviceManager::hotplug_device: PCI, id in use, then the per-type checks
 * that come before the device is created). */
static int hotplug(struct vmm *v, struct api_action *a, struct sq_err *err)
{
    struct vm_resources *r = &v->res;

    if (!r->pci_enabled)
        return sq_errf(err, -EOPNOTSUPP, "PCI is not enabled");
    if (a->op == API_OP_PUT_DRIVE) {
        const struct drive_cfg *d = a->body;

        if (res_find_drive(r, d->drive_id, d->drive_id_len))
            return sq_errf(err, -EEXIST, "Device ID in use");
        if (d->is_root_device)
            return sq_errf(err, -EEXIST,
                           "Drive config error: A root block "
                           "device already exists!");
    } else if (a->op == API_OP_PUT_PMEM) {
        const struct pmem_cfg *p = a->body;

        for (size_t i = 0; i < r->n_pmems; i++) {
            if (r->pmems[i].id_len == p->id_len &&
                !memcmp(r->pmems[i].id, p->id, p->id_len))
                return sq_errf(err, -EEXIST, "Device ID in use");
        }
        if (p->root_device)
            return sq_errf(err, -EINVAL,
                           "Pmem config error: Attempt to add pmem as a root "
                           "device while the root device defined as a block "
                           "device");
    } else {
        const struct net_iface_cfg *n = a->body;

        if (res_find_net(r, n->iface_id, n->iface_id_len))
            return sq_errf(err, -EEXIST, "Device ID in use");
        for (size_t i = 0; n->has_guest_mac && i < r->n_nets; i++) {
            const uint8_t *m = n->guest_mac;

            if (r->nets[i].cfg.has_guest_mac &&
                !memcmp(r->nets[i].cfg.guest_mac, m, 6))
                return sq_errf(err, -EEXIST,
                               "Network config error: The MAC address is "
                               "already in use: "
                               "%02x:%02x:%02x:%02x:%02x:%02x",
                               m[0], m[1], m[2], m[3], m[4], m[5]);
        }
    }
    return sq_errf(err, -EOPNOTSUPP,
                   "The requested operation is not supported: PCI device "
                   "hot-plug is not implemented by squib yet");
}

static int hot_unplug(struct vmm *v, struct api_action *a, struct sq_err *err)
{
    const char *id = a->id ? a->id : "";
    bool found = false, root = false;

    if (!v->res.pci_enabled)
        return sq_errf(err, -EOPNOTSUPP, "PCI is not enabled");
    if (a->op == API_OP_DELETE_DRIVE) {
        struct res_drive *d = res_find_drive(&v->res, id, strlen(id));

        found = d != NULL;
        root = d && d->cfg.is_root_device;
    } else if (a->op == API_OP_DELETE_NET) {
        found = res_find_net(&v->res, id, strlen(id)) != NULL;
    } else {
        for (size_t i = 0; i < v->res.n_pmems; i++) {
            if (!strcmp(v->res.pmems[i].id, id)) {
                found = true;
                root = v->res.pmems[i].root_device;
            }
        }
    }
    if (!found)
        return sq_errf(err, -ENODEV, "Device not found");
    if (root)
        return sq_errf(err, -EBUSY, "Cannot unplug root device");
    return sq_errf(err, -EOPNOTSUPP,
                   "The requested operation is not supported: PCI device "
                   "hot-unplug is not implemented by squib yet");
}

static int patch_drive(struct vmm *v, const struct drive_update *u,
                       struct sq_err *err)
{
    struct res_drive *d = res_find_drive(&v->res, u->drive_id, u->drive_id_len);
    int rc;

    if (!d)
        return sq_errf(err, -ENODEV,
                       "Drive config error: Unable to patch the block "
                       "device: " DEVICE_NOT_FOUND " Please verify the request "
                       "arguments.");
    /* Neither field: a vhost-user config refresh, refused for virtio. */
    if (!u->path_on_host && !u->has_rate_limiter && !d->is_vhost_user)
        return sq_errf(err, -EINVAL,
                       "Drive config error: Unable to patch the block device: "
                       "Block: Running method expected different backend. "
                       "Please verify the request arguments.");
    if ((u->path_on_host || u->has_rate_limiter) && d->is_vhost_user)
        return sq_errf(err, -EINVAL,
                       "Drive config error: Unable to patch the block device: "
                       "Block: Running method expected different backend. "
                       "Please verify the request arguments.");
    if (!v->ops->patch_drive)
        return sq_errf(err, -EOPNOTSUPP,
                       "Drive config error: Unable to patch the block device: "
                       "The requested operation is not supported after "
                       "starting the microVM. Please verify the request "
                       "arguments.");
    rc = v->ops->patch_drive(v, (size_t)(d - v->res.drives), u, err);
    if (rc < 0) {
        char detail[SQ_ERR_MSG_MAX];

        snprintf(detail, sizeof(detail), "%s", err->msg);
        return sq_errf(err, rc,
                       "Drive config error: Unable to patch the block device: "
                       "Block: %s Please verify the request arguments.",
                       detail);
    }
    /* GET /vm/config reports the device as it now is (upstream renders
     * the live device's config). */
    if (u->path_on_host) {
        free(d->cfg.path_on_host);
        d->cfg.path_on_host = xstrdup(u->path_on_host);
    }
    if (u->has_rate_limiter)
        res_rate_limiter_update(&d->cfg.has_rate_limiter,
                                &d->cfg.rate_limiter, true,
                                &u->rate_limiter);
    return 204;
}

static int patch_net(struct vmm *v, const struct net_iface_update *u,
                     struct sq_err *err)
{
    if (!res_find_net(&v->res, u->iface_id, u->iface_id_len))
        return sq_errf(err, -ENODEV,
                       "Network config error: Unable to update the net "
                       "device: " DEVICE_NOT_FOUND);
    return sq_errf(err, -EOPNOTSUPP,
                   "Network config error: Unable to update the net device: the "
                   "virtio-net device is not implemented by squib yet");
}

static int patch_pmem(struct vmm *v, const struct pmem_update *u,
                      struct sq_err *err)
{
    bool found = false;

    /* Without a rate limiter the request does nothing (upstream: 204). */
    if (!u->has_rate_limiter)
        return 204;
    for (size_t i = 0; i < v->res.n_pmems; i++) {
        if (v->res.pmems[i].id_len == u->id_len &&
            !memcmp(v->res.pmems[i].id, u->id, u->id_len))
            found = true;
    }
    if (!found)
        return sq_errf(err, -ENODEV,
                       "Pmem config error: Unable to patch the pmem "
                       "device: " DEVICE_NOT_FOUND " Please verify the request "
                       "arguments.");
    return sq_errf(err, -EOPNOTSUPP,
                   "Pmem config error: Unable to patch the pmem device: the "
                   "virtio-pmem device is not implemented by squib yet Please "
                   "verify the request arguments.");
}

static int patch_hotplug_memory(struct vmm *v, struct sq_err *err)
{
    if (!v->res.has_memory_hotplug)
        return sq_errf(err, -ENODEV,
                       "Memory hotplug update error: " DEVICE_NOT_FOUND);
    /* No virtio-mem device exists to be activated by the guest. */
    return sq_errf(err, -EAGAIN,
                   "Memory hotplug update error: Failed to "
                   "create memory hotplug device: Device is not "
                   "active");
}

static int snapshot_create(struct vmm *v, struct sq_err *err)
{
    if (v->state != VMM_STATE_PAUSED)
        return sq_errf(err, -EPERM,
                       "Create snapshot error: Cannot save the microVM state: "
                       "Operation not allowed: save/restore unavailable while "
                       "running");
    for (size_t i = 0; i < v->res.n_drives; i++) {
        if (v->res.drives[i].is_vhost_user)
            return sq_errf(err, -EPERM,
                           "Create snapshot error: Cannot save the microVM "
                           "state: Operation not allowed: Devices without "
                           "snapshot support are present: "
                           "vhost-user-block(id: %s)",
                           v->res.drives[i].cfg.drive_id);
    }
    return sq_errf(err, -EOPNOTSUPP,
                   "Create snapshot error: snapshots are not supported by "
                   "squib yet");
}

static int handle_vm_state(struct vmm *v, const struct vm_state_req *req,
                           struct sq_err *err)
{
    bool pause = req->state == VM_STATE_REQ_PAUSED;
    uint64_t t0 = vmm_now_us(), us;
    int rc;

    rc = pause ? v->ops->pause(v, err) : v->ops->resume(v, err);
    if (rc < 0)
        return fail(err, "Internal VMM error: ");
    v->state = pause ? VMM_STATE_PAUSED : VMM_STATE_RUNNING;
    us = vmm_now_us() - t0;
    if (pause)
        vmm_metrics_pause_us(us);
    else
        vmm_metrics_resume_us(us);
    log_info("'%s vm' VMM action took %llu us.", pause ? "pause" : "resume",
             (unsigned long long)us);
    return 204;
}

static int handle_postboot(struct vmm *v, struct api_action *a,
                           struct sq_err *err)
{
    void *b = a->body;
    int rc;

    switch (a->op) {
    case API_OP_PUT_ACTIONS: {
        const struct instance_action *act = b;

        if (act->action_type == ACTION_INSTANCE_START)
            return ns_post(err);
        if (act->action_type == ACTION_SEND_CTRL_ALT_DEL) {
            rc = v->ops->ctrl_alt_del(v, err);
            return rc < 0 ? fail(err, "Internal VMM error: ") : 204;
        }
        /* FlushMetrics (204 also when no sink is configured, as upstream). */
        rc = vmm_metrics_flush(err);
        return rc < 0 ? fail(err, "Internal VMM error: ") : 204;
    }
    case API_OP_PATCH_VM:
        return handle_vm_state(v, b, err);
    case API_OP_PUT_MMDS:
        if (!res_mmds_attached(&v->res))
            return sq_errf(err, -ENODATA,
                           "MMDS error: " MMDS_ERR_NOT_INITIALIZED);
        return handle_mmds_put(v, a, err);
    case API_OP_PATCH_MMDS:
        if (!res_mmds_attached(&v->res))
            return sq_errf(err, -ENODATA,
                           "MMDS error: " MMDS_ERR_NOT_INITIALIZED);
        return handle_mmds_patch(v, a, err);
    case API_OP_PATCH_BALLOON:
        return balloon_update(v, b, err);
    case API_OP_PATCH_BALLOON_STATS:
        return balloon_stats_update(v, b, err);
    case API_OP_PATCH_BALLOON_HINTING_START:
    case API_OP_PATCH_BALLOON_HINTING_STOP:
        return balloon_hinting(v, err);
    case API_OP_PUT_DRIVE:
    case API_OP_PUT_PMEM:
    case API_OP_PUT_NET:
        return hotplug(v, a, err);
    case API_OP_DELETE_DRIVE:
    case API_OP_DELETE_PMEM:
    case API_OP_DELETE_NET:
        return hot_unplug(v, a, err);
    case API_OP_PATCH_DRIVE:
        return patch_drive(v, b, err);
    case API_OP_PATCH_NET:
        return patch_net(v, b, err);
    case API_OP_PATCH_PMEM:
        return patch_pmem(v, b, err);
    case API_OP_PATCH_HOTPLUG_MEMORY:
        return patch_hotplug_memory(v, err);
    case API_OP_PUT_SNAPSHOT_CREATE:
        return snapshot_create(v, err);
    case API_OP_PUT_BOOT_SOURCE:
    case API_OP_PUT_LOGGER:
    case API_OP_PUT_METRICS:
    case API_OP_PUT_SERIAL:
    case API_OP_PUT_SNAPSHOT_LOAD:
    case API_OP_PUT_CPU_CONFIG:
    case API_OP_PUT_BALLOON:
    case API_OP_PUT_VSOCK:
    case API_OP_PUT_MMDS_CONFIG:
    case API_OP_PUT_ENTROPY:
    case API_OP_PUT_HOTPLUG_MEMORY:
    case API_OP_PUT_MACHINE_CONFIG:
    case API_OP_PATCH_MACHINE_CONFIG:
        return ns_post(err);
    default:
        return sq_errf(err, -EINVAL, "Invalid request method and/or path.");
    }
}

/* ---------------------------------------------------------------------- */
/* Dispatch */

/* Deprecation decided from the parsed body (digest 1.6): cpu_template in
 * machine-config, vsock_id, MMDS V1, snapshot-load's old fields. */
static bool body_deprecated(const struct api_action *a)
{
    if (!a->body)
        return false;
    switch (a->op) {
    case API_OP_PUT_MACHINE_CONFIG:
    case API_OP_PATCH_MACHINE_CONFIG:
        return ((const struct machine_cfg *)a->body)->deprecated;
    case API_OP_PUT_VSOCK:
        return ((const struct vsock_cfg *)a->body)->deprecated;
    case API_OP_PUT_MMDS_CONFIG:
        return ((const struct mmds_cfg *)a->body)->deprecated;
    case API_OP_PUT_SNAPSHOT_LOAD:
        return ((const struct snapshot_load *)a->body)->deprecated;
    default:
        return false;
    }
}

void vmm_handle_action(struct vmm *v, struct api_action *a)
{
    struct sq_err err;
    int rc;

    sq_err_clear(&err);
    buf_reset(&a->resp);
    a->resp_deprecated = a->deprecated || body_deprecated(a);

    if (api_op_is_read(a->op)) {
        /* The api thread logs this when it serves the mirror's copy. */
        if (a->op == API_OP_GET_VM_CONFIG && !vmm_is_started(v))
            log_warn("If the VM was restored from snapshot, boot-source, "
                     "machine-config.smt, and machine-config.cpu_template "
                     "will all be empty.");
        a->status = vmm_render_get(v, a->op, &a->resp);
        return;
    }
    if (!a->body && a->op != API_OP_PATCH_BALLOON_HINTING_STOP &&
        a->op != API_OP_PATCH_BALLOON_HINTING_START &&
        a->op != API_OP_DELETE_DRIVE && a->op != API_OP_DELETE_PMEM &&
        a->op != API_OP_DELETE_NET) {
        /* The api layer always attaches the parsed body; a missing one is
         * a wiring bug, answered like upstream's empty-body error. */
        rc = sq_errf(&err, -EINVAL, "Empty %s request.",
                     a->op == API_OP_PUT_ACTIONS ? "PUT" : "PUT/PATCH");
    } else if (vmm_is_started(v)) {
        rc = handle_postboot(v, a, &err);
    } else {
        rc = handle_preboot(v, a, &err);
    }
    if (rc < 0) {
        a->status = err.http_status ? err.http_status : 400;
        buf_reset(&a->resp);
        vmm_render_fault(&a->resp, err.msg);
        return;
    }
    a->status = rc;
}
