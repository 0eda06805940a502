/*
 * seccomp.h: the seccomp mechanism (digest 10; docs/seccomp.md): compile
 * allow-lists to classic BPF, read custom filter files, install a filter
 * per thread kind.
 *
 * squib, like Firecracker, runs three kinds of thread and gives each its own
 * allow-list: the vmm thread (the main thread, once the VM is built), the
 * api thread (before it serves the socket) and every vCPU thread (before its
 * first KVM_RUN). A syscall outside the list raises SIGSYS (default action
 * "trap"), which obs/signals.c turns into the log line
 * "Shutting down VM after intercepting a bad syscall ({nr})." and exit 148.
 *
 * What each kind may call is VMM policy and lives in vmm/seccomp_rules.c,
 * which hands it here as a struct seccomp_policy. This module knows no
 * syscall by name: it compiles a policy (or a custom JSON file,
 * --seccomp-filter, in upstream's seccompiler JSON shape) to BPF, or loads
 * the BPF of upstream's compiled filter files (util/seccomp_bitcode.h). The
 * built-in policy is compiled when squib is built (tools/seccomp_bpf_gen.c,
 * with the same functions), so at startup seccomp_setup() only takes those
 * programs, and compiles nothing unless a custom file was given. Each
 * thread then installs its own program with
 * seccomp_enter(); nothing is synchronised across threads (no TSYNC), so a
 * thread only ever carries the filter of its kind, plus whatever it
 * inherited from the thread that created it (vCPU threads are created by
 * the vmm thread before the vmm filter is installed, exactly as upstream).
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

#include <linux/filter.h>
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
 * kernel's BPF_MAXINSNS). A compiled (bitcode) filter file may be at most
 * 100000 bytes, upstream's limit; a JSON one at most 1 MiB (a JSON source
 * is larger than the compiled file). */
#define SECCOMP_MAX_INSNS        4096
#define SECCOMP_MAX_FILE_SIZE    (1024 * 1024)
#define SECCOMP_MAX_BITCODE_SIZE 100000

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

/*
 * Programs that are never freed, one per thread kind: the built-in filters,
 * compiled to BPF when squib is built and linked in as read-only arrays
 * (docs/seccomp.md, "How the built-in filters are built"). n_insns == 0
 * means "install nothing".
 */
struct seccomp_static_filters {
    struct {
        const struct sock_filter *insns; /* static; NULL when n_insns == 0 */
        size_t n_insns;
    } prog[SECCOMP_THREAD_COUNT];
};

/* "vmm", "api", "vcpu". */
const char *seccomp_thread_name(enum seccomp_thread kind);

/* An argument comparison, as in upstream's JSON ("eq", "ne", "lt", "le",
 * "gt", "ge", {"masked_eq": mask}), in that order. */
enum seccomp_cmp {
    SECCOMP_CMP_EQ,
    SECCOMP_CMP_NE,
    SECCOMP_CMP_LT,
    SECCOMP_CMP_LE,
    SECCOMP_CMP_GT,
    SECCOMP_CMP_GE,
    SECCOMP_CMP_MASKED_EQ, /* (arg & mask) == val */
};

/* One argument condition. A "dword" compares the low 32 bits only (the
 * kernel passes int arguments with undefined upper halves), a "qword" all
 * 64. */
struct seccomp_cond {
    unsigned idx; /* argument index, 0..5 */
    bool qword;
    enum seccomp_cmp op;
    uint64_t mask; /* SECCOMP_CMP_MASKED_EQ only */
    uint64_t val;
};

#define SECCOMP_MAX_CONDS 4

/* One allow rule: syscall `name` (resolved with libseccomp for the native
 * architecture) is allowed when all n conditions hold. Several rules for one
 * syscall are alternatives. */
struct seccomp_rule {
    const char *name; /* borrowed; a string literal in practice */
    unsigned n;
    struct seccomp_cond c[SECCOMP_MAX_CONDS];
};

/*
 * An allow-list per thread kind; everything else traps. Start from
 * {0} (empty lists), fill with seccomp_policy_add(), release with
 * seccomp_policy_fini(). Rules keep their order, and the order is part of
 * the compiled program: the same rules added in the same order compile to
 * the same BPF, byte for byte.
 */
struct seccomp_policy {
    struct seccomp_rule *rules[SECCOMP_THREAD_COUNT]; /* owned */
    size_t n_rules[SECCOMP_THREAD_COUNT];
};

/* Append copies of rules[0..n) to the list of `kind` (xalloc: aborts on
 * out of memory). */
void seccomp_policy_add(struct seccomp_policy *p, enum seccomp_thread kind,
                        const struct seccomp_rule *rules, size_t n);

/* Free the lists (the struct itself is the caller's); leaves it empty.
 * NULL-safe. */
void seccomp_policy_fini(struct seccomp_policy *p);

/*
 * Compile `p` into *out, one program per kind: default action trap, each
 * rule allowed. Returns 0, or a negative errno with a message in err (an
 * unknown syscall name, libseccomp failures). On failure *out holds nothing
 * to free.
 */
int seccomp_policy_compile(const struct seccomp_policy *p,
                           struct seccomp_filters *out, struct sq_err *err);

/*
 * Append `p` to `out` as a custom-filter JSON document (default action
 * "trap", filter action "allow"): seccomp_filters_from_json() of the output
 * compiles to the same programs as seccomp_policy_compile(p).
 */
void seccomp_policy_json(const struct seccomp_policy *p, struct buf *out);

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

/* What seccomp_filters_compile_json() failed on, in the categories of
 * upstream's seccompiler-bin (its CompilationError). */
enum seccomp_json_error {
    SECCOMP_JSON_OK = 0,
    SECCOMP_JSON_SYNTAX,     /* not JSON (serde_json's text in err) */
    SECCOMP_JSON_SCHEMA,     /* JSON, but not a filter document */
    SECCOMP_JSON_SYSCALL,    /* a syscall name libseccomp does not know */
    SECCOMP_JSON_RULE,       /* libseccomp refused a rule */
    SECCOMP_JSON_LIBSECCOMP, /* a context or the export failed */
};

/* seccomp_filters_compile_json() flags. */
#define SECCOMP_JSON_BASIC 1u /* drop every rule's argument conditions */

/*
 * seccomp_filters_from_json() with flags (SECCOMP_JSON_BASIC: upstream's
 * deprecated --basic: each rule without its conditions, which are still
 * checked) and *kind set to what failed (SECCOMP_JSON_OK on success). For
 * seccompiler-bin, which reports failures in upstream's categories.
 */
int seccomp_filters_compile_json(const char *text, size_t len, unsigned flags,
                                 struct seccomp_filters *out,
                                 enum seccomp_json_error *kind,
                                 struct sq_err *err);

/*
 * Append f's programs to `out` as upstream's seccompiler-bin writes them:
 * a bitcode map (util/seccomp_bitcode.h) of "api", "vcpu", "vmm" (its
 * BTreeMap's order), so seccomp_filters_from_bitcode() loads the same
 * programs back.
 */
void seccomp_filters_bitcode(const struct seccomp_filters *f, struct buf *out);

/*
 * Load upstream's compiled filter file (util/seccomp_bitcode.h: a bitcode
 * map from category to BPF program) from data[0..len) (borrowed). Keys
 * are lower-cased (ASCII) and must be exactly "vmm", "api" and "vcpu"; a
 * key given twice counts once, the last one in the file wins. Programs are
 * taken as they are: an empty one installs nothing, one longer than 4096
 * instructions fails when installed (seccomp_prog_install), as upstream.
 * Returns 0, or -EINVAL with upstream's text in err:
 * "Filter deserialization failed: Bitcode deserialization failed: bitcode
 * error", "Invalid thread categories: ...", "Missing thread category: ...".
 * The size limit is the caller's (seccomp_filters_from_file). On failure
 * *out holds nothing to free.
 */
int seccomp_filters_from_bitcode(const void *data, size_t len,
                                 struct seccomp_filters *out,
                                 struct sq_err *err);

/*
 * Read a custom filter file and load it: JSON (compiled here) when its
 * first byte that is not JSON whitespace is '{', upstream's compiled
 * format otherwise. Errors as seccomp_filters_from_json and
 * seccomp_filters_from_bitcode, plus "Filter file open error: {io error}"
 * and "Filter deserialization failed: Input size {n} exceeds limit of
 * {max} bytes" (JSON: 1048576; compiled: 100000, and then {n} is 100001,
 * as upstream reads one byte past the limit and stops).
 */
int seccomp_filters_from_file(const char *path, struct seccomp_filters *out,
                              struct sq_err *err);

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
 * Upstream's text for a seccomp_prog_install() or seccomp_enter() failure
 * `rc` (its InstallationError): "Filter length exceeds the maximum size of
 * 4096 instructions" for -E2BIG, else "prctl` syscall failed with error
 * code: {io error}". Writes into out (NUL-terminated) and returns it.
 */
const char *seccomp_install_strerror(int rc, char *out, size_t out_len);

/* Called by seccomp_enter() on the calling thread once its filter is in
 * place (see seccomp_setup()). */
typedef void seccomp_entered_fn(enum seccomp_thread kind);

/*
 * Process-wide setup, on the main thread before any other thread exists
 * (startup step 5). no_seccomp: nothing will be installed. Otherwise
 * `filter_path` (may be NULL) names a custom filter file, compiled here, or
 * the programs of `defaults` (borrowed, and must outlive every thread: in
 * squib the arrays compiled at build time) are installed as they are, with
 * no compiling at all. `entered` (may be
 * NULL) is called by every later seccomp_enter(), whether or not a filter
 * was installed. Returns 0, or a negative errno with upstream's FilterError
 * text in err (the caller prefixes "Seccomp error: " and exits 1). Call at
 * most once.
 */
int seccomp_setup(bool no_seccomp, const char *filter_path,
                  const struct seccomp_static_filters *defaults,
                  seccomp_entered_fn *entered, struct sq_err *err);

/*
 * Install the filter of `kind` on the calling thread, as configured by
 * seccomp_setup(), then call its `entered` function. Does nothing (returns
 * 0) if seccomp_setup() was never called (unit tests that run vCPU or api
 * threads); installs nothing after --no-seccomp. Returns 0 or -errno from
 * seccomp_prog_install() (then `entered` is not called).
 */
int seccomp_enter(enum seccomp_thread kind);

#endif
