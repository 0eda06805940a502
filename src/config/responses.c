/*
 * responses.c: the JSON bodies of GET responses that are not
 * request types (digest 1.8), written the way upstream's serde Serialize
 * derives write them: fields in declaration order, Option::None as null
 * unless the field skips it (see responses.h).
 */
#include "config/responses.h"

#include <stdio.h>

#include "util/json.h"

void fault_message_to_json(const char *msg, struct buf *b)
{
    buf_puts(b, "{\"fault_message\":");
    json_write_cstr(b, msg ? msg : "");
    buf_putc(b, '}');
}

void instance_info_to_json(const struct instance_info *i, struct buf *b)
{
    static const char *const names[] = {
        [INSTANCE_STATE_NOT_STARTED] = "Not started",
        [INSTANCE_STATE_RUNNING] = "Running",
        [INSTANCE_STATE_PAUSED] = "Paused",
    };
    const char *state =
        (unsigned)i->state < 3 ? names[i->state] : "Not started";

    buf_puts(b, "{\"id\":");
    json_write_cstr(b, i->id ? i->id : "");
    buf_puts(b, ",\"state\":");
    json_write_cstr(b, state);
    buf_puts(b, ",\"vmm_version\":");
    json_write_cstr(b, i->vmm_version ? i->vmm_version : "");
    buf_puts(b, ",\"app_name\":");
    json_write_cstr(b, i->app_name ? i->app_name : "");
    buf_putc(b, '}');
}

void version_to_json(const char *version, struct buf *b)
{
    buf_puts(b, "{\"firecracker_version\":");
    json_write_cstr(b, version ? version : "");
    buf_putc(b, '}');
}

void balloon_stats_to_json(const struct balloon_stats *s, struct buf *b)
{
    static const char *const names[BALLOON_STAT_COUNT] = {
        "swap_in",          "swap_out",    "major_faults",
        "minor_faults",     "free_memory", "total_memory",
        "available_memory", "disk_caches", "hugetlb_allocations",
        "hugetlb_failures", "oom_kill",    "alloc_stall",
        "async_scan",       "direct_scan", "async_reclaim",
        "direct_reclaim",
    };
    size_t i;

    buf_printf(b,
               "{\"target_pages\":%u,\"actual_pages\":%u,\"target_mib\":%u,"
               "\"actual_mib\":%u",
               s->target_pages, s->actual_pages, s->target_mib, s->actual_mib);
    for (i = 0; i < BALLOON_STAT_COUNT; i++) {
        if (!s->has[i])
            continue;
        buf_printf(b, ",\"%s\":", names[i]);
        json_write_u64(b, s->value[i]);
    }
    buf_putc(b, '}');
}

void balloon_hinting_status_to_json(const struct balloon_hinting_status *h,
                                    struct buf *b)
{
    buf_printf(b, "{\"host_cmd\":%u,\"guest_cmd\":", h->host_cmd);
    if (h->has_guest_cmd)
        buf_printf(b, "%u", h->guest_cmd);
    else
        buf_puts(b, "null");
    buf_putc(b, '}');
}

void hotplug_memory_status_to_json(const struct hotplug_memory_status *h,
                                   struct buf *b)
{
    buf_printf(b,
               "{\"block_size_mib\":%u,\"total_size_mib\":%u,"
               "\"slot_size_mib\":%u,\"plugged_size_mib\":%u,"
               "\"requested_size_mib\":%u}",
               h->block_size_mib, h->total_size_mib, h->slot_size_mib,
               h->plugged_size_mib, h->requested_size_mib);
}
