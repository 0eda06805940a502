/*
 * fuzz_jailer_args.c: libFuzzer harness for the jailer's command line
 * (src/jailer/args.h) and the pure checks behind it.
 *
 * The input is cut at '\n' into argv words (at most 64; argv[0] is
 * "jailer"). Each run checks UTF-8 (as upstream's env::args), parses, and
 * on success runs the checks that read no files over the values: --id,
 * --parent-cgroup and --resource-limit. Invariants: every failure carries
 * a display and a Debug text (the UTF-8 panic only a display), a parse
 * that succeeds has the four required values and the two defaults, every
 * repeated value points at a word of the input, and the extra arguments are
 * exactly the words after the first "--".
 * Build: make fuzz-build (mk/fuzz.mk links the jailer's objects).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jailer/args.h"
#include "jailer/cgroup.h"
#include "jailer/env.h"
#include "jailer/rlimit.h"

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(const struct jail_err *e, int need_debug)
{
    if (e->display[0] == '\0' || (need_debug && e->debug[0] == '\0'))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    char *argv[MAX_WORDS + 1];
    struct jail_err err;
    struct jail_args a;
    enum jail_args_action action;
    int argc = 0, sep = -1;

    if (!buf)
        __builtin_trap();
    memcpy(buf, data, size);
    buf[size] = '\0';
    argv[argc++] = (char *)"jailer";
    for (char *p = buf; argc < MAX_WORDS;) {
        char *nl = strchr(p, '\n');

        argv[argc++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;
    for (int i = 1; i < argc && sep < 0; i++)
        if (!strcmp(argv[i], "--"))
            sep = i;

    memset(&err, 0, sizeof(err));
    if (jail_args_check_utf8(argc, argv, &err) < 0) {
        check_err(&err, 0);
        goto out;
    }
    memset(&err, 0, sizeof(err));
    if (jail_args_parse(argc, argv, &a, &action, &err) < 0) {
        check_err(&err, 1);
        goto out;
    }
    if (action == JAIL_ARGS_RUN) {
        struct jail_rlimits rl;

        if (!a.id || !a.exec_file || !a.uid || !a.gid || !a.chroot_base_dir ||
            !a.cgroup_version)
            __builtin_trap();
        if (sep >= 0 ? a.n_extra_args != argc - sep - 1 : a.n_extra_args != 0)
            __builtin_trap();
        for (size_t i = 0; i < a.n_cgroups; i++)
            if (a.cgroups[i] < buf || a.cgroups[i] > buf + size)
                __builtin_trap();
        memset(&err, 0, sizeof(err));
        if (jail_check_id(a.id, &err) < 0)
            check_err(&err, 1);
        if (a.parent_cgroup)
            (void)jail_cg_path_ok(a.parent_cgroup, NULL);
        jail_rlimits_init(&rl);
        memset(&err, 0, sizeof(err));
        if (jail_rlimits_parse(&rl, a.resource_limits, a.n_resource_limits,
                               &err) < 0)
            check_err(&err, 1);
    }
    jail_args_fini(&a);
out:
    free(buf);
    return 0;
}
