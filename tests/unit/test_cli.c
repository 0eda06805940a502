/*
 * test_cli.c: the firecracker-compatible command line: every error text and
 * exit code, the help and version output, defaults and values.
 *
 * Each case runs cli_parse() with stdout and stderr redirected to files and
 * the logger pointed at a third file, then checks all three.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "snapshot/format.h"

static char g_dir[64];

struct run {
    int rc;
    int code;
    char *out; /* stdout */
    char *err; /* stderr */
    char *log; /* the log file */
    struct cli_args a;
    char *argv[64]; /* copies; cli_args points into them */
};

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

static int redirect(int fd, const char *path)
{
    int saved = dup(fd);
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(saved >= 0 && f >= 0);
    dup2(f, fd);
    close(f);
    return saved;
}

/* argv without argv[0], NULL-terminated. */
static void run_cli(struct run *r, const char *const *args)
{
    char out[128], err[128], log[128];
    char **argv = r->argv;
    int argc = 0, so, se;

    snprintf(out, sizeof(out), "%s/out", g_dir);
    snprintf(err, sizeof(err), "%s/err", g_dir);
    snprintf(log, sizeof(log), "%s/log", g_dir);
    argv[argc++] = strdup("firecracker");
    for (; *args; args++)
        argv[argc++] = strdup(*args);
    argv[argc] = NULL;

    log_init();
    close(open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    assert_int_equal(log_set_target(log), 0);
    fflush(stdout);
    fflush(stderr);
    so = redirect(STDOUT_FILENO, out);
    se = redirect(STDERR_FILENO, err);
    r->code = -1;
    r->rc = cli_parse(argc, argv, &r->a, &r->code);
    fflush(stdout);
    fflush(stderr);
    dup2(so, STDOUT_FILENO);
    dup2(se, STDERR_FILENO);
    close(so);
    close(se);
    log_init();
    r->out = slurp(out);
    r->err = slurp(err);
    r->log = slurp(log);
}

static void free_run(struct run *r)
{
    for (char **a = r->argv; *a; a++)
        free(*a);
    free(r->out);
    free(r->err);
    free(r->log);
}

static int setup_group(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/squib-test-cli-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown_group(void **state)
{
    static const char *const names[] = {"out", "err", "log", "snap", "x"};
    char p[128];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", g_dir, names[i]);
        unlink(p);
    }
    rmdir(g_dir);
    return 0;
}

/* ---- errors: the table ---- */

#define PARSE_HINT " \\n\\nFor more information try --help."
#define A(...)                                                                 \
    (const char *const[])                                                      \
    {                                                                          \
        __VA_ARGS__, NULL                                                      \
    }

static const struct error_case {
    const char *const *args;
    int code;
    const char *log;    /* the ERROR line's message */
    const char *stderr; /* the whole stderr */
} error_cases[] = {
    {A("foo"), 153,
     "Arguments parsing error: Found argument 'foo' which wasn't expected, "
     "or isn't valid in this context." PARSE_HINT,
     "Error: ParseArguments(UnexpectedArgument(\"foo\"))\n"},
    {A("--foo"), 153,
     "Arguments parsing error: Found argument 'foo' which wasn't expected, "
     "or isn't valid in this context." PARSE_HINT,
     "Error: ParseArguments(UnexpectedArgument(\"foo\"))\n"},
    {A("--api-sock=/x"), 153,
     "Arguments parsing error: Found argument 'api-sock=/x' which wasn't "
     "expected, or isn't valid in this context." PARSE_HINT,
     "Error: ParseArguments(UnexpectedArgument(\"api-sock=/x\"))\n"},
    {A("-v"), 153,
     "Arguments parsing error: Found argument '-v' which wasn't expected, or "
     "isn't valid in this context." PARSE_HINT,
     "Error: ParseArguments(UnexpectedArgument(\"-v\"))\n"},
    {A("--no-api", "--config-file", "c", "extra"), 153,
     "Arguments parsing error: Found argument 'extra' which wasn't "
     "expected, or isn't valid in this context." PARSE_HINT,
     "Error: ParseArguments(UnexpectedArgument(\"extra\"))\n"},
    {A("--boot-timer", "yes"), 153,
     "Arguments parsing error: Found argument 'yes' which wasn't expected, "
     "or isn't valid in this context." PARSE_HINT,
     "Error: ParseArguments(UnexpectedArgument(\"yes\"))\n"},
    {A("--id"), 153,
     "Arguments parsing error: The argument 'id' requires a value, but none "
     "was supplied." PARSE_HINT,
     "Error: ParseArguments(MissingValue(\"id\"))\n"},
    {A("--api-sock", "--id", "x"), 153,
     "Arguments parsing error: The argument 'api-sock' requires a value, but "
     "none was supplied." PARSE_HINT,
     "Error: ParseArguments(MissingValue(\"api-sock\"))\n"},
    {A("--describe-snapshot", "--"), 153,
     "Arguments parsing error: The argument 'describe-snapshot' requires a "
     "value, but none was supplied." PARSE_HINT,
     "Error: ParseArguments(MissingValue(\"describe-snapshot\"))\n"},
    {A("--id", "a", "--id", "b"), 153,
     "Arguments parsing error: The argument 'id' was provided more than "
     "once." PARSE_HINT,
     "Error: ParseArguments(DuplicateArgument(\"id\"))\n"},
    {A("--show-level", "--show-level"), 153,
     "Arguments parsing error: The argument 'show-level' was provided more "
     "than once." PARSE_HINT,
     "Error: ParseArguments(DuplicateArgument(\"show-level\"))\n"},
    {A("--no-api"), 153,
     "Arguments parsing error: Argument 'config-file' required, but not "
     "found." PARSE_HINT,
     "Error: ParseArguments(MissingArgument(\"config-file\"))\n"},
    {A("--seccomp-filter", "f", "--no-seccomp"), 153,
     "Arguments parsing error: Argument 'seccomp-filter' cannot be used "
     "together with argument 'no-seccomp'." PARSE_HINT,
     "Error: ParseArguments(ForbiddenArgument(\"no-seccomp\", "
     "\"seccomp-filter\"))\n"},
    {A("--no-seccomp", "--seccomp-filter", "f"), 153,
     "Arguments parsing error: Argument 'seccomp-filter' cannot be used "
     "together with argument 'no-seccomp'." PARSE_HINT,
     "Error: ParseArguments(ForbiddenArgument(\"no-seccomp\", "
     "\"seccomp-filter\"))\n"},
    /* Rules are checked in name order: no-api before no-seccomp. */
    {A("--seccomp-filter", "f", "--no-seccomp", "--no-api"), 153,
     "Arguments parsing error: Argument 'config-file' required, but not "
     "found." PARSE_HINT,
     "Error: ParseArguments(MissingArgument(\"config-file\"))\n"},
    /* Syntax errors come before snapshot-version. */
    {A("--snapshot-version", "--bogus"), 153,
     "Arguments parsing error: Found argument 'bogus' which wasn't "
     "expected, or isn't valid in this context." PARSE_HINT,
     "Error: ParseArguments(UnexpectedArgument(\"bogus\"))\n"},
    {A("--level", "verbose"), 152,
     "Invalid value for logger level: Failed to parse string to level "
     "filter: verbose.Possible values: [Error, Warning, Info, Debug]",
     "Error: InvalidLogLevel(LevelFilterFromStrError(\"verbose\"))\n"},
    {A("--id", "ab_c"), 1, "Invalid instance ID: InvalidChar('_', 2)",
     "Error: Invalid instance ID: InvalidChar('_', 2)\n"},
    {A("--id", "a'b"), 1, "Invalid instance ID: InvalidChar('\\'', 1)",
     "Error: Invalid instance ID: InvalidChar('\\'', 1)\n"},
    {A("--id", ""), 1, "Invalid instance ID: InvalidLen(0, 1, 64)",
     "Error: Invalid instance ID: InvalidLen(0, 1, 64)\n"},
    {A("--id", "0123456789012345678901234567890123456789012345678901234567890"
               "1234"),
     1, "Invalid instance ID: InvalidLen(65, 1, 64)",
     "Error: Invalid instance ID: InvalidLen(65, 1, 64)\n"},
    /* The id is checked before the level, as upstream. */
    {A("--level", "nope", "--id", "x.y"), 1,
     "Invalid instance ID: InvalidChar('.', 1)",
     "Error: Invalid instance ID: InvalidChar('.', 1)\n"},
    {A("--http-api-max-payload-size", "abc"), 1,
     "'http-api-max-payload-size' parameter expected to be of 'usize' "
     "type.: ParseIntError { kind: InvalidDigit }",
     "Error: 'http-api-max-payload-size' parameter expected to be of 'usize' "
     "type.: ParseIntError { kind: InvalidDigit }\n"},
    {A("--http-api-max-payload-size", "-1"), 1,
     "'http-api-max-payload-size' parameter expected to be of 'usize' "
     "type.: ParseIntError { kind: InvalidDigit }",
     "Error: 'http-api-max-payload-size' parameter expected to be of 'usize' "
     "type.: ParseIntError { kind: InvalidDigit }\n"},
    {A("--mmds-size-limit", "18446744073709551616"), 1,
     "'mmds-size-limit' parameter expected to be of 'usize' type.: "
     "ParseIntError { kind: PosOverflow }",
     "Error: 'mmds-size-limit' parameter expected to be of 'usize' type.: "
     "ParseIntError { kind: PosOverflow }\n"},
    {A("--start-time-us", ""), 1,
     "'start-time-us' parameter expected to be of 'u64' type.: "
     "ParseIntError { kind: Empty }",
     "Error: 'start-time-us' parameter expected to be of 'u64' type.: "
     "ParseIntError { kind: Empty }\n"},
    {A("--parent-cpu-time-us", "1 "), 1,
     "'parent-cpu-time-us' parameter expected to be of 'u64' type.: "
     "ParseIntError { kind: InvalidDigit }",
     "Error: 'parent-cpu-time-us' parameter expected to be of 'u64' type.: "
     "ParseIntError { kind: InvalidDigit }\n"},
    {A("--describe-snapshot", "/nonexistent-dir/state"), 1,
     "When printing Snapshot Data format: Unable to open snapshot state "
     "file: No such file or directory (os error 2)",
     "Error: PrintSnapshotDataFormat(OpenSnapshot(Os { code: 2, kind: "
     "NotFound, message: \"No such file or directory\" }))\n"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *c = &error_cases[i];
        char expect_log[1024], tail[128];
        struct run r;
        char *line2;

        run_cli(&r, c->args);
        if (r.rc != 0 || r.code != c->code)
            fail_msg("case %zu (%s): rc %d code %d", i, c->args[0], r.rc,
                     r.code);
        assert_string_equal(r.err, c->stderr);
        assert_string_equal(r.out, "");
        /* Two log lines: the message, then the exit line. */
        snprintf(expect_log, sizeof(expect_log),
                 "[anonymous-instance:main] %s\n", c->log);
        line2 = strchr(r.log, '\n');
        assert_non_null(line2);
        if (strncmp(strchr(r.log, '['), expect_log, strlen(expect_log)))
            fail_msg("case %zu: log is\n%s\nexpected\n%s", i, r.log,
                     expect_log);
        snprintf(tail, sizeof(tail),
                 "[anonymous-instance:main] Firecracker exiting with error. "
                 "exit_code=%d\n",
                 c->code);
        assert_string_equal(strchr(line2 + 1, '['), tail);
        free_run(&r);
    }
}

/* ---- successes ---- */

static void test_defaults(void **state)
{
    struct run r;

    (void)state;
    run_cli(&r, (const char *const[]){NULL});
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.a.api_sock, "/run/firecracker.socket");
    assert_string_equal(r.a.id, "anonymous-instance");
    assert_int_equal(r.a.http_api_max_payload_size, 51200);
    assert_int_equal(r.a.mmds_size_limit, 51200);
    assert_false(r.a.has_mmds_size_limit);
    assert_false(r.a.has_level);
    assert_null(r.a.config_file);
    assert_null(r.a.log_path);
    assert_null(r.a.metrics_path);
    assert_false(r.a.no_api || r.a.no_seccomp || r.a.boot_timer ||
                 r.a.enable_pci || r.a.show_level || r.a.show_log_origin);
    assert_false(r.a.has_start_time_us);
    assert_int_equal(r.a.n_extra_args, 0);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "");
    assert_string_equal(r.log, "");
    free_run(&r);
}

static void test_all_values(void **state)
{
    struct run r;

    (void)state;
    run_cli(&r, A("--api-sock", "/tmp/s.sock", "--id", "vm-01", "--config-file",
                  "cfg.json", "--metadata", "md.json", "--log-path", "l",
                  "--level", "Warning", "--module", "vmm", "--show-level",
                  "--show-log-origin", "--metrics-path", "m", "--boot-timer",
                  "--no-seccomp", "--start-time-us", "+12",
                  "--start-time-cpu-us", "34", "--parent-cpu-time-us",
                  "18446744073709551615", "--http-api-max-payload-size", "1000",
                  "--enable-pci", "--", "a", "--b"));
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.a.api_sock, "/tmp/s.sock");
    assert_string_equal(r.a.id, "vm-01");
    assert_string_equal(r.a.config_file, "cfg.json");
    assert_string_equal(r.a.metadata, "md.json");
    assert_string_equal(r.a.log_path, "l");
    assert_true(r.a.has_level);
    assert_int_equal(r.a.level, LOG_WARN);
    assert_string_equal(r.a.module, "vmm");
    assert_true(r.a.show_level && r.a.show_log_origin && r.a.boot_timer &&
                r.a.no_seccomp && r.a.enable_pci);
    assert_string_equal(r.a.metrics_path, "m");
    assert_true(r.a.has_start_time_us);
    assert_int_equal(r.a.start_time_us, 12);
    assert_int_equal(r.a.start_time_cpu_us, 34);
    assert_true(r.a.parent_cpu_time_us == UINT64_MAX);
    assert_int_equal(r.a.http_api_max_payload_size, 1000);
    /* mmds-size-limit follows the payload limit when not given. */
    assert_int_equal(r.a.mmds_size_limit, 1000);
    assert_int_equal(r.a.n_extra_args, 2);
    assert_string_equal(r.a.extra_args[0], "a");
    assert_string_equal(r.a.extra_args[1], "--b");
    free_run(&r);
}

static void test_no_api_ignores_timing_values(void **state)
{
    struct run r;

    (void)state;
    run_cli(&r, A("--no-api", "--config-file", "c", "--start-time-us", "x",
                  "--mmds-size-limit", "77"));
    assert_int_equal(r.rc, 1);
    assert_true(r.a.no_api);
    assert_false(r.a.has_start_time_us);
    assert_true(r.a.has_mmds_size_limit);
    assert_int_equal(r.a.mmds_size_limit, 77);
    free_run(&r);
}

static void test_unicode_id(void **state)
{
    struct run r;

    (void)state;
    /* Rust's is_alphanumeric is Unicode-aware. */
    run_cli(&r, A("--id", "\xc3\xa9t\xc3\xa9-1"));
    assert_int_equal(r.rc, 1);
    free_run(&r);
    run_cli(&r, A("--id", "\xc3\xa9\xe2\x82\xac"));
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err,
                        "Error: Invalid instance ID: InvalidChar('\xe2\x82\xac'"
                        ", 1)\n");
    free_run(&r);
}

/* Alphanumeric for Rust (Numeric: No / Nl) but not for glibc's iswalnum,
 * which the --id check used to ask: U+00B2 '²', U+00B9 '¹', U+00BD '½',
 * U+2160 'Ⅰ', U+2460 '①', U+1F100 '🄀'. */
static void test_id_rust_alphanumeric(void **state)
{
    static const char *const ids[] = {
        "a\xc2\xb2",
        "\xc2\xb9",
        "x\xc2\xbd-1",
        "\xe2\x85\xa0",
        "\xe2\x91\xa0",
        "\xf0\x9f\x84\x80",
        "a\xc2\xb2\xc2\xb9\xe2\x85\xa0-vm",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        struct run r;

        run_cli(&r, A("--id", ids[i]));
        assert_int_equal(r.rc, 1);
        assert_string_equal(r.a.id, ids[i]);
        assert_string_equal(r.err, "");
        free_run(&r);
    }
}

/* Neither Alphabetic nor Numeric: refused, the char shown raw. */
static void test_id_not_alphanumeric(void **state)
{
    struct run r;

    (void)state;
    /* U+00B7 MIDDLE DOT (punctuation), after "a²" */
    run_cli(&r, A("--id", "a\xc2\xb2\xc2\xb7"));
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.code, 1);
    assert_string_equal(r.err,
                        "Error: Invalid instance ID: InvalidChar('\xc2\xb7', "
                        "2)\n");
    free_run(&r);
    /* the length is counted in bytes, as Rust's str::len: 32 x U+00E9 is
     * 64 bytes (accepted), 33 of them 66 */
    run_cli(
        &r,
        A("--id",
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"));
    assert_int_equal(r.rc, 1);
    free_run(&r);
    run_cli(&r,
            A("--id",
              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
              "\xc3\xa9"));
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err,
                        "Error: Invalid instance ID: InvalidLen(66, 1, 64)\n");
    free_run(&r);
}

/* Upstream's env::args() panics on the first argument that is not UTF-8,
 * before anything is parsed (even --help); squib reports the panic's
 * message (the OsString's Debug form) and exits 1. */
static void test_argument_not_utf8(void **state)
{
    const struct {
        const char *const *args;
        const char *err;
    } cases[] = {
        {A("--id", "a\xff"
                   "b"),
         "Error: called `Result::unwrap()` on an `Err` value: \"a\\xFFb\"\n"},
        /* overlong and surrogate forms are not UTF-8 either */
        {A("--id", "a\xc0\xaf"),
         "Error: called `Result::unwrap()` on an `Err` value: "
         "\"a\\xC0\\xAF\"\n"},
        {A("--id", "\xed\xa0\x80"),
         "Error: called `Result::unwrap()` on an `Err` value: "
         "\"\\xED\\xA0\\x80\"\n"},
        /* any argument, checked before --help; escapes as char's Debug */
        {A("--help", "--api-sock", "/tmp/'x\"\xe2\x82"),
         "Error: called `Result::unwrap()` on an `Err` value: "
         "\"/tmp/\\'x\\\"\\xE2\\x82\"\n"},
        {A("--", "\xc3\xa9\xe9"),
         "Error: called `Result::unwrap()` on an `Err` value: "
         "\"\xc3\xa9\\xE9\"\n"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r;

        run_cli(&r, cases[i].args);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.code, 1);
        assert_string_equal(r.out, "");
        assert_string_equal(r.err, cases[i].err);
        assert_non_null(strstr(r.log, "called `Result::unwrap()`"));
        free_run(&r);
    }
}

static void check_exit_success(const char *log)
{
    const char *b = strchr(log, '[');

    assert_non_null(b);
    assert_string_equal(b, "[anonymous-instance:main] Firecracker exiting "
                           "successfully. exit_code=0\n");
}

static void test_help_wins(void **state)
{
    const char *const *const cases[] = {
        A("--help"),
        A("-h"),
        A("--bogus", "--help"),
        A("--id", "-h"),
        A("--version", "--help"),
        A("--no-api", "-h", "x"),
    };
    char help[8192];
    char expect[9000];

    (void)state;
    assert_true(cli_format_help(help, sizeof(help)) > 0);
    snprintf(expect, sizeof(expect), "Firecracker v1.17.0-dev\n\n%s\n", help);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r;

        run_cli(&r, cases[i]);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.code, 0);
        assert_string_equal(r.out, expect);
        assert_string_equal(r.err, "");
        check_exit_success(r.log);
        free_run(&r);
    }
}

static void test_help_after_separator_is_extra(void **state)
{
    struct run r;

    (void)state;
    run_cli(&r, A("--", "--help", "--version"));
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.a.n_extra_args, 2);
    free_run(&r);
}

static void test_version(void **state)
{
    struct run r;

    (void)state;
    run_cli(&r, A("--id", "bad_id", "--version"));
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "Firecracker v1.17.0-dev\n\n");
    check_exit_success(r.log);
    free_run(&r);
    /* --version wins over squib's own flag, which prints only its line. */
    run_cli(&r, A("--squib-version", "--version"));
    assert_string_equal(r.out, "Firecracker v1.17.0-dev\n\n");
    free_run(&r);
    run_cli(&r, A("--squib-version", "--id", "bad_id"));
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "squib v0.1.0\n");
    free_run(&r);
}

static void test_snapshot_version(void **state)
{
    struct run r;

    (void)state;
    run_cli(&r, A("--snapshot-version", "--id", "bad_id"));
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "v11.0.0\n");
    check_exit_success(r.log);
    free_run(&r);
}

static void test_describe_snapshot_empty_file(void **state)
{
    char path[128];
    struct run r;

    (void)state;
    snprintf(path, sizeof(path), "%s/snap", g_dir);
    close(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    run_cli(&r, A("--describe-snapshot", path));
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.log, "When printing Snapshot Data format: Invalid "
                                  "data format version of snapshot file: IO "
                                  "Error: File too short to contain CRC\n"));
    assert_non_null(strstr(r.log, "exit_code=1\n"));
    free_run(&r);
}

/* A state file of any version is described (no magic, version or CRC
 * check, as upstream's get_format_version). */
static void test_describe_snapshot_version(void **state)
{
    struct snap_writer w;
    char path[128];
    struct run r;
    int fd;

    (void)state;
    snap_writer_init(&w);
    w.b.data[8] = 12; /* major 12 */
    w.b.data[16] = 3; /* patch 3 */
    snap_writer_finish(&w);
    w.b.data[0] ^= 1; /* wrong magic, wrong CRC: still described */
    snprintf(path, sizeof(path), "%s/snap", g_dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, w.b.data, w.b.len), (ssize_t)w.b.len);
    close(fd);
    snap_writer_fini(&w);
    run_cli(&r, A("--describe-snapshot", path));
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "v12.0.3\n");
    free_run(&r);
}

static void test_help_text_format(void **state)
{
    char help[8192], *save = NULL, *line;
    char prev[64] = "";
    size_t col = 0;
    int n = 0;

    (void)state;
    assert_int_equal(cli_format_help(help, 100), -ENOSPC);
    assert_true(cli_format_help(help, sizeof(help)) > 0);
    line = strtok_r(help, "\n", &save);
    assert_string_equal(line, "optional arguments:");
    while ((line = strtok_r(NULL, "\n", &save))) {
        char name[64];
        const char *help_col;

        n++;
        assert_int_equal(strncmp(line, "  --", 4), 0);
        assert_int_equal(sscanf(line + 4, "%63s", name), 1);
        /* Byte order of names. */
        assert_true(strcmp(prev, name) < 0);
        snprintf(prev, sizeof(prev), "%s", name);
        /* The help column is the same on every line: 3 spaces after the
         * longest "  --name <name>". */
        help_col = strstr(line, "   ");
        while (*help_col == ' ')
            help_col++;
        if (!col)
            col = (size_t)(help_col - line);
        assert_int_equal((size_t)(help_col - line), col);
    }
    assert_int_equal(n, 24);
    assert_int_equal(col, strlen("  --http-api-max-payload-size "
                                 "<http-api-max-payload-size>   "));
    assert_true(cli_format_help(help, sizeof(help)) > 0);
    assert_non_null(strstr(help, "\n  --api-sock <api-sock>"));
    assert_non_null(strstr(help, "Path to unix domain socket used by the "
                                 "API. [default: \"/run/firecracker.socket\"]"
                                 "\n"));
    assert_non_null(strstr(help, "MicroVM unique identifier. [default: "
                                 "\"anonymous-instance\"]\n"));
    assert_non_null(strstr(help, "Http API request payload max size, in "
                                 "bytes. [default: \"51200\"]\n"));
    assert_non_null(strstr(help, "\n  --help "));
    assert_non_null(strstr(help, "   Show the help message.\n"));
    assert_non_null(strstr(help, "\n  --no-api      "));
    assert_non_null(strstr(help, "microVM without an active API socket.\n"));
    /* The last line has no newline. */
    assert_int_equal(help[strlen(help) - 1], '.');
}

static void test_setup_logger(void **state)
{
    struct cli_args a;
    char path[128];
    char *log;
    int code = -1, so, se;
    char errp[128];

    (void)state;
    memset(&a, 0, sizeof(a));
    a.id = "vm-7";
    a.has_level = true;
    a.level = LOG_DEBUG;
    a.show_level = true;
    snprintf(path, sizeof(path), "%s/x", g_dir);
    a.log_path = path;
    log_init();
    assert_int_equal(cli_setup_logger(&a, &code), 1);
    assert_int_equal(log_get_level(), LOG_DEBUG);
    log_init();
    log = slurp(path);
    assert_string_equal(strchr(log, '['),
                        "[vm-7:main:INFO] Running Firecracker v1.17.0-dev\n");
    free(log);

    /* A log path that cannot be opened: exit 1, upstream's texts. */
    a.log_path = "/nonexistent-dir/log";
    snprintf(errp, sizeof(errp), "%s/err", g_dir);
    snprintf(path, sizeof(path), "%s/out", g_dir);
    fflush(stdout);
    so = redirect(STDOUT_FILENO, path);
    se = redirect(STDERR_FILENO, errp);
    assert_int_equal(cli_setup_logger(&a, &code), 0);
    dup2(so, STDOUT_FILENO);
    dup2(se, STDERR_FILENO);
    close(so);
    close(se);
    assert_int_equal(code, 1);
    log = slurp(errp);
    assert_string_equal(log, "Error: LoggerInitialization(LoggerUpdateError("
                             "Os { code: 2, kind: NotFound, message: \"No such "
                             "file or directory\" }))\n");
    free(log);
    log = slurp(path);
    assert_non_null(strstr(log, "Could not initialize logger: Failed to open "
                                "target file: No such file or directory (os "
                                "error 2)\n"));
    free(log);
    log_init();
}

static void test_init_metrics(void **state)
{
    struct cli_args a;
    char out[128], err[128], *text;
    int code = -1, so, se;

    (void)state;
    memset(&a, 0, sizeof(a));
    assert_int_equal(cli_init_metrics(&a, &code), 1); /* no flag: nothing */
    assert_false(metrics_is_initialized());
    a.metrics_path = "/nonexistent-dir/m";
    snprintf(out, sizeof(out), "%s/out", g_dir);
    snprintf(err, sizeof(err), "%s/err", g_dir);
    log_init();
    fflush(stdout);
    so = redirect(STDOUT_FILENO, out);
    se = redirect(STDERR_FILENO, err);
    assert_int_equal(cli_init_metrics(&a, &code), 0);
    dup2(so, STDOUT_FILENO);
    dup2(se, STDERR_FILENO);
    close(so);
    close(se);
    assert_int_equal(code, 1);
    text = slurp(err);
    assert_string_equal(text, "Error: MetricsInitialization("
                              "InitializationFailure(\"No such file or "
                              "directory (os error 2)\"))\n");
    free(text);
    text = slurp(out);
    assert_non_null(strstr(text, "] Could not initialize metrics: Cannot "
                                 "initialize the metrics system due to bad "
                                 "user input: No such file or directory (os "
                                 "error 2)\n"));
    free(text);
}

static void test_report_process_times(void **state)
{
    struct cli_args a;
    struct timespec ts;
    uint64_t now_us;

    (void)state;
    memset(&a, 0, sizeof(a));
    metrics_store(METRIC_api_server_process_startup_time_us, 0);
    metrics_store(METRIC_api_server_process_startup_time_cpu_us, 0);
    cli_report_process_times(&a); /* nothing given: nothing stored */
    assert_int_equal(metrics_read(METRIC_api_server_process_startup_time_us),
                     0);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
    a.has_start_time_us = true;
    a.start_time_us = now_us - 2000000; /* launched 2 s ago */
    a.has_start_time_cpu_us = true;
    a.start_time_cpu_us = 0;
    a.has_parent_cpu_time_us = true;
    a.parent_cpu_time_us = 5000000000ULL;
    cli_report_process_times(&a);
    assert_true(metrics_read(METRIC_api_server_process_startup_time_us) >=
                2000000);
    assert_true(metrics_read(METRIC_api_server_process_startup_time_us) <
                60000000);
    assert_true(metrics_read(METRIC_api_server_process_startup_time_cpu_us) >
                5000000000ULL);
}

static void test_resize_fdtable(void **state)
{
    struct rlimit rl, saved;
    int code = -1;

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    if (saved.rlim_max < 64)
        skip();
    rl.rlim_cur = 64; /* only the soft limit: it can be raised back */
    rl.rlim_max = saved.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(fcntl(63, F_GETFD), -1); /* free before */
    assert_int_equal(cli_resize_fdtable(&code), 1);
    assert_int_equal(fcntl(63, F_GETFD), -1); /* and closed again */
    assert_int_equal(code, -1);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

static void test_rust_debug_forms(void **state)
{
    char out[256];

    (void)state;
    assert_string_equal(sq_rust_debug_str("a\"b\\c\n\t\x01", out, sizeof(out)),
                        "\"a\\\"b\\\\c\\n\\t\\u{1}\"");
    assert_string_equal(sq_os_error_debug(EACCES, out, sizeof(out)),
                        "Os { code: 13, kind: PermissionDenied, message: "
                        "\"Permission denied\" }");
    assert_string_equal(sq_os_error_debug(EAGAIN, out, sizeof(out)),
                        "Os { code: 11, kind: WouldBlock, message: "
                        "\"Resource temporarily unavailable\" }");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_values),
        cmocka_unit_test(test_no_api_ignores_timing_values),
        cmocka_unit_test(test_unicode_id),
        cmocka_unit_test(test_id_rust_alphanumeric),
        cmocka_unit_test(test_id_not_alphanumeric),
        cmocka_unit_test(test_argument_not_utf8),
        cmocka_unit_test(test_help_wins),
        cmocka_unit_test(test_help_after_separator_is_extra),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_snapshot_version),
        cmocka_unit_test(test_describe_snapshot_empty_file),
        cmocka_unit_test(test_describe_snapshot_version),
        cmocka_unit_test(test_help_text_format),
        cmocka_unit_test(test_setup_logger),
        cmocka_unit_test(test_init_metrics),
        cmocka_unit_test(test_report_process_times),
        cmocka_unit_test(test_resize_fdtable),
        cmocka_unit_test(test_rust_debug_forms),
    };

    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
