/*
 * log.c: the logger (see log.h for the format and the contract).
 *
 * Configuration changes (PUT /logger, the CLI, the config file) are rare and
 * happen before the guest runs; records are written by every thread. The
 * level and the show_* switches are atomics read without a lock. The target
 * fd and the module filter sit under a read-write lock: a record holds the
 * read side from the filter check to the end of its write(), so a target
 * swap can never close an fd under a writer (upstream's RwLock, same idea).
 *
 * Signal handlers use log_write_signal_safe(), which takes no lock, formats
 * with the small helpers below instead of stdio, and computes local time
 * from the UTC offset cached by the last ordinary record (localtime_r is not
 * async-signal-safe).
 */
#include "obs/log.h"
#include "util/fdio.h"
#include "util/time.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "obs/metrics.h"

#define LOG_STACK_LINE  4096 /* records longer than this go to the heap */
#define LOG_MODULE_MAX  256
#define LOG_SIGNAL_LINE 1280

/* The logger's state: one per process (STYLE.md allows this one). */
static struct {
    pthread_rwlock_t lock;
    _Atomic int fd; /* target; STDOUT_FILENO or owned (fd_owned) */
    bool fd_owned;  /* under lock (write side) */
    char id[LOG_INSTANCE_ID_MAX + 1];
    char module[LOG_MODULE_MAX]; /* under lock; "" = no filter */
    _Atomic bool has_module;
    _Atomic int level;
    _Atomic bool show_level;
    _Atomic bool show_origin;
    _Atomic long gmtoff; /* local time offset seen by the last record */
} g_log = {
    .lock = PTHREAD_RWLOCK_INITIALIZER,
    .fd = STDOUT_FILENO,
    .id = LOG_DEFAULT_INSTANCE_ID,
    .level = LOG_INFO,
};

static _Thread_local char t_name[32];

/*
 * Records held back by log_hold() on this thread. PIPE_BUF bounds a batch:
 * a write of at most PIPE_BUF bytes to a FIFO is all-or-nothing, so a batch
 * is dropped whole or written whole, as a single record is.
 */
static _Thread_local struct {
    bool on;
    unsigned n; /* records in buf */
    size_t len; /* bytes in buf */
    char buf[PIPE_BUF];
} t_hold;

/* ---- small formatting helpers (no stdio, async-signal-safe) ---- */

struct sbuf {
    char *p;
    size_t len;
    size_t cap; /* usable bytes; appends past it are dropped */
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (n > b->cap - b->len)
        n = b->cap - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
    if (b->len < b->cap)
        b->p[b->len++] = c;
}

/* Unsigned decimal, zero-padded to at least `width` digits. */
static void sb_putu(struct sbuf *b, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < (int)sizeof(tmp));
    while (n < width && n < (int)sizeof(tmp))
        tmp[n++] = '0';
    while (n)
        sb_putc(b, tmp[--n]);
}

static void sb_puti(struct sbuf *b, int64_t v)
{
    if (v < 0) {
        sb_putc(b, '-');
        sb_putu(b, (uint64_t)0 - (uint64_t)v, 1);
    } else {
        sb_putu(b, (uint64_t)v, 1);
    }
}

/* Civil date from days since 1970-01-01 (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* YYYY-MM-DDTHH:MM:SS. for `secs` (already shifted to local time). */
static void sb_put_date(struct sbuf *b, int64_t secs)
{
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int64_t y;
    unsigned m, d;

    civil_from_days(days, &y, &m, &d);
    sb_puti(b, y);
    sb_putc(b, '-');
    sb_putu(b, m, 2);
    sb_putc(b, '-');
    sb_putu(b, d, 2);
    sb_putc(b, 'T');
    sb_putu(b, (uint64_t)(rem / 3600), 2);
    sb_putc(b, ':');
    sb_putu(b, (uint64_t)(rem / 60 % 60), 2);
    sb_putc(b, ':');
    sb_putu(b, (uint64_t)(rem % 60), 2);
    sb_putc(b, '.');
}

/* YYYY-MM-DDTHH:MM:SS.nnnnnnnnn for `ts` shifted by `gmtoff` seconds. */
static void sb_put_time(struct sbuf *b, const struct timespec *ts, long gmtoff)
{
    sb_put_date(b, (int64_t)ts->tv_sec + gmtoff);
    sb_putu(b, (uint64_t)ts->tv_nsec, 9);
}

/*
 * The date part of this thread's last record, kept for the rest of its
 * second under the same zone: localtime_r() and the calendar arithmetic then
 * run once a second, not once a record. A UTC offset change such as DST
 * happens on a second boundary, and a new TZ takes effect through tzset(),
 * which changes `timezone` or `daylight`; either refreshes the cache.
 */
static _Thread_local struct {
    bool valid;
    time_t sec;
    long zone;    /* `timezone` when cached */
    int daylight; /* `daylight` when cached */
    long gmtoff;
    size_t len;
    char text[32];
} t_date;

/* `ts` as sb_put_time() writes it, in local time, from the cache when
 * this thread already logged in the same second. */
static void sb_put_now(struct sbuf *b, const struct timespec *ts)
{
    if (!t_date.valid || t_date.sec != ts->tv_sec || t_date.zone != timezone ||
        t_date.daylight != daylight) {
        struct sbuf d = {t_date.text, 0, sizeof(t_date.text)};
        struct tm tm;

        t_date.gmtoff = localtime_r(&ts->tv_sec, &tm)
                            ? tm.tm_gmtoff
                            : atomic_load(&g_log.gmtoff);
        atomic_store_explicit(&g_log.gmtoff, t_date.gmtoff,
                              memory_order_relaxed);
        sb_put_date(&d, (int64_t)ts->tv_sec + t_date.gmtoff);
        t_date.len = d.len;
        t_date.sec = ts->tv_sec;
        t_date.zone = timezone; /* as localtime_r() left them */
        t_date.daylight = daylight;
        t_date.valid = true;
    }
    sb_putn(b, t_date.text, t_date.len);
    sb_putu(b, (uint64_t)ts->tv_nsec, 9);
}

static const char *thread_name(void)
{
    if (t_name[0])
        return t_name;
    /* Rust names the initial thread "main"; other unnamed threads are "-". */
    if ((pid_t)syscall(SYS_gettid) == getpid())
        return "main";
    return "-";
}

/* The " [{id}:{thread}{:LEVEL}{:file:line}] " that follows a record's time
 * stamp. */
static void put_prefix_rest(struct sbuf *b, enum log_level level,
                            const char *file, int line)
{
    sb_puts(b, " [");
    sb_puts(b, g_log.id);
    sb_putc(b, ':');
    sb_puts(b, thread_name());
    if (atomic_load_explicit(&g_log.show_level, memory_order_relaxed)) {
        sb_putc(b, ':');
        sb_puts(b, log_level_name(level));
    }
    if (atomic_load_explicit(&g_log.show_origin, memory_order_relaxed)) {
        sb_putc(b, ':');
        sb_puts(b, file);
        sb_putc(b, ':');
        sb_puti(b, line);
    }
    sb_puts(b, "] ");
}

/* ---- configuration ---- */

static void close_owned_target(void)
{
    if (g_log.fd_owned)
        close(atomic_load(&g_log.fd));
    atomic_store(&g_log.fd, STDOUT_FILENO);
    g_log.fd_owned = false;
}

void log_init(void)
{
    struct timespec ts;
    struct tm tm;

    pthread_rwlock_wrlock(&g_log.lock);
    close_owned_target();
    g_log.module[0] = '\0';
    atomic_store(&g_log.has_module, false);
    snprintf(g_log.id, sizeof(g_log.id), "%s", LOG_DEFAULT_INSTANCE_ID);
    pthread_rwlock_unlock(&g_log.lock);
    atomic_store(&g_log.level, LOG_INFO);
    atomic_store(&g_log.show_level, false);
    atomic_store(&g_log.show_origin, false);
    clock_gettime(CLOCK_REALTIME, &ts);
    if (localtime_r(&ts.tv_sec, &tm))
        atomic_store(&g_log.gmtoff, tm.tm_gmtoff);
}

void log_set_instance_id(const char *id)
{
    pthread_rwlock_wrlock(&g_log.lock);
    snprintf(g_log.id, sizeof(g_log.id), "%s", id);
    pthread_rwlock_unlock(&g_log.lock);
}

const char *log_instance_id(void)
{
    return g_log.id;
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
    pthread_rwlock_wrlock(&g_log.lock);
    snprintf(g_log.module, sizeof(g_log.module), "%s", prefix ? prefix : "");
    atomic_store(&g_log.has_module, g_log.module[0] != '\0');
    pthread_rwlock_unlock(&g_log.lock);
}

static int open_target(const char *path)
{
    /* Rust's OpenOptions: read+write+create, mode 0666 less the umask. */
    int fd = open(path, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0666);

    return fd < 0 ? -errno : fd;
}

static void install_target(int fd)
{
    pthread_rwlock_wrlock(&g_log.lock);
    close_owned_target();
    atomic_store(&g_log.fd, fd);
    g_log.fd_owned = true;
    pthread_rwlock_unlock(&g_log.lock);
}

int log_set_target(const char *path)
{
    int fd = open_target(path);

    if (fd < 0)
        return fd;
    install_target(fd);
    return 0;
}

int log_level_parse(const char *s, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {
        {"off", LOG_OFF},     {"trace", LOG_TRACE}, {"debug", LOG_DEBUG},
        {"info", LOG_INFO},   {"warn", LOG_WARN},   {"warning", LOG_WARN},
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

const char *log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_ERROR:
        return "ERROR";
    case LOG_WARN:
        return "WARN";
    case LOG_INFO:
        return "INFO";
    case LOG_DEBUG:
        return "DEBUG";
    case LOG_TRACE:
        return "TRACE";
    default:
        return "OFF";
    }
}

int log_apply_config(const struct logger_config *cfg, struct sq_err *err)
{
    int fd = -1;

    /* Open first, as upstream: a failed open leaves everything as it was. */
    if (cfg->log_path) {
        fd = open_target(cfg->log_path);
        if (fd < 0) {
            char io[256];

            return sq_errf(err, fd, "Failed to open target file: %s",
                           sq_os_error(-fd, io, sizeof(io)));
        }
    }
    log_set_level(cfg->has_level ? cfg->level : LOG_INFO);
    if (fd >= 0)
        install_target(fd);
    if (cfg->show_level >= 0)
        log_set_show_level(cfg->show_level != 0);
    if (cfg->show_log_origin >= 0)
        log_set_show_origin(cfg->show_log_origin != 0);
    if (cfg->module)
        log_set_module(cfg->module);
    return 0;
}

bool log_enabled(enum log_level level)
{
    return level != LOG_OFF &&
           (int)level <=
               atomic_load_explicit(&g_log.level, memory_order_relaxed);
}

/* ---- records ---- */

/*
 * Does the module path of `file` start with `filter`? The module path is
 * the part below "src/" without the extension, '/' written as "::".
 */
static bool module_matches(const char *filter, const char *file)
{
    char mod[LOG_MODULE_MAX * 2];
    const char *p = file, *s, *dot;
    size_t n = 0;

    if (!strncmp(p, "src/", 4))
        p += 4;
    else if ((s = strstr(p, "/src/")))
        p = s + 5;
    dot = strrchr(p, '.');
    if (dot && strchr(dot, '/'))
        dot = NULL;
    for (; *p && p != dot && n + 3 < sizeof(mod); p++) {
        if (*p == '/') {
            mod[n++] = ':';
            mod[n++] = ':';
        } else {
            mod[n++] = *p;
        }
    }
    mod[n] = '\0';
    return !strncmp(mod, filter, strlen(filter));
}

/* Write the held records in one write(); called under the read lock (or
 * from a signal handler on the holding thread). */
static void hold_write(void)
{
    if (!t_hold.len)
        return;
    if (fd_write_all(atomic_load(&g_log.fd), t_hold.buf, t_hold.len) < 0)
        metrics_add(METRIC_logger_missed_log_count, t_hold.n);
    t_hold.len = 0;
    t_hold.n = 0;
}

/* Write one whole record, or hold it (log_hold). Under the read lock. */
static void emit(const char *rec, size_t len)
{
    if (t_hold.on) {
        if (t_hold.len + len > sizeof(t_hold.buf))
            hold_write();
        if (len <= sizeof(t_hold.buf)) {
            memcpy(t_hold.buf + t_hold.len, rec, len);
            t_hold.len += len; /* after the copy: see log_write_signal_safe */
            t_hold.n++;
            return;
        }
    }
    if (fd_write_all(atomic_load(&g_log.fd), rec, len) < 0)
        metrics_inc(METRIC_logger_missed_log_count);
}

void log_hold(void)
{
    t_hold.on = true;
}

void log_release(void)
{
    t_hold.on = false;
    if (!t_hold.len)
        return;
    pthread_rwlock_rdlock(&g_log.lock);
    hold_write();
    pthread_rwlock_unlock(&g_log.lock);
}

void log_write(enum log_level level, const char *file, int line,
               const char *fmt, ...)
{
    char stack[LOG_STACK_LINE];
    struct sbuf b = {stack, 0, sizeof(stack) - 1};
    char *heap = NULL, *out = stack;
    struct timespec ts;
    const char *text;
    va_list ap;
    size_t prefix_len, total;
    int r;

    if (!log_enabled(level))
        return;

    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_rwlock_rdlock(&g_log.lock);
    if (atomic_load_explicit(&g_log.has_module, memory_order_relaxed) &&
        !module_matches(g_log.module, file))
        goto out;

    sb_put_now(&b, &ts);
    put_prefix_rest(&b, level, file, line);
    prefix_len = b.len;
    /* A message without conversions, or "%s", needs no printf (the api
     * thread logs two such records per request). */
    text = NULL;
    if (!strchr(fmt, '%')) {
        text = fmt;
    } else if (strcmp(fmt, "%s") == 0) {
        va_start(ap, fmt);
        text = va_arg(ap, const char *);
        va_end(ap);
        if (!text)
            text = "(null)"; /* what glibc's printf shows */
    }
    if (text) {
        size_t n = strlen(text);

        r = n > INT_MAX ? INT_MAX : (int)n;
        memcpy(stack + prefix_len, text,
               n < sizeof(stack) - prefix_len - 1
                   ? n
                   : sizeof(stack) - prefix_len - 1);
    } else {
        va_start(ap, fmt);
        r = vsnprintf(stack + prefix_len, sizeof(stack) - prefix_len, fmt, ap);
        va_end(ap);
        if (r < 0)
            r = 0;
    }
    total = prefix_len + (size_t)r;
    if (total + 1 >= sizeof(stack)) {
        /* Too long for the stack: format again on the heap, whole. */
        heap = malloc(total + 2);
        if (heap) {
            memcpy(heap, stack, prefix_len);
            if (text) {
                memcpy(heap + prefix_len, text, (size_t)r);
            } else {
                va_start(ap, fmt);
                vsnprintf(heap + prefix_len, (size_t)r + 1, fmt, ap);
                va_end(ap);
            }
            out = heap;
        } else {
            total = sizeof(stack) - 2;
        }
    }
    out[total++] = '\n';

    emit(out, total);
    free(heap);
out:
    pthread_rwlock_unlock(&g_log.lock);
}

int log_write_signal_safe(enum log_level level, const char *file, int line,
                          const char *msg)
{
    char out[LOG_SIGNAL_LINE];
    struct sbuf b = {out, 0, sizeof(out) - 1};
    struct timespec ts;
    int rc;

    if (!log_enabled(level))
        return 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    sb_put_time(&b, &ts, atomic_load(&g_log.gmtoff));
    put_prefix_rest(&b, level, file, line);
    sb_puts(&b, msg);
    out[b.len++] = '\n';
    /* Records this thread held back come first (a fatal signal must not
     * lose the request being handled). Only whole records are counted in
     * t_hold.len, so an interrupted emit() leaves nothing torn. */
    hold_write();
    rc = fd_write_all(atomic_load(&g_log.fd), out, b.len);
    if (rc < 0)
        metrics_inc(METRIC_logger_missed_log_count);
    return rc;
}

/* ---- rate limiting (upstream's GCRA, same constants) ---- */

#define RL_TAT_BITS  40
#define RL_TAT_MASK  ((UINT64_C(1) << RL_TAT_BITS) - 1)
#define RL_MAX_SUPP  (UINT64_MAX >> RL_TAT_BITS)
#define RL_PERIOD_MS (LOG_RATELIMIT_REFILL_MS / LOG_RATELIMIT_BURST)
#define RL_CAS_TRIES 16

static uint64_t rl_pack(uint64_t tat, uint64_t suppressed)
{
    if (suppressed > RL_MAX_SUPP)
        suppressed = RL_MAX_SUPP;
    return (suppressed << RL_TAT_BITS) | (tat & RL_TAT_MASK);
}

bool log_ratelimit_check(struct log_ratelimit *rl, uint64_t now_ms,
                         uint64_t *suppressed)
{
    *suppressed = 0;
    for (int i = 0; i < RL_CAS_TRIES; i++) {
        uint64_t state = atomic_load_explicit(&rl->state, memory_order_relaxed);
        uint64_t tat = state & RL_TAT_MASK;
        uint64_t supp = state >> RL_TAT_BITS;
        uint64_t earliest = tat > now_ms ? tat : now_ms;
        uint64_t new_tat = earliest + RL_PERIOD_MS;
        bool denied = new_tat - now_ms > LOG_RATELIMIT_REFILL_MS;
        uint64_t next = denied ? rl_pack(tat, supp + 1) : rl_pack(new_tat, 0);

        if (atomic_compare_exchange_weak_explicit(&rl->state, &state, next,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed)) {
            if (denied)
                metrics_inc(METRIC_logger_rate_limited_log_count);
            else
                *suppressed = supp;
            return !denied;
        }
    }
    metrics_inc(METRIC_logger_rate_limited_log_count);
    return false;
}

/* Milliseconds since the first rate-limited call of the process. */
static uint64_t rl_now_ms(void)
{
    static _Atomic uint64_t epoch_ms; /* 0 = not yet set */
    uint64_t now = time_mono_ms() + 1, zero = 0;

    atomic_compare_exchange_strong(&epoch_ms, &zero, now);
    return now - atomic_load(&epoch_ms);
}

bool log_ratelimit_ok(struct log_ratelimit *rl)
{
    uint64_t suppressed;
    bool ok = log_ratelimit_check(rl, rl_now_ms(), &suppressed);

    if (ok && suppressed)
        log_warn("%llu messages were suppressed due to rate limiting",
                 (unsigned long long)suppressed);
    return ok;
}
