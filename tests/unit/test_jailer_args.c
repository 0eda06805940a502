/*
 * test_jailer_args.c: the jailer's command line (src/jailer/args.h): every
 * syntax error with upstream's display and Debug texts, the help and
 * version texts byte for byte, values, repeats, defaults and "--".
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "jailer/args.h"

#define MAX_ARGV 32

struct run {
    int rc;
    enum jail_args_action action;
    struct jail_args a;
    struct jail_err err;
    char *argv[MAX_ARGV];
};

/* Parse a NULL-terminated word list (after "jailer"). */
static void run_words(struct run *r, const char *const *words)
{
    static char store[MAX_ARGV][256];
    int argc = 0;

    memset(r, 0, sizeof(*r));
    snprintf(store[0], sizeof(store[0]), "jailer");
    r->argv[argc++] = store[0];
    for (; *words; words++, argc++) {
        assert_true(argc < MAX_ARGV);
        snprintf(store[argc], sizeof(store[argc]), "%s", *words);
        r->argv[argc] = store[argc];
    }
    r->rc = jail_args_parse(argc, r->argv, &r->a, &r->action, &r->err);
}

#define RUN(r, ...)                                                            \
    do {                                                                       \
        static const char *const w_[] = {__VA_ARGS__, NULL};                   \
        run_words((r), w_);                                                    \
    } while (0)

#define REQUIRED                                                               \
    "--id", "a", "--exec-file", "/bin/true", "--uid", "1", "--gid", "2"

struct error_case {
    const char *words[12];
    const char *display;
    const char *debug;
};

static const struct error_case error_cases[] = {
    {{NULL},
     "Failed to parse arguments: Argument 'exec-file' required, but not "
     "found.",
     "ArgumentParsing(MissingArgument(\"exec-file\"))"},
    {{"--exec-file", "x", NULL},
     "Failed to parse arguments: Argument 'gid' required, but not found.",
     "ArgumentParsing(MissingArgument(\"gid\"))"},
    {{"--exec-file", "x", "--gid", "1", NULL},
     "Failed to parse arguments: Argument 'id' required, but not found.",
     "ArgumentParsing(MissingArgument(\"id\"))"},
    {{"--exec-file", "x", "--gid", "1", "--id", "i", NULL},
     "Failed to parse arguments: Argument 'uid' required, but not found.",
     "ArgumentParsing(MissingArgument(\"uid\"))"},
    {{"foo", NULL},
     "Failed to parse arguments: Found argument 'foo' which wasn't "
     "expected, or isn't valid in this context.",
     "ArgumentParsing(UnexpectedArgument(\"foo\"))"},
    {{"--foo", NULL},
     "Failed to parse arguments: Found argument 'foo' which wasn't "
     "expected, or isn't valid in this context.",
     "ArgumentParsing(UnexpectedArgument(\"foo\"))"},
    {{"--id=a", NULL},
     "Failed to parse arguments: Found argument 'id=a' which wasn't "
     "expected, or isn't valid in this context.",
     "ArgumentParsing(UnexpectedArgument(\"id=a\"))"},
    {{"-i", NULL},
     "Failed to parse arguments: Found argument '-i' which wasn't "
     "expected, or isn't valid in this context.",
     "ArgumentParsing(UnexpectedArgument(\"-i\"))"},
    {{"--id", NULL},
     "Failed to parse arguments: The argument 'id' requires a value, but "
     "none was supplied.",
     "ArgumentParsing(MissingValue(\"id\"))"},
    {{"--id", "--uid", "1", NULL},
     "Failed to parse arguments: The argument 'id' requires a value, but "
     "none was supplied.",
     "ArgumentParsing(MissingValue(\"id\"))"},
    {{"--cgroup", "--x", NULL},
     "Failed to parse arguments: The argument 'cgroup' requires a value, "
     "but none was supplied.",
     "ArgumentParsing(MissingValue(\"cgroup\"))"},
    {{"--id", "a", "--id", "b", NULL},
     "Failed to parse arguments: The argument 'id' was provided more than "
     "once.",
     "ArgumentParsing(DuplicateArgument(\"id\"))"},
    {{"--daemonize", "--daemonize", NULL},
     "Failed to parse arguments: The argument 'daemonize' was provided "
     "more than once.",
     "ArgumentParsing(DuplicateArgument(\"daemonize\"))"},
    {{"--say\"hi\"", NULL},
     "Failed to parse arguments: Found argument 'say\"hi\"' which wasn't "
     "expected, or isn't valid in this context.",
     "ArgumentParsing(UnexpectedArgument(\"say\\\"hi\\\"\"))"},
    /* The first bad word wins over a missing required argument. */
    {{"--netns", "n", "bad", NULL},
     "Failed to parse arguments: Found argument 'bad' which wasn't "
     "expected, or isn't valid in this context.",
     "ArgumentParsing(UnexpectedArgument(\"bad\"))"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *c = &error_cases[i];
        struct run r;

        run_words(&r, c->words);
        assert_int_equal(r.rc, -EINVAL);
        assert_string_equal(r.err.display, c->display);
        assert_string_equal(r.err.debug, c->debug);
    }
}

static void test_defaults_and_values(void **state)
{
    struct run r;

    (void)state;
    RUN(&r, REQUIRED);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.action, JAIL_ARGS_RUN);
    assert_string_equal(r.a.id, "a");
    assert_string_equal(r.a.exec_file, "/bin/true");
    assert_string_equal(r.a.uid, "1");
    assert_string_equal(r.a.gid, "2");
    assert_string_equal(r.a.chroot_base_dir, "/srv/jailer");
    assert_string_equal(r.a.cgroup_version, "1");
    assert_null(r.a.netns);
    assert_null(r.a.parent_cgroup);
    assert_false(r.a.daemonize);
    assert_false(r.a.new_pid_ns);
    assert_int_equal(r.a.n_cgroups, 0);
    assert_int_equal(r.a.n_resource_limits, 0);
    assert_int_equal(r.a.n_extra_args, 0);
    jail_args_fini(&r.a);

    RUN(&r, REQUIRED, "--chroot-base-dir", "/b", "--netns", "/n",
        "--cgroup-version", "2", "--parent-cgroup", "p/q", "--daemonize",
        "--new-pid-ns", "--cgroup", "cpu.shares=2", "--cgroup", "", "--",
        "--api-sock", "x", "--");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.a.chroot_base_dir, "/b");
    assert_string_equal(r.a.netns, "/n");
    assert_string_equal(r.a.cgroup_version, "2");
    assert_string_equal(r.a.parent_cgroup, "p/q");
    assert_true(r.a.daemonize);
    assert_true(r.a.new_pid_ns);
    assert_int_equal(r.a.n_cgroups, 2);
    assert_string_equal(r.a.cgroups[0], "cpu.shares=2");
    assert_string_equal(r.a.cgroups[1], "");
    /* Everything after the first "--", a second "--" included. */
    assert_int_equal(r.a.n_extra_args, 3);
    assert_string_equal(r.a.extra_args[0], "--api-sock");
    assert_string_equal(r.a.extra_args[2], "--");
    jail_args_fini(&r.a);

    RUN(&r, REQUIRED, "--resource-limit", "fsize=1", "--resource-limit",
        "no-file=2");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.a.n_resource_limits, 2);
    assert_string_equal(r.a.resource_limits[1], "no-file=2");
    jail_args_fini(&r.a);
}

static void test_help_and_version_win(void **state)
{
    struct run r;

    (void)state;
    RUN(&r, "--bogus", "-h");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.action, JAIL_ARGS_HELP);
    RUN(&r, "--version", "--id", "--help");
    assert_int_equal(r.action, JAIL_ARGS_HELP);
    RUN(&r, "--id", "--version", "bad");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.action, JAIL_ARGS_VERSION);
    /* After "--" they are the exec file's. */
    RUN(&r, REQUIRED, "--", "--help", "--version");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.action, JAIL_ARGS_RUN);
    assert_int_equal(r.a.n_extra_args, 2);
    jail_args_fini(&r.a);
    assert_string_equal(jail_args_version_text(), "Jailer v1.17.0-dev\n\n");
    /* The jailer claims the version squib claims, as upstream's two
     * binaries of one release do. */
    assert_string_equal(JAILER_VERSION, CLI_FIRECRACKER_VERSION);
}

static const char expected_help[] =
    "Jailer v1.17.0-dev\n"
    "\n"
    "required arguments:\n"
    "  --exec-file <exec-file>   File path to exec into.\n"
    "  --gid <gid>               The group identifier the jailer switches "
    "to after exec.\n"
    "  --id <id>                 Jail ID.\n"
    "  --uid <uid>               The user identifier the jailer switches to "
    "after exec.\n"
    "\n"
    "optional arguments:\n"
    "  --cgroup <cgroup>                     Cgroup and value to be set by "
    "the jailer. It must follow this format: <cgroup_file>=<value> (e.g "
    "cpu.shares=10). This argument can be used multiple times to add "
    "multiple cgroups.\n"
    "  --cgroup-version <cgroup-version>     Select the cgroup version used "
    "by the jailer. [default: \"1\"]\n"
    "  --chroot-base-dir <chroot-base-dir>   The base folder where chroot "
    "jails are located. [default: \"/srv/jailer\"]\n"
    "  --daemonize                           Daemonize the jailer before "
    "exec, by invoking setsid(), and redirecting the standard I/O file "
    "descriptors to /dev/null.\n"
    "  --help                                Show the help message.\n"
    "  --netns <netns>                       Path to the network namespace "
    "this microVM should join.\n"
    "  --new-pid-ns                          Exec into a new PID "
    "namespace.\n"
    "  --parent-cgroup <parent-cgroup>       Parent cgroup in which the "
    "cgroup of this microvm will be placed.\n"
    "  --resource-limit <resource-limit>     Resource limit values to be set "
    "by the jailer. It must follow this format: <resource>=<value> (e.g "
    "no-file=1024). This argument can be used multiple times to add "
    "multiple resource limits. Current available resource values are:\n"
    "\t\tfsize: The maximum size in bytes for files created by the "
    "process.\n"
    "\t\tno-file: Specifies a value one greater than the maximum file "
    "descriptor number that can be opened by this process.\n"
    "  --version                             Print the binary version "
    "number.\n"
    "\n"
    "Any arguments after the -- separator will be supplied to the jailed "
    "binary.\n"
    "\n";

static void test_help_text(void **state)
{
    char buf[8192];
    long n;

    (void)state;
    n = jail_args_help_text(buf, sizeof(buf));
    assert_int_equal(n, (long)strlen(expected_help));
    assert_string_equal(buf, expected_help);
    assert_int_equal(jail_args_help_text(buf, 100), -ENOSPC);
}

static void test_utf8(void **state)
{
    char a0[] = "jailer", a1[] = "--id",
         a2[] = "a\xff"
                "b\n";
    char *argv[] = {a0, a1, a2};
    struct jail_err err;

    (void)state;
    assert_int_equal(jail_args_check_utf8(2, argv, &err), 0);
    assert_int_equal(jail_args_check_utf8(3, argv, &err), -EILSEQ);
    assert_string_equal(err.display, "called `Result::unwrap()` on an `Err` "
                                     "value: \"a\\xFFb\\n\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_help_and_version_win),
        cmocka_unit_test(test_help_text),
        cmocka_unit_test(test_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
