/*
 * args.c: the jailer's argument table and upstream's ArgParser rules over
 * it (args.h).
 *
 * Upstream keeps its arguments in a BTreeMap, so every walk over them (the
 * required-argument check, the help text) is in byte order of the names:
 * the table below is written in that order and relied on.
 */
#include "jailer/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "util/xalloc.h"

enum arg_kind {
    ARG_FLAG,     /* no value */
    ARG_SINGLE,   /* one value */
    ARG_MULTIPLE, /* repeatable, one value each time */
};

struct arg_def {
    const char *name;
    enum arg_kind kind;
    bool required;
    const char *default_value; /* NULL: none */
    const char *help;
};

/* Byte order of the names (upstream's BTreeMap order). "help" is not in the
 * table: upstream adds it only when it is given, to print the help. */
static const struct arg_def defs[] = {
    {"cgroup", ARG_MULTIPLE, false, NULL,
     "Cgroup and value to be set by the jailer. It must follow this format: "
     "<cgroup_file>=<value> (e.g cpu.shares=10). This argument can be used "
     "multiple times to add multiple cgroups."},
    {"cgroup-version", ARG_SINGLE, false, JAILER_DEFAULT_CGROUP_VER,
     "Select the cgroup version used by the jailer."},
    {"chroot-base-dir", ARG_SINGLE, false, JAILER_DEFAULT_CHROOT_BASE,
     "The base folder where chroot jails are located."},
    {"daemonize", ARG_FLAG, false, NULL,
     "Daemonize the jailer before exec, by invoking setsid(), and "
     "redirecting the standard I/O file descriptors to /dev/null."},
    {"exec-file", ARG_SINGLE, true, NULL, "File path to exec into."},
    {"gid", ARG_SINGLE, true, NULL,
     "The group identifier the jailer switches to after exec."},
    {"id", ARG_SINGLE, true, NULL, "Jail ID."},
    {"netns", ARG_SINGLE, false, NULL,
     "Path to the network namespace this microVM should join."},
    {"new-pid-ns", ARG_FLAG, false, NULL, "Exec into a new PID namespace."},
    {"parent-cgroup", ARG_SINGLE, false, NULL,
     "Parent cgroup in which the cgroup of this microvm will be placed."},
    {"resource-limit", ARG_MULTIPLE, false, NULL,
     "Resource limit values to be set by the jailer. It must follow this "
     "format: <resource>=<value> (e.g no-file=1024). This argument can be "
     "used multiple times to add multiple resource limits. Current available "
     "resource values are:\n\t\tfsize: The maximum size in bytes for files "
     "created by the process.\n\t\tno-file: Specifies a value one greater "
     "than the maximum file descriptor number that can be opened by this "
     "process."},
    {"uid", ARG_SINGLE, true, NULL,
     "The user identifier the jailer switches to after exec."},
    {"version", ARG_FLAG, false, NULL, "Print the binary version number."},
};

#define N_DEFS (sizeof(defs) / sizeof(defs[0]))

static const struct arg_def help_def = {"help", ARG_FLAG, false, NULL,
                                        "Show the help message."};

/* Where the parsed value of defs[i] goes; NULL for the multiple ones and
 * flags, which are handled by name. */
static const char **single_slot(struct jail_args *a, const char *name)
{
    if (!strcmp(name, "cgroup-version"))
        return &a->cgroup_version;
    if (!strcmp(name, "chroot-base-dir"))
        return &a->chroot_base_dir;
    if (!strcmp(name, "exec-file"))
        return &a->exec_file;
    if (!strcmp(name, "gid"))
        return &a->gid;
    if (!strcmp(name, "id"))
        return &a->id;
    if (!strcmp(name, "netns"))
        return &a->netns;
    if (!strcmp(name, "parent-cgroup"))
        return &a->parent_cgroup;
    if (!strcmp(name, "uid"))
        return &a->uid;
    return NULL;
}

static const struct arg_def *find_def(const char *name)
{
    for (size_t i = 0; i < N_DEFS; i++)
        if (!strcmp(defs[i].name, name))
            return &defs[i];
    return NULL;
}

/* ArgumentParsing(<variant>("<name>")) with its display text. */
static int parse_error(struct jail_err *err, const char *variant,
                       const char *before, const char *name, const char *after)
{
    char q[1024];

    sq_rust_debug_str(name, q, sizeof(q));
    snprintf(err->display, sizeof(err->display),
             "Failed to parse arguments: %s%s%s", before, name, after);
    snprintf(err->debug, sizeof(err->debug), "ArgumentParsing(%s(%s))", variant,
             q);
    return -EINVAL;
}

int jail_args_check_utf8(int argc, char **argv, struct jail_err *err)
{
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        size_t len = strlen(s), n = 0;
        char dbg[1024];

        if (utf8_valid(s, len))
            continue;
        /* The OsString's Debug form: valid characters as a str's, each
         * byte of an invalid sequence as \xNN. */
        dbg[n++] = '"';
        while (len > 0 && n + 8 < sizeof(dbg)) {
            size_t valid, invalid, step = utf8_chunk(s, len, &valid, &invalid);
            char part[1024], chunk[1024];

            snprintf(chunk, sizeof(chunk), "%.*s", (int)valid, s);
            sq_rust_debug_str(chunk, part, sizeof(part));
            /* drop the quotes jail_debug_str added */
            for (size_t k = 1; part[k + 1] != '\0' && n + 8 < sizeof(dbg); k++)
                dbg[n++] = part[k];
            for (size_t k = 0; k < invalid && n + 8 < sizeof(dbg); k++)
                n += (size_t)snprintf(dbg + n, sizeof(dbg) - n, "\\x%02X",
                                      (unsigned char)s[valid + k]);
            s += step;
            len -= step;
        }
        dbg[n++] = '"';
        dbg[n] = '\0';
        snprintf(err->display, sizeof(err->display),
                 "called `Result::unwrap()` on an `Err` value: %s", dbg);
        err->debug[0] = '\0';
        return -EILSEQ;
    }
    return 0;
}

void jail_args_fini(struct jail_args *a)
{
    free((void *)a->cgroups);
    free((void *)a->resource_limits);
    a->cgroups = NULL;
    a->resource_limits = NULL;
    a->n_cgroups = 0;
    a->n_resource_limits = 0;
}

int jail_args_parse(int argc, char **argv, struct jail_args *out,
                    enum jail_args_action *action, struct jail_err *err)
{
    char **args = argv + 1;
    int n = argc > 1 ? argc - 1 : 0;
    bool seen[N_DEFS];

    memset(out, 0, sizeof(*out));
    memset(seen, 0, sizeof(seen));
    *action = JAIL_ARGS_RUN;

    /* 1. Everything after the first bare "--" belongs to the exec file. */
    for (int i = 0; i < n; i++) {
        if (!strcmp(args[i], "--")) {
            out->extra_args = args + i + 1;
            out->n_extra_args = n - i - 1;
            n = i;
            break;
        }
    }

    /* 2. --help/-h, then --version, anywhere: nothing else is looked at. */
    for (int i = 0; i < n; i++) {
        if (!strcmp(args[i], "--help") || !strcmp(args[i], "-h")) {
            *action = JAIL_ARGS_HELP;
            return 0;
        }
    }
    for (int i = 0; i < n; i++) {
        if (!strcmp(args[i], "--version")) {
            *action = JAIL_ARGS_VERSION;
            return 0;
        }
    }

    out->cgroups = xcalloc((size_t)n + 1, sizeof(*out->cgroups));
    out->resource_limits =
        xcalloc((size_t)n + 1, sizeof(*out->resource_limits));

    /* 3. Word by word. */
    for (int i = 0; i < n; i++) {
        const char *arg = args[i], *name, *val;
        const struct arg_def *d;
        size_t k;

        if (strncmp(arg, "--", 2) != 0) {
            parse_error(err, "UnexpectedArgument", "Found argument '", arg,
                        "' which wasn't expected, or isn't valid in this "
                        "context.");
            goto fail;
        }
        name = arg + 2;
        d = find_def(name);
        if (!d) {
            parse_error(err, "UnexpectedArgument", "Found argument '", name,
                        "' which wasn't expected, or isn't valid in this "
                        "context.");
            goto fail;
        }
        k = (size_t)(d - defs);
        if (d->kind != ARG_MULTIPLE && seen[k]) {
            parse_error(err, "DuplicateArgument", "The argument '", name,
                        "' was provided more than once.");
            goto fail;
        }
        seen[k] = true;
        if (d->kind == ARG_FLAG) {
            if (!strcmp(name, "daemonize"))
                out->daemonize = true;
            else if (!strcmp(name, "new-pid-ns"))
                out->new_pid_ns = true;
            /* "version" cannot get here: step 2 took it. */
            continue;
        }
        if (i + 1 >= n || !strncmp(args[i + 1], "--", 2)) {
            parse_error(err, "MissingValue", "The argument '", name,
                        "' requires a value, but none was supplied.");
            goto fail;
        }
        val = args[++i];
        if (!strcmp(name, "cgroup"))
            out->cgroups[out->n_cgroups++] = val;
        else if (!strcmp(name, "resource-limit"))
            out->resource_limits[out->n_resource_limits++] = val;
        else
            *single_slot(out, name) = val;
    }

    /* 4. Required arguments, in the table's (byte) order. */
    for (size_t k = 0; k < N_DEFS; k++) {
        if (defs[k].required && !seen[k]) {
            parse_error(err, "MissingArgument", "Argument '", defs[k].name,
                        "' required, but not found.");
            goto fail;
        }
    }

    /* 5. Defaults. */
    if (!out->chroot_base_dir)
        out->chroot_base_dir = JAILER_DEFAULT_CHROOT_BASE;
    if (!out->cgroup_version)
        out->cgroup_version = JAILER_DEFAULT_CGROUP_VER;
    return 0;

fail:
    jail_args_fini(out);
    return -EINVAL;
}

/* ---- help ---- */

static size_t name_width(const struct arg_def *d)
{
    /* "  --name <name>" or "  --name" */
    size_t len = strlen(d->name);

    return d->kind == ARG_FLAG ? 4 + len : 4 + len + 3 + len;
}

/* Appends to out at *n; sets *n past out_len on overflow. */
static void append(char *out, size_t out_len, size_t *n, const char *s)
{
    size_t len = strlen(s);

    if (*n < out_len && len < out_len - *n)
        memcpy(out + *n, s, len + 1);
    *n += len;
}

static void format_group(char *out, size_t out_len, size_t *n, bool required)
{
    const struct arg_def *list[N_DEFS + 1];
    size_t count = 0, width = 0;

    bool has_help = required; /* "help" is optional */

    /* The table plus "help", in byte order of the names. */
    for (size_t k = 0; k < N_DEFS; k++) {
        if (!has_help && strcmp(help_def.name, defs[k].name) < 0) {
            list[count++] = &help_def;
            has_help = true;
        }
        if (defs[k].required == required)
            list[count++] = &defs[k];
    }
    if (!has_help)
        list[count++] = &help_def;
    for (size_t i = 0; i < count; i++)
        if (name_width(list[i]) > width)
            width = name_width(list[i]);

    for (size_t i = 0; i < count; i++) {
        const struct arg_def *d = list[i];
        char line[1024];

        if (d->kind == ARG_FLAG)
            snprintf(line, sizeof(line), "  --%s", d->name);
        else
            snprintf(line, sizeof(line), "  --%s <%s>", d->name, d->name);
        if (i > 0)
            append(out, out_len, n, "\n");
        append(out, out_len, n, line);
        for (size_t w = name_width(d); w < width; w++)
            append(out, out_len, n, " ");
        append(out, out_len, n, "   ");
        append(out, out_len, n, d->help);
        if (d->default_value) {
            snprintf(line, sizeof(line), " [default: \"%s\"]",
                     d->default_value);
            append(out, out_len, n, line);
        }
    }
}

long jail_args_help_text(char *out, size_t out_len)
{
    size_t n = 0;

    if (out_len > 0)
        out[0] = '\0';
    append(out, out_len, &n, "Jailer v" JAILER_VERSION "\n\n");
    append(out, out_len, &n, "required arguments:\n");
    format_group(out, out_len, &n, true);
    append(out, out_len, &n, "\n\noptional arguments:\n");
    format_group(out, out_len, &n, false);
    append(out, out_len, &n,
           "\n\nAny arguments after the -- separator will be supplied to "
           "the jailed binary.\n\n");
    if (n >= out_len)
        return -ENOSPC;
    return (long)n;
}

const char *jail_args_version_text(void)
{
    return "Jailer v" JAILER_VERSION "\n\n";
}
