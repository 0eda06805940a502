/*
 * routes.h: Firecracker's request routing (digest 1.2, 1.3).
 *
 * Maps (method, URI, has-body) to one of the 41 API operations plus the path
 * id, or to the exact error upstream's router gives. Routing looks at the
 * first path segment only; later segments are consumed where an operation
 * needs them and otherwise ignored; query strings are not stripped. Path ids
 * are checked here, before any JSON is parsed. Pure: no allocation, no state.
 */
#ifndef SQUIB_API_ROUTES_H
#define SQUIB_API_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

enum api_method { API_GET, API_PUT, API_PATCH, API_DELETE };

/* X(op, metric-name-for-logs) in the digest's route-table order. */
#define API_OPS(X)                                                           \
    X(GET_INSTANCE_INFO)                                                     \
    X(PUT_ACTIONS)                                                           \
    X(GET_BALLOON)                                                           \
    X(PUT_BALLOON)                                                           \
    X(PATCH_BALLOON)                                                         \
    X(GET_BALLOON_STATS)                                                     \
    X(PATCH_BALLOON_STATS)                                                   \
    X(PATCH_BALLOON_HINTING_START)                                           \
    X(GET_BALLOON_HINTING_STATUS)                                            \
    X(PATCH_BALLOON_HINTING_STOP)                                            \
    X(PUT_BOOT_SOURCE)                                                       \
    X(PUT_CPU_CONFIG)                                                        \
    X(PUT_DRIVE)                                                             \
    X(PATCH_DRIVE)                                                           \
    X(DELETE_DRIVE)                                                          \
    X(PUT_PMEM)                                                              \
    X(PATCH_PMEM)                                                            \
    X(DELETE_PMEM)                                                           \
    X(PUT_LOGGER)                                                            \
    X(GET_MACHINE_CONFIG)                                                    \
    X(PUT_MACHINE_CONFIG)                                                    \
    X(PATCH_MACHINE_CONFIG)                                                  \
    X(PUT_METRICS)                                                           \
    X(GET_MMDS)                                                              \
    X(PUT_MMDS)                                                              \
    X(PATCH_MMDS)                                                            \
    X(PUT_MMDS_CONFIG)                                                       \
    X(PUT_ENTROPY)                                                           \
    X(PUT_SERIAL)                                                            \
    X(GET_HOTPLUG_MEMORY)                                                    \
    X(PUT_HOTPLUG_MEMORY)                                                    \
    X(PATCH_HOTPLUG_MEMORY)                                                  \
    X(PUT_NET)                                                               \
    X(PATCH_NET)                                                             \
    X(DELETE_NET)                                                            \
    X(PUT_SNAPSHOT_CREATE)                                                   \
    X(PUT_SNAPSHOT_LOAD)                                                     \
    X(GET_VERSION)                                                           \
    X(PATCH_VM)                                                              \
    X(GET_VM_CONFIG)                                                         \
    X(PUT_VSOCK)

enum api_op {
#define SQ_API_OP_ENUM(op) API_OP_##op,
    API_OPS(SQ_API_OP_ENUM)
#undef SQ_API_OP_ENUM
    API_OP_COUNT
};

/* Longest path id we accept; longer ids are still routed (upstream has no
 * limit) but the id view is what callers copy. */
struct api_route {
    enum api_op op;
    const char *id;   /* view into the URI; NULL when the op takes no id */
    size_t id_len;
};

/* "OP_NAME" for logs and tests. */
const char *api_op_name(enum api_op op);

/* True for operations answered from the read mirror (the GETs). */
bool api_op_is_read(enum api_op op);

/* Method name as the digest prints it in errors: "GET", "PUT", ... */
const char *api_method_name(enum api_method m);

/*
 * Route one request. `uri` is the request target exactly as received;
 * `has_body` is Content-Length > 0. On success fills `out` (views into
 * `uri`) and returns 0; otherwise returns -EINVAL with err->msg set to the
 * fault_message upstream sends (status 400).
 */
int api_route(enum api_method method, const char *uri, size_t uri_len,
              bool has_body, struct api_route *out, struct sq_err *err);

/*
 * The absolute path of a request target as upstream computes it (digest
 * 1.2 step 1): "http://host/x" -> "/x", "/x" -> "/x", anything else -> "".
 * Returns a view into `uri`.
 */
void api_abs_path(const char *uri, size_t uri_len, const char **path,
                  size_t *path_len);

#endif
