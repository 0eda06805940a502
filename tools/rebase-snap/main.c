/*
 * rebase-snap: upstream's deprecated tool that copies every data region of
 * a Diff memory file onto its base (snapshot/rebase.h; docs/tools.md).
 *
 *   rebase-snap --base-file BASE --diff-file DIFF
 *
 * The command line is upstream's own ArgParser (utils/arg_parser.rs) for
 * these two arguments: "--help"/"-h" anywhere before a bare "--" wins,
 * then "--version"; otherwise every word must be "--base-file" or
 * "--diff-file" followed by a value that does not start with "--", each
 * at most once, both required (checked in name order). Errors print
 * upstream's Display line, then Rust's "Error: {Debug}" line, exit 1.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "snapshot/rebase.h"
#include "util/err.h"

#define VERSION "1.17.0-dev"
#define DEPRECATION                                                            \
    "This tool is deprecated and will be removed in the future. Please use "   \
    "'snapshot-editor' instead.\n"

static const char *const names[2] = {"base-file", "diff-file"};

static void help(void)
{
    printf("Rebase_snap v" VERSION "\n"
           "Tool that copies all the non-sparse sections from a diff file "
           "onto a base file.\n\n"
           "%s\n"
           "required arguments:\n"
           "  --base-file <base-file>   File path of the base mem snapshot.\n"
           "  --diff-file <diff-file>   File path of the diff mem snapshot.\n"
           "\n"
           "optional arguments:\n"
           "  --help   Show the help message.\n",
           DEPRECATION);
}

/* An argument error: upstream's UtilsArgParserError, wrapped in ArgParse. */
static int arg_error(const char *variant, const char *text, const char *arg)
{
    char debug[4096];

    fprintf(stderr,
            "Arguments parsing error: %s \n\nFor more information try "
            "--help.\n",
            text);
    fprintf(stderr, "Error: ArgParse(%s(%s))\n", variant,
            sq_rust_debug_str(arg, debug, sizeof(debug)));
    return 1;
}

/* Sort argv[1..) as upstream's parser does; values into vals[]. Returns
 * -1 to go on, or the exit code. */
static int parse(int argc, char **argv, const char *vals[2])
{
    char text[4096];
    int end = argc;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            end = i;
            break;
        }
    for (int i = 1; i < end; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help();
            return 0;
        }
    for (int i = 1; i < end; i++)
        if (strcmp(argv[i], "--version") == 0) {
            printf("Rebase_snap v" VERSION "\n%s\n", DEPRECATION);
            return 0;
        }
    for (int i = 1; i < end; i++) {
        const char *a = argv[i], *name = a + 2;
        int k = -1;

        if (strncmp(a, "--", 2) != 0)
            name = a;
        else
            for (int j = 0; j < 2; j++)
                if (strcmp(name, names[j]) == 0)
                    k = j;
        if (k < 0) {
            snprintf(text, sizeof(text),
                     "Found argument '%s' which wasn't expected, or isn't "
                     "valid in this context.",
                     name);
            return arg_error("UnexpectedArgument", text, name);
        }
        if (vals[k]) {
            snprintf(text, sizeof(text),
                     "The argument '%s' was provided more than once.", name);
            return arg_error("DuplicateArgument", text, name);
        }
        if (i + 1 >= end || strncmp(argv[i + 1], "--", 2) == 0) {
            snprintf(text, sizeof(text),
                     "The argument '%s' requires a value, but none was "
                     "supplied.",
                     name);
            return arg_error("MissingValue", text, name);
        }
        vals[k] = argv[++i];
    }
    for (int k = 0; k < 2; k++)
        if (!vals[k]) {
            snprintf(text, sizeof(text),
                     "Argument '%s' required, but not found.", names[k]);
            return arg_error("MissingArgument", text, names[k]);
        }
    return -1;
}

int main(int argc, char **argv)
{
    const char *vals[2] = {NULL, NULL};
    enum snap_rebase_step step;
    char text[1024], debug[1024];
    int rc = parse(argc, argv, vals);

    if (rc >= 0)
        return rc;
    printf("%s\n", DEPRECATION);
    fflush(stdout);
    rc = snap_rebase(vals[0], vals[1], &step);
    if (rc == 0)
        return 0;
    snap_rebase_strerror(SNAP_REBASE_STYLE_REBASE_SNAP, step, rc, text,
                         sizeof(text));
    snap_rebase_debug(SNAP_REBASE_STYLE_REBASE_SNAP, step, rc, debug,
                      sizeof(debug));
    /* Opening is upstream's SnapFile ("Error parsing the cmd line args"),
     * the rest RebaseFiles. */
    if (step == SNAP_REBASE_OPEN_BASE || step == SNAP_REBASE_OPEN_DIFF) {
        fprintf(stderr, "Error parsing the cmd line args: %s\n", text);
        fprintf(stderr, "Error: SnapFile(%s)\n", debug);
    } else {
        fprintf(stderr, "Error merging the files: %s\n", text);
        fprintf(stderr, "Error: RebaseFiles(%s)\n", debug);
    }
    return 1;
}
