/*
 * args.h: the jailer's command line, parsed as upstream's ArgParser
 * (utils/src/arg_parser.rs) parses it for the jailer's argument table.
 *
 * Syntax: only "--name value" and "--flag"; everything after the first bare
 * "--" is kept for the exec file. "--help" or "-h" anywhere before "--"
 * wins over everything else, then "--version". Otherwise each argument must
 * start with "--" and name a known argument ("Found argument '...' which
 * wasn't expected, or isn't valid in this context."; a word without the
 * prefix is reported whole, "--name" without it); a value may not start
 * with "--" ("The argument '...' requires a value, but none was
 * supplied."); only --cgroup and --resource-limit may repeat ("The argument
 * '...' was provided more than once."); then the required ones (exec-file,
 * gid, id, uid, checked in that order) must be there ("Argument '...'
 * required, but not found."). Every such error is upstream's
 * JailerError::ArgumentParsing: "Failed to parse arguments: {text}".
 *
 * Values are checked later (env.h); this layer only sorts the words.
 */
#ifndef SQUIB_JAILER_ARGS_H
#define SQUIB_JAILER_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "jailer/error.h"

#define JAILER_VERSION             "1.17.0-dev" /* upstream's, as squib's */
#define JAILER_DEFAULT_CHROOT_BASE "/srv/jailer"
#define JAILER_DEFAULT_CGROUP_VER  "1"

/*
 * The parsed command line. Strings point into argv (valid for the life of
 * the process); NULL when not given and without a default. The two arrays
 * are owned (jail_args_fini frees them); their strings are in argv.
 */
struct jail_args {
    const char *id;
    const char *exec_file;
    const char *uid;
    const char *gid;
    const char *chroot_base_dir; /* default JAILER_DEFAULT_CHROOT_BASE */
    const char *netns;
    const char *cgroup_version; /* default JAILER_DEFAULT_CGROUP_VER */
    const char *parent_cgroup;
    bool daemonize;
    bool new_pid_ns;
    const char **cgroups; /* owned array; each "file=value" as given */
    size_t n_cgroups;
    const char **resource_limits; /* owned array; each "name=value" */
    size_t n_resource_limits;
    char **extra_args; /* after "--"; points into argv */
    int n_extra_args;
};

enum jail_args_action {
    JAIL_ARGS_RUN,     /* *out is filled: go on and jail */
    JAIL_ARGS_HELP,    /* print the help (jail_args_help_text), exit 0 */
    JAIL_ARGS_VERSION, /* print the version (jail_args_version_text), exit 0 */
};

/*
 * Parse argv (argv[0] is skipped). Returns 0 with *action set (and *out
 * filled for JAIL_ARGS_RUN; always call jail_args_fini afterwards), or
 * -EINVAL with *err set to upstream's ArgumentParsing error. Never
 * allocates beyond the two arrays (sized argc). argv must hold valid UTF-8
 * (jail_args_check_utf8).
 */
int jail_args_parse(int argc, char **argv, struct jail_args *out,
                    enum jail_args_action *action, struct jail_err *err);

/* Free the arrays of a parsed jail_args (safe on a zeroed one). */
void jail_args_fini(struct jail_args *a);

/*
 * Upstream reads its arguments with Rust's env::args(), which panics on the
 * first argument (argv[0] included) that is not UTF-8. Returns 0 if all
 * are valid, else -EILSEQ with *err's display set to the panic message
 * ("called `Result::unwrap()` on an `Err` value: \"\\xFF\"", the bytes in
 * Rust's Debug form) and its debug left empty.
 */
int jail_args_check_utf8(int argc, char **argv, struct jail_err *err);

/*
 * The whole text upstream prints for --help: "Jailer v1.17.0-dev", a blank
 * line, "required arguments:" and its lines, a blank line, "optional
 * arguments:" and its lines (--help listed among them), a blank line, the
 * note on "--", a blank line. Each argument line is two spaces,
 * "--name <name>" (or "--name" for a flag) padded to the longest in its
 * group, three spaces, the help text and ` [default: "v"]` where there is
 * a default. Written into out (NUL-terminated). Returns its length, or
 * -ENOSPC if out_len is too small.
 */
long jail_args_help_text(char *out, size_t out_len);

/* "Jailer v1.17.0-dev\n\n", what --version prints. */
const char *jail_args_version_text(void);

#endif
