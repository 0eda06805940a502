/*
 * responses.h: the bodies of GET responses that are not request types
 * (digest 1.8): fault messages, instance info and version, balloon
 * statistics and hinting status, memory hotplug status. All append compact
 * JSON exactly as upstream's serde Serialize does.
 */
#ifndef SQUIB_CONFIG_RESPONSES_H
#define SQUIB_CONFIG_RESPONSES_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

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

#endif
