/*
 * log.h: the logger, in Firecracker's line format.
 *
 *   {timestamp} [{instance_id}:{thread}{:LEVEL}{:file:line}] {message}\n
 *
 *   timestamp    local time, YYYY-MM-DDTHH:MM:SS.nnnnnnnnn (9-digit ns)
 *   instance_id  --id (default "anonymous-instance")
 *   thread       "main", "fc_api", "fc_vcpu N"; "-" for unnamed threads
 *   :LEVEL       only with show_level: ERROR, WARN, INFO, DEBUG, TRACE
 *   :file:line   only with show_log_origin: squib's own source path
 *                ("src/vmm/vcpu.c:123"), where upstream shows its Rust one
 *
 * One logger per process (with the metrics and the signal flags, the only
 * file-scope state squib has). Every record leaves in one write(), so
 * threads never interleave. The target is stdout until a path is
 * configured; paths are opened
 * O_RDWR|O_CREAT|O_NONBLOCK (no truncate, no append: writes start at offset
 * 0, as upstream), so a FIFO without a reader never blocks the caller: a
 * record that cannot be written whole is dropped and counted in the
 * logger.missed_log_count metric.
 *
 * Module filter: upstream matches the Rust module path ("vmm::devices::...").
 * squib's module path of a record is its source path below src/ without the
 * extension, with "::" between the parts: src/devices/virtio/block.c is
 * "devices::virtio::block", src/vmm/vcpu.c is "vmm::vcpu". A filter keeps the
 * records whose module path starts with it (plain string prefix).
 *
 * Thread names are upstream's ("main", "fc_api", "fc_vcpu N"), set per thread
 * with log_set_thread_name(); tools match on them. The process's initial
 * thread is "main" without being told, like a Rust main thread.
 */
#ifndef SQUIB_OBS_LOG_H
#define SQUIB_OBS_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

enum log_level {
    LOG_OFF = 0,
    LOG_ERROR = 1,
    LOG_WARN = 2,
    LOG_INFO = 3,
    LOG_DEBUG = 4,
    LOG_TRACE = 5,
};

/* The instance id shown until log_set_instance_id() is called. */
#define LOG_DEFAULT_INSTANCE_ID "anonymous-instance"

/* Longest instance id kept (upstream's --id limit is 64 bytes). */
#define LOG_INSTANCE_ID_MAX 64

/* What PUT /logger and the config file put before log_apply_config()'s
 * message: "Logger error: Failed to open target file: ...". */
#define LOG_ERR_PREFIX "Logger error: "

/*
 * Initialise, or reset to the defaults: target stdout (an owned target is
 * closed), level Info, show_level and show_log_origin off, no module filter,
 * instance id "anonymous-instance". Call first, from the main thread.
 */
void log_init(void);

/* Instance id shown in every line (copied, truncated to 64 bytes). Set once
 * at startup, before other threads log. */
void log_set_instance_id(const char *id);

/* The instance id currently shown (static storage; never NULL). */
const char *log_instance_id(void);

/* Name of the calling thread as shown in its lines (copied, <= 31 chars). */
void log_set_thread_name(const char *name);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_show_level(bool on);
void log_set_show_origin(bool on);
/* Only records whose module path starts with `prefix` are logged; NULL or
 * "" = all. Copied; longer than 255 bytes is truncated. */
void log_set_module(const char *prefix);

/*
 * Switch the target to `path`, opened O_RDWR|O_CREAT|O_NONBLOCK|O_CLOEXEC
 * (mode 0666 before umask; no truncate, no append, as upstream). Returns 0
 * or -errno; on failure the previous target stays.
 */
int log_set_target(const char *path);

/*
 * Parse a level name as upstream's LevelFilter does (ASCII case-insensitive
 * Off, Trace, Debug, Info, Warn, Warning, Error). Returns 0 or -EINVAL.
 */
int log_level_parse(const char *s, enum log_level *out);

/* "ERROR", "WARN", "INFO", "DEBUG", "TRACE" ("OFF" for LOG_OFF). */
const char *log_level_name(enum log_level level);

/*
 * PUT /logger (and the config file's "logger" key) in upstream's
 * semantics: an omitted level resets the level to Info on every call;
 * omitted show_level / show_log_origin / module keep their current values;
 * a log_path is opened now, before anything else changes, so a failed open
 * changes nothing.
 */
struct logger_config {
    const char *log_path; /* NULL: keep the current target */
    bool has_level;       /* false: level becomes Info */
    enum log_level level;
    int show_level;      /* -1 keep, 0 off, 1 on */
    int show_log_origin; /* -1 keep, 0 off, 1 on */
    const char *module;  /* NULL: keep the current filter */
};

/* A logger_config that changes nothing but the level (reset to Info). */
#define LOGGER_CONFIG_INIT                                                     \
    {                                                                          \
        NULL, false, LOG_INFO, -1, -1, NULL                                    \
    }

/*
 * Apply `cfg`. Returns 0, or -errno with err set to upstream's
 * LoggerUpdateError text "Failed to open target file: {io error}" (the io
 * error as Rust prints it: "No such file or directory (os error 2)"). The
 * API and the config file show it after LOG_ERR_PREFIX ("Logger error: "),
 * the CLI after "Could not initialize logger: ".
 */
int log_apply_config(const struct logger_config *cfg, struct sq_err *err);

bool log_enabled(enum log_level level);

/*
 * Format and write one record (if `level` is enabled and the module filter
 * passes). `file` is the source path (__FILE__). Never blocks on the target;
 * write failures count logger.missed_log_count. Messages of any length are
 * written whole (long ones are formatted on the heap).
 */
void log_write(enum log_level level, const char *file, int line,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Hold this thread's records back, from log_hold() to log_release(), and
 * write them then in one write() (earlier if the next record would take the
 * batch past PIPE_BUF bytes): a thread that logs several records for one
 * event, as the api thread does for a request answered at once ("received"
 * and the outcome), pays one system call for them. Content is unchanged:
 * each record keeps its own timestamp, stays whole and contiguous, and never
 * interleaves with another thread's; a batch of at most PIPE_BUF bytes is
 * written or dropped whole on a FIFO (every record in a dropped batch counts
 * logger.missed_log_count). Held records go to the target current at
 * release time. Not nested; a fatal-signal record written by this thread
 * writes the held ones first.
 */
void log_hold(void);
void log_release(void);

/*
 * Async-signal-safe variant for signal handlers: no locks, no allocation,
 * no stdio; the local-time offset is the one cached by the last ordinary
 * log call. `msg` is written as is (truncated to about 1 KiB); the module
 * filter is not applied. Returns 0 (also when the level is disabled) or
 * the -errno of the failed write (the record is then counted missed).
 */
int log_write_signal_safe(enum log_level level, const char *file, int line,
                          const char *msg);

/*
 * The unrestricted macros: host-only paths (startup, API handling, snapshot
 * save and restore), as upstream's *_unrestricted!.
 */
#define log_error(...) log_write(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_trace(...) log_write(LOG_TRACE, __FILE__, __LINE__, __VA_ARGS__)

/*
 * Rate limiting for call sites a guest can trigger, as upstream's error!,
 * warn!, info!: per call site, burst 10, refill 5000 ms (a generic cell
 * rate algorithm: after the burst, one record per 500 ms). A denied record
 * counts logger.rate_limited_log_count; the next allowed record of that call
 * site is preceded by the WARN line
 * "{n} messages were suppressed due to rate limiting".
 *
 * Use the macros; each expands to its own static limiter:
 *
 *   log_warn_rl("virtio-block: bad descriptor %u", idx);
 *
 * The level is checked first, so a disabled level neither consumes tokens
 * nor counts suppressions (as upstream).
 */
#define LOG_RATELIMIT_BURST     10
#define LOG_RATELIMIT_REFILL_MS 5000

struct log_ratelimit {
    /* bits 0..39: theoretical arrival time (ms since the process epoch);
     * bits 40..63: suppressed count (saturating). Zero-initialised = fresh. */
    _Atomic uint64_t state;
};

/* True if the caller may log now; see above. Thread-safe, lock-free. */
bool log_ratelimit_ok(struct log_ratelimit *rl);

/*
 * The same decision at an explicit time `now_ms` (monotonic ms; tests drive
 * time with it). If the call is allowed and records were suppressed since
 * the last allowed one, their count is stored in *suppressed (else 0) and
 * the caller reports it; log_ratelimit_ok() does that itself.
 */
bool log_ratelimit_check(struct log_ratelimit *rl, uint64_t now_ms,
                         uint64_t *suppressed);

#define SQ_LOG_RATELIMITED(level, ...)                                         \
    do {                                                                       \
        if (log_enabled(level)) {                                              \
            static struct log_ratelimit sq_log_rl_;                            \
            if (log_ratelimit_ok(&sq_log_rl_))                                 \
                log_write(level, __FILE__, __LINE__, __VA_ARGS__);             \
        }                                                                      \
    } while (0)

#define log_error_rl(...) SQ_LOG_RATELIMITED(LOG_ERROR, __VA_ARGS__)
#define log_warn_rl(...)  SQ_LOG_RATELIMITED(LOG_WARN, __VA_ARGS__)
#define log_info_rl(...)  SQ_LOG_RATELIMITED(LOG_INFO, __VA_ARGS__)

#endif
