/*
 * pmem.h: PUT /pmem/{id}, upstream's PmemConfig, and PATCH,
 * PmemDeviceUpdateConfig (both strict; vmm_config/pmem.rs).
 */
#ifndef SQUIB_CONFIG_PMEM_H
#define SQUIB_CONFIG_PMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/rate_limiter.h"
#include "util/buf.h"
#include "util/err.h"

struct pmem_cfg {
    char *id; /* owned, never NULL after parse */
    size_t id_len;
    char *path_on_host; /* owned, never NULL after parse (required) */
    bool root_device;   /* default false */
    bool read_only;     /* default false */
    bool has_rate_limiter;
    struct rate_limiter_cfg rate_limiter;
};

int pmem_cfg_parse(const char *body, size_t len, struct pmem_cfg *out,
                   struct sq_err *err);
void pmem_cfg_fini(struct pmem_cfg *p);
/* {"id","path_on_host","root_device","read_only","rate_limiter"} */
void pmem_cfg_to_json(const struct pmem_cfg *p, struct buf *b);

struct pmem_update {
    char *id; /* owned, never NULL after parse */
    size_t id_len;
    bool has_rate_limiter;
    struct rate_limiter_cfg rate_limiter;
};

int pmem_update_parse(const char *body, size_t len, struct pmem_update *out,
                      struct sq_err *err);
void pmem_update_fini(struct pmem_update *p);

#endif
