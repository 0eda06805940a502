/*
 * vcpu.c: vCPU thread, KVM_RUN loop, exit dispatch and the pause/resume
 * handshake. The state machine and the rules are in vcpu.h.
 *
 * Why immediate_exit and a signal both: the signal interrupts a KVM_RUN in
 * progress (EINTR); immediate_exit covers the window where the thread is
 * between two KVM_RUNs (handling an exit), where a signal alone would be
 * lost and the next KVM_RUN could run the guest for a long time. The
 * handler is empty: all the work happens in the thread after EINTR.
 */
#include "vmm/vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "obs/metrics.h"
#include "obs/signals.h"
#include "util/err.h"
#include "util/evloop.h"
#include "util/seccomp.h"
#include "util/time.h"
#include "util/xalloc.h"
#include "vmm/kvm.h"

enum { RUN_AGAIN = 0, RUN_INTERRUPTED = 1, RUN_STOP = 2 };

/* Exit-handling latencies (vcpu.exit_*_agg, {min_us,max_us,sum_us}). */
#define SQ_VCPU_AGG(field, us) metrics_agg_record(METRIC_AGG_vcpu_##field, (us))

static void kick_handler(int sig)
{
    (void)sig;
    /* Nothing: being interrupted is the whole point. */
}

static int install_kick_handler(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kick_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
    if (sigaction(SQ_SIG_VCPU_KICK, &sa, NULL) < 0)
        return -errno;
    return 0;
}

static void set_immediate_exit(struct vcpu *v, uint8_t val)
{
    atomic_store_explicit((_Atomic uint8_t *)&v->run->immediate_exit, val,
                          memory_order_seq_cst);
}

int vcpu_new(int vm_fd, unsigned index, int run_size, const struct bus *pio,
             const struct bus *mmio, vcpu_exit_fn *on_exit, void *exit_opaque,
             struct vcpu **out)
{
    struct vcpu *v = xcalloc(1, sizeof(*v));
    int rc;

    v->index = index;
    v->run_size = run_size;
    v->pio = pio;
    v->mmio = mmio;
    v->on_exit = on_exit;
    v->exit_opaque = exit_opaque;
    v->ack_fd = -1;
    pthread_mutex_init(&v->lock, NULL);
    pthread_cond_init(&v->cond, NULL);
    v->fd = kvm_create_vcpu(vm_fd, index);
    if (v->fd < 0) {
        rc = v->fd;
        goto err;
    }
    rc = kvm_map_run(v->fd, run_size, &v->run);
    if (rc < 0)
        goto err;
    v->ack_fd = evloop_eventfd_new();
    if (v->ack_fd < 0) {
        rc = v->ack_fd;
        goto err;
    }
    *out = v;
    return 0;
err:
    vcpu_free(v);
    return rc;
}

void vcpu_free(struct vcpu *v)
{
    if (!v)
        return;
    if (v->thread_started) {
        vcpu_request(v, VCPU_REQ_FINISH);
        pthread_join(v->thread, NULL);
        v->thread_started = false;
    }
    kvm_unmap_run(v->run, v->run_size);
    if (v->fd >= 0)
        close(v->fd);
    if (v->ack_fd >= 0)
        close(v->ack_fd);
    pthread_cond_destroy(&v->cond);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

/* Called with v->lock held. */
static void set_state(struct vcpu *v, enum vcpu_state s)
{
    v->state = s;
    evloop_eventfd_signal(v->ack_fd);
}

static const char *exit_name(uint32_t reason, char *buf, size_t len)
{
    switch (reason) {
    case KVM_EXIT_UNKNOWN:
        return "Unknown";
    case KVM_EXIT_EXCEPTION:
        return "Exception";
    case KVM_EXIT_HYPERCALL:
        return "Hypercall";
    case KVM_EXIT_DEBUG:
        return "Debug";
    case KVM_EXIT_HLT:
        return "Hlt";
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        return "IrqWindowOpen";
    case KVM_EXIT_SHUTDOWN:
        return "Shutdown";
    case KVM_EXIT_INTR:
        return "Intr";
    case KVM_EXIT_SET_TPR:
        return "SetTpr";
    case KVM_EXIT_TPR_ACCESS:
        return "TprAccess";
    case KVM_EXIT_NMI:
        return "Nmi";
    case KVM_EXIT_IOAPIC_EOI:
        return "IoapicEoi";
    case KVM_EXIT_HYPERV:
        return "Hyperv";
    default:
        snprintf(buf, len, "Unsupported(%" PRIu32 ")", reason);
        return buf;
    }
}

/* Upstream prints the system event data slice with Rust's {:?}: "[1, 2]". */
static void fmt_event_data(const struct kvm_run *run, char *buf, size_t len)
{
    uint32_t n = run->system_event.ndata;
    size_t off = 0;

    if (n > 16)
        n = 16;
    off += (size_t)snprintf(buf + off, len - off, "[");
    for (uint32_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%llu", i ? ", " : "",
                                (unsigned long long)run->system_event.data[i]);
    if (off < len)
        snprintf(buf + off, len - off, "]");
}

static int handle_io(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    uint32_t size = run->io.size;
    uint32_t count = run->io.count;
    uint64_t total = (uint64_t)size * count;
    uint8_t *data;
    bool in = run->io.direction == KVM_EXIT_IO_IN;
    uint64_t t0;

    /* KVM fills these, but stay inside the mapping whatever they say. */
    if (size == 0 || size > 8 || run->io.data_offset > (uint64_t)v->run_size ||
        total > (uint64_t)v->run_size - run->io.data_offset) {
        metrics_inc(METRIC_vcpu_failures);
        log_error("Unexpected exit reason on vcpu run: IoIn/IoOut with bad "
                  "size %u count %u",
                  size, count);
        return RUN_STOP;
    }
    data = (uint8_t *)run + run->io.data_offset;
    t0 = time_mono_us();
    /* A string instruction (rep ins/outs) is `count` accesses of `size`. */
    for (uint32_t i = 0; i < count; i++, data += size) {
        int rc;

        if (in) {
            memset(data, 0, size);
            rc = bus_read(v->pio, run->io.port, data, size);
        } else {
            rc = bus_write(v->pio, run->io.port, data, size);
        }
        if (rc < 0 && log_ratelimit_ok(&v->io_warn_rl))
            log_warn("vcpu: IO %s @ %#x:%#x failed: %s", in ? "read" : "write",
                     run->io.port, size, "Failed to find address range.");
    }
    /* One exit, counted once (as upstream). */
    if (in) {
        SQ_VCPU_AGG(exit_io_in_agg, time_mono_us() - t0);
        metrics_inc(METRIC_vcpu_exit_io_in);
    } else {
        SQ_VCPU_AGG(exit_io_out_agg, time_mono_us() - t0);
        metrics_inc(METRIC_vcpu_exit_io_out);
    }
    return RUN_AGAIN;
}

static int handle_mmio(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    uint32_t len = run->mmio.len;
    uint64_t t0;
    int rc;

    if (len == 0 || len > sizeof(run->mmio.data)) {
        metrics_inc(METRIC_vcpu_failures);
        log_error("Unexpected exit reason on vcpu run: MMIO with length %u",
                  len);
        return RUN_STOP;
    }
    t0 = time_mono_us();
    if (run->mmio.is_write) {
        rc = bus_write(v->mmio, run->mmio.phys_addr, run->mmio.data, len);
        SQ_VCPU_AGG(exit_mmio_write_agg, time_mono_us() - t0);
        metrics_inc(METRIC_vcpu_exit_mmio_write);
    } else {
        memset(run->mmio.data, 0, len);
        rc = bus_read(v->mmio, run->mmio.phys_addr, run->mmio.data, len);
        SQ_VCPU_AGG(exit_mmio_read_agg, time_mono_us() - t0);
        metrics_inc(METRIC_vcpu_exit_mmio_read);
    }
    /* Upstream's text says "read" for both directions. */
    if (rc < 0 && log_ratelimit_ok(&v->io_warn_rl))
        log_warn("Invalid MMIO read @ %#llx:%#x: %s",
                 (unsigned long long)run->mmio.phys_addr, len,
                 "Failed to find address range.");
    return RUN_AGAIN;
}

int vcpu_handle_exit(struct vcpu *v, int run_rc, int *exit_code)
{
    struct kvm_run *run = v->run;
    char buf[256];

    *exit_code = 1;
    if (run_rc == -EINTR)
        return RUN_INTERRUPTED;
    if (run_rc == -EAGAIN)
        return RUN_AGAIN;
    if (run_rc == -ENOSYS) {
        metrics_inc(METRIC_vcpu_failures);
        log_error("Received ENOSYS error because KVM failed to emulate an "
                  "instruction.");
        return RUN_STOP;
    }
    if (run_rc < 0) {
        metrics_inc(METRIC_vcpu_failures);
        log_error("Failure during vcpu run: %s",
                  sq_os_error(-run_rc, buf, sizeof(buf)));
        return RUN_STOP;
    }
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        return handle_io(v);
    case KVM_EXIT_MMIO:
        return handle_mmio(v);
    case KVM_EXIT_FAIL_ENTRY:
        metrics_inc(METRIC_vcpu_failures);
        log_error(
            "Received KVM_EXIT_FAIL_ENTRY signal: %llu on cpu %u",
            (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
            run->fail_entry.cpu);
        return RUN_STOP;
    case KVM_EXIT_INTERNAL_ERROR:
        metrics_inc(METRIC_vcpu_failures);
        log_error("Received KVM_EXIT_INTERNAL_ERROR signal");
        log_debug("KVM internal error suberror %u on vcpu %u",
                  run->internal.suberror, v->index);
        return RUN_STOP;
    case KVM_EXIT_SYSTEM_EVENT:
        fmt_event_data(run, buf, sizeof(buf));
        if (run->system_event.type == KVM_SYSTEM_EVENT_RESET ||
            run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
            log_info("Received KVM_SYSTEM_EVENT: type: %u, event: %s",
                     run->system_event.type, buf);
            *exit_code = 0;
            return RUN_STOP;
        }
        metrics_inc(METRIC_vcpu_failures);
        log_error("Received KVM_SYSTEM_EVENT signal type: %u, flag: %s",
                  run->system_event.type, buf);
        return RUN_STOP;
    default:
        metrics_inc(METRIC_vcpu_failures);
        log_error("Unexpected exit reason on vcpu run: %s",
                  exit_name(run->exit_reason, buf, sizeof(buf)));
        return RUN_STOP;
    }
}

/*
 * Run the guest until a request arrives or the vCPU stops. Returns with
 * v->lock held. Returns true if the vCPU stopped (exit_code set).
 */
static bool run_guest(struct vcpu *v, int *exit_code)
{
    for (;;) {
        int rc = kvm_run(v->fd);
        int r = vcpu_handle_exit(v, rc, exit_code);

        if (r == RUN_AGAIN)
            continue;
        if (r == RUN_STOP) {
            pthread_mutex_lock(&v->lock);
            return true;
        }
        /* Interrupted: clear the flag first, then look at the request. */
        set_immediate_exit(v, 0);
        pthread_mutex_lock(&v->lock);
        if (v->req == VCPU_REQ_PAUSE || v->req == VCPU_REQ_FINISH)
            return false;
        if (v->req == VCPU_REQ_RESUME) {
            v->req = VCPU_REQ_NONE;
            evloop_eventfd_signal(v->ack_fd); /* already running: ack */
        }
        pthread_mutex_unlock(&v->lock);
    }
}

/* A vcpu_call() request, with v->lock held (released around the call). */
static void run_call(struct vcpu *v)
{
    vcpu_call_fn *fn = v->call_fn;
    void *opaque = v->call_opaque;
    int rc;

    v->req = VCPU_REQ_NONE;
    pthread_mutex_unlock(&v->lock);
    rc = fn(v->fd, opaque);
    pthread_mutex_lock(&v->lock);
    v->call_rc = rc;
    v->call_done = true;
    evloop_eventfd_signal(v->ack_fd);
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *v = arg;
    char name[128];
    int exit_code, rc;
    sigset_t kick;

    snprintf(name, sizeof(name), "fc_vcpu %u", v->index);
    pthread_setname_np(pthread_self(), name);
    log_set_thread_name(name);
    /* The creator may block signals for its signalfd; the kick must arrive. */
    sigemptyset(&kick);
    sigaddset(&kick, SQ_SIG_VCPU_KICK);
    pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
    /* The vCPU filter, before the first KVM_RUN (upstream's Vcpu::run). */
    rc = seccomp_enter(SECCOMP_THREAD_VCPU);
    if (rc < 0) {
        char why[192];

        signals_panic(__FILE__, __LINE__,
                      "Failed to set the requested "
                      "seccomp filters on vCPU %u: Error: %s",
                      v->index, seccomp_install_strerror(rc, why, sizeof(why)));
    }

    pthread_mutex_lock(&v->lock);
    set_state(v, VCPU_PAUSED);
    for (;;) {
        while (v->req == VCPU_REQ_NONE)
            pthread_cond_wait(&v->cond, &v->lock);
        if (v->req == VCPU_REQ_FINISH)
            break;
        if (v->req == VCPU_REQ_PAUSE) {
            v->req = VCPU_REQ_NONE;
            set_state(v, VCPU_PAUSED); /* already paused: ack again */
            continue;
        }
        if (v->req == VCPU_REQ_CALL) {
            run_call(v);
            continue;
        }
        /* RESUME */
        v->req = VCPU_REQ_NONE;
        set_immediate_exit(v, 0);
        set_state(v, VCPU_RUNNING);
        pthread_mutex_unlock(&v->lock);

        if (run_guest(v, &exit_code)) {
            /* Stopped by the guest or by KVM: tell the machine, then wait. */
            v->exit_code = exit_code;
            set_state(v, VCPU_EXITED);
            pthread_mutex_unlock(&v->lock);
            v->on_exit(v->exit_opaque, exit_code);
            pthread_mutex_lock(&v->lock);
            while (v->req != VCPU_REQ_FINISH)
                pthread_cond_wait(&v->cond, &v->lock);
            break;
        }
        if (v->req == VCPU_REQ_FINISH)
            break;
        /* PAUSE */
        v->req = VCPU_REQ_NONE;
        set_state(v, VCPU_PAUSED);
        pthread_mutex_unlock(&v->lock);
        /* Tell a kvmclock guest it was stopped (no soft-lockup splat). */
        rc = kvm_kvmclock_ctrl(v->fd);
        if (rc < 0) {
            metrics_inc(METRIC_vcpu_kvmclock_ctrl_fails);
            if (log_ratelimit_ok(&v->io_warn_rl))
                log_warn("KVM_KVMCLOCK_CTRL call failed %s",
                         sq_os_error(-rc, name, sizeof(name)));
        }
        pthread_mutex_lock(&v->lock);
    }
    set_state(v, VCPU_FINISHED);
    pthread_mutex_unlock(&v->lock);
    return NULL;
}

int vcpu_start(struct vcpu *v, int timeout_ms)
{
    int rc = install_kick_handler();

    if (rc < 0)
        return rc;
    rc = pthread_create(&v->thread, NULL, vcpu_thread, v);
    if (rc)
        return -rc;
    v->thread_started = true;
    return vcpu_wait(v, VCPU_PAUSED, timeout_ms);
}

void vcpu_request(struct vcpu *v, enum vcpu_req req)
{
    bool kick;

    if (!v->thread_started)
        return;
    pthread_mutex_lock(&v->lock);
    /* FINISH is final; nothing overrides it. */
    if (v->req != VCPU_REQ_FINISH)
        v->req = req;
    kick = req != VCPU_REQ_RESUME && v->state == VCPU_RUNNING;
    if (kick)
        set_immediate_exit(v, 1);
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
    if (kick)
        pthread_kill(v->thread, SQ_SIG_VCPU_KICK);
}

/* Wait on the ack fd for up to `ms` (< 0: without a limit). */
static void wait_ack(struct vcpu *v, int ms)
{
    struct pollfd p = {.fd = v->ack_fd, .events = POLLIN};

    if (poll(&p, 1, ms) > 0)
        evloop_eventfd_drain(v->ack_fd);
}

int vcpu_call(struct vcpu *v, vcpu_call_fn *fn, void *opaque, int timeout_ms)
{
    int64_t deadline = (int64_t)time_mono_ms() + timeout_ms;

    if (!v->thread_started)
        return fn(v->fd, opaque);
    pthread_mutex_lock(&v->lock);
    if (v->state != VCPU_PAUSED || v->req != VCPU_REQ_NONE) {
        bool gone = v->state == VCPU_EXITED || v->state == VCPU_FINISHED;

        pthread_mutex_unlock(&v->lock);
        return gone ? -ESRCH : -EBUSY;
    }
    v->call_fn = fn;
    v->call_opaque = opaque;
    v->call_done = false;
    v->req = VCPU_REQ_CALL;
    pthread_cond_broadcast(&v->cond);
    for (;;) {
        int64_t left;

        if (v->call_done) {
            int rc = v->call_rc;

            pthread_mutex_unlock(&v->lock);
            return rc;
        }
        left = deadline - (int64_t)time_mono_ms();
        if (left <= 0 && v->req == VCPU_REQ_CALL) {
            v->req = VCPU_REQ_NONE; /* not taken yet: withdraw it */
            pthread_mutex_unlock(&v->lock);
            return -ETIMEDOUT;
        }
        pthread_mutex_unlock(&v->lock);
        /* Taken: fn is bounded work on the thread; wait for it. */
        wait_ack(v, left > 0 ? (int)left : -1);
        pthread_mutex_lock(&v->lock);
    }
}

enum vcpu_state vcpu_get_state(struct vcpu *v)
{
    enum vcpu_state s;

    pthread_mutex_lock(&v->lock);
    s = v->state;
    pthread_mutex_unlock(&v->lock);
    return s;
}

int vcpu_wait(struct vcpu *v, enum vcpu_state want, int timeout_ms)
{
    int64_t deadline = (int64_t)time_mono_ms() + timeout_ms;

    for (;;) {
        enum vcpu_state s;
        bool req_pending;
        int64_t left;

        pthread_mutex_lock(&v->lock);
        s = v->state;
        /* A state reached before the request was seen does not count. */
        req_pending = v->req != VCPU_REQ_NONE && v->req != VCPU_REQ_FINISH;
        pthread_mutex_unlock(&v->lock);
        if (s == want && !req_pending)
            return 0;
        if (s == VCPU_EXITED || s == VCPU_FINISHED)
            return want == s ? 0 : -ESRCH;
        left = deadline - (int64_t)time_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        wait_ack(v, (int)left);
    }
}
