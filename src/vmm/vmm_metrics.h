/*
 * vmm_metrics.h: the controller's bridge to the metrics sink (obs/metrics.h).
 *
 * A separate translation unit because obs/metrics.h and config/config.h both
 * declare a `struct metrics_property` (with const and non-const members);
 * no file may include both until the two are unified. This header uses
 * neither type.
 */
#ifndef SQUIB_VMM_VMM_METRICS_H
#define SQUIB_VMM_VMM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/*
 * metrics_init() with the properties as two parallel arrays (borrowed).
 * Returns 0 or -errno with the detail text after "Metrics error: ".
 */
int vmm_metrics_init(const char *path, bool emit_id, const char *const *keys,
                     const char *const *values, size_t n, struct sq_err *err);

/* FlushMetrics: 0 (written, or no sink configured) or -errno with the
 * detail after "Internal VMM error: " ("Metrics error: Failed to write
 * metrics: {io}"). */
int vmm_metrics_flush(struct sq_err *err);

/* Store latencies_us.vmm_pause_vm / vmm_resume_vm (microseconds). */
void vmm_metrics_pause_us(uint64_t us);
void vmm_metrics_resume_us(uint64_t us);
/* latencies_us.vmm_{full,diff}_create_snapshot and vmm_load_snapshot. */
void vmm_metrics_create_snapshot_us(bool diff, uint64_t us);
void vmm_metrics_load_snapshot_us(uint64_t us);

/* CLOCK_MONOTONIC in microseconds (upstream's get_time_us(Monotonic)). */
uint64_t vmm_now_us(void);

#endif
