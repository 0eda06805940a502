/*
 * api.c: the api thread (see api.h).
 *
 * Bookkeeping for in-flight writes lives here, not in the action: while the
 * vmm thread owns an action we only remember its pointer, the connection to
 * answer and the deadline. A slot is freed when the action comes back; if
 * its deadline passed first, the 504 has already gone out and the late
 * result is dropped.
 */
#include "api/api.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "api/parse.h"
#include "api/server.h"
#include "config/config.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/signals.h"
#include "util/buf.h"
#include "util/evloop.h"
#include "util/json.h"
#include "util/seccomp.h"
#include "util/time.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#define API_MAX_PENDING API_QUEUE_CAP

struct pending {
    struct api_action *a; /* NULL = free slot; never dereferenced */
    struct api_conn_ref conn;
    uint64_t deadline_ms;
    enum vmm_op op;
    bool answered; /* 504 sent */
};

struct api_thread {
    struct api_opts opts;
    pthread_t tid;
    struct evloop *loop;
    struct api_server *srv;
    struct evloop_handler done_h;  /* controller's api eventfd */
    struct evloop_handler timer_h; /* timeouts */
    int timer_fd;
    struct pending pending[API_MAX_PENDING];
    int start_rc;
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    bool started;
};

static const char *method_debug(enum http_method m)
{
    switch (m) {
    case HTTP_GET:
        return "Get";
    case HTTP_PUT:
        return "Put";
    case HTTP_PATCH:
        return "Patch";
    default:
        return "Delete";
    }
}

static enum api_method to_api_method(enum http_method m)
{
    switch (m) {
    case HTTP_GET:
        return API_GET;
    case HTTP_PUT:
        return API_PUT;
    case HTTP_PATCH:
        return API_PATCH;
    default:
        return API_DELETE;
    }
}

/*
 * Upstream's "The API server received a {Method} request on {path:?} with
 * body {body:?}." (digest 1.9). The path is the absolute path; bodies of
 * /mmds are never shown and /cpu-config only at Debug.
 */
static void log_received(const struct http_request *req)
{
    struct buf line = BUF_INIT;
    const char *path;
    size_t path_len;
    bool is_mmds, is_cpu;

    if (!log_enabled(LOG_INFO))
        return;
    api_abs_path(req->uri, req->uri_len, &path, &path_len);
    is_mmds = path_len == 5 && !memcmp(path, "/mmds", 5);
    is_cpu = path_len == 11 && !memcmp(path, "/cpu-config", 11);
    buf_puts(&line, "The API server received a ");
    buf_puts(&line, method_debug(req->method));
    buf_puts(&line, " request on ");
    json_rust_str_debug(&line, path, path_len);
    if (req->body_len && !is_mmds) {
        if (is_cpu && !log_enabled(LOG_DEBUG)) {
            buf_puts(&line, ". To view the CPU template received by the API, "
                            "configure log-level to DEBUG");
        } else {
            buf_puts(&line, " with body ");
            if (utf8_valid(req->body, req->body_len))
                json_rust_str_debug(&line, req->body, req->body_len);
            else
                buf_puts(&line, "\"inconvertible to UTF-8\"");
        }
    }
    buf_putc(&line, '.');
    log_info("%s", line.data);
    buf_fini(&line);
}

static void respond(struct api_thread *t, struct api_conn_ref conn, int status,
                    bool deprecation, const char *body, size_t body_len)
{
    struct http_response r = {
        .status = status,
        .deprecation = deprecation,
        .body = status == 204 ? NULL : body,
        .body_len = status == 204 ? 0 : body_len,
    };

    api_server_respond(t->srv, conn, &r);
}

static void log_outcome(int status, const char *body, size_t body_len)
{
    if (status == 204) {
        log_info("The request was executed successfully. Status code: 204 No "
                 "Content.");
    } else if (status == 200) {
        log_info("The request was executed successfully. Status code: 200 OK.");
    } else {
        /* Bodies of errors are {"fault_message":"..."}; log the text. */
        const char *reason = status == 413   ? "413 Payload too large"
                             : status == 504 ? "504 Gateway Timeout"
                                             : "400 Bad Request";
        struct json_value *v = NULL;
        const struct json_value *m = NULL;
        struct sq_err err;

        if (json_parse(body, body_len, &v, &err) == 0)
            m = json_object_get(v, "fault_message", 13);
        if (m && m->type == JSON_STRING)
            log_error("Received Error. Status code: %s. Message: %.*s", reason,
                      (int)m->str.len, m->str.ptr);
        else
            log_error("Received Error. Status code: %s.", reason);
        json_value_free(v);
    }
}

static void respond_fault(struct api_thread *t, struct api_conn_ref conn,
                          int status, const char *msg)
{
    struct buf b = BUF_INIT;

    fault_message_to_json(msg, &b);
    log_outcome(status, b.data, b.len);
    respond(t, conn, status, false, b.data, b.len);
    buf_fini(&b);
}

static void answer_read(struct api_thread *t, struct api_conn_ref conn,
                        enum vmm_op op)
{
    struct mirror *m = controller_mirror_acquire(t->opts.ctl);
    const struct mirror_entry *e = m ? &m->get[op] : NULL;

    if (op == VMM_OP_GET_VM_CONFIG && m && m->pre_boot)
        log_warn("%s", VMM_WARN_VM_CONFIG_PRE_BOOT);
    if (!e || !e->status) {
        respond_fault(t, conn, 400, "The VMM is not ready yet.");
    } else {
        log_outcome(e->status, e->body, e->body_len);
        respond(t, conn, e->status, false, e->body, e->body_len);
    }
    controller_mirror_release(t->opts.ctl, m);
}

static void arm_timer(struct api_thread *t)
{
    uint64_t next = 0, now = time_mono_ms();

    for (int i = 0; i < API_MAX_PENDING; i++) {
        const struct pending *p = &t->pending[i];

        if (p->a && !p->answered && (!next || p->deadline_ms < next))
            next = p->deadline_ms;
    }
    if (!next) {
        evloop_timerfd_arm(t->timer_fd, 0, 0);
        return;
    }
    evloop_timerfd_arm(t->timer_fd, next > now ? next - now : 1, 0);
}

static uint32_t class_timeout(const struct api_thread *t, enum action_class c)
{
    return t->opts.timeout_ms[c] ? t->opts.timeout_ms[c]
                                 : controller_default_timeout_ms[c];
}

static void handle_request(struct api_thread *t, struct api_conn_ref conn,
                           const struct http_request *req)
{
    const struct vmm_op_info *info;
    struct api_route r;
    struct api_action *a;
    struct sq_err err;
    struct pending *slot = NULL;
    enum action_class cls;

    log_received(req);
    sq_err_clear(&err);
    if (api_route(to_api_method(req->method), req->uri, req->uri_len,
                  req->body_len > 0, &r, &err)) {
        respond_fault(t, conn, 400, err.msg);
        return;
    }
    info = vmm_op_info(r.op);
    if (info->count != VMM_NO_METRIC)
        metrics_inc(info->count);

    if (vmm_op_is_read(r.op)) {
        answer_read(t, conn, r.op);
        return;
    }

    a = controller_action_new(r.op);
    if (api_parse_body(&r, req->body, req->body_len, &a->req, &err)) {
        if (info->fails != VMM_NO_METRIC)
            metrics_inc(info->fails);
        controller_action_free(a);
        respond_fault(t, conn, 400, err.msg);
        return;
    }
    if (vmm_request_deprecated(&a->req))
        metrics_inc(METRIC_deprecated_api_deprecated_http_api_calls);
    cls = vmm_request_class(&a->req);

    for (int i = 0; i < API_MAX_PENDING; i++) {
        if (!t->pending[i].a) {
            slot = &t->pending[i];
            break;
        }
    }
    /* The "received" line leaves before the vmm thread can log anything
     * about the action. */
    log_release();
    if (!slot || controller_submit(t->opts.ctl, a) < 0) {
        controller_action_free(a);
        respond_fault(t, conn, 504,
                      "The VMM is busy: too many requests are in flight; "
                      "retry later.");
        return;
    }
    slot->a = a;
    slot->conn = conn;
    slot->op = r.op;
    slot->answered = false;
    slot->deadline_ms = time_mono_ms() + class_timeout(t, cls);
    arm_timer(t);
}

/*
 * The server's callback. A request answered at once (a GET, an error) logs
 * two records, "received" and the outcome: they are held and leave in one
 * write(), before the response does (the server sends it when this
 * returns), so a client that reads the log after the answer finds both.
 */
static void on_request(void *opaque, struct api_server *srv,
                       struct api_conn_ref conn, const struct http_request *req)
{
    (void)srv;
    log_hold();
    handle_request(opaque, conn, req);
    log_release();
}

static void on_done(struct evloop *loop, struct evloop_handler *h,
                    uint32_t events)
{
    struct api_thread *t = h->opaque;
    struct api_action *a, *next;
    struct buf wire = BUF_INIT;

    (void)loop;
    (void)events;
    evloop_eventfd_drain(h->fd);
    for (a = controller_drain(t->opts.ctl); a; a = next) {
        struct pending *p = NULL;

        next = a->next;
        for (int i = 0; i < API_MAX_PENDING; i++) {
            if (t->pending[i].a == a) {
                p = &t->pending[i];
                break;
            }
        }
        if (p && !p->answered) {
            int status;

            buf_reset(&wire);
            status = controller_reply_wire(&a->rep, &wire);
            log_outcome(status, wire.data, wire.len);
            respond(t, p->conn, status, a->rep.deprecated, wire.data, wire.len);
        }
        if (p)
            p->a = NULL;
        controller_action_free(a);
    }
    buf_fini(&wire);
    arm_timer(t);
}

static void on_timer(struct evloop *loop, struct evloop_handler *h,
                     uint32_t events)
{
    struct api_thread *t = h->opaque;
    uint64_t now = time_mono_ms(), v;

    (void)loop;
    (void)events;
    if (read(h->fd, &v, sizeof(v)) < 0) {
        /* Spurious wakeup: nothing expired. */
    }
    for (int i = 0; i < API_MAX_PENDING; i++) {
        struct pending *p = &t->pending[i];
        char msg[256];

        if (!p->a || p->answered || p->deadline_ms > now)
            continue;
        snprintf(msg, sizeof(msg),
                 "The VMM did not complete the %s request in time; it will "
                 "still be applied or rejected as a whole.",
                 vmm_op_name(p->op));
        respond_fault(t, p->conn, 504, msg);
        p->answered = true;
    }
    arm_timer(t);
}

static void *api_main(void *arg)
{
    struct api_thread *t = arg;
    int rc = 0;

    pthread_setname_np(pthread_self(), "fc_api");
    log_set_thread_name("fc_api");

    t->loop = evloop_new();
    if (!t->loop) {
        rc = -errno;
        goto out;
    }
    t->timer_fd = evloop_timerfd_new();
    if (t->timer_fd < 0) {
        rc = t->timer_fd;
        goto out;
    }
    t->done_h.fd = controller_api_fd(t->opts.ctl);
    t->done_h.fn = on_done;
    t->done_h.opaque = t;
    t->timer_h.fd = t->timer_fd;
    t->timer_h.fn = on_timer;
    t->timer_h.opaque = t;
    if ((rc = evloop_add(t->loop, &t->done_h, EPOLLIN)) < 0 ||
        (rc = evloop_add(t->loop, &t->timer_h, EPOLLIN)) < 0)
        goto out;
    t->srv = api_server_new(t->loop, t->opts.listen_fd, t->opts.max_payload,
                            on_request, t);
    if (!t->srv) {
        rc = -ENOMEM;
        goto out;
    }
    /* Everything the loop needs exists: filter before serving (upstream). */
    rc = seccomp_enter(SECCOMP_THREAD_API);
    if (rc < 0) {
        char why[192];

        signals_panic(__FILE__, __LINE__,
                      "Failed to set the requested "
                      "seccomp filters on the API thread: %s",
                      seccomp_install_strerror(rc, why, sizeof(why)));
    }

out:
    pthread_mutex_lock(&t->start_lock);
    t->start_rc = rc;
    t->started = true;
    pthread_cond_signal(&t->start_cond);
    pthread_mutex_unlock(&t->start_lock);
    if (rc)
        return NULL;

    log_info("API server started.");
    if (t->opts.on_started)
        t->opts.on_started(t->opts.on_started_arg);
    evloop_run(t->loop, -1, NULL, NULL);
    return NULL;
}

int api_thread_start(const struct api_opts *opts, struct api_thread **out)
{
    struct api_thread *t = xcalloc(1, sizeof(*t));
    int rc;

    t->opts = *opts;
    t->timer_fd = -1;
    pthread_mutex_init(&t->start_lock, NULL);
    pthread_cond_init(&t->start_cond, NULL);
    rc = pthread_create(&t->tid, NULL, api_main, t);
    if (rc) {
        free(t);
        return -rc;
    }
    pthread_mutex_lock(&t->start_lock);
    while (!t->started)
        pthread_cond_wait(&t->start_cond, &t->start_lock);
    pthread_mutex_unlock(&t->start_lock);
    if (t->start_rc) {
        rc = t->start_rc;
        pthread_join(t->tid, NULL);
        t->tid = 0;
        api_thread_stop(t);
        return rc;
    }
    *out = t;
    return 0;
}

void api_thread_stop(struct api_thread *t)
{
    if (!t)
        return;
    if (t->tid) {
        evloop_stop(t->loop);
        pthread_join(t->tid, NULL);
    }
    api_server_free(t->srv);
    if (t->timer_fd >= 0)
        close(t->timer_fd);
    evloop_free(t->loop);
    pthread_mutex_destroy(&t->start_lock);
    pthread_cond_destroy(&t->start_cond);
    free(t);
}
