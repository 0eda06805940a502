/*
 * action.h: the vmm's own request and reply vocabulary, and the one table of
 * operations.
 *
 * Every API operation is one row of VMM_OPS below: its method and path (as
 * upstream routes them), the type of its body, its timeout class, the
 * request counters the api layer bumps for it, and whether the vmm runs it
 * before and after InstanceStart. The api thread routes a request to a
 * `enum vmm_op`, parses the body into `union vmm_body` and wraps the
 * resulting `struct vmm_request` in its own queue entry; the vmm thread
 * answers with a `struct vmm_reply`, which the api thread maps to HTTP
 * (upstream's VmmAction / VmmData / VmmActionError, rpc_interface.rs).
 *
 * Adding an operation is one row here; the compiler then points at every
 * switch that must learn it (none of them has a default).
 */
#ifndef SQUIB_VMM_ACTION_H
#define SQUIB_VMM_ACTION_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "obs/metrics.h"
#include "util/buf.h"

/* Upstream's warning when GET /vm/config is answered before boot (both the
 * api thread, serving the mirror, and the vmm log it). */
#define VMM_WARN_VM_CONFIG_PRE_BOOT                                            \
    "If the VM was restored from snapshot, boot-source, "                      \
    "machine-config.smt, and machine-config.cpu_template will all be empty."

/* Timeout classes: how long the vmm thread may take over an operation
 * (defaults and the 504 in docs/compat.md). */
enum action_class {
    ACTION_CLASS_CONFIG,   /* pre-boot configuration, logger, metrics, MMDS */
    ACTION_CLASS_START,    /* InstanceStart */
    ACTION_CLASS_VCPU,     /* pause, resume, Ctrl-Alt-Del, FlushMetrics */
    ACTION_CLASS_DEVICE,   /* post-boot device updates (PATCH drives, ...) */
    ACTION_CLASS_SNAPSHOT, /* snapshot create and load */
    ACTION_CLASS_COUNT
};

/* What travels with an operation; picks the parser and the union member. */
enum vmm_body_kind {
    VMM_BODY_NONE,                  /* no member */
    VMM_BODY_INSTANCE_ACTION,       /* instance_action */
    VMM_BODY_BOOT_SOURCE,           /* boot_source */
    VMM_BODY_CPU_CONFIG,            /* cpu_config */
    VMM_BODY_DRIVE,                 /* drive */
    VMM_BODY_DRIVE_UPDATE,          /* drive_update */
    VMM_BODY_PMEM,                  /* pmem */
    VMM_BODY_PMEM_UPDATE,           /* pmem_update */
    VMM_BODY_NET,                   /* net */
    VMM_BODY_NET_UPDATE,            /* net_update */
    VMM_BODY_MACHINE,               /* machine (PUT: every field given) */
    VMM_BODY_MACHINE_UPDATE,        /* machine (PATCH: has_* = given) */
    VMM_BODY_LOGGER,                /* logger */
    VMM_BODY_METRICS,               /* metrics */
    VMM_BODY_MMDS_DATA,             /* mmds_data (a JSON document) */
    VMM_BODY_MMDS_CONFIG,           /* mmds_config */
    VMM_BODY_VSOCK,                 /* vsock */
    VMM_BODY_ENTROPY,               /* entropy */
    VMM_BODY_SERIAL,                /* serial */
    VMM_BODY_BALLOON,               /* balloon */
    VMM_BODY_BALLOON_UPDATE,        /* balloon_update */
    VMM_BODY_BALLOON_STATS_UPDATE,  /* balloon_stats_update */
    VMM_BODY_BALLOON_HINTING_START, /* hinting_start (body optional) */
    VMM_BODY_HOTPLUG_MEMORY,        /* hotplug_memory */
    VMM_BODY_HOTPLUG_MEMORY_UPDATE, /* hotplug_memory_update */
    VMM_BODY_SNAPSHOT_CREATE,       /* snapshot_create */
    VMM_BODY_SNAPSHOT_LOAD,         /* snapshot_load */
    VMM_BODY_VM_STATE,              /* vm_state */
};

/* Whether the vmm runs an operation in a phase, or answers upstream's
 * NotSupported text for it (VMM_ERR_NS_PRE / VMM_ERR_NS_POST). */
enum vmm_phase_rule { VMM_RUN, VMM_NS };

/* No request counter for this operation (upstream has none). */
#define VMM_NO_METRIC METRIC_COUNT

/*
 * The operations, in the digest's route-table order (1.2). Columns:
 *   op         VMM_OP_<op>
 *   method     as upstream prints it
 *   path       upstream's path; {id} is a checked path id
 *   body       enum vmm_body_kind (without the VMM_BODY_ prefix)
 *   class      enum action_class (without the ACTION_CLASS_ prefix); GETs
 *              are answered from the read mirror and never wait
 *   pre, post  enum vmm_phase_rule before / after InstanceStart
 *   count      request counter bumped when routed (digest 4.2)
 *   fails      counter bumped when the body does not parse
 */
#define VMM_M(g, f) METRIC_##g##_##f
#define VMM_OPS(X)                                                             \
    X(GET_INSTANCE_INFO, "GET", "/", NONE, CONFIG, RUN, RUN,                   \
      VMM_M(get_api_requests, instance_info_count), VMM_NO_METRIC)             \
    X(PUT_ACTIONS, "PUT", "/actions", INSTANCE_ACTION, START, RUN, RUN,        \
      VMM_M(put_api_requests, actions_count),                                  \
      VMM_M(put_api_requests, actions_fails))                                  \
    X(GET_BALLOON, "GET", "/balloon", NONE, CONFIG, RUN, RUN, VMM_NO_METRIC,   \
      VMM_NO_METRIC)                                                           \
    X(PUT_BALLOON, "PUT", "/balloon", BALLOON, CONFIG, RUN, NS, VMM_NO_METRIC, \
      VMM_NO_METRIC)                                                           \
    X(PATCH_BALLOON, "PATCH", "/balloon", BALLOON_UPDATE, DEVICE, NS, RUN,     \
      VMM_NO_METRIC, VMM_NO_METRIC)                                            \
    X(GET_BALLOON_STATS, "GET", "/balloon/statistics", NONE, CONFIG, RUN, RUN, \
      VMM_NO_METRIC, VMM_NO_METRIC)                                            \
    X(PATCH_BALLOON_STATS, "PATCH", "/balloon/statistics",                     \
      BALLOON_STATS_UPDATE, DEVICE, NS, RUN, VMM_NO_METRIC, VMM_NO_METRIC)     \
    X(PATCH_BALLOON_HINTING_START, "PATCH", "/balloon/hinting/start",          \
      BALLOON_HINTING_START, DEVICE, NS, RUN, VMM_NO_METRIC, VMM_NO_METRIC)    \
    X(GET_BALLOON_HINTING_STATUS, "GET", "/balloon/hinting/status", NONE,      \
      CONFIG, RUN, RUN, VMM_NO_METRIC, VMM_NO_METRIC)                          \
    X(PATCH_BALLOON_HINTING_STOP, "PATCH", "/balloon/hinting/stop", NONE,      \
      DEVICE, NS, RUN, VMM_NO_METRIC, VMM_NO_METRIC)                           \
    X(PUT_BOOT_SOURCE, "PUT", "/boot-source", BOOT_SOURCE, CONFIG, RUN, NS,    \
      VMM_M(put_api_requests, boot_source_count),                              \
      VMM_M(put_api_requests, boot_source_fails))                              \
    X(PUT_CPU_CONFIG, "PUT", "/cpu-config", CPU_CONFIG, CONFIG, RUN, NS,       \
      VMM_M(put_api_requests, cpu_cfg_count),                                  \
      VMM_M(put_api_requests, cpu_cfg_fails))                                  \
    X(PUT_DRIVE, "PUT", "/drives/{id}", DRIVE, CONFIG, RUN, RUN,               \
      VMM_M(put_api_requests, drive_count),                                    \
      VMM_M(put_api_requests, drive_fails))                                    \
    X(PATCH_DRIVE, "PATCH", "/drives/{id}", DRIVE_UPDATE, DEVICE, NS, RUN,     \
      VMM_M(patch_api_requests, drive_count),                                  \
      VMM_M(patch_api_requests, drive_fails))                                  \
    X(DELETE_DRIVE, "DELETE", "/drives/{id}", NONE, DEVICE, NS, RUN,           \
      VMM_NO_METRIC, VMM_NO_METRIC)                                            \
    X(PUT_PMEM, "PUT", "/pmem/{id}", PMEM, CONFIG, RUN, RUN,                   \
      VMM_M(put_api_requests, pmem_count),                                     \
      VMM_M(put_api_requests, pmem_fails))                                     \
    X(PATCH_PMEM, "PATCH", "/pmem/{id}", PMEM_UPDATE, DEVICE, NS, RUN,         \
      VMM_M(patch_api_requests, pmem_count),                                   \
      VMM_M(patch_api_requests, pmem_fails))                                   \
    X(DELETE_PMEM, "DELETE", "/pmem/{id}", NONE, DEVICE, NS, RUN,              \
      VMM_NO_METRIC, VMM_NO_METRIC)                                            \
    X(PUT_LOGGER, "PUT", "/logger", LOGGER, CONFIG, RUN, NS,                   \
      VMM_M(put_api_requests, logger_count),                                   \
      VMM_M(put_api_requests, logger_fails))                                   \
    X(GET_MACHINE_CONFIG, "GET", "/machine-config", NONE, CONFIG, RUN, RUN,    \
      VMM_M(get_api_requests, machine_cfg_count), VMM_NO_METRIC)               \
    X(PUT_MACHINE_CONFIG, "PUT", "/machine-config", MACHINE, CONFIG, RUN, NS,  \
      VMM_M(put_api_requests, machine_cfg_count),                              \
      VMM_M(put_api_requests, machine_cfg_fails))                              \
    X(PATCH_MACHINE_CONFIG, "PATCH", "/machine-config", MACHINE_UPDATE,        \
      CONFIG, RUN, NS, VMM_M(patch_api_requests, machine_cfg_count),           \
      VMM_M(patch_api_requests, machine_cfg_fails))                            \
    X(PUT_METRICS, "PUT", "/metrics", METRICS, CONFIG, RUN, NS,                \
      VMM_M(put_api_requests, metrics_count),                                  \
      VMM_M(put_api_requests, metrics_fails))                                  \
    X(GET_MMDS, "GET", "/mmds", NONE, CONFIG, RUN, RUN,                        \
      VMM_M(get_api_requests, mmds_count), VMM_NO_METRIC)                      \
    X(PUT_MMDS, "PUT", "/mmds", MMDS_DATA, CONFIG, RUN, RUN,                   \
      VMM_M(put_api_requests, mmds_count),                                     \
      VMM_M(put_api_requests, mmds_fails))                                     \
    X(PATCH_MMDS, "PATCH", "/mmds", MMDS_DATA, CONFIG, RUN, RUN,               \
      VMM_M(patch_api_requests, mmds_count),                                   \
      VMM_M(patch_api_requests, mmds_fails))                                   \
    X(PUT_MMDS_CONFIG, "PUT", "/mmds/config", MMDS_CONFIG, CONFIG, RUN, NS,    \
      VMM_M(put_api_requests, mmds_count),                                     \
      VMM_M(put_api_requests, mmds_fails))                                     \
    X(PUT_ENTROPY, "PUT", "/entropy", ENTROPY, CONFIG, RUN, NS, VMM_NO_METRIC, \
      VMM_NO_METRIC)                                                           \
    X(PUT_SERIAL, "PUT", "/serial", SERIAL, CONFIG, RUN, NS,                   \
      VMM_M(put_api_requests, serial_count),                                   \
      VMM_M(put_api_requests, serial_fails))                                   \
    X(GET_HOTPLUG_MEMORY, "GET", "/hotplug/memory", NONE, CONFIG, RUN, RUN,    \
      VMM_M(get_api_requests, hotplug_memory_count), VMM_NO_METRIC)            \
    X(PUT_HOTPLUG_MEMORY, "PUT", "/hotplug/memory", HOTPLUG_MEMORY, CONFIG,    \
      RUN, NS, VMM_M(put_api_requests, hotplug_memory_count),                  \
      VMM_M(put_api_requests, hotplug_memory_fails))                           \
    X(PATCH_HOTPLUG_MEMORY, "PATCH", "/hotplug/memory", HOTPLUG_MEMORY_UPDATE, \
      DEVICE, NS, RUN, VMM_M(patch_api_requests, hotplug_memory_count),        \
      VMM_M(patch_api_requests, hotplug_memory_fails))                         \
    X(PUT_NET, "PUT", "/network-interfaces/{id}", NET, CONFIG, RUN, RUN,       \
      VMM_M(put_api_requests, network_count),                                  \
      VMM_M(put_api_requests, network_fails))                                  \
    X(PATCH_NET, "PATCH", "/network-interfaces/{id}", NET_UPDATE, DEVICE, NS,  \
      RUN, VMM_M(patch_api_requests, network_count),                           \
      VMM_M(patch_api_requests, network_fails))                                \
    X(DELETE_NET, "DELETE", "/network-interfaces/{id}", NONE, DEVICE, NS, RUN, \
      VMM_NO_METRIC, VMM_NO_METRIC)                                            \
    X(PUT_SNAPSHOT_CREATE, "PUT", "/snapshot/create", SNAPSHOT_CREATE,         \
      SNAPSHOT, NS, RUN, VMM_NO_METRIC, VMM_NO_METRIC)                         \
    X(PUT_SNAPSHOT_LOAD, "PUT", "/snapshot/load", SNAPSHOT_LOAD, SNAPSHOT,     \
      RUN, NS, VMM_NO_METRIC, VMM_NO_METRIC)                                   \
    X(GET_VERSION, "GET", "/version", NONE, CONFIG, RUN, RUN,                  \
      VMM_M(get_api_requests, vmm_version_count), VMM_NO_METRIC)               \
    X(PATCH_VM, "PATCH", "/vm", VM_STATE, VCPU, NS, RUN, VMM_NO_METRIC,        \
      VMM_NO_METRIC)                                                           \
    X(GET_VM_CONFIG, "GET", "/vm/config", NONE, CONFIG, RUN, RUN,              \
      VMM_NO_METRIC, VMM_NO_METRIC)                                            \
    X(PUT_VSOCK, "PUT", "/vsock", VSOCK, CONFIG, RUN, NS,                      \
      VMM_M(put_api_requests, vsock_count),                                    \
      VMM_M(put_api_requests, vsock_fails))

enum vmm_op {
#define SQ_VMM_OP_ENUM(op, ...) VMM_OP_##op,
    VMM_OPS(SQ_VMM_OP_ENUM)
#undef SQ_VMM_OP_ENUM
        VMM_OP_COUNT
};

/* One row of the table. */
struct vmm_op_info {
    const char *name;   /* "PUT_DRIVE", for logs and tests */
    const char *method; /* "GET", "PUT", "PATCH", "DELETE" */
    const char *path;   /* "/drives/{id}" */
    enum vmm_body_kind body;
    enum action_class cls;
    enum vmm_phase_rule pre, post;
    enum metric_id count, fails; /* VMM_NO_METRIC: none */
};

/* The row of `op` (which must be < VMM_OP_COUNT). */
const struct vmm_op_info *vmm_op_info(enum vmm_op op);

/* "PUT_DRIVE"; "?" for a value outside the enum. */
const char *vmm_op_name(enum vmm_op op);

/* True for the GETs: answered from the read mirror, never queued. */
bool vmm_op_is_read(enum vmm_op op);

/* The request bodies, one member per body kind (see enum vmm_body_kind).
 * Each member is the validated type config/ produces; owned members are
 * released by vmm_request_fini(). */
union vmm_body {
    struct instance_action instance_action;
    struct boot_source_cfg boot_source;
    struct cpu_template cpu_config;
    struct drive_cfg drive;
    struct drive_update drive_update;
    struct pmem_cfg pmem;
    struct pmem_update pmem_update;
    struct net_iface_cfg net;
    struct net_iface_update net_update;
    struct machine_cfg machine;
    struct logger_cfg logger;
    struct metrics_cfg metrics;
    struct json_value *mmds_data; /* owned; the store may take it (NULL) */
    struct mmds_cfg mmds_config;
    struct vsock_cfg vsock;
    struct entropy_cfg entropy;
    struct serial_cfg serial;
    struct balloon_cfg balloon;
    struct balloon_update balloon_update;
    struct balloon_stats_update balloon_stats_update;
    struct balloon_hinting_start hinting_start;
    struct hotplug_memory_cfg hotplug_memory;
    struct hotplug_memory_update hotplug_memory_update;
    struct snapshot_create snapshot_create;
    struct snapshot_load snapshot_load;
    struct vm_state_req vm_state;
};

/* One operation for the vmm. `body` holds the member named by the op's
 * body kind (nothing for VMM_BODY_NONE). */
struct vmm_request {
    enum vmm_op op;
    char *id; /* owned; the path id, NULL when the op has none */
    union vmm_body body;
};

/* Release what the request owns (id and body members); the struct itself is
 * the caller's. Idempotent. */
void vmm_request_fini(struct vmm_request *req);

/* Upstream's deprecation of a request decided by its parsed body (digest
 * 1.6): cpu_template in machine-config, vsock_id, MMDS V1, snapshot-load's
 * old fields. */
bool vmm_request_deprecated(const struct vmm_request *req);

/* The timeout class of a parsed request: the op's class, with PUT /actions
 * split by action type (InstanceStart is START, the rest VCPU). */
enum action_class vmm_request_class(const struct vmm_request *req);

/* How the vmm answered (upstream's VmmData::Empty, VmmData::<data>,
 * VmmActionError, and the MMDS limit error the api maps to 413). */
enum vmm_reply_kind {
    VMM_REPLY_EMPTY,     /* done, nothing to return (204) */
    VMM_REPLY_DATA,      /* `body` is the JSON data (200) */
    VMM_REPLY_ERROR,     /* `body` is the error text (400) */
    VMM_REPLY_TOO_LARGE, /* `body` is the error text (413) */
};

struct vmm_reply {
    enum vmm_reply_kind kind;
    struct buf body; /* see kind; NUL-terminated when non-empty */
    bool deprecated; /* upstream adds the Deprecation header */
};

/* Release the reply's body (the struct is the caller's). */
void vmm_reply_fini(struct vmm_reply *rep);

#endif
