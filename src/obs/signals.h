/*
 * signals.h: the fatal-signal handlers (digest 3.6), as upstream's
 * signal_handler.rs.
 *
 * SIGBUS, SIGSEGV, SIGXFSZ, SIGXCPU, SIGHUP, SIGILL and SIGSYS end the
 * process: the handler sets the signal's metric to 1 (signals.<name>, or
 * seccomp.num_faults for SIGSYS), logs at ERROR
 *   "Shutting down VM after intercepting signal {n}, code {c}."
 * (SIGSYS with si_code SYS_SECCOMP also logs
 *   "Shutting down VM after intercepting a bad syscall ({nr})."),
 * flushes the metrics and calls _exit() with the code below. A handler
 * invoked for the wrong signal, or a SIGSYS that is not a seccomp kill,
 * exits with 2 (UnexpectedError) after flushing.
 *
 * SIGPIPE is counted (signals.sigpipe), logged as
 * "Received signal 13, code {c}." and otherwise ignored: the EPIPE is
 * handled where the write failed.
 *
 * Everything a handler does is async-signal-safe: log_write_signal_safe(),
 * metrics_flush_signal_safe(), _exit(). All signals are blocked while a
 * handler runs. SIGTERM and SIGINT keep their default action, as upstream.
 */
#ifndef SQUIB_OBS_SIGNALS_H
#define SQUIB_OBS_SIGNALS_H

/* Exit codes of the fatal signals (upstream FcExitCode). */
#define SIGNALS_EXIT_UNEXPECTED  2
#define SIGNALS_EXIT_BAD_SYSCALL 148
#define SIGNALS_EXIT_SIGBUS      149
#define SIGNALS_EXIT_SIGSEGV     150
#define SIGNALS_EXIT_SIGXFSZ     151
#define SIGNALS_EXIT_SIGXCPU     154
#define SIGNALS_EXIT_SIGPIPE     155 /* defined upstream, never used */
#define SIGNALS_EXIT_SIGHUP      156
#define SIGNALS_EXIT_SIGILL      157

/*
 * Install the handlers for the whole process (startup step 4, after the
 * logger is configured and before metrics are initialised). Returns 0 or
 * -errno from sigaction(); on failure some handlers may already be set.
 */
int signals_install(void);

/*
 * The exit code the handler of `signo` uses (SIGSYS: 148), or -1 if squib
 * installs no fatal handler for it. For tests and documentation.
 */
int signals_exit_code(int signo);

/*
 * squib's equivalent of upstream's panic hook, for invariants whose failure
 * must end the process: logs "Firecracker panicked at {file}:{line}:\n{msg}"
 * at ERROR, stores vmm.panic_count = 1, flushes the metrics (logging
 * "Failed to write metrics while panicking: {error}" on failure), then
 * abort()s (SIGABRT, exit status 134 in a shell, as upstream). Not for
 * errors a user or a guest can cause: those are reported, not fatal.
 */
void signals_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#define SQ_PANIC(...) signals_panic(__FILE__, __LINE__, __VA_ARGS__)

#endif
