/*
 * parse.h: turn a routed write request into a typed, validated body.
 *
 * For each write operation this picks the schema parser (config/config.h),
 * runs it, applies the path-id rules that need the body (id mismatch), and
 * stores the result in the action: a->body points at the struct named in
 * the table in parse.c (the vmm thread relies on that pairing), with
 * a->body_free to release it, and a->deprecated for parse-time Deprecation
 * headers. Errors carry upstream's exact fault_message.
 */
#ifndef SQUIB_API_PARSE_H
#define SQUIB_API_PARSE_H

#include <stddef.h>

#include "api/controller.h"
#include "api/routes.h"
#include "util/err.h"

/*
 * Parse `body` (body_len bytes, may be 0 for ops without a body) for the
 * routed request `r` into `a` (whose op is r->op). Returns 0, or -EINVAL with
 * err->msg set; on failure `a` owns nothing new.
 */
int api_parse_body(const struct api_route *r, const char *body,
                   size_t body_len, struct api_action *a, struct sq_err *err);

#endif
