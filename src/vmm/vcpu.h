/*
 * vcpu.h: one vCPU: its KVM fd, its thread and the KVM_RUN loop.
 *
 * Each vCPU runs on its own thread, named "fc_vcpu N" (pthread name and log
 * thread name, as upstream's log lines show). The thread loops on KVM_RUN,
 * re-entering on EINTR/EAGAIN (a nested hypervisor returns EAGAIN when an AP
 * leaves wait-for-SIPI), and dispatches port I/O and MMIO exits through the
 * buses to the devices. Any other exit stops the machine:
 *
 *   KVM_SYSTEM_EVENT reset/shutdown     -> INFO log, stop with exit code 0
 *   SHUTDOWN (triple fault), HLT,
 *   FAIL_ENTRY, INTERNAL_ERROR, other
 *   system events, unknown exits,
 *   ENOSYS or other KVM_RUN errors      -> ERROR log, vcpu.failures++, code 1
 *
 * "Stop" means: the thread marks itself EXITED, calls the machine's exit
 * callback (which only signals the vmm thread) and then waits for
 * VCPU_REQ_FINISH.
 *
 * Control (from the vmm thread), a request/ack handshake:
 *
 *   vcpu_request(v, PAUSE|RESUME|FINISH)   under v->lock: set the request;
 *       for PAUSE/FINISH also set kvm_run->immediate_exit = 1 and kick the
 *       thread with pthread_kill(SIG_VCPU_KICK) (an empty handler), so an
 *       ongoing KVM_RUN returns EINTR at once and a KVM_RUN about to start
 *       returns EINTR without entering the guest.
 *   vcpu_wait(v, state, timeout)           waits on v->ack_fd (an eventfd the
 *       thread writes after each state change) until the thread reached
 *       `state` or EXITED.
 *
 *            start thread          RESUME               PAUSE
 *   (none) ───────────────► PAUSED ──────► RUNNING ───────────► PAUSED
 *                           │  ▲  │           │ guest/KVM stop
 *                      CALL │  │  │           ▼
 *              (vcpu_call:  └──┘  │        EXITED ──FINISH──► FINISHED
 *               fn runs on the    └────FINISH────────────────► FINISHED
 *               thread, state
 *               stays PAUSED)
 *
 * vcpu_call(v, fn, opaque) runs fn(vcpu_fd, opaque) on the vCPU's own
 * thread while it is PAUSED (snapshots read a vCPU's state there, as KVM
 * prefers a vCPU's ioctls from the thread that runs it), and waits for its
 * result, which the thread publishes under v->lock and acks on ack_fd.
 */
#ifndef SQUIB_VMM_VCPU_H
#define SQUIB_VMM_VCPU_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "obs/log.h"
#include "vmm/bus.h"

/* The kick signal: SIGRTMIN + 0, as upstream's VCPU_RTSIG_OFFSET. */
#define SQ_SIG_VCPU_KICK (SIGRTMIN + 0)

/* Exit callback: runs on the vCPU thread; must only signal, never block. */
typedef void vcpu_exit_fn(void *opaque, int exit_code);

enum vcpu_state {
    VCPU_NOT_STARTED = 0,
    VCPU_PAUSED,
    VCPU_RUNNING,
    VCPU_EXITED,   /* stopped by an exit; waits for FINISH */
    VCPU_FINISHED, /* thread done (joinable) */
};

enum vcpu_req {
    VCPU_REQ_NONE = 0,
    VCPU_REQ_PAUSE,
    VCPU_REQ_RESUME,
    VCPU_REQ_FINISH,
    VCPU_REQ_CALL, /* posted only by vcpu_call() */
};

/* A function vcpu_call() runs on the vCPU thread: 0 or -errno. */
typedef int vcpu_call_fn(int vcpu_fd, void *opaque);

struct vcpu {
    unsigned index;
    int fd;              /* owned; -1 if closed */
    struct kvm_run *run; /* owned mapping of run_size bytes */
    int run_size;
    const struct bus *pio;  /* borrowed */
    const struct bus *mmio; /* borrowed */
    vcpu_exit_fn *on_exit;
    void *exit_opaque;
    int ack_fd; /* owned eventfd, written by the vCPU thread */
    pthread_t thread;
    bool thread_started; /* vmm thread only */

    pthread_mutex_t lock; /* protects req, state, exit_code */
    pthread_cond_t cond;  /* signalled when req changes */
    enum vcpu_req req;
    enum vcpu_state state;
    int exit_code; /* valid in EXITED */
    /* vcpu_call(): the function, its argument, its result once done. */
    vcpu_call_fn *call_fn;
    void *call_opaque;
    int call_rc;
    bool call_done;

    struct log_ratelimit io_warn_rl; /* vCPU thread only */
};

/*
 * Create vCPU `index` on `vm_fd` (KVM_CREATE_VCPU + mmap of kvm_run with
 * `run_size` bytes). The buses and the exit callback are borrowed and must
 * outlive the vCPU. Returns 0 and *out (heap object owned by the caller) or
 * -errno.
 */
int vcpu_new(int vm_fd, unsigned index, int run_size, const struct bus *pio,
             const struct bus *mmio, vcpu_exit_fn *on_exit, void *exit_opaque,
             struct vcpu **out);

/* Stop and join the thread if it runs (FINISH), close fds, free; NULL-safe. */
void vcpu_free(struct vcpu *v);

/*
 * Start the thread; it comes up PAUSED (this waits for that, up to
 * timeout_ms). Installs the kick signal's empty handler (process-wide,
 * idempotent). Returns 0, -ETIMEDOUT or -errno (the thread could not start).
 */
int vcpu_start(struct vcpu *v, int timeout_ms);

/* Post a request (see the handshake above). No-op if the thread is gone. */
void vcpu_request(struct vcpu *v, enum vcpu_req req);

/*
 * Wait until the thread reaches `state` (or EXITED/FINISHED, which end any
 * wait). Returns 0 when it did reach `state`, -ESRCH when it ended in
 * EXITED/FINISHED instead, -ETIMEDOUT after timeout_ms.
 */
int vcpu_wait(struct vcpu *v, enum vcpu_state state, int timeout_ms);

/*
 * Run fn(v->fd, opaque) on the vCPU's thread, which must be PAUSED, and
 * return its result; before the thread started, fn runs on the caller's
 * thread. -EBUSY when the vCPU is not paused, -ESRCH when it stopped, and
 * -ETIMEDOUT when the thread did not take the call within timeout_ms (a call
 * the thread already took is always waited for: `opaque` may live on the
 * caller's stack). vmm thread only.
 */
int vcpu_call(struct vcpu *v, vcpu_call_fn *fn, void *opaque, int timeout_ms);

/* Current state (takes the lock). */
enum vcpu_state vcpu_get_state(struct vcpu *v);

/*
 * Handle one KVM exit already in v->run after KVM_RUN returned `run_rc`
 * (0 or -errno). Returns 0 to re-enter, 1 when interrupted (EINTR),
 * or 2 with *exit_code set when the vCPU must stop. Exposed for tests.
 */
int vcpu_handle_exit(struct vcpu *v, int run_rc, int *exit_code);

#endif
