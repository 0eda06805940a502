/*
 * seccomp.h: the per-thread-kind seccomp filters (digest 10; docs/seccomp.md).
 *
 * squib, like Firecracker, runs three kinds of thread and gives each its own
 * allow-list: the vmm thread (the main thread, once the VM is built), the
 * api thread (before it serves the socket) and every vCPU thread (before its
 * first KVM_RUN). A syscall outside the list raises SIGSYS (default action
 * "trap"), which obs/signals.c turns into the log line
 * "Shutting down VM after intercepting a bad syscall ({nr})." and exit 148.
 *
 * The filters are compiled to classic BPF once at startup
 * (seccomp_setup()), from the built-in lists in seccomp.c or from a custom
 * JSON file (--seccomp-filter, in upstream's seccompiler JSON shape). Each
 * thread then installs its own program with seccomp_enter(); nothing is
 * synchronised across threads (no TSYNC), so a thread only ever carries the
 * filter of its kind, plus whatever it inherited from the thread that
 * created it (vCPU threads are created by the vmm thread before the vmm
 * filter is installed, exactly as upstream).
 *
 * The compiled set is process-wide and written once, by seccomp_setup() on
 * the main thread before any other thread exists; it is read-only after.
 * This is the one piece of file-scope state here: the filters are a
 * property of the process (like the logger's target), and threading them
 * through the vmm, machine and vCPU layers would only copy a pointer that
 * never changes.
 */
#ifndef SQUIB_UTIL_SECCOMP_H
#define SQUIB_UTIL_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/* The thread kinds, named as upstream's filter categories. */
enum seccomp_thread {
    SECCOMP_THREAD_VMM,
    SECCOMP_THREAD_API,
    SECCOMP_THREAD_VCPU,
    SECCOMP_THREAD_COUNT,
};

/* Upstream's limits: a BPF program has at most 4096 instructions (the
 * kernel's BPF_MAXINSNS). A custom filter file may be at most 1 MiB (a JSON
 * source is larger than upstream's 100000-byte bitcode limit). */
#define SECCOMP_MAX_INSNS     4096
#define SECCOMP_MAX_FILE_SIZE (1024 * 1024)

/* One compiled program: n_insns classic-BPF instructions (struct
 * sock_filter, 8 bytes each). n_insns == 0 means "install nothing". */
struct seccomp_prog {
    void *insns; /* owned; NULL when n_insns == 0 */
    size_t n_insns;
};

/* A program per thread kind. */
struct seccomp_filters {
    struct seccomp_prog prog[SECCOMP_THREAD_COUNT];
};

/* "vmm", "api", "vcpu". */
const char *seccomp_thread_name(enum seccomp_thread kind);

/*
 * Compile squib's built-in allow-lists (seccomp.c) into *out. Sanitizer
 * builds (-fsanitize=address) get a wider list, see docs/seccomp.md.
 * Returns 0, or a negative errno with a message in err (libseccomp
 * failures; never expected). On failure *out holds nothing to free.
 */
int seccomp_filters_default(struct seccomp_filters *out, struct sq_err *err);

/*
 * Compile a custom filter document (docs/seccomp.md: upstream's seccompiler
 * JSON shape, keys "vmm", "api", "vcpu", each with default_action,
 * filter_action and filter rules). `text` is borrowed. Returns 0, or -EINVAL
 * with the reason in err ("Invalid thread categories: ...",
 * "Missing thread category: ...", "Filter deserialization failed: ...").
 * On failure *out holds nothing to free.
 */
int seccomp_filters_from_json(const char *text, size_t len,
                              struct seccomp_filters *out, struct sq_err *err);

/*
 * Read and compile a custom filter file. Errors as seccomp_filters_from_json,
 * plus "Filter file open error: {io error}" and
 * "Filter deserialization failed: Input size {n} exceeds limit of {max}
 * bytes".
 */
int seccomp_filters_from_file(const char *path, struct seccomp_filters *out,
                              struct sq_err *err);

/*
 * Append squib's built-in lists (those of this build, so a sanitizer build
 * includes its sanitizer rules) to `out` as a custom-filter JSON document:
 * a starting point for a --seccomp-filter file that runs squib.
 * seccomp_filters_from_json() of the output compiles to the same programs
 * as seccomp_filters_default().
 */
void seccomp_defaults_json(struct buf *out);

/* Free the programs (the struct itself is the caller's). NULL-safe. */
void seccomp_filters_fini(struct seccomp_filters *f);

/*
 * Install `p` on the calling thread: PR_SET_NO_NEW_PRIVS, then
 * PR_SET_SECCOMP with the program. An empty program installs nothing and
 * returns 0. Returns 0 or -errno from prctl (-E2BIG above 4096
 * instructions). Filters only ever add up: once installed, it stays for the
 * life of the thread and is inherited by threads it creates.
 */
int seccomp_prog_install(const struct seccomp_prog *p);

/*
 * Process-wide setup, on the main thread before any other thread exists
 * (startup step 5). no_seccomp: nothing will be installed. Otherwise
 * `filter_path` (may be NULL) names a custom filter file, or the built-in
 * lists are used. Returns 0, or a negative errno with upstream's
 * FilterError text in err (the caller prefixes "Seccomp error: " and exits
 * 1). Also reads the test hook SQUIB_TEST_SECCOMP_TRAP (docs/compat.md).
 * Call at most once.
 */
int seccomp_setup(bool no_seccomp, const char *filter_path,
                  struct sq_err *err);

/*
 * Install the filter of `kind` on the calling thread, as configured by
 * seccomp_setup(). Does nothing (returns 0) if seccomp_setup() was never
 * called (unit tests that run vCPU or api threads) or after --no-seccomp.
 * Returns 0 or -errno from seccomp_prog_install().
 *
 * Test hook: when SQUIB_TEST_SECCOMP_TRAP named this kind at setup, the
 * thread then issues getpgrp(), which no built-in list allows, so the
 * process ends with exit code 148 (or, under --no-seccomp, carries on).
 */
int seccomp_enter(enum seccomp_thread kind);

#endif
