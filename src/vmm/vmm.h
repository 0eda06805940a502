/*
 * vmm.h: the VMM controller on the vmm thread (upstream's PrebootApiController
 * + RuntimeApiController + the VmResources they drive).
 *
 * The api thread turns every request into a struct vmm_request (vmm/action.h:
 * the operation and its typed body); the vmm thread hands each write to
 * vmm_handle(), which decides from the table of operations whether the
 * operation is legal in the current phase (digest 1.4: pre-boot,
 * post-boot), applies it with upstream's rules and answers with a
 * struct vmm_reply (empty, data or upstream's error text). GETs are
 * vmm_query(): what each GET says now, from which the api's read mirror is
 * rendered after every change, so a GET never waits for this thread.
 *
 * Metrics: upstream increments put/patch_api_requests.*_fails and
 * deprecated_api.deprecated_http_api_calls only while parsing (api side);
 * a VMM-side rejection counts nothing, and neither does this module.
 */
#ifndef SQUIB_VMM_VMM_H
#define SQUIB_VMM_VMM_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "util/err.h"
#include "util/evloop.h"
#include "vmm/action.h"
#include "vmm/resources.h"

#define VMM_VERSION  "1.17.0-dev"
#define VMM_APP_NAME "Firecracker"

/* Upstream's NSPre / NSPost texts (digest 1.6). */
#define VMM_ERR_NS_PRE                                                         \
    "The requested operation is not supported before starting the microVM."
#define VMM_ERR_NS_POST                                                        \
    "The requested operation is not supported after starting the microVM."

/* The prefix of a --config-file that could not be applied (upstream's
 * BuildFromJson), and the log line after --metadata is stored. */
#define VMM_ERR_CONFIG_FILE                                                    \
    "Configuration for VMM from one single json failed: "
#define VMM_MSG_METADATA_ADDED "Successfully added metadata to mmds from file"

struct vmm_opts {
    const char *instance_id; /* copied; NULL = "anonymous-instance" */
    size_t mmds_size_limit;  /* 0 = 51200 */
    bool enable_pci;
    bool boot_timer;
};

enum vmm_state {
    VMM_STATE_NOT_STARTED,
    VMM_STATE_RUNNING,
    VMM_STATE_PAUSED,
};

struct vmm;

/*
 * What the vmm needs from the machine layer (vmm_start.c provides the real
 * ones; unit tests substitute fakes). Each returns 0 or a negative errno
 * with err->msg set to the detail text that follows the category prefix.
 */
struct vmm_machine_ops {
    /* Build and boot (detail after "Start microvm error: "). */
    int (*start)(struct vmm *v, struct sq_err *err);
    /* Pause / resume the vCPUs (detail after "Internal VMM error: "). */
    int (*pause)(struct vmm *v, struct sq_err *err);
    int (*resume)(struct vmm *v, struct sq_err *err);
    /* i8042 Ctrl+Alt+Del (detail after "Internal VMM error: "). */
    int (*ctrl_alt_del)(struct vmm *v, struct sq_err *err);
    /* Tear the machine down (vmm_free). */
    void (*stop)(struct vmm *v);
    /* A post-boot PATCH on the running device the request names: `op` is
     * VMM_OP_PATCH_DRIVE (update: struct drive_update; path_on_host then
     * rate_limiter, either may be absent) or VMM_OP_PATCH_NET (struct
     * net_iface_update). -ENODEV when the machine has no such device.
     * Detail text as the device's class patch sets it (for a drive,
     * what follows "... Unable to patch the block device: Block: ", e.g.
     * "Virtio backend error: ..."). NULL: refused as unsupported. */
    int (*patch_device)(struct vmm *v, enum vmm_op op, const char *id,
                        const void *update, struct sq_err *err);
    /* What post-boot GET `op` shows of the running device `id`, into
     * `out` (the op's type from config/responses.h):
     * VMM_OP_GET_BALLOON_STATS (struct balloon_stats),
     * VMM_OP_GET_BALLOON_HINTING_STATUS (struct balloon_hinting_status).
     * -ENODEV when the machine has no such device. The balloon patches
     * above (VMM_OP_PATCH_BALLOON*) and these give upstream's BalloonError
     * texts. NULL: the GET shows the configuration. */
    int (*query_device)(struct vmm *v, enum vmm_op op, const char *id,
                        void *out, struct sq_err *err);
    /* PCI hot-plug after boot (vmm_hotplug.c has made upstream's checks
     * and stored the configuration): attach the device configured at
     * `index` of the kind `op` names (VMM_OP_PUT_DRIVE: drives[index],
     * _PMEM: pmems[index], _NET: nets[index]) to the running bus. 0, or
     * -errno with the whole fault_message in err and nothing of the
     * device left on the machine. NULL: hot-plug is refused. */
    int (*hotplug_device)(struct vmm *v, enum vmm_op op, size_t index,
                          struct sq_err *err);
    /* Hot-unplug (VMM_OP_DELETE_DRIVE, _PMEM, _NET): take device `id` off
     * the bus and free it (its configuration is the controller's). 0 or
     * -errno with the whole fault_message in err, the device kept. */
    int (*unplug_device)(struct vmm *v, enum vmm_op op, const char *id,
                         struct sq_err *err);
};

/*
 * Snapshots (src/snapshot/, which uses the vmm and so is plugged in from
 * main.c rather than called from here). Each returns 0 or a negative errno
 * with err->msg set to the text after the category prefix ("Create snapshot
 * error: ", "Load snapshot error: ").
 */
struct vmm_snapshot_ops {
    /* PUT /snapshot/create on a paused machine. */
    int (*create)(struct vmm *v, const struct snapshot_create *p,
                  struct sq_err *err);
    /* PUT /snapshot/load before boot: on success the machine exists
     * (v->machine), Paused or, with resume_vm, Running; the machine config
     * in v->res is the snapshot's. Any failure is fatal for the process
     * (digest 7.4), which the controller arranges. */
    int (*load)(struct vmm *v, const struct snapshot_load *p,
                struct sq_err *err);
};

/* The default ops, backed by the machine layer (vmm_start.c). */
extern const struct vmm_machine_ops vmm_default_machine_ops;

/* The controller. Fields are readable by the machine layer and the tests;
 * only vmm.c, vmm_start.c and config_file.c change them. */
struct vmm {
    struct evloop *loop;     /* borrowed: the vmm thread's loop */
    char *instance_id;       /* owned */
    struct vm_resources res; /* the configuration */
    enum vmm_state state;
    /* A boot-specific resource was configured (successfully or not):
     * snapshot load is refused from then on (digest 7.4). */
    bool boot_path;
    /* Metrics were initialised (PUT /metrics, config file, or --metrics-path
     * through vmm_note_metrics_initialised). Informational: the
     * once-per-process rule itself is obs/metrics.c's. */
    bool metrics_initialised;
    /* Set when the process must end: the machine stopped (guest reset or
     * shutdown: 0; fatal vCPU exit: 1; the loop is also stopped then), or
     * an error after which upstream exits once the response is sent. The
     * main loop exits with exit_code. */
    bool exit_requested;
    int exit_code;
    /* State that GETs show changed outside an API action (device-driven:
     * balloon statistics, a device's own state). Whoever changes it on the
     * vmm thread sets this; the main loop re-renders and publishes the read
     * mirror once the current batch of events is handled, and clears it.
     * vmm thread only. */
    bool mirror_stale;
    /* What main logs as the reason when exit_code is not 0 (a static
     * text), or NULL for "MicroVM stopped with an error: {code}". */
    const char *exit_error;
    const struct vmm_machine_ops *ops; /* borrowed */
    /* borrowed; NULL: snapshots are refused (unit tests' controllers) */
    const struct vmm_snapshot_ops *snapshot_ops;
    void *machine; /* owned by the machine layer */
};

/* Create the controller (nothing configured, state Not started). Aborts
 * only on out-of-memory. `loop` is borrowed. */
struct vmm *vmm_new(struct evloop *loop, const struct vmm_opts *opts);
/* Stop the machine if running and free everything. NULL-safe. */
void vmm_free(struct vmm *v);

/*
 * Handle one request on the vmm thread and answer it in `rep` (whose body
 * buffer the caller owns): VMM_REPLY_EMPTY, or an error kind with
 * upstream's full text. A GET is answered as vmm_query() does. The request
 * stays the caller's; the vmm may take parts of its body (the MMDS document
 * of PUT /mmds, leaving NULL). Blocks at most for bounded file I/O (opening
 * files, binding a socket).
 */
void vmm_handle(struct vmm *v, struct vmm_request *req, struct vmm_reply *rep);

/*
 * What GET `op` says now: VMM_REPLY_DATA with the JSON body, or
 * VMM_REPLY_ERROR with upstream's text. Pure with respect to the state;
 * the mirror calls it for every GET after each change.
 */
void vmm_query(struct vmm *v, enum vmm_op op, struct vmm_reply *rep);

/*
 * Apply a parsed --config-file in upstream's order (digest 3.5), with the
 * optional --metadata document (borrowed; NULL = none), then start the VM.
 * On failure returns a negative errno with err->msg = "Configuration for VMM
 * from one single json failed: {error}" or "Could not Start MicroVM from one
 * single json: {error}"; the caller adds the RunWith(out)ApiError wrapping.
 */
int vmm_apply_config_file(struct vmm *v, const struct vmm_config_file *cfg,
                          struct sq_err *err);
int vmm_apply_config_file_with_metadata(struct vmm *v,
                                        const struct vmm_config_file *cfg,
                                        const struct json_value *metadata,
                                        struct sq_err *err);

/*
 * Only the configuration half of vmm_apply_config_file (upstream's
 * VmResources::from_json after the parse): every section through the
 * resource setters, in the same order, nothing started. On failure returns
 * a negative errno with err->msg = upstream's ResourcesError text
 * ("Block device error: ...", without the "Configuration for VMM ..."
 * prefix).
 */
int vmm_configure_from_file(struct vmm *v, const struct vmm_config_file *cfg,
                            const struct json_value *metadata,
                            struct sq_err *err);

/*
 * --metadata before the API starts: PUT the document into the (new) store.
 * Takes ownership of `doc`. -EFBIG when it exceeds the limit (fatal for the
 * caller, as upstream).
 */
int vmm_put_metadata(struct vmm *v, struct json_value *doc, struct sq_err *err);

/* --metrics-path was used: a later PUT /metrics is a reinitialisation. */
void vmm_note_metrics_initialised(struct vmm *v);

bool vmm_is_started(const struct vmm *v);

/* "Not started", "Running" or "Paused". */
const char *vmm_state_name(enum vmm_state s);

/*
 * The boot call behind InstanceStart (vmm_start.c): compose the command
 * line, open the serial output, build the machine (vmm/machine.h) and start
 * its vCPUs. On success v->machine is set; the machine's stop request sets
 * v->exit_requested / v->exit_code. On failure nothing is left behind and
 * err->msg is the detail after "Start microvm error: ".
 */
int vmm_start_machine(struct vmm *v, struct sq_err *err);
/*
 * The same build without starting the vCPUs (v->machine set, the vCPUs
 * configured but never run; vmm_free tears it down): what
 * cpu-template-helper inspects (vmm/cpu_dump.h). Same errors.
 */
int vmm_build_machine(struct vmm *v, struct sq_err *err);

/* The machine built by InstanceStart or a snapshot load (borrowed), or NULL
 * (not started, or a machine layer that is not vmm_start.c's). */
struct machine *vmm_machine(struct vmm *v);

#endif
