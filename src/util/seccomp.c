/*
 * seccomp.c: squib's seccomp allow-lists and their installation (see
 * seccomp.h and docs/seccomp.md).
 *
 * The lists below are upstream's x86_64 musl lists (resources/seccomp/
 * x86_64-unknown-linux-musl.json) translated to what squib, a C program
 * linked with glibc, actually calls: glibc opens with openat, stats with
 * newfstatat, signals a thread with tgkill and waits with epoll_wait, and
 * its malloc grows per-thread arenas with mprotect. Each row says why the
 * call is needed; a row with argument conditions allows the call only when
 * all of them hold, and several rows for one syscall are alternatives.
 *
 * Rules are compiled with libseccomp into classic BPF once, at startup, and
 * kept as plain instruction arrays: each thread then installs its array
 * with prctl(PR_SET_SECCOMP) like upstream's apply_filter(), without
 * touching libseccomp (whose contexts are not meant to be shared between
 * threads).
 */
#include "util/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/xalloc.h"
#include "vmm/vcpu.h"

/* ---------------------------------------------------------------------- */
/* Rules                                                                   */

/* One argument condition, as in upstream's JSON: a "dword" compares the low
 * 32 bits only (the kernel passes int arguments with undefined upper
 * halves), a "qword" all 64. MASKED_EQ is (arg & mask) == val. */
enum cond_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_MASKED_EQ };

struct cond {
    unsigned idx; /* argument index, 0..5 */
    bool qword;
    enum cond_op op;
    uint64_t mask; /* OP_MASKED_EQ only */
    uint64_t val;
};

#define MAX_CONDS 4

/* A rule of the built-in lists: `name` (resolved with libseccomp for the
 * native architecture) is allowed when all n conditions hold. A condition
 * whose value is KICK_SIGNAL compares with the vCPU kick signal instead
 * (SIGRTMIN is not a constant in glibc). */
struct rule {
    const char *name;
    unsigned n;
    struct cond c[MAX_CONDS];
};

#define EQ(i, v)     {.idx = (i), .op = OP_EQ, .val = (v)}
#define MEQ(i, m, v) {.idx = (i), .op = OP_MASKED_EQ, .mask = (m), .val = (v)}
#define R0(nm)       {.name = #nm, .n = 0}
#define R1(nm, a)    {.name = #nm, .n = 1, .c = {a}}
#define R2(nm, a, b) {.name = #nm, .n = 2, .c = {a, b}}

/* Marker value replaced by SQ_SIG_VCPU_KICK when the rules are compiled. */
#define KICK_SIGNAL 0xffffffffu

/* futex commands without the PRIVATE and CLOCK_REALTIME flag bits. */
#define FUTEX_CMD_BITS 0x7fu
/* No PROT_EXEC: no thread may create executable memory. */
#define NO_EXEC(i) MEQ(i, PROT_EXEC, 0)

/*
 * Calls every squib thread makes, whatever its kind. These come from the
 * C library and from squib's shared utilities (logger, metrics, xalloc).
 */
static const struct rule rules_common[] = {
    /* The logger and metrics: every record is one write() to the log fd,
     * the metrics file, a FIFO, or stdout/stderr. */
    R0(write),
    /* Eventfd reads (evloop_eventfd_drain) and socket/pipe reads. */
    R0(read),
    /* Closing fds the thread owns (connections, eventfds, files). */
    R0(close),
    /* Thread exit (pthread) and process exit (exit, _exit in the fatal
     * signal handlers). */
    R0(exit),
    R0(exit_group),
    /* The kernel restarts an interrupted sleep (e.g. after SIGSTOP). */
    R0(restart_syscall),
    /* Returning from a signal handler (SIGSYS, SIGPIPE, the vCPU kick);
     * without it a handled signal would fault again forever. */
    R0(rt_sigreturn),
    /* pthread_sigmask (vCPU threads unblock the kick signal), abort(). */
    R0(rt_sigprocmask),
    /* glibc removes a thread's alternate signal stack when it exits. */
    R0(sigaltstack),
    /* abort() resets the SIGABRT handler before raising it (signals_panic,
     * failed assertions). */
    R1(rt_sigaction, EQ(0, SIGABRT)),
    /* abort() raises SIGABRT on the calling thread. */
    R1(tgkill, EQ(2, SIGABRT)),
    /* The logger tags records with the thread: gettid() != getpid() marks
     * a non-main thread. glibc's getpid() is a real syscall. */
    R0(gettid),
    R0(getpid),
    /* Timestamps (logger, metrics, timeouts) when the vDSO is not used. */
    R0(clock_gettime),
    R0(gettimeofday),
    /* malloc: the heap grows with brk on the main arena. */
    R0(brk),
    /* malloc: large blocks and per-thread arenas are anonymous private
     * mappings, arenas reserved with MAP_NORESERVE; never executable. */
    R2(mmap, EQ(3, MAP_PRIVATE | MAP_ANONYMOUS), NO_EXEC(2)),
    R2(mmap, EQ(3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE), NO_EXEC(2)),
    /* malloc: a thread arena is committed piecewise with mprotect(READ |
     * WRITE); never executable. */
    R1(mprotect, NO_EXEC(2)),
    /* free() of large blocks, arena trimming, thread stack release. */
    R0(munmap),
    /* realloc() of large blocks. */
    R0(mremap),
    /* free() returns arena pages (and glibc a dead thread's stack) with
     * MADV_DONTNEED. */
    R1(madvise, EQ(2, MADV_DONTNEED)),
    /* pthread mutexes, condition variables (timed waits use
     * WAIT_BITSET|CLOCK_REALTIME) and pthread_join; private or not. */
    R1(futex, MEQ(1, FUTEX_CMD_BITS, FUTEX_WAIT)),
    R1(futex, MEQ(1, FUTEX_CMD_BITS, FUTEX_WAKE)),
    R1(futex, MEQ(1, FUTEX_CMD_BITS, FUTEX_WAIT_BITSET)),
    R1(futex, MEQ(1, FUTEX_CMD_BITS, FUTEX_WAKE_BITSET)),
    /* sched_yield: spin-then-yield in the C library's locks. */
    R0(sched_yield),
    /* Each thread waits in its own event loop (util/evloop.c uses
     * epoll_wait; epoll_pwait is glibc's fallback) and edits it. */
    R0(epoll_wait),
    R0(epoll_pwait),
    R0(epoll_ctl),
};

/*
 * The vmm thread, from the moment the VM is built: the event loop serving
 * post-boot requests (pause, resume, device updates, metrics, snapshots),
 * the device backends, the serial console, and teardown.
 */
static const struct rule rules_vmm[] = {
    /* Reopening a block device's host file on PATCH /drives, snapshot
     * files, the serial output file: always through openat in glibc. */
    R0(openat),
    /* File sizes and types of reopened drives and snapshot files (glibc's
     * fstat() and stat() both use newfstatat). */
    R0(newfstatat),
    R0(fstat),
    /* Block I/O: seek and positional reads and writes on host files. */
    R0(lseek),
    R0(pread64),
    R0(pwrite64),
    R0(preadv),
    R0(pwritev),
    /* virtio-net reads and writes frames from/to the tap as iovecs. */
    R0(readv),
    R0(writev),
    /* Block device flush (VIRTIO_BLK_T_FLUSH) and snapshot files. */
    R0(fsync),
    R0(fdatasync),
    /* Snapshot memory files are sized before they are written. */
    R0(ftruncate),
    /* Diff snapshots ask which pages are resident. */
    R0(mincore),
    /* pmem: flush the mapping to its backing file. */
    R1(msync, EQ(2, MS_SYNC)),
    /* The device backends and guest memory hot-plug map files and shared
     * memory (io_uring rings, pmem files, guest memory regions), never
     * executable. */
    R1(mmap, NO_EXEC(2)),
    /* Balloon and memory hot-plug give guest memory back (MADV_DONTNEED,
     * MADV_REMOVE); the io_uring engine and glibc as for every thread. */
    R0(madvise),
    /* The async block engine: io_uring set-up on drive patch, submission,
     * and its completion eventfd. */
    R0(io_uring_setup),
    R0(io_uring_enter),
    R0(io_uring_register),
    R0(eventfd2),
    /* Rate limiters and the periodic metrics flush (started right after
     * this filter, as upstream) are timerfds. */
    R2(timerfd_create, EQ(0, CLOCK_MONOTONIC),
       EQ(1, TFD_CLOEXEC | TFD_NONBLOCK)),
    R0(timerfd_settime),
    /* vsock: the device connects to and accepts from the host's Unix
     * sockets, and exchanges data and fds with them. */
    R2(socket, EQ(0, AF_UNIX), EQ(1, SOCK_STREAM | SOCK_CLOEXEC)),
    R2(socket, EQ(0, AF_UNIX),
       EQ(1, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK)),
    R0(connect),
    R1(accept4, EQ(3, SOCK_CLOEXEC)),
    R1(accept4, EQ(3, SOCK_CLOEXEC | SOCK_NONBLOCK)),
    R0(sendmsg),
    R0(recvmsg),
    R0(sendto),
    R0(recvfrom),
    /* The serial output fd is made O_NONBLOCK while the machine lives and
     * its flags are restored at teardown; fds get FD_CLOEXEC. */
    R1(fcntl, EQ(1, F_GETFL)),
    R1(fcntl, EQ(1, F_SETFL)),
    R1(fcntl, EQ(1, F_GETFD)),
    R2(fcntl, EQ(1, F_SETFD), EQ(2, FD_CLOEXEC)),
    /* Kicking a vCPU out of KVM_RUN for pause and teardown (pthread_kill
     * of SQ_SIG_VCPU_KICK). */
    R1(tgkill, EQ(2, KICK_SIGNAL)),
    /* Randomness for MMDS V2 tokens. */
    R0(getrandom),
    /* Waiting for a vCPU's pause/resume acknowledgement (vcpu_wait polls
     * its ack eventfd with a timeout); flushing API answers at exit. */
    R0(poll),
    R0(ppoll),
    /* Short sleeps: the SQUIB_TEST_VMM_DELAY_MS test hook. */
    R0(nanosleep),
    R0(clock_nanosleep),
    /* Terminal: the TTY put in raw mode at start is restored at teardown
     * (tcgetattr, tcsetattr); vsock sockets are made non-blocking. */
    R1(ioctl, EQ(1, TCGETS)),
    R1(ioctl, EQ(1, TCSETS)),
    R1(ioctl, EQ(1, TCSETSW)),
    R1(ioctl, EQ(1, TIOCGWINSZ)),
    R1(ioctl, EQ(1, FIONBIO)),
    /* VM-level KVM calls after boot: legacy interrupt lines, registering
     * and removing ioeventfds and irqfds (device activation, teardown),
     * memory slots (hot-plug), dirty-page logs (diff snapshots). */
    R1(ioctl, EQ(1, KVM_IRQ_LINE)),
    R1(ioctl, EQ(1, KVM_IOEVENTFD)),
    R1(ioctl, EQ(1, KVM_IRQFD)),
    R1(ioctl, EQ(1, KVM_SET_USER_MEMORY_REGION)),
    R1(ioctl, EQ(1, KVM_GET_DIRTY_LOG)),
    /* Snapshot creation saves VM state on the vmm thread. */
    R1(ioctl, EQ(1, KVM_GET_CLOCK)),
    R1(ioctl, EQ(1, KVM_GET_IRQCHIP)),
    R1(ioctl, EQ(1, KVM_GET_PIT2)),
    /* Registers of a paused vCPU, read by the vmm thread while the vCPU
     * thread waits (snapshots, diagnostics). */
    R1(ioctl, EQ(1, KVM_GET_REGS)),
    R1(ioctl, EQ(1, KVM_GET_SREGS)),
    R1(ioctl, EQ(1, KVM_GET_FPU)),
    R1(ioctl, EQ(1, KVM_GET_LAPIC)),
    R1(ioctl, EQ(1, KVM_GET_MSRS)),
    R1(ioctl, EQ(1, KVM_GET_MP_STATE)),
    R1(ioctl, EQ(1, KVM_GET_CPUID2)),
    R1(ioctl, EQ(1, KVM_GET_VCPU_EVENTS)),
    R1(ioctl, EQ(1, KVM_GET_XSAVE)),
    R1(ioctl, EQ(1, KVM_GET_XCRS)),
    R1(ioctl, EQ(1, KVM_GET_DEBUGREGS)),
    R1(ioctl, EQ(1, KVM_GET_TSC_KHZ)),
};

/*
 * The api thread, from before it serves the socket: accept, read, parse,
 * answer; everything else goes to the vmm thread through the controller.
 */
static const struct rule rules_api[] = {
    /* New API connections (api/server.c), non-blocking and close-on-exec. */
    R1(accept4, EQ(3, SOCK_CLOEXEC | SOCK_NONBLOCK)),
    /* Reading requests and writing responses on the connections. */
    R0(recvmsg),
    R0(recvfrom),
    R0(sendmsg),
    R0(sendto),
    R0(writev),
    /* Arming the action-timeout timerfd (created before the filter). */
    R0(timerfd_settime),
    /* MMDS V2 tokens are random. */
    R0(getrandom),
    /* Flushing queued answers before a connection closes
     * (api_server_flush waits for POLLOUT). */
    R0(poll),
    R0(ppoll),
};

/*
 * A vCPU thread, from before its first KVM_RUN: run the guest, dispatch
 * port I/O and MMIO exits to device register handlers, pause and resume.
 */
static const struct rule rules_vcpu[] = {
    /* Running the guest. */
    R1(ioctl, EQ(1, KVM_RUN)),
    /* After a pause: tell a kvmclock guest it was stopped. */
    R1(ioctl, EQ(1, KVM_KVMCLOCK_CTRL)),
    /* Saving the vCPU's own state (snapshots) while paused. */
    R1(ioctl, EQ(1, KVM_GET_REGS)),
    R1(ioctl, EQ(1, KVM_GET_SREGS)),
    R1(ioctl, EQ(1, KVM_GET_FPU)),
    R1(ioctl, EQ(1, KVM_GET_LAPIC)),
    R1(ioctl, EQ(1, KVM_GET_MSRS)),
    R1(ioctl, EQ(1, KVM_GET_MP_STATE)),
    R1(ioctl, EQ(1, KVM_GET_CPUID2)),
    R1(ioctl, EQ(1, KVM_GET_VCPU_EVENTS)),
    R1(ioctl, EQ(1, KVM_GET_XSAVE)),
    R1(ioctl, EQ(1, KVM_GET_XCRS)),
    R1(ioctl, EQ(1, KVM_GET_DEBUGREGS)),
    R1(ioctl, EQ(1, KVM_GET_TSC_KHZ)),
    /* Device register writes that signal the vmm loop or raise an
     * interrupt only write eventfds (write, in the common list); a device
     * reset from the guest may drain the io_uring engine and rearm its
     * timers. */
    R0(io_uring_enter),
    R0(timerfd_settime),
    /* A device activated or reset by a guest register write may (re)create
     * its notification eventfds there (upstream allows it for MSI-X
     * vectors recreated on a PCI device reset). */
    R0(eventfd2),
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SQ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SQ_SANITIZED 1
#endif
#endif

#ifdef SQ_SANITIZED
/*
 * Sanitizer builds only (make SAN=1: ASan + UBSan; make tsan: TSan),
 * compiled in when the compiler says -fsanitize=address or =thread is on.
 * The sanitizer runtime runs inside every thread: its allocator and shadow
 * memory are mapped and unmapped with flags of its own, its thread
 * registry reads the thread's stack bounds, and a report (which must never
 * be hidden by a SIGSYS) reads /proc/self/maps, symbolizes, and may start a
 * symbolizer process. None of this is in a release build; the release
 * lists above stay exact.
 */
static const struct rule rules_sanitizer[] = {
    /* The ASan allocator and shadow: any mapping flags, still never
     * executable. */
    R1(mmap, NO_EXEC(2)),
    /* ASan releases and poisons memory with madvise of its own advice. */
    R0(madvise),
    /* Alternate signal stacks for ASan's deadly-signal handler. */
    R0(sigaltstack),
    /* Thread names and dumpable state queried by the runtime. */
    R0(prctl),
    /* Reports: /proc/self/maps, the binary's path, its symbols. */
    R0(openat),
    R0(open),
    R0(readlink),
    R0(readlinkat),
    R0(newfstatat),
    R0(fstat),
    R0(stat),
    R0(lseek),
    R0(pread64),
    R0(getcwd),
    R0(uname),
    R0(sched_getaffinity),
    R0(getrlimit),
    R0(prlimit64),
    R0(rt_sigaction),
    R0(tgkill),
    R0(tkill),
    R0(kill),
    /* LeakSanitizer's exit-time check stops the world: a tracer task
     * (clone below) lists /proc/self/task, attaches to every thread with
     * ptrace and watches its parent with getppid. */
    R0(ptrace),
    R0(getdents),
    R0(getdents64),
    R0(getppid),
    /* A report may run an external symbolizer. */
    R0(pipe2),
    R0(pipe),
    R0(dup2),
    R0(dup3),
    R0(fork),
    R0(vfork),
    R0(clone),
    R0(clone3),
    R0(execve),
    R0(wait4),
    R0(waitid),
    R0(nanosleep),
    R0(clock_nanosleep),
    R0(sched_yield),
};
#endif

/* ---------------------------------------------------------------------- */
/* Compiling                                                               */

static const char *const thread_names[SECCOMP_THREAD_COUNT] = {
    [SECCOMP_THREAD_VMM] = "vmm",
    [SECCOMP_THREAD_API] = "api",
    [SECCOMP_THREAD_VCPU] = "vcpu",
};

const char *seccomp_thread_name(enum seccomp_thread kind)
{
    return (unsigned)kind < SECCOMP_THREAD_COUNT ? thread_names[kind] : "?";
}

static int to_scmp(const struct cond *c, struct scmp_arg_cmp *out)
{
    uint64_t width = c->qword ? UINT64_MAX : 0xffffffffu;

    memset(out, 0, sizeof(*out));
    out->arg = c->idx;
    switch (c->op) {
    case OP_EQ:
        /* A dword compares the low half only. */
        out->op = SCMP_CMP_MASKED_EQ;
        out->datum_a = width;
        out->datum_b = c->val & width;
        break;
    case OP_MASKED_EQ:
        out->op = SCMP_CMP_MASKED_EQ;
        out->datum_a = c->mask & width;
        out->datum_b = c->val & width;
        break;
    case OP_NE: out->op = SCMP_CMP_NE; out->datum_a = c->val; break;
    case OP_LT: out->op = SCMP_CMP_LT; out->datum_a = c->val; break;
    case OP_LE: out->op = SCMP_CMP_LE; out->datum_a = c->val; break;
    case OP_GT: out->op = SCMP_CMP_GT; out->datum_a = c->val; break;
    case OP_GE: out->op = SCMP_CMP_GE; out->datum_a = c->val; break;
    default: return -EINVAL;
    }
    return 0;
}

/* Add one rule (nr, conditions) with `action` to ctx. */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr,
                    const struct cond *c, unsigned n)
{
    struct scmp_arg_cmp cmp[MAX_CONDS];
    int rc;

    if (n > MAX_CONDS)
        return -E2BIG;
    for (unsigned i = 0; i < n; i++) {
        rc = to_scmp(&c[i], &cmp[i]);
        if (rc < 0)
            return rc;
    }
    return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

static int add_table(scmp_filter_ctx ctx, const struct rule *t, size_t n,
                     struct sq_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct cond c[MAX_CONDS];
        int nr = seccomp_syscall_resolve_name(t[i].name);
        int rc;

        if (nr == __NR_SCMP_ERROR)
            return sq_errf(err, -EINVAL, "unknown syscall %s", t[i].name);
        memcpy(c, t[i].c, sizeof(c));
        for (unsigned j = 0; j < t[i].n; j++)
            if (c[j].val == KICK_SIGNAL)
                c[j].val = (uint64_t)SQ_SIG_VCPU_KICK;
        rc = add_rule(ctx, SCMP_ACT_ALLOW, nr, c, t[i].n);
        if (rc < 0)
            return sq_errf(err, rc, "cannot add the %s rule: %s", t[i].name,
                           strerror(-rc));
    }
    return 0;
}

/* Export ctx as raw BPF into p (through a memfd: libseccomp 2.5 exports
 * only to an fd). */
static int export_prog(scmp_filter_ctx ctx, struct seccomp_prog *p,
                       struct sq_err *err)
{
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t len;
    int fd, rc;

    fd = memfd_create("squib-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return sq_errf(err, -errno, "memfd_create: %s", strerror(errno));
    rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) {
        sq_errf(err, rc, "cannot compile the filter: %s", strerror(-rc));
        goto out;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        rc = sq_errf(err, -errno, "lseek: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0) {
            rc = sq_errf(err, -errno, "read: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        buf_append(&b, chunk, (size_t)n);
    }
    len = b.len;
    if (len % sizeof(struct sock_filter) != 0) {
        rc = sq_errf(err, -EINVAL, "compiled filter has a partial "
                                   "instruction");
        goto out;
    }
    if (len / sizeof(struct sock_filter) > SECCOMP_MAX_INSNS) {
        rc = sq_errf(err, -E2BIG, "Filter length exceeds the maximum size "
                                  "of %d instructions", SECCOMP_MAX_INSNS);
        goto out;
    }
    p->n_insns = len / sizeof(struct sock_filter);
    p->insns = buf_steal(&b, &len);
    rc = 0;
out:
    buf_fini(&b);
    close(fd);
    return rc;
}

/* A fresh context for the native architecture with `def` as its default
 * action. A call through another ABI (x32, i386 int 0x80) always traps,
 * whatever the default: no squib thread uses them, and a custom
 * "allow by default" list must not open them either. */
static scmp_filter_ctx new_ctx(uint32_t def)
{
    scmp_filter_ctx ctx = seccomp_init(def);

    if (!ctx)
        return NULL;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP) < 0 ||
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

/* The tables that make up the built-in list of `kind`, in order. */
static size_t default_tables(enum seccomp_thread kind,
                             const struct rule *t[3], size_t n[3])
{
    size_t k = 0;

#define TABLE(x) (t[k] = (x), n[k] = sizeof(x) / sizeof((x)[0]), k++)
    TABLE(rules_common);
    if (kind == SECCOMP_THREAD_VMM)
        TABLE(rules_vmm);
    else if (kind == SECCOMP_THREAD_API)
        TABLE(rules_api);
    else
        TABLE(rules_vcpu);
#ifdef SQ_SANITIZED
    TABLE(rules_sanitizer);
#endif
#undef TABLE
    return k;
}

static int build_default(enum seccomp_thread kind, struct seccomp_prog *p,
                         struct sq_err *err)
{
    scmp_filter_ctx ctx = new_ctx(SCMP_ACT_TRAP);
    const struct rule *t[3];
    size_t n[3], k = default_tables(kind, t, n);
    int rc = 0;

    if (!ctx)
        return sq_errf(err, -ENOMEM, "cannot create a seccomp context");
    for (size_t i = 0; rc == 0 && i < k; i++)
        rc = add_table(ctx, t[i], n[i], err);
    if (rc == 0)
        rc = export_prog(ctx, p, err);
    seccomp_release(ctx);
    return rc;
}

void seccomp_filters_fini(struct seccomp_filters *f)
{
    if (!f)
        return;
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        free(f->prog[i].insns);
        f->prog[i].insns = NULL;
        f->prog[i].n_insns = 0;
    }
}

int seccomp_filters_default(struct seccomp_filters *out, struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        int rc = build_default((enum seccomp_thread)i, &out->prog[i], err);

        if (rc < 0) {
            seccomp_filters_fini(out);
            return rc;
        }
    }
    return 0;
}

static void write_cond(struct buf *b, const struct cond *c)
{
    static const char *const ops[] = {"eq", "ne", "lt", "le", "gt", "ge"};
    uint64_t val = c->val == KICK_SIGNAL ? (uint64_t)SQ_SIG_VCPU_KICK : c->val;

    buf_append(b, "{", 1);
    json_write_key(b, "index");
    json_write_u64(b, c->idx);
    buf_append(b, ",", 1);
    json_write_key(b, "type");
    json_write_cstr(b, c->qword ? "qword" : "dword");
    buf_append(b, ",", 1);
    json_write_key(b, "op");
    if (c->op == OP_MASKED_EQ) {
        buf_append(b, "{", 1);
        json_write_key(b, "masked_eq");
        json_write_u64(b, c->mask);
        buf_append(b, "}", 1);
    } else {
        json_write_cstr(b, ops[c->op]);
    }
    buf_append(b, ",", 1);
    json_write_key(b, "val");
    json_write_u64(b, val);
    buf_append(b, "}", 1);
}

void seccomp_defaults_json(struct buf *out)
{
    for (int kind = 0; kind < SECCOMP_THREAD_COUNT; kind++) {
        const struct rule *t[3];
        size_t n[3], k = default_tables((enum seccomp_thread)kind, t, n);
        bool first = true;

        buf_append(out, kind ? ",\n" : "{\n", 2);
        json_write_key(out, thread_names[kind]);
        buf_append(out, "{", 1);
        json_write_key(out, "default_action");
        json_write_cstr(out, "trap");
        buf_append(out, ",", 1);
        json_write_key(out, "filter_action");
        json_write_cstr(out, "allow");
        buf_append(out, ",", 1);
        json_write_key(out, "filter");
        buf_append(out, "[", 1);
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < n[i]; j++) {
                const struct rule *r = &t[i][j];

                buf_append(out, first ? "\n  " : ",\n  ", first ? 3 : 4);
                first = false;
                buf_append(out, "{", 1);
                json_write_key(out, "syscall");
                json_write_cstr(out, r->name);
                if (r->n) {
                    buf_append(out, ",", 1);
                    json_write_key(out, "args");
                    buf_append(out, "[", 1);
                    for (unsigned c = 0; c < r->n; c++) {
                        if (c)
                            buf_append(out, ",", 1);
                        write_cond(out, &r->c[c]);
                    }
                    buf_append(out, "]", 1);
                }
                buf_append(out, "}", 1);
            }
        buf_append(out, "]}", 2);
    }
    buf_append(out, "\n}\n", 3);
}

/* ---------------------------------------------------------------------- */
/* Custom filter files (upstream's seccompiler JSON shape)                 */

#define DESER "Filter deserialization failed: "

static bool key_is(const struct json_member *m, const char *s)
{
    return m->key_len == strlen(s) && memcmp(m->key, s, m->key_len) == 0;
}

static bool json_u64(const struct json_value *v, uint64_t *out)
{
    if (!v || v->type != JSON_NUMBER || v->num.kind != JSON_NUM_U64)
        return false;
    *out = v->num.u;
    return true;
}

/*
 * An action: "allow", "trap", "kill_thread", "kill_process", "kill"
 * (= kill_process), "log", {"errno": N}, {"trace": N}.
 */
static int parse_action(const struct json_value *v, const char *where,
                        const char *field, uint32_t *out, struct sq_err *err)
{
    static const struct {
        const char *name;
        uint32_t action;
    } simple[] = {
        {"allow", SCMP_ACT_ALLOW},
        {"trap", SCMP_ACT_TRAP},
        {"kill_thread", SCMP_ACT_KILL_THREAD},
        {"kill_process", SCMP_ACT_KILL_PROCESS},
        {"kill", SCMP_ACT_KILL_PROCESS},
        {"log", SCMP_ACT_LOG},
    };
    uint64_t n;

    if (v && v->type == JSON_STRING) {
        for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
            if (strcmp(v->str.ptr, simple[i].name) == 0 &&
                strlen(simple[i].name) == v->str.len) {
                *out = simple[i].action;
                return 0;
            }
    } else if (v && v->type == JSON_OBJECT && v->obj.n == 1) {
        const struct json_member *m = &v->obj.members[0];

        if (key_is(m, "errno") && json_u64(m->value, &n) && n <= 4095) {
            *out = SCMP_ACT_ERRNO((uint16_t)n);
            return 0;
        }
        if (key_is(m, "trace") && json_u64(m->value, &n) && n <= 0xffff) {
            *out = SCMP_ACT_TRACE((uint16_t)n);
            return 0;
        }
    }
    return sq_errf(err, -EINVAL,
                   DESER "%s: invalid %s (expected \"allow\", \"trap\", "
                         "\"kill_thread\", \"kill_process\", \"log\", "
                         "{\"errno\": N} or {\"trace\": N})",
                   where, field);
}

static int parse_cond(const struct json_value *v, const char *where,
                      struct cond *c, struct sq_err *err)
{
    const struct json_value *idx = json_object_get(v, "index", 5);
    const struct json_value *type = json_object_get(v, "type", 4);
    const struct json_value *op = json_object_get(v, "op", 2);
    const struct json_value *val = json_object_get(v, "val", 3);
    static const char *const ops[] = {"eq", "ne", "lt", "le", "gt", "ge"};
    uint64_t n;

    memset(c, 0, sizeof(*c));
    if (!v || v->type != JSON_OBJECT)
        return sq_errf(err, -EINVAL, DESER "%s: an argument condition must "
                                           "be an object", where);
    if (!json_u64(idx, &n) || n > 5)
        return sq_errf(err, -EINVAL, DESER "%s: \"index\" must be an "
                                           "integer from 0 to 5", where);
    c->idx = (unsigned)n;
    if (type && type->type == JSON_STRING && strcmp(type->str.ptr, "dword") == 0)
        c->qword = false;
    else if (type && type->type == JSON_STRING &&
             strcmp(type->str.ptr, "qword") == 0)
        c->qword = true;
    else
        return sq_errf(err, -EINVAL, DESER "%s: \"type\" must be \"dword\" "
                                           "or \"qword\"", where);
    if (!json_u64(val, &c->val) ||
        (!c->qword && c->val > 0xffffffffu))
        return sq_errf(err, -EINVAL, DESER "%s: \"val\" must be an unsigned "
                                           "integer that fits the type",
                       where);
    if (op && op->type == JSON_STRING) {
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (strcmp(op->str.ptr, ops[i]) == 0) {
                c->op = (enum cond_op)i; /* same order as enum cond_op */
                return 0;
            }
    } else if (op && op->type == JSON_OBJECT && op->obj.n == 1 &&
               key_is(&op->obj.members[0], "masked_eq") &&
               json_u64(op->obj.members[0].value, &c->mask)) {
        c->op = OP_MASKED_EQ;
        return 0;
    }
    return sq_errf(err, -EINVAL, DESER "%s: \"op\" must be one of \"eq\", "
                                       "\"ne\", \"lt\", \"le\", \"gt\", "
                                       "\"ge\" or {\"masked_eq\": MASK}",
                   where);
}

/* One category's object -> compiled program. */
static int parse_category(const struct json_value *v, const char *cat,
                          struct seccomp_prog *p, struct sq_err *err)
{
    const struct json_value *filter;
    uint32_t def, act;
    scmp_filter_ctx ctx = NULL;
    char where[160];
    int rc;

    if (v->type != JSON_OBJECT)
        return sq_errf(err, -EINVAL, DESER "%s: must be an object", cat);
    rc = parse_action(json_object_get(v, "default_action", 14), cat,
                      "default_action", &def, err);
    if (rc < 0)
        return rc;
    rc = parse_action(json_object_get(v, "filter_action", 13), cat,
                      "filter_action", &act, err);
    if (rc < 0)
        return rc;
    filter = json_object_get(v, "filter", 6);
    if (!filter || filter->type != JSON_ARRAY)
        return sq_errf(err, -EINVAL, DESER "%s: \"filter\" must be an array",
                       cat);
    if (def == act)
        return sq_errf(err, -EINVAL, DESER "%s: filter_action must differ "
                                           "from default_action", cat);
    ctx = new_ctx(def);
    if (!ctx)
        return sq_errf(err, -ENOMEM, DESER "%s: cannot create a seccomp "
                                           "context", cat);
    for (size_t i = 0; i < filter->arr.n; i++) {
        const struct json_value *r = filter->arr.items[i];
        const struct json_value *name = json_object_get(r, "syscall", 7);
        const struct json_value *args = json_object_get(r, "args", 4);
        struct cond c[MAX_CONDS];
        size_t n = 0;
        int nr;

        snprintf(where, sizeof(where), "%s: filter[%zu]", cat, i);
        if (!name || name->type != JSON_STRING) {
            rc = sq_errf(err, -EINVAL, DESER "%s: \"syscall\" must be a "
                                             "string", where);
            goto out;
        }
        nr = seccomp_syscall_resolve_name(name->str.ptr);
        if (nr == __NR_SCMP_ERROR || nr < 0) {
            rc = sq_errf(err, -EINVAL, DESER "%s: unknown syscall \"%s\" "
                                             "on x86_64",
                         where, name->str.ptr);
            goto out;
        }
        if (args && args->type != JSON_NULL) {
            if (args->type != JSON_ARRAY || args->arr.n > MAX_CONDS) {
                rc = sq_errf(err, -EINVAL, DESER "%s: \"args\" must be an "
                                                 "array of at most %d "
                                                 "conditions",
                             where, MAX_CONDS);
                goto out;
            }
            n = args->arr.n;
            for (size_t j = 0; j < n; j++) {
                rc = parse_cond(args->arr.items[j], where, &c[j], err);
                if (rc < 0)
                    goto out;
            }
        }
        rc = add_rule(ctx, act, nr, c, (unsigned)n);
        if (rc < 0) {
            rc = sq_errf(err, -EINVAL, DESER "%s: rule for \"%s\" rejected: "
                                             "%s",
                         where, name->str.ptr, strerror(-rc));
            goto out;
        }
    }
    rc = export_prog(ctx, p, err);
    if (rc < 0)
        sq_err_prefix(err, DESER);
out:
    seccomp_release(ctx);
    return rc;
}

int seccomp_filters_from_json(const char *text, size_t len,
                              struct seccomp_filters *out, struct sq_err *err)
{
    struct json_value *root = NULL;
    const struct json_value *cats[SECCOMP_THREAD_COUNT] = {NULL};
    struct buf bad = BUF_INIT;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = json_parse(text, len, &root, err);
    if (rc < 0)
        return sq_err_prefix(err, DESER);
    if (root->type != JSON_OBJECT) {
        rc = sq_errf(err, -EINVAL, DESER "the document must be an object "
                                         "with keys \"vmm\", \"api\" and "
                                         "\"vcpu\"");
        goto out;
    }
    /* Categories are matched lower-cased, as upstream; anything else is
     * refused, listed in document order. */
    for (size_t i = 0; i < root->obj.n; i++) {
        const struct json_member *m = &root->obj.members[i];
        char key[16];
        int k = -1;

        if (m->key_len < sizeof(key) && memchr(m->key, 0, m->key_len) == NULL) {
            for (size_t j = 0; j <= m->key_len; j++)
                key[j] = (char)(m->key[j] >= 'A' && m->key[j] <= 'Z'
                                    ? m->key[j] - 'A' + 'a'
                                    : m->key[j]);
            for (int t = 0; t < SECCOMP_THREAD_COUNT; t++)
                if (strcmp(key, thread_names[t]) == 0)
                    k = t;
        }
        if (k < 0) {
            if (bad.len)
                buf_append(&bad, ",", 1);
            buf_append(&bad, m->key, m->key_len);
            continue;
        }
        cats[k] = m->value;
    }
    if (bad.len) {
        buf_append(&bad, "", 1);
        rc = sq_errf(err, -EINVAL, "Invalid thread categories: %s", bad.data);
        goto out;
    }
    for (int t = 0; t < SECCOMP_THREAD_COUNT; t++)
        if (!cats[t]) {
            rc = sq_errf(err, -EINVAL, "Missing thread category: %s",
                         thread_names[t]);
            goto out;
        }
    for (int t = 0; t < SECCOMP_THREAD_COUNT; t++) {
        rc = parse_category(cats[t], thread_names[t], &out->prog[t], err);
        if (rc < 0) {
            seccomp_filters_fini(out);
            goto out;
        }
    }
    rc = 0;
out:
    buf_fini(&bad);
    json_value_free(root);
    return rc;
}

int seccomp_filters_from_file(const char *path, struct seccomp_filters *out,
                              struct sq_err *err)
{
    struct buf b = BUF_INIT;
    char chunk[65536], os[128];
    int fd, rc;

    memset(out, 0, sizeof(*out));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sq_errf(err, -errno, "Filter file open error: %s",
                       sq_os_error(errno, os, sizeof(os)));
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0) {
            rc = sq_errf(err, -errno, DESER "Failed to read input: %s",
                         sq_os_error(errno, os, sizeof(os)));
            goto out;
        }
        if (n == 0)
            break;
        buf_append(&b, chunk, (size_t)n);
        if (b.len > SECCOMP_MAX_FILE_SIZE) {
            rc = sq_errf(err, -EFBIG, DESER "Input size %zu exceeds limit of "
                                            "%d bytes",
                         b.len, SECCOMP_MAX_FILE_SIZE);
            goto out;
        }
    }
    rc = seccomp_filters_from_json(b.data ? b.data : "", b.len, out, err);
out:
    close(fd);
    buf_fini(&b);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Installing                                                              */

int seccomp_prog_install(const struct seccomp_prog *p)
{
    struct sock_fprog prog;

    if (!p || p->n_insns == 0)
        return 0;
    if (p->n_insns > SECCOMP_MAX_INSNS)
        return -E2BIG;
    prog.len = (unsigned short)p->n_insns;
    prog.filter = p->insns;
    /* Required to install a filter without CAP_SYS_ADMIN, and what keeps
     * an exec'd child (none exists) from gaining privileges. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        return -errno;
    return 0;
}

/*
 * The process-wide configuration: written once by seccomp_setup() on the
 * main thread before any other thread exists, read-only afterwards (see
 * seccomp.h for why this is file-scope state).
 */
static struct {
    bool configured;
    struct seccomp_filters filters; /* empty programs under --no-seccomp */
    int trap_kind;                  /* SQUIB_TEST_SECCOMP_TRAP, or -1 */
} g_seccomp = {.trap_kind = -1};

int seccomp_setup(bool no_seccomp, const char *filter_path, struct sq_err *err)
{
    const char *hook = getenv("SQUIB_TEST_SECCOMP_TRAP");
    int rc = 0;

    memset(&g_seccomp.filters, 0, sizeof(g_seccomp.filters));
    if (no_seccomp)
        rc = 0;
    else if (filter_path)
        rc = seccomp_filters_from_file(filter_path, &g_seccomp.filters, err);
    else
        rc = seccomp_filters_default(&g_seccomp.filters, err);
    if (rc < 0)
        return rc;
    g_seccomp.trap_kind = -1;
    for (int t = 0; hook && t < SECCOMP_THREAD_COUNT; t++)
        if (strcmp(hook, thread_names[t]) == 0)
            g_seccomp.trap_kind = t;
    g_seccomp.configured = true;
    return 0;
}

int seccomp_enter(enum seccomp_thread kind)
{
    int rc;

    if (!g_seccomp.configured || (unsigned)kind >= SECCOMP_THREAD_COUNT)
        return 0;
    rc = seccomp_prog_install(&g_seccomp.filters.prog[kind]);
    if (rc < 0)
        return rc;
    if (g_seccomp.trap_kind == (int)kind)
        (void)syscall(SYS_getpgrp); /* test hook: a call no list allows */
    return 0;
}
