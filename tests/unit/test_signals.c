/*
 * test_signals.c: the fatal-signal handlers, each exercised in a forked
 * child: exit code, log line, and the metrics line flushed on the way out.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/signals.h"

static char g_dir[64], g_log[128], g_metrics[128];

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *data;
    long n;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    data = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    return data;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/squib-test-signals-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_log, sizeof(g_log), "%s/log", g_dir);
    snprintf(g_metrics, sizeof(g_metrics), "%s/metrics", g_dir);
    unlink(g_log);
    unlink(g_metrics);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_log);
    unlink(g_metrics);
    rmdir(g_dir);
    return 0;
}

enum how { BY_RAISE, BY_FAULT, BY_SECCOMP, BY_PANIC, BY_FULL_SINK };

/* In the child: logger and metrics to files, handlers on, then the signal. */
static void child(int signo, enum how how)
{
    struct sq_err err;

    log_init();
    if (log_set_target(g_log) < 0 ||
        metrics_init(g_metrics, false, NULL, 0, &err) < 0 ||
        signals_install() < 0)
        _exit(99);
    if (how == BY_FAULT) {
        volatile int *p =
            mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        *p = 1;
    } else if (how == BY_SECCOMP) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

        if (!ctx ||
            seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(getppid), 0) ||
            seccomp_load(ctx))
            _exit(98);
        syscall(SYS_getppid);
    } else if (how == BY_FULL_SINK) {
        /* g_metrics is a FIFO: hold a reader, never read, fill it up. */
        int rfd = open(g_metrics, O_RDONLY | O_NONBLOCK);

        if (rfd < 0)
            _exit(96);
        for (int i = 0; i < 1000 && metrics_flush(&err) == 1; i++)
            ;
        raise(signo);
    } else if (how == BY_PANIC) {
        SQ_PANIC("bad state %d", 7);
    } else {
        raise(signo);
    }
    _exit(97); /* the handler should have ended the process */
}

static int run_child_status(int signo, enum how how)
{
    int status;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child(signo, how);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static int run_child(int signo, enum how how)
{
    int status = run_child_status(signo, how);

    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_fatal_signals(void **state)
{
    static const struct {
        int signo;
        int code;
        const char *metric;
    } cases[] = {
        {SIGBUS, 149, "\"sigbus\":1"},   {SIGSEGV, 150, "\"sigsegv\":1"},
        {SIGXFSZ, 151, "\"sigxfsz\":1"}, {SIGXCPU, 154, "\"sigxcpu\":1"},
        {SIGHUP, 156, "\"sighup\":1"},   {SIGILL, 157, "\"sigill\":1"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char expect[128];
        char *log, *m;

        setup(state);
        assert_int_equal(signals_exit_code(cases[i].signo), cases[i].code);
        assert_int_equal(run_child(cases[i].signo, BY_RAISE), cases[i].code);
        log = slurp(g_log);
        /* raise() is tgkill(): si_code SI_TKILL. */
        snprintf(expect, sizeof(expect),
                 "[anonymous-instance:main] Shutting down VM after "
                 "intercepting signal %d, code %d.\n",
                 cases[i].signo, SI_TKILL);
        assert_non_null(strchr(log, '['));
        assert_string_equal(strchr(log, '['), expect);
        m = slurp(g_metrics);
        assert_non_null(strstr(m, cases[i].metric));
        assert_int_equal(m[strlen(m) - 1], '\n');
        assert_int_equal(strncmp(m, "{\"utc_timestamp_ms\":", 20), 0);
        free(log);
        free(m);
        teardown(state);
    }
}

static void test_real_segfault(void **state)
{
    char *log, *m;

    setup(state);
    assert_int_equal(run_child(0, BY_FAULT), 150);
    log = slurp(g_log);
    assert_non_null(strstr(log, "] Shutting down VM after intercepting "
                                "signal 11, code 2.\n")); /* SEGV_ACCERR */
    m = slurp(g_metrics);
    assert_non_null(strstr(m, "\"sigsegv\":1"));
    free(log);
    free(m);
    teardown(state);
}

static void test_seccomp_kill(void **state)
{
    char expect[128];
    char *log, *m;

    setup(state);
    assert_int_equal(run_child(0, BY_SECCOMP), 148);
    log = slurp(g_log);
    assert_non_null(strstr(log, "] Shutting down VM after intercepting "
                                "signal 31, code 1.\n"));
    snprintf(expect, sizeof(expect),
             "] Shutting down VM after intercepting a bad syscall (%d).\n",
             (int)SYS_getppid);
    assert_non_null(strstr(log, expect));
    m = slurp(g_metrics);
    assert_non_null(strstr(m, "\"seccomp\":{\"num_faults\":1}"));
    free(log);
    free(m);
    teardown(state);
}

/* A SIGSYS that is not a seccomp kill: unexpected, exit 2. */
static void test_sigsys_not_seccomp(void **state)
{
    char *log;

    setup(state);
    assert_int_equal(run_child(SIGSYS, BY_RAISE), 2);
    log = slurp(g_log);
    assert_non_null(strstr(log, "intercepting signal 31, code -6.\n"));
    assert_null(strstr(log, "bad syscall"));
    free(log);
    teardown(state);
}

/*
 * The log target is a pipe nobody reads (stdout into a closed reader): the
 * SIGPIPE line itself raises SIGPIPE; that one is counted, not logged, and
 * the process carries on instead of looping.
 */
static void test_sigpipe_on_broken_log_pipe(void **state)
{
    int status, fds[2];
    uint64_t base = metrics_read(METRIC_signals_sigpipe);
    pid_t pid;

    (void)state;
    fflush(stdout);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(5); /* a loop would end here, by SIGALRM */
        if (pipe(fds) < 0 || dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(99);
        close(fds[0]);
        close(fds[1]);
        log_init(); /* target: stdout, now a pipe without a reader */
        if (signals_install() < 0)
            _exit(98);
        raise(SIGPIPE);
        log_info("ordinary record"); /* EPIPE + SIGPIPE, not logged */
        _exit((int)(40 + metrics_read(METRIC_signals_sigpipe) - base));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    /* raise + own line; ordinary record + handler's own line */
    assert_int_equal(WEXITSTATUS(status), 44);
}

/* The metrics cannot be written on the way out: said so, same exit. */
static void test_flush_failure_while_stopping(void **state)
{
    char *log;

    setup(state);
    assert_int_equal(mkfifo(g_metrics, 0600), 0);
    assert_int_equal(run_child(SIGHUP, BY_FULL_SINK), 156);
    log = slurp(g_log);
    assert_non_null(strstr(log, "] Shutting down VM after intercepting "
                                "signal 1, code -6.\n"));
    assert_non_null(strstr(log, "] Failed to write metrics while stopping: "
                                "Failed to write metrics: Resource "
                                "temporarily unavailable (os error 11)\n"));
    free(log);
    teardown(state);
}

/* The panic path: log, panic_count 1, metrics flushed, SIGABRT. */
static void test_panic(void **state)
{
    char *log, *m;
    int status;

    setup(state);
    status = run_child_status(0, BY_PANIC);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    log = slurp(g_log);
    assert_non_null(strstr(log, "] Firecracker panicked at "
                                "tests/unit/test_signals.c:"));
    assert_non_null(strstr(log, ":\nbad state 7\n"));
    m = slurp(g_metrics);
    assert_non_null(strstr(m, "\"vmm\":{\"panic_count\":1}"));
    free(log);
    free(m);
    teardown(state);
}

/* SIGPIPE is counted and logged; the process carries on. */
static void test_sigpipe_ignored(void **state)
{
    uint64_t before = metrics_read(METRIC_signals_sigpipe);
    char *log;

    setup(state);
    log_init();
    assert_int_equal(log_set_target(g_log), 0);
    assert_int_equal(signals_install(), 0);
    raise(SIGPIPE);
    raise(SIGPIPE);
    assert_int_equal(metrics_read(METRIC_signals_sigpipe), before + 2);
    log_init();
    log = slurp(g_log);
    assert_non_null(strstr(log, "] Received signal 13, code -6.\n"));
    free(log);
    assert_int_equal(signals_exit_code(SIGPIPE), -1);
    assert_int_equal(signals_exit_code(SIGTERM), -1);
    signal(SIGPIPE, SIG_DFL);
    teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fatal_signals),
        cmocka_unit_test(test_real_segfault),
        cmocka_unit_test(test_seccomp_kill),
        cmocka_unit_test(test_sigsys_not_seccomp),
        cmocka_unit_test(test_sigpipe_ignored),
        cmocka_unit_test(test_panic),
        cmocka_unit_test(test_sigpipe_on_broken_log_pipe),
        cmocka_unit_test(test_flush_failure_while_stopping),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
