/*
 * signals.c: fatal-signal handlers (see signals.h).
 *
 * The handlers run on whatever thread faulted, possibly in the middle of a
 * malloc or while holding a lock, so they only call async-signal-safe code:
 * the messages are assembled with the tiny formatter below (no stdio), the
 * log line goes through log_write_signal_safe() and the metrics through
 * metrics_flush_signal_safe(), then _exit(). The signal metrics are gauges
 * set to 1 (not counters), as upstream: storing is safe from any thread
 * racing with a flush.
 */
#include "obs/signals.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obs/log.h"
#include "obs/metrics.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

static const struct fatal_signal {
    int signo;
    int exit_code;
    enum metric_id metric;
} fatal_signals[] = {
    {SIGSYS, SIGNALS_EXIT_BAD_SYSCALL, METRIC_seccomp_num_faults},
    {SIGBUS, SIGNALS_EXIT_SIGBUS, METRIC_signals_sigbus},
    {SIGSEGV, SIGNALS_EXIT_SIGSEGV, METRIC_signals_sigsegv},
    {SIGXFSZ, SIGNALS_EXIT_SIGXFSZ, METRIC_signals_sigxfsz},
    {SIGXCPU, SIGNALS_EXIT_SIGXCPU, METRIC_signals_sigxcpu},
    {SIGHUP, SIGNALS_EXIT_SIGHUP, METRIC_signals_sighup},
    {SIGILL, SIGNALS_EXIT_SIGILL, METRIC_signals_sigill},
};

#define N_FATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))

/* A message under construction; appends past the end are dropped. */
struct msg {
    char s[160];
    size_t len;
};

static void msg_puts(struct msg *m, const char *s)
{
    size_t n = strlen(s);

    if (n > sizeof(m->s) - 1 - m->len)
        n = sizeof(m->s) - 1 - m->len;
    memcpy(m->s + m->len, s, n);
    m->len += n;
    m->s[m->len] = '\0';
}

static void msg_puti(struct msg *m, long v)
{
    char tmp[24];
    int n = (int)sizeof(tmp) - 1;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

    tmp[n] = '\0';
    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u && n > 1);
    if (v < 0)
        tmp[--n] = '-';
    msg_puts(m, tmp + n);
}

/*
 * Flush the metrics and leave, as upstream's exit_with_code(). The error
 * text comes from strerrordesc_np(), which returns a constant string (no
 * locale, no buffer), so it is safe here.
 */
static _Noreturn void leave(int code)
{
    int rc = metrics_flush_signal_safe();

    if (rc < 0) {
        struct msg m = {.len = 0};
        const char *desc = strerrordesc_np(-rc);

        msg_puts(&m, "Failed to write metrics while stopping: Failed to "
                     "write metrics: ");
        msg_puts(&m, desc ? desc : "Unknown error");
        msg_puts(&m, " (os error ");
        msg_puti(&m, -rc);
        msg_puts(&m, ")");
        log_write_signal_safe(LOG_ERROR, __FILE__, __LINE__, m.s);
    }
    _exit(code);
}

static void fatal_handler(int num, siginfo_t *info, void *ucontext)
{
    const struct fatal_signal *f = NULL;
    struct msg m = {.len = 0};
    int saved = errno;

    (void)ucontext;
    for (size_t i = 0; i < N_FATAL; i++)
        if (fatal_signals[i].signo == num)
            f = &fatal_signals[i];
    if (!f || info->si_signo != num)
        leave(SIGNALS_EXIT_UNEXPECTED);

    metrics_store(f->metric, 1);
    msg_puts(&m, "Shutting down VM after intercepting signal ");
    msg_puti(&m, info->si_signo);
    msg_puts(&m, ", code ");
    msg_puti(&m, info->si_code);
    msg_puts(&m, ".");
    log_write_signal_safe(LOG_ERROR, __FILE__, __LINE__, m.s);

    if (num == SIGSYS) {
        if (info->si_code != SYS_SECCOMP)
            leave(SIGNALS_EXIT_UNEXPECTED);
        m.len = 0;
        msg_puts(&m, "Shutting down VM after intercepting a bad syscall (");
        msg_puti(&m, info->si_syscall);
        msg_puts(&m, ").");
        log_write_signal_safe(LOG_ERROR, __FILE__, __LINE__, m.s);
    }
    errno = saved;
    leave(f->exit_code);
}

/*
 * Set when the SIGPIPE handler's own log line hit a broken pipe (the log
 * target is a pipe whose reader went away, e.g. stdout into `head`): the
 * kernel then queues another SIGPIPE for that write, which is counted but
 * not logged, or every line would raise the next one forever.
 */
static volatile sig_atomic_t g_sigpipe_from_own_log;

static void sigpipe_handler(int num, siginfo_t *info, void *ucontext)
{
    struct msg m = {.len = 0};
    int saved = errno;

    (void)ucontext;
    if (num != SIGPIPE || info->si_signo != num) {
        msg_puts(&m, "Received invalid signal ");
    } else {
        metrics_inc(METRIC_signals_sigpipe);
        if (g_sigpipe_from_own_log) {
            g_sigpipe_from_own_log = 0;
            errno = saved;
            return;
        }
        msg_puts(&m, "Received signal ");
    }
    msg_puti(&m, info->si_signo);
    msg_puts(&m, ", code ");
    msg_puti(&m, info->si_code);
    msg_puts(&m, ".");
    if (log_write_signal_safe(LOG_ERROR, __FILE__, __LINE__, m.s) == -EPIPE)
        g_sigpipe_from_own_log = 1;
    errno = saved;
}

static int install(int signo, void (*fn)(int, siginfo_t *, void *))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO;
    /* Nothing else may interrupt a handler halfway through its line. */
    sigfillset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) < 0)
        return -errno;
    return 0;
}

int signals_install(void)
{
    int rc;

    for (size_t i = 0; i < N_FATAL; i++) {
        rc = install(fatal_signals[i].signo, fatal_handler);
        if (rc < 0)
            return rc;
    }
    return install(SIGPIPE, sigpipe_handler);
}

void signals_panic(const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    struct sq_err err;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_write(LOG_ERROR, file, line, "Firecracker panicked at %s:%d:\n%s", file,
              line, msg);
    metrics_store(METRIC_vmm_panic_count, 1);
    if (metrics_flush(&err) < 0)
        log_error("Failed to write metrics while panicking: %s", err.msg);
    abort();
}

int signals_exit_code(int signo)
{
    for (size_t i = 0; i < N_FATAL; i++)
        if (fatal_signals[i].signo == signo)
            return fatal_signals[i].exit_code;
    return -1;
}
