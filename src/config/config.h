/*
 * config.h: the validated request bodies of the HTTP API and the
 * --config-file document: one include for the whole configuration
 * vocabulary. Each resource has its own header and source file, as
 * upstream's vmm_config/ has one .rs file per resource:
 *
 *   actions         PUT /actions, PATCH /vm
 *   balloon         PUT/PATCH /balloon, /balloon/statistics, hinting
 *   boot            PUT /boot-source
 *   cpu_template    PUT /cpu-config (custom CPU template)
 *   drive           PUT/PATCH /drives/{id}
 *   entropy         PUT /entropy
 *   ids             the resource-id rules of the {id} routes
 *   logger          PUT /logger
 *   machine         PUT/PATCH /machine-config (static CPU templates)
 *   memory_hotplug  PUT/PATCH /hotplug/memory
 *   metrics         PUT /metrics
 *   mmds            PUT /mmds/config, PUT/PATCH /mmds
 *   net             PUT/PATCH /network-interfaces/{id}
 *   pmem            PUT/PATCH /pmem/{id}
 *   rate_limiter    TokenBucketConfig, RateLimiterConfig
 *   responses       GET bodies that are not request types
 *   serial          PUT /serial
 *   snapshot        PUT /snapshot/create, /snapshot/load
 *   vm_config       --config-file and GET /vm/config
 *   vsock           PUT /vsock
 *
 * config_int.h holds what the files share and nobody else uses.
 *
 * Each type is the C form of one upstream serde struct. Its parser is a
 * schema-driven streaming decoder (util/json.h) that behaves like
 * serde_json + serde derive: same accepted inputs, same error texts, same
 * "at line L column C" positions, and errors found in the same order as a
 * single pass over the document would find them. Validation is the
 * constructor: when X_parse() returns 0 the struct obeys every rule upstream
 * applies while deserializing (types, ranges, enum variants, MAC syntax,
 * CPU template bitmaps, ...). Checks that need VMM state (files, uniqueness,
 * limits against other resources) are not done here.
 *
 * Conventions for every body type X:
 *
 *   int             X_parse(const char *body, size_t len, struct X *out,
 *               struct sq_err *err);
 *       Parses `len` bytes (not NUL-terminated; may contain any bytes).
 *       On success returns 0 and fills *out (which the caller must release
 *       with X_fini). On failure returns -EINVAL, leaves *out zeroed
 *       (nothing to free; X_fini is still safe) and sets err->msg to the
 *       exact fault_message, e.g. "An error occurred when deserializing the
 *       json body of a request: missing field `vcpu_count` at line 1
 *       column 21."
 *   void            X_fini(struct X *);
 *       Frees owned members; NULL-safe; idempotent.
 *   void            X_to_json(const struct X *, struct buf *);
 *       Appends the compact serde_json serialization upstream emits (fields
 *       in upstream's order; Option::None as null unless upstream skips it).
 *
 * Strings are owned, NUL-terminated and valid UTF-8 (JSON "\u0000" is kept
 * inside the string; fields whose exact bytes matter, the ids, carry their
 * length too). Optional fields: a NULL pointer or `has_<field> == false`
 * means absent or explicit null (serde treats both as None).
 *
 * Metrics: parsers are pure. The caller increments the per-route
 * *_count / *_fails counters and deprecated_api.deprecated_http_api_calls
 * (when `deprecated` is set) exactly as upstream's request handlers do.
 *
 * x86_64 only.
 */
#ifndef SQUIB_CONFIG_CONFIG_H
#define SQUIB_CONFIG_CONFIG_H

#include "config/actions.h"
#include "config/balloon.h"
#include "config/boot.h"
#include "config/cpu_template.h"
#include "config/drive.h"
#include "config/entropy.h"
#include "config/ids.h"
#include "config/logger.h"
#include "config/machine.h"
#include "config/memory_hotplug.h"
#include "config/metrics.h"
#include "config/mmds.h"
#include "config/net.h"
#include "config/pmem.h"
#include "config/rate_limiter.h"
#include "config/responses.h"
#include "config/serial.h"
#include "config/snapshot.h"
#include "config/vm_config.h"
#include "config/vsock.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/json.h"

#endif
