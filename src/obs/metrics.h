/*
 * metrics.h: Firecracker-compatible metrics (JSON lines).
 *
 * One compact JSON object and a newline per flush, with upstream's keys in
 * upstream's order (digest 4.2): utc_timestamp_ms, then "id" (emit_id) and
 * "properties" (when set), then the groups. Counters report the delta since
 * the previous flush (every flush resets them); gauges report their value.
 *
 * Process-wide counters and gauges are named by an enum generated from the
 * METRICS_GLOBAL X-macro (group, field, kind); any thread bumps them with
 * metrics_inc/metrics_add/metrics_store (relaxed atomics, lock-free). The
 * vcpu exit latencies are process-wide {min_us,max_us,sum_us} aggregates,
 * named by METRICS_GLOBAL_AGG and recorded with metrics_agg_record().
 *
 * Device groups are structs of atomics a device keeps a pointer to:
 *   - per device, registered by id (created on first use, shared by later
 *     calls with the same id, never freed, as upstream's map of Arcs):
 *     metrics_block_get("rootfs") -> "block_rootfs", likewise net_{id},
 *     pmem_{id}, vhost_user_{id}. At each flush block, net and pmem also get
 *     an aggregate group ("block", "net", "pmem") holding the sum of the
 *     per-device counter deltas (its min_us/max_us stay 0, as upstream).
 *   - singletons that are always emitted: balloon, vsock, entropy,
 *     memory_hotplug (metrics_balloon() and so on).
 *
 * The sink is set once per process (--metrics-path, PUT /metrics or the
 * config file) with metrics_init(); the vmm thread flushes (immediately when
 * the VM starts, then every METRICS_FLUSH_INTERVAL_MS, on FlushMetrics, at
 * teardown); fatal signal handlers use metrics_flush_signal_safe().
 */
#ifndef SQUIB_OBS_METRICS_H
#define SQUIB_OBS_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define METRIC_COUNTER 0
#define METRIC_GAUGE   1

/* Periodic flush interval once the VM runs (upstream WRITE_METRICS_PERIOD_MS).
 */
#define METRICS_FLUSH_INTERVAL_MS 60000

/* What PUT /metrics and the config file put before metrics_init()'s
 * message: "Metrics error: Cannot initialize the metrics system ...". */
#define METRICS_ERR_PREFIX "Metrics error: "

/*
 * X(group, field, kind): the process-wide groups of digest 4.2, each group's
 * fields in upstream's order. Emission order between groups is decided by
 * the emitter (metrics.c), which interleaves these with the device groups.
 * signals.* are gauges (set to 1 by the fatal handlers) except sigpipe.
 */
#define METRICS_GLOBAL(X)                                                      \
    X(api_server, process_startup_time_us, METRIC_GAUGE)                       \
    X(api_server, process_startup_time_cpu_us, METRIC_GAUGE)                   \
    X(deprecated_api, deprecated_http_api_calls, METRIC_COUNTER)               \
    X(get_api_requests, instance_info_count, METRIC_COUNTER)                   \
    X(get_api_requests, machine_cfg_count, METRIC_COUNTER)                     \
    X(get_api_requests, mmds_count, METRIC_COUNTER)                            \
    X(get_api_requests, vmm_version_count, METRIC_COUNTER)                     \
    X(get_api_requests, hotplug_memory_count, METRIC_COUNTER)                  \
    X(i8042, error_count, METRIC_COUNTER)                                      \
    X(i8042, missed_read_count, METRIC_COUNTER)                                \
    X(i8042, missed_write_count, METRIC_COUNTER)                               \
    X(i8042, read_count, METRIC_COUNTER)                                       \
    X(i8042, reset_count, METRIC_COUNTER)                                      \
    X(i8042, write_count, METRIC_COUNTER)                                      \
    X(uart, error_count, METRIC_COUNTER)                                       \
    X(uart, flush_count, METRIC_COUNTER)                                       \
    X(uart, missed_read_count, METRIC_COUNTER)                                 \
    X(uart, missed_write_count, METRIC_COUNTER)                                \
    X(uart, read_count, METRIC_COUNTER)                                        \
    X(uart, write_count, METRIC_COUNTER)                                       \
    X(uart, rate_limiter_dropped_bytes, METRIC_COUNTER)                        \
    X(latencies_us, full_create_snapshot, METRIC_GAUGE)                        \
    X(latencies_us, diff_create_snapshot, METRIC_GAUGE)                        \
    X(latencies_us, load_snapshot, METRIC_GAUGE)                               \
    X(latencies_us, pause_vm, METRIC_GAUGE)                                    \
    X(latencies_us, resume_vm, METRIC_GAUGE)                                   \
    X(latencies_us, vmm_full_create_snapshot, METRIC_GAUGE)                    \
    X(latencies_us, vmm_diff_create_snapshot, METRIC_GAUGE)                    \
    X(latencies_us, vmm_load_snapshot, METRIC_GAUGE)                           \
    X(latencies_us, vmm_pause_vm, METRIC_GAUGE)                                \
    X(latencies_us, vmm_resume_vm, METRIC_GAUGE)                               \
    X(logger, missed_metrics_count, METRIC_COUNTER)                            \
    X(logger, metrics_fails, METRIC_COUNTER)                                   \
    X(logger, missed_log_count, METRIC_COUNTER)                                \
    X(logger, rate_limited_log_count, METRIC_COUNTER)                          \
    X(mmds, rx_accepted, METRIC_COUNTER)                                       \
    X(mmds, rx_accepted_err, METRIC_COUNTER)                                   \
    X(mmds, rx_accepted_unusual, METRIC_COUNTER)                               \
    X(mmds, rx_bad_eth, METRIC_COUNTER)                                        \
    X(mmds, rx_invalid_token, METRIC_COUNTER)                                  \
    X(mmds, rx_no_token, METRIC_COUNTER)                                       \
    X(mmds, rx_count, METRIC_COUNTER)                                          \
    X(mmds, tx_bytes, METRIC_COUNTER)                                          \
    X(mmds, tx_count, METRIC_COUNTER)                                          \
    X(mmds, tx_errors, METRIC_COUNTER)                                         \
    X(mmds, tx_frames, METRIC_COUNTER)                                         \
    X(mmds, connections_created, METRIC_COUNTER)                               \
    X(mmds, connections_destroyed, METRIC_COUNTER)                             \
    X(patch_api_requests, drive_count, METRIC_COUNTER)                         \
    X(patch_api_requests, drive_fails, METRIC_COUNTER)                         \
    X(patch_api_requests, network_count, METRIC_COUNTER)                       \
    X(patch_api_requests, network_fails, METRIC_COUNTER)                       \
    X(patch_api_requests, machine_cfg_count, METRIC_COUNTER)                   \
    X(patch_api_requests, machine_cfg_fails, METRIC_COUNTER)                   \
    X(patch_api_requests, mmds_count, METRIC_COUNTER)                          \
    X(patch_api_requests, mmds_fails, METRIC_COUNTER)                          \
    X(patch_api_requests, hotplug_memory_count, METRIC_COUNTER)                \
    X(patch_api_requests, hotplug_memory_fails, METRIC_COUNTER)                \
    X(patch_api_requests, pmem_count, METRIC_COUNTER)                          \
    X(patch_api_requests, pmem_fails, METRIC_COUNTER)                          \
    X(put_api_requests, actions_count, METRIC_COUNTER)                         \
    X(put_api_requests, actions_fails, METRIC_COUNTER)                         \
    X(put_api_requests, boot_source_count, METRIC_COUNTER)                     \
    X(put_api_requests, boot_source_fails, METRIC_COUNTER)                     \
    X(put_api_requests, drive_count, METRIC_COUNTER)                           \
    X(put_api_requests, drive_fails, METRIC_COUNTER)                           \
    X(put_api_requests, logger_count, METRIC_COUNTER)                          \
    X(put_api_requests, logger_fails, METRIC_COUNTER)                          \
    X(put_api_requests, machine_cfg_count, METRIC_COUNTER)                     \
    X(put_api_requests, machine_cfg_fails, METRIC_COUNTER)                     \
    X(put_api_requests, cpu_cfg_count, METRIC_COUNTER)                         \
    X(put_api_requests, cpu_cfg_fails, METRIC_COUNTER)                         \
    X(put_api_requests, metrics_count, METRIC_COUNTER)                         \
    X(put_api_requests, metrics_fails, METRIC_COUNTER)                         \
    X(put_api_requests, network_count, METRIC_COUNTER)                         \
    X(put_api_requests, network_fails, METRIC_COUNTER)                         \
    X(put_api_requests, mmds_count, METRIC_COUNTER)                            \
    X(put_api_requests, mmds_fails, METRIC_COUNTER)                            \
    X(put_api_requests, vsock_count, METRIC_COUNTER)                           \
    X(put_api_requests, vsock_fails, METRIC_COUNTER)                           \
    X(put_api_requests, pmem_count, METRIC_COUNTER)                            \
    X(put_api_requests, pmem_fails, METRIC_COUNTER)                            \
    X(put_api_requests, serial_count, METRIC_COUNTER)                          \
    X(put_api_requests, serial_fails, METRIC_COUNTER)                          \
    X(put_api_requests, hotplug_memory_count, METRIC_COUNTER)                  \
    X(put_api_requests, hotplug_memory_fails, METRIC_COUNTER)                  \
    X(seccomp, num_faults, METRIC_GAUGE)                                       \
    X(vcpu, exit_io_in, METRIC_COUNTER)                                        \
    X(vcpu, exit_io_out, METRIC_COUNTER)                                       \
    X(vcpu, exit_mmio_read, METRIC_COUNTER)                                    \
    X(vcpu, exit_mmio_write, METRIC_COUNTER)                                   \
    X(vcpu, failures, METRIC_COUNTER)                                          \
    X(vcpu, kvmclock_ctrl_fails, METRIC_COUNTER)                               \
    X(vmm, panic_count, METRIC_GAUGE)                                          \
    X(signals, sigbus, METRIC_GAUGE)                                           \
    X(signals, sigsegv, METRIC_GAUGE)                                          \
    X(signals, sigxfsz, METRIC_GAUGE)                                          \
    X(signals, sigxcpu, METRIC_GAUGE)                                          \
    X(signals, sigpipe, METRIC_COUNTER)                                        \
    X(signals, sighup, METRIC_GAUGE)                                           \
    X(signals, sigill, METRIC_GAUGE)                                           \
    X(interrupts, triggers, METRIC_COUNTER)                                    \
    X(interrupts, config_updates, METRIC_COUNTER)

enum metric_id {
#define SQ_METRIC_ENUM(g, f, k) METRIC_##g##_##f,
    METRICS_GLOBAL(SQ_METRIC_ENUM)
#undef SQ_METRIC_ENUM
        METRIC_COUNT
};

/* Upper-case aliases used by code that prefers them. */
#define METRIC_LOGGER_MISSED_LOG_COUNT METRIC_logger_missed_log_count
#define METRIC_LOGGER_RATE_LIMITED_LOG_COUNT                                   \
    METRIC_logger_rate_limited_log_count

/* Add 1 / n to a process-wide counter; store a gauge. Any thread,
 * async-signal-safe. */
void metrics_inc(enum metric_id id);
void metrics_add(enum metric_id id, uint64_t n);
void metrics_store(enum metric_id id, uint64_t v); /* gauges */

/* Current raw value (a counter's running total, not its delta). */
uint64_t metrics_read(enum metric_id id);

/* ---- building blocks of the device groups ---- */

/* A counter: bumped by anyone; `flushed` is the total at the last flush and
 * is written only by the flusher. */
struct metrics_counter {
    _Atomic uint64_t v;
    uint64_t flushed;
};

struct metrics_gauge {
    _Atomic uint64_t v;
};

/* {min_us, max_us, sum_us}: min/max are gauges (never reset), sum_us a
 * counter. */
struct metrics_latency {
    struct metrics_gauge min_us;
    struct metrics_gauge max_us;
    struct metrics_counter sum_us;
};

static inline void metrics_counter_add(struct metrics_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

static inline void metrics_counter_inc(struct metrics_counter *c)
{
    metrics_counter_add(c, 1);
}

static inline void metrics_gauge_store(struct metrics_gauge *g, uint64_t v)
{
    atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

/* Record one operation of `us` microseconds (upstream's
 * LatencyMetricsRecorder: sum += us; min/max updated, 0 meaning unset). */
void metrics_latency_record(struct metrics_latency *l, uint64_t us);

/* Process-wide aggregates: X(group, field). */
#define METRICS_GLOBAL_AGG(X)                                                  \
    X(vcpu, exit_io_in_agg)                                                    \
    X(vcpu, exit_io_out_agg)                                                   \
    X(vcpu, exit_mmio_read_agg)                                                \
    X(vcpu, exit_mmio_write_agg)

enum metric_agg_id {
#define SQ_METRIC_AGG_ENUM(g, f) METRIC_AGG_##g##_##f,
    METRICS_GLOBAL_AGG(SQ_METRIC_AGG_ENUM)
#undef SQ_METRIC_AGG_ENUM
        METRIC_AGG_COUNT
};

void metrics_agg_record(enum metric_agg_id id, uint64_t us);

/*
 * Device groups: F(C, G, L) lists the fields in upstream's order, with
 * C = counter, G = gauge, L = latency aggregate.
 */
/* Several fields a line, which clang-format 14 cannot lay out stably. */
/* clang-format off */
#define METRICS_BLOCK_FIELDS(C, G, L)                                        \
    C(activate_fails) C(cfg_fails) C(no_avail_buffer) C(event_fails)        \
    C(execute_fails) C(invalid_reqs_count) C(flush_count)                    \
    C(queue_event_count) C(rate_limiter_event_count) C(update_count)         \
    C(update_fails) C(read_bytes) C(write_bytes) C(read_count)               \
    C(write_count) L(read_agg) L(write_agg)                                  \
    C(rate_limiter_throttled_events) C(io_engine_throttled_events)           \
    C(remaining_reqs_count)

#define METRICS_NET_FIELDS(C, G, L)                                          \
    C(activate_fails) C(cfg_fails) C(no_rx_avail_buffer)                     \
    C(no_tx_avail_buffer) C(event_fails) C(rx_queue_event_count)             \
    C(rx_event_rate_limiter_count) C(rx_rate_limiter_throttled)              \
    C(rx_tap_event_count) C(rx_bytes_count) C(rx_packets_count)              \
    C(rx_fails) C(rx_count) C(tap_read_fails) C(tap_write_fails)             \
    L(tap_write_agg) C(tx_bytes_count) C(tx_malformed_frames) C(tx_fails)    \
    C(tx_count) C(tx_packets_count) C(tx_queue_event_count)                  \
    C(tx_rate_limiter_event_count) C(tx_rate_limiter_throttled)              \
    C(tx_spoofed_mac_count) C(tx_remaining_reqs_count)

#define METRICS_PMEM_FIELDS(C, G, L)                                         \
    C(activate_fails) C(cfg_fails) C(event_fails) C(queue_event_count)       \
    C(rate_limiter_throttled_events) C(rate_limiter_event_count)

#define METRICS_VHOST_USER_FIELDS(C, G, L)                                   \
    C(activate_fails) C(cfg_fails) G(init_time_us) G(activate_time_us)       \
    G(config_change_time_us)

#define METRICS_BALLOON_FIELDS(C, G, L)                                      \
    C(activate_fails) C(inflate_count) C(stats_updates_count)                \
    C(stats_update_fails) C(deflate_count) C(event_fails)                    \
    C(free_page_report_count) C(free_page_report_freed)                      \
    C(free_page_report_fails) C(free_page_hint_count)                        \
    C(free_page_hint_freed) C(free_page_hint_fails)

#define METRICS_VSOCK_FIELDS(C, G, L)                                        \
    C(activate_fails) C(cfg_fails) C(rx_queue_event_fails)                   \
    C(tx_queue_event_fails) C(ev_queue_event_fails) C(muxer_event_fails)     \
    C(conn_event_fails) C(rx_queue_event_count) C(tx_queue_event_count)      \
    C(rx_bytes_count) C(tx_bytes_count) C(rx_packets_count)                  \
    C(tx_packets_count) C(conns_added) C(conns_killed) C(conns_removed)      \
    C(killq_resync) C(tx_flush_fails) C(tx_write_fails) C(rx_read_fails)

#define METRICS_ENTROPY_FIELDS(C, G, L)                                      \
    C(activate_fails) C(entropy_event_fails) C(entropy_event_count)          \
    C(entropy_bytes) C(host_rng_fails) C(entropy_rate_limiter_throttled)     \
    C(rate_limiter_event_count)

#define METRICS_MEMORY_HOTPLUG_FIELDS(C, G, L)                               \
    C(activate_fails) C(queue_event_fails) C(queue_event_count) L(plug_agg)  \
    C(plug_count) C(plug_bytes) C(plug_fails) L(unplug_agg) C(unplug_count)  \
    C(unplug_bytes) C(unplug_fails) C(unplug_discard_fails)                  \
    L(unplug_all_agg) C(unplug_all_count) C(unplug_all_fails) L(state_agg)   \
    C(state_count) C(state_fails)
/* clang-format on */

#define SQ_METRICS_FIELD_C(f) struct metrics_counter f;
#define SQ_METRICS_FIELD_G(f) struct metrics_gauge f;
#define SQ_METRICS_FIELD_L(f) struct metrics_latency f;
#define SQ_METRICS_STRUCT(name, LIST)                                          \
    struct name {                                                              \
        LIST(SQ_METRICS_FIELD_C, SQ_METRICS_FIELD_G, SQ_METRICS_FIELD_L)       \
    }

SQ_METRICS_STRUCT(metrics_block, METRICS_BLOCK_FIELDS);
SQ_METRICS_STRUCT(metrics_net, METRICS_NET_FIELDS);
SQ_METRICS_STRUCT(metrics_pmem, METRICS_PMEM_FIELDS);
SQ_METRICS_STRUCT(metrics_vhost_user, METRICS_VHOST_USER_FIELDS);
SQ_METRICS_STRUCT(metrics_balloon, METRICS_BALLOON_FIELDS);
SQ_METRICS_STRUCT(metrics_vsock, METRICS_VSOCK_FIELDS);
SQ_METRICS_STRUCT(metrics_entropy, METRICS_ENTROPY_FIELDS);
SQ_METRICS_STRUCT(metrics_memory_hotplug, METRICS_MEMORY_HOTPLUG_FIELDS);

/*
 * The group of device `id` (emitted as block_{id}, net_{id}, pmem_{id},
 * vhost_user_{id}): created zeroed on the first call, the same pointer on
 * later calls with the same id (a re-created device continues its
 * counters). The pointer stays valid for the life of the process. Groups
 * are emitted in byte order of their ids. Thread-safe; allocation failure
 * aborts (ids are short and validated by the API).
 *   device code:  metrics_counter_inc(&m->read_count);
 */
struct metrics_block *metrics_block_get(const char *id);
struct metrics_net *metrics_net_get(const char *id);
struct metrics_pmem *metrics_pmem_get(const char *id);
struct metrics_vhost_user *metrics_vhost_user_get(const char *id);

/* The singleton groups (always emitted, whether or not the device exists). */
struct metrics_balloon *metrics_balloon(void);
struct metrics_vsock *metrics_vsock(void);
struct metrics_entropy *metrics_entropy(void);
struct metrics_memory_hotplug *metrics_memory_hotplug(void);

/* ---- the sink ---- */

/* One entry of the "properties" object (PUT /metrics). */
struct metrics_property {
    const char *key;
    const char *value;
};

/*
 * Initialise the metrics sink, once per process: open `path` as log files
 * are (O_RDWR|O_CREAT|O_NONBLOCK, no truncate, no append), then remember
 * emit_id (adds "id": the logger's instance id) and the properties (copied;
 * emitted sorted by key, a repeated key keeps the last value, as a
 * BTreeMap built from JSON does). Returns 0, or -errno with err set to
 * upstream's MetricsConfigError text "Cannot initialize the metrics system
 * due to bad user input: {detail}" where detail is the open error ("No such
 * file or directory (os error 2)") or, on any call after a successful one,
 * "Reinitialization of metrics not allowed." (the file is opened, and
 * created, before that check, as upstream does). The API and the config
 * file show it after METRICS_ERR_PREFIX ("Metrics error: "), the CLI after
 * "Could not initialize metrics: ".
 */
#define METRICS_ERR_INIT                                                       \
    "Cannot initialize the metrics system due to bad user input: "
int metrics_init(const char *path, bool emit_id,
                 const struct metrics_property *props, size_t n_props,
                 struct sq_err *err);

/* True once metrics_init() has succeeded. */
bool metrics_is_initialized(void);

/*
 * Serialise every metric (resetting the counters) and write the line to
 * the sink in one write(). Returns 1 if written, 0 if metrics were never
 * initialised (nothing happens, counters are kept), or -errno with err set
 * to "Failed to write metrics: {io error}" (upstream's MetricsError::Write;
 * FlushMetrics wraps it as "Internal VMM error: Metrics error: ..."). The
 * counters are reset even when the write fails, as upstream. Called by the
 * vmm thread; serialised by an internal lock.
 */
int metrics_flush(struct sq_err *err);

/*
 * The periodic flush (timer, and the immediate one at VM start): as
 * metrics_flush(), and on failure counts logger.missed_metrics_count and
 * logs "Failed to write metrics: {error}" at ERROR, as upstream.
 */
void metrics_flush_periodic(void);

/*
 * Async-signal-safe flush for fatal signal handlers: no allocation, no
 * stdio, no blocking lock (a flush interrupted on the same thread is not
 * waited for); the line may leave in several write()s. Returns 1, 0 or
 * -errno as metrics_flush().
 */
int metrics_flush_signal_safe(void);

/*
 * Write the current metrics line (as metrics_flush() would, resetting the
 * counters) into `out`, NUL-terminated, without needing an initialised
 * sink. Returns the length, or -ENOSPC if `out_len` is too small (the
 * counters are then reset anyway). For tests and diagnostics.
 */
long metrics_serialize(char *out, size_t out_len);

#endif
