/*
 * rlimit.c: parsing and installing --resource-limit (rlimit.h).
 */
#include "jailer/rlimit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#define WHY_EMPTY    "cannot parse integer from empty string"
#define WHY_DIGIT    "invalid digit found in string"
#define WHY_OVERFLOW "number too large to fit in target type"

void jail_rlimits_init(struct jail_rlimits *r)
{
    r->has_file_size = false;
    r->file_size = 0;
    r->no_file = JAIL_RLIMIT_NO_FILE_DEFAULT;
}

int jail_parse_uint(const char *s, uint64_t max, uint64_t *out,
                    const char **why)
{
    uint64_t v = 0;

    if (*s == '\0') {
        *why = WHY_EMPTY;
        return -EINVAL;
    }
    /* Rust: a lone sign is an invalid digit; '-' is no sign for unsigned
     * types, so it is an invalid digit too. */
    if (*s == '+')
        s++;
    if (*s == '\0') {
        *why = WHY_DIGIT;
        return -EINVAL;
    }
    for (; *s; s++) {
        unsigned d;

        if (*s < '0' || *s > '9') {
            *why = WHY_DIGIT;
            return -EINVAL;
        }
        d = (unsigned)(*s - '0');
        if (v > (max - d) / 10) {
            /* Rust reports overflow at the first digit that overflows,
             * even if a later one is not a digit. */
            *why = WHY_OVERFLOW;
            return -EINVAL;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int jail_rlimits_parse(struct jail_rlimits *r, const char *const *args,
                       size_t n, struct jail_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *arg = args[i], *eq = strchr(arg, '='), *why = NULL;
        char name[256], qv[1024], qw[128];
        uint64_t v;

        if (!eq) {
            jail_err_str(err, "ResLimitFormat",
                         "Invalid format for resources limits: ", arg, "");
            return -EINVAL;
        }
        snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
        if (jail_parse_uint(eq + 1, UINT64_MAX, &v, &why) < 0) {
            snprintf(err->display, sizeof(err->display),
                     "Invalid limit value for resource: %s: %s", eq + 1, why);
            snprintf(err->debug, sizeof(err->debug), "ResLimitValue(%s, %s)",
                     sq_rust_debug_str(eq + 1, qv, sizeof(qv)),
                     sq_rust_debug_str(why, qw, sizeof(qw)));
            return -EINVAL;
        }
        if (!strcmp(name, "fsize")) {
            r->has_file_size = true;
            r->file_size = v;
        } else if (!strcmp(name, "no-file")) {
            r->no_file = v;
        } else {
            jail_err_str(err, "ResLimitArgument",
                         "Invalid resource argument: ", name, "");
            return -EINVAL;
        }
    }
    return 0;
}

static int set_limit(int resource, uint64_t v, const char *what,
                     struct jail_err *err)
{
    struct rlimit rl = {.rlim_cur = v, .rlim_max = v};

    if (setrlimit(resource, &rl) < 0) {
        int rc = -errno;

        jail_err_str(err, "Setrlimit",
                     "Failed to set limit for resource: ", what, "");
        return rc;
    }
    return 0;
}

int jail_rlimits_install(const struct jail_rlimits *r, struct jail_err *err)
{
    if (r->has_file_size &&
        set_limit(RLIMIT_FSIZE, r->file_size, "size of file", err) < 0)
        return -EPERM;
    return set_limit(RLIMIT_NOFILE, r->no_file, "number of file descriptors",
                     err);
}
