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
 *      +------+      |                           |              +--------+
 *   start failed,    | PUT /snapshot/load        +------------- | Paused |
 *   or snapshot      | (snapshot_ops->load)     PATCH /vm       +--------+
 *   load refused     |  resume_vm: Running      Resumed              ^
 *   (boot path set)  |  else: Paused ---------- (ops->resume) -------+
 *                    |
 *                    +--> load failed: 400, then the process exits (1)
 *
 * "Not started" is upstream's pre-boot phase (PrebootApiController): the
 * configuration endpoints work and the runtime ones answer NSPre. Once the
 * machine is built (Running or Paused) the roles swap (RuntimeApiController).
 * Pausing a paused VM or resuming a running one succeeds (upstream does not
 * check either). There is no way back to Not started: when the machine
 * stops (guest reset or shutdown, fatal vCPU exit) vmm_start.c's on_exit
 * sets exit_requested and the process ends.
 *
 * Which operation runs in which phase is the table of operations
 * (vmm/action.h: the pre and post columns); handle_write() then runs it.
 * Every write handler returns 204 or a negative errno with the full
 * fault_message in err (-EFBIG from /mmds is the data store limit, which
 * the api answers with 413). No write returns data.
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

/* PUT and PATCH /mmds. -EFBIG is the data store limit (the 413). After
 * boot upstream reaches the store only through a NIC with MMDS. */
static int handle_mmds(struct vmm *v, struct vmm_request *req,
                       struct sq_err *err)
{
    struct mmds_store *store;
    int rc;

    if (vmm_is_started(v) && !res_mmds_attached(&v->res))
        return sq_errf(err, -ENODATA, "MMDS error: " MMDS_ERR_NOT_INITIALIZED);
    store = res_mmds_or_default(&v->res);
    if (req->op == VMM_OP_PUT_MMDS) {
        struct json_value *doc = req->body.mmds_data;

        req->body.mmds_data = NULL; /* the store takes the document */
        rc = mmds_store_put(store, doc, err);
    } else {
        rc = mmds_store_patch(store, req->body.mmds_data, err);
    }
    if (rc == -EFBIG)
        return fail(err, "MMDS limit exceeded error: ");
    return rc < 0 ? fail(err, "MMDS error: ") : 204;
}

static int handle_snapshot_load(struct vmm *v, const struct snapshot_load *p,
                                struct sq_err *err)
{
    uint64_t t0 = vmm_now_us(), us;
    int rc;

    if (v->boot_path) {
        log_info("Loading a microVM snapshot not allowed after configuring "
                 "boot-specific resources.");
        return sq_errf(err, -EPERM,
                       "Load snapshot error: Loading a microVM snapshot not "
                       "allowed after configuring boot-specific resources.");
    }
    /* Without the snapshot module (unit tests) nothing was attempted, so
     * the process is not dirty and this is not upstream's fatal error. */
    if (!v->snapshot_ops)
        return sq_errf(err, -EOPNOTSUPP,
                       "Load snapshot error: Failed to restore from snapshot: "
                       "snapshot restore is not supported by squib yet");
    rc = v->snapshot_ops->load(v, p, err);
    if (rc < 0) {
        /* Upstream answers 400, then its vmm ends the process with 1: the
         * half-built process cannot be configured again. */
        v->exit_requested = true;
        v->exit_code = 1;
        v->exit_error = "RunWithApiError error: Failed to build MicroVM: "
                        "Loading snapshot failed.";
        return fail(err, "Load snapshot error: ");
    }
    v->state = p->resume_vm ? VMM_STATE_RUNNING : VMM_STATE_PAUSED;
    us = vmm_now_us() - t0;
    vmm_metrics_load_snapshot_us(us);
    log_info("'load snapshot' VMM action took %llu us.",
             (unsigned long long)us);
    return 204;
}

/* ---------------------------------------------------------------------- */
/* Post-boot handlers */

/* Upstream's BalloonError texts come after this prefix on PATCH. */
#define BALLOON_UPDATE_ERR "Balloon update error: Balloon: "
/* Upstream's BALLOON_DEV_ID (the device list's id for the balloon). */
#define BALLOON_ID "balloon"

/* A balloon PATCH on the running device; 204, or the error with the
 * prefix. Without a machine layer that has devices (unit tests' fakes),
 * what upstream answers for a device no guest driver activated. */
static int balloon_patch(struct vmm *v, enum vmm_op op, const void *body,
                         struct sq_err *err)
{
    int rc;

    if (!v->ops->patch_device)
        return sq_errf(err, -EAGAIN,
                       BALLOON_UPDATE_ERR "Device not activated yet.");
    rc = v->ops->patch_device(v, op, BALLOON_ID, body, err);
    return rc < 0 ? sq_err_prefix(err, BALLOON_UPDATE_ERR) : 204;
}

static int balloon_update(struct vmm *v, const struct balloon_update *u,
                          struct sq_err *err)
{
    int rc;

    if (!v->res.has_balloon)
        return sq_errf(err, -ENODEV,
                       "Balloon update error: " VMM_ERR_DEVICE_NOT_FOUND);
    rc = balloon_patch(v, VMM_OP_PATCH_BALLOON, u, err);
    /* GET /balloon shows the device's target (upstream reads it back). */
    if (rc == 204)
        v->res.balloon.amount_mib = u->amount_mib;
    return rc;
}

static int balloon_stats_update(struct vmm *v,
                                const struct balloon_stats_update *u,
                                struct sq_err *err)
{
    struct balloon_cfg *bc = &v->res.balloon;
    int rc;

    if (!v->res.has_balloon)
        return sq_errf(err, -ENODEV,
                       "Balloon update error: " VMM_ERR_DEVICE_NOT_FOUND);
    if (bc->stats_polling_interval_s == u->stats_polling_interval_s)
        return 204;
    if (bc->stats_polling_interval_s == 0 || u->stats_polling_interval_s == 0)
        return sq_errf(err, -EINVAL,
                       BALLOON_UPDATE_ERR "Statistics cannot be "
                                          "enabled/disabled after activation.");
    /* Only the interval changes; without a device (unit tests' fakes)
     * upstream's record of it is all there is. */
    if (v->ops->patch_device) {
        rc = v->ops->patch_device(v, VMM_OP_PATCH_BALLOON_STATS, BALLOON_ID, u,
                                  err);
        if (rc < 0)
            return sq_err_prefix(err, BALLOON_UPDATE_ERR);
    }
    bc->stats_polling_interval_s = u->stats_polling_interval_s;
    return 204;
}

static int balloon_hinting(struct vmm *v, enum vmm_op op, const void *body,
                           struct sq_err *err)
{
    if (!v->res.has_balloon)
        return sq_errf(err, -ENODEV,
                       "Balloon update error: " VMM_ERR_DEVICE_NOT_FOUND);
    if (!v->res.balloon.free_page_hinting)
        return sq_errf(err, -EINVAL, VMM_ERR_HINTING_NOT_ENABLED);
    return balloon_patch(v, op, body, err);
}

static int patch_drive(struct vmm *v, const struct drive_update *u,
                       struct sq_err *err)
{
    struct res_drive *d = res_find_drive(&v->res, u->drive_id, u->drive_id_len);
    int rc;

    if (!d)
        return sq_errf(err, -ENODEV,
                       "Drive config error: Unable to patch the block "
                       "device: " VMM_ERR_DEVICE_NOT_FOUND
                       " Please verify the request "
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
    if (!v->ops->patch_device)
        return sq_errf(err, -EOPNOTSUPP,
                       "Drive config error: Unable to patch the block device: "
                       "The requested operation is not supported after "
                       "starting the microVM. Please verify the request "
                       "arguments.");
    rc = v->ops->patch_device(v, VMM_OP_PATCH_DRIVE, d->cfg.drive_id, u, err);
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
        res_rate_limiter_update(&d->cfg.has_rate_limiter, &d->cfg.rate_limiter,
                                true, &u->rate_limiter);
    return 204;
}

static int patch_net(struct vmm *v, const struct net_iface_update *u,
                     struct sq_err *err)
{
    struct res_net *n = res_find_net(&v->res, u->iface_id, u->iface_id_len);
    int rc;

    if (!n)
        return sq_errf(err, -ENODEV,
                       "Network config error: Unable to update the net "
                       "device: " VMM_ERR_DEVICE_NOT_FOUND);
    rc = v->ops->patch_device ? v->ops->patch_device(v, VMM_OP_PATCH_NET,
                                                     n->cfg.iface_id, u, err)
                              : sq_errf(err, -EOPNOTSUPP, VMM_ERR_NS_POST);
    if (rc < 0)
        return sq_err_prefix(err, "Network config error: Unable to update "
                                  "the net device: ");
    /* GET /vm/config reports the live device's limiters (upstream renders
     * NetworkInterfaceConfig from the device). */
    res_rate_limiter_update(&n->cfg.has_rx_rate_limiter,
                            &n->cfg.rx_rate_limiter, u->has_rx_rate_limiter,
                            &u->rx_rate_limiter);
    res_rate_limiter_update(&n->cfg.has_tx_rate_limiter,
                            &n->cfg.tx_rate_limiter, u->has_tx_rate_limiter,
                            &u->tx_rate_limiter);
    return 204;
}

/* PATCH /pmem/{id} after boot: the rate limiter (upstream's
 * PmemConfigError::DeviceUpdate around the VmmError). */
static int patch_pmem(struct vmm *v, const struct pmem_update *u,
                      struct sq_err *err)
{
    struct pmem_cfg *p = NULL;
    int rc;

    /* Without a rate limiter the request does nothing (upstream: 204). */
    if (!u->has_rate_limiter)
        return 204;
    for (size_t i = 0; i < v->res.n_pmems; i++) {
        if (v->res.pmems[i].id_len == u->id_len &&
            !memcmp(v->res.pmems[i].id, u->id, u->id_len))
            p = &v->res.pmems[i];
    }
    rc = p && v->ops->patch_device
             ? v->ops->patch_device(v, VMM_OP_PATCH_PMEM, p->id, u, err)
             : sq_errf(err, -ENODEV, VMM_ERR_DEVICE_NOT_FOUND);
    if (rc < 0) {
        char detail[SQ_ERR_MSG_MAX];

        snprintf(detail, sizeof(detail), "%s", err->msg);
        return sq_errf(err, rc,
                       "Pmem config error: Unable to patch the pmem device: "
                       "%s Please verify the request arguments.",
                       detail);
    }
    /* GET /vm/config shows the device's limiter as it now is. */
    res_rate_limiter_update(&p->has_rate_limiter, &p->rate_limiter, true,
                            &u->rate_limiter);
    return 204;
}

/* The virtio-mem device's internal id (digest 6.4). */
#define MEM_ID "mem"

/* PATCH /hotplug/memory after boot (upstream's VmmActionError::
 * MemoryHotplugUpdate over VmmError::VirtioMem). */
static int patch_hotplug_memory(struct vmm *v,
                                const struct hotplug_memory_update *u,
                                struct sq_err *err)
{
    int rc;

    if (!v->res.has_memory_hotplug || !v->ops->patch_device)
        return sq_errf(
            err, -ENODEV,
            "Memory hotplug update error: " VMM_ERR_DEVICE_NOT_FOUND);
    rc = v->ops->patch_device(v, VMM_OP_PATCH_HOTPLUG_MEMORY, MEM_ID, u, err);
    if (rc < 0) {
        if (strcmp(err->msg, VMM_ERR_DEVICE_NOT_FOUND) != 0)
            sq_err_prefix(err, "Failed to create memory hotplug device: ");
        return sq_err_prefix(err, "Memory hotplug update error: ");
    }
    return 204;
}

static int snapshot_create(struct vmm *v, const struct snapshot_create *p,
                           struct sq_err *err)
{
    uint64_t t0, us;
    int rc;

    /* Upstream logs this first, before any check. */
    if (p->snapshot_type == SNAPSHOT_TYPE_DIFF)
        log_warn("[DevPreview] Virtual machine diff snapshots is in "
                 "development preview.");
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
    if (!v->snapshot_ops)
        return sq_errf(err, -EOPNOTSUPP,
                       "Create snapshot error: snapshots are not supported "
                       "by squib yet");
    t0 = vmm_now_us();
    rc = v->snapshot_ops->create(v, p, err);
    if (rc < 0)
        return fail(err, "Create snapshot error: ");
    us = vmm_now_us() - t0;
    vmm_metrics_create_snapshot_us(p->snapshot_type == SNAPSHOT_TYPE_DIFF, us);
    log_info("'create %s snapshot' VMM action took %llu us.",
             p->snapshot_type == SNAPSHOT_TYPE_DIFF ? "diff" : "full",
             (unsigned long long)us);
    return 204;
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

/* ---------------------------------------------------------------------- */
/* Dispatch */

/* PUT /actions: InstanceStart before boot; SendCtrlAltDel and FlushMetrics
 * after it (upstream's PrebootApiController answers NSPre for those). */
static int handle_actions(struct vmm *v, const struct instance_action *act,
                          struct sq_err *err)
{
    int rc;

    if (!vmm_is_started(v))
        return act->action_type == ACTION_INSTANCE_START ? handle_start(v, err)
                                                         : ns_pre(err);
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

/* A pre-boot setter's result: 204, or its error behind `prefix`. */
static int set_result(int rc, struct sq_err *err, const char *prefix)
{
    return rc < 0 ? fail(err, prefix) : 204;
}

/*
 * One write whose phase rule (the table's pre/post columns) allows it now:
 * 204/200, or a negative errno with the full text in err.
 */
static int handle_write(struct vmm *v, struct vmm_request *req,
                        struct sq_err *err)
{
    struct vm_resources *r = &v->res;
    union vmm_body *b = &req->body;
    bool started = vmm_is_started(v);

    switch (req->op) {
    case VMM_OP_PUT_ACTIONS:
        return handle_actions(v, &b->instance_action, err);
    case VMM_OP_PUT_BOOT_SOURCE:
        v->boot_path = true;
        return set_result(res_set_boot_source(r, &b->boot_source, err), err,
                          "Boot source error: ");
    case VMM_OP_PUT_DRIVE:
        if (started)
            return vmm_hotplug(v, req, err);
        v->boot_path = true;
        return set_result(res_set_drive(r, &b->drive, err), err,
                          "Drive config error: ");
    case VMM_OP_PUT_PMEM:
        if (started)
            return vmm_hotplug(v, req, err);
        v->boot_path = true;
        return set_result(res_set_pmem(r, &b->pmem, err), err,
                          "Pmem config error: ");
    case VMM_OP_PUT_NET:
        if (started)
            return vmm_hotplug(v, req, err);
        v->boot_path = true;
        return set_result(res_set_net(r, &b->net, err), err,
                          "Network config error: ");
    case VMM_OP_PUT_VSOCK:
        v->boot_path = true;
        return set_result(res_set_vsock(r, &b->vsock, err), err,
                          "Vsock config error: ");
    case VMM_OP_PUT_ENTROPY:
        v->boot_path = true;
        return set_result(res_set_entropy(r, &b->entropy, err), err,
                          "Entropy config error: ");
    case VMM_OP_PUT_BALLOON:
        v->boot_path = true;
        return set_result(res_set_balloon(r, &b->balloon, err), err,
                          "Balloon config error: ");
    case VMM_OP_PUT_MACHINE_CONFIG:
    case VMM_OP_PATCH_MACHINE_CONFIG:
        v->boot_path = true;
        return set_result(res_update_machine_config(r, &b->machine, err), err,
                          "Machine config error: ");
    case VMM_OP_PUT_MMDS_CONFIG:
        v->boot_path = true;
        return set_result(
            res_set_mmds_config(r, &b->mmds_config, v->instance_id, err), err,
            "MMMDS config error: ");
    case VMM_OP_PUT_HOTPLUG_MEMORY:
        v->boot_path = true;
        return set_result(res_set_memory_hotplug(r, &b->hotplug_memory, err),
                          err, MEMORY_HOTPLUG_ERR_CONFIG);
    case VMM_OP_PUT_CPU_CONFIG:
        res_set_custom_cpu_template(r, &b->cpu_config);
        return 204;
    case VMM_OP_PUT_SERIAL:
        res_set_serial(r, &b->serial);
        return 204;
    case VMM_OP_PUT_LOGGER:
        return set_result(vmm_apply_logger(v, &b->logger, err), err,
                          "Logger error: ");
    case VMM_OP_PUT_METRICS:
        return set_result(vmm_apply_metrics(v, &b->metrics, err), err,
                          "Metrics error: ");
    case VMM_OP_PUT_MMDS:
    case VMM_OP_PATCH_MMDS:
        return handle_mmds(v, req, err);
    case VMM_OP_PUT_SNAPSHOT_LOAD:
        return handle_snapshot_load(v, &b->snapshot_load, err);
    case VMM_OP_PATCH_VM:
        return handle_vm_state(v, &b->vm_state, err);
    case VMM_OP_PATCH_BALLOON:
        return balloon_update(v, &b->balloon_update, err);
    case VMM_OP_PATCH_BALLOON_STATS:
        return balloon_stats_update(v, &b->balloon_stats_update, err);
    case VMM_OP_PATCH_BALLOON_HINTING_START:
        return balloon_hinting(v, req->op, &b->hinting_start, err);
    case VMM_OP_PATCH_BALLOON_HINTING_STOP:
        return balloon_hinting(v, req->op, NULL, err);
    case VMM_OP_DELETE_DRIVE:
    case VMM_OP_DELETE_PMEM:
    case VMM_OP_DELETE_NET:
        return vmm_hot_unplug(v, req, err);
    case VMM_OP_PATCH_DRIVE:
        return patch_drive(v, &b->drive_update, err);
    case VMM_OP_PATCH_NET:
        return patch_net(v, &b->net_update, err);
    case VMM_OP_PATCH_PMEM:
        return patch_pmem(v, &b->pmem_update, err);
    case VMM_OP_PATCH_HOTPLUG_MEMORY:
        return patch_hotplug_memory(v, &b->hotplug_memory_update, err);
    case VMM_OP_PUT_SNAPSHOT_CREATE:
        return snapshot_create(v, &b->snapshot_create, err);
    case VMM_OP_GET_INSTANCE_INFO:
    case VMM_OP_GET_BALLOON:
    case VMM_OP_GET_BALLOON_STATS:
    case VMM_OP_GET_BALLOON_HINTING_STATUS:
    case VMM_OP_GET_MACHINE_CONFIG:
    case VMM_OP_GET_MMDS:
    case VMM_OP_GET_HOTPLUG_MEMORY:
    case VMM_OP_GET_VERSION:
    case VMM_OP_GET_VM_CONFIG:
    case VMM_OP_COUNT:
        break;
    }
    /* Reads never get here (vmm_handle answers them with vmm_query). */
    return sq_errf(err, -EINVAL, VMM_ERR_INVALID_REQUEST);
}

static void reply_error(struct vmm_reply *rep, enum vmm_reply_kind kind,
                        const char *msg)
{
    rep->kind = kind;
    buf_reset(&rep->body);
    buf_puts(&rep->body, msg);
}

void vmm_handle(struct vmm *v, struct vmm_request *req, struct vmm_reply *rep)
{
    const struct vmm_op_info *info = vmm_op_info(req->op);
    enum vmm_phase_rule rule;
    struct sq_err err;
    int rc;

    sq_err_clear(&err);
    buf_reset(&rep->body);
    rep->deprecated = vmm_request_deprecated(req);

    if (vmm_op_is_read(req->op)) {
        /* The api thread logs this when it serves the mirror's copy. */
        if (req->op == VMM_OP_GET_VM_CONFIG && !vmm_is_started(v))
            log_warn("%s", VMM_WARN_VM_CONFIG_PRE_BOOT);
        vmm_query(v, req->op, rep);
        return;
    }
    rule = vmm_is_started(v) ? info->post : info->pre;
    if (rule == VMM_NS)
        rc = vmm_is_started(v) ? ns_post(&err) : ns_pre(&err);
    else
        rc = handle_write(v, req, &err);
    if (rc == -EFBIG &&
        (req->op == VMM_OP_PUT_MMDS || req->op == VMM_OP_PATCH_MMDS))
        reply_error(rep, VMM_REPLY_TOO_LARGE, err.msg);
    else if (rc < 0)
        reply_error(rep, VMM_REPLY_ERROR, err.msg);
    else
        rep->kind = VMM_REPLY_EMPTY;
}
