/*
 * fuzz_clap.c: libFuzzer harness for the clap-style command line of the
 * companion tools (util/clap.h).
 *
 * The input is cut at '\n' into argv words (at most 32; argv[0] is the
 * tool's name). Each run parses the words against two tables shaped like
 * snapshot-editor's (nested subcommands, required options with short
 * flags) and seccompiler-bin's (required and defaulted options, flags, an
 * option without a short flag). Invariants: the result is -1 (run) or an
 * exit code 0 or 2; a run has a leaf command, every required option of
 * the leaf has a value taken from the input (or a default), a flag is
 * "" or NULL. Help, version and errors go to /dev/null.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/clap.h"

#define MAX_WORDS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct clap_arg two[] = {
    {"memory-path", 'm', "MEMORY_PATH", "Path to the memory file", NULL, true},
    {"diff-path", 'd', "DIFF_PATH", "Path to the diff file", NULL, true},
};
static const struct clap_arg one[] = {
    {"vmstate-path", 'v', "VMSTATE_PATH", "Path to the vmstate file", NULL,
     true},
};
static const struct clap_cmd edit[] = {
    {"rebase", "Apply a diff", NULL, two, 2, NULL, 0},
};
static const struct clap_cmd info[] = {
    {"version", "Print snapshot version", NULL, one, 1, NULL, 0},
    {"vm-state", NULL, NULL, one, 1, NULL, 0},
};
static const struct clap_cmd subs[] = {
    {"edit-memory", NULL, NULL, NULL, 0, edit, 1},
    {"info-vmstate", NULL, NULL, NULL, 0, info, 2},
};
static const struct clap_cmd editor = {
    "snapshot-editor", NULL, "v1", NULL, 0, subs, 2};

static const struct clap_arg flat_args[] = {
    {"target-arch", 't', "TARGET_ARCH", "Arch", NULL, true},
    {"input-file", 'i', "INPUT_FILE", "Input", NULL, true},
    {"output-file", 'o', "OUTPUT_FILE", "Output", "out.bin", false},
    {"basic", 'b', NULL, "Basic", NULL, false},
    {"split-output", 0, NULL, NULL, NULL, false},
};
static const struct clap_cmd flat = {"seccompiler", NULL, "v1", flat_args, 5,
                                     NULL,          0};

/* clap_parse with stdout and stderr sent to /dev/null for the call only
 * (libFuzzer reports on stderr). */
static int quiet_parse(const struct clap_cmd *root, int argc, char **argv,
                       struct clap_match *m)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int out = dup(1), err = dup(2), rc;

    if (null < 0 || out < 0 || err < 0)
        abort();
    fflush(stdout);
    fflush(stderr);
    dup2(null, 1);
    dup2(null, 2);
    rc = clap_parse(root, argc, argv, m);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(err, 2);
    close(out);
    close(err);
    close(null);
    return rc;
}

static void check(const struct clap_cmd *root, int argc, char **argv,
                  const char *buf, size_t size)
{
    struct clap_match m;
    const struct clap_cmd *leaf;
    int rc = quiet_parse(root, argc, argv, &m);

    if (rc != -1 && rc != 0 && rc != 2)
        __builtin_trap();
    if (rc != -1)
        return;
    if (m.depth == 0 || m.depth > CLAP_MAX_DEPTH || m.path[0] != root)
        __builtin_trap();
    leaf = m.path[m.depth - 1];
    if (leaf->n_subs)
        __builtin_trap();
    for (size_t i = 0; i < leaf->n_args; i++) {
        const char *v = m.values[i];
        const struct clap_arg *a = &leaf->args[i];

        if (a->required && !v)
            __builtin_trap();
        if (!a->value_name && v && v[0] != '\0')
            __builtin_trap();
        if (a->value_name && v && v != a->default_value &&
            (v < buf || v > buf + size))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    char *argv[MAX_WORDS + 1];
    char name[] = "tool";
    int argc = 1;

    if (!buf)
        abort();
    if (size)
        memcpy(buf, data, size);
    buf[size] = '\0';
    argv[0] = name;
    for (char *p = buf; argc < MAX_WORDS;) {
        char *nl = memchr(p, '\n', (size_t)(buf + size - p));

        argv[argc++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;
    check(&editor, argc, argv, buf, size);
    check(&flat, argc, argv, buf, size);
    free(buf);
    return 0;
}
