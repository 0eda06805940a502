/*
 * test_seccomp.c: the seccomp mechanism of util/seccomp.c, applied to the
 * built-in policy of vmm/seccomp_rules.c.
 *
 * Every filter is installed in a forked child (a filter cannot be removed),
 * which then makes one call and reports through its exit status: 0 when the
 * call went through (whatever the call itself returned), the syscall
 * number from a SIGSYS handler (through a pipe) when the filter trapped it. The
 * custom JSON format is checked for its accepted shapes and for each error
 * text.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/seccomp.h"
#include "util/seccomp_bitcode.h"
#include "util/sort.h"
#include "vmm/seccomp_rules.h"

/* Sanitizer builds widen every list (docs/seccomp.md). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#endif

/* What the child does after installing its filter. */
enum probe {
    P_NOTHING,
    P_GETPGRP,             /* in no built-in list */
    P_WRITE,               /* everyone logs */
    P_GETPID,              /* the logger's thread check */
    P_MALLOC_BIG,          /* mmap(PRIVATE|ANONYMOUS) + munmap */
    P_MMAP_EXEC,           /* never allowed */
    P_KVM_RUN,             /* vcpu: allowed request number */
    P_KVM_CREATE_VM,       /* nobody after boot */
    P_TUNSETOFFLOAD,       /* vcpu: virtio-net activation; vmm: net hot-plug */
    P_FCNTL_SETFD,         /* vmm: F_SETFD FD_CLOEXEC */
    P_FCNTL_DUPFD,         /* nobody */
    P_FCNTL_DUPFD_CLOEXEC, /* vmm: a hot-plugged device's copy of its fd */
    P_SOCKET_UNIX,         /* vmm: AF_UNIX stream, cloexec */
    P_SOCKET_INET,         /* nobody */
    P_ACCEPT4_API,         /* api: CLOEXEC|NONBLOCK */
    P_ACCEPT4_PLAIN,       /* api: flags 0 refused */
    P_OPENAT,              /* vmm only */
    P_THREAD_KICK,         /* vmm: tgkill with the kick signal */
    P_CLOCK_GETTIME,       /* the real syscall, not the vDSO */
    P_X32_GETPID,          /* getpid through the x32 ABI */
    P_NANOSLEEP,           /* nobody (a test build's hook adds it) */
    P_SORT_BIG, /* sq_sort of 64 KiB: everyone (its buffer is mmap) */
    P_SYSINFO,  /* nobody: why src/ may not call qsort (sort.h) */
};

/* The child's end of the report pipe (a forked child's own copy). */
static int g_report_fd = -1;

/* Report the trapped syscall number through the pipe, then exit 200. */
static void on_sigsys(int sig, siginfo_t *info, void *uc)
{
    int nr = info->si_syscall;

    (void)sig;
    (void)uc;
    (void)!write(g_report_fd, &nr, sizeof(nr));
    _exit(200);
}

static void child_init(int report_fd)
{
    struct sigaction sa;

    g_report_fd = report_fd;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
}

/* The parent's view of a child's end: exit status, or TRAPPED(nr). */
static int child_result(pid_t pid, int *fds)
{
    int st, nr = -1;

    close(fds[1]);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st)) {
        close(fds[0]);
        return -1;
    }
    if (WEXITSTATUS(st) == 200 &&
        read(fds[0], &nr, sizeof(nr)) == (ssize_t)sizeof(nr)) {
        close(fds[0]);
        return 1000 + nr;
    }
    close(fds[0]);
    return WEXITSTATUS(st);
}

static int cmp_u32_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x < y) - (x > y);
}

/* What a balloon inflate of 16384 page frames sorts (balloon_util.c). */
static void sort_big(void)
{
    enum { N = 16384 };
    uint32_t *v = malloc(N * sizeof(*v));

    if (!v)
        _exit(3);
    for (uint32_t i = 0; i < N; i++)
        v[i] = i * 2654435761u;
    sq_sort(v, N, sizeof(*v), cmp_u32_desc);
    for (uint32_t i = 1; i < N; i++)
        if (v[i - 1] < v[i])
            _exit(4);
    free(v);
}

static void run_probe(enum probe p)
{
    static const char msg[] = "";
    void *m;

    switch (p) {
    case P_NOTHING:
        break;
    case P_GETPGRP:
        syscall(SYS_getpgrp);
        break;
    case P_WRITE:
        (void)!write(STDERR_FILENO, msg, 0);
        break;
    case P_GETPID:
        syscall(SYS_getpid);
        break;
    case P_SORT_BIG:
        sort_big();
        break;
    case P_SYSINFO:
        syscall(SYS_sysinfo, NULL);
        break;
    case P_MALLOC_BIG:
        m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED)
            munmap(m, 1 << 20);
        break;
    case P_MMAP_EXEC:
        mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
             0);
        break;
    case P_KVM_RUN:
        ioctl(-1, KVM_RUN, 0);
        break;
    case P_TUNSETOFFLOAD:
        ioctl(-1, TUNSETOFFLOAD, 0);
        break;
    case P_KVM_CREATE_VM:
        ioctl(-1, KVM_CREATE_VM, 0);
        break;
    case P_FCNTL_SETFD:
        fcntl(STDIN_FILENO, F_SETFD, FD_CLOEXEC);
        break;
    case P_FCNTL_DUPFD:
        fcntl(STDIN_FILENO, F_DUPFD, 100);
        break;
    case P_FCNTL_DUPFD_CLOEXEC:
        close(fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 100));
        break;
    case P_SOCKET_UNIX:
        close(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        break;
    case P_SOCKET_INET:
        socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        break;
    case P_ACCEPT4_API:
        accept4(-1, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        break;
    case P_ACCEPT4_PLAIN:
        accept4(-1, NULL, NULL, 0);
        break;
    case P_OPENAT:
        close(open("/dev/null", O_RDONLY | O_CLOEXEC));
        break;
    case P_THREAD_KICK:
        /* To a thread id that does not exist: the filter decides first. */
        syscall(SYS_tgkill, getpid(), 0x7fffffff, SIGRTMIN);
        break;
    case P_X32_GETPID:
        syscall(0x40000000 | SYS_getpid);
        break;
    case P_NANOSLEEP: {
        struct timespec ts = {0, 1};

        syscall(SYS_nanosleep, &ts, NULL);
        break;
    }
    case P_CLOCK_GETTIME: {
        struct timespec ts;

        syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
        break;
    }
    }
}

/*
 * Fork; the child installs `prog` (or, when prog is NULL, calls
 * seccomp_enter(kind)) and runs the probe. Returns the child's exit status
 * (0: the call went through; nr + 1: trapped on syscall nr), or -1 if the
 * child died otherwise.
 */
static int in_child(const struct seccomp_prog *prog, enum seccomp_thread kind,
                    enum probe p)
{
    int fds[2];
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_init(fds[1]);
        if (prog ? seccomp_prog_install(prog) : seccomp_enter(kind))
            _exit(254);
        run_probe(p);
        _exit(0);
    }
    return child_result(pid, fds);
}

#define TRAPPED(nr) (1000 + (nr))

static struct seccomp_policy g_pol;
static struct seccomp_filters g_def;
/* g_def's programs as seccomp_setup() takes them (borrowed from g_def). */
static struct seccomp_static_filters g_def_static;

static int setup_default(void **state)
{
    struct sq_err err;

    (void)state;
    sq_err_clear(&err);
    seccomp_rules_default(&g_pol);
    assert_int_equal(seccomp_policy_compile(&g_pol, &g_def, &err), 0);
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        g_def_static.prog[i].insns = g_def.prog[i].insns;
        g_def_static.prog[i].n_insns = g_def.prog[i].n_insns;
    }
    return 0;
}

static int teardown_default(void **state)
{
    (void)state;
    seccomp_filters_fini(&g_def);
    seccomp_policy_fini(&g_pol);
    return 0;
}

static void test_default_programs_fit(void **state)
{
    (void)state;
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        assert_non_null(g_def.prog[i].insns);
        assert_true(g_def.prog[i].n_insns > 10);
        assert_true(g_def.prog[i].n_insns <= SECCOMP_MAX_INSNS);
    }
    assert_string_equal(seccomp_thread_name(SECCOMP_THREAD_VMM), "vmm");
    assert_string_equal(seccomp_thread_name(SECCOMP_THREAD_API), "api");
    assert_string_equal(seccomp_thread_name(SECCOMP_THREAD_VCPU), "vcpu");
}

/* The table: which probe each default filter lets through. */
static const struct {
    enum probe p;
    int nr; /* the syscall trapped, when trapped */
    bool vmm, api, vcpu;
} cases[] = {
    {P_NOTHING, 0, true, true, true},
    {P_WRITE, SYS_write, true, true, true},
    {P_GETPID, SYS_getpid, true, true, true},
    {P_CLOCK_GETTIME, SYS_clock_gettime, true, true, true},
    {P_MALLOC_BIG, SYS_mmap, true, true, true},
    {P_GETPGRP, SYS_getpgrp, false, false, false},
    {P_MMAP_EXEC, SYS_mmap, false, false, false},
    {P_KVM_RUN, SYS_ioctl, false, false, true},
    {P_KVM_CREATE_VM, SYS_ioctl, false, false, false},
    {P_TUNSETOFFLOAD, SYS_ioctl, true, false, true},
    {P_FCNTL_SETFD, SYS_fcntl, true, false, false},
    {P_FCNTL_DUPFD, SYS_fcntl, false, false, false},
    {P_FCNTL_DUPFD_CLOEXEC, SYS_fcntl, true, false, false},
    {P_SOCKET_UNIX, SYS_socket, true, false, false},
    {P_SOCKET_INET, SYS_socket, false, false, false},
    {P_ACCEPT4_API, SYS_accept4, true, true, false},
    {P_ACCEPT4_PLAIN, SYS_accept4, false, false, false},
    {P_OPENAT, SYS_openat, true, false, false},
    {P_NANOSLEEP, SYS_nanosleep, false, false, false},
    {P_SORT_BIG, SYS_mmap, true, true, true},
    {P_SYSINFO, SYS_sysinfo, false, false, false},
};

static void check_kind(enum seccomp_thread kind)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool allowed = kind == SECCOMP_THREAD_VMM   ? cases[i].vmm
                       : kind == SECCOMP_THREAD_API ? cases[i].api
                                                    : cases[i].vcpu;
        int got = in_child(&g_def.prog[kind], kind, cases[i].p);

#ifdef SANITIZED
        /* The sanitizer list widens openat and mmap flags for the ASan
         * runtime (docs/seccomp.md); exec mappings stay refused. */
        if (cases[i].p == P_OPENAT || cases[i].p == P_NANOSLEEP)
            allowed = true;
#endif
        if (got != (allowed ? 0 : TRAPPED(cases[i].nr)))
            fail_msg("%s filter, case %zu: child status %d, expected %d",
                     seccomp_thread_name(kind), i, got,
                     allowed ? 0 : TRAPPED(cases[i].nr));
    }
}

static void test_vmm_table(void **state)
{
    (void)state;
    check_kind(SECCOMP_THREAD_VMM);
}

static void test_api_table(void **state)
{
    (void)state;
    check_kind(SECCOMP_THREAD_API);
}

static void test_vcpu_table(void **state)
{
    (void)state;
    check_kind(SECCOMP_THREAD_VCPU);
}

static void test_vmm_kicks_vcpus_only(void **state)
{
    (void)state;
    /* The kick signal may be sent to a thread (ESRCH here: no such tid),
     * but not by the api or vcpu threads. */
    assert_int_equal(in_child(&g_def.prog[SECCOMP_THREAD_VMM],
                              SECCOMP_THREAD_VMM, P_THREAD_KICK),
                     0);
#ifndef SANITIZED
    /* (Sanitizer builds allow tgkill everywhere: docs/seccomp.md.) */
    assert_int_equal(in_child(&g_def.prog[SECCOMP_THREAD_API],
                              SECCOMP_THREAD_API, P_THREAD_KICK),
                     TRAPPED(SYS_tgkill));
#endif
}

static void test_enter_without_setup_installs_nothing(void **state)
{
    (void)state;
    /* Unit tests that run vCPU and api threads never call setup. */
    assert_int_equal(in_child(NULL, SECCOMP_THREAD_VCPU, P_GETPGRP), 0);
}

/* The kind whose seccomp_enter() calls getpgrp() (test_entered_hook). */
static int g_trap_kind = -1;

static void trap_entered(enum seccomp_thread kind)
{
    if ((int)kind == g_trap_kind)
        syscall(SYS_getpgrp);
}

/* Setup and enter in the child: the process-wide path main.c uses. */
static int setup_then_enter(bool no_seccomp, const char *path,
                            enum seccomp_thread kind, enum probe p)
{
    int fds[2];
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sq_err err;

        child_init(fds[1]);
        if (seccomp_setup(no_seccomp, path, &g_def_static, trap_entered, &err) <
            0)
            _exit(253);
        if (seccomp_enter(kind) < 0)
            _exit(254);
        run_probe(p);
        _exit(0);
    }
    return child_result(pid, fds);
}

static void test_setup_default_and_no_seccomp(void **state)
{
    (void)state;
    g_trap_kind = -1;
    assert_int_equal(
        setup_then_enter(false, NULL, SECCOMP_THREAD_API, P_GETPGRP),
        TRAPPED(SYS_getpgrp));
    assert_int_equal(setup_then_enter(false, NULL, SECCOMP_THREAD_API, P_WRITE),
                     0);
    assert_int_equal(
        setup_then_enter(true, NULL, SECCOMP_THREAD_API, P_GETPGRP), 0);
}

static void test_entered_hook(void **state)
{
    (void)state;
    /* seccomp_enter() calls the hook given to seccomp_setup() right after
     * the filter (here: getpgrp() in the vcpu kind only). */
    g_trap_kind = SECCOMP_THREAD_VCPU;
    assert_int_equal(
        setup_then_enter(false, NULL, SECCOMP_THREAD_VCPU, P_NOTHING),
        TRAPPED(SYS_getpgrp));
    assert_int_equal(
        setup_then_enter(false, NULL, SECCOMP_THREAD_VMM, P_NOTHING), 0);
    /* Under --no-seccomp the forbidden call simply runs. */
    assert_int_equal(
        setup_then_enter(true, NULL, SECCOMP_THREAD_VCPU, P_NOTHING), 0);
    g_trap_kind = -1;
}

/* ---------------------------------------------------------------------- */
/* Custom JSON filters                                                     */

/* ASan's _exit() interceptor tears the alternate signal stack down. */
#ifdef SANITIZED
#define SAN_EXIT_RULES                                                         \
    "{\"syscall\": \"sigaltstack\"},{\"syscall\": \"munmap\"},"
#else
#define SAN_EXIT_RULES ""
#endif

/* A category that allows what a forked child needs to run a probe and
 * exit, plus `extra` rules (a JSON fragment starting with a comma). */
static char *category(const char *def, const char *extra)
{
    char *s = NULL;

    assert_true(asprintf(&s,
                         "{\"default_action\": %s, \"filter_action\": "
                         "\"allow\", \"filter\": [" SAN_EXIT_RULES
                         "{\"syscall\": \"exit_group\"},"
                         "{\"syscall\": \"write\", \"comment\": "
                         "\"the test's SIGSYS report\"},"
                         "{\"syscall\": \"exit\", \"comment\": \"threads\"},"
                         "{\"syscall\": \"rt_sigreturn\"}%s]}",
                         def, extra) > 0);
    return s;
}

static char *document(const char *vmm, const char *api, const char *vcpu)
{
    char *s = NULL;

    assert_true(asprintf(&s, "{\"vmm\": %s, \"api\": %s, \"vcpu\": %s}", vmm,
                         api, vcpu) > 0);
    return s;
}

static int parse(const char *doc, struct seccomp_filters *f, struct sq_err *err)
{
    sq_err_clear(err);
    return seccomp_filters_from_json(doc, strlen(doc), f, err);
}

static void test_json_custom_filter_semantics(void **state)
{
    struct seccomp_filters f;
    struct sq_err err;
    char *vmm = category("\"trap\"",
                         ",{\"syscall\": \"fcntl\", \"args\": ["
                         "{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\", "
                         "\"val\": 2, \"comment\": \"F_SETFD\"},"
                         "{\"index\": 2, \"type\": \"dword\", \"op\": "
                         "{\"masked_eq\": 1}, \"val\": 1}]}");
    char *api = category("{\"errno\": 1}", "");
    char *vcpu = category("\"trap\"", ",{\"syscall\": \"getpgrp\"}");
    char *doc = document(vmm, api, vcpu);

    (void)state;
    assert_int_equal(parse(doc, &f, &err), 0);
    /* vmm: F_SETFD FD_CLOEXEC passes, F_DUPFD and getpid trap. */
    assert_int_equal(in_child(&f.prog[0], 0, P_FCNTL_SETFD), 0);
    assert_int_equal(in_child(&f.prog[0], 0, P_FCNTL_DUPFD),
                     TRAPPED(SYS_fcntl));
    assert_int_equal(in_child(&f.prog[0], 0, P_GETPID), TRAPPED(SYS_getpid));
    /* api: the default action is an errno, not a trap. */
    assert_int_equal(in_child(&f.prog[1], 1, P_GETPGRP), 0);
    /* vcpu: only what it lists. */
    assert_int_equal(in_child(&f.prog[2], 2, P_GETPGRP), 0);
    assert_int_equal(in_child(&f.prog[2], 2, P_GETPID), TRAPPED(SYS_getpid));
    seccomp_filters_fini(&f);
    free(vmm);
    free(api);
    free(vcpu);
    free(doc);
}

static void test_json_other_abi_always_traps(void **state)
{
    static const char allow_all[] =
        "{\"default_action\": \"allow\", \"filter_action\": \"trap\", "
        "\"filter\": []}";
    char *doc = document(allow_all, allow_all, allow_all);
    struct seccomp_filters f;
    struct sq_err err;

    (void)state;
    assert_int_equal(parse(doc, &f, &err), 0);
    assert_int_equal(in_child(&f.prog[0], 0, P_GETPGRP), 0);
    assert_int_equal(in_child(&f.prog[0], 0, P_X32_GETPID),
                     TRAPPED(0x40000000 | SYS_getpid));
    /* The built-in lists too. */
    assert_int_equal(in_child(&g_def.prog[0], 0, P_X32_GETPID),
                     TRAPPED(0x40000000 | SYS_getpid));
    seccomp_filters_fini(&f);
    free(doc);
}

static void test_defaults_json_round_trip(void **state)
{
    struct buf b = BUF_INIT;
    struct seccomp_filters f;
    struct sq_err err;

    (void)state;
    seccomp_policy_json(&g_pol, &b);
    sq_err_clear(&err);
    if (seccomp_filters_from_json(b.data, b.len, &f, &err) != 0)
        fail_msg("%s", err.msg);
    /* The same rules in the same order: the same BPF, byte for byte. */
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        assert_int_equal(f.prog[i].n_insns, g_def.prog[i].n_insns);
        assert_memory_equal(f.prog[i].insns, g_def.prog[i].insns,
                            g_def.prog[i].n_insns * 8);
    }
    seccomp_filters_fini(&f);
    buf_fini(&b);
}

static void test_json_upstream_shape(void **state)
{
    /* An excerpt in the exact shape of upstream's
     * resources/seccomp/x86_64-unknown-linux-musl.json, categories in
     * mixed case (upstream lower-cases them). */
    static const char doc[] =
        "{\n"
        "  \"Vmm\": {\"default_action\": \"trap\", \"filter_action\": "
        "\"allow\", \"filter\": [\n"
        "    {\"syscall\": \"epoll_pwait\"},\n"
        "    {\"syscall\": \"accept4\", \"comment\": \"vsock\", \"args\": "
        "[{\"index\": 3, \"type\": \"dword\", \"op\": \"eq\", \"val\": "
        "524288, \"comment\": \"libc::SOCK_CLOEXEC\"}]},\n"
        "    {\"syscall\": \"mmap\", \"args\": [{\"index\": 3, \"type\": "
        "\"dword\", \"op\": \"eq\", \"val\": 34}, {\"index\": 2, \"type\": "
        "\"dword\", \"op\": {\"masked_eq\": 4}, \"val\": 0, \"comment\": "
        "\"Ensure PROT_EXEC is not set\"}]}\n"
        "  ]},\n"
        "  \"api\": {\"default_action\": \"kill_process\", "
        "\"filter_action\": \"allow\", \"filter\": []},\n"
        "  \"vcpu\": {\"default_action\": \"log\", \"filter_action\": "
        "\"allow\", \"filter\": [{\"syscall\": \"ioctl\", \"args\": "
        "[{\"index\": 1, \"type\": \"qword\", \"op\": \"ge\", \"val\": 1}]}]}\n"
        "}\n";
    struct seccomp_filters f;
    struct sq_err err;

    (void)state;
    assert_int_equal(parse(doc, &f, &err), 0);
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++)
        assert_true(f.prog[i].n_insns > 0);
    seccomp_filters_fini(&f);
}

static void test_json_errors(void **state)
{
    static const struct {
        const char *doc;
        const char *msg;
    } bad[] = {
        {"", "Filter deserialization failed: EOF while parsing a value at "
             "line 1 column 0"},
        {"[]", "Filter deserialization failed: the document must be an "
               "object with keys \"vmm\", \"api\" and \"vcpu\""},
        {"{\"vmm\": {}, \"api\": {}, \"vcpu\": {}, \"zz\": {}, \"aa\": {}}",
         "Invalid thread categories: aa,zz"},
        {"{\"vmm\": {}, \"api\": {}}", "Missing thread category: vcpu"},
        {"{\"vmm\": {\"default_action\": \"nope\", \"filter_action\": "
         "\"allow\", \"filter\": []}, \"api\": {}, \"vcpu\": {}}",
         "Filter deserialization failed: vmm: invalid default_action "
         "(expected \"allow\", \"trap\", \"kill_thread\", \"kill_process\", "
         "\"log\", {\"errno\": N} or {\"trace\": N})"},
        {"{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": "
         "\"allow\"}, \"api\": {}, \"vcpu\": {}}",
         "Filter deserialization failed: vmm: \"filter\" must be an array"},
        {"{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": "
         "\"allow\", \"filter\": [{\"syscall\": \"no_such_call\"}]}, "
         "\"api\": {}, \"vcpu\": {}}",
         "Filter deserialization failed: vmm: filter[0]: unknown syscall "
         "\"no_such_call\" on x86_64"},
        {"{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": "
         "\"allow\", \"filter\": [{\"syscall\": \"read\"}, {\"syscall\": "
         "\"ioctl\", \"args\": [{\"index\": 6, \"type\": \"dword\", \"op\": "
         "\"eq\", \"val\": 1}]}]}, \"api\": {}, \"vcpu\": {}}",
         "Filter deserialization failed: vmm: filter[1]: \"index\" must be "
         "an integer from 0 to 5"},
        {"{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": "
         "\"allow\", \"filter\": [{\"syscall\": \"ioctl\", \"args\": "
         "[{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\", \"val\": "
         "4294967296}]}]}, \"api\": {}, \"vcpu\": {}}",
         "Filter deserialization failed: vmm: filter[0]: \"val\" must be an "
         "unsigned integer that fits the type"},
        {"{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": "
         "\"allow\", \"filter\": [{\"syscall\": \"ioctl\", \"args\": "
         "[{\"index\": 1, \"type\": \"byte\", \"op\": \"eq\", \"val\": 1}]}]},"
         " \"api\": {}, \"vcpu\": {}}",
         "Filter deserialization failed: vmm: filter[0]: \"type\" must be "
         "\"dword\" or \"qword\""},
        {"{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": "
         "\"allow\", \"filter\": [{\"syscall\": \"ioctl\", \"args\": "
         "[{\"index\": 1, \"type\": \"dword\", \"op\": \"like\", \"val\": "
         "1}]}]}, \"api\": {}, \"vcpu\": {}}",
         "Filter deserialization failed: vmm: filter[0]: \"op\" must be one "
         "of \"eq\", \"ne\", \"lt\", \"le\", \"gt\", \"ge\" or "
         "{\"masked_eq\": MASK}"},
        {"{\"vmm\": {\"default_action\": \"allow\", \"filter_action\": "
         "\"allow\", \"filter\": []}, \"api\": {}, \"vcpu\": {}}",
         "Filter deserialization failed: vmm: filter_action must differ "
         "from default_action"},
        {"{\"vmm\": 1, \"api\": {}, \"vcpu\": {}}",
         "Filter deserialization failed: vmm: must be an object"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct seccomp_filters f;
        struct sq_err err;

        assert_int_equal(parse(bad[i].doc, &f, &err), -EINVAL);
        if (strcmp(err.msg, bad[i].msg) != 0)
            fail_msg("case %zu: got \"%s\"", i, err.msg);
        for (int k = 0; k < SECCOMP_THREAD_COUNT; k++)
            assert_null(f.prog[k].insns);
    }
}

static void test_file_errors(void **state)
{
    char dir[] = "/tmp/squib-test-seccomp-XXXXXX", path[128];
    struct seccomp_filters f;
    struct sq_err err;
    char *big;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/missing.json", dir);
    sq_err_clear(&err);
    assert_int_equal(seccomp_filters_from_file(path, &f, &err), -ENOENT);
    assert_string_equal(err.msg, "Filter file open error: No such file or "
                                 "directory (os error 2)");

    snprintf(path, sizeof(path), "%s/big.json", dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    big = calloc(1, SECCOMP_MAX_FILE_SIZE + 10);
    memset(big, ' ', SECCOMP_MAX_FILE_SIZE + 10);
    big[3] = '{'; /* JSON: its first byte past the whitespace is '{' */
    assert_int_equal(fwrite(big, 1, SECCOMP_MAX_FILE_SIZE + 10, fp),
                     SECCOMP_MAX_FILE_SIZE + 10);
    fclose(fp);
    free(big);
    sq_err_clear(&err);
    assert_int_equal(seccomp_filters_from_file(path, &f, &err), -EFBIG);
    assert_non_null(strstr(err.msg, "Filter deserialization failed: Input "
                                    "size "));
    assert_non_null(strstr(err.msg, " exceeds limit of 1048576 bytes"));
    unlink(path);

    /* A valid file through seccomp_setup: the whole process path. */
    snprintf(path, sizeof(path), "%s/ok.json", dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    {
        char *c = category("\"trap\"", ",{\"syscall\": \"getpgrp\"}");
        char *d = document(c, c, c);

        fputs(d, fp);
        free(c);
        free(d);
    }
    fclose(fp);
    assert_int_equal(
        setup_then_enter(false, path, SECCOMP_THREAD_API, P_GETPGRP), 0);
    assert_int_equal(
        setup_then_enter(false, path, SECCOMP_THREAD_API, P_GETPID),
        TRAPPED(SYS_getpid));
    unlink(path);
    rmdir(dir);
}

static void test_install_empty_and_too_long(void **state)
{
    struct seccomp_prog empty = {NULL, 0};
    struct seccomp_prog huge = {g_def.prog[0].insns, SECCOMP_MAX_INSNS + 1};

    (void)state;
    /* Empty installs nothing, so the child can call anything. */
    assert_int_equal(in_child(&empty, 0, P_GETPGRP), 0);
    /* Rejected before prctl, in the child (the parent stays unfiltered). */
    assert_int_equal(in_child(&huge, 0, P_NOTHING), 254);
}

/* ---------------------------------------------------------------------- */
/* Compiled filter files (upstream's bitcode format)                       */

#define FIXTURES "tests/fixtures/seccomp_bitcode/"
#define BITCODE_ERR                                                            \
    "Filter deserialization failed: Bitcode deserialization failed: "          \
    "bitcode error"

static int load(const char *path, struct seccomp_filters *f, struct sq_err *err)
{
    sq_err_clear(err);
    return seccomp_filters_from_file(path, f, err);
}

/* Write n bytes to dir/name; returns the path (static buffer). */
static const char *write_file(const char *dir, const char *name,
                              const void *data, size_t n)
{
    static char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    if (n)
        assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
    return path;
}

/* Encode entries (name, program) as a compiled file at dir/name. */
static const char *write_compiled(const char *dir, const char *name,
                                  const struct seccomp_bitcode_prog *progs,
                                  size_t n)
{
    struct buf b = BUF_INIT;
    const char *path;

    seccomp_bitcode_encode(progs, n, &b);
    path = write_file(dir, name, b.data, b.len);
    buf_fini(&b);
    return path;
}

static void test_compiled_files(void **state)
{
    const char *traps = FIXTURES "api_traps_getpgrp.bin";
    struct seccomp_filters f;
    struct sq_err err;
    char why[192];

    (void)state;
    g_trap_kind = -1;
    /* Made by the real crate: the api program traps getpgrp only. */
    assert_int_equal(
        setup_then_enter(false, traps, SECCOMP_THREAD_API, P_GETPGRP),
        TRAPPED(SYS_getpgrp));
    assert_int_equal(
        setup_then_enter(false, traps, SECCOMP_THREAD_API, P_GETPID), 0);
    assert_int_equal(
        setup_then_enter(false, traps, SECCOMP_THREAD_VMM, P_GETPGRP), 0);
    assert_int_equal(
        setup_then_enter(false, traps, SECCOMP_THREAD_VCPU, P_GETPGRP), 0);
    /* Empty programs install nothing. */
    assert_int_equal(setup_then_enter(false, FIXTURES "empty_programs.bin",
                                      SECCOMP_THREAD_API, P_GETPGRP),
                     0);

    /* Keys are lower-cased. */
    assert_int_equal(load(FIXTURES "upper_case_keys.bin", &f, &err), 0);
    assert_int_equal(f.prog[SECCOMP_THREAD_VMM].n_insns, 3);
    assert_int_equal(f.prog[SECCOMP_THREAD_API].n_insns, 1);
    assert_int_equal(f.prog[SECCOMP_THREAD_VCPU].n_insns, 0);
    assert_null(f.prog[SECCOMP_THREAD_VCPU].insns);
    {
        const struct sock_filter *ret = f.prog[SECCOMP_THREAD_API].insns;

        assert_int_equal(ret->code, BPF_RET | BPF_K);
        assert_int_equal(ret->k, SECCOMP_RET_ALLOW);
    }
    seccomp_filters_fini(&f);

    /* Too long: loaded as upstream does, refused when installed. */
    assert_int_equal(load(FIXTURES "api_too_long.bin", &f, &err), 0);
    assert_int_equal(f.prog[SECCOMP_THREAD_API].n_insns, SECCOMP_MAX_INSNS + 1);
    assert_int_equal(in_child(&f.prog[SECCOMP_THREAD_API], 0, P_NOTHING), 254);
    assert_string_equal(seccomp_install_strerror(-E2BIG, why, sizeof(why)),
                        "Filter length exceeds the maximum size of 4096 "
                        "instructions");
    seccomp_filters_fini(&f);

    /* Not BPF the kernel takes: loaded, then prctl fails (EINVAL). */
    assert_int_equal(load(FIXTURES "api_invalid_bpf.bin", &f, &err), 0);
    assert_int_equal(in_child(&f.prog[SECCOMP_THREAD_API], 0, P_NOTHING), 254);
    assert_string_equal(seccomp_install_strerror(-EINVAL, why, sizeof(why)),
                        "prctl` syscall failed with error code: Invalid "
                        "argument (os error 22)");
    seccomp_filters_fini(&f);
}

/* seccompiler-bin's entry points: what failed, in upstream's categories;
 * --basic drops conditions (still checked); the programs written as
 * seccompiler-bin writes them load back unchanged. */
static void test_compile_json_for_seccompiler(void **state)
{
    static const char with_args[] =
        "{\"vmm\":{\"default_action\":\"allow\",\"filter_action\":"
        "\"trap\",\"filter\":[{\"syscall\":\"close\",\"args\":[{"
        "\"index\":0,\"type\":\"dword\",\"op\":\"eq\",\"val\":3}]}]},"
        "\"api\":{\"default_action\":\"allow\",\"filter_action\":"
        "\"trap\",\"filter\":[]},\"vcpu\":{\"default_action\":\"allow\","
        "\"filter_action\":\"trap\",\"filter\":[]}}";
    static const char plain[] =
        "{\"vmm\":{\"default_action\":\"allow\",\"filter_action\":"
        "\"trap\",\"filter\":[{\"syscall\":\"close\"}]},"
        "\"api\":{\"default_action\":\"allow\",\"filter_action\":"
        "\"trap\",\"filter\":[]},\"vcpu\":{\"default_action\":\"allow\","
        "\"filter_action\":\"trap\",\"filter\":[]}}";
    static const struct {
        const char *doc;
        enum seccomp_json_error kind;
    } bad[] = {
        {"{", SECCOMP_JSON_SYNTAX},
        {"[]", SECCOMP_JSON_SCHEMA},
        {"{\"vmm\":{}}", SECCOMP_JSON_SCHEMA},
    };
    struct seccomp_filters basic, full, ref, back;
    enum seccomp_json_error kind;
    struct sq_err err;
    struct buf b = BUF_INIT;
    char *unknown;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_true(seccomp_filters_compile_json(bad[i].doc, strlen(bad[i].doc),
                                                 0, &full, &kind, &err) < 0);
        assert_int_equal(kind, bad[i].kind);
    }
    unknown = strdup(plain);
    assert_non_null(unknown);
    memcpy(strstr(unknown, "close"), "clo_e", 5);
    assert_true(seccomp_filters_compile_json(unknown, strlen(unknown), 0, &full,
                                             &kind, &err) < 0);
    assert_int_equal(kind, SECCOMP_JSON_SYSCALL);
    free(unknown);

    assert_int_equal(seccomp_filters_compile_json(with_args, strlen(with_args),
                                                  SECCOMP_JSON_BASIC, &basic,
                                                  &kind, &err),
                     0);
    assert_int_equal(kind, SECCOMP_JSON_OK);
    assert_int_equal(seccomp_filters_compile_json(with_args, strlen(with_args),
                                                  0, &full, &kind, &err),
                     0);
    assert_int_equal(
        seccomp_filters_from_json(plain, strlen(plain), &ref, &err), 0);
    assert_int_equal(basic.prog[SECCOMP_THREAD_VMM].n_insns,
                     ref.prog[SECCOMP_THREAD_VMM].n_insns);
    assert_memory_equal(basic.prog[SECCOMP_THREAD_VMM].insns,
                        ref.prog[SECCOMP_THREAD_VMM].insns,
                        ref.prog[SECCOMP_THREAD_VMM].n_insns * 8);
    assert_true(full.prog[SECCOMP_THREAD_VMM].n_insns !=
                ref.prog[SECCOMP_THREAD_VMM].n_insns);

    seccomp_filters_bitcode(&full, &b);
    assert_int_equal(seccomp_filters_from_bitcode(b.data, b.len, &back, &err),
                     0);
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        assert_int_equal(back.prog[i].n_insns, full.prog[i].n_insns);
        assert_memory_equal(back.prog[i].insns, full.prog[i].insns,
                            full.prog[i].n_insns * 8);
    }
    buf_fini(&b);
    seccomp_filters_fini(&back);
    seccomp_filters_fini(&basic);
    seccomp_filters_fini(&full);
    seccomp_filters_fini(&ref);
}

/* The built-in programs, written as a compiled file, load back unchanged
 * and behave as the built-in filters. */
static void test_compiled_defaults_round_trip(void **state)
{
    static const enum seccomp_thread order[] = {
        SECCOMP_THREAD_API, SECCOMP_THREAD_VCPU, SECCOMP_THREAD_VMM};
    char dir[] = "/tmp/squib-test-seccomp-XXXXXX";
    struct seccomp_bitcode_prog progs[3];
    uint64_t *vals[3];
    struct seccomp_filters f;
    struct sq_err err;
    const char *path;

    (void)state;
    assert_non_null(mkdtemp(dir));
    for (int i = 0; i < 3; i++) {
        const struct seccomp_prog *p = &g_def.prog[order[i]];
        const char *name = seccomp_thread_name(order[i]);

        vals[i] = calloc(p->n_insns + 1, sizeof(uint64_t));
        assert_non_null(vals[i]);
        memcpy(vals[i], p->insns, p->n_insns * sizeof(uint64_t));
        progs[i] = (struct seccomp_bitcode_prog){name, strlen(name), vals[i],
                                                 p->n_insns};
    }
    path = write_compiled(dir, "defaults.bin", progs, 3);
    assert_int_equal(load(path, &f, &err), 0);
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        assert_int_equal(f.prog[i].n_insns, g_def.prog[i].n_insns);
        assert_memory_equal(f.prog[i].insns, g_def.prog[i].insns,
                            f.prog[i].n_insns * sizeof(struct sock_filter));
    }
    seccomp_filters_fini(&f);
    g_trap_kind = -1;
    assert_int_equal(
        setup_then_enter(false, path, SECCOMP_THREAD_API, P_GETPGRP),
        TRAPPED(SYS_getpgrp));
    assert_int_equal(setup_then_enter(false, path, SECCOMP_THREAD_API, P_WRITE),
                     0);
    unlink(path);
    for (int i = 0; i < 3; i++)
        free(vals[i]);
    rmdir(dir);
}

static void test_compiled_file_errors(void **state)
{
    static const uint64_t allow[] = {0x7fff000000000006ULL};
    static const struct {
        const char *fixture;
        const char *msg;
    } files[] = {
        {"bad_packing.bin", BITCODE_ERR},
        {"bad_trailing_byte.bin", BITCODE_ERR},
        {"bad_truncated.bin", BITCODE_ERR},
        {"bad_utf8.bin", BITCODE_ERR},
        {"missing_vcpu.bin", "Missing thread category: vcpu"},
        {"empty_map.bin", "Missing thread category: vmm"},
        {"non_ascii_key.bin", "Invalid thread categories: thr\xc3\xa9"
                              "ad\xe2\x98\xba"},
    };
    const struct seccomp_bitcode_prog extra[] = {
        {"vmm", 3, NULL, 0}, {"Jailer", 6, NULL, 0}, {"api", 3, NULL, 0},
        {"", 0, NULL, 0},    {"vcpu", 4, NULL, 0},
    };
    const struct seccomp_bitcode_prog twice[] = {
        {"VMM", 3, NULL, 0},
        {"api", 3, NULL, 0},
        {"vmm", 3, allow, 1},
        {"vcpu", 4, NULL, 0},
    };
    char dir[] = "/tmp/squib-test-seccomp-XXXXXX";
    struct seccomp_filters f;
    struct sq_err err;
    const char *path;
    char *big;

    (void)state;
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char fixture[128];

        snprintf(fixture, sizeof(fixture), FIXTURES "%s", files[i].fixture);
        assert_int_equal(load(fixture, &f, &err), -EINVAL);
        if (strcmp(err.msg, files[i].msg) != 0)
            fail_msg("%s: got \"%s\"", files[i].fixture, err.msg);
        for (int k = 0; k < SECCOMP_THREAD_COUNT; k++)
            assert_null(f.prog[k].insns);
    }

    /* An empty file is not JSON: upstream's bitcode error. */
    path = write_file(dir, "empty", "", 0);
    assert_int_equal(load(path, &f, &err), -EINVAL);
    assert_string_equal(err.msg, BITCODE_ERR);
    unlink(path);

    /* Every unknown key, lower-cased, in file order (an empty one too). */
    path = write_compiled(dir, "extra.bin", extra, 5);
    assert_int_equal(load(path, &f, &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid thread categories: jailer,");
    unlink(path);

    /* A category given twice: the last one wins. */
    path = write_compiled(dir, "twice.bin", twice, 4);
    assert_int_equal(load(path, &f, &err), 0);
    assert_int_equal(f.prog[SECCOMP_THREAD_VMM].n_insns, 1);
    seccomp_filters_fini(&f);
    unlink(path);

    /* Upstream's 100000-byte limit: at the limit the content decides,
     * past it the size is refused (as 100001, upstream's read cap). */
    big = calloc(1, 3 * SECCOMP_MAX_BITCODE_SIZE);
    assert_non_null(big);
    path = write_file(dir, "limit.bin", big, SECCOMP_MAX_BITCODE_SIZE);
    assert_int_equal(load(path, &f, &err), -EINVAL);
    assert_string_equal(err.msg, BITCODE_ERR);
    unlink(path);
    path = write_file(dir, "over.bin", big, 3 * SECCOMP_MAX_BITCODE_SIZE);
    assert_int_equal(load(path, &f, &err), -EFBIG);
    assert_string_equal(err.msg, "Filter deserialization failed: Input size "
                                 "100001 exceeds limit of 100000 bytes");
    unlink(path);
    free(big);

    /* Whitespace before '{' still makes a JSON file. */
    path = write_file(dir, "ws.json", " \n\t\r{", 5);
    assert_int_equal(load(path, &f, &err), -EINVAL);
    assert_string_equal(err.msg, "Filter deserialization failed: EOF while "
                                 "parsing an object at line 2 column 3");
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_programs_fit),
        cmocka_unit_test(test_vmm_table),
        cmocka_unit_test(test_api_table),
        cmocka_unit_test(test_vcpu_table),
        cmocka_unit_test(test_vmm_kicks_vcpus_only),
        cmocka_unit_test(test_enter_without_setup_installs_nothing),
        cmocka_unit_test(test_setup_default_and_no_seccomp),
        cmocka_unit_test(test_entered_hook),
        cmocka_unit_test(test_json_custom_filter_semantics),
        cmocka_unit_test(test_json_other_abi_always_traps),
        cmocka_unit_test(test_defaults_json_round_trip),
        cmocka_unit_test(test_json_upstream_shape),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_install_empty_and_too_long),
        cmocka_unit_test(test_compiled_files),
        cmocka_unit_test(test_compiled_defaults_round_trip),
        cmocka_unit_test(test_compiled_file_errors),
        cmocka_unit_test(test_compile_json_for_seccompiler),
    };

    return cmocka_run_group_tests(tests, setup_default, teardown_default);
}
