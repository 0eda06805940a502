/*
 * seccomp_defaults.c: print squib's built-in seccomp lists as a custom
 * filter file (docs/seccomp.md), the starting point for a --seccomp-filter
 * file. Built by `make seccomp-defaults` (mk/seccomp.mk) as
 * build/seccomp-defaults:
 *
 *   build/seccomp-defaults > filter.json              the JSON source
 *   build/seccomp-defaults --compiled > filter.bpf    upstream's compiled
 *                                                    format (bitcode), as
 *                                                    seccompiler-bin writes
 */
#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/seccomp.h"
#include "vmm/seccomp_rules.h"

/* The compiled programs as seccompiler-bin writes them. Returns 0 or -1
 * (message on stderr). */
static int write_compiled(const struct seccomp_policy *pol, struct buf *b)
{
    struct seccomp_filters f;
    struct sq_err err;

    sq_err_clear(&err);
    if (seccomp_policy_compile(pol, &f, &err) < 0) {
        fprintf(stderr, "seccomp-defaults: %s\n", err.msg);
        return -1;
    }
    seccomp_filters_bitcode(&f, b);
    seccomp_filters_fini(&f);
    return 0;
}

int main(int argc, char **argv)
{
    struct seccomp_policy pol = {0};
    struct buf b = BUF_INIT;
    bool compiled = argc == 2 && strcmp(argv[1], "--compiled") == 0;
    int rc = 0;

    if (argc > 2 || (argc == 2 && !compiled)) {
        fprintf(stderr, "usage: seccomp-defaults [--compiled]\n");
        return 2;
    }
    seccomp_rules_default(&pol);
    if (compiled)
        rc = write_compiled(&pol, &b) < 0;
    else
        seccomp_policy_json(&pol, &b);
    seccomp_policy_fini(&pol);
    if (!rc &&
        (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0)) {
        perror("seccomp-defaults");
        rc = 1;
    }
    buf_fini(&b);
    return rc;
}
