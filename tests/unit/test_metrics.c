/*
 * test_metrics.c: the metrics line (every key of upstream's
 * tests/host_tools/fcmetrics.py validate_fc_metrics, in upstream's order),
 * counter deltas, gauges, per-device groups and their aggregates, the
 * once-only sink and its failure accounting.
 *
 * The metrics are process-wide, so the tests run in order and build on one
 * another: nothing is initialised until test_init_once.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "obs/log.h"
#include "obs/metrics.h"

/* ---- a small JSON reader: records every key path and its value ---- */

enum jtype { J_OBJ, J_NUM, J_STR };

struct jentry {
    char path[256];
    enum jtype type;
    long long num;
    char str[256];
};

struct jdoc {
    struct jentry e[2048];
    size_t n;
    char top[64][64]; /* top-level keys, in order */
    size_t n_top;
};

static void jparse_value(const char **p, struct jdoc *d, const char *path,
                         int depth);

static void jparse_string(const char **p, char *out, size_t out_len)
{
    size_t n = 0;

    assert_int_equal(**p, '"');
    (*p)++;
    while (**p != '"') {
        char c = **p;

        assert_true(c != '\0');
        assert_true((unsigned char)c >= 0x20); /* control chars escaped */
        if (c == '\\') {
            (*p)++;
            switch (**p) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case '"':
                c = '"';
                break;
            case '\\':
                c = '\\';
                break;
            case 'u': {
                unsigned v;

                assert_int_equal(sscanf(*p + 1, "%4x", &v), 1);
                c = (char)v;
                *p += 4;
                break;
            }
            default:
                fail_msg("bad escape \\%c", **p);
            }
        }
        if (n + 1 < out_len)
            out[n++] = c;
        (*p)++;
    }
    (*p)++;
    out[n] = '\0';
}

static void jparse_object(const char **p, struct jdoc *d, const char *path,
                          int depth)
{
    assert_int_equal(**p, '{');
    (*p)++;
    if (**p == '}') {
        (*p)++;
        return;
    }
    for (;;) {
        char key[128], sub[256];

        jparse_string(p, key, sizeof(key));
        assert_int_equal(**p, ':');
        (*p)++;
        if (depth == 0) {
            assert_true(d->n_top < 64);
            snprintf(d->top[d->n_top++], 64, "%.63s", key);
        }
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
        /* No key twice in one object. */
        for (size_t i = 0; i < d->n; i++)
            assert_string_not_equal(d->e[i].path, sub);
        jparse_value(p, d, sub, depth + 1);
        if (**p == ',') {
            (*p)++;
            continue;
        }
        assert_int_equal(**p, '}');
        (*p)++;
        return;
    }
}

static void jparse_value(const char **p, struct jdoc *d, const char *path,
                         int depth)
{
    struct jentry *e;

    assert_true(d->n < sizeof(d->e) / sizeof(d->e[0]));
    e = &d->e[d->n];
    if (*path) {
        d->n++;
        snprintf(e->path, sizeof(e->path), "%s", path);
    }
    if (**p == '{') {
        e->type = J_OBJ;
        jparse_object(p, d, path, depth);
    } else if (**p == '"') {
        e->type = J_STR;
        jparse_string(p, e->str, sizeof(e->str));
    } else {
        char *end;

        e->type = J_NUM;
        e->num = strtoll(*p, &end, 10);
        assert_true(end != *p);
        *p = end;
    }
}

static struct jdoc *jparse(const char *text)
{
    struct jdoc *d = calloc(1, sizeof(*d));
    const char *p = text;

    jparse_value(&p, d, "", 0);
    assert_int_equal(*p, '\0');
    return d;
}

static struct jentry *jget(struct jdoc *d, const char *path)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->e[i].path, path))
            return &d->e[i];
    return NULL;
}

static long long jnum(struct jdoc *d, const char *path)
{
    struct jentry *e = jget(d, path);

    if (!e)
        fail_msg("missing key %s", path);
    assert_int_equal(e->type, J_NUM);
    return e->num;
}

/* Serialise now (this resets the counters) and parse. */
static struct jdoc *snapshot(void)
{
    static char line[65536];
    long n = metrics_serialize(line, sizeof(line));

    assert_true(n > 0);
    assert_int_equal(strlen(line), (size_t)n);
    assert_null(strchr(line, '\n'));
    return jparse(line);
}

/* ---- upstream's key lists (tests/host_tools/fcmetrics.py) ---- */

static const char *const latency_fields[] = {"min_us", "max_us", "sum_us",
                                             NULL};

static const char *const block_fields[] = {"activate_fails",
                                           "cfg_fails",
                                           "no_avail_buffer",
                                           "event_fails",
                                           "execute_fails",
                                           "invalid_reqs_count",
                                           "flush_count",
                                           "queue_event_count",
                                           "rate_limiter_event_count",
                                           "update_count",
                                           "update_fails",
                                           "read_bytes",
                                           "write_bytes",
                                           "read_count",
                                           "write_count",
                                           "rate_limiter_throttled_events",
                                           "io_engine_throttled_events",
                                           "remaining_reqs_count",
                                           "read_agg.*",
                                           "write_agg.*",
                                           NULL};

static const char *const net_fields[] = {"activate_fails",
                                         "cfg_fails",
                                         "no_rx_avail_buffer",
                                         "no_tx_avail_buffer",
                                         "event_fails",
                                         "rx_queue_event_count",
                                         "rx_event_rate_limiter_count",
                                         "rx_rate_limiter_throttled",
                                         "rx_tap_event_count",
                                         "rx_bytes_count",
                                         "rx_packets_count",
                                         "rx_fails",
                                         "rx_count",
                                         "tap_read_fails",
                                         "tap_write_fails",
                                         "tx_bytes_count",
                                         "tx_malformed_frames",
                                         "tx_fails",
                                         "tx_count",
                                         "tx_packets_count",
                                         "tx_queue_event_count",
                                         "tx_rate_limiter_event_count",
                                         "tx_rate_limiter_throttled",
                                         "tx_spoofed_mac_count",
                                         "tx_remaining_reqs_count",
                                         "tap_write_agg.*",
                                         NULL};

static const char *const vhost_user_fields[] = {
    "activate_fails",        "cfg_fails", "init_time_us", "activate_time_us",
    "config_change_time_us", NULL};

static const struct group {
    const char *name;
    const char *const *fields; /* "x.*" = a latency aggregate */
} groups[] = {
    {"api_server", (const char *const[]){"process_startup_time_us",
                                         "process_startup_time_cpu_us", NULL}},
    {"balloon",
     (const char *const[]){
         "activate_fails", "inflate_count", "stats_updates_count",
         "stats_update_fails", "deflate_count", "event_fails",
         "free_page_report_count", "free_page_report_freed",
         "free_page_report_fails", "free_page_hint_count",
         "free_page_hint_freed", "free_page_hint_fails", NULL}},
    {"block", block_fields},
    {"deprecated_api",
     (const char *const[]){"deprecated_http_api_calls", NULL}},
    {"get_api_requests",
     (const char *const[]){"instance_info_count", "machine_cfg_count",
                           "mmds_count", "vmm_version_count",
                           "hotplug_memory_count", NULL}},
    {"i8042", (const char *const[]){"error_count", "missed_read_count",
                                    "missed_write_count", "read_count",
                                    "reset_count", "write_count", NULL}},
    {"latencies_us",
     (const char *const[]){"full_create_snapshot", "diff_create_snapshot",
                           "load_snapshot", "pause_vm", "resume_vm",
                           "vmm_full_create_snapshot",
                           "vmm_diff_create_snapshot", "vmm_load_snapshot",
                           "vmm_pause_vm", "vmm_resume_vm", NULL}},
    {"logger",
     (const char *const[]){"missed_metrics_count", "metrics_fails",
                           "missed_log_count", "rate_limited_log_count", NULL}},
    {"mmds",
     (const char *const[]){
         "rx_accepted", "rx_accepted_err", "rx_accepted_unusual", "rx_bad_eth",
         "rx_invalid_token", "rx_no_token", "rx_count", "tx_bytes", "tx_count",
         "tx_errors", "tx_frames", "connections_created",
         "connections_destroyed", NULL}},
    {"net", net_fields},
    {"patch_api_requests",
     (const char *const[]){"drive_count", "drive_fails", "network_count",
                           "network_fails", "machine_cfg_count",
                           "machine_cfg_fails", "mmds_count", "mmds_fails",
                           "hotplug_memory_count", "hotplug_memory_fails",
                           "pmem_count", "pmem_fails", NULL}},
    {"put_api_requests",
     (const char *const[]){
         "actions_count",        "actions_fails",        "boot_source_count",
         "boot_source_fails",    "drive_count",          "drive_fails",
         "logger_count",         "logger_fails",         "machine_cfg_count",
         "machine_cfg_fails",    "cpu_cfg_count",        "cpu_cfg_fails",
         "metrics_count",        "metrics_fails",        "network_count",
         "network_fails",        "mmds_count",           "mmds_fails",
         "vsock_count",          "vsock_fails",          "pmem_count",
         "pmem_fails",           "serial_count",         "serial_fails",
         "hotplug_memory_count", "hotplug_memory_fails", NULL}},
    {"seccomp", (const char *const[]){"num_faults", NULL}},
    {"vcpu",
     (const char *const[]){"exit_io_in", "exit_io_out", "exit_mmio_read",
                           "exit_mmio_write", "failures", "kvmclock_ctrl_fails",
                           "exit_io_in_agg.*", "exit_io_out_agg.*",
                           "exit_mmio_read_agg.*", "exit_mmio_write_agg.*",
                           NULL}},
    {"vmm", (const char *const[]){"panic_count", NULL}},
    {"uart",
     (const char *const[]){"error_count", "flush_count", "missed_read_count",
                           "missed_write_count", "read_count", "write_count",
                           "rate_limiter_dropped_bytes", NULL}},
    {"signals", (const char *const[]){"sigbus", "sigsegv", "sigxfsz", "sigxcpu",
                                      "sigpipe", "sighup", "sigill", NULL}},
    {"vsock", (const char *const[]){"activate_fails",
                                    "cfg_fails",
                                    "rx_queue_event_fails",
                                    "tx_queue_event_fails",
                                    "ev_queue_event_fails",
                                    "muxer_event_fails",
                                    "conn_event_fails",
                                    "rx_queue_event_count",
                                    "tx_queue_event_count",
                                    "rx_bytes_count",
                                    "tx_bytes_count",
                                    "rx_packets_count",
                                    "tx_packets_count",
                                    "conns_added",
                                    "conns_killed",
                                    "conns_removed",
                                    "killq_resync",
                                    "tx_flush_fails",
                                    "tx_write_fails",
                                    "rx_read_fails",
                                    NULL}},
    {"entropy",
     (const char *const[]){"activate_fails", "entropy_event_fails",
                           "entropy_event_count", "entropy_bytes",
                           "host_rng_fails", "entropy_rate_limiter_throttled",
                           "rate_limiter_event_count", NULL}},
    {"interrupts", (const char *const[]){"triggers", "config_updates", NULL}},
    {"pmem",
     (const char *const[]){"activate_fails", "cfg_fails", "event_fails",
                           "queue_event_count", "rate_limiter_throttled_events",
                           "rate_limiter_event_count", NULL}},
    {"memory_hotplug",
     (const char *const[]){"activate_fails", "queue_event_fails",
                           "queue_event_count", "plug_count", "plug_bytes",
                           "plug_fails", "plug_agg.*", "unplug_count",
                           "unplug_bytes", "unplug_fails",
                           "unplug_discard_fails", "unplug_agg.*",
                           "state_count", "state_fails", "state_agg.*",
                           "unplug_all_count", "unplug_all_fails",
                           "unplug_all_agg.*", NULL}},
};

#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

/*
 * Check that group `name` has exactly `fields` (no more: upstream's schema
 * sets additionalProperties false), returning how many paths it covered.
 */
static size_t check_group(struct jdoc *d, const char *name,
                          const char *const *fields)
{
    size_t covered = 1, n_children = 0;
    struct jentry *g = jget(d, name);
    char path[256];

    if (!g)
        fail_msg("missing group %s", name);
    assert_int_equal(g->type, J_OBJ);
    for (const char *const *f = fields; *f; f++) {
        size_t len = strlen(*f);

        if (len > 2 && !strcmp(*f + len - 2, ".*")) {
            snprintf(path, sizeof(path), "%s.%.*s", name, (int)len - 2, *f);
            assert_non_null(jget(d, path));
            assert_int_equal(jget(d, path)->type, J_OBJ);
            covered++;
            for (const char *const *l = latency_fields; *l; l++) {
                char sub[300];

                snprintf(sub, sizeof(sub), "%s.%s", path, *l);
                jnum(d, sub);
                covered++;
            }
        } else {
            snprintf(path, sizeof(path), "%s.%s", name, *f);
            jnum(d, path);
            covered++;
        }
        n_children++;
    }
    /* Nothing else below this group. */
    {
        size_t below = 0, plen = strlen(name);

        for (size_t i = 0; i < d->n; i++)
            if (!strncmp(d->e[i].path, name, plen) && d->e[i].path[plen] == '.')
                below++;
        assert_int_equal(below + 1, covered);
    }
    return covered;
}

/* Every path of the document is accounted for by upstream's lists. */
static void check_all_keys(struct jdoc *d)
{
    size_t covered = 0;

    covered++; /* utc_timestamp_ms */
    assert_int_equal(jget(d, "utc_timestamp_ms")->type, J_NUM);
    for (size_t i = 0; i < N_GROUPS; i++)
        covered += check_group(d, groups[i].name, groups[i].fields);
    for (size_t i = 0; i < d->n_top; i++) {
        const char *k = d->top[i];

        if (!strncmp(k, "block_", 6))
            covered += check_group(d, k, block_fields);
        else if (!strncmp(k, "net_", 4))
            covered += check_group(d, k, net_fields);
        else if (!strncmp(k, "pmem_", 5))
            covered += check_group(d, k, groups[N_GROUPS - 2].fields);
        else if (!strncmp(k, "vhost_user_", 11))
            covered += check_group(d, k, vhost_user_fields);
        else if (!strcmp(k, "id"))
            covered++;
        else if (!strcmp(k, "properties"))
            for (size_t j = 0; j < d->n; j++)
                if (!strncmp(d->e[j].path, "properties", 10) &&
                    (d->e[j].path[10] == '.' || !d->e[j].path[10]))
                    covered++;
    }
    assert_int_equal(covered, d->n);
}

static void check_top_order(struct jdoc *d, const char *const *expect)
{
    size_t i = 0;

    for (; expect[i]; i++) {
        if (i >= d->n_top)
            fail_msg("missing top-level key %s", expect[i]);
        if (strcmp(d->top[i], expect[i]))
            fail_msg("top-level key %zu is %s, expected %s", i, d->top[i],
                     expect[i]);
    }
    assert_int_equal(d->n_top, i);
}

/* ---- the tests ---- */

static void test_flush_before_init(void **state)
{
    struct sq_err err;

    (void)state;
    assert_false(metrics_is_initialized());
    metrics_inc(METRIC_put_api_requests_actions_count);
    assert_int_equal(metrics_flush(&err), 0);
    assert_int_equal(metrics_flush_signal_safe(), 0);
    /* Nothing was consumed: the counter still shows at the next flush. */
    struct jdoc *d = snapshot();

    assert_int_equal(jnum(d, "put_api_requests.actions_count"), 1);
    free(d);
}

static void test_shape_without_devices(void **state)
{
    static const char *const order[] = {"utc_timestamp_ms",
                                        "api_server",
                                        "balloon",
                                        "block",
                                        "deprecated_api",
                                        "get_api_requests",
                                        "i8042",
                                        "uart",
                                        "latencies_us",
                                        "logger",
                                        "mmds",
                                        "net",
                                        "patch_api_requests",
                                        "put_api_requests",
                                        "seccomp",
                                        "vcpu",
                                        "vmm",
                                        "signals",
                                        "vsock",
                                        "entropy",
                                        "pmem",
                                        "interrupts",
                                        "memory_hotplug",
                                        NULL};
    struct timespec ts;
    struct jdoc *d;
    long long now;

    (void)state;
    d = snapshot();
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    check_all_keys(d);
    check_top_order(d, order);
    /* A UTC wall-clock timestamp in ms (upstream checks within 1 s). */
    assert_true(llabs(jnum(d, "utc_timestamp_ms") - now) < 1000);
    /* Field order inside a group is upstream's struct order. */
    assert_string_equal(d->e[1].path, "api_server");
    assert_string_equal(d->e[2].path, "api_server.process_startup_time_us");
    free(d);
}

static void test_counters_are_deltas_gauges_are_kept(void **state)
{
    struct jdoc *d;

    (void)state;
    metrics_inc(METRIC_put_api_requests_drive_count);
    metrics_add(METRIC_put_api_requests_drive_count, 2);
    metrics_store(METRIC_latencies_us_pause_vm, 1234);
    metrics_inc(METRIC_signals_sigpipe);
    metrics_store(METRIC_signals_sigsegv, 1);
    metrics_agg_record(METRIC_AGG_vcpu_exit_mmio_read_agg, 7);
    metrics_agg_record(METRIC_AGG_vcpu_exit_mmio_read_agg, 3);
    metrics_agg_record(METRIC_AGG_vcpu_exit_mmio_read_agg, 11);
    d = snapshot();
    assert_int_equal(jnum(d, "put_api_requests.drive_count"), 3);
    assert_int_equal(jnum(d, "latencies_us.pause_vm"), 1234);
    assert_int_equal(jnum(d, "signals.sigpipe"), 1);
    assert_int_equal(jnum(d, "signals.sigsegv"), 1);
    assert_int_equal(jnum(d, "vcpu.exit_mmio_read_agg.min_us"), 3);
    assert_int_equal(jnum(d, "vcpu.exit_mmio_read_agg.max_us"), 11);
    assert_int_equal(jnum(d, "vcpu.exit_mmio_read_agg.sum_us"), 21);
    free(d);

    d = snapshot();
    assert_int_equal(jnum(d, "put_api_requests.drive_count"), 0);
    assert_int_equal(jnum(d, "latencies_us.pause_vm"), 1234);
    assert_int_equal(jnum(d, "signals.sigpipe"), 0);
    assert_int_equal(jnum(d, "signals.sigsegv"), 1);
    assert_int_equal(jnum(d, "vcpu.exit_mmio_read_agg.min_us"), 3);
    assert_int_equal(jnum(d, "vcpu.exit_mmio_read_agg.max_us"), 11);
    assert_int_equal(jnum(d, "vcpu.exit_mmio_read_agg.sum_us"), 0);
    free(d);
    /* The raw running total is still there for code that wants it. */
    assert_int_equal(metrics_read(METRIC_put_api_requests_drive_count), 3);
}

static void test_block_devices_and_aggregate(void **state)
{
    struct metrics_block *b = metrics_block_get("rootfs");
    struct metrics_block *a = metrics_block_get("data");
    struct jdoc *d;

    (void)state;
    assert_ptr_equal(metrics_block_get("rootfs"), b);
    assert_ptr_not_equal(a, b);
    metrics_counter_add(&b->read_count, 2);
    metrics_counter_add(&a->read_count, 5);
    metrics_counter_inc(&a->flush_count);
    metrics_latency_record(&b->read_agg, 10);
    metrics_latency_record(&b->read_agg, 30);
    metrics_latency_record(&a->read_agg, 5);
    d = snapshot();
    assert_int_equal(jnum(d, "block_rootfs.read_count"), 2);
    assert_int_equal(jnum(d, "block_data.read_count"), 5);
    assert_int_equal(jnum(d, "block.read_count"), 7);
    assert_int_equal(jnum(d, "block.flush_count"), 1);
    assert_int_equal(jnum(d, "block_rootfs.read_agg.min_us"), 10);
    assert_int_equal(jnum(d, "block_rootfs.read_agg.max_us"), 30);
    assert_int_equal(jnum(d, "block_rootfs.read_agg.sum_us"), 40);
    /* The aggregate sums the sums; its min/max stay 0, as upstream. */
    assert_int_equal(jnum(d, "block.read_agg.sum_us"), 45);
    assert_int_equal(jnum(d, "block.read_agg.min_us"), 0);
    assert_int_equal(jnum(d, "block.read_agg.max_us"), 0);
    /* Per-device groups in id order, then the aggregate, then the rest. */
    assert_string_equal(d->top[2], "balloon");
    assert_string_equal(d->top[3], "block_data");
    assert_string_equal(d->top[4], "block_rootfs");
    assert_string_equal(d->top[5], "block");
    assert_string_equal(d->top[6], "deprecated_api");
    check_all_keys(d);
    free(d);

    d = snapshot();
    assert_int_equal(jnum(d, "block_rootfs.read_count"), 0);
    assert_int_equal(jnum(d, "block.read_count"), 0);
    assert_int_equal(jnum(d, "block.read_agg.sum_us"), 0);
    assert_int_equal(jnum(d, "block_rootfs.read_agg.min_us"), 10);
    free(d);
}

static void test_all_device_kinds(void **state)
{
    static const char *const order[] = {"utc_timestamp_ms",
                                        "api_server",
                                        "balloon",
                                        "block_data",
                                        "block_rootfs",
                                        "block",
                                        "deprecated_api",
                                        "get_api_requests",
                                        "i8042",
                                        "uart",
                                        "latencies_us",
                                        "logger",
                                        "mmds",
                                        "net_eth0",
                                        "net_eth1",
                                        "net",
                                        "patch_api_requests",
                                        "put_api_requests",
                                        "seccomp",
                                        "vcpu",
                                        "vmm",
                                        "signals",
                                        "vsock",
                                        "entropy",
                                        "pmem_pm0",
                                        "pmem",
                                        "vhost_user_vu1",
                                        "interrupts",
                                        "memory_hotplug",
                                        NULL};
    struct metrics_net *n1 = metrics_net_get("eth1");
    struct metrics_net *n0 = metrics_net_get("eth0");
    struct metrics_pmem *p = metrics_pmem_get("pm0");
    struct metrics_vhost_user *v = metrics_vhost_user_get("vu1");
    struct jdoc *d;

    (void)state;
    metrics_counter_add(&n0->tx_bytes_count, 100);
    metrics_counter_add(&n1->tx_bytes_count, 50);
    metrics_latency_record(&n1->tap_write_agg, 9);
    metrics_counter_inc(&p->queue_event_count);
    metrics_gauge_store(&v->init_time_us, 77);
    metrics_counter_inc(&v->cfg_fails);
    metrics_counter_add(&metrics_balloon()->inflate_count, 4);
    metrics_counter_add(&metrics_vsock()->rx_bytes_count, 8);
    metrics_counter_add(&metrics_entropy()->entropy_bytes, 64);
    metrics_latency_record(&metrics_memory_hotplug()->plug_agg, 12);
    d = snapshot();
    check_top_order(d, order);
    check_all_keys(d);
    assert_int_equal(jnum(d, "net_eth0.tx_bytes_count"), 100);
    assert_int_equal(jnum(d, "net.tx_bytes_count"), 150);
    assert_int_equal(jnum(d, "net.tap_write_agg.sum_us"), 9);
    assert_int_equal(jnum(d, "pmem.queue_event_count"), 1);
    assert_int_equal(jnum(d, "vhost_user_vu1.init_time_us"), 77);
    assert_int_equal(jnum(d, "vhost_user_vu1.cfg_fails"), 1);
    assert_null(jget(d, "vhost_user"));
    assert_int_equal(jnum(d, "balloon.inflate_count"), 4);
    assert_int_equal(jnum(d, "vsock.rx_bytes_count"), 8);
    assert_int_equal(jnum(d, "entropy.entropy_bytes"), 64);
    assert_int_equal(jnum(d, "memory_hotplug.plug_agg.min_us"), 12);
    assert_int_equal(jnum(d, "memory_hotplug.plug_agg.sum_us"), 12);
    free(d);

    d = snapshot();
    assert_int_equal(jnum(d, "vhost_user_vu1.init_time_us"), 77);
    assert_int_equal(jnum(d, "vhost_user_vu1.cfg_fails"), 0);
    assert_int_equal(jnum(d, "balloon.inflate_count"), 0);
    free(d);
}

static void test_serialize_too_small(void **state)
{
    char small[64];

    (void)state;
    assert_int_equal(metrics_serialize(small, sizeof(small)), -ENOSPC);
}

/* State shared by the sink tests: a FIFO as the sink. */
static char g_dir[64], g_fifo[128];
static int g_rfd = -1;

/* Read every complete line available from the FIFO (caller frees). */
static char *drain(void)
{
    size_t cap = 1 << 20, len = 0;
    char *data = calloc(1, cap);
    ssize_t r;

    while ((r = read(g_rfd, data + len, cap - len - 1)) > 0)
        len += (size_t)r;
    data[len] = '\0';
    return data;
}

static void test_init_errors_and_once(void **state)
{
    const struct metrics_property props[] = {
        {"zeta", "last"},
        {"bundle_id", "fn-\"abc\"\n\x01"},
        {"alpha", "first"},
        {"zeta", "really-last"},
    };
    struct sq_err err;
    char *out, *nl;
    struct jdoc *d;

    (void)state;
    assert_int_equal(
        metrics_init("/nonexistent-dir/metrics", false, NULL, 0, &err),
        -ENOENT);
    assert_string_equal(err.msg,
                        "Cannot initialize the metrics system "
                        "due to bad user input: No such file or directory "
                        "(os error 2)");
    assert_false(metrics_is_initialized());

    snprintf(g_dir, sizeof(g_dir), "/tmp/squib-test-metrics-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_fifo, sizeof(g_fifo), "%s/fifo", g_dir);
    assert_int_equal(mkfifo(g_fifo, 0600), 0);
    log_set_instance_id("vm-\"7\"");
    assert_int_equal(metrics_init(g_fifo, true, props, 4, &err), 0);
    assert_true(metrics_is_initialized());
    g_rfd = open(g_fifo, O_RDONLY | O_NONBLOCK);
    assert_true(g_rfd >= 0);

    /* Once only; the second path is still opened (created) first. */
    char second[160];

    snprintf(second, sizeof(second), "%s/second", g_dir);
    assert_int_equal(metrics_init(second, false, NULL, 0, &err), -EALREADY);
    assert_string_equal(err.msg,
                        "Cannot initialize the metrics system "
                        "due to bad user input: Reinitialization of metrics "
                        "not allowed.");
    assert_int_equal(access(second, F_OK), 0);
    unlink(second);

    metrics_inc(METRIC_put_api_requests_metrics_count);
    assert_int_equal(metrics_flush(&err), 1);
    assert_int_equal(metrics_flush(&err), 1);
    out = drain();
    nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_non_null(strchr(nl + 1, '\n'));
    assert_int_equal(*(strchr(nl + 1, '\n') + 1), '\0');
    *nl = '\0';
    assert_int_equal(strncmp(out, "{\"utc_timestamp_ms\":", 20), 0);
    d = jparse(out);
    check_all_keys(d);
    /* id and properties right after the timestamp, as upstream. */
    assert_string_equal(d->top[1], "id");
    assert_string_equal(d->top[2], "properties");
    assert_string_equal(d->top[3], "api_server");
    assert_string_equal(jget(d, "id")->str, "vm-\"7\"");
    /* Sorted by key, last duplicate wins, escaped as serde_json does. */
    assert_string_equal(d->e[3].path, "properties.alpha");
    assert_string_equal(d->e[4].path, "properties.bundle_id");
    assert_string_equal(d->e[5].path, "properties.zeta");
    assert_string_equal(jget(d, "properties.zeta")->str, "really-last");
    assert_string_equal(jget(d, "properties.bundle_id")->str,
                        "fn-\"abc\"\n\x01");
    assert_non_null(strstr(out, "\"bundle_id\":\"fn-\\\"abc\\\"\\n\\u0001\""));
    assert_int_equal(jnum(d, "put_api_requests.metrics_count"), 1);
    free(d);
    free(out);
    log_set_instance_id(LOG_DEFAULT_INSTANCE_ID);
}

static void test_signal_safe_flush(void **state)
{
    char *out;
    struct jdoc *d;
    size_t len;

    (void)state;
    metrics_store(METRIC_signals_sigbus, 1);
    metrics_inc(METRIC_put_api_requests_vsock_fails);
    assert_int_equal(metrics_flush_signal_safe(), 1);
    out = drain();
    len = strlen(out);
    assert_true(len > 2048); /* it crossed the chunk size */
    assert_int_equal(out[len - 1], '\n');
    out[len - 1] = '\0';
    assert_null(strchr(out, '\n'));
    d = jparse(out);
    check_all_keys(d);
    assert_int_equal(jnum(d, "signals.sigbus"), 1);
    assert_int_equal(jnum(d, "put_api_requests.vsock_fails"), 1);
    free(d);
    free(out);
}

/* A FIFO nobody reads fills up: the flush fails, counted by the periodic
 * flush, and it never blocks. */
static void test_full_sink(void **state)
{
    uint64_t missed0 = metrics_read(METRIC_logger_missed_metrics_count);
    struct sq_err err;
    int rc = 1, i;
    char *out;

    (void)state;
    for (i = 0; i < 1000 && rc == 1; i++)
        rc = metrics_flush(&err);
    assert_int_equal(rc, -EAGAIN);
    assert_string_equal(err.msg, "Failed to write metrics: Resource "
                                 "temporarily unavailable (os error 11)");
    metrics_flush_periodic();
    assert_int_equal(metrics_read(METRIC_logger_missed_metrics_count),
                     missed0 + 1);
    out = drain();
    free(out);
    /* Drained: flushing works again. */
    assert_int_equal(metrics_flush(&err), 1);
    out = drain();
    assert_true(strlen(out) > 0);
    free(out);
    close(g_rfd);
    unlink(g_fifo);
    rmdir(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_before_init),
        cmocka_unit_test(test_shape_without_devices),
        cmocka_unit_test(test_counters_are_deltas_gauges_are_kept),
        cmocka_unit_test(test_block_devices_and_aggregate),
        cmocka_unit_test(test_all_device_kinds),
        cmocka_unit_test(test_serialize_too_small),
        cmocka_unit_test(test_init_errors_and_once),
        cmocka_unit_test(test_signal_safe_flush),
        cmocka_unit_test(test_full_sink),
    };

    log_init();
    log_set_level(LOG_OFF); /* keep the periodic flush's ERROR line quiet */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
