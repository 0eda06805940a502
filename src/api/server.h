/*
 * server.h: the socket side of the api thread, micro_http's HttpServer in
 * behaviour.
 *
 * The server owns the connections accepted on a listening Unix socket (at
 * most API_MAX_CONNECTIONS; one more is accepted, sent micro_http's fixed 503
 * text and closed), reads and parses their requests with api/http.h, and
 * hands each complete, well-formed request to a callback. HTTP-level errors
 * (parse errors, oversized payloads, read errors) are answered here, with
 * micro_http's exact bytes; everything else is the callback owner's job.
 *
 * It is driven by an evloop the caller owns and runs; every function must be
 * called on that loop's thread. Connections are keep-alive: the server never
 * closes one after a response; it drops one when the peer hangs up
 * (HUP/RDHUP/ERR), when read() returns 0, or when a write fails, together with
 * any response still queued for it. docs/http.md draws the connection states.
 */
#ifndef SQUIB_API_SERVER_H
#define SQUIB_API_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h" /* struct http_request, struct http_response */

struct evloop;
struct api_server;

/* micro_http's MAX_CONNECTIONS. */
#define API_MAX_CONNECTIONS 10

/*
 * A stable handle to a connection: stays valid (and harmless) after the
 * connection is gone, when api_server_respond() ignores it.
 */
struct api_conn_ref {
    uint32_t slot;
    uint32_t gen;
};

/*
 * Called on the api thread for each complete, well-formed request. The server
 * parses no further request on that connection until api_server_respond() was
 * called for this one (responses leave in request order). `req` and the
 * memory it points to are valid only during the call: copy what you keep.
 * The callback may call api_server_respond() (for this or any connection) but
 * not api_server_free().
 */
typedef void api_server_request_fn(void *opaque, struct api_server *srv,
                                   struct api_conn_ref conn,
                                   const struct http_request *req);

/*
 * Create the API socket: socket(AF_UNIX, SOCK_STREAM), non-blocking and
 * close-on-exec, listening at `path`. The path appears only once the socket
 * accepts connections: the socket is bound to a temporary name in the same
 * directory (".squib-<pid>.sock"), listens, and is then renamed to `path`, so
 * a client that connects as soon as the path exists is never refused. Should
 * the temporary name not fit in sun_path, `path` is bound directly.
 *
 * As upstream, the path is never unlinked, neither before nor at exit: an
 * existing path (a socket or anything else) fails with -EADDRINUSE, also when
 * it appears while the socket is being set up. The temporary name is removed
 * on every failure. Returns 0 and the fd (owned by the caller) in *fd_out, or
 * -errno (-ENAMETOOLONG if `path` does not fit in sun_path).
 */
int api_socket_bind(const char *path, int *fd_out);

/*
 * Create a server accepting connections on `listen_fd` (borrowed: the caller
 * closes it after api_server_free()) and register it with `loop`.
 * `max_payload` is the largest Content-Length accepted (the
 * --http-api-max-payload-size value). `fn(opaque, ...)` receives the
 * requests. Returns NULL and sets errno on failure.
 */
struct api_server *api_server_new(struct evloop *loop, int listen_fd,
                                  size_t max_payload, api_server_request_fn *fn,
                                  void *opaque);

/*
 * Queue `resp` (copied, body included) as the answer to the request last
 * handed out on `conn`, and let the connection parse its next request. A
 * no-op if the connection is gone, or if it has no unanswered request. May be
 * called from inside the callback or any time later, on the loop's thread.
 */
void api_server_respond(struct api_server *srv, struct api_conn_ref conn,
                        const struct http_response *resp);

/* True if `conn` still designates a live connection. */
bool api_server_conn_alive(const struct api_server *srv,
                           struct api_conn_ref conn);

/* Number of live connections (for tests and diagnostics). */
unsigned api_server_n_conns(const struct api_server *srv);

/*
 * Shutdown helper (digest 2.7): try for up to `timeout_ms` to write out every
 * response still queued, without reading anything.
 */
void api_server_flush(struct api_server *srv, int timeout_ms);

/* Close every connection (not the listening fd), unregister from the loop,
 * and free the server. NULL is a no-op. */
void api_server_free(struct api_server *srv);

#endif
