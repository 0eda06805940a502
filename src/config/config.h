/*
 * config.h: the validated request bodies of the HTTP API and the
 * --config-file document.
 *
 * Each type here is the C form of one upstream serde struct. Its parser is a
 * schema-driven streaming decoder (util/json.h) that behaves like
 * serde_json + serde derive: same accepted inputs, same error texts, same
 * "at line L column C" positions, and errors found in the same order as a
 * single pass over the document would find them. Validation is the
 * constructor: when X_parse() returns 0 the struct obeys every rule upstream
 * applies while deserializing (types, ranges, enum variants, MAC syntax,
 * CPU template bitmaps, ...). Checks that need VMM state (files, uniqueness,
 * limits against other resources) are not done here.
 *
 * Conventions for every body type X:
 *
 *   int X_parse(const char *body, size_t len, struct X *out,
 *               struct sq_err *err);
 *       Parses `len` bytes (not NUL-terminated; may contain any bytes).
 *       On success returns 0 and fills *out (which the caller must release
 *       with X_fini). On failure returns -EINVAL, leaves *out zeroed
 *       (nothing to free; X_fini is still safe) and sets err->msg to the
 *       exact fault_message, e.g. "An error occurred when deserializing the
 *       json body of a request: missing field `vcpu_count` at line 1
 *       column 21."
 *   void X_fini(struct X *);
 *       Frees owned members; NULL-safe; idempotent.
 *   void X_to_json(const struct X *, struct buf *);
 *       Appends the compact serde_json serialization upstream emits (fields
 *       in upstream's order; Option::None as null unless upstream skips it).
 *
 * Strings are owned, NUL-terminated and valid UTF-8 (JSON "\u0000" is kept
 * inside the string; fields whose exact bytes matter, the ids, carry their
 * length too). Optional fields: a NULL pointer or `has_<field> == false`
 * means absent or explicit null (serde treats both as None).
 *
 * Metrics: parsers are pure. The caller increments the per-route
 * *_count / *_fails counters and deprecated_api.deprecated_http_api_calls
 * (when `deprecated` is set) exactly as upstream's request handlers do.
 *
 * x86_64 only.
 */
#ifndef SQUIB_CONFIG_CONFIG_H
#define SQUIB_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/json.h"
#include "config/actions.h"
#include "config/balloon.h"
#include "config/boot.h"
#include "config/cpu_template.h"
#include "config/drive.h"
#include "config/entropy.h"
#include "config/ids.h"
#include "config/logger.h"
#include "config/machine.h"
#include "config/memory_hotplug.h"
#include "config/metrics.h"
#include "config/mmds.h"
#include "config/net.h"
#include "config/pmem.h"
#include "config/rate_limiter.h"
#include "config/serial.h"
#include "config/snapshot.h"
#include "config/vsock.h"

/* The prefix upstream's RequestError::SerdeJson puts before serde's message
 * (and it appends "."). */
#define SCHEMAS_SERDE_PREFIX                                                   \
    "An error occurred when deserializing the json body of a request: "

/* ---------------------------------------------------------------------- */
/* Response bodies of GET requests that are not request types (digest 1.8).
 * All append compact JSON exactly as upstream's serde Serialize does. */

/* {"fault_message":"<msg>"} (ApiServer::json_fault_message). */
void fault_message_to_json(const char *msg, struct buf *b);

enum instance_state {
    INSTANCE_STATE_NOT_STARTED, /* "Not started" */
    INSTANCE_STATE_RUNNING,     /* "Running" */
    INSTANCE_STATE_PAUSED,      /* "Paused" */
};

struct instance_info {
    const char *id; /* borrowed */
    enum instance_state state;
    const char *vmm_version; /* borrowed, e.g. "1.17.0-dev" */
    const char *app_name;    /* borrowed, "Firecracker" */
};

/* GET /: {"id":..,"state":..,"vmm_version":..,"app_name":..} */
void instance_info_to_json(const struct instance_info *i, struct buf *b);
/* GET /version: {"firecracker_version":".."} */
void version_to_json(const char *version, struct buf *b);

/* The optional balloon statistics, in upstream's field order. */
enum balloon_stat {
    BALLOON_STAT_SWAP_IN,
    BALLOON_STAT_SWAP_OUT,
    BALLOON_STAT_MAJOR_FAULTS,
    BALLOON_STAT_MINOR_FAULTS,
    BALLOON_STAT_FREE_MEMORY,
    BALLOON_STAT_TOTAL_MEMORY,
    BALLOON_STAT_AVAILABLE_MEMORY,
    BALLOON_STAT_DISK_CACHES,
    BALLOON_STAT_HUGETLB_ALLOCATIONS,
    BALLOON_STAT_HUGETLB_FAILURES,
    BALLOON_STAT_OOM_KILL,
    BALLOON_STAT_ALLOC_STALL,
    BALLOON_STAT_ASYNC_SCAN,
    BALLOON_STAT_DIRECT_SCAN,
    BALLOON_STAT_ASYNC_RECLAIM,
    BALLOON_STAT_DIRECT_RECLAIM,
    BALLOON_STAT_COUNT,
};

struct balloon_stats {
    uint32_t target_pages;
    uint32_t actual_pages;
    uint32_t target_mib;
    uint32_t actual_mib;
    bool has[BALLOON_STAT_COUNT]; /* unknown ones are omitted */
    uint64_t value[BALLOON_STAT_COUNT];
};

/* GET /balloon/statistics */
void balloon_stats_to_json(const struct balloon_stats *s, struct buf *b);

struct balloon_hinting_status {
    uint32_t host_cmd;
    bool has_guest_cmd;
    uint32_t guest_cmd;
};

/* GET /balloon/hinting/status: {"host_cmd":N,"guest_cmd":N|null} */
void balloon_hinting_status_to_json(const struct balloon_hinting_status *h,
                                    struct buf *b);

struct hotplug_memory_status {
    uint32_t block_size_mib;
    uint32_t total_size_mib;
    uint32_t slot_size_mib;
    uint32_t plugged_size_mib;
    uint32_t requested_size_mib;
};

/* GET /hotplug/memory: {"block_size_mib","total_size_mib","slot_size_mib",
 * "plugged_size_mib","requested_size_mib"} */
void hotplug_memory_status_to_json(const struct hotplug_memory_status *h,
                                   struct buf *b);

/* ---------------------------------------------------------------------- */
/* --config-file: VmmConfig (kebab-case keys, NOT strict). */

enum cpu_config_kind {
    CPU_CONFIG_NONE = 0, /* key absent or null */
    CPU_CONFIG_PATH,     /* a string: path of a template JSON file */
    CPU_CONFIG_TEMPLATE, /* an inline template object */
};

struct vmm_config_file {
    bool has_balloon;
    struct balloon_cfg balloon;
    size_t n_drives;
    struct drive_cfg *drives;           /* owned */
    struct boot_source_cfg boot_source; /* required */
    enum cpu_config_kind cpu_config_kind;
    char *cpu_config_path;          /* owned; set for CPU_CONFIG_PATH */
    struct cpu_template cpu_config; /* set for CPU_CONFIG_TEMPLATE */
    bool has_logger;
    struct logger_cfg logger;
    bool has_machine_config;
    struct machine_cfg machine_config; /* as parsed by PUT (has_* set) */
    bool has_metrics;
    struct metrics_cfg metrics;
    bool has_mmds_config;
    struct mmds_cfg mmds_config;
    size_t n_network_interfaces;
    struct net_iface_cfg *network_interfaces; /* owned */
    bool has_vsock;
    struct vsock_cfg vsock;
    bool has_entropy;
    struct entropy_cfg entropy;
    size_t n_pmem;
    struct pmem_cfg *pmem; /* owned */
    bool has_memory_hotplug;
    struct hotplug_memory_cfg memory_hotplug;
};

/*
 * Parse a --config-file document. On failure returns -EINVAL with err->msg =
 * upstream's ResourcesError text "Invalid JSON: {serde message}"; the caller
 * adds "Configuration for VMM from one single json failed: " etc.
 */
int vmm_config_file_parse(const char *json, size_t len,
                          struct vmm_config_file *out, struct sq_err *err);
void vmm_config_file_fini(struct vmm_config_file *c);

/*
 * GET /vm/config: the document upstream serializes from its resources,
 * which is itself a valid config file. Keys in upstream's order: balloon,
 * drives, boot-source, cpu-config, logger, machine-config, metrics,
 * mmds-config, network-interfaces, vsock, entropy, pmem, memory-hotplug;
 * absent sections are null. cpu-config, logger and metrics are always null
 * (upstream never reports them). The caller fills *c from the VM state
 * (has_machine_config is always true upstream; a missing boot source is
 * written with kernel_image_path "").
 */
void vmm_config_file_to_json(const struct vmm_config_file *c, struct buf *b);

#endif
