/*
 * routes.h: Firecracker's request routing (digest 1.2, 1.3).
 *
 * Maps (method, URI, has-body) to one of the 41 operations of vmm/action.h
 * (the table whose method and path columns this code follows) plus the path
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
#include "vmm/action.h"

enum api_method { API_GET, API_PUT, API_PATCH, API_DELETE };

/* A routed request: the operation and, for the routes with {id}, a view of
 * the path id (no length limit, as upstream). */
struct api_route {
    enum vmm_op op;
    const char *id; /* view into the URI; NULL when the op takes no id */
    size_t id_len;
};

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
