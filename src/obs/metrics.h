/*
 * metrics.h: Firecracker-compatible metrics (JSON lines).
 *
 * Process-wide counters and gauges are identified by an enum generated from
 * the METRICS_GLOBAL X-macro (group, field, kind), which also fixes the key
 * names and emission order. Any thread may bump them (relaxed atomics).
 * Counters report the delta since the previous flush; gauges their value.
 *
 * Per-device groups (block_{id}, net_{id}, ...) are registered at device
 * creation with metrics_dev_new() and summed into the aggregate group at
 * flush time.
 *
 * The sink is set once per process (--metrics-path or PUT /metrics); flushing
 * is driven by the vmm thread (timer, FlushMetrics, teardown, signals).
 */
#ifndef SQUIB_OBS_METRICS_H
#define SQUIB_OBS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#define METRIC_COUNTER 0
#define METRIC_GAUGE   1

/*
 * X(group, field, kind): the process-wide groups of digest 4.2. Emission
 * order is decided by the emitter (metrics.c), which interleaves these with
 * the per-device groups and the {min_us,max_us,sum_us} aggregates.
 */
#define METRICS_GLOBAL(X)                                                    \
    X(api_server, process_startup_time_us, METRIC_GAUGE)                     \
    X(api_server, process_startup_time_cpu_us, METRIC_GAUGE)                 \
    X(deprecated_api, deprecated_http_api_calls, METRIC_COUNTER)             \
    X(get_api_requests, instance_info_count, METRIC_COUNTER)                 \
    X(get_api_requests, machine_cfg_count, METRIC_COUNTER)                   \
    X(get_api_requests, mmds_count, METRIC_COUNTER)                          \
    X(get_api_requests, vmm_version_count, METRIC_COUNTER)                   \
    X(get_api_requests, hotplug_memory_count, METRIC_COUNTER)                \
    X(i8042, error_count, METRIC_COUNTER)                                    \
    X(i8042, missed_read_count, METRIC_COUNTER)                              \
    X(i8042, missed_write_count, METRIC_COUNTER)                             \
    X(i8042, read_count, METRIC_COUNTER)                                     \
    X(i8042, reset_count, METRIC_COUNTER)                                    \
    X(i8042, write_count, METRIC_COUNTER)                                    \
    X(uart, error_count, METRIC_COUNTER)                                     \
    X(uart, flush_count, METRIC_COUNTER)                                     \
    X(uart, missed_read_count, METRIC_COUNTER)                               \
    X(uart, missed_write_count, METRIC_COUNTER)                              \
    X(uart, read_count, METRIC_COUNTER)                                      \
    X(uart, write_count, METRIC_COUNTER)                                     \
    X(uart, rate_limiter_dropped_bytes, METRIC_COUNTER)                      \
    X(latencies_us, full_create_snapshot, METRIC_GAUGE)                      \
    X(latencies_us, diff_create_snapshot, METRIC_GAUGE)                      \
    X(latencies_us, load_snapshot, METRIC_GAUGE)                             \
    X(latencies_us, pause_vm, METRIC_GAUGE)                                  \
    X(latencies_us, resume_vm, METRIC_GAUGE)                                 \
    X(latencies_us, vmm_full_create_snapshot, METRIC_GAUGE)                  \
    X(latencies_us, vmm_diff_create_snapshot, METRIC_GAUGE)                  \
    X(latencies_us, vmm_load_snapshot, METRIC_GAUGE)                         \
    X(latencies_us, vmm_pause_vm, METRIC_GAUGE)                              \
    X(latencies_us, vmm_resume_vm, METRIC_GAUGE)                             \
    X(logger, missed_metrics_count, METRIC_COUNTER)                          \
    X(logger, metrics_fails, METRIC_COUNTER)                                 \
    X(logger, missed_log_count, METRIC_COUNTER)                              \
    X(logger, rate_limited_log_count, METRIC_COUNTER)                        \
    X(mmds, rx_accepted, METRIC_COUNTER)                                     \
    X(mmds, rx_accepted_err, METRIC_COUNTER)                                 \
    X(mmds, rx_accepted_unusual, METRIC_COUNTER)                             \
    X(mmds, rx_bad_eth, METRIC_COUNTER)                                      \
    X(mmds, rx_invalid_token, METRIC_COUNTER)                                \
    X(mmds, rx_no_token, METRIC_COUNTER)                                     \
    X(mmds, rx_count, METRIC_COUNTER)                                        \
    X(mmds, tx_bytes, METRIC_COUNTER)                                        \
    X(mmds, tx_count, METRIC_COUNTER)                                        \
    X(mmds, tx_errors, METRIC_COUNTER)                                       \
    X(mmds, tx_frames, METRIC_COUNTER)                                       \
    X(mmds, connections_created, METRIC_COUNTER)                             \
    X(mmds, connections_destroyed, METRIC_COUNTER)                           \
    X(patch_api_requests, drive_count, METRIC_COUNTER)                       \
    X(patch_api_requests, drive_fails, METRIC_COUNTER)                       \
    X(patch_api_requests, network_count, METRIC_COUNTER)                     \
    X(patch_api_requests, network_fails, METRIC_COUNTER)                     \
    X(patch_api_requests, machine_cfg_count, METRIC_COUNTER)                 \
    X(patch_api_requests, machine_cfg_fails, METRIC_COUNTER)                 \
    X(patch_api_requests, mmds_count, METRIC_COUNTER)                        \
    X(patch_api_requests, mmds_fails, METRIC_COUNTER)                        \
    X(patch_api_requests, hotplug_memory_count, METRIC_COUNTER)              \
    X(patch_api_requests, hotplug_memory_fails, METRIC_COUNTER)              \
    X(patch_api_requests, pmem_count, METRIC_COUNTER)                        \
    X(patch_api_requests, pmem_fails, METRIC_COUNTER)                        \
    X(put_api_requests, actions_count, METRIC_COUNTER)                       \
    X(put_api_requests, actions_fails, METRIC_COUNTER)                       \
    X(put_api_requests, boot_source_count, METRIC_COUNTER)                   \
    X(put_api_requests, boot_source_fails, METRIC_COUNTER)                   \
    X(put_api_requests, drive_count, METRIC_COUNTER)                         \
    X(put_api_requests, drive_fails, METRIC_COUNTER)                         \
    X(put_api_requests, logger_count, METRIC_COUNTER)                        \
    X(put_api_requests, logger_fails, METRIC_COUNTER)                        \
    X(put_api_requests, machine_cfg_count, METRIC_COUNTER)                   \
    X(put_api_requests, machine_cfg_fails, METRIC_COUNTER)                   \
    X(put_api_requests, cpu_cfg_count, METRIC_COUNTER)                       \
    X(put_api_requests, cpu_cfg_fails, METRIC_COUNTER)                       \
    X(put_api_requests, metrics_count, METRIC_COUNTER)                       \
    X(put_api_requests, metrics_fails, METRIC_COUNTER)                       \
    X(put_api_requests, network_count, METRIC_COUNTER)                       \
    X(put_api_requests, network_fails, METRIC_COUNTER)                       \
    X(put_api_requests, mmds_count, METRIC_COUNTER)                          \
    X(put_api_requests, mmds_fails, METRIC_COUNTER)                          \
    X(put_api_requests, vsock_count, METRIC_COUNTER)                         \
    X(put_api_requests, vsock_fails, METRIC_COUNTER)                         \
    X(put_api_requests, pmem_count, METRIC_COUNTER)                          \
    X(put_api_requests, pmem_fails, METRIC_COUNTER)                          \
    X(put_api_requests, serial_count, METRIC_COUNTER)                        \
    X(put_api_requests, serial_fails, METRIC_COUNTER)                        \
    X(put_api_requests, hotplug_memory_count, METRIC_COUNTER)                \
    X(put_api_requests, hotplug_memory_fails, METRIC_COUNTER)                \
    X(seccomp, num_faults, METRIC_GAUGE)                                     \
    X(vcpu, exit_io_in, METRIC_COUNTER)                                      \
    X(vcpu, exit_io_out, METRIC_COUNTER)                                     \
    X(vcpu, exit_mmio_read, METRIC_COUNTER)                                  \
    X(vcpu, exit_mmio_write, METRIC_COUNTER)                                 \
    X(vcpu, failures, METRIC_COUNTER)                                        \
    X(vcpu, kvmclock_ctrl_fails, METRIC_COUNTER)                             \
    X(vmm, panic_count, METRIC_GAUGE)                                        \
    X(signals, sigbus, METRIC_COUNTER)                                       \
    X(signals, sigsegv, METRIC_COUNTER)                                      \
    X(signals, sigxfsz, METRIC_COUNTER)                                      \
    X(signals, sigxcpu, METRIC_COUNTER)                                      \
    X(signals, sigpipe, METRIC_COUNTER)                                      \
    X(signals, sighup, METRIC_COUNTER)                                       \
    X(signals, sigill, METRIC_COUNTER)                                       \
    X(interrupts, triggers, METRIC_COUNTER)                                  \
    X(interrupts, config_updates, METRIC_COUNTER)

enum metric_id {
#define SQ_METRIC_ENUM(g, f, k) METRIC_##g##_##f,
    METRICS_GLOBAL(SQ_METRIC_ENUM)
#undef SQ_METRIC_ENUM
    METRIC_COUNT
};

/* Upper-case aliases used by code that prefers them. */
#define METRIC_LOGGER_MISSED_LOG_COUNT       METRIC_logger_missed_log_count
#define METRIC_LOGGER_RATE_LIMITED_LOG_COUNT METRIC_logger_rate_limited_log_count

void metrics_inc(enum metric_id id);
void metrics_add(enum metric_id id, uint64_t n);
void metrics_store(enum metric_id id, uint64_t v); /* gauges */

#endif
