/*
 * test_schemas.c: unit tests for the configuration vocabulary (config/).
 *
 * The big table holds request bodies and the exact fault_message each one
 * must produce (NULL = accepted). The expected texts are serde_json's and
 * serde derive's own output for upstream's structs, including line/column
 * positions; several come verbatim from upstream's tests (snapshot load,
 * machine-config, MMDS config, drive PATCH). Every input is placed right
 * before a PROT_NONE page so that any over-read faults.
 *
 * The other tests check the parsed values, defaults, deprecation flags,
 * PATCH rules and the GET serializations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "guard.h"

#include "config/config.h"

#define S(x) x, sizeof(x) - 1

/* ---- one parser entry point per type name used in the table ---- */

static int parse_by_name(const char *type, const char *body, size_t len,
                         struct sq_err *err)
{
    int rc;

#define TRY(name, T, parse, fini)                                              \
    if (strcmp(type, name) == 0) {                                             \
        T o;                                                                   \
        rc = parse(body, len, &o, err);                                        \
        fini(&o);                                                              \
        return rc;                                                             \
    }
    TRY("action", struct instance_action, instance_action_parse,
        instance_action_fini)
    TRY("boot", struct boot_source_cfg, boot_source_cfg_parse,
        boot_source_cfg_fini)
    TRY("drive", struct drive_cfg, drive_cfg_parse, drive_cfg_fini)
    TRY("drive_update", struct drive_update, drive_update_parse,
        drive_update_fini)
    TRY("pmem", struct pmem_cfg, pmem_cfg_parse, pmem_cfg_fini)
    TRY("pmem_update", struct pmem_update, pmem_update_parse, pmem_update_fini)
    TRY("net", struct net_iface_cfg, net_iface_cfg_parse, net_iface_cfg_fini)
    TRY("net_update", struct net_iface_update, net_iface_update_parse,
        net_iface_update_fini)
    TRY("machine", struct machine_cfg, machine_cfg_parse, machine_cfg_fini)
    TRY("machine_update", struct machine_cfg, machine_cfg_update_parse,
        machine_cfg_fini)
    TRY("cpu", struct cpu_template, cpu_config_parse, cpu_template_fini)
    TRY("logger", struct logger_cfg, logger_cfg_parse, logger_cfg_fini)
    TRY("metrics", struct metrics_cfg, metrics_cfg_parse, metrics_cfg_fini)
    TRY("mmds_config", struct mmds_cfg, mmds_cfg_parse, mmds_cfg_fini)
    TRY("vsock", struct vsock_cfg, vsock_cfg_parse, vsock_cfg_fini)
    TRY("entropy", struct entropy_cfg, entropy_cfg_parse, entropy_cfg_fini)
    TRY("serial", struct serial_cfg, serial_cfg_parse, serial_cfg_fini)
    TRY("balloon", struct balloon_cfg, balloon_cfg_parse, balloon_cfg_fini)
    TRY("balloon_update", struct balloon_update, balloon_update_parse,
        balloon_update_fini)
    TRY("balloon_stats", struct balloon_stats_update,
        balloon_stats_update_parse, balloon_stats_update_fini)
    TRY("hinting", struct balloon_hinting_start, balloon_hinting_start_parse,
        balloon_hinting_start_fini)
    TRY("hotplug", struct hotplug_memory_cfg, hotplug_memory_cfg_parse,
        hotplug_memory_cfg_fini)
    TRY("hotplug_update", struct hotplug_memory_update,
        hotplug_memory_update_parse, hotplug_memory_update_fini)
    TRY("snap_create", struct snapshot_create, snapshot_create_parse,
        snapshot_create_fini)
    TRY("snap_load", struct snapshot_load, snapshot_load_parse,
        snapshot_load_fini)
    TRY("vm", struct vm_state_req, vm_state_req_parse, vm_state_req_fini)
    TRY("config", struct vmm_config_file, vmm_config_file_parse,
        vmm_config_file_fini)
#undef TRY
    if (strcmp(type, "mmds") == 0) {
        struct json_value *v = NULL;

        rc = mmds_body_parse(body, len, &v, err);
        json_value_free(v);
        return rc;
    }
    fail_msg("unknown type %s", type);
    return -1;
}

struct schema_case {
    const char *type;
    const char *body;
    size_t len;
    const char *expect; /* NULL = accepted */
};

/* The table: generated from serde_json's own output for upstream's types. */
static const struct schema_case cases[] = {
#include "schemas_cases.inc"
};

static void test_table(void **state)
{
    size_t i, failures = 0;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct schema_case *c = &cases[i];
        struct guarded g;
        struct sq_err err;
        int rc;

        sq_err_clear(&err);
        guard_init(&g, c->body, c->len);
        rc = parse_by_name(c->type, g.p, c->len, &err);
        guard_fini(&g);
        if (!c->expect && rc != 0) {
            printf("case %zu (%s): unexpected error: %s\n", i, c->type,
                   err.msg);
            failures++;
        } else if (c->expect && (rc != -EINVAL || strcmp(err.msg, c->expect))) {
            printf("case %zu (%s): rc %d\n  got:  %s\n  want: %s\n", i, c->type,
                   rc, rc ? err.msg : "(accepted)", c->expect);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Parse a literal through the guard page. */
#define PARSE(fn, lit, out, err)                                               \
    ({                                                                         \
        struct guarded g_;                                                     \
        int rc_;                                                               \
        guard_init(&g_, S(lit));                                               \
        rc_ = fn(g_.p, sizeof(lit) - 1, out, err);                             \
        guard_fini(&g_);                                                       \
        rc_;                                                                   \
    })

static void assert_json(const char *want,
                        void (*fn)(const void *, struct buf *), const void *obj)
{
    struct buf b = BUF_INIT;

    fn(obj, &b);
    assert_string_equal(b.data, want);
    buf_fini(&b);
}

#define ASSERT_JSON(want, fn, obj)                                             \
    assert_json(want, (void (*)(const void *, struct buf *))(fn), obj)

static void test_drive_values(void **state)
{
    struct drive_cfg d;
    struct drive_update u;
    struct sq_err err;

    (void)state;
    assert_int_equal(
        PARSE(drive_cfg_parse,
              "{\"drive_id\": \"rootfs\", \"partuuid\": \"0eaa91a0-01\", "
              "\"is_root_device\": true, \"cache_type\": \"Writeback\", "
              "\"is_read_only\": true, \"path_on_host\": \"/r\", "
              "\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, "
              "\"one_time_burst\": 20, \"refill_time\": 100}, \"ops\": null}, "
              "\"io_engine\": \"Async\"}",
              &d, &err),
        0);
    assert_string_equal(d.drive_id, "rootfs");
    assert_int_equal(d.drive_id_len, 6);
    assert_string_equal(d.partuuid, "0eaa91a0-01");
    assert_true(d.is_root_device);
    assert_int_equal(d.cache_type, CACHE_TYPE_WRITEBACK);
    assert_true(d.has_is_read_only && d.is_read_only);
    assert_string_equal(d.path_on_host, "/r");
    assert_true(d.has_rate_limiter);
    assert_true(d.rate_limiter.has_bandwidth);
    assert_int_equal(d.rate_limiter.bandwidth.size, 1000);
    assert_true(d.rate_limiter.bandwidth.has_one_time_burst);
    assert_int_equal(d.rate_limiter.bandwidth.one_time_burst, 20);
    assert_int_equal(d.rate_limiter.bandwidth.refill_time, 100);
    assert_false(d.rate_limiter.has_ops);
    assert_true(d.has_io_engine);
    assert_int_equal(d.io_engine, IO_ENGINE_ASYNC);
    assert_null(d.socket);
    ASSERT_JSON("{\"drive_id\":\"rootfs\",\"partuuid\":\"0eaa91a0-01\","
                "\"is_root_device\":true,\"cache_type\":\"Writeback\","
                "\"is_read_only\":true,\"path_on_host\":\"/r\","
                "\"rate_limiter\":{\"bandwidth\":{\"size\":1000,"
                "\"one_time_burst\":20,\"refill_time\":100},\"ops\":null},"
                "\"io_engine\":\"Async\",\"socket\":null}",
                drive_cfg_to_json, &d);
    drive_cfg_fini(&d);
    assert_null(d.drive_id);

    assert_int_equal(
        PARSE(drive_cfg_parse,
              "{\"drive_id\":\"a\\u0000b\",\"is_root_device\":false,"
              "\"socket\":\"/s\"}",
              &d, &err),
        0);
    assert_int_equal(d.drive_id_len, 3);
    assert_memory_equal(d.drive_id, "a\0b", 3);
    assert_int_equal(d.cache_type, CACHE_TYPE_UNSAFE);
    assert_false(d.has_io_engine);
    assert_int_equal(d.io_engine, IO_ENGINE_SYNC);
    assert_false(d.has_is_read_only);
    ASSERT_JSON("{\"drive_id\":\"a\\u0000b\",\"partuuid\":null,"
                "\"is_root_device\":false,\"cache_type\":\"Unsafe\","
                "\"is_read_only\":null,\"path_on_host\":null,"
                "\"rate_limiter\":null,\"io_engine\":null,\"socket\":\"/s\"}",
                drive_cfg_to_json, &d);
    drive_cfg_fini(&d);

    assert_int_equal(PARSE(drive_update_parse,
                           "{\"drive_id\": \"scratch\", \"rate_limiter\": "
                           "{\"ops\": {\"size\": 0, \"refill_time\": 0}}}",
                           &u, &err),
                     0);
    assert_string_equal(u.drive_id, "scratch");
    assert_null(u.path_on_host);
    assert_true(u.has_rate_limiter && u.rate_limiter.has_ops);
    assert_false(u.rate_limiter.has_bandwidth);
    assert_int_equal(u.rate_limiter.ops.size, 0);
    drive_update_fini(&u);
}

static void test_net_pmem_values(void **state)
{
    struct net_iface_cfg n;
    struct net_iface_update nu;
    struct pmem_cfg p;
    struct pmem_update pu;
    struct sq_err err;
    static const uint8_t mac[6] = {0xaa, 0xfc, 0x00, 0x00, 0x00, 0x01};

    (void)state;
    assert_int_equal(
        PARSE(net_iface_cfg_parse,
              "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
              "\"guest_mac\": \"AA:FC:00:00:00:01\", \"mtu\": 9000}",
              &n, &err),
        0);
    assert_true(n.has_guest_mac);
    assert_memory_equal(n.guest_mac, mac, 6);
    assert_true(n.has_mtu);
    assert_int_equal(n.mtu, 9000);
    ASSERT_JSON("{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\","
                "\"guest_mac\":\"aa:fc:00:00:00:01\",\"mtu\":9000,"
                "\"rx_rate_limiter\":null,\"tx_rate_limiter\":null}",
                net_iface_cfg_to_json, &n);
    net_iface_cfg_fini(&n);

    assert_int_equal(PARSE(net_iface_cfg_parse,
                           "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", "
                           "\"guest_mac\": null, \"mtu\": null, "
                           "\"tx_rate_limiter\": {}}",
                           &n, &err),
                     0);
    assert_false(n.has_guest_mac);
    assert_false(n.has_mtu);
    assert_false(n.has_rx_rate_limiter);
    assert_true(n.has_tx_rate_limiter);
    ASSERT_JSON(
        "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"guest_mac\":null,"
        "\"mtu\":null,\"rx_rate_limiter\":null,"
        "\"tx_rate_limiter\":{\"bandwidth\":null,\"ops\":null}}",
        net_iface_cfg_to_json, &n);
    net_iface_cfg_fini(&n);

    assert_int_equal(
        PARSE(net_iface_update_parse,
              "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": null}", &nu, &err),
        0);
    assert_string_equal(nu.iface_id, "eth0");
    assert_false(nu.has_rx_rate_limiter);
    net_iface_update_fini(&nu);

    assert_int_equal(PARSE(pmem_cfg_parse,
                           "{\"id\": \"pmem0\", \"path_on_host\": \"/p\", "
                           "\"root_device\": true}",
                           &p, &err),
                     0);
    assert_true(p.root_device);
    assert_false(p.read_only);
    ASSERT_JSON(
        "{\"id\":\"pmem0\",\"path_on_host\":\"/p\",\"root_device\":true,"
        "\"read_only\":false,\"rate_limiter\":null}",
        pmem_cfg_to_json, &p);
    pmem_cfg_fini(&p);

    assert_int_equal(PARSE(pmem_update_parse, "{\"id\": \"pmem0\"}", &pu, &err),
                     0);
    assert_false(pu.has_rate_limiter);
    assert_int_equal(pu.id_len, 5);
    pmem_update_fini(&pu);
}

static void test_machine_config(void **state)
{
    struct machine_cfg m;
    struct sq_err err;

    (void)state;
    assert_int_equal(PARSE(machine_cfg_parse,
                           "{\"vcpu_count\": 2, \"mem_size_mib\": 1024}", &m,
                           &err),
                     0);
    assert_true(m.has_vcpu_count && m.has_mem_size_mib && m.has_smt &&
                m.has_track_dirty_pages && m.has_huge_pages);
    assert_false(m.has_cpu_template);
    assert_false(m.deprecated);
    assert_int_equal(m.vcpu_count, 2);
    assert_int_equal(m.mem_size_mib, 1024);
    assert_int_equal(m.huge_pages, HUGE_PAGES_NONE);
    ASSERT_JSON("{\"vcpu_count\":2,\"mem_size_mib\":1024,\"smt\":false,"
                "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}",
                machine_cfg_to_json, &m);

    /* cpu_template "None" is still the deprecated field */
    assert_int_equal(PARSE(machine_cfg_parse,
                           "{\"vcpu_count\": 1, \"mem_size_mib\": 128, "
                           "\"cpu_template\": \"None\"}",
                           &m, &err),
                     0);
    assert_true(m.has_cpu_template);
    assert_int_equal(m.cpu_template, STATIC_CPU_TEMPLATE_NONE);
    assert_true(m.deprecated);
    ASSERT_JSON("{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":false,"
                "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}",
                machine_cfg_to_json, &m);

    assert_int_equal(
        PARSE(machine_cfg_parse,
              "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": "
              "true, \"cpu_template\": \"T2A\", "
              "\"track_dirty_pages\": true, \"huge_pages\": \"2M\"}",
              &m, &err),
        0);
    assert_int_equal(m.cpu_template, STATIC_CPU_TEMPLATE_T2A);
    ASSERT_JSON("{\"vcpu_count\":2,\"mem_size_mib\":128,\"smt\":true,"
                "\"cpu_template\":\"T2A\",\"track_dirty_pages\":true,"
                "\"huge_pages\":\"2M\"}",
                machine_cfg_to_json, &m);

    /* PATCH keeps track of exactly what was given */
    assert_int_equal(PARSE(machine_cfg_update_parse,
                           "{\"smt\": true, \"huge_pages\": \"Transparent\"}",
                           &m, &err),
                     0);
    assert_false(m.has_vcpu_count);
    assert_false(m.has_mem_size_mib);
    assert_true(m.has_smt && m.smt);
    assert_true(m.has_huge_pages);
    assert_int_equal(m.huge_pages, HUGE_PAGES_TRANSPARENT);
    assert_false(m.deprecated);

    assert_int_equal(PARSE(machine_cfg_update_parse,
                           "{\"cpu_template\": "
                           "\"C3\"}",
                           &m, &err),
                     0);
    assert_true(m.deprecated);
    assert_int_equal(m.cpu_template, STATIC_CPU_TEMPLATE_C3);

    assert_int_equal(
        PARSE(machine_cfg_update_parse, "{\"cpu_template\": null}", &m, &err),
        -EINVAL);
    assert_string_equal(err.msg, "Empty PATCH request.");
    assert_string_equal(static_cpu_template_name(STATIC_CPU_TEMPLATE_T2CL),
                        "T2CL");
    assert_string_equal(huge_pages_name(HUGE_PAGES_2M), "2M");
}

static void test_cpu_template(void **state)
{
    struct cpu_template t;
    struct sq_err err;

    (void)state;
    assert_int_equal(
        PARSE(
            cpu_config_parse,
            "{\"kvm_capabilities\": [\"!56\", \"+7\"], \"cpuid_modifiers\": "
            "[{\"leaf\": \"0x80000001\", \"subleaf\": \"0b11\", \"flags\": 1, "
            "\"modifiers\": [{\"register\": \"ecx\", \"bitmap\": "
            "\"0bx1_0\"}, {\"register\": \"edx\", \"bitmap\": "
            "\"11111111111111111111111111111111\"}]}], \"msr_modifiers\": "
            "[{\"addr\": \"0x10a\", \"bitmap\": \"0b1xxxxxxxxxxxxxxxxxxxxxxxxx"
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0\"}]}",
            &t, &err),
        0);
    assert_int_equal(t.n_kvm_caps, 2);
    assert_int_equal(t.kvm_caps[0].cap, 56);
    assert_true(t.kvm_caps[0].remove);
    assert_int_equal(t.kvm_caps[1].cap, 7);
    assert_false(t.kvm_caps[1].remove);
    assert_int_equal(t.n_cpuid, 1);
    assert_int_equal(t.cpuid[0].leaf, 0x80000001u);
    assert_int_equal(t.cpuid[0].subleaf, 3);
    assert_int_equal(t.cpuid[0].flags, 1);
    assert_int_equal(t.cpuid[0].n_modifiers, 2);
    assert_int_equal(t.cpuid[0].modifiers[0].reg, CPUID_ECX);
    assert_int_equal(t.cpuid[0].modifiers[0].mask, 0x3);
    assert_int_equal(t.cpuid[0].modifiers[0].value, 0x2);
    assert_int_equal(t.cpuid[0].modifiers[1].reg, CPUID_EDX);
    assert_int_equal(t.cpuid[0].modifiers[1].mask, 0xffffffffu);
    assert_int_equal(t.cpuid[0].modifiers[1].value, 0xffffffffu);
    assert_int_equal(t.n_msr, 1);
    assert_int_equal(t.msr[0].addr, 0x10a);
    assert_true(t.msr[0].mask == 0x8000000000000001ull);
    assert_true(t.msr[0].value == 0x8000000000000000ull);
    cpu_template_fini(&t);

    /* the file form: bare serde message */
    assert_int_equal(PARSE(cpu_template_json_parse, "{\"x\": 1}", &t, &err),
                     -EINVAL);
    assert_string_equal(
        err.msg, "unknown field `x`, expected one of `kvm_capabilities`, "
                 "`cpuid_modifiers`, `msr_modifiers` at line 1 column 4");
    assert_int_equal(t.n_cpuid, 0);
}

static void test_logger_metrics(void **state)
{
    struct logger_cfg l;
    struct metrics_cfg m;
    struct sq_err err;

    (void)state;
    assert_int_equal(PARSE(logger_cfg_parse,
                           "{\"log_path\": \"/l\", \"level\": \"wArNiNg\", "
                           "\"show_level\": true, \"module\": \"vmm\"}",
                           &l, &err),
                     0);
    assert_string_equal(l.log_path, "/l");
    assert_true(l.has_level);
    assert_int_equal(l.level, LOG_FILTER_WARN);
    assert_true(l.has_show_level && l.show_level);
    assert_false(l.has_show_log_origin);
    assert_string_equal(l.module, "vmm");
    logger_cfg_fini(&l);
    assert_int_equal(PARSE(logger_cfg_parse, "{\"level\": \"OFF\"}", &l, &err),
                     0);
    assert_int_equal(l.level, LOG_FILTER_OFF);
    assert_null(l.log_path);
    logger_cfg_fini(&l);

    assert_int_equal(PARSE(metrics_cfg_parse,
                           "{\"metrics_path\": \"/m\", \"emit_id\": true, "
                           "\"ignored\": {\"x\": [1, 2]}, \"properties\": "
                           "{\"zz\": \"1\", \"a\": \"2\", \"zz\": \"3\"}}",
                           &m, &err),
                     0);
    assert_string_equal(m.metrics_path, "/m");
    assert_true(m.emit_id);
    assert_true(m.has_properties);
    assert_int_equal(m.n_properties, 2);
    assert_string_equal(m.properties[0].key, "a");
    assert_string_equal(m.properties[0].value, "2");
    assert_string_equal(m.properties[1].key, "zz");
    assert_string_equal(m.properties[1].value, "3");
    metrics_cfg_fini(&m);
    assert_int_equal(
        PARSE(metrics_cfg_parse, "{\"metrics_path\": \"/m\"}", &m, &err), 0);
    assert_false(m.has_properties);
    assert_false(m.emit_id);
    metrics_cfg_fini(&m);
}

static void test_mmds_vsock(void **state)
{
    struct mmds_cfg m;
    struct vsock_cfg v;
    struct json_value *doc;
    struct sq_err err;
    static const uint8_t ip[4] = {169, 254, 170, 2};

    (void)state;
    assert_int_equal(PARSE(mmds_cfg_parse,
                           "{\"network_interfaces\": [\"eth0\", \"eth1\"]}", &m,
                           &err),
                     0);
    assert_int_equal(m.version, MMDS_VERSION_V1);
    assert_true(m.deprecated);
    assert_int_equal(m.n_network_interfaces, 2);
    assert_string_equal(m.network_interfaces[1], "eth1");
    assert_false(m.has_ipv4_address);
    ASSERT_JSON(
        "{\"version\":\"V1\",\"network_interfaces\":[\"eth0\",\"eth1\"],"
        "\"ipv4_address\":\"169.254.169.254\",\"imds_compat\":false}",
        mmds_cfg_to_json, &m);
    mmds_cfg_fini(&m);

    assert_int_equal(PARSE(mmds_cfg_parse,
                           "{\"version\": \"V2\", \"network_interfaces\": [], "
                           "\"ipv4_address\": \"169.254.170.2\", "
                           "\"imds_compat\": true}",
                           &m, &err),
                     0);
    assert_false(m.deprecated);
    assert_true(m.has_ipv4_address);
    assert_memory_equal(m.ipv4_address, ip, 4);
    assert_int_equal(m.n_network_interfaces, 0);
    ASSERT_JSON("{\"version\":\"V2\",\"network_interfaces\":[],"
                "\"ipv4_address\":\"169.254.170.2\",\"imds_compat\":true}",
                mmds_cfg_to_json, &m);
    mmds_cfg_fini(&m);

    assert_int_equal(
        PARSE(mmds_body_parse, "{\"b\": 1, \"a\": {\"c\": null}}", &doc, &err),
        0);
    assert_int_equal(doc->type, JSON_OBJECT);
    assert_string_equal(doc->obj.members[0].key, "a");
    json_value_free(doc);

    assert_int_equal(PARSE(vsock_cfg_parse,
                           "{\"vsock_id\": \"v\", \"guest_cid\": 3, "
                           "\"uds_path\": \"/v.sock\"}",
                           &v, &err),
                     0);
    assert_true(v.deprecated);
    assert_int_equal(v.guest_cid, 3);
    ASSERT_JSON("{\"guest_cid\":3,\"uds_path\":\"/v.sock\"}", vsock_cfg_to_json,
                &v);
    vsock_cfg_fini(&v);
    assert_int_equal(PARSE(vsock_cfg_parse,
                           "{\"guest_cid\": 0, \"uds_path\": \"/v\"}", &v,
                           &err),
                     0);
    assert_false(v.deprecated);
    vsock_cfg_fini(&v);
}

static void test_small_devices(void **state)
{
    struct entropy_cfg e;
    struct serial_cfg s;
    struct balloon_cfg b;
    struct balloon_update bu;
    struct balloon_stats_update bs;
    struct balloon_hinting_start h;
    struct token_bucket_cfg tb = {.size = 5, .refill_time = 7};
    struct sq_err err;

    (void)state;
    assert_int_equal(PARSE(entropy_cfg_parse, "{}", &e, &err), 0);
    assert_false(e.has_rate_limiter);
    ASSERT_JSON("{\"rate_limiter\":null}", entropy_cfg_to_json, &e);

    assert_int_equal(PARSE(serial_cfg_parse,
                           "{\"serial_out_path\": \"/s\", \"rate_limiter\": "
                           "{\"size\": 10, \"one_time_burst\": null, "
                           "\"refill_time\": 5, \"unknown\": 1}}",
                           &s, &err),
                     0);
    assert_string_equal(s.serial_out_path, "/s");
    assert_true(s.has_rate_limiter);
    assert_int_equal(s.rate_limiter.size, 10);
    assert_false(s.rate_limiter.has_one_time_burst);
    serial_cfg_fini(&s);

    assert_int_equal(PARSE(balloon_cfg_parse,
                           "{\"amount_mib\": 16, \"deflate_on_oom\": true, "
                           "\"free_page_reporting\": true}",
                           &b, &err),
                     0);
    ASSERT_JSON("{\"amount_mib\":16,\"deflate_on_oom\":true,"
                "\"stats_polling_interval_s\":0,\"free_page_hinting\":false,"
                "\"free_page_reporting\":true}",
                balloon_cfg_to_json, &b);
    assert_int_equal(
        PARSE(balloon_update_parse, "{\"amount_mib\": 4294967295}", &bu, &err),
        0);
    assert_int_equal(bu.amount_mib, 4294967295u);
    assert_int_equal(PARSE(balloon_stats_update_parse,
                           "{\"stats_polling_interval_s\": 65535}", &bs, &err),
                     0);
    assert_int_equal(bs.stats_polling_interval_s, 65535);

    /* hinting start: no body, empty body and {} all mean the default */
    assert_int_equal(balloon_hinting_start_parse(NULL, 0, &h, &err), 0);
    assert_true(h.acknowledge_on_stop);
    assert_int_equal(PARSE(balloon_hinting_start_parse, "", &h, &err), 0);
    assert_true(h.acknowledge_on_stop);
    assert_int_equal(PARSE(balloon_hinting_start_parse, "{}", &h, &err), 0);
    assert_true(h.acknowledge_on_stop);
    assert_int_equal(PARSE(balloon_hinting_start_parse,
                           "{\"acknowledge_on_stop\": false}", &h, &err),
                     0);
    assert_false(h.acknowledge_on_stop);

    ASSERT_JSON("{\"size\":5,\"one_time_burst\":null,\"refill_time\":7}",
                token_bucket_cfg_to_json, &tb);

    /* a failed parse leaves the output zeroed, even when fields before the
     * error were already decoded */
    assert_int_equal(PARSE(balloon_cfg_parse,
                           "{\"amount_mib\": 16, \"deflate_on_oom\": true, "
                           "\"x\": 1}",
                           &b, &err),
                     -EINVAL);
    assert_int_equal(b.amount_mib, 0);
    assert_false(b.deflate_on_oom);
    assert_int_equal(PARSE(balloon_hinting_start_parse,
                           "{\"acknowledge_on_stop\": false, \"a\": [}", &h,
                           &err),
                     -EINVAL);
    assert_false(h.acknowledge_on_stop);
}

static void test_hotplug(void **state)
{
    static const struct {
        uint32_t total, block, slot;
        const char *err;
    } v[] = {
        {1024, 2, 128, NULL},
        {1024, 1, 128, "Block size must not be lower than 2 MiB"},
        {1024, 6, 128, "Block size must be a power of 2"},
        {1024, 2, 64, "Slot size must not be lower than 128 MiB"},
        {1024, 256, 128,
         "Slot size must be a multiple of block size (256 MiB)"},
        {64, 2, 128, "Total size must not be lower than slot size (128 MiB)"},
        {200, 2, 128, "Total size must be a multiple of slot size (128 MiB)"},
    };
    struct hotplug_memory_cfg h;
    struct hotplug_memory_update u;
    struct sq_err err;
    size_t i;

    (void)state;
    assert_int_equal(
        PARSE(hotplug_memory_cfg_parse, "{\"total_size_mib\": 2048}", &h, &err),
        0);
    assert_int_equal(h.total_size_mib, 2048);
    assert_int_equal(h.block_size_mib, 2);
    assert_int_equal(h.slot_size_mib, 128);
    ASSERT_JSON("{\"total_size_mib\":2048,\"block_size_mib\":2,"
                "\"slot_size_mib\":128}",
                hotplug_memory_cfg_to_json, &h);
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct hotplug_memory_cfg c = {v[i].total, v[i].block, v[i].slot};
        int rc = hotplug_memory_cfg_validate(&c, &err);

        if (!v[i].err) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_string_equal(err.msg, v[i].err);
        }
    }
    assert_int_equal(PARSE(hotplug_memory_update_parse,
                           "{\"requested_size_mib\": 512}", &u, &err),
                     0);
    assert_int_equal(u.requested_size_mib, 512);
}

static void test_snapshots(void **state)
{
    struct snapshot_create c;
    struct snapshot_load l;
    struct vm_state_req v;
    struct instance_action a;
    struct sq_err err;

    (void)state;
    assert_int_equal(PARSE(snapshot_create_parse,
                           "{\"snapshot_path\": \"/s\", \"mem_file_path\": "
                           "\"/m\"}",
                           &c, &err),
                     0);
    assert_int_equal(c.snapshot_type, SNAPSHOT_TYPE_FULL);
    assert_string_equal(c.snapshot_path, "/s");
    assert_string_equal(c.mem_file_path, "/m");
    snapshot_create_fini(&c);

    assert_int_equal(PARSE(snapshot_load_parse,
                           "{\"snapshot_path\": \"foo\", \"mem_file_path\": "
                           "\"bar\", \"enable_diff_snapshots\": true}",
                           &l, &err),
                     0);
    assert_true(l.deprecated);
    assert_int_equal(l.mem_backend_type, MEM_BACKEND_FILE);
    assert_string_equal(l.mem_backend_path, "bar");
    assert_true(l.track_dirty_pages);
    assert_false(l.resume_vm);
    assert_int_equal(l.huge_pages, SNAPSHOT_HUGE_PAGES_SNAPSHOT);
    assert_null(l.vsock_override_uds_path);
    snapshot_load_fini(&l);

    assert_int_equal(
        PARSE(
            snapshot_load_parse,
            "{\"snapshot_path\": \"foo\", \"mem_backend\": {\"backend_path\": "
            "\"bar\", \"backend_type\": \"Uffd\"}, \"resume_vm\": true, "
            "\"network_overrides\": [{\"iface_id\": \"eth0\", "
            "\"host_dev_name\": \"tap9\"}], \"vsock_override\": "
            "{\"uds_path\": \"/v\"}, \"clock_realtime\": true, "
            "\"huge_pages\": \"2M\"}",
            &l, &err),
        0);
    assert_false(l.deprecated);
    assert_int_equal(l.mem_backend_type, MEM_BACKEND_UFFD);
    assert_string_equal(l.mem_backend_path, "bar");
    assert_false(l.track_dirty_pages);
    assert_true(l.resume_vm);
    assert_int_equal(l.n_network_overrides, 1);
    assert_string_equal(l.network_overrides[0].iface_id, "eth0");
    assert_string_equal(l.network_overrides[0].host_dev_name, "tap9");
    assert_string_equal(l.vsock_override_uds_path, "/v");
    assert_true(l.clock_realtime);
    assert_int_equal(l.huge_pages, SNAPSHOT_HUGE_PAGES_2M);
    snapshot_load_fini(&l);

    assert_int_equal(
        PARSE(vm_state_req_parse, "{\"state\": \"Resumed\"}", &v, &err), 0);
    assert_int_equal(v.state, VM_STATE_REQ_RESUMED);
    assert_int_equal(PARSE(instance_action_parse,
                           "{\"action_type\": \"SendCtrlAltDel\"}", &a, &err),
                     0);
    assert_int_equal(a.action_type, ACTION_SEND_CTRL_ALT_DEL);
}

static void test_boot_source(void **state)
{
    struct boot_source_cfg b;
    struct sq_err err;

    (void)state;
    memset(&b, 0, sizeof(b));
    ASSERT_JSON("{\"kernel_image_path\":\"\",\"initrd_path\":null,"
                "\"boot_args\":null}",
                boot_source_cfg_to_json, &b);
    assert_int_equal(
        PARSE(boot_source_cfg_parse,
              "{\"kernel_image_path\": \"/k\", \"boot_args\": \"\"}", &b, &err),
        0);
    assert_string_equal(b.boot_args, "");
    assert_null(b.initrd_path);
    ASSERT_JSON("{\"kernel_image_path\":\"/k\",\"initrd_path\":null,"
                "\"boot_args\":\"\"}",
                boot_source_cfg_to_json, &b);
    boot_source_cfg_fini(&b);
}

static void test_config_file(void **state)
{
    struct vmm_config_file c;
    struct sq_err err;

    (void)state;
    assert_int_equal(
        PARSE(vmm_config_file_parse,
              "{\n"
              "  \"boot-source\": {\"kernel_image_path\": \"vmlinux\", "
              "\"boot_args\": \"console=ttyS0\"},\n"
              "  \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": "
              "\"r.ext4\", \"is_root_device\": true, \"io_engine\": "
              "\"Async\"}],\n"
              "  \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": "
              "1024},\n"
              "  \"cpu-config\": \"tmpl.json\",\n"
              "  \"network-interfaces\": [{\"iface_id\": \"eth0\", "
              "\"host_dev_name\": \"tap0\"}],\n"
              "  \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"v.sock\", "
              "\"vsock_id\": \"x\"},\n"
              "  \"mmds-config\": {\"network_interfaces\": [\"eth0\"], "
              "\"version\": \"V2\"},\n"
              "  \"memory-hotplug\": {\"total_size_mib\": 256},\n"
              "  \"serial\": {\"anything\": true}\n"
              "}\n",
              &c, &err),
        0);
    assert_string_equal(c.boot_source.kernel_image_path, "vmlinux");
    assert_int_equal(c.n_drives, 1);
    assert_int_equal(c.drives[0].io_engine, IO_ENGINE_ASYNC);
    assert_true(c.has_machine_config);
    assert_true(c.machine_config.has_smt);
    assert_false(c.machine_config.deprecated);
    assert_int_equal(c.cpu_config_kind, CPU_CONFIG_PATH);
    assert_string_equal(c.cpu_config_path, "tmpl.json");
    assert_int_equal(c.n_network_interfaces, 1);
    assert_true(c.has_vsock && c.vsock.deprecated);
    assert_true(c.has_mmds_config);
    assert_false(c.mmds_config.deprecated);
    assert_true(c.has_memory_hotplug);
    assert_int_equal(c.memory_hotplug.slot_size_mib, 128);
    assert_false(c.has_balloon || c.has_logger || c.has_metrics ||
                 c.has_entropy);
    assert_int_equal(c.n_pmem, 0);
    vmm_config_file_fini(&c);

    assert_int_equal(
        PARSE(vmm_config_file_parse,
              "{\"boot-source\": {\"kernel_image_path\": \"k\"}, "
              "\"drives\": [], \"cpu-config\": {\"msr_modifiers\": "
              "[{\"addr\": \"0x1\", \"bitmap\": \"0b1\"}]}}",
              &c, &err),
        0);
    assert_int_equal(c.cpu_config_kind, CPU_CONFIG_TEMPLATE);
    assert_int_equal(c.cpu_config.n_msr, 1);
    assert_int_equal(c.cpu_config.msr[0].addr, 1);
    vmm_config_file_fini(&c);

    assert_int_equal(PARSE(vmm_config_file_parse, "{\"drives\": []", &c, &err),
                     -EINVAL);
    assert_string_equal(err.msg,
                        "Invalid JSON: EOF while parsing an object at line 1 "
                        "column 13");
}

/* GET /vm/config output, and that it reads back as a config file. */
static void test_vm_config_json(void **state)
{
    static const char doc[] =
        "{\"balloon\":{\"amount_mib\":8,\"deflate_on_oom\":false,"
        "\"stats_polling_interval_s\":0,\"free_page_hinting\":false,"
        "\"free_page_reporting\":false},\"drives\":[{\"drive_id\":\"rootfs\","
        "\"partuuid\":null,\"is_root_device\":true,\"cache_type\":\"Unsafe\","
        "\"is_read_only\":false,\"path_on_host\":\"r.ext4\",\"rate_limiter\":"
        "null,\"io_engine\":\"Sync\",\"socket\":null}],\"boot-source\":"
        "{\"kernel_image_path\":\"vmlinux\",\"initrd_path\":null,"
        "\"boot_args\":null},\"cpu-config\":null,\"logger\":null,"
        "\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":128,"
        "\"smt\":false,\"track_dirty_pages\":false,\"huge_pages\":\"None\"},"
        "\"metrics\":null,\"mmds-config\":null,\"network-interfaces\":"
        "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":"
        "\"06:00:ac:10:00:02\",\"mtu\":null,\"rx_rate_limiter\":null,"
        "\"tx_rate_limiter\":null}],\"vsock\":null,\"entropy\":null,"
        "\"pmem\":[],\"memory-hotplug\":null}";
    struct vmm_config_file c;
    struct sq_err err;
    struct buf b = BUF_INIT;

    (void)state;
    assert_int_equal(PARSE(vmm_config_file_parse, doc, &c, &err), 0);
    vmm_config_file_to_json(&c, &b);
    assert_string_equal(b.data, doc);
    buf_fini(&b);
    vmm_config_file_fini(&c);
}

static void test_response_bodies(void **state)
{
    struct instance_info ii = {"my-vm", INSTANCE_STATE_NOT_STARTED,
                               "1.17.0-dev", "Firecracker"};
    struct balloon_stats bs;
    struct balloon_hinting_status hs = {2, false, 0};
    struct hotplug_memory_status ms = {2, 1024, 128, 256, 512};
    struct buf b = BUF_INIT;

    (void)state;
    instance_info_to_json(&ii, &b);
    assert_string_equal(b.data, "{\"id\":\"my-vm\",\"state\":\"Not started\","
                                "\"vmm_version\":\"1.17.0-dev\","
                                "\"app_name\":\"Firecracker\"}");
    buf_reset(&b);
    ii.state = INSTANCE_STATE_PAUSED;
    instance_info_to_json(&ii, &b);
    assert_non_null(strstr(b.data, "\"state\":\"Paused\""));
    buf_reset(&b);
    version_to_json("1.17.0-dev", &b);
    assert_string_equal(b.data, "{\"firecracker_version\":\"1.17.0-dev\"}");
    buf_reset(&b);
    fault_message_to_json("bad \"x\"\n", &b);
    assert_string_equal(b.data, "{\"fault_message\":\"bad \\\"x\\\"\\n\"}");
    buf_reset(&b);

    memset(&bs, 0, sizeof(bs));
    bs.target_pages = 256;
    bs.actual_pages = 128;
    bs.target_mib = 1;
    bs.has[BALLOON_STAT_SWAP_OUT] = true;
    bs.value[BALLOON_STAT_SWAP_OUT] = 7;
    bs.has[BALLOON_STAT_DIRECT_RECLAIM] = true;
    bs.value[BALLOON_STAT_DIRECT_RECLAIM] = UINT64_MAX;
    bs.value[BALLOON_STAT_SWAP_IN] = 99; /* not has: omitted */
    balloon_stats_to_json(&bs, &b);
    assert_string_equal(b.data,
                        "{\"target_pages\":256,\"actual_pages\":128,"
                        "\"target_mib\":1,\"actual_mib\":0,\"swap_out\":7,"
                        "\"direct_reclaim\":18446744073709551615}");
    buf_reset(&b);
    balloon_hinting_status_to_json(&hs, &b);
    assert_string_equal(b.data, "{\"host_cmd\":2,\"guest_cmd\":null}");
    buf_reset(&b);
    hs.has_guest_cmd = true;
    hs.guest_cmd = 4;
    balloon_hinting_status_to_json(&hs, &b);
    assert_string_equal(b.data, "{\"host_cmd\":2,\"guest_cmd\":4}");
    buf_reset(&b);
    hotplug_memory_status_to_json(&ms, &b);
    assert_string_equal(b.data,
                        "{\"block_size_mib\":2,\"total_size_mib\":1024,"
                        "\"slot_size_mib\":128,\"plugged_size_mib\":256,"
                        "\"requested_size_mib\":512}");
    buf_fini(&b);
}

static void test_resource_ids(void **state)
{
    static const struct {
        const char *id;
        bool ok;
    } ids[] = {
        {"rootfs_1", true},
        {"_", true},
        {"\xc3\xb1"
         "and"
         "\xc3\xba",
         true},                     /* n-tilde, "and", u-acute */
        {"\xd9\xa3", true},         /* ARABIC-INDIC DIGIT THREE (Nd) */
        {"\xc2\xbd", true},         /* VULGAR FRACTION ONE HALF (No) */
        {"\xe2\x85\xab", true},     /* ROMAN NUMERAL TWELVE (Nl) */
        {"a\xcd\x85", true},        /* U+0345, Other_Alphabetic */
        {"\xf0\x9d\x9f\x98", true}, /* MATHEMATICAL DOUBLE-STRUCK ZERO */
        {"a\xcc\x81", false},       /* U+0301 combining acute */
        {"a-b", false},
        {"a.b", false},
        {"a b", false},
        {"\xff", false},
        {"\xc3", false},
        {"\xed\xa0\x80", false}, /* an encoded surrogate */
    };
    struct sq_err err;
    size_t i;

    (void)state;
    assert_int_equal(schemas_check_path_id("", 0, &err), -EINVAL);
    assert_string_equal(err.msg, "The ID cannot be empty.");
    assert_int_equal(schemas_check_path_id(NULL, 0, &err), -EINVAL);
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        struct guarded g;
        size_t n = strlen(ids[i].id);
        int rc;

        guard_init(&g, ids[i].id, n);
        sq_err_clear(&err);
        rc = schemas_check_path_id(g.p, n, &err);
        guard_fini(&g);
        if (ids[i].ok) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_string_equal(err.msg, "API Resource IDs can only contain "
                                         "alphanumeric characters and "
                                         "underscores.");
        }
    }
    assert_int_equal(schemas_check_body_id("a", 1, "a", 1, &err), 0);
    assert_int_equal(schemas_check_body_id("a", 1, "a\0", 2, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "The id from the path does not match the id from the "
                        "body!");
    assert_int_equal(schemas_check_iface_id("eth0", 4, "eth0", 4, &err), 0);
    assert_int_equal(schemas_check_iface_id("eth0", 4, "eth1", 4, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "The id from the path [eth0] does not match "
                                 "the id from the body [eth1]!");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_drive_values),
        cmocka_unit_test(test_net_pmem_values),
        cmocka_unit_test(test_machine_config),
        cmocka_unit_test(test_cpu_template),
        cmocka_unit_test(test_logger_metrics),
        cmocka_unit_test(test_mmds_vsock),
        cmocka_unit_test(test_small_devices),
        cmocka_unit_test(test_hotplug),
        cmocka_unit_test(test_snapshots),
        cmocka_unit_test(test_boot_source),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_vm_config_json),
        cmocka_unit_test(test_resource_ids),
        cmocka_unit_test(test_response_bodies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
