/*
 * snapshot.h: PUT /snapshot/create (CreateSnapshotParams) and PUT
 * /snapshot/load (LoadSnapshotConfig, turned into LoadSnapshotParams as
 * upstream's handler does), both strict (vmm_config/snapshot.rs).
 */
#ifndef SQUIB_CONFIG_SNAPSHOT_H
#define SQUIB_CONFIG_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* PUT /snapshot/create: CreateSnapshotParams (strict). */

enum snapshot_type { SNAPSHOT_TYPE_DIFF, SNAPSHOT_TYPE_FULL };

struct snapshot_create {
    enum snapshot_type snapshot_type; /* default Full */
    char *snapshot_path;              /* owned, never NULL after parse */
    char *mem_file_path;              /* owned, never NULL after parse */
};

int snapshot_create_parse(const char *body, size_t len,
                          struct snapshot_create *out, struct sq_err *err);
void snapshot_create_fini(struct snapshot_create *s);

/* PUT /snapshot/load: LoadSnapshotConfig (strict) turned into
 * LoadSnapshotParams, as upstream's handler does. */

enum mem_backend_type { MEM_BACKEND_FILE, MEM_BACKEND_UFFD };

enum snapshot_load_huge_pages {
    SNAPSHOT_HUGE_PAGES_SNAPSHOT = 0, /* "Snapshot" (default) */
    SNAPSHOT_HUGE_PAGES_NONE,         /* "None" */
    SNAPSHOT_HUGE_PAGES_TRANSPARENT,  /* "Transparent" */
    SNAPSHOT_HUGE_PAGES_2M,           /* "2M" */
};

struct network_override {
    char *iface_id;      /* owned */
    char *host_dev_name; /* owned */
};

struct snapshot_load {
    char *snapshot_path;                    /* owned, never NULL after parse */
    enum mem_backend_type mem_backend_type; /* File when mem_file_path used */
    char *mem_backend_path;                 /* owned, never NULL after parse */
    bool track_dirty_pages; /* track_dirty_pages || enable_diff_snapshots */
    bool resume_vm;
    size_t n_network_overrides;
    struct network_override *network_overrides; /* owned */
    char *vsock_override_uds_path; /* owned; NULL = no vsock_override */
    bool clock_realtime;
    enum snapshot_load_huge_pages huge_pages;
    bool deprecated; /* mem_file_path or enable_diff_snapshots */
};

int snapshot_load_parse(const char *body, size_t len, struct snapshot_load *out,
                        struct sq_err *err);
void snapshot_load_fini(struct snapshot_load *s);

#endif
