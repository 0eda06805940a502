/*
 * test_log.c: the logger's line format, filters, targets (files and FIFOs)
 * and per-call-site rate limiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "obs/log.h"
#include "obs/metrics.h"

/* One line: timestamp, [id:thread{:LEVEL}{:file:line}], message. */
#define TS_RE                                                                  \
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9} "

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/squib-test-log-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/log", f->dir);
    log_init();
    assert_int_equal(log_set_target(f->path), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char fifo[160];

    log_init(); /* closes the target */
    unlink(f->path);
    snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
    unlink(fifo);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The whole file (NUL-terminated, caller frees). */
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

static void assert_matches(const char *text, const char *re)
{
    regex_t rx;
    int rc;

    assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE), 0);
    rc = regexec(&rx, text, 0, NULL, 0);
    if (rc)
        fail_msg("\"%s\" does not match /%s/", text, re);
    regfree(&rx);
}

static int count_lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_line_format_default(void **state)
{
    struct fixture *f = *state;
    char *out;

    log_info("hello %d", 42);
    out = slurp(f->path);
    assert_matches(out, TS_RE "\\[anonymous-instance:main\\] hello 42\n$");
    free(out);
}

static void test_line_format_level_and_origin(void **state)
{
    struct fixture *f = *state;
    char re[256];
    char *out;
    int line;

    log_set_instance_id("my-vm");
    log_set_show_level(true);
    log_set_show_origin(true);
    line = __LINE__ + 1;
    log_warn("text");
    log_set_show_origin(false);
    log_error("second");
    log_set_show_level(false);
    log_set_show_origin(true);
    log_info("third");
    out = slurp(f->path);
    snprintf(re, sizeof(re),
             TS_RE "\\[my-vm:main:WARN:tests/unit/test_log\\.c:%d\\] text$",
             line);
    assert_matches(out, re);
    assert_matches(out, TS_RE "\\[my-vm:main:ERROR\\] second$");
    assert_matches(out, TS_RE "\\[my-vm:main:tests/unit/test_log\\.c:[0-9]+\\] "
                              "third$");
    assert_int_equal(count_lines(out), 3);
    free(out);
}

/* The timestamp is local time, not UTC. */
static void test_timestamp_is_local_time(void **state)
{
    struct fixture *f = *state;
    char before[32], after[32];
    struct tm tm;
    time_t t;
    char *out;

    setenv("TZ", "XST-5:30", 1); /* a fixed +05:30 zone */
    tzset();
    t = time(NULL);
    strftime(before, sizeof(before), "%Y-%m-%dT%H:%M", localtime_r(&t, &tm));
    log_info("tz");
    t = time(NULL);
    strftime(after, sizeof(after), "%Y-%m-%dT%H:%M", localtime_r(&t, &tm));
    out = slurp(f->path);
    assert_true(!strncmp(out, before, strlen(before)) ||
                !strncmp(out, after, strlen(after)));
    free(out);
    unsetenv("TZ");
    tzset();
}

static void test_levels(void **state)
{
    struct fixture *f = *state;
    char *out;

    log_set_level(LOG_WARN);
    log_info("hidden-info");
    log_debug("hidden-debug");
    log_warn("shown-warn");
    log_error("shown-error");
    log_set_level(LOG_OFF);
    log_error("hidden-error");
    log_set_level(LOG_TRACE);
    log_trace("shown-trace");
    out = slurp(f->path);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "shown-warn"));
    assert_non_null(strstr(out, "shown-error"));
    assert_non_null(strstr(out, "shown-trace"));
    assert_int_equal(count_lines(out), 3);
    free(out);
}

static void test_level_parse(void **state)
{
    static const struct {
        const char *s;
        int rc;
        enum log_level level;
    } cases[] = {
        {"off", 0, LOG_OFF},         {"Trace", 0, LOG_TRACE},
        {"DEBUG", 0, LOG_DEBUG},     {"iNfO", 0, LOG_INFO},
        {"warn", 0, LOG_WARN},       {"Warning", 0, LOG_WARN},
        {"ERROR", 0, LOG_ERROR},     {"", -EINVAL, LOG_OFF},
        {"fatal", -EINVAL, LOG_OFF}, {"info ", -EINVAL, LOG_OFF},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum log_level l = LOG_OFF;

        assert_int_equal(log_level_parse(cases[i].s, &l), cases[i].rc);
        if (!cases[i].rc)
            assert_int_equal(l, cases[i].level);
    }
    assert_string_equal(log_level_name(LOG_WARN), "WARN");
    assert_string_equal(log_level_name(LOG_TRACE), "TRACE");
}

/* This file's module path is "tests::unit::test_log". */
static void test_module_filter(void **state)
{
    struct fixture *f = *state;
    char *out;

    log_set_module("vmm");
    log_info("filtered-out");
    log_set_module("tests::unit");
    log_info("kept-1");
    log_set_module("tests::unit::test_log");
    log_info("kept-2");
    log_set_module("tests::unit::test_logger");
    log_info("filtered-out-too");
    log_set_module(NULL);
    log_info("kept-3");
    out = slurp(f->path);
    assert_null(strstr(out, "filtered-out"));
    assert_int_equal(count_lines(out), 3);
    free(out);
}

/* src/ paths become "dir::file": checked through records "from" them. */
static void test_module_path_of_sources(void **state)
{
    struct fixture *f = *state;
    char *out;

    log_set_module("devices::virtio");
    log_write(LOG_INFO, "src/devices/virtio/block.c", 1, "block");
    log_write(LOG_INFO, "src/vmm/vcpu.c", 1, "vcpu");
    log_set_module("vmm::vcpu");
    log_write(LOG_INFO, "src/vmm/vcpu.c", 1, "vcpu-2");
    out = slurp(f->path);
    assert_non_null(strstr(out, "] block\n"));
    assert_null(strstr(out, "] vcpu\n"));
    assert_non_null(strstr(out, "] vcpu-2\n"));
    free(out);
}

static void *unnamed_thread(void *arg)
{
    (void)arg;
    log_info("from-unnamed");
    log_set_thread_name("fc_api");
    log_info("from-api");
    return NULL;
}

static void test_thread_names(void **state)
{
    struct fixture *f = *state;
    pthread_t t;
    char *out;

    assert_int_equal(pthread_create(&t, NULL, unnamed_thread, NULL), 0);
    pthread_join(t, NULL);
    out = slurp(f->path);
    assert_matches(out, TS_RE "\\[anonymous-instance:-\\] from-unnamed$");
    assert_matches(out, TS_RE "\\[anonymous-instance:fc_api\\] from-api$");
    free(out);
}

/*
 * Held records: nothing reaches the target until log_release(), then all of
 * them, whole and in order, with the bytes they would have had unheld; a
 * batch that would pass PIPE_BUF is written early, never split in a record.
 */
static void test_hold_release(void **state)
{
    struct fixture *f = *state;
    char big[3000];
    char *out;

    log_hold();
    log_info("first");
    log_warn("second %d", 2);
    out = slurp(f->path);
    assert_string_equal(out, "");
    free(out);
    log_release();
    out = slurp(f->path);
    assert_int_equal(count_lines(out), 2);
    assert_matches(out, TS_RE "\\[anonymous-instance:main\\] first\n" TS_RE
                              "\\[anonymous-instance:main\\] second 2\n$");
    free(out);
    log_release(); /* nothing held: no-op */

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_hold();
    log_info("%s", big);
    log_info("%s", big); /* past PIPE_BUF together: the first one leaves */
    out = slurp(f->path);
    assert_int_equal(count_lines(out), 3);
    free(out);
    log_release();
    out = slurp(f->path);
    assert_int_equal(count_lines(out), 4);
    free(out);
}

/* Opened without O_TRUNC or O_APPEND: writes start at offset 0. */
static void test_target_not_truncated(void **state)
{
    struct fixture *f = *state;
    char *out;
    FILE *fp = fopen(f->path, "w");

    for (int i = 0; i < 300; i++)
        fputc('X', fp);
    fclose(fp);
    assert_int_equal(log_set_target(f->path), 0);
    log_info("over");
    out = slurp(f->path);
    assert_int_equal(strlen(out), 300);
    assert_non_null(strstr(out, "] over\nXXX"));
    free(out);
}

static void test_long_message_whole(void **state)
{
    struct fixture *f = *state;
    size_t n = 20000;
    char *big = malloc(n + 1), *out;

    memset(big, 'a', n);
    big[n] = '\0';
    big[n - 1] = 'Z';
    log_info("%s", big);
    out = slurp(f->path);
    assert_non_null(strstr(out, "aZ\n"));
    assert_true(strlen(out) > n);
    assert_int_equal(count_lines(out), 1);
    free(out);
    free(big);
}

static void on_alarm(int sig)
{
    (void)sig;
    fail_msg("a write to a full FIFO blocked");
}

/* A full FIFO drops lines (counted) instead of blocking. */
static void test_fifo_never_blocks(void **state)
{
    struct fixture *f = *state;
    char fifo[160], line[1200], buf[4096];
    uint64_t missed0;
    int rfd, lines = 0;
    ssize_t r;

    snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(log_set_target(fifo), 0);
    rfd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rfd >= 0);

    memset(line, 'p', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    missed0 = metrics_read(METRIC_logger_missed_log_count);
    signal(SIGALRM, on_alarm);
    alarm(10);
    for (int i = 0; i < 200; i++)
        log_info("%s", line);
    alarm(0);
    assert_true(metrics_read(METRIC_logger_missed_log_count) > missed0);

    /* What arrived are whole lines. */
    while ((r = read(rfd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < r; i++)
            lines += buf[i] == '\n';
    assert_true(lines > 0);
    assert_int_equal((uint64_t)lines +
                         metrics_read(METRIC_logger_missed_log_count) - missed0,
                     200);
    close(rfd);
}

static void test_apply_config(void **state)
{
    struct fixture *f = *state;
    struct logger_config cfg = LOGGER_CONFIG_INIT;
    struct sq_err err;
    char other[160];
    char *out;

    /* Level given; show_level set; module set. */
    cfg.has_level = true;
    cfg.level = LOG_DEBUG;
    cfg.show_level = 1;
    cfg.module = "tests";
    assert_int_equal(log_apply_config(&cfg, &err), 0);
    assert_int_equal(log_get_level(), LOG_DEBUG);

    /* Omitted level resets to Info; omitted show_level/module are kept. */
    struct logger_config again = LOGGER_CONFIG_INIT;

    assert_int_equal(log_apply_config(&again, &err), 0);
    assert_int_equal(log_get_level(), LOG_INFO);
    log_debug("not-shown");
    log_info("shown");
    out = slurp(f->path);
    assert_null(strstr(out, "not-shown"));
    assert_matches(out, TS_RE "\\[anonymous-instance:main:INFO\\] shown$");
    free(out);

    /* A failed open changes nothing and reports Rust's io error text. */
    struct logger_config bad = LOGGER_CONFIG_INIT;

    bad.log_path = "/nonexistent-dir/x.log";
    bad.has_level = true;
    bad.level = LOG_ERROR;
    assert_int_equal(log_apply_config(&bad, &err), -ENOENT);
    assert_string_equal(err.msg, "Failed to open target file: "
                                 "No such file or directory (os error 2)");
    assert_int_equal(log_get_level(), LOG_INFO);

    /* A new path switches the target. */
    struct logger_config sw = LOGGER_CONFIG_INIT;

    snprintf(other, sizeof(other), "%s/other", f->dir);
    sw.log_path = other;
    sw.show_level = 0;
    assert_int_equal(log_apply_config(&sw, &err), 0);
    log_info("in-other");
    out = slurp(other);
    assert_matches(out, TS_RE "\\[anonymous-instance:main\\] in-other$");
    free(out);
    unlink(other);
}

static void test_signal_safe_format(void **state)
{
    struct fixture *f = *state;
    char *out;

    log_set_show_level(true);
    log_write_signal_safe(LOG_ERROR, "src/obs/signals.c", 7,
                          "Shutting down VM after intercepting signal 11, "
                          "code 1.");
    log_set_level(LOG_OFF);
    log_write_signal_safe(LOG_ERROR, "x.c", 1, "dropped");
    out = slurp(f->path);
    assert_matches(out,
                   TS_RE "\\[anonymous-instance:main:ERROR\\] Shutting "
                         "down VM after intercepting signal 11, code 1\\.\n$");
    free(out);
}

/* Both timestamps agree on the date and time (up to a second apart). */
static void test_signal_safe_time_matches(void **state)
{
    struct fixture *f = *state;
    char *out, *second;

    setenv("TZ", "XST+7", 1);
    tzset();
    log_info("ordinary");
    log_write_signal_safe(LOG_INFO, "x.c", 1, "signal");
    out = slurp(f->path);
    second = strchr(out, '\n') + 1;
    /* Same YYYY-MM-DDTHH:MM prefix unless a minute boundary passed. */
    if (strncmp(out + 17, "59", 2))
        assert_memory_equal(out, second, 16);
    free(out);
    unsetenv("TZ");
    tzset();
}

static void test_ratelimit_algorithm(void **state)
{
    struct log_ratelimit rl = {0};
    uint64_t supp, denied0 = metrics_read(METRIC_logger_rate_limited_log_count);
    uint64_t t = 1000;

    (void)state;
    for (int i = 0; i < LOG_RATELIMIT_BURST; i++) {
        assert_true(log_ratelimit_check(&rl, t, &supp));
        assert_int_equal(supp, 0);
    }
    for (int i = 0; i < 3; i++)
        assert_false(log_ratelimit_check(&rl, t, &supp));
    assert_int_equal(metrics_read(METRIC_logger_rate_limited_log_count),
                     denied0 + 3);
    /* After the burst, one token per 500 ms. */
    assert_false(log_ratelimit_check(&rl, t + 499, &supp));
    assert_true(log_ratelimit_check(&rl, t + 500, &supp));
    assert_int_equal(supp, 4);
    assert_false(log_ratelimit_check(&rl, t + 500, &supp));
    /* A full refill period later the whole burst is back. */
    t += 500 + LOG_RATELIMIT_REFILL_MS;
    for (int i = 0; i < LOG_RATELIMIT_BURST; i++)
        assert_true(log_ratelimit_check(&rl, t, &supp));
    assert_false(log_ratelimit_check(&rl, t, &supp));
}

static void test_ratelimit_call_sites_independent(void **state)
{
    struct log_ratelimit a = {0}, b = {0};
    uint64_t supp;

    (void)state;
    for (int i = 0; i < LOG_RATELIMIT_BURST; i++)
        assert_true(log_ratelimit_check(&a, 50, &supp));
    assert_false(log_ratelimit_check(&a, 50, &supp));
    assert_true(log_ratelimit_check(&b, 50, &supp));
}

static void flood(int n)
{
    for (int i = 0; i < n; i++)
        log_warn_rl("guest did a thing %d", i);
}

static void test_ratelimit_macro_and_summary(void **state)
{
    struct fixture *f = *state;
    uint64_t denied0 = metrics_read(METRIC_logger_rate_limited_log_count);
    struct timespec ts = {0, 600 * 1000 * 1000};
    char *out, *summary;

    flood(15);
    assert_int_equal(metrics_read(METRIC_logger_rate_limited_log_count),
                     denied0 + 5);
    out = slurp(f->path);
    assert_int_equal(count_lines(out), 10);
    free(out);

    nanosleep(&ts, NULL);
    flood(1);
    out = slurp(f->path);
    summary = strstr(out, "] 5 messages were suppressed due to rate "
                          "limiting\n");
    assert_non_null(summary);
    assert_int_equal(count_lines(out), 12);
    /* The summary comes before the record that was let through. */
    assert_non_null(strstr(summary, "] guest did a thing 0\n"));
    free(out);

    /* A disabled level neither logs nor counts. */
    log_set_level(LOG_ERROR);
    denied0 = metrics_read(METRIC_logger_rate_limited_log_count);
    flood(30);
    assert_int_equal(metrics_read(METRIC_logger_rate_limited_log_count),
                     denied0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_format_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_format_level_and_origin,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_is_local_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test_setup_teardown(test_module_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_path_of_sources, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_thread_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_target_not_truncated, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_message_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fifo_never_blocks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_apply_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_safe_format, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_signal_safe_time_matches, setup,
                                        teardown),
        cmocka_unit_test(test_ratelimit_algorithm),
        cmocka_unit_test(test_ratelimit_call_sites_independent),
        cmocka_unit_test_setup_teardown(test_ratelimit_macro_and_summary, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
