/*
 * cli.h: the `firecracker`-compatible command line (digest 3.1-3.4).
 *
 * Argument syntax is upstream's own parser (utils/arg_parser.rs), not
 * getopt: only `--name value` and `--flag`; everything after a bare `--` is
 * kept as extra arguments; `--help`/`-h` anywhere before `--` prints the
 * help and wins over everything, then `--version`, then squib's own
 * `--squib-version` (in no help text); a value may not start
 * with `--`; repeated arguments, unknown ones, positionals, `--name=value`
 * and short options are errors with upstream's texts, exit code 153.
 *
 * main.c drives startup in upstream's order (digest 3.3):
 *
 *   struct cli_args args;
 *   int code;
 *   log_init();
 *   if (!cli_parse(argc, argv, &args, &code)) return code;
 *   if (!cli_setup_logger(&args, &code))     return code;
 *   signals_install();
 *   if (!cli_resize_fdtable(&code))          return code;
 *   if (!cli_init_metrics(&args, &code))     return code;
 *   ... seccomp, config file, API or --no-api run ...
 *   on error:  return cli_fail(1, "RunWithApiError error: ...",
 * "RunWithApi(...)"); on success: cli_exit_success(); return 0;
 *
 * Every error path writes what upstream's main() writes: the message at
 * ERROR in the log, "Error: {debug form}" on stderr, then
 * "Firecracker exiting with error. exit_code={n}" in the log.
 */
#ifndef SQUIB_CLI_H
#define SQUIB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "obs/log.h"

#define CLI_FIRECRACKER_VERSION "1.17.0-dev" /* the version squib claims */
#define CLI_SQUIB_VERSION       "0.1.0"      /* squib's own version */
#define CLI_SNAPSHOT_VERSION    "11.0.0"     /* snapshot data format */
#define CLI_DEFAULT_API_SOCK    "/run/firecracker.socket"
#define CLI_DEFAULT_MAX_PAYLOAD 51200 /* --http-api-max-payload-size */

/* Exit codes (upstream FcExitCode). */
#define CLI_EXIT_OK                0
#define CLI_EXIT_GENERIC           1
#define CLI_EXIT_BAD_CONFIGURATION 152 /* invalid --level */
#define CLI_EXIT_ARG_PARSING       153

/*
 * The parsed command line. Strings point into argv (valid for the life of
 * the process); NULL when the argument was not given.
 */
struct cli_args {
    const char *api_sock; /* default CLI_DEFAULT_API_SOCK */
    const char *id;       /* default "anonymous-instance"; validated */
    const char *config_file;
    const char *metadata;
    const char *log_path;
    bool has_level; /* --level given (validated into level) */
    enum log_level level;
    const char *module;
    bool show_level;
    bool show_log_origin;
    const char *metrics_path;
    bool boot_timer;
    const char *seccomp_filter; /* never together with no_seccomp */
    bool no_seccomp;
    bool no_api; /* implies config_file != NULL */
    /* The three timing values are read only in API mode, as upstream
     * (with --no-api they are ignored, even when malformed). */
    bool has_start_time_us;
    uint64_t start_time_us;
    bool has_start_time_cpu_us;
    uint64_t start_time_cpu_us;
    bool has_parent_cpu_time_us;
    uint64_t parent_cpu_time_us;
    size_t http_api_max_payload_size; /* default 51200 */
    bool has_mmds_size_limit;
    size_t mmds_size_limit; /* = http_api_max_payload_size if absent */
    bool enable_pci;
    char **extra_args; /* after `--`; points into argv */
    int n_extra_args;
};

/*
 * Parse argv. Returns 1 to continue startup with *out filled, or 0 when
 * the process must exit now with *exit_code:
 *   --help/-h   prints "Firecracker v1.17.0-dev", a blank line and the help
 *               (stdout), exit 0;
 *   --version   prints "Firecracker v1.17.0-dev" and a blank line (upstream's
 *               bytes exactly; the exit log line follows), exit 0;
 *   --squib-version  squib-only, not in the help: prints "squib v0.1.0"
 *               and nothing else (no log line), exit 0 (docs/compat.md);
 *   --snapshot-version  prints "v11.0.0", exit 0;
 *   --describe-snapshot FILE  exit 1: reading snapshot files is not
 *               available yet (an unopenable FILE gets upstream's error);
 *   syntax errors   exit 153 ("Arguments parsing error: ...");
 *   invalid --level exit 152 ("Invalid value for logger level: ...");
 *   invalid --id    exit 1 ("Invalid instance ID: InvalidChar('_', 3)";
 *                   upstream panics and aborts here);
 *   malformed numbers  exit 1 (upstream panics), e.g. "'mmds-size-limit'
 *                   parameter expected to be of 'usize' type.:
 *                   ParseIntError { kind: InvalidDigit }".
 * The exit-0 paths log "Firecracker exiting successfully. exit_code=0" and
 * the error paths log and print as described at the top. Uses the logger
 * as it is (stdout, Info, before any configuration, as upstream).
 */
int cli_parse(int argc, char **argv, struct cli_args *out, int *exit_code);

/*
 * Startup step 3: set the instance id, apply --log-path/--level/--module/
 * --show-level/--show-log-origin as one logger update, then log
 * "Running Firecracker v1.17.0-dev". Returns 1, or 0 with *exit_code = 1
 * after "Could not initialize logger: Failed to open target file: ...".
 */
int cli_setup_logger(const struct cli_args *a, int *exit_code);

/*
 * Startup step 4, after the signal handlers: grow the fd table to
 * RLIMIT_NOFILE (2048 when unlimited) by dup2(0, limit - 1) and closing it,
 * as upstream, so that adding many eventfds later never reallocates it.
 * Failing to read the limit or to dup2 is only logged at DEBUG
 * ("Failed to resize fdtable: ..."); failing to close the duplicate is fatal:
 * returns 0 with *exit_code = 1 after
 * "Failed to resize fd table: Failed to close dup2'd file descriptor".
 * Returns 1 otherwise.
 */
int cli_resize_fdtable(int *exit_code);

/*
 * Startup step 5: --metrics-path (emit_id false, no properties). Returns 1
 * (also when the flag is absent), or 0 with *exit_code = 1 after
 * "Could not initialize metrics: Cannot initialize the metrics system due
 * to bad user input: ...".
 */
int cli_init_metrics(const struct cli_args *a, int *exit_code);

/*
 * Report a fatal startup error as upstream's main() does: `display` at
 * ERROR in the log, "Error: {debug}" on stderr, then
 * "Firecracker exiting with error. exit_code={exit_code}". Returns
 * exit_code, for `return cli_fail(...)`.
 */
int cli_fail(int exit_code, const char *display, const char *debug);

/*
 * Store api_server.process_startup_time_us (monotonic now - start-time-us)
 * and process_startup_time_cpu_us (process CPU now - start-time-cpu-us +
 * parent-cpu-time-us), each only if its start value was given (a start in
 * the future gives 0). Upstream does this on the API thread right after
 * logging "API server started."; call it there.
 */
void cli_report_process_times(const struct cli_args *a);

/* Log "Firecracker exiting successfully. exit_code=0" (INFO). */
void cli_exit_success(void);

/*
 * The help text (without the version banner and without a final newline),
 * formatted as upstream: "optional arguments:", then one line per argument
 * in byte order of the names, each "  --name <name>" (or "  --name" for
 * flags) padded to the longest such entry, three spaces, the help string
 * and " [default: \"value\"]" where there is a default. Written into out
 * (NUL-terminated). Returns its length, or -ENOSPC if out_len is too small.
 */
long cli_format_help(char *out, size_t out_len);

/* The last log line of a failed run (printf format: the exit code). */
#define CLI_MSG_EXIT_ERROR "Firecracker exiting with error. exit_code=%d"

#endif
