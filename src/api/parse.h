/*
 * parse.h: turn a routed write request into the vmm's typed request.
 *
 * The operation's body kind (vmm/action.h, the table of operations) picks
 * the config/ parser and the union member it fills; for the routes with a
 * path id, the id in the body must match it. Errors carry upstream's exact
 * fault_message.
 */
#ifndef SQUIB_API_PARSE_H
#define SQUIB_API_PARSE_H

#include <stddef.h>

#include "api/routes.h"
#include "util/err.h"
#include "vmm/action.h"

/*
 * Parse `body` (body_len bytes, may be 0 for ops without a body) for the
 * routed request `r` into `req`, which must be zeroed with req->op = r->op.
 * Sets req->id from the path. Returns 0, or -EINVAL with err->msg set; in
 * both cases the caller releases `req` with vmm_request_fini().
 */
int api_parse_body(const struct api_route *r, const char *body, size_t body_len,
                   struct vmm_request *req, struct sq_err *err);

#endif
