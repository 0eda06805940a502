/*
 * test_jailer_env.c: the jailer's checks (src/jailer/env.h) with upstream's
 * texts, and the cgroup and file work (cgroup.h, fs.h, rlimit.h) against a
 * temporary tree that stands in for the cgroup mounts and /proc files.
 *
 * Nothing here needs root: the cgroup "hierarchies" are plain directories
 * named by a fake mounts file.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jailer/args.h"
#include "jailer/cgroup.h"
#include "jailer/env.h"
#include "jailer/fs.h"
#include "jailer/rlimit.h"

static char g_dir[64];          /* the temporary tree */
static char g_exec[PATH_MAX];   /* a regular file standing in for squib */
static char g_mounts[PATH_MAX]; /* the fake mounts file */
static char g_misc[PATH_MAX];   /* the fake /proc/misc */
static const char *g_base;      /* --chroot-base-dir if not NULL */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void read_file(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t got;

    assert_non_null(f);
    got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    fclose(f);
}

static void path_of(char *out, size_t n, const char *rel)
{
    assert_true(snprintf(out, n, "%s/%s", g_dir, rel) < (int)n);
}

static void mkdirs(const char *rel)
{
    char p[PATH_MAX];

    path_of(p, sizeof(p), rel);
    assert_int_equal(jail_mkdir_p(p), 0);
}

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX];

    path_of(p, sizeof(p), rel);
    write_file(p, text);
}

static void get(const char *rel, char *out, size_t n)
{
    char p[PATH_MAX];

    path_of(p, sizeof(p), rel);
    read_file(p, out, n);
}

static int setup(void **state)
{
    char mounts[4096];

    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/jailer-env-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    path_of(g_exec, sizeof(g_exec), "bin/squib");
    mkdirs("bin");
    write_file(g_exec, "#!/bin/true\n");
    mkdirs("base");
    mkdirs("cg/cpu");
    mkdirs("cg/cpuset");
    mkdirs("cg2");
    snprintf(mounts, sizeof(mounts),
             "sysfs /sys sysfs rw 0 0\n"
             "tmpfs /x tmpfs rw 0 0\n"
             "cgroup %s/cg/cpu cgroup rw,relatime,cpu,cpuacct 0 0\n"
             "cgroup %s/cg/cpuset cgroup rw,relatime,cpuset 0 0\n"
             "Cgroup /ignored cgroup rw,memory 0 0\n"
             "cgroup2 %s/cg2 cgroup2 rw,relatime 0 0\n"
             "cgroup2 /second cgroup2 rw 0 0\n",
             g_dir, g_dir, g_dir);
    path_of(g_mounts, sizeof(g_mounts), "mounts");
    write_file(g_mounts, mounts);
    path_of(g_misc, sizeof(g_misc), "misc");
    write_file(g_misc, "200 tun\n 60 some_device\n257 userfaultfd\n");
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Parse words (after the required ones, which use g_exec and the base) and
 * run jail_env_new. */
struct run {
    int rc;
    struct jail_args a;
    struct jail_env env;
    struct jail_err err;
};

static void run_env(struct run *r, const char *id, const char *exec,
                    const char *const *more)
{
    static char store[40][PATH_MAX];
    char *argv[40];
    char base[PATH_MAX];
    int argc = 0;
    enum jail_args_action action;
    const struct jail_host_paths host = {g_mounts, g_misc};
    const char *req[] = {"--id",
                         id,
                         "--exec-file",
                         exec,
                         "--uid",
                         "65534",
                         "--gid",
                         "100",
                         NULL,
                         NULL,
                         "--chroot-base-dir",
                         base};

    if (g_base)
        snprintf(base, sizeof(base), "%s", g_base);
    else
        path_of(base, sizeof(base), "base");
    memset(r, 0, sizeof(*r));
    snprintf(store[argc], PATH_MAX, "jailer");
    argv[argc] = store[argc];
    argc++;
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        if (!req[i])
            continue;
        snprintf(store[argc], PATH_MAX, "%s", req[i]);
        argv[argc] = store[argc];
        argc++;
    }
    for (; more && *more; more++) {
        snprintf(store[argc], PATH_MAX, "%s", *more);
        argv[argc] = store[argc];
        argc++;
    }
    assert_int_equal(jail_args_parse(argc, argv, &r->a, &action, &r->err), 0);
    r->rc = jail_env_new(&r->a, 11, 22, &host, &r->env, &r->err);
}

static void done(struct run *r)
{
    if (r->rc == 0)
        jail_env_fini(&r->env);
    jail_args_fini(&r->a);
}

struct fail_case {
    const char *id;
    const char *more[8];
    const char *display;
    const char *debug;
};

static const struct fail_case fail_cases[] = {
    {"",
     {NULL},
     "Invalid instance ID: Invalid len (0);  the length must be between 1 "
     "and 64",
     "InvalidInstanceId(InvalidLen(0, 1, 64))"},
    {"0123456789012345678901234567890123456789012345678901234567890123X",
     {NULL},
     "Invalid instance ID: Invalid len (65);  the length must be between 1 "
     "and 64",
     "InvalidInstanceId(InvalidLen(65, 1, 64))"},
    {"a_b",
     {NULL},
     "Invalid instance ID: Invalid char (_) at position 1",
     "InvalidInstanceId(InvalidChar('_', 1))"},
    {"\xc3\xbc'",
     {NULL},
     "Invalid instance ID: Invalid char (') at position 1",
     "InvalidInstanceId(InvalidChar('\\'', 1))"},
    {"ok", {"--uid", "x", NULL}, NULL, NULL}, /* duplicate: parse error */
    {"ok",
     {"--cgroup-version", "x", NULL},
     "x is an invalid cgroup version specifier",
     "CgroupInvalidVersion(\"x\")"},
    {"ok",
     {"--cgroup-version", "256", NULL},
     "256 is an invalid cgroup version specifier",
     "CgroupInvalidVersion(\"256\")"},
    {"ok",
     {"--cgroup-version", "3", "--cgroup", "cpu.shares=1", NULL},
     "Hierarchy not found: No hierarchy found for this cgroup version.",
     "CgroupHierarchyMissing(\"No hierarchy found for this cgroup "
     "version.\")"},
    {"ok",
     {"--parent-cgroup", "/abs", NULL},
     "Parent cgroup path is invalid. Path should not be absolute or contain "
     "'..' or '.'",
     "CgroupInvalidParentPath"},
    {"ok",
     {"--parent-cgroup", "a/../b", NULL},
     "Parent cgroup path is invalid. Path should not be absolute or contain "
     "'..' or '.'",
     "CgroupInvalidParentPath"},
    {"ok",
     {"--parent-cgroup", "./a", NULL},
     "Parent cgroup path is invalid. Path should not be absolute or contain "
     "'..' or '.'",
     "CgroupInvalidParentPath"},
    {"ok",
     {"--cgroup", "cpu.shares", NULL},
     "Invalid format for cgroups: cpu.shares",
     "CgroupFormat(\"cpu.shares\")"},
    {"ok",
     {"--cgroup", "cpu.shares=1=2", NULL},
     "Invalid format for cgroups: cpu.shares=1=2",
     "CgroupFormat(\"cpu.shares=1=2\")"},
    {"ok",
     {"--cgroup", "cpu.shares=", NULL},
     "Invalid format for cgroups: cpu.shares=",
     "CgroupFormat(\"cpu.shares=\")"},
    {"ok",
     {"--cgroup", "../cpu.shares=1", NULL},
     "Cgroup invalid file: ../cpu.shares=1",
     "CgroupInvalidFile(\"../cpu.shares=1\")"},
    {"ok",
     {"--cgroup", "cpu=1", NULL},
     "Cgroup invalid file: cpu",
     "CgroupInvalidFile(\"cpu\")"},
    {"ok",
     {"--cgroup", "memory.max=1", NULL},
     "Controller memory is unavailable",
     "CgroupControllerUnavailable(\"memory\")"},
    {"ok",
     {"--cgroup-version", "2", "--cgroup", "io.max=1", NULL},
     "Controller io is unavailable",
     "CgroupControllerUnavailable(\"io\")"},
    {"ok",
     {"--resource-limit", "fsize", NULL},
     "Invalid format for resources limits: fsize",
     "ResLimitFormat(\"fsize\")"},
    {"ok",
     {"--resource-limit", "fsize=x1", NULL},
     "Invalid limit value for resource: x1: invalid digit found in string",
     "ResLimitValue(\"x1\", \"invalid digit found in string\")"},
    {"ok",
     {"--resource-limit", "fsize=", NULL},
     "Invalid limit value for resource: : cannot parse integer from empty "
     "string",
     "ResLimitValue(\"\", \"cannot parse integer from empty string\")"},
    {"ok",
     {"--resource-limit", "no-file=18446744073709551616", NULL},
     "Invalid limit value for resource: 18446744073709551616: number too "
     "large to fit in target type",
     "ResLimitValue(\"18446744073709551616\", \"number too large to fit in "
     "target type\")"},
    {"ok",
     {"--resource-limit", "cpu=1", NULL},
     "Invalid resource argument: cpu",
     "ResLimitArgument(\"cpu\")"},
    /* The cgroup checks come before the resource limits. */
    {"ok",
     {"--resource-limit", "cpu=1", "--cgroup", "x", NULL},
     "Invalid format for cgroups: x",
     "CgroupFormat(\"x\")"},
};

static void test_checks(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fail_cases) / sizeof(fail_cases[0]); i++) {
        const struct fail_case *c = &fail_cases[i];
        struct run r;

        if (!c->display)
            continue;
        run_env(&r, c->id, g_exec, c->more);
        if (r.rc == 0)
            fail_msg("case %zu passed", i);
        assert_string_equal(r.err.display, c->display);
        assert_string_equal(r.err.debug, c->debug);
        done(&r);
    }
}

static void test_paths(void **state)
{
    char p[PATH_MAX], want[PATH_MAX * 2];
    struct run r;

    (void)state;
    run_env(&r, "x", "/nonexistent/squib", NULL);
    assert_int_equal(r.rc, -ENOENT);
    assert_string_equal(r.err.display,
                        "Failed to canonicalize path /nonexistent/squib: No "
                        "such file or directory (os error 2)");
    assert_string_equal(r.err.debug,
                        "Canonicalize(\"/nonexistent/squib\", Os { code: 2, "
                        "kind: NotFound, message: \"No such file or "
                        "directory\" })");
    done(&r);

    path_of(p, sizeof(p), "bin/../bin");
    run_env(&r, "x", p, NULL);
    path_of(want, sizeof(want), "bin is not a file");
    assert_string_equal(r.err.display, want);
    done(&r);

    g_base = g_exec;
    run_env(&r, "x", g_exec, NULL);
    g_base = NULL;
    snprintf(want, sizeof(want), "%s is not a directory", g_exec);
    assert_string_equal(r.err.display, want);
    snprintf(want, sizeof(want), "NotADirectory(\"%s\")", g_exec);
    assert_string_equal(r.err.debug, want);
    done(&r);

    run_env(&r, "vm-1", g_exec, NULL);
    assert_int_equal(r.rc, 0);
    path_of(want, sizeof(want), "base/squib/vm-1/root");
    assert_string_equal(r.env.chroot_dir, want);
    assert_string_equal(r.env.exec_file_name, "squib");
    assert_string_equal(r.env.exec_file_path, g_exec);
    assert_int_equal(r.env.uid, 65534);
    assert_int_equal(r.env.gid, 100);
    assert_int_equal(r.env.start_time_us, 11);
    assert_int_equal(r.env.start_time_cpu_us, 22);
    assert_false(r.env.has_cgroups);
    assert_int_equal(r.env.rlimits.no_file, 2048);
    assert_false(r.env.rlimits.has_file_size);
    assert_true(r.env.has_uffd_minor);
    assert_int_equal(r.env.uffd_minor, 257);
    done(&r);
}

static void test_ids(void **state)
{
    static const char *const bad[] = {"x", "-1", "4294967296", "", "1 "};
    struct jail_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char base[PATH_MAX];
        char a0[] = "jailer", a1[] = "--id", a2[] = "x", a3[] = "--exec-file",
             a5[] = "--uid", a7[] = "--gid", a8[] = "1",
             a9[] = "--chroot-base-dir";
        char a4[PATH_MAX], a6[64];
        char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, base};
        struct jail_args a;
        struct jail_env env;
        enum jail_args_action act;
        const struct jail_host_paths host = {g_mounts, g_misc};
        char want[128];

        path_of(base, sizeof(base), "base");
        snprintf(a4, sizeof(a4), "%s", g_exec);
        snprintf(a6, sizeof(a6), "%s", bad[i]);
        assert_int_equal(jail_args_parse(11, argv, &a, &act, &err), 0);
        assert_true(jail_env_new(&a, 0, 0, &host, &env, &err) < 0);
        snprintf(want, sizeof(want), "Invalid uid: %s", bad[i]);
        assert_string_equal(err.display, want);
        jail_args_fini(&a);
    }
    assert_int_equal(jail_check_id("Ab-9\xc3\xbc", &err), 0);
}

static void test_cg_path_ok(void **state)
{
    unsigned d = 99;

    (void)state;
    assert_true(jail_cg_path_ok("a/./b//c/", &d));
    assert_int_equal(d, 3);
    assert_true(jail_cg_path_ok("", &d));
    assert_int_equal(d, 0);
    assert_false(jail_cg_path_ok(".", NULL));
    assert_false(jail_cg_path_ok("..", NULL));
    assert_false(jail_cg_path_ok("a/..", NULL));
    assert_false(jail_cg_path_ok("/a", NULL));
    assert_true(jail_cg_path_ok("a/.", NULL));
    assert_true(jail_cg_path_ok("..a/b..", NULL));
}

static void test_cgroup_v1_setup(void **state)
{
    const char *const more[] = {
        "--cgroup", "cpu.shares=512",        "--cgroup",        "cpuset.mems=0",
        "--cgroup", "cpu.cfs_quota_us=1000", "--parent-cgroup", "p",
        NULL};
    char buf[256], want[64];
    struct run r;

    (void)state;
    /* What cgroupfs shows: the root's values, empty files in the parent. */
    put("cg/cpu/cpu.shares", "1024\n");
    put("cg/cpu/cpu.cfs_quota_us", "-1\n");
    mkdirs("cg/cpu/p");
    put("cg/cpu/p/cpu.shares", "");
    put("cg/cpu/p/cpu.cfs_quota_us", "-1\n");
    put("cg/cpuset/cpuset.mems", "0\n");
    mkdirs("cg/cpuset/p");
    put("cg/cpuset/p/cpuset.mems", "");

    run_env(&r, "vm", g_exec, more);
    assert_int_equal(r.rc, 0);
    assert_true(r.env.has_cgroups);
    assert_int_equal(r.env.cgroups.n_groups, 2);
    assert_int_equal(jail_cgroups_setup(&r.env.cgroups, 4242, &r.err), 0);

    /* The empty parent file was filled from its own parent... */
    get("cg/cpu/p/cpu.shares", buf, sizeof(buf));
    assert_string_equal(buf, "1024\n");
    get("cg/cpuset/p/cpuset.mems", buf, sizeof(buf));
    assert_string_equal(buf, "0\n");
    /* ...and the values written after. */
    get("cg/cpu/p/vm/cpu.shares", buf, sizeof(buf));
    assert_string_equal(buf, "512\n");
    get("cg/cpu/p/vm/cpu.cfs_quota_us", buf, sizeof(buf));
    assert_string_equal(buf, "1000\n");
    snprintf(want, sizeof(want), "4242\n");
    get("cg/cpu/p/vm/tasks", buf, sizeof(buf));
    assert_string_equal(buf, want);
    get("cg/cpuset/p/vm/tasks", buf, sizeof(buf));
    assert_string_equal(buf, want);
    done(&r);
}

static void test_cgroup_v1_inherit_fails(void **state)
{
    const char *const more[] = {"--cgroup", "cpu.rt_runtime_us=5",
                                "--parent-cgroup", "q", NULL};
    char want[PATH_MAX * 2];
    struct run r;

    (void)state;
    put("cg/cpu/cpu.rt_runtime_us", "");
    mkdirs("cg/cpu/q");
    put("cg/cpu/q/cpu.rt_runtime_us", "");
    run_env(&r, "vm", g_exec, more);
    assert_int_equal(r.rc, 0);
    assert_true(jail_cgroups_setup(&r.env.cgroups, 1, &r.err) < 0);
    snprintf(want, sizeof(want),
             "Failed to inherit cgroups configurations from file "
             "cpu.rt_runtime_us in path %s/cg/cpu/q/vm",
             g_dir);
    assert_string_equal(r.err.display, want);
    done(&r);
}

static void test_cgroup_v2_setup(void **state)
{
    const char *const more[] = {"--cgroup-version",
                                "2",
                                "--cgroup",
                                "cpu.weight=50",
                                "--cgroup",
                                "cpu.max=1000 10000",
                                "--cgroup",
                                "memory.max=1000000",
                                NULL};
    char buf[256];
    struct run r;

    (void)state;
    put("cg2/cgroup.controllers", "cpu memory pids\n");
    put("cg2/cgroup.subtree_control", "");
    mkdirs("cg2/squib");
    put("cg2/squib/cgroup.subtree_control", "");
    run_env(&r, "vm2", g_exec, more);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.env.cgroups.n_groups, 1);
    assert_int_equal(jail_cgroups_setup(&r.env.cgroups, 77, &r.err), 0);
    /* Each controller enabled once, top down (the last write shows). */
    get("cg2/cgroup.subtree_control", buf, sizeof(buf));
    assert_string_equal(buf, "+memory\n");
    get("cg2/squib/cgroup.subtree_control", buf, sizeof(buf));
    assert_string_equal(buf, "+memory\n");
    get("cg2/squib/vm2/cpu.max", buf, sizeof(buf));
    assert_string_equal(buf, "1000 10000\n");
    get("cg2/squib/vm2/cgroup.procs", buf, sizeof(buf));
    assert_string_equal(buf, "77\n");
    done(&r);
}

static void test_cgroup_v2_move_to_parent(void **state)
{
    const char *const more[] = {"--cgroup-version", "2", "--parent-cgroup",
                                "given", NULL};
    char buf[64], want[32];
    struct run r;

    (void)state;
    /* The parent does not exist: nothing happens. */
    run_env(&r, "vm3", g_exec, more);
    assert_int_equal(r.rc, 0);
    assert_false(r.env.has_cgroups);
    done(&r);
    /* It exists: this process is moved in (no newline, as upstream). */
    mkdirs("cg2/given");
    run_env(&r, "vm3", g_exec, more);
    assert_int_equal(r.rc, 0);
    get("cg2/given/cgroup.procs", buf, sizeof(buf));
    snprintf(want, sizeof(want), "%d", (int)getpid());
    assert_string_equal(buf, want);
    done(&r);
}

static void test_rlimits(void **state)
{
    const char *const ok[] = {"fsize=+10", "no-file=5", "no-file=7"};
    struct jail_rlimits rl;
    struct jail_err err;
    uint64_t v;
    const char *why;

    (void)state;
    jail_rlimits_init(&rl);
    assert_int_equal(jail_rlimits_parse(&rl, ok, 3, &err), 0);
    assert_true(rl.has_file_size);
    assert_int_equal(rl.file_size, 10);
    assert_int_equal(rl.no_file, 7);
    assert_int_equal(jail_parse_uint("255", 255, &v, &why), 0);
    assert_int_equal(jail_parse_uint("256", 255, &v, &why), -EINVAL);
    assert_string_equal(why, "number too large to fit in target type");
    assert_int_equal(jail_parse_uint("+", 255, &v, &why), -EINVAL);
    assert_string_equal(why, "invalid digit found in string");
    assert_int_equal(jail_parse_uint("-0", 255, &v, &why), -EINVAL);
    assert_string_equal(why, "invalid digit found in string");
}

static void test_fs_helpers(void **state)
{
    char p[PATH_MAX], buf[64], dir[PATH_MAX];
    struct jail_err err;
    uint32_t minor = 0;
    struct stat st;

    (void)state;
    /* readln drops the last character, whatever it is. */
    put("line", "abc");
    path_of(p, sizeof(p), "line");
    assert_int_equal(jail_readln(p, buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "ab");
    path_of(p, sizeof(p), "nope");
    assert_int_equal(jail_readln(p, buf, sizeof(buf), &err), -ENOENT);
    assert_non_null(strstr(err.display, "Failed to read file "));
    assert_non_null(strstr(err.display, "nope into a string: No such file"));

    /* The pid file must be new. */
    path_of(p, sizeof(p), "x.pid");
    assert_int_equal(jail_write_pid_file(p, 123, &err), 0);
    read_file(p, buf, sizeof(buf));
    assert_string_equal(buf, "123");
    assert_int_equal(jail_write_pid_file(p, 124, &err), -EEXIST);
    assert_non_null(strstr(err.display, "Failed to open file "));
    assert_non_null(strstr(err.display, "File exists (os error 17)"));

    /* The exec copy keeps the mode and refuses a hard-linked target. */
    assert_int_equal(chmod(g_exec, 0751), 0);
    mkdirs("jail");
    path_of(dir, sizeof(dir), "jail");
    assert_int_equal(
        jail_copy_exec(g_exec, dir, "squib", getuid(), getgid(), &err), 0);
    path_of(p, sizeof(p), "jail/squib");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0751);
    assert_int_equal(st.st_size, strlen("#!/bin/true\n"));
    path_of(buf, sizeof(buf), "jail/link");
    assert_int_equal(link(p, buf), 0);
    assert_true(jail_copy_exec(g_exec, dir, "squib", getuid(), getgid(), &err) <
                0);
    assert_non_null(strstr(err.display, "Detected hard link at: "));

    /* /proc/misc: the leading-space line is skipped as upstream skips it. */
    assert_int_equal(jail_uffd_minor(g_misc, &minor), 0);
    assert_int_equal(minor, 257);
    put("misc2", " 99 userfaultfd\n");
    path_of(p, sizeof(p), "misc2");
    assert_int_equal(jail_uffd_minor(p, &minor), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_cg_path_ok),
        cmocka_unit_test(test_cgroup_v1_setup),
        cmocka_unit_test(test_cgroup_v1_inherit_fails),
        cmocka_unit_test(test_cgroup_v2_setup),
        cmocka_unit_test(test_cgroup_v2_move_to_parent),
        cmocka_unit_test(test_rlimits),
        cmocka_unit_test(test_fs_helpers),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
