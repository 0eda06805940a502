/*
 * metrics_spy.h: counts metric updates in tests linked with
 * -Wl,--wrap=metrics_inc,--wrap=metrics_add (mk/machine.mk). Include from
 * exactly one test file per binary.
 */
#ifndef SQUIB_TESTS_METRICS_SPY_H
#define SQUIB_TESTS_METRICS_SPY_H

#include <stdint.h>
#include <string.h>

#include "obs/metrics.h"

static uint64_t spy_metrics[METRIC_COUNT];

void __real_metrics_inc(enum metric_id id);
void __real_metrics_add(enum metric_id id, uint64_t n);
void __wrap_metrics_inc(enum metric_id id);
void __wrap_metrics_add(enum metric_id id, uint64_t n);

void __wrap_metrics_inc(enum metric_id id)
{
    __atomic_add_fetch(&spy_metrics[id], 1, __ATOMIC_RELAXED);
    __real_metrics_inc(id);
}

void __wrap_metrics_add(enum metric_id id, uint64_t n)
{
    __atomic_add_fetch(&spy_metrics[id], n, __ATOMIC_RELAXED);
    __real_metrics_add(id, n);
}

static inline void spy_reset(void)
{
    memset(spy_metrics, 0, sizeof(spy_metrics));
}

static inline uint64_t spy_get(enum metric_id id)
{
    return __atomic_load_n(&spy_metrics[id], __ATOMIC_RELAXED);
}

#endif
