/*
 * seccomp_rules.c: squib's seccomp allow-lists, one per thread kind (see
 * seccomp_rules.h and docs/seccomp.md). The mechanism that compiles and
 * installs them is util/seccomp.c.
 *
 * The lists below are upstream's x86_64 musl lists (resources/seccomp/
 * x86_64-unknown-linux-musl.json) translated to what squib, a C program
 * linked with glibc, actually calls: glibc opens with openat, stats with
 * newfstatat, signals a thread with tgkill and waits with epoll_wait, and
 * its malloc grows per-thread arenas with mprotect. Each row says why the
 * call is needed; a row with argument conditions allows the call only when
 * all of them hold, and several rows for one syscall are alternatives.
 */
#include "vmm/seccomp_rules.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <termios.h>

#include "vmm/vcpu.h"

/* The notation: R<n>(syscall, n conditions); EQ compares an argument's
 * low 32 bits (a "dword"), MEQ its masked low 32 bits. A condition whose
 * value is KICK_SIGNAL compares with the vCPU kick signal instead (SIGRTMIN
 * is not a constant in glibc); seccomp_rules_default() puts it in. */
#define EQ(i, v)                                                               \
    {                                                                          \
        .idx = (i), .op = SECCOMP_CMP_EQ, .val = (v)                           \
    }
#define MEQ(i, m, v)                                                           \
    {                                                                          \
        .idx = (i), .op = SECCOMP_CMP_MASKED_EQ, .mask = (m), .val = (v)       \
    }
#define R0(nm)                                                                 \
    {                                                                          \
        .name = #nm, .n = 0                                                    \
    }
#define R1(nm, a)                                                              \
    {                                                                          \
        .name = #nm, .n = 1, .c = { a }                                        \
    }
#define R2(nm, a, b)                                                           \
    {                                                                          \
        .name = #nm, .n = 2, .c = { a, b }                                     \
    }

/* Marker value replaced by SQ_SIG_VCPU_KICK in seccomp_rules_default(). */
#define KICK_SIGNAL 0xffffffffu

/* futex commands without the PRIVATE and CLOCK_REALTIME flag bits. */
#define FUTEX_CMD_BITS 0x7fu
/* No PROT_EXEC: no thread may create executable memory. */
#define NO_EXEC(i) MEQ(i, PROT_EXEC, 0)

/*
 * Calls every squib thread makes, whatever its kind. These come from the
 * C library and from squib's shared utilities (logger, metrics, xalloc).
 */
static const struct seccomp_rule rules_common[] = {
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
static const struct seccomp_rule rules_vmm[] = {
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
    /* A device built after boot (PCI hot-plug) takes its own close-on-exec
     * copy of the drive file or TAP its configuration opened (block.c,
     * net.c). Upstream opens them on this thread instead and has no such
     * row (docs/seccomp.md). */
    R1(fcntl, EQ(1, F_DUPFD_CLOEXEC)),
    /* Kicking a vCPU out of KVM_RUN for pause and teardown (pthread_kill
     * of SQ_SIG_VCPU_KICK). */
    R1(tgkill, EQ(2, KICK_SIGNAL)),
    /* Randomness for MMDS V2 tokens. */
    R0(getrandom),
    /* Waiting for a vCPU's pause/resume acknowledgement (vcpu_wait polls
     * its ack eventfd with a timeout); flushing API answers at exit. */
    R0(poll),
    R0(ppoll),
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
    /* PCI hot-plug of a network interface opens its TAP and sets its vnet
     * header size and offloads, as upstream's vmm filter allows. */
    R1(ioctl, EQ(1, TUNSETIFF)),
    R1(ioctl, EQ(1, TUNSETVNETHDRSZ)),
    R1(ioctl, EQ(1, TUNSETOFFLOAD)),
    /* Snapshot creation writes the state file and a new memory file under
     * a temporary name and renames it into place (removing it if writing
     * fails; a replaced memory file keeps its permissions), and asks KVM
     * which MSRs a vCPU's state includes. */
    R0(rename),
    R0(unlink),
    R0(fchmod),
    R1(ioctl, EQ(1, KVM_GET_MSR_INDEX_LIST)),
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
    R1(ioctl, EQ(1, KVM_GET_XSAVE2)),
    R1(ioctl, EQ(1, KVM_GET_XCRS)),
    R1(ioctl, EQ(1, KVM_GET_DEBUGREGS)),
    R1(ioctl, EQ(1, KVM_GET_TSC_KHZ)),
};

/*
 * The api thread, from before it serves the socket: accept, read, parse,
 * answer; everything else goes to the vmm thread through the controller.
 */
static const struct seccomp_rule rules_api[] = {
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
static const struct seccomp_rule rules_vcpu[] = {
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
    R1(ioctl, EQ(1, KVM_GET_XSAVE2)),
    R1(ioctl, EQ(1, KVM_GET_XCRS)),
    R1(ioctl, EQ(1, KVM_GET_DEBUGREGS)),
    R1(ioctl, EQ(1, KVM_GET_TSC_KHZ)),
    /* Device register writes that signal the vmm loop or raise an
     * interrupt only write eventfds (write, in the common list); a device
     * reset from the guest may drain the io_uring engine and rearm its
     * timers. */
    R0(io_uring_enter),
    R0(timerfd_settime),
    /* virtio-net activation (DRIVER_OK) sets the TAP's offloads from the
     * features the driver acked, as upstream's vcpu filter allows. */
    R1(ioctl, EQ(1, TUNSETOFFLOAD)),
    /* A device activated or reset by a guest register write may (re)create
     * its notification eventfds there (upstream allows it for MSI-X
     * vectors recreated on a PCI device reset). */
    R0(eventfd2),
    /* With --enable-pci, a guest write to an MSI-X table or to the MSI-X
     * Message Control routes the vector's GSI to its message and
     * registers or removes its irqfd (devices/pci/msix.h), as upstream's
     * vcpu filter allows. */
    R1(ioctl, EQ(1, KVM_SET_GSI_ROUTING)),
    R1(ioctl, EQ(1, KVM_IRQFD)),
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
static const struct seccomp_rule rules_sanitizer[] = {
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

/* Add table t[0..n) to the list of `kind`, with the kick signal put in. */
static void add_table(struct seccomp_policy *p, enum seccomp_thread kind,
                      const struct seccomp_rule *t, size_t n)
{
    size_t first = p->n_rules[kind];

    seccomp_policy_add(p, kind, t, n);
    for (size_t i = first; i < p->n_rules[kind]; i++)
        for (unsigned j = 0; j < p->rules[kind][i].n; j++)
            if (p->rules[kind][i].c[j].val == KICK_SIGNAL)
                p->rules[kind][i].c[j].val = (uint64_t)SQ_SIG_VCPU_KICK;
}

#define ADD(p, kind, t) add_table((p), (kind), (t), sizeof(t) / sizeof((t)[0]))

void seccomp_rules_default(struct seccomp_policy *p)
{
    ADD(p, SECCOMP_THREAD_VMM, rules_common);
    ADD(p, SECCOMP_THREAD_VMM, rules_vmm);
    ADD(p, SECCOMP_THREAD_API, rules_common);
    ADD(p, SECCOMP_THREAD_API, rules_api);
    ADD(p, SECCOMP_THREAD_VCPU, rules_common);
    ADD(p, SECCOMP_THREAD_VCPU, rules_vcpu);
#ifdef SQ_SANITIZED
    for (int kind = 0; kind < SECCOMP_THREAD_COUNT; kind++)
        ADD(p, (enum seccomp_thread)kind, rules_sanitizer);
#endif
}
