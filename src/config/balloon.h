/*
 * balloon.h: the balloon request bodies (vmm_config/balloon.rs): PUT
 * /balloon (BalloonDeviceConfig, strict), PATCH /balloon
 * (BalloonUpdateConfig, strict), PATCH /balloon/statistics
 * (BalloonUpdateStatsConfig, strict) and PATCH /balloon/hinting/start
 * (StartHintingCmd, non-strict, optional body). The GET bodies are in
 * responses.h.
 */
#ifndef SQUIB_CONFIG_BALLOON_H
#define SQUIB_CONFIG_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

struct balloon_cfg {
    uint32_t amount_mib;
    bool deflate_on_oom;
    uint16_t stats_polling_interval_s; /* default 0 */
    bool free_page_hinting;            /* default false */
    bool free_page_reporting;          /* default false */
};

int balloon_cfg_parse(const char *body, size_t len, struct balloon_cfg *out,
                      struct sq_err *err);
void balloon_cfg_fini(struct balloon_cfg *b);
/* {"amount_mib","deflate_on_oom","stats_polling_interval_s",
 *  "free_page_hinting","free_page_reporting"} */
void balloon_cfg_to_json(const struct balloon_cfg *c, struct buf *b);

struct balloon_update {
    uint32_t amount_mib;
};

int balloon_update_parse(const char *body, size_t len,
                         struct balloon_update *out, struct sq_err *err);
void balloon_update_fini(struct balloon_update *b);

struct balloon_stats_update {
    uint16_t stats_polling_interval_s;
};

int balloon_stats_update_parse(const char *body, size_t len,
                               struct balloon_stats_update *out,
                               struct sq_err *err);
void balloon_stats_update_fini(struct balloon_stats_update *b);

struct balloon_hinting_start {
    bool acknowledge_on_stop; /* default true */
};

/* body may be NULL or len 0: the default command (upstream allows no body). */
int balloon_hinting_start_parse(const char *body, size_t len,
                                struct balloon_hinting_start *out,
                                struct sq_err *err);
void balloon_hinting_start_fini(struct balloon_hinting_start *b);

#endif
