/*
 * main.c: wiring only, in upstream's startup order (digest 3.3):
 *
 *   logger -> arguments -> signals, fd table -> metrics -> config and
 *   metadata files -> [API: bind socket, start the api thread] ->
 *   [config file: build and boot] -> vmm loop until the VM stops ->
 *   stop the api thread -> exit line and code.
 *
 * The main thread is the vmm thread: it owns struct vmm and runs the loop
 * that takes actions from the controller.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/controller.h"
#include "api/server.h"
#include "cli.h"
#include "config/config.h"
#include "hooks.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/signals.h"
#include "snapshot/snapshot.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/evloop.h"
#include "util/json.h"
#include "util/seccomp.h"
#include "util/xalloc.h"
#include "vmm/seccomp_rules.h"
#include "vmm/vm_shell.h"
#include "vmm/vmm.h"

/* The vmm thread's state, handed to its loop callbacks. */
struct vmm_main {
    struct vmm *vmm;
    struct controller *ctl;
    struct evloop *loop;
    struct evloop_handler action_h;
    struct evloop_handler metrics_h;
    int metrics_timer_fd; /* owned; -1 until the VM runs */
    bool vmm_filter_on;   /* the vmm seccomp filter is installed */
};

static void query(void *ctx, enum vmm_op op, struct vmm_reply *rep)
{
    vmm_query(ctx, op, rep);
}

static void publish(struct vmm_main *m)
{
    struct mirror *mi;

    m->vmm->mirror_stale = false;
    if (!m->ctl)
        return;
    mi = mirror_render(query, m->vmm);
    mi->pre_boot = !vmm_is_started(m->vmm);
    controller_publish(m->ctl, mi);
}

/*
 * The vmm loop's idle hook, run after each batch of events: device-driven
 * changes (vmm->mirror_stale) reach the read mirror here, once per batch
 * however many events changed state, and without waiting for an API write.
 */
static void on_loop_idle(struct evloop *loop, void *arg)
{
    struct vmm_main *m = arg;

    (void)loop;
    if (m->vmm->mirror_stale)
        publish(m);
}

/* Start the periodic metrics flush once the VM runs (digest 4.1). */
static void on_metrics_timer(struct evloop *loop, struct evloop_handler *h,
                             uint32_t events)
{
    (void)loop;
    (void)events;
    evloop_eventfd_drain(h->fd);
    metrics_flush_periodic();
}

/* Install the vmm thread's filter; on failure end the process with exit
 * code 1 (upstream: "Failed to install vmm seccomp filter"). Returns 0 or
 * -errno. */
static int seccomp_vmm_enter_or_stop(struct vmm_main *m)
{
    char why[192];
    int rc = seccomp_enter(SECCOMP_THREAD_VMM);

    if (rc < 0) {
        log_error("Failed to install vmm seccomp filter: %s",
                  seccomp_install_strerror(rc, why, sizeof(why)));
        m->vmm->exit_requested = true;
        m->vmm->exit_code = 1;
        evloop_stop(m->loop);
        return rc;
    }
    m->vmm_filter_on = true;
    return 0;
}

static void maybe_start_metrics(struct vmm_main *m)
{
    if (m->metrics_timer_fd >= 0 || !vmm_is_started(m->vmm))
        return;
    /* The VM is built: install the vmm filter before any more guest-facing
     * work, then start the metrics (upstream's order). Pre-boot requests
     * were served unfiltered, as upstream's pre-boot loop is. */
    if (!m->vmm_filter_on && seccomp_vmm_enter_or_stop(m))
        return;
    m->metrics_timer_fd = evloop_timerfd_new();
    if (m->metrics_timer_fd < 0)
        return;
    m->metrics_h.fd = m->metrics_timer_fd;
    m->metrics_h.fn = on_metrics_timer;
    m->metrics_h.opaque = m;
    /* Immediate first flush, then every 60 s. */
    metrics_flush_periodic();
    evloop_timerfd_arm(m->metrics_timer_fd, METRICS_FLUSH_INTERVAL_MS,
                       METRICS_FLUSH_INTERVAL_MS);
    evloop_add(m->loop, &m->metrics_h, EPOLLIN);
}

static void on_actions(struct evloop *loop, struct evloop_handler *h,
                       uint32_t events)
{
    struct vmm_main *m = h->opaque;
    struct api_action *a;

    (void)events;
    evloop_eventfd_drain(h->fd);
    while ((a = controller_take(m->ctl))) {
        hooks_before_action();
        vmm_handle(m->vmm, &a->req, &a->rep);
        /* Publish before answering: a client that saw the 204 must see its
         * write in the next GET (read-your-writes through the mirror). */
        publish(m);
        controller_complete(m->ctl, a);
        /* Right after the action that started the VM, before the next
         * one: the vmm filter must cover every later action. */
        maybe_start_metrics(m);
        if (m->vmm->exit_requested)
            break;
    }
    if (m->vmm->exit_requested)
        evloop_stop(loop);
}

/* Read a whole file; NULL with errno set on failure. */
static char *read_file(const char *path, size_t *len)
{
    struct buf b = BUF_INIT;
    char chunk[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0) {
            int e = errno;

            close(fd);
            buf_fini(&b);
            errno = e;
            return NULL;
        }
        if (n == 0)
            break;
        buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    return buf_steal(&b, len);
}

/* FcExitCode's Debug names, for "MicroVM stopped with an error: {code:?}". */
static const char *exit_code_name(int code)
{
    switch (code) {
    case 0:
        return "Ok";
    case 1:
        return "GenericError";
    case 2:
        return "UnexpectedError";
    case 148:
        return "BadSyscall";
    case 149:
        return "SIGBUS";
    case 150:
        return "SIGSEGV";
    case 151:
        return "SIGXFSZ";
    case 152:
        return "BadConfiguration";
    case 153:
        return "ArgParsing";
    case 154:
        return "SIGXCPU";
    case 155:
        return "SIGPIPE";
    case 156:
        return "SIGHUP";
    case 157:
        return "SIGILL";
    default:
        return "GenericError";
    }
}

static void report_times(void *arg)
{
    cli_report_process_times(arg);
}

static int fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
    char msg[SQ_ERR_MSG_MAX + 256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_error("%s", msg);
    fprintf(stderr, "Error: %s\n", msg);
    log_error(CLI_MSG_EXIT_ERROR, code);
    return code;
}

int main(int argc, char **argv)
{
    struct cli_args args;
    struct vmm_main m = {.metrics_timer_fd = -1};
    struct api_thread *api = NULL;
    struct vmm_config_file cfg;
    struct json_value *metadata = NULL;
    struct vmm_opts vopts;
    char *config_json = NULL, *metadata_json = NULL;
    size_t config_len = 0, metadata_len = 0;
    bool have_cfg = false;
    struct sq_err err;
    int code = 0, listen_fd = -1, rc;
    const char *exit_error = NULL;

    /*
     * One malloc arena for every thread. glibc opens files on its own from
     * inside malloc when it runs several arenas: it reads
     * /sys/devices/system/cpu/online to size the pool the first time threads
     * contend, and /proc/sys/vm/overcommit_memory when a thread's arena
     * shrinks. Those openat() calls come at moments no one chooses (seen on
     * the api thread under load) and no seccomp filter allows them. The
     * main arena grows and shrinks with brk only.
     */
    mallopt(M_ARENA_MAX, 1);
    hooks_init();
    log_init();
    log_set_thread_name("main");
    if (!cli_parse(argc, argv, &args, &code))
        return code;
    if (!cli_setup_logger(&args, &code))
        return code;
    if (signals_install() < 0)
        return cli_fail(1, "Failed to register signal handlers",
                        "RegisterSignalHandlers");
    if (!cli_resize_fdtable(&code))
        return code;
    if (!cli_init_metrics(&args, &code))
        return code;
    sq_err_clear(&err);
    /* The built-in filters were compiled when squib was built
     * (seccomp_default_bpf); only a --seccomp-filter file is compiled now. */
    if (seccomp_setup(args.no_seccomp, args.seccomp_filter,
                      &seccomp_default_bpf, hooks_seccomp_entered, &err) < 0)
        return fail(1, "Seccomp error: %s", err.msg);
    /* The configuration-free part of the VM (vm_shell.h) is made while the
     * rest starts up and the API waits for its first client: started this
     * early, it is mostly done when a load sent the moment the socket
     * accepts needs it (docs/bench.md, "snapshot"). */
    vm_shell_prepare();

    if (args.config_file) {
        config_json = read_file(args.config_file, &config_len);
        if (!config_json)
            return fail(1,
                        "Unable to open or read from the configuration "
                        "file: %s",
                        strerror(errno));
    }
    if (args.metadata) {
        metadata_json = read_file(args.metadata, &metadata_len);
        if (!metadata_json)
            return fail(1,
                        "Unable to open or read from the mmds content "
                        "file: %s",
                        strerror(errno));
        sq_err_clear(&err);
        if (json_parse(metadata_json, metadata_len, &metadata, &err))
            return fail(1, "MMDS error: metadata provided not valid json: %s",
                        err.msg);
    }

    m.loop = evloop_new();
    if (!m.loop)
        return fail(1, "Unable to create the event loop: %s", strerror(errno));
    memset(&vopts, 0, sizeof(vopts));
    vopts.instance_id = args.id;
    vopts.mmds_size_limit = args.has_mmds_size_limit
                                ? args.mmds_size_limit
                                : args.http_api_max_payload_size;
    vopts.enable_pci = args.enable_pci;
    vopts.boot_timer = args.boot_timer;
    m.vmm = vmm_new(m.loop, &vopts);
    m.vmm->snapshot_ops = &snapshot_vmm_ops;
    if (args.metrics_path)
        vmm_note_metrics_initialised(m.vmm);

    if (config_json) {
        sq_err_clear(&err);
        if (vmm_config_file_parse(config_json, config_len, &cfg, &err)) {
            char msg[SQ_ERR_MSG_MAX + 128];

            snprintf(msg, sizeof(msg), VMM_ERR_CONFIG_FILE "%s", err.msg);
            code = fail(1, "%s error: Failed to build MicroVM from Json: %s",
                        args.no_api ? "RunWithoutApiError" : "RunWithApiError",
                        msg);
            goto out;
        }
        have_cfg = true;
    }

    if (!args.no_api) {
        rc = api_socket_bind(args.api_sock, &listen_fd);
        if (rc < 0) {
            if (rc == -EADDRINUSE)
                code = fail(1,
                            "RunWithApiError error: Failed to open the API "
                            "socket at: %s. Check that it is not already "
                            "used.",
                            args.api_sock);
            else
                code = fail(1,
                            "RunWithApiError error: Failed to bind and run "
                            "the HTTP server: %s",
                            strerror(-rc));
            goto out;
        }
        {
            struct buf q = BUF_INIT;

            json_rust_str_debug(&q, args.api_sock, strlen(args.api_sock));
            log_info("Listening on API socket (%s).", q.data);
            buf_fini(&q);
        }
        m.ctl = controller_new(API_QUEUE_CAP);
        if (!m.ctl) {
            code = fail(1, "Unable to create the API controller: %s",
                        strerror(errno));
            goto out;
        }
    }

    if (have_cfg) {
        sq_err_clear(&err);
        rc = vmm_apply_config_file_with_metadata(m.vmm, &cfg, metadata, &err);
        if (rc) {
            code = fail(1, "%s error: Failed to build MicroVM from Json: %s",
                        args.no_api ? "RunWithoutApiError" : "RunWithApiError",
                        err.msg);
            goto out;
        }
        log_info("Successfully started microvm that was configured from one "
                 "single json");
    } else if (metadata) {
        sq_err_clear(&err);
        rc = vmm_put_metadata(m.vmm, metadata, &err);
        metadata = NULL; /* taken */
        if (rc) {
            code = fail(1,
                        "RunWithApiError error: Failed to build MicroVM: "
                        "Populating MMDS from file failed: %s",
                        err.msg);
            goto out;
        }
        log_info("%s", VMM_MSG_METADATA_ADDED);
    }
    publish(&m);

    /*
     * The api thread starts only now, after the config file and --metadata
     * were applied: a client that connected meanwhile waits in the listen
     * backlog, as upstream's clients wait while its vmm thread builds the VM,
     * and its first GET sees the result (docs/compat.md).
     */
    if (m.ctl) {
        struct api_opts ao = {
            .listen_fd = listen_fd,
            .max_payload = args.http_api_max_payload_size,
            .ctl = m.ctl,
            .on_started = report_times,
            .on_started_arg = &args,
        };
        unsigned t = hooks_action_timeout_ms();

        for (int i = 0; i < ACTION_CLASS_COUNT; i++)
            ao.timeout_ms[i] = t;
        rc = api_thread_start(&ao, &api);
        if (rc < 0) {
            code = fail(1,
                        "RunWithApiError error: Failed to bind and run the "
                        "HTTP server: %s",
                        strerror(-rc));
            goto out;
        }
        m.action_h.fd = controller_vmm_fd(m.ctl);
        m.action_h.fn = on_actions;
        m.action_h.opaque = &m;
        evloop_add(m.loop, &m.action_h, EPOLLIN);
    }
    /* A VM built from the config file runs: the vmm seccomp filter goes on
     * (after the last thread was created) and the metrics start. */
    maybe_start_metrics(&m);
    evloop_run(m.loop, -1, on_loop_idle, &m);
    code = m.vmm->exit_code;
    exit_error = m.vmm->exit_error;
    /* Upstream's order: stop the vCPUs and devices, flush the last metrics,
     * stop the api thread, then the exit line. */
    vmm_free(m.vmm);
    m.vmm = NULL;
    metrics_flush_periodic();
    api_thread_stop(api);
    api = NULL;
    if (code && exit_error) {
        log_error("%s", exit_error);
        log_error(CLI_MSG_EXIT_ERROR, code);
    } else if (code) {
        log_error("%s error: MicroVM stopped with an error: %s",
                  args.no_api ? "RunWithoutApiError" : "RunWithApiError",
                  exit_code_name(code));
        log_error(CLI_MSG_EXIT_ERROR, code);
    } else {
        cli_exit_success();
    }

out:
    api_thread_stop(api);
    vmm_free(m.vmm);
    controller_free(m.ctl);
    if (m.metrics_timer_fd >= 0)
        close(m.metrics_timer_fd);
    evloop_free(m.loop);
    if (listen_fd >= 0)
        close(listen_fd);
    if (have_cfg)
        vmm_config_file_fini(&cfg);
    json_value_free(metadata);
    free(config_json);
    free(metadata_json);
    return code;
}
