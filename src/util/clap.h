/*
 * clap.h: command lines that behave as upstream's clap 4.6 tools
 * (snapshot-editor, seccompiler-bin): the same help layout, the same
 * version line, the same error texts and exit codes.
 *
 * A tool describes its commands as static tables (struct clap_cmd): a
 * command has either subcommands (one is then required: clap's
 * subcommand_required + arg_required_else_help, as clap's derive sets for a
 * subcommand field) or options. What is reproduced, from clap_builder
 * 4.6.6 without the wrap_help feature (so no line is wrapped):
 *
 *  - help: "{about}\n\nUsage: {usage}\n\nCommands:\n...\n\nOptions:\n..."
 *    with clap's column alignment; options sorted as clap sorts them
 *    (by short flag, then long name), "-h, --help  Print help" and, where
 *    the command has a version, "-V, --version  Print version"; a command
 *    with subcommands also lists clap's "help" subcommand. Printed on
 *    stdout, exit 0 ("-h", "--help", "help [COMMAND]...");
 *  - version: "{name} {version}" on stdout, exit 0 ("-V", "--version");
 *  - "--name value", "--name=value", "-n value", "-nvalue", "-n=value";
 *  - errors on stderr, exit 2, each "error: {text}\n\nUsage: {usage}\n\n
 *    For more information, try '--help'.\n": unrecognized subcommand,
 *    unexpected argument, a value required but none supplied (no usage
 *    line), an argument used twice, required arguments not provided (the
 *    usage then lists the required arguments and those given, without
 *    [OPTIONS]); a command
 *    that needs a subcommand and got nothing prints its help on stderr,
 *    exit 2.
 *
 * Not reproduced: clap's "tip: a similar subcommand exists" suggestions,
 * colours (clap prints none when stderr is not a terminal).
 */
#ifndef SQUIB_UTIL_CLAP_H
#define SQUIB_UTIL_CLAP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define CLAP_MAX_ARGS  8
#define CLAP_MAX_DEPTH 4

/* An option: "--long VALUE" (value_name set) or a flag. */
struct clap_arg {
    const char *long_name;     /* "memory-path" */
    char short_name;           /* 'm', or 0 */
    const char *value_name;    /* "MEMORY_PATH"; NULL for a flag */
    const char *help;          /* NULL for none */
    const char *default_value; /* NULL for none */
    bool required;
};

struct clap_cmd {
    const char *name;    /* the root's: the name its version line shows */
    const char *about;   /* NULL for none */
    const char *version; /* NULL: no -V/--version */
    const struct clap_arg *args;
    size_t n_args; /* at most CLAP_MAX_ARGS */
    const struct clap_cmd *subs;
    size_t n_subs;
};

/* The parsed command line: the chosen command chain and its leaf's
 * values, by the leaf's argument index (a flag: "" when given; a missing
 * option: its default_value, or NULL). */
struct clap_match {
    const char *bin; /* the file name of argv[0], as usage lines show it */
    const struct clap_cmd *path[CLAP_MAX_DEPTH];
    size_t depth; /* path[depth - 1] is the leaf */
    const char *values[CLAP_MAX_ARGS];
};

/*
 * Parse argv[1..argc) against root. Returns -1 when the tool should run
 * (*m filled), or the exit code after printing help, the version or an
 * error (see the top of this file).
 */
int clap_parse(const struct clap_cmd *root, int argc, char **argv,
               struct clap_match *m);

/* The help of the command path[depth - 1] (path[0] the root, run as `bin`),
 * as printed for --help, into out. */
void clap_help(const char *bin, const struct clap_cmd *const *path,
               size_t depth, struct buf *out);

#endif
