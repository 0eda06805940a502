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

/* X(group, field, kind): groups appear in the order upstream emits them. */
#define METRICS_GLOBAL(X)                                                    \
    X(logger, missed_metrics_count, METRIC_COUNTER)                          \
    X(logger, metrics_fails, METRIC_COUNTER)                                 \
    X(logger, missed_log_count, METRIC_COUNTER)                              \
    X(logger, rate_limited_log_count, METRIC_COUNTER)

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
