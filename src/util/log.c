/*
 * log.c: the logger (see log.h for the format and the contract).
 *
 * The configuration is written by the vmm thread (PUT /logger, CLI) and read
 * by every thread, so it sits under a mutex; formatting happens outside it,
 * into a stack buffer, and the record leaves in one write().
 */
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "obs/metrics.h"

#define LOG_LINE_MAX 8192

static struct {
    pthread_mutex_t lock;
    int fd;                 /* target; STDOUT_FILENO or owned */
    char id[72];
    char module[128];
    _Atomic int level;
    _Atomic bool show_level;
    _Atomic bool show_origin;
} g_log = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .fd = STDOUT_FILENO,
    .id = "anonymous-instance",
    .level = LOG_INFO,
};

static _Thread_local char t_name[32] = "-";

void log_init(void)
{
    atomic_store(&g_log.level, LOG_INFO);
}

void log_set_instance_id(const char *id)
{
    pthread_mutex_lock(&g_log.lock);
    snprintf(g_log.id, sizeof(g_log.id), "%s", id);
    pthread_mutex_unlock(&g_log.lock);
}

void log_set_thread_name(const char *name)
{
    snprintf(t_name, sizeof(t_name), "%s", name);
}

void log_set_level(enum log_level level)
{
    atomic_store(&g_log.level, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&g_log.level);
}

void log_set_show_level(bool on)
{
    atomic_store(&g_log.show_level, on);
}

void log_set_show_origin(bool on)
{
    atomic_store(&g_log.show_origin, on);
}

void log_set_module(const char *prefix)
{
    pthread_mutex_lock(&g_log.lock);
    snprintf(g_log.module, sizeof(g_log.module), "%s", prefix ? prefix : "");
    pthread_mutex_unlock(&g_log.lock);
}

int log_set_target(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);

    if (fd < 0)
        return -errno;
    pthread_mutex_lock(&g_log.lock);
    if (g_log.fd != STDOUT_FILENO)
        close(g_log.fd);
    g_log.fd = fd;
    pthread_mutex_unlock(&g_log.lock);
    return 0;
}

int log_level_parse(const char *s, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {
        {"off", LOG_OFF},   {"trace", LOG_TRACE}, {"debug", LOG_DEBUG},
        {"info", LOG_INFO}, {"warn", LOG_WARN},   {"warning", LOG_WARN},
        {"error", LOG_ERROR},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcasecmp(s, names[i].name)) {
            *out = names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

bool log_enabled(enum log_level level)
{
    return level != LOG_OFF && (int)level <= atomic_load(&g_log.level);
}

static const char *level_name(enum log_level level)
{
    switch (level) {
    case LOG_ERROR: return "ERROR";
    case LOG_WARN: return "WARN";
    case LOG_INFO: return "INFO";
    case LOG_DEBUG: return "DEBUG";
    case LOG_TRACE: return "TRACE";
    default: return "OFF";
    }
}

void log_write(enum log_level level, const char *file, int line,
               const char *fmt, ...)
{
    char out[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    size_t n = 0;
    int r, fd;

    if (!log_enabled(level))
        return;

    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    n += strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%S", &tm);

    pthread_mutex_lock(&g_log.lock);
    if (g_log.module[0] && strncmp(file, g_log.module, strlen(g_log.module))) {
        pthread_mutex_unlock(&g_log.lock);
        return;
    }
    r = snprintf(out + n, sizeof(out) - n, ".%09ld [%s:%s", ts.tv_nsec,
                 g_log.id, t_name);
    fd = g_log.fd;
    pthread_mutex_unlock(&g_log.lock);
    if (r > 0)
        n += (size_t)r;
    if (n < sizeof(out) && atomic_load(&g_log.show_level)) {
        r = snprintf(out + n, sizeof(out) - n, ":%s", level_name(level));
        if (r > 0)
            n += (size_t)r;
    }
    if (n < sizeof(out) && atomic_load(&g_log.show_origin)) {
        r = snprintf(out + n, sizeof(out) - n, ":%s:%d", file, line);
        if (r > 0)
            n += (size_t)r;
    }
    if (n < sizeof(out) - 2) {
        out[n++] = ']';
        out[n++] = ' ';
        va_start(ap, fmt);
        r = vsnprintf(out + n, sizeof(out) - n, fmt, ap);
        va_end(ap);
        if (r > 0)
            n += (size_t)r < sizeof(out) - n ? (size_t)r : sizeof(out) - n - 1;
    }
    if (n >= sizeof(out))
        n = sizeof(out) - 1;
    out[n++] = '\n';

    if (write(fd, out, n) != (ssize_t)n)
        metrics_inc(METRIC_LOGGER_MISSED_LOG_COUNT);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool log_ratelimit_ok(struct log_ratelimit *rl)
{
    uint64_t now = now_ms();

    if (!rl->initialised) {
        rl->initialised = true;
        rl->tokens = 10;
        rl->last_refill_ms = now;
    }
    if (now - rl->last_refill_ms >= 5000) {
        if (rl->suppressed)
            log_warn("%u log messages were suppressed by the rate limiter",
                     rl->suppressed);
        rl->tokens = 10;
        rl->suppressed = 0;
        rl->last_refill_ms = now;
    }
    if (rl->tokens) {
        rl->tokens--;
        return true;
    }
    rl->suppressed++;
    metrics_inc(METRIC_LOGGER_RATE_LIMITED_LOG_COUNT);
    return false;
}
