/*
 * metrics.c: metric storage and JSON-lines emission (see metrics.h).
 *
 * Like the logger, the metrics are process-wide (STYLE.md's one exception
 * to "no file-scope mutable state"): any thread, and the fatal signal
 * handlers, must reach them without a pointer being passed around, as
 * upstream's METRICS static.
 *
 * Storage. A counter keeps its running total (bumped with relaxed atomic
 * adds by anyone) and the total at the last flush (written by the flusher
 * only); the emitted value is the difference. Device groups live in sorted
 * singly-linked lists that only grow: a node is fully built, then published
 * with a release store, so the flusher, including the signal-safe one,
 * walks them without a lock. Registration itself is serialised by a mutex.
 *
 * Emission. One JSON writer serves three sinks: a heap buffer written with
 * one write() (ordinary flush), a stack buffer written out in chunks when
 * full (signal handlers: no allocation), and a caller's fixed buffer
 * (metrics_serialize). Numbers and strings are formatted by hand, without
 * stdio, so the signal path stays async-signal-safe. Strings are escaped as
 * serde_json does: \" \\ \b \f \n \r \t, other control bytes as \u00XX,
 * everything else (UTF-8 included) as is.
 */
#include "obs/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "obs/log.h"
#include "util/buf.h"
#include "util/fdio.h"
#include "util/sort.h"
#include "util/xalloc.h"

enum field_kind { FK_COUNTER, FK_GAUGE, FK_LATENCY };

struct field_desc {
    const char *name;
    uint8_t kind;
    uint16_t off;
};

enum dev_kind { DEV_BLOCK, DEV_NET, DEV_PMEM, DEV_VHOST_USER, DEV_KINDS };

struct dev_entry {
    _Atomic(struct dev_entry *) next;
    char *id; /* owned */
    void *m;  /* owned: struct metrics_block / _net / _pmem / _vhost_user */
};

struct metrics_prop {
    char *key;   /* owned */
    char *value; /* owned */
};

static struct {
    _Atomic uint64_t cur[METRIC_COUNT];
    uint64_t flushed[METRIC_COUNT]; /* under flush_lock */
    struct metrics_latency agg[METRIC_AGG_COUNT];
    struct metrics_balloon balloon;
    struct metrics_vsock vsock;
    struct metrics_entropy entropy;
    struct metrics_memory_hotplug memory_hotplug;
    _Atomic(struct dev_entry *) devs[DEV_KINDS];
    pthread_mutex_t reg_lock;   /* serialises device registration */
    pthread_mutex_t flush_lock; /* serialises init and flushes */
    _Atomic bool initialized;
    int fd; /* sink; valid once initialized */
    bool emit_id;
    bool has_props;
    struct metrics_prop *props; /* sorted by key */
    size_t n_props;
} g_m = {
    .reg_lock = PTHREAD_MUTEX_INITIALIZER,
    .flush_lock = PTHREAD_MUTEX_INITIALIZER,
    .fd = -1,
};

/* ---- descriptors generated from the X-macros ---- */

static const struct {
    const char *group;
    const char *field;
    uint8_t kind;
} global_desc[METRIC_COUNT] = {
#define SQ_GLOBAL_DESC(g, f, k) {#g, #f, k},
    METRICS_GLOBAL(SQ_GLOBAL_DESC)
#undef SQ_GLOBAL_DESC
};

static const struct {
    const char *group;
    const char *field;
} agg_desc[METRIC_AGG_COUNT] = {
#define SQ_AGG_DESC(g, f) {#g, #f},
    METRICS_GLOBAL_AGG(SQ_AGG_DESC)
#undef SQ_AGG_DESC
};

#define FD_C(f) {#f, FK_COUNTER, (uint16_t)offsetof(SQ_CUR, f)},
#define FD_G(f) {#f, FK_GAUGE, (uint16_t)offsetof(SQ_CUR, f)},
#define FD_L(f) {#f, FK_LATENCY, (uint16_t)offsetof(SQ_CUR, f)},

#define SQ_CUR struct metrics_block
static const struct field_desc block_desc[] = {
    METRICS_BLOCK_FIELDS(FD_C, FD_G, FD_L)};
#undef SQ_CUR
#define SQ_CUR struct metrics_net
static const struct field_desc net_desc[] = {
    METRICS_NET_FIELDS(FD_C, FD_G, FD_L)};
#undef SQ_CUR
#define SQ_CUR struct metrics_pmem
static const struct field_desc pmem_desc[] = {
    METRICS_PMEM_FIELDS(FD_C, FD_G, FD_L)};
#undef SQ_CUR
#define SQ_CUR struct metrics_vhost_user
static const struct field_desc vhost_user_desc[] = {
    METRICS_VHOST_USER_FIELDS(FD_C, FD_G, FD_L)};
#undef SQ_CUR
#define SQ_CUR struct metrics_balloon
static const struct field_desc balloon_desc[] = {
    METRICS_BALLOON_FIELDS(FD_C, FD_G, FD_L)};
#undef SQ_CUR
#define SQ_CUR struct metrics_vsock
static const struct field_desc vsock_desc[] = {
    METRICS_VSOCK_FIELDS(FD_C, FD_G, FD_L)};
#undef SQ_CUR
#define SQ_CUR struct metrics_entropy
static const struct field_desc entropy_desc[] = {
    METRICS_ENTROPY_FIELDS(FD_C, FD_G, FD_L)};
#undef SQ_CUR
#define SQ_CUR struct metrics_memory_hotplug
static const struct field_desc memory_hotplug_desc[] = {
    METRICS_MEMORY_HOTPLUG_FIELDS(FD_C, FD_G, FD_L)};
#undef SQ_CUR

#define NDESC(d) (sizeof(d) / sizeof((d)[0]))

static const struct dev_kind_info {
    const char *prefix;    /* "block_" */
    const char *aggregate; /* "block", or NULL: no aggregate group */
    const struct field_desc *desc;
    size_t n_desc;
    size_t size;
} dev_info[DEV_KINDS] = {
    [DEV_BLOCK] = {"block_", "block", block_desc, NDESC(block_desc),
                   sizeof(struct metrics_block)},
    [DEV_NET] = {"net_", "net", net_desc, NDESC(net_desc),
                 sizeof(struct metrics_net)},
    [DEV_PMEM] = {"pmem_", "pmem", pmem_desc, NDESC(pmem_desc),
                  sizeof(struct metrics_pmem)},
    [DEV_VHOST_USER] = {"vhost_user_", NULL, vhost_user_desc,
                        NDESC(vhost_user_desc),
                        sizeof(struct metrics_vhost_user)},
};

/* The largest device struct, for the on-stack aggregate. */
union any_dev {
    struct metrics_block b;
    struct metrics_net n;
    struct metrics_pmem p;
};

/* ---- process-wide metrics ---- */

void metrics_inc(enum metric_id id)
{
    atomic_fetch_add_explicit(&g_m.cur[id], 1, memory_order_relaxed);
}

void metrics_add(enum metric_id id, uint64_t n)
{
    atomic_fetch_add_explicit(&g_m.cur[id], n, memory_order_relaxed);
}

void metrics_store(enum metric_id id, uint64_t v)
{
    atomic_store_explicit(&g_m.cur[id], v, memory_order_relaxed);
}

uint64_t metrics_read(enum metric_id id)
{
    return atomic_load_explicit(&g_m.cur[id], memory_order_relaxed);
}

void metrics_latency_record(struct metrics_latency *l, uint64_t us)
{
    uint64_t min = atomic_load_explicit(&l->min_us.v, memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&l->max_us.v, memory_order_relaxed);

    metrics_counter_add(&l->sum_us, us);
    if (min == 0 || min > us)
        metrics_gauge_store(&l->min_us, us);
    if (max == 0 || max < us)
        metrics_gauge_store(&l->max_us, us);
}

void metrics_agg_record(enum metric_agg_id id, uint64_t us)
{
    metrics_latency_record(&g_m.agg[id], us);
}

/* ---- device groups ---- */

static void *dev_get(enum dev_kind kind, const char *id)
{
    _Atomic(struct dev_entry *) *link;
    struct dev_entry *e, *n;

    pthread_mutex_lock(&g_m.reg_lock);
    for (link = &g_m.devs[kind]; (e = atomic_load(link)); link = &e->next) {
        int c = strcmp(e->id, id);

        if (c == 0) {
            pthread_mutex_unlock(&g_m.reg_lock);
            return e->m;
        }
        if (c > 0)
            break;
    }
    n = xcalloc(1, sizeof(*n));
    n->id = xstrdup(id);
    n->m = xcalloc(1, dev_info[kind].size);
    atomic_store_explicit(&n->next, e, memory_order_relaxed);
    /* Publish only the finished node: lock-free readers follow `link`. */
    atomic_store_explicit(link, n, memory_order_release);
    pthread_mutex_unlock(&g_m.reg_lock);
    return n->m;
}

struct metrics_block *metrics_block_get(const char *id)
{
    return dev_get(DEV_BLOCK, id);
}

struct metrics_net *metrics_net_get(const char *id)
{
    return dev_get(DEV_NET, id);
}

struct metrics_pmem *metrics_pmem_get(const char *id)
{
    return dev_get(DEV_PMEM, id);
}

struct metrics_vhost_user *metrics_vhost_user_get(const char *id)
{
    return dev_get(DEV_VHOST_USER, id);
}

struct metrics_balloon *metrics_balloon(void)
{
    return &g_m.balloon;
}

struct metrics_vsock *metrics_vsock(void)
{
    return &g_m.vsock;
}

struct metrics_entropy *metrics_entropy(void)
{
    return &g_m.entropy;
}

struct metrics_memory_hotplug *metrics_memory_hotplug(void)
{
    return &g_m.memory_hotplug;
}

/* ---- the JSON writer ---- */

enum jw_mode { JW_HEAP, JW_CHUNK, JW_FIXED };

struct jw {
    enum jw_mode mode;
    struct buf heap; /* JW_HEAP */
    char *p;         /* JW_CHUNK / JW_FIXED */
    size_t len, cap;
    int fd;  /* JW_CHUNK: where full chunks go */
    int err; /* first error: -errno (chunk write) or -ENOSPC */
};

static void jw_put(struct jw *w, const char *s, size_t n)
{
    if (w->mode == JW_HEAP) {
        buf_append(&w->heap, s, n);
        return;
    }
    while (n) {
        size_t room = w->cap - w->len;

        if (!room) {
            if (w->mode == JW_FIXED) {
                w->err = -ENOSPC;
                return;
            }
            if (!w->err)
                w->err = fd_write_all(w->fd, w->p, w->len);
            w->len = 0;
            continue;
        }
        if (room > n)
            room = n;
        memcpy(w->p + w->len, s, room);
        w->len += room;
        s += room;
        n -= room;
    }
}

static void jw_puts(struct jw *w, const char *s)
{
    jw_put(w, s, strlen(s));
}

static void jw_u64(struct jw *w, uint64_t v)
{
    char tmp[24];
    int n = (int)sizeof(tmp);

    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    jw_put(w, tmp + n, sizeof(tmp) - (size_t)n);
}

static void jw_i64(struct jw *w, int64_t v)
{
    if (v < 0) {
        jw_put(w, "-", 1);
        jw_u64(w, (uint64_t)0 - (uint64_t)v);
    } else {
        jw_u64(w, (uint64_t)v);
    }
}

/* The inside of a JSON string, escaped as serde_json escapes. */
static void jw_str_body(struct jw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7];
        size_t n = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jw_put(w, run, (size_t)(s - run));
        run = s + 1;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        jw_put(w, esc, n);
    }
    jw_put(w, run, (size_t)(s - run));
}

static void jw_str(struct jw *w, const char *s)
{
    jw_put(w, "\"", 1);
    jw_str_body(w, s);
    jw_put(w, "\"", 1);
}

/* `"name":`, preceded by a comma unless it is the first key of its object. */
static void jw_key(struct jw *w, bool *first, const char *name)
{
    if (!*first)
        jw_put(w, ",", 1);
    *first = false;
    jw_str(w, name);
    jw_put(w, ":", 1);
}

/* ---- serialisation ---- */

/* Emit a counter's delta and reset it. */
static void emit_counter(struct jw *w, struct metrics_counter *c)
{
    uint64_t now = atomic_load_explicit(&c->v, memory_order_relaxed);

    jw_u64(w, now - c->flushed);
    c->flushed = now;
}

static void emit_latency(struct jw *w, struct metrics_latency *l)
{
    jw_puts(w, "{\"min_us\":");
    jw_u64(w, atomic_load_explicit(&l->min_us.v, memory_order_relaxed));
    jw_puts(w, ",\"max_us\":");
    jw_u64(w, atomic_load_explicit(&l->max_us.v, memory_order_relaxed));
    jw_puts(w, ",\"sum_us\":");
    emit_counter(w, &l->sum_us);
    jw_put(w, "}", 1);
}

static void emit_struct(struct jw *w, void *base, const struct field_desc *d,
                        size_t n)
{
    bool first = true;

    jw_put(w, "{", 1);
    for (size_t i = 0; i < n; i++) {
        char *f = (char *)base + d[i].off;

        jw_key(w, &first, d[i].name);
        switch (d[i].kind) {
        case FK_COUNTER:
            emit_counter(w, (struct metrics_counter *)(void *)f);
            break;
        case FK_GAUGE:
            jw_u64(w,
                   atomic_load_explicit(&((struct metrics_gauge *)(void *)f)->v,
                                        memory_order_relaxed));
            break;
        default:
            emit_latency(w, (struct metrics_latency *)(void *)f);
        }
    }
    jw_put(w, "}", 1);
}

/* Add the not-yet-flushed part of each counter of `dev` into `agg`. */
static void aggregate_into(void *agg, void *dev, const struct field_desc *d,
                           size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct metrics_counter *a, *c;

        if (d[i].kind == FK_GAUGE)
            continue;
        a = (void *)((char *)agg + d[i].off);
        c = (void *)((char *)dev + d[i].off);
        if (d[i].kind == FK_LATENCY) {
            a = &((struct metrics_latency *)(void *)a)->sum_us;
            c = &((struct metrics_latency *)(void *)c)->sum_us;
        }
        atomic_fetch_add_explicit(
            &a->v,
            atomic_load_explicit(&c->v, memory_order_relaxed) - c->flushed,
            memory_order_relaxed);
    }
}

/* The per-device groups of one kind, then their aggregate (if any). */
static void emit_devices(struct jw *w, bool *first, enum dev_kind kind)
{
    const struct dev_kind_info *info = &dev_info[kind];
    union any_dev agg;
    struct dev_entry *e;

    memset(&agg, 0, sizeof(agg));
    for (e = atomic_load_explicit(&g_m.devs[kind], memory_order_acquire); e;
         e = atomic_load_explicit(&e->next, memory_order_acquire)) {
        /* Aggregate first: emitting resets the device's counters. */
        if (info->aggregate)
            aggregate_into(&agg, e->m, info->desc, info->n_desc);
        if (!*first)
            jw_put(w, ",", 1);
        *first = false;
        jw_put(w, "\"", 1);
        jw_puts(w, info->prefix);
        jw_str_body(w, e->id);
        jw_put(w, "\"", 1);
        jw_put(w, ":", 1);
        emit_struct(w, e->m, info->desc, info->n_desc);
    }
    if (info->aggregate) {
        jw_key(w, first, info->aggregate);
        emit_struct(w, &agg, info->desc, info->n_desc);
    }
}

/* A process-wide group; the vcpu group also carries the exit aggregates. */
static void emit_global_group(struct jw *w, bool *first, const char *group)
{
    bool inner = true;

    jw_key(w, first, group);
    jw_put(w, "{", 1);
    for (size_t i = 0; i < METRIC_COUNT; i++) {
        if (strcmp(global_desc[i].group, group))
            continue;
        jw_key(w, &inner, global_desc[i].field);
        if (global_desc[i].kind == METRIC_GAUGE) {
            jw_u64(w, atomic_load_explicit(&g_m.cur[i], memory_order_relaxed));
        } else {
            uint64_t now =
                atomic_load_explicit(&g_m.cur[i], memory_order_relaxed);

            jw_u64(w, now - g_m.flushed[i]);
            g_m.flushed[i] = now;
        }
    }
    for (size_t i = 0; i < METRIC_AGG_COUNT; i++) {
        if (strcmp(agg_desc[i].group, group))
            continue;
        jw_key(w, &inner, agg_desc[i].field);
        emit_latency(w, &g_m.agg[i]);
    }
    jw_put(w, "}", 1);
}

static void emit_single(struct jw *w, bool *first, const char *name, void *base,
                        const struct field_desc *d, size_t n)
{
    jw_key(w, first, name);
    emit_struct(w, base, d, n);
}

/* The whole line, without the trailing newline, in upstream's order. */
static void serialize(struct jw *w)
{
    struct timespec ts;
    bool first = true;

    clock_gettime(CLOCK_REALTIME, &ts);
    jw_put(w, "{", 1);
    jw_key(w, &first, "utc_timestamp_ms");
    jw_i64(w, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    if (g_m.emit_id) {
        jw_key(w, &first, "id");
        jw_str(w, log_instance_id());
    }
    if (g_m.has_props) {
        bool inner = true;

        jw_key(w, &first, "properties");
        jw_put(w, "{", 1);
        for (size_t i = 0; i < g_m.n_props; i++) {
            jw_key(w, &inner, g_m.props[i].key);
            jw_str(w, g_m.props[i].value);
        }
        jw_put(w, "}", 1);
    }
    emit_global_group(w, &first, "api_server");
    emit_single(w, &first, "balloon", &g_m.balloon, balloon_desc,
                NDESC(balloon_desc));
    emit_devices(w, &first, DEV_BLOCK);
    emit_global_group(w, &first, "deprecated_api");
    emit_global_group(w, &first, "get_api_requests");
    emit_global_group(w, &first, "i8042");
    emit_global_group(w, &first, "uart");
    emit_global_group(w, &first, "latencies_us");
    emit_global_group(w, &first, "logger");
    emit_global_group(w, &first, "mmds");
    emit_devices(w, &first, DEV_NET);
    emit_global_group(w, &first, "patch_api_requests");
    emit_global_group(w, &first, "put_api_requests");
    emit_global_group(w, &first, "seccomp");
    emit_global_group(w, &first, "vcpu");
    emit_global_group(w, &first, "vmm");
    emit_global_group(w, &first, "signals");
    emit_single(w, &first, "vsock", &g_m.vsock, vsock_desc, NDESC(vsock_desc));
    emit_single(w, &first, "entropy", &g_m.entropy, entropy_desc,
                NDESC(entropy_desc));
    emit_devices(w, &first, DEV_PMEM);
    emit_devices(w, &first, DEV_VHOST_USER);
    emit_global_group(w, &first, "interrupts");
    emit_single(w, &first, "memory_hotplug", &g_m.memory_hotplug,
                memory_hotplug_desc, NDESC(memory_hotplug_desc));
    jw_put(w, "}", 1);
}

/* ---- the sink ---- */

static int prop_cmp(const void *a, const void *b)
{
    const struct metrics_prop *x = a, *y = b;

    return strcmp(x->key, y->key);
}

int metrics_init(const char *path, bool emit_id,
                 const struct metrics_property *props, size_t n_props,
                 struct sq_err *err)
{
    static const char what[] = METRICS_ERR_INIT;
    struct metrics_prop *copy = NULL;
    size_t n = 0;
    char io[256];
    int fd;

    /* Opened (and created) before the once-only check, as upstream. */
    fd = open(path, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0666);
    if (fd < 0) {
        int rc = -errno;

        return sq_errf(err, rc, "%s%s", what, sq_os_error(-rc, io, sizeof(io)));
    }
    pthread_mutex_lock(&g_m.flush_lock);
    if (atomic_load(&g_m.initialized)) {
        pthread_mutex_unlock(&g_m.flush_lock);
        close(fd);
        return sq_errf(err, -EALREADY,
                       "%sReinitialization of metrics not "
                       "allowed.",
                       what);
    }
    if (props) {
        copy = xcalloc(n_props ? n_props : 1, sizeof(*copy));
        /* Later duplicates win, as when a JSON object fills a BTreeMap. */
        for (size_t i = 0; i < n_props; i++) {
            size_t j;

            for (j = 0; j < n; j++)
                if (!strcmp(copy[j].key, props[i].key))
                    break;
            if (j == n) {
                copy[n].key = xstrdup(props[i].key);
                n++;
            } else {
                free(copy[j].value);
            }
            copy[j].value = xstrdup(props[i].value);
        }
        sq_sort(copy, n, sizeof(*copy), prop_cmp);
    }
    g_m.fd = fd;
    g_m.emit_id = emit_id;
    g_m.has_props = props != NULL;
    g_m.props = copy;
    g_m.n_props = n;
    atomic_store(&g_m.initialized, true);
    pthread_mutex_unlock(&g_m.flush_lock);
    return 0;
}

bool metrics_is_initialized(void)
{
    return atomic_load(&g_m.initialized);
}

int metrics_flush(struct sq_err *err)
{
    struct jw w = {.mode = JW_HEAP, .heap = BUF_INIT};
    int rc;

    pthread_mutex_lock(&g_m.flush_lock);
    if (!atomic_load(&g_m.initialized)) {
        pthread_mutex_unlock(&g_m.flush_lock);
        return 0;
    }
    serialize(&w);
    buf_putc(&w.heap, '\n');
    rc = fd_write_all(g_m.fd, w.heap.data, w.heap.len);
    pthread_mutex_unlock(&g_m.flush_lock);
    buf_fini(&w.heap);
    if (rc < 0) {
        char io[256];

        return sq_errf(err, rc, "Failed to write metrics: %s",
                       sq_os_error(-rc, io, sizeof(io)));
    }
    return 1;
}

void metrics_flush_periodic(void)
{
    struct sq_err err;

    if (metrics_flush(&err) < 0) {
        metrics_inc(METRIC_logger_missed_metrics_count);
        log_error("Failed to write metrics: %s", err.msg);
    }
}

int metrics_flush_signal_safe(void)
{
    char chunk[2048];
    struct jw w = {.mode = JW_CHUNK, .p = chunk, .cap = sizeof(chunk)};
    bool locked;

    if (!atomic_load(&g_m.initialized))
        return 0;
    /* Never wait: the holder may be the very thread this signal hit. */
    locked = pthread_mutex_trylock(&g_m.flush_lock) == 0;
    w.fd = g_m.fd;
    serialize(&w);
    jw_put(&w, "\n", 1);
    if (!w.err && w.len)
        w.err = fd_write_all(w.fd, w.p, w.len);
    if (locked)
        pthread_mutex_unlock(&g_m.flush_lock);
    return w.err < 0 ? w.err : 1;
}

long metrics_serialize(char *out, size_t out_len)
{
    struct jw w = {
        .mode = JW_FIXED, .p = out, .cap = out_len ? out_len - 1 : 0};

    pthread_mutex_lock(&g_m.flush_lock);
    serialize(&w);
    pthread_mutex_unlock(&g_m.flush_lock);
    if (w.err || !out_len)
        return -ENOSPC;
    out[w.len] = '\0';
    return (long)w.len;
}
