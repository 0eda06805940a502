/*
 * vmm_metrics.c: see vmm_metrics.h.
 */
#include "vmm/vmm_metrics.h"

#include <stdlib.h>
#include <time.h>

#include "obs/metrics.h"
#include "util/time.h"
#include "util/xalloc.h"

int vmm_metrics_init(const char *path, bool emit_id, const char *const *keys,
                     const char *const *values, size_t n, struct sq_err *err)
{
    struct metrics_property *props = n ? xcalloc(n, sizeof(*props)) : NULL;
    int rc;

    for (size_t i = 0; i < n; i++) {
        props[i].key = keys[i];
        props[i].value = values[i];
    }
    rc = metrics_init(path, emit_id, props, n, err);
    free(props);
    return rc;
}

int vmm_metrics_flush(struct sq_err *err)
{
    int rc = metrics_flush(err);

    if (rc < 0) {
        sq_err_prefix(err, "Metrics error: ");
        return rc;
    }
    return 0;
}

void vmm_metrics_pause_us(uint64_t us)
{
    metrics_store(METRIC_latencies_us_vmm_pause_vm, us);
}

void vmm_metrics_resume_us(uint64_t us)
{
    metrics_store(METRIC_latencies_us_vmm_resume_vm, us);
}

void vmm_metrics_create_snapshot_us(bool diff, uint64_t us)
{
    metrics_store(diff ? METRIC_latencies_us_vmm_diff_create_snapshot
                       : METRIC_latencies_us_vmm_full_create_snapshot,
                  us);
}

void vmm_metrics_load_snapshot_us(uint64_t us)
{
    metrics_store(METRIC_latencies_us_vmm_load_snapshot, us);
}

uint64_t vmm_now_us(void)
{
    return time_mono_us();
}
