/*
 * metrics.h: PUT /metrics, upstream's MetricsConfig (NOT strict:
 * unknown keys are ignored; vmm_config/metrics.rs).
 */
#ifndef SQUIB_CONFIG_METRICS_H
#define SQUIB_CONFIG_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

struct metrics_cfg_property {
    char *key;   /* owned */
    char *value; /* owned */
};

struct metrics_cfg {
    char *metrics_path;  /* owned, never NULL after parse */
    bool emit_id;        /* default false */
    bool has_properties; /* Option<BTreeMap<String,String>> */
    size_t n_properties;
    struct metrics_cfg_property *properties; /* owned; sorted bytewise by key,
                                            unique (last duplicate wins) */
};

int metrics_cfg_parse(const char *body, size_t len, struct metrics_cfg *out,
                      struct sq_err *err);
void metrics_cfg_fini(struct metrics_cfg *m);

#endif
