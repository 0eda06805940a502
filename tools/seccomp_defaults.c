/*
 * seccomp_defaults.c: print squib's built-in seccomp lists as a custom
 * filter document (docs/seccomp.md), the starting point for a
 * --seccomp-filter file. Built by `make seccomp-defaults` (mk/seccomp.mk)
 * as build/seccomp-defaults; `build/seccomp-defaults > filter.json`.
 */
#include <stdio.h>

#include "util/buf.h"
#include "util/seccomp.h"
#include "vmm/seccomp_rules.h"

int main(void)
{
    struct seccomp_policy pol = {0};
    struct buf b = BUF_INIT;
    int rc = 0;

    seccomp_rules_default(&pol);
    seccomp_policy_json(&pol, &b);
    seccomp_policy_fini(&pol);
    if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
        perror("seccomp-defaults");
        rc = 1;
    }
    buf_fini(&b);
    return rc;
}
