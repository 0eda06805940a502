/*
 * metrics.c: metric storage and JSON-lines emission (see metrics.h).
 */
#include "obs/metrics.h"

#include <stdatomic.h>

static _Atomic uint64_t g_metrics[METRIC_COUNT];

void metrics_inc(enum metric_id id)
{
    atomic_fetch_add_explicit(&g_metrics[id], 1, memory_order_relaxed);
}

void metrics_add(enum metric_id id, uint64_t n)
{
    atomic_fetch_add_explicit(&g_metrics[id], n, memory_order_relaxed);
}

void metrics_store(enum metric_id id, uint64_t v)
{
    atomic_store_explicit(&g_metrics[id], v, memory_order_relaxed);
}
