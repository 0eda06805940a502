/*
 * drive.h: PUT /drives/{id}, upstream's BlockDeviceConfig, and PATCH,
 * BlockDeviceUpdateConfig (both strict; vmm_config/drive.rs).
 */
#ifndef SQUIB_CONFIG_DRIVE_H
#define SQUIB_CONFIG_DRIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/rate_limiter.h"
#include "util/buf.h"
#include "util/err.h"

enum cache_type { CACHE_TYPE_UNSAFE = 0, CACHE_TYPE_WRITEBACK };
enum io_engine { IO_ENGINE_SYNC = 0, IO_ENGINE_ASYNC };

struct drive_cfg {
    char *drive_id;             /* owned, never NULL after parse */
    size_t drive_id_len;        /* exact length (may contain NUL bytes) */
    char *partuuid;             /* owned; NULL = None */
    bool is_root_device;        /* required */
    enum cache_type cache_type; /* default Unsafe */
    bool has_is_read_only;
    bool is_read_only;
    char *path_on_host; /* owned; NULL = None */
    bool has_rate_limiter;
    struct rate_limiter_cfg rate_limiter;
    bool has_io_engine; /* JSON key "io_engine" */
    enum io_engine io_engine;
    char *socket; /* owned; NULL = None (vhost-user socket) */
};

int drive_cfg_parse(const char *body, size_t len, struct drive_cfg *out,
                    struct sq_err *err);
void drive_cfg_fini(struct drive_cfg *d);
/* All nine keys in upstream order, null for None:
 * drive_id, partuuid, is_root_device, cache_type, is_read_only,
 * path_on_host, rate_limiter, io_engine, socket. */
void drive_cfg_to_json(const struct drive_cfg *d, struct buf *b);

struct drive_update {
    char *drive_id; /* owned, never NULL after parse */
    size_t drive_id_len;
    char *path_on_host; /* owned; NULL = None */
    bool has_rate_limiter;
    struct rate_limiter_cfg rate_limiter;
};

int drive_update_parse(const char *body, size_t len, struct drive_update *out,
                       struct sq_err *err);
void drive_update_fini(struct drive_update *d);

#endif
