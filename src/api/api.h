/*
 * api.h: the api thread.
 *
 * Owns the listening socket's event loop, the HTTP server (api/server.h) and
 * the per-request pipeline:
 *
 *   bytes -> http_request -> api_route() -> GET:   read mirror -> response
 *                                       \-> write: api_parse_body() ->
 *                                           controller_submit() ... vmm ...
 *                                           controller_drain() -> response
 *
 * Writes wait for the vmm thread asynchronously: the api thread keeps
 * serving other connections, and a write whose answer does not come within
 * its class timeout is answered 504 (docs/compat.md).
 */
#ifndef SQUIB_API_API_H
#define SQUIB_API_API_H

#include <stddef.h>
#include <stdint.h>

#include "api/controller.h"

/* Most writes in flight at once (queued or running on the vmm thread). */
#define API_QUEUE_CAP 32

struct api_opts {
    int listen_fd;                           /* borrowed; bound and listening */
    size_t max_payload;                      /* --http-api-max-payload-size */
    struct controller *ctl;                  /* borrowed */
    uint32_t timeout_ms[ACTION_CLASS_COUNT]; /* 0 = default */
    /* Called on the api thread right after "API server started." (upstream
     * reports the process start-up times there); NULL = none. */
    void (*on_started)(void *arg);
    void *on_started_arg;
};

struct api_thread;

/* Start the thread ("fc_api"). Returns 0 or -errno. */
int api_thread_start(const struct api_opts *opts, struct api_thread **out);

/* Stop it (the "kill switch"), join, free. NULL-safe. */
void api_thread_stop(struct api_thread *t);

#endif
