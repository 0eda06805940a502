/*
 * seccompiler-bin: upstream's seccomp filter compiler (docs/tools.md):
 * a JSON filter file in, the compiled file that --seccomp-filter loads out.
 *
 *   seccompiler-bin --target-arch x86_64 --input-file IN
 *                   [--output-file OUT] [--basic] [--split-output]
 *
 * The command line is upstream's clap definition (util/clap.h). The
 * compiling is squib's own (util/seccomp.h: the same code that compiles a
 * JSON --seccomp-filter at startup), so a compiled file loads into exactly
 * the programs the JSON file would have given. The output is written to a
 * temporary name beside OUT, fsynced and renamed, so a failure leaves no
 * file behind. Failures print Rust's "Error: {Debug}" line of upstream's
 * CompilationError, as upstream's main() returning it does, and exit 1;
 * where upstream's error says nothing of the cause (an unknown syscall, a
 * rule libseccomp refuses) squib's reason is printed on the line before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clap.h"
#include "util/err.h"
#include "util/fdio.h"
#include "util/json.h"
#include "util/seccomp.h"
#include "util/utf8.h"

#define DEFAULT_OUTPUT "seccomp_binary_filter.out"
/* Upstream reads any size; a sane bound instead of running out of memory. */
#define MAX_INPUT (64u << 20)
#define DESER     "Filter deserialization failed: "

enum { ARG_ARCH, ARG_INPUT, ARG_OUTPUT, ARG_BASIC, ARG_SPLIT };

static const struct clap_arg args[] = {
    [ARG_ARCH] = {"target-arch", 't', "TARGET_ARCH",
                  "The computer architecture where the BPF program runs. "
                  "Supported architectures: x86_64, aarch64.",
                  NULL, true},
    [ARG_INPUT] = {"input-file", 'i', "INPUT_FILE",
                   "File path of the JSON input.", NULL, true},
    [ARG_OUTPUT] = {"output-file", 'o', "OUTPUT_FILE",
                    "Optional path of the output file.", DEFAULT_OUTPUT, false},
    [ARG_BASIC] = {"basic", 'b', NULL,
                   "Deprecated! Transforms the filters into basic filters. "
                   "Drops all argument checks and rule-level actions. Not "
                   "recommended.",
                   NULL, false},
    [ARG_SPLIT] = {"split-output", 0, NULL,
                   "Output individual BPF files for each thread instead of a "
                   "single combined file. Used for testing purposes.",
                   NULL, false},
};

/* The package name is what clap's version line shows. */
static const struct clap_cmd root = {
    "seccompiler", NULL, "v1.17.0-dev", args, 5, NULL, 0,
};

/* "Error: {debug}" (and a detail line first when given); exit code 1. */
__attribute__((format(printf, 2, 3))) static int fail(const char *detail,
                                                      const char *fmt, ...)
{
    va_list ap;

    if (detail)
        fprintf(stderr, "seccompiler-bin: %s\n", detail);
    fputs("Error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static int io_fail(const char *variant, int errnum)
{
    char dbg[512];

    return fail(NULL, "%s(%s)", variant,
                sq_os_error_debug(errnum, dbg, sizeof(dbg)));
}

/* The input file, whole, into b. Returns 0 or the exit code. */
static int read_input(const char *path, struct buf *b)
{
    char chunk[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return io_fail("IntputOpen", errno); /* sic, upstream's name */
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            close(fd);
            return io_fail("InputRead", e);
        }
        if (n == 0)
            break;
        if (b->len + (size_t)n > MAX_INPUT) {
            close(fd);
            return fail(NULL,
                        "InputRead(Custom { kind: FileTooLarge, error: "
                        "\"input larger than %u bytes\" })",
                        MAX_INPUT);
        }
        buf_append(b, chunk, (size_t)n);
    }
    close(fd);
    /* read_to_string's check. */
    if (!utf8_valid(b->data ? b->data : "", b->len))
        return fail(NULL, "InputRead(Custom { kind: InvalidData, error: "
                          "\"stream did not contain valid UTF-8\" })");
    return 0;
}

/* serde_json's Debug form from its Display text "{msg} at line L column
 * C": Error("{msg}", line: L, column: C); without a position line and
 * column are 0, as serde_json reports errors that have none. */
static int json_fail(const char *msg, const char *detail)
{
    const char *at = strstr(msg, " at line ");
    unsigned line = 0, col = 0;
    char text[SQ_ERR_MSG_MAX], dbg[SQ_ERR_MSG_MAX + 64];

    if (!strncmp(msg, DESER, strlen(DESER)))
        msg += strlen(DESER);
    at = strstr(msg, " at line ");
    if (at && sscanf(at, " at line %u column %u", &line, &col) == 2)
        snprintf(text, sizeof(text), "%.*s", (int)(at - msg), msg);
    else
        snprintf(text, sizeof(text), "%s", msg);
    return fail(detail, "JsonDeserialize(Error(%s, line: %u, column: %u))",
                sq_rust_debug_str(text, dbg, sizeof(dbg)), line, col);
}

/* Write p[0..n) to `path` through a temporary name beside it: fsynced,
 * renamed over it; nothing is left behind on failure. 0 or -errno. */
static int write_atomic(const char *path, const void *p, size_t n)
{
    struct buf tmp = BUF_INIT;
    mode_t mask = umask(0);
    int fd, rc;

    umask(mask);
    buf_printf(&tmp, "%s.tmp.XXXXXX", path);
    buf_putc(&tmp, '\0');
    fd = mkostemp(tmp.data, O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        buf_fini(&tmp);
        return rc;
    }
    rc = fd_write_all(fd, p, n);
    /* File::create's mode: 0666 less the umask (mkostemp made it 0600). */
    if (rc == 0 && fchmod(fd, 0666 & ~mask) < 0)
        rc = -errno;
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp.data, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp.data);
    buf_fini(&tmp);
    return rc;
}

/* --split-output: DIR/{api,vcpu,vmm}.bpf, raw BPF, DIR the output's. */
static int write_split(const char *out_path, const struct seccomp_filters *f)
{
    const char *slash = strrchr(out_path, '/');
    static const enum seccomp_thread order[] = {
        SECCOMP_THREAD_API, SECCOMP_THREAD_VCPU, SECCOMP_THREAD_VMM};

    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        const struct seccomp_prog *p = &f->prog[order[i]];
        struct buf path = BUF_INIT;
        int rc;

        if (slash)
            buf_printf(&path, "%.*s/", (int)(slash - out_path), out_path);
        buf_printf(&path, "%s.bpf", seccomp_thread_name(order[i]));
        buf_putc(&path, '\0');
        rc = write_atomic(path.data, p->insns ? p->insns : "",
                          p->n_insns * sizeof(struct sock_filter));
        buf_fini(&path);
        if (rc < 0)
            return io_fail("OutputCreate", -rc);
    }
    return 0;
}

static int compile(const struct clap_match *m)
{
    struct buf in = BUF_INIT, out = BUF_INIT;
    struct seccomp_filters f;
    enum seccomp_json_error kind;
    struct json_value *doc = NULL;
    struct sq_err err;
    char arch[16];
    size_t i;
    int rc = read_input(m->values[ARG_INPUT], &in);

    if (rc)
        goto out;
    /* Upstream's order: the JSON first, then the architecture. */
    sq_err_clear(&err);
    if (json_parse(in.data ? in.data : "", in.len, &doc, &err) < 0) {
        rc = json_fail(err.msg, NULL);
        goto out;
    }
    json_value_free(doc);
    for (i = 0; m->values[ARG_ARCH][i] && i + 1 < sizeof(arch); i++) {
        char c = m->values[ARG_ARCH][i];

        arch[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    arch[i] = '\0';
    if (strcmp(arch, "x86_64") != 0 || m->values[ARG_ARCH][i]) {
        char dbg[512];

        rc = fail(strcmp(arch, "aarch64") == 0
                      ? "squib compiles filters for x86_64 only"
                      : NULL,
                  "ArchParse(%s)",
                  sq_rust_debug_str(m->values[ARG_ARCH], dbg, sizeof(dbg)));
        goto out;
    }
    rc = seccomp_filters_compile_json(
        in.data, in.len, m->values[ARG_BASIC] ? SECCOMP_JSON_BASIC : 0, &f,
        &kind, &err);
    if (rc < 0) {
        const char *detail = err.msg;

        if (!strncmp(detail, DESER, strlen(DESER)))
            detail += strlen(DESER);
        if (kind == SECCOMP_JSON_SYSCALL)
            rc = fail(detail, "LibSeccompSycall"); /* sic */
        else if (kind == SECCOMP_JSON_RULE)
            rc = fail(detail, "LibSeccompRule");
        else if (kind == SECCOMP_JSON_LIBSECCOMP)
            rc = fail(detail, "LibSeccompExport");
        else
            rc = json_fail(err.msg, NULL);
        goto out;
    }
    if (m->values[ARG_SPLIT]) {
        rc = write_split(m->values[ARG_OUTPUT], &f);
    } else {
        seccomp_filters_bitcode(&f, &out);
        if (out.len > SECCOMP_MAX_BITCODE_SIZE)
            rc = fail(NULL, "SizeLimitExceeded(%d)", SECCOMP_MAX_BITCODE_SIZE);
        else if ((rc = write_atomic(m->values[ARG_OUTPUT], out.data, out.len)) <
                 0)
            rc = io_fail("OutputCreate", -rc);
    }
    seccomp_filters_fini(&f);
out:
    buf_fini(&in);
    buf_fini(&out);
    return rc;
}

int main(int argc, char **argv)
{
    struct clap_match m;
    int rc = clap_parse(&root, argc, argv, &m);

    if (rc >= 0)
        return rc;
    return compile(&m);
}
