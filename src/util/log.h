/*
 * log.h: the logger, in Firecracker's line format.
 *
 *   {timestamp} [{instance_id}:{thread}{:LEVEL}{:file:line}] {message}\n
 *
 * One logger per process (with the signal flags, the only file-scope state
 * squib has). Every record leaves in one write(), so threads never interleave.
 * The target is stdout until log_set_target() names a file or FIFO; writes
 * never block the caller (a full FIFO drops the line and counts it in the
 * logger.missed_log_count metric).
 *
 * Thread names are upstream's ("main", "fc_api", "fc_vcpu N"), set per thread
 * with log_set_thread_name(); tools match on them.
 */
#ifndef SQUIB_UTIL_LOG_H
#define SQUIB_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
    LOG_OFF = 0,
    LOG_ERROR = 1,
    LOG_WARN = 2,
    LOG_INFO = 3,
    LOG_DEBUG = 4,
    LOG_TRACE = 5,
};

/* Initialise: stdout, level Info, id "anonymous-instance". Call first. */
void log_init(void);

/* Instance id shown in every line (copied). */
void log_set_instance_id(const char *id);

/* Name of the calling thread as shown in its lines (copied, <= 31 chars). */
void log_set_thread_name(const char *name);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_show_level(bool on);
void log_set_show_origin(bool on);
/* Only records whose module path starts with `prefix` are logged; NULL = all. */
void log_set_module(const char *prefix);

/*
 * Switch the target to `path`, opened O_RDWR|O_CREAT|O_NONBLOCK (no
 * truncate, no append, as upstream). Returns 0 or -errno; on failure the
 * previous target stays.
 */
int log_set_target(const char *path);

/*
 * Parse a level name as upstream's LevelFilter does (case-insensitive Off,
 * Trace, Debug, Info, Warn, Warning, Error). Returns 0 or -EINVAL.
 */
int log_level_parse(const char *s, enum log_level *out);

bool log_enabled(enum log_level level);

void log_write(enum log_level level, const char *file, int line,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_error(...) log_write(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_trace(...) log_write(LOG_TRACE, __FILE__, __LINE__, __VA_ARGS__)

/*
 * Rate limiting for call sites a guest can trigger: burst 10, refill 5 s, as
 * upstream. Suppressed lines are counted (logger.rate_limited_log_count).
 *
 *   static struct log_ratelimit rl;
 *   if (log_ratelimit_ok(&rl)) log_warn(...);
 */
struct log_ratelimit {
    uint64_t last_refill_ms;
    uint32_t tokens;
    uint32_t suppressed;
    bool initialised;
};
bool log_ratelimit_ok(struct log_ratelimit *rl);

#endif
