/*
 * cli.c: the `firecracker`-compatible command line (see cli.h).
 *
 * The parser follows upstream's utils/arg_parser.rs step by step, because
 * its order decides which error a bad command line gets:
 *   0. every argument must be UTF-8 (upstream's env::args() panics
 *      otherwise; squib reports the panic's message and exits 1);
 *   1. split argv at the first bare "--" (the rest are extra arguments);
 *   2. "--help" or "-h" anywhere in the first part: help, nothing else is
 *      looked at; then the same for "--version", then for squib's own
 *      "--squib-version";
 *   3. left to right: an argument must start with "--" (else it is reported
 *      verbatim as unexpected), name a known option (else reported without
 *      its dashes), not repeat, and an option taking a value must be
 *      followed by one that does not start with "--";
 *   4. then, in byte order of the option names, each given option's
 *      "requires" (no-api -> config-file) and "forbids" (no-seccomp <->
 *      seccomp-filter) rules.
 * After that come upstream main()'s checks, in its order: snapshot-version,
 * describe-snapshot, the instance id, the level, the numbers.
 *
 * Error texts are upstream's Display strings; the stderr line is upstream's
 * Debug form of its error value, rebuilt here by hand.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "obs/metrics.h"
#include "snapshot/format.h"
#include "util/err.h"
#include "util/time.h"
#include "util/utf8.h"

#define MSG_MAX 1024

enum opt_id {
    OPT_API_SOCK,
    OPT_BOOT_TIMER,
    OPT_CONFIG_FILE,
    OPT_DESCRIBE_SNAPSHOT,
    OPT_ENABLE_PCI,
    OPT_HELP,
    OPT_HTTP_API_MAX_PAYLOAD_SIZE,
    OPT_ID,
    OPT_LEVEL,
    OPT_LOG_PATH,
    OPT_METADATA,
    OPT_METRICS_PATH,
    OPT_MMDS_SIZE_LIMIT,
    OPT_MODULE,
    OPT_NO_API,
    OPT_NO_SECCOMP,
    OPT_PARENT_CPU_TIME_US,
    OPT_SECCOMP_FILTER,
    OPT_SHOW_LEVEL,
    OPT_SHOW_LOG_ORIGIN,
    OPT_SNAPSHOT_VERSION,
    OPT_START_TIME_CPU_US,
    OPT_START_TIME_US,
    OPT_VERSION,
    OPT_COUNT
};

#define STR_(x) #x
#define STR(x)  STR_(x)

/* Upstream's arguments, in byte order of their names (the help order). */
static const struct cli_opt {
    const char *name;
    bool takes_value;
    const char *def; /* default value, or NULL */
    const char *help;
    int requires; /* OPT_* that must also be given, or -1 */
    int forbids;  /* OPT_* that must not be given, or -1 */
} opts[OPT_COUNT] = {
    [OPT_API_SOCK] = {"api-sock", true, CLI_DEFAULT_API_SOCK,
                      "Path to unix domain socket used by the API.", -1, -1},
    [OPT_BOOT_TIMER] = {"boot-timer", false, NULL,
                        "Whether or not to load boot timer device for "
                        "logging elapsed time since InstanceStart command.",
                        -1, -1},
    [OPT_CONFIG_FILE] = {"config-file", true, NULL,
                         "Path to a file that contains the microVM "
                         "configuration in JSON format.",
                         -1, -1},
    [OPT_DESCRIBE_SNAPSHOT] = {"describe-snapshot", true, NULL,
                               "Print the data format version of the "
                               "provided snapshot state file.",
                               -1, -1},
    [OPT_ENABLE_PCI] = {"enable-pci", false, NULL, "Enables PCIe support.", -1,
                        -1},
    /* Listed only when help is asked for, as upstream adds it then. */
    [OPT_HELP] = {"help", false, NULL, "Show the help message.", -1, -1},
    [OPT_HTTP_API_MAX_PAYLOAD_SIZE] = {"http-api-max-payload-size", true,
                                       STR(CLI_DEFAULT_MAX_PAYLOAD),
                                       "Http API request payload max size, "
                                       "in bytes.",
                                       -1, -1},
    [OPT_ID] = {"id", true, LOG_DEFAULT_INSTANCE_ID,
                "MicroVM unique identifier.", -1, -1},
    [OPT_LEVEL] = {"level", true, NULL, "Set the logger level.", -1, -1},
    [OPT_LOG_PATH] = {"log-path", true, NULL,
                      "Path to a fifo or a file used for configuring the "
                      "logger on startup.",
                      -1, -1},
    [OPT_METADATA] = {"metadata", true, NULL,
                      "Path to a file that contains metadata in JSON format "
                      "to add to the mmds.",
                      -1, -1},
    [OPT_METRICS_PATH] = {"metrics-path", true, NULL,
                          "Path to a fifo or a file used for configuring the "
                          "metrics on startup.",
                          -1, -1},
    [OPT_MMDS_SIZE_LIMIT] = {"mmds-size-limit", true, NULL,
                             "Mmds data store limit, in bytes.", -1, -1},
    [OPT_MODULE] = {"module", true, NULL, "Set the logger module filter.", -1,
                    -1},
    [OPT_NO_API] = {"no-api", false, NULL,
                    "Optional parameter which allows starting and using a "
                    "microVM without an active API socket.",
                    OPT_CONFIG_FILE, -1},
    [OPT_NO_SECCOMP] = {"no-seccomp", false, NULL,
                        "Optional parameter which allows starting and using a "
                        "microVM without seccomp filtering. Not recommended.",
                        -1, OPT_SECCOMP_FILTER},
    [OPT_PARENT_CPU_TIME_US] = {"parent-cpu-time-us", true, NULL,
                                "Parent process CPU time (wall clock, "
                                "microseconds). This parameter is optional.",
                                -1, -1},
    [OPT_SECCOMP_FILTER] = {"seccomp-filter", true, NULL,
                            "Optional parameter which allows specifying the "
                            "path to a custom seccomp filter. For advanced "
                            "users.",
                            -1, OPT_NO_SECCOMP},
    [OPT_SHOW_LEVEL] = {"show-level", false, NULL,
                        "Whether or not to output the level in the logs.", -1,
                        -1},
    [OPT_SHOW_LOG_ORIGIN] = {"show-log-origin", false, NULL,
                             "Whether or not to include the file path and "
                             "line number of the log's origin.",
                             -1, -1},
    [OPT_SNAPSHOT_VERSION] = {"snapshot-version", false, NULL,
                              "Print the supported data format version.", -1,
                              -1},
    [OPT_START_TIME_CPU_US] = {"start-time-cpu-us", true, NULL,
                               "Process start CPU time (wall clock, "
                               "microseconds). This parameter is optional.",
                               -1, -1},
    [OPT_START_TIME_US] = {"start-time-us", true, NULL,
                           "Process start time (wall clock, microseconds). "
                           "This parameter is optional.",
                           -1, -1},
    [OPT_VERSION] = {"version", false, NULL, "Print the binary version number.",
                     -1, -1},
};

/* What the user gave: values[i] for options, seen[i] for all. */
struct parsed {
    bool seen[OPT_COUNT];
    const char *values[OPT_COUNT];
};

/* ---- Rust Debug forms ---- */

/*
 * The Debug form of an OsString that is not UTF-8 (Rust's Utf8Chunks
 * Debug): the valid characters escaped as char::escape_debug escapes ASCII
 * (other characters are copied), each byte of an invalid sequence as \xNN.
 * Written into out (NUL-terminated, truncated).
 */
static void debug_os_str(const char *s, char *out, size_t out_len)
{
    size_t len = strlen(s), n = 0;

#define PUTS(...)                                                              \
    do {                                                                       \
        int r_ = snprintf(out + n, out_len - n, __VA_ARGS__);                  \
        if (r_ > 0)                                                            \
            n = n + (size_t)r_ < out_len ? n + (size_t)r_ : out_len - 1;       \
    } while (0)
    PUTS("\"");
    while (len > 0) {
        size_t valid, invalid, step = utf8_chunk(s, len, &valid, &invalid);

        for (size_t i = 0; i < valid; i++) {
            unsigned char c = (unsigned char)s[i];

            if (c == '"' || c == '\'' || c == '\\')
                PUTS("\\%c", c);
            else if (c == '\n')
                PUTS("\\n");
            else if (c == '\r')
                PUTS("\\r");
            else if (c == '\t')
                PUTS("\\t");
            else if (c < 0x20 || c == 0x7f)
                PUTS("\\u{%x}", c);
            else
                PUTS("%c", c);
        }
        for (size_t i = valid; i < step; i++)
            PUTS("\\x%02X", (unsigned char)s[i]);
        s += step;
        len -= step;
    }
    PUTS("\"");
#undef PUTS
}

/* ---- reporting ---- */

int cli_fail(int exit_code, const char *display, const char *debug)
{
    log_error("%s", display);
    fprintf(stderr, "Error: %s\n", debug);
    fflush(stderr);
    log_error(CLI_MSG_EXIT_ERROR, exit_code);
    return exit_code;
}

void cli_exit_success(void)
{
    log_info("Firecracker exiting successfully. exit_code=0");
}

/* An argument-parsing error: the text, and the variant with its fields. */
static int parse_error(int *exit_code, const char *text, const char *variant,
                       const char *a, const char *b)
{
    char display[MSG_MAX + 128], debug[MSG_MAX * 2 + 64];
    char da[MSG_MAX], db[MSG_MAX];

    snprintf(display, sizeof(display),
             "Arguments parsing error: %s \\n\\nFor more information try "
             "--help.",
             text);
    sq_rust_debug_str(a, da, sizeof(da));
    if (b) {
        sq_rust_debug_str(b, db, sizeof(db));
        snprintf(debug, sizeof(debug), "ParseArguments(%s(%s, %s))", variant,
                 da, db);
    } else {
        snprintf(debug, sizeof(debug), "ParseArguments(%s(%s))", variant, da);
    }
    *exit_code = cli_fail(CLI_EXIT_ARG_PARSING, display, debug);
    return 0;
}

static int unexpected(int *exit_code, const char *what)
{
    char text[MSG_MAX];

    snprintf(text, sizeof(text),
             "Found argument '%s' which wasn't expected, or isn't valid in "
             "this context.",
             what);
    return parse_error(exit_code, text, "UnexpectedArgument", what, NULL);
}

/* ---- help ---- */

static size_t name_width(const struct cli_opt *o)
{
    /* "  --name <name>" or "  --name" */
    return 4 + strlen(o->name) + (o->takes_value ? strlen(o->name) + 3 : 0);
}

long cli_format_help(char *out, size_t out_len)
{
    size_t width = 0, n = 0;
    int r;

    for (int i = 0; i < OPT_COUNT; i++)
        if (name_width(&opts[i]) > width)
            width = name_width(&opts[i]);

#define APPEND(...)                                                            \
    do {                                                                       \
        r = snprintf(out + n, n < out_len ? out_len - n : 0, __VA_ARGS__);     \
        n += (size_t)(r > 0 ? r : 0);                                          \
    } while (0)
    APPEND("optional arguments:");
    for (int i = 0; i < OPT_COUNT; i++) {
        const struct cli_opt *o = &opts[i];
        char name[128];

        if (o->takes_value)
            snprintf(name, sizeof(name), "  --%s <%s>", o->name, o->name);
        else
            snprintf(name, sizeof(name), "  --%s", o->name);
        APPEND("\n%-*s   %s", (int)width, name, o->help);
        if (o->def)
            APPEND(" [default: \"%s\"]", o->def);
    }
#undef APPEND
    if (n >= out_len)
        return -ENOSPC;
    return (long)n;
}

/* ---- value checks ---- */

/*
 * upstream's validate_instance_id(): 1..64 bytes (Rust's str::len), each
 * char '-' or alphanumeric by Rust's char::is_alphanumeric (the table in
 * config/ids.h, not the C library's locale data). `id` is valid UTF-8
 * (cli_parse checked every argument). On failure, `why` gets the Debug form
 * of its ValidatorError.
 */
static bool valid_instance_id(const char *id, char *why, size_t why_len)
{
    size_t len = strlen(id), i = 0, pos = 0;

    if (len < 1 || len > LOG_INSTANCE_ID_MAX) {
        snprintf(why, why_len, "InvalidLen(%zu, 1, %d)", len,
                 LOG_INSTANCE_ID_MAX);
        return false;
    }
    while (i < len) {
        uint32_t cp = 0xfffd;
        size_t n = utf8_decode(id + i, len - i, &cp);

        if (n == 0)
            n = 1; /* not reached: the arguments are valid UTF-8 */
        if (cp != '-' && !utf8_is_alphanumeric(cp)) {
            char ch[16];

            if (cp == '\'')
                snprintf(ch, sizeof(ch), "\\'");
            else if (cp == '\\')
                snprintf(ch, sizeof(ch), "\\\\");
            else if (cp == '\n')
                snprintf(ch, sizeof(ch), "\\n");
            else if (cp == '\r')
                snprintf(ch, sizeof(ch), "\\r");
            else if (cp == '\t')
                snprintf(ch, sizeof(ch), "\\t");
            else if (cp == 0)
                snprintf(ch, sizeof(ch), "\\0");
            else if (cp < 0x20 || cp == 0x7f)
                snprintf(ch, sizeof(ch), "\\u{%x}", (unsigned)cp);
            else
                snprintf(ch, sizeof(ch), "%.*s", (int)n, id + i);
            snprintf(why, why_len, "InvalidChar('%s', %zu)", ch, pos);
            return false;
        }
        i += n;
        pos++;
    }
    return true;
}

/*
 * Rust's u64/usize FromStr: an optional '+', then one or more ASCII digits,
 * no overflow. On failure `kind` is the ParseIntError kind.
 */
static bool parse_unsigned(const char *s, uint64_t max, uint64_t *out,
                           const char **kind)
{
    uint64_t v = 0;

    if (!*s) {
        *kind = "Empty";
        return false;
    }
    if (*s == '+' && s[1])
        s++;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            *kind = "InvalidDigit";
            return false;
        }
        if (v > (max - (uint64_t)(*s - '0')) / 10) {
            *kind = "PosOverflow";
            return false;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* A number option; 1 = ok (or absent), 0 = exit set. */
static int number_opt(const struct parsed *p, int opt, const char *type,
                      uint64_t max, bool *has, uint64_t *out, int *exit_code)
{
    const char *s = p->values[opt] ? p->values[opt] : opts[opt].def;
    const char *kind = NULL;
    char msg[256];

    if (has)
        *has = false;
    if (!s)
        return 1;
    if (!parse_unsigned(s, max, out, &kind)) {
        snprintf(msg, sizeof(msg),
                 "'%s' parameter expected to be of '%s' type.: "
                 "ParseIntError { kind: %s }",
                 opts[opt].name, type, kind);
        *exit_code = cli_fail(CLI_EXIT_GENERIC, msg, msg);
        return 0;
    }
    if (has)
        *has = true;
    return 1;
}

/* ---- the parser ---- */

static int find_opt(const char *name)
{
    for (int i = 0; i < OPT_COUNT; i++)
        if (i != OPT_HELP && !strcmp(opts[i].name, name))
            return i;
    return -1;
}

static bool args_contain(int n, char **args, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(args[i], s))
            return true;
    return false;
}

static int print_help(int *exit_code)
{
    char help[8192];

    if (cli_format_help(help, sizeof(help)) < 0)
        help[0] = '\0';
    printf("Firecracker v%s\n\n%s\n", CLI_FIRECRACKER_VERSION, help);
    fflush(stdout);
    cli_exit_success();
    *exit_code = CLI_EXIT_OK;
    return 0;
}

static int describe_snapshot(const char *path, int *exit_code)
{
    char dbg[SQ_ERR_MSG_MAX], display[SQ_ERR_MSG_MAX + 128],
        debug[SQ_ERR_MSG_MAX + 128];
    struct snap_version ver = {0, 0, 0};
    enum snap_error kind = SNAP_E_NONE;
    struct sq_err err;
    uint8_t *buf;
    size_t len;
    int rc;

    sq_err_clear(&err);
    rc = snap_file_read(path, &buf, &len, &kind, &err);
    if (rc == 0) {
        rc = snap_file_version(buf, len, &ver, &kind, &err);
        free(buf);
    }
    if (rc < 0) {
        bool open_failed = kind == SNAP_E_OPEN;

        /* upstream's PrintSnapshotDataFormatError: OpenSnapshot or
         * SnapshotVersion, each with its source's Display and Debug */
        snprintf(display, sizeof(display),
                 "When printing Snapshot Data format: %s: %s",
                 open_failed ? "Unable to open snapshot state file"
                             : "Invalid data format version of snapshot file",
                 err.msg);
        if (open_failed)
            sq_os_error_debug(err.code, dbg, sizeof(dbg));
        else
            snap_error_debug(kind, &err, dbg, sizeof(dbg));
        snprintf(debug, sizeof(debug), "PrintSnapshotDataFormat(%s(%s))",
                 open_failed ? "OpenSnapshot" : "SnapshotVersion", dbg);
        *exit_code = cli_fail(CLI_EXIT_GENERIC, display, debug);
        return 0;
    }
    printf("v%u.%u.%u\n", ver.major, ver.minor, ver.patch);
    fflush(stdout);
    cli_exit_success();
    *exit_code = CLI_EXIT_OK;
    return 0;
}

int cli_parse(int argc, char **argv, struct cli_args *out, int *exit_code)
{
    struct parsed p;
    char **args = argv + 1;
    int n = argc > 1 ? argc - 1 : 0;
    char why[256], msg[MSG_MAX * 2];
    uint64_t v;

    memset(&p, 0, sizeof(p));
    memset(out, 0, sizeof(*out));
    *exit_code = CLI_EXIT_OK;

    /* 0. Every argument, argv[0] included, is a Rust String: upstream's
     * env::args() unwraps each conversion and panics on the first one
     * that is not UTF-8, before it looks at any of them. */
    for (int i = 0; i < argc; i++) {
        if (!utf8_valid(argv[i], strlen(argv[i]))) {
            char dbg[MSG_MAX];

            debug_os_str(argv[i], dbg, sizeof(dbg));
            snprintf(msg, sizeof(msg),
                     "called `Result::unwrap()` on an `Err` value: %s", dbg);
            *exit_code = cli_fail(CLI_EXIT_GENERIC, msg, msg);
            return 0;
        }
    }

    /* 1. Extra arguments after the first bare "--". */
    for (int i = 0; i < n; i++) {
        if (!strcmp(args[i], "--")) {
            out->extra_args = args + i + 1;
            out->n_extra_args = n - i - 1;
            n = i;
            break;
        }
    }

    /* 2. --help / -h, then --version, win over everything else. Then
     * squib's own --squib-version: upstream would call it unexpected; it
     * comes after the two upstream flags so their output never changes. */
    if (args_contain(n, args, "--help") || args_contain(n, args, "-h"))
        return print_help(exit_code);
    if (args_contain(n, args, "--version")) {
        printf("Firecracker v%s\n\n", CLI_FIRECRACKER_VERSION);
        fflush(stdout);
        cli_exit_success();
        return 0;
    }
    if (args_contain(n, args, "--squib-version")) {
        printf("squib v%s\n", CLI_SQUIB_VERSION);
        fflush(stdout);
        return 0;
    }

    /* 3. Left to right. */
    for (int i = 0; i < n; i++) {
        const char *arg = args[i];
        int o;

        if (strncmp(arg, "--", 2))
            return unexpected(exit_code, arg);
        o = find_opt(arg + 2);
        if (o < 0)
            return unexpected(exit_code, arg + 2);
        if (p.seen[o]) {
            snprintf(msg, sizeof(msg),
                     "The argument '%s' was provided more than once.",
                     opts[o].name);
            return parse_error(exit_code, msg, "DuplicateArgument",
                               opts[o].name, NULL);
        }
        if (opts[o].takes_value) {
            if (i + 1 >= n || !strncmp(args[i + 1], "--", 2)) {
                snprintf(msg, sizeof(msg),
                         "The argument '%s' requires a value, but none was "
                         "supplied.",
                         opts[o].name);
                return parse_error(exit_code, msg, "MissingValue", opts[o].name,
                                   NULL);
            }
            p.values[o] = args[++i];
        }
        p.seen[o] = true;
    }

    /* 4. requires / forbids, in name order. */
    for (int o = 0; o < OPT_COUNT; o++) {
        if (!p.seen[o])
            continue;
        if (opts[o].requires >= 0 && !p.seen[opts[o].requires]) {
            const char *need = opts[opts[o].requires].name;

            snprintf(msg, sizeof(msg), "Argument '%s' required, but not found.",
                     need);
            return parse_error(exit_code, msg, "MissingArgument", need, NULL);
        }
        if (opts[o].forbids >= 0 && p.seen[opts[o].forbids]) {
            const char *other = opts[opts[o].forbids].name;

            snprintf(msg, sizeof(msg),
                     "Argument '%s' cannot be used together with argument "
                     "'%s'.",
                     other, opts[o].name);
            return parse_error(exit_code, msg, "ForbiddenArgument",
                               opts[o].name, other);
        }
    }

    /* upstream main(): the short-circuits after parsing. */
    if (p.seen[OPT_SNAPSHOT_VERSION]) {
        printf("v%s\n", CLI_SNAPSHOT_VERSION);
        fflush(stdout);
        cli_exit_success();
        return 0;
    }
    if (p.values[OPT_DESCRIBE_SNAPSHOT])
        return describe_snapshot(p.values[OPT_DESCRIBE_SNAPSHOT], exit_code);

    out->id = p.values[OPT_ID] ? p.values[OPT_ID] : opts[OPT_ID].def;
    if (!valid_instance_id(out->id, why, sizeof(why))) {
        snprintf(msg, sizeof(msg), "Invalid instance ID: %s", why);
        *exit_code = cli_fail(CLI_EXIT_GENERIC, msg, msg);
        return 0;
    }

    if (p.values[OPT_LEVEL]) {
        if (log_level_parse(p.values[OPT_LEVEL], &out->level) < 0) {
            char dbg[MSG_MAX];

            snprintf(msg, sizeof(msg),
                     "Invalid value for logger level: Failed to parse string "
                     "to level filter: %s.Possible values: [Error, Warning, "
                     "Info, Debug]",
                     p.values[OPT_LEVEL]);
            sq_rust_debug_str(p.values[OPT_LEVEL], dbg, sizeof(dbg));
            snprintf(why, sizeof(why),
                     "InvalidLogLevel(LevelFilterFromStrError(%.200s))", dbg);
            *exit_code = cli_fail(CLI_EXIT_BAD_CONFIGURATION, msg, why);
            return 0;
        }
        out->has_level = true;
    }

    out->api_sock = p.values[OPT_API_SOCK] ? p.values[OPT_API_SOCK]
                                           : opts[OPT_API_SOCK].def;
    out->config_file = p.values[OPT_CONFIG_FILE];
    out->metadata = p.values[OPT_METADATA];
    out->log_path = p.values[OPT_LOG_PATH];
    out->module = p.values[OPT_MODULE];
    out->show_level = p.seen[OPT_SHOW_LEVEL];
    out->show_log_origin = p.seen[OPT_SHOW_LOG_ORIGIN];
    out->metrics_path = p.values[OPT_METRICS_PATH];
    out->boot_timer = p.seen[OPT_BOOT_TIMER];
    out->seccomp_filter = p.values[OPT_SECCOMP_FILTER];
    out->no_seccomp = p.seen[OPT_NO_SECCOMP];
    out->no_api = p.seen[OPT_NO_API];
    out->enable_pci = p.seen[OPT_ENABLE_PCI];

    /* The numbers, in the order upstream's main() reads them. */
    if (!number_opt(&p, OPT_HTTP_API_MAX_PAYLOAD_SIZE, "usize", SIZE_MAX, NULL,
                    &v, exit_code))
        return 0;
    out->http_api_max_payload_size = (size_t)v;
    if (!number_opt(&p, OPT_MMDS_SIZE_LIMIT, "usize", SIZE_MAX,
                    &out->has_mmds_size_limit, &v, exit_code))
        return 0;
    out->mmds_size_limit =
        out->has_mmds_size_limit ? (size_t)v : out->http_api_max_payload_size;
    if (!out->no_api) {
        if (!number_opt(&p, OPT_START_TIME_US, "u64", UINT64_MAX,
                        &out->has_start_time_us, &out->start_time_us,
                        exit_code) ||
            !number_opt(&p, OPT_START_TIME_CPU_US, "u64", UINT64_MAX,
                        &out->has_start_time_cpu_us, &out->start_time_cpu_us,
                        exit_code) ||
            !number_opt(&p, OPT_PARENT_CPU_TIME_US, "u64", UINT64_MAX,
                        &out->has_parent_cpu_time_us, &out->parent_cpu_time_us,
                        exit_code))
            return 0;
    }
    return 1;
}

/* ---- the startup steps that follow parsing ---- */

int cli_setup_logger(const struct cli_args *a, int *exit_code)
{
    struct logger_config cfg = LOGGER_CONFIG_INIT;
    struct sq_err err;

    log_set_instance_id(a->id);
    cfg.log_path = a->log_path;
    cfg.has_level = a->has_level;
    cfg.level = a->level;
    cfg.show_level = a->show_level ? 1 : -1;
    cfg.show_log_origin = a->show_log_origin ? 1 : -1;
    cfg.module = a->module;
    if (log_apply_config(&cfg, &err) < 0) {
        char display[SQ_ERR_MSG_MAX + 64], dbg[512], debug[600];

        snprintf(display, sizeof(display), "Could not initialize logger: %s",
                 err.msg);
        snprintf(debug, sizeof(debug),
                 "LoggerInitialization(LoggerUpdateError(%s))",
                 sq_os_error_debug(-err.code, dbg, sizeof(dbg)));
        *exit_code = cli_fail(CLI_EXIT_GENERIC, display, debug);
        return 0;
    }
    log_info("Running Firecracker v%s", CLI_FIRECRACKER_VERSION);
    return 1;
}

int cli_resize_fdtable(int *exit_code)
{
    struct rlimit rl;
    int limit;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_debug("Failed to resize fdtable: Failed to get RLIMIT_NOFILE");
        return 1;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
        limit = 2048;
    else
        limit = (int)rl.rlim_cur;
    if (limit <= 3)
        return 1;
    if (dup2(STDIN_FILENO, limit - 1) < 0) {
        log_debug("Failed to resize fdtable: Failed to call dup2 to resize "
                  "fdtable");
        return 1;
    }
    if (close(limit - 1) < 0) {
        char dbg[512], display[512], debug[700];
        int e = errno;

        snprintf(display, sizeof(display),
                 "Failed to resize fd table: Failed to close dup2'd file "
                 "descriptor");
        snprintf(debug, sizeof(debug), "ResizeFdtable(Close(%s))",
                 sq_os_error_debug(e, dbg, sizeof(dbg)));
        *exit_code = cli_fail(CLI_EXIT_GENERIC, display, debug);
        return 0;
    }
    return 1;
}

void cli_report_process_times(const struct cli_args *a)
{
    if (a->has_start_time_us) {
        uint64_t now = time_clock_us(CLOCK_MONOTONIC);

        metrics_store(METRIC_api_server_process_startup_time_us,
                      now > a->start_time_us ? now - a->start_time_us : 0);
    }
    if (a->has_start_time_cpu_us) {
        uint64_t now = time_clock_us(CLOCK_PROCESS_CPUTIME_ID);
        uint64_t d =
            now > a->start_time_cpu_us ? now - a->start_time_cpu_us : 0;

        if (a->has_parent_cpu_time_us)
            d += a->parent_cpu_time_us;
        metrics_store(METRIC_api_server_process_startup_time_cpu_us, d);
    }
}

int cli_init_metrics(const struct cli_args *a, int *exit_code)
{
    struct sq_err err;

    if (!a->metrics_path)
        return 1;
    if (metrics_init(a->metrics_path, false, NULL, 0, &err) < 0) {
        char display[SQ_ERR_MSG_MAX + 64], dbg[SQ_ERR_MSG_MAX];
        char debug[SQ_ERR_MSG_MAX + 96];
        const char *detail = err.msg + strlen(METRICS_ERR_INIT);

        snprintf(display, sizeof(display), "Could not initialize metrics: %s",
                 err.msg);
        sq_rust_debug_str(detail, dbg, sizeof(dbg));
        snprintf(debug, sizeof(debug),
                 "MetricsInitialization(InitializationFailure(%s))", dbg);
        *exit_code = cli_fail(CLI_EXIT_GENERIC, display, debug);
        return 0;
    }
    return 1;
}
