/*
 * balloon.h: the virtio memory balloon (virtio-balloon, device id 5,
 * internal id "balloon") behind virtio-mmio; upstream's Balloon
 * (src/vmm/src/devices/virtio/balloon/) in C.
 *
 * Features: VERSION_1; STATS_VQ when stats_polling_interval_s > 0;
 * DEFLATE_ON_OOM when asked; FREE_PAGE_HINT and PAGE_REPORTING when
 * configured. Queues, 256 entries each, in upstream's order: 0 inflate,
 * 1 deflate, then the stats queue (when STATS_VQ is offered), the hinting
 * queue (when FREE_PAGE_HINT is), the reporting queue (when
 * PAGE_REPORTING is). So the hinting queue is 2 or 3 and the reporting
 * queue 2, 3 or 4.
 *
 * Config space, 12 bytes little-endian as upstream's ConfigSpace:
 *   0  num_pages              target, 4 KiB pages (the host sets it)
 *   4  actual                 pages the guest holds (the driver writes it)
 *   8  free_page_hint_cmd_id  hinting command (the host sets it)
 * The guest may write any in-bounds byte range; a write past the end is
 * dropped whole and warned about. Reads past the end return zeros. A new
 * `actual` wakes the vmm loop (balloon_config_event_fd()), which reports
 * the change through the `changed` hook.
 *
 * Queues:
 *   inflate    each chain's first buffer holds u32 page frame numbers
 *              (4 KiB pages). Up to BALLOON_PFN_BUFFER of them are
 *              gathered, sorted, deduplicated and compacted into ranges
 *              of consecutive pages, and each range is released with
 *              madvise(MADV_DONTNEED): the host frees the memory and the
 *              guest reads zeros there afterwards. A PFN outside guest
 *              RAM fails its range (logged, counted by
 *              balloon_discard_failures()); the rest go on. A buffer that
 *              is device-writable or not a multiple of 4 bytes is returned
 *              unread, as upstream does.
 *   deflate    returned at once (upstream does nothing but count).
 *   stats      the driver's single buffer of {u16 tag, u64 value}
 *              records (10 bytes, packed) is parsed and kept; the device
 *              holds the buffer and gives it back every
 *              stats_polling_interval_s seconds (a timerfd on the vmm
 *              loop), which asks the guest for fresh numbers.
 *   hinting    chains of a 4-byte command id (the guest's answer to
 *              free_page_hint_cmd_id) and free ranges, released while the
 *              guest's id matches the host's running command.
 *   reporting  every buffer of every chain is a free range to release.
 *
 * Hinting state machine (upstream's), host_cmd as in config space:
 *
 *   STOP(0) --balloon_start_hinting()--> id 2, 3, ... (running)
 *   running --balloon_stop_hinting()---> DONE(1)
 *   running --guest sends STOP or DONE, acknowledge_on_stop--> DONE(1)
 *   any     --device reset-------------> STOP(0), guest_cmd unknown
 *
 * Errors a guest causes are logged (rate-limited) and counted, never
 * fatal: a corrupt avail ring sets DEVICE_NEEDS_RESET. Metrics: the
 * "balloon" group (obs/metrics.h) with upstream's keys.
 *
 * Lifecycle as rng.h: balloon_new -> virtio_mmio_machine_dev(
 * balloon_transport) -> machine_create -> balloon_attach ->
 * balloon_detach -> machine_destroy -> balloon_free. All calls on the
 * vmm thread; the API-facing functions take the transport lock.
 */
#ifndef SQUIB_DEVICES_VIRTIO_BALLOON_H
#define SQUIB_DEVICES_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "util/err.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"

#define BALLOON_DEVICE_ID     "balloon"
#define BALLOON_QUEUE_SIZE    256
#define BALLOON_CONFIG_LEN    12u
#define BALLOON_PAGES_PER_MIB 256u /* 4 KiB pages in a MiB */
#define BALLOON_PFN_SHIFT     12
/* Upstream's MAX_PAGES_IN_DESC and MAX_PAGE_COMPACT_BUFFER. */
#define BALLOON_MAX_PAGES_IN_DESC 256u
#define BALLOON_PFN_BUFFER        2048u
/* A stats buffer longer than 256 records is held but not parsed. */
#define BALLOON_STAT_LEN      10u
#define BALLOON_MAX_STATS_LEN (256u * BALLOON_STAT_LEN)

#define BALLOON_INFLATE_INDEX 0
#define BALLOON_DEFLATE_INDEX 1

/* Feature bits (linux/virtio_balloon.h). */
#define SQ_VIRTIO_BALLOON_F_STATS_VQ       1
#define SQ_VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define SQ_VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define SQ_VIRTIO_BALLOON_F_PAGE_REPORTING 5

/* Hinting command ids with a fixed meaning; running commands are >= 2. */
#define BALLOON_HINT_CMD_STOP 0u
#define BALLOON_HINT_CMD_DONE 1u

/* The statistics tags the guest may report (0..15, VIRTIO_BALLOON_S_*),
 * in the order of upstream's BalloonStats fields and of config/responses.h's
 * enum balloon_stat: swap_in, swap_out, major_faults, minor_faults,
 * free_memory, total_memory, available_memory, disk_caches,
 * hugetlb_allocations, hugetlb_failures, oom_kill, alloc_stall,
 * async_scan, direct_scan, async_reclaim, direct_reclaim. */
#define BALLOON_N_STATS 16

/* What the device is built from (the wiring copies struct balloon_cfg). */
struct balloon_params {
    uint32_t amount_mib; /* target; amount_mib * 256 must fit in u32 */
    bool deflate_on_oom;
    uint16_t stats_polling_interval_s; /* 0 = no stats queue */
    bool free_page_hinting;
    bool free_page_reporting;
    /* Optional: called on the vmm thread, with the transport lock held,
     * after the guest may have changed what balloon_get_stats() or
     * balloon_hinting_status() report (a stats buffer or hinting buffers
     * processed, a stats timer tick), so that the caller can refresh what
     * its GETs show. It must only take note (e.g. set a flag). */
    void (*changed)(void *opaque);
    void *changed_opaque;
};

/* GET /balloon/statistics (upstream's BalloonStats). has[t] is false
 * until the guest reported tag t since the last reset: such a field is
 * omitted from the JSON. */
struct balloon_dev_stats {
    uint32_t target_pages;
    uint32_t actual_pages;
    uint32_t target_mib; /* pages / 256, rounded down */
    uint32_t actual_mib;
    bool has[BALLOON_N_STATS];
    uint64_t value[BALLOON_N_STATS];
};

/* GET /balloon/hinting/status: guest_cmd is null until the guest sent a
 * command id. */
struct balloon_dev_hinting {
    uint32_t host_cmd;
    bool has_guest_cmd;
    uint32_t guest_cmd;
};

struct balloon;

/*
 * Build the device (not yet on a machine). Returns 0 and *out (owned by
 * the caller), or -errno with err set: -EINVAL with upstream's
 * "Requested memory should be less than 16777215MiB" when amount_mib *
 * 256 overflows u32, or a failure to create the timer or the eventfds.
 * The caller checks amount_mib against the memory size (config layer).
 */
int balloon_new(const struct balloon_params *p, struct balloon **out,
                struct sq_err *err);
/* Detach if needed and free; NULL-safe. After machine_destroy(). */
void balloon_free(struct balloon *b);
/* The device's transport (borrowed; lives as long as the device). */
struct virtio_mmio *balloon_transport(struct balloon *b);
/*
 * As rng_attach(): ioeventfds, the queue eventfds and the statistics
 * timer on `loop` when not NULL. 0, or -errno with nothing left
 * registered. `gm` is borrowed and must outlive the device's attachment.
 */
int balloon_attach(struct balloon *b, const struct guest_mem *gm, int vm_fd,
                   uint64_t addr, struct evloop *loop);
/* Leave the loop and deassign the ioeventfds; before machine_destroy().
 * balloon_free() calls it too. Idempotent. */
void balloon_detach(struct balloon *b);

/* The statistics timer fired (what the loop runs; tests call it): drain
 * the timerfd and give the held stats buffer back to the guest. Takes the
 * transport lock. */
void balloon_stats_timer_event(struct balloon *b);
/* The timerfd (borrowed), -1 never: tests read its setting. */
int balloon_stats_timer_fd(const struct balloon *b);
/* The eventfd (borrowed) a driver's write of a new `actual` signals, from
 * the vCPU thread; once attached, the vmm loop drains it and calls the
 * `changed` hook, so that GETs show the new value. Tests read it. */
int balloon_config_event_fd(const struct balloon *b);

/*
 * The API-facing operations. Each takes the transport lock and returns 0,
 * or -errno with err set to upstream's BalloonError text; the caller adds
 * the category ("Balloon update error: Balloon: " for the PATCHes,
 * "Internal VMM error: Balloon: " for GET /balloon/statistics).
 */

/* GET /balloon: the current configuration (amount_mib = target pages /
 * 256, interval as last set). Never fails. */
void balloon_get_config(struct balloon *b, struct balloon_params *out);

/* PATCH /balloon: new target. Not activated: -ENODEV "Device not activated
 * yet."; amount_mib above the guest's memory: -EINVAL "Requested memory
 * should be less than {amount_mib}MiB" (upstream prints the request).
 * Otherwise num_pages changes and a config interrupt goes out. */
int balloon_update_size(struct balloon *b, uint32_t amount_mib,
                        struct sq_err *err);

/* PATCH /balloon/statistics. The same interval: nothing. Turning stats on
 * or off (either interval 0): -EINVAL "Statistics cannot be
 * enabled/disabled after activation." (upstream says so before
 * activation too). Else the held buffer goes back to the guest now and
 * the timer is re-armed with the new period. */
int balloon_update_stats_interval(struct balloon *b, uint16_t interval_s,
                                  struct sq_err *err);

/* GET /balloon/statistics into *out. Stats disabled: -EINVAL "Received
 * stats query when stats are disabled." */
int balloon_get_stats(struct balloon *b, struct balloon_dev_stats *out,
                      struct sq_err *err);

/* PATCH /balloon/hinting/start: the next command id (2 after 0 or 1 or a
 * wrap) into config space, with a config interrupt. Hinting not
 * configured: -EINVAL "Attempting to use hinting when not enabled"; not
 * activated: -ENODEV "Device not activated yet." (the id is still used
 * up, as upstream). */
int balloon_start_hinting(struct balloon *b, bool acknowledge_on_stop,
                          struct sq_err *err);
/* PATCH /balloon/hinting/stop: host_cmd = DONE, config interrupt. Errors
 * as balloon_start_hinting(). */
int balloon_stop_hinting(struct balloon *b, struct sq_err *err);
/* GET /balloon/hinting/status. Hinting not configured: -EINVAL "Attempting
 * to use hinting when not enabled". */
int balloon_hinting_status(struct balloon *b, struct balloon_dev_hinting *out,
                           struct sq_err *err);

/* Ranges that could not be released since the device was built (PFNs
 * outside guest RAM, madvise failures); for tests and logs. */
uint64_t balloon_discard_failures(struct balloon *b);

/*
 * The device's own state for a snapshot (upstream's BalloonState without
 * the transport's part): the config space, the statistics interval, the
 * guest's stats buffer held between polls and its last numbers, and the
 * hinting state machine.
 */
struct balloon_state {
    uint32_t num_pages;    /* target */
    uint32_t actual_pages; /* what the driver last wrote */
    uint16_t interval_s;   /* now, after any PATCH */
    bool has_stats_desc;
    uint16_t stats_desc; /* head index of the held stats buffer */
    bool has[BALLOON_N_STATS];
    uint64_t value[BALLOON_N_STATS];
    uint32_t hint_cmd_id; /* config space's free_page_hint_cmd_id */
    uint32_t host_cmd;
    uint32_t last_cmd_id;
    bool has_guest_cmd;
    uint32_t guest_cmd;
    bool ack_on_finish;
};

/* Take the state (machine paused; takes the transport lock). */
void balloon_save_state(struct balloon *b, struct balloon_state *out);

/*
 * Put a saved state into a device built from the same configuration,
 * before its transport is restored (whose activation then arms the
 * statistics timer with the restored interval, as upstream's restore
 * does). Returns 0, or -EINVAL with err set when the state does not fit
 * the device: a statistics interval where the device has no stats queue
 * or none where it has one, a held stats buffer without a stats queue or
 * with a head index outside the queue.
 */
int balloon_restore_state(struct balloon *b, const struct balloon_state *s,
                          struct sq_err *err);

#endif
