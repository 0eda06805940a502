/*
 * test_schemas.c: unit tests for the API request schemas (api/schemas.c).
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

#include "api/schemas.h"

/* ---- guard-page input ---- */

struct guarded {
    char *map;
    size_t map_len;
    const char *p;
};

/* Copy n bytes so that they end exactly at a PROT_NONE page. */
static void guard_init(struct guarded *g, const char *s, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (n + pg - 1) / pg * pg;
    char *dst;

    if (data == 0)
        data = pg;
    g->map_len = data + pg;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + data, pg, PROT_NONE), 0);
    dst = g->map + data - n;
    if (n)
        memcpy(dst, s, n);
    g->p = dst;
}

static void guard_fini(struct guarded *g)
{
    munmap(g->map, g->map_len);
}

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

static const struct schema_case cases[] = {
    {"action",
     S("{\"action_type\": \"InstanceStart\"}"),
     NULL},
    {"action",
     S("{\"action_type\": \"FlushMetrics\"}"),
     NULL},
    {"action",
     S("{\"action_type\": \"SendCtrlAltDel\"}"),
     NULL},
    {"action",
     S("{\"action_type\": {\"InstanceStart\": null}}"),
     NULL},
    {"action",
     S("{\"action_type\": \"Foo\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `Foo`, expected one of `FlushMetrics`, `InstanceStart`, `"
     "SendCtrlAltDel` at line 1 column 21."},
    {"action",
     S("{\"action_type\": \"instancestart\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `instancestart`, expected one of `FlushMetrics`, `Instanc"
     "eStart`, `SendCtrlAltDel` at line 1 column 31."},
    {"action",
     S("{\"action_type\": 1}"),
     "An error occurred when deserializing the json body of a request: expe"
     "cted value at line 1 column 17."},
    {"action",
     S("{\"action_type\": null}"),
     "An error occurred when deserializing the json body of a request: expe"
     "cted value at line 1 column 17."},
    {"action",
     S("{}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `action_type` at line 1 column 2."},
    {"action",
     S("{\"action_type\": \"InstanceStart\", \"foo\": 1}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `foo`, expected `action_type` at line 1 column 38."},
    {"action",
     S("{\"action_type\": \"InstanceStart\", \"action_type\": \"InstanceSta"
       "rt\"}"),
     "An error occurred when deserializing the json body of a request: dupl"
     "icate field `action_type` at line 1 column 46."},
    {"action",
     S("{\"action_type\": \"InstanceStart\"} x"),
     "An error occurred when deserializing the json body of a request: trai"
     "ling characters at line 1 column 34."},
    {"action",
     S("{\"action_type\": \"InstanceStart\""),
     "An error occurred when deserializing the json body of a request: EOF "
     "while parsing an object at line 1 column 31."},
    {"action",
     S(""),
     "An error occurred when deserializing the json body of a request: EOF "
     "while parsing a value at line 1 column 0."},
    {"action",
     S(" "),
     "An error occurred when deserializing the json body of a request: EOF "
     "while parsing a value at line 1 column 1."},
    {"action",
     S("["),
     "An error occurred when deserializing the json body of a request: EOF "
     "while parsing a list at line 1 column 1."},
    {"action",
     S("{\"action_type\": {\"InstanceStart\": 1}}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `1`, expected unit at line 1 column 35."},
    {"action",
     S("{\"action_type\": {\"InstanceStart\": null, \"x\": 1}}"),
     "An error occurred when deserializing the json body of a request: expe"
     "cted value at line 1 column 38."},
    {"action",
     S("{\"action_type\": {}}"),
     "An error occurred when deserializing the json body of a request: expe"
     "cted value at line 1 column 18."},
    {"action",
     S("[\"InstanceStart\"]"),
     NULL},
    {"action",
     S("[]"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid length 0, expected struct ActionBody with 1 element at line 1 col"
     "umn 2."},
    {"action",
     S("\"x\""),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: string \"x\", expected struct ActionBody at line 1 column 3"
     "."},
    {"action",
     S("null"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: null, expected struct ActionBody at line 1 column 4."},
    {"boot",
     S("{\"kernel_image_path\": \"/k\", \"initrd_path\": null, \"boot_args"
       "\": \"\"}"),
     NULL},
    {"boot",
     S("{\"kernel_image_path\": \"/k\"}"),
     NULL},
    {"boot",
     S("{\"boot_args\": \"a\"}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `kernel_image_path` at line 1 column 18."},
    {"boot",
     S("{\"kernel_image_path\": 5}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `5`, expected a string at line 1 column 23."},
    {"boot",
     S("{\"kernel_image_path\": \"/k\", \"initrd_path\": 1}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `1`, expected a string at line 1 column 44."},
    {"boot",
     S("{\"kernel_image_path\": \"/k\", \"boot_args\": \"\\u00e9\\n\"}"),
     NULL},
    {"boot",
     S("{\"kernel_image_path\": \"/k\", \"extra\": true}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `extra`, expected one of `kernel_image_path`, `initrd_path`"
     ", `boot_args` at line 1 column 35."},
    {"boot",
     S("{\"kernel_image_path\": \"\\ud800\"}"),
     "An error occurred when deserializing the json body of a request: unex"
     "pected end of hex escape at line 1 column 30."},
    {"boot",
     S("{\"kernel_image_path\": \"a\001b\"}"),
     "An error occurred when deserializing the json body of a request: cont"
     "rol character (\\u0000-\\u001F) found while parsing a string at line "
     "1 column 25."},
    {"drive",
     S("{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", \"is_root_devi"
       "ce\": true}"),
     NULL},
    {"drive",
     S("{\"drive_id\": \"rootfs\", \"partuuid\": \"0eaa91a0-01\", \"is_root"
       "_device\": false, \"cache_type\": \"Writeback\", \"is_read_only\": "
       "true, \"path_on_host\": \"/r\", \"rate_limiter\": {\"bandwidth\": {"
       "\"size\": 1000, \"one_time_burst\": 20, \"refill_time\": 100}, \"op"
       "s\": {\"size\": 10, \"refill_time\": 5}}, \"io_engine\": \"Async\"}"),
     NULL},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": false, \"socket\": \"/s\""
       "}"),
     NULL},
    {"drive",
     S("{\"drive_id\": \"a\", \"path_on_host\": \"/r\"}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `is_root_device` at line 1 column 39."},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": \"true\"}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: string \"true\", expected a boolean at line 1 column 42."},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": true, \"cache_type\": \"w"
       "riteback\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `writeback`, expected `Unsafe` or `Writeback` at line 1 c"
     "olumn 67."},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": true, \"io_engine\": \"Ur"
       "ing\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `Uring`, expected `Async` or `Sync` at line 1 column 62."},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": true, \"cache_type\": nul"
       "l}"),
     "An error occurred when deserializing the json body of a request: expe"
     "cted value at line 1 column 57."},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": true, \"rate_limiter\": {"
       "\"bandwidth\": {\"size\": 1}}}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `refill_time` at line 1 column 83."},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": true, \"rate_limiter\": {"
       "\"bandwidth\": {\"size\": -1, \"refill_time\": 1}}}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid value: integer `-1`, expected u64 at line 1 column 83."},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": true, \"rate_limiter\": {"
       "\"foo\": {}}}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `foo`, expected `bandwidth` or `ops` at line 1 column 64."},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": true, \"rate_limiter\": {"
       "\"ops\": {\"size\": 1, \"refill_time\": 1, \"extra\": 5}}}"),
     NULL},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": true, \"is_read_only\": n"
       "ull}"),
     NULL},
    {"drive",
     S("{\"drive_id\": \"a\", \"is_root_device\": true, \"rate_limiter\": {"
       "\"bandwidth\": {\"size\": 18446744073709551616, \"refill_time\": 1}"
       "}}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: floating point `1.8446744073709552e+19`, expected u64 at li"
     "ne 1 column 101."},
    {"drive_update",
     S("{\"drive_id\": \"scratch\", \"path_on_host\": \"foo.bar\"}"),
     NULL},
    {"drive_update",
     S("{\"drive_id\": \"scratch\"}"),
     NULL},
    {"drive_update",
     S("{\"drive_id\": \"scratch\", \"path_on_host\": \"foo.bar\", \"is_rea"
       "d_only\": true}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `is_read_only`, expected one of `drive_id`, `path_on_host`,"
     " `rate_limiter` at line 1 column 65."},
    {"drive_update",
     S("{\"drive_id\": \"scratch\", \"path_on_host\": \"foo.bar\", \"io_eng"
       "ine\": \"Sync\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `io_engine`, expected one of `drive_id`, `path_on_host`, `r"
     "ate_limiter` at line 1 column 62."},
    {"drive_update",
     S("{\"path_on_host\": \"x\"}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `drive_id` at line 1 column 21."},
    {"pmem",
     S("{\"id\": \"pmem0\", \"path_on_host\": \"/p\"}"),
     NULL},
    {"pmem",
     S("{\"id\": \"pmem\"}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `path_on_host` at line 1 column 14."},
    {"pmem",
     S("{\"id\": \"p\", \"path_on_host\": \"/p\", \"root_device\": null}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: null, expected a boolean at line 1 column 53."},
    {"pmem",
     S("{\"id\": \"p\", \"path_on_host\": \"/p\", \"read_only\": 1}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `1`, expected a boolean at line 1 column 48."},
    {"pmem_update",
     S("{\"id\": \"pmem0\"}"),
     NULL},
    {"pmem_update",
     S("{\"id\": \"pmem0\", \"path_on_host\": \"foo\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `path_on_host`, expected `id` or `rate_limiter` at line 1 c"
     "olumn 30."},
    {"pmem_update",
     S("{\"id\": \"pmem0\", \"rate_limiter\": {\"ops\": {\"size\": 1, \"ref"
       "ill_time\": 2}}}"),
     NULL},
    {"net",
     S("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\""
       ": \"AA:FC:00:00:00:01\", \"mtu\": 1500}"),
     NULL},
    {"net",
     S("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\""
       ": \"aa:fc:00:00:00\"}"),
     "An error occurred when deserializing the json body of a request: The "
     "provided MAC address is invalid. at line 1 column 76."},
    {"net",
     S("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\""
       ": \"aa:fc:00:00:00:0g\", \"mtu\": 1}"),
     "An error occurred when deserializing the json body of a request: The "
     "provided MAC address is invalid. at line 1 column 78."},
    {"net",
     S("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\""
       ": \"aa:fc:00:00:00:001\"}"),
     "An error occurred when deserializing the json body of a request: The "
     "provided MAC address is invalid. at line 1 column 80."},
    {"net",
     S("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\""
       ": \"+a:fc:00:00:00:01\"}"),
     NULL},
    {"net",
     S("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\""
       ": 12}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `12`, expected a string at line 1 column 61."},
    {"net",
     S("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": 6553"
       "6}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid value: integer `65536`, expected u16 at line 1 column 58."},
    {"net",
     S("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": -1}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid value: integer `-1`, expected u16 at line 1 column 55."},
    {"net",
     S("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": 1.5}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: floating point `1.5`, expected u16 at line 1 column 56."},
    {"net",
     S("{\"iface_id\": \"eth0\"}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `host_dev_name` at line 1 column 20."},
    {"net_update",
     S("{\"iface_id\": \"eth0\", \"rx_rate_limiter\": {\"bandwidth\": {\"si"
       "ze\": 5, \"refill_time\": 5}}}"),
     NULL},
    {"net_update",
     S("{\"iface_id\": \"eth0\", \"guest_mac\": \"aa:bb:cc:dd:ee:ff\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `guest_mac`, expected one of `iface_id`, `rx_rate_limiter`,"
     " `tx_rate_limiter` at line 1 column 32."},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 1024}"),
     NULL},
    {"machine",
     S("{\"mem_size_mib\": 128}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `vcpu_count` at line 1 column 21."},
    {"machine",
     S("{\"vcpu_count\": 2}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `mem_size_mib` at line 1 column 17."},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": true, \"cpu_tem"
       "plate\": \"T2S\", \"track_dirty_pages\": true, \"huge_pages\": \"2M"
       "\"}"),
     NULL},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"cpu_template\": \"None"
       "\"}"),
     NULL},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"cpu_template\": null}"),
     NULL},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"cpu_template\": \"t2\""
       "}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `t2`, expected one of `C3`, `T2`, `T2S`, `None`, `T2CL`, "
     "`T2A` at line 1 column 59."},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"huge_pages\": \"1G\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `1G`, expected one of `None`, `Transparent`, `2M` at line"
     " 1 column 57."},
    {"machine",
     S("{\"vcpu_count\": \"-2\", \"mem_size_mib\": 128}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: string \"-2\", expected u8 at line 1 column 19."},
    {"machine",
     S("{\"vcpu_count\": 256, \"mem_size_mib\": 128}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid value: integer `256`, expected u8 at line 1 column 18."},
    {"machine",
     S("{\"vcpu_count\": -1, \"mem_size_mib\": 128}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid value: integer `-1`, expected u8 at line 1 column 17."},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 18446744073709551616}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: floating point `1.8446744073709552e+19`, expected usize at "
     "line 1 column 54."},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 18446744073709551615}"),
     NULL},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": \"random_string"
       "\"}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: string \"random_string\", expected a boolean at line 1 colu"
     "mn 61."},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": null}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: null, expected a boolean at line 1 column 50."},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"gdb_socket_path\": \"/"
       "g\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `gdb_socket_path`, expected one of `vcpu_count`, `mem_size_"
     "mib`, `smt`, `cpu_template`, `track_dirty_pages`, `huge_pages` at lin"
     "e 1 column 56."},
    {"machine",
     S("[2, 128]"),
     NULL},
    {"machine",
     S("[2]"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid length 1, expected struct MachineConfig with 6 elements at line 1"
     " column 3."},
    {"machine",
     S("[2, 128, false, null, false, \"None\", 1]"),
     "An error occurred when deserializing the json body of a request: trai"
     "ling characters at line 1 column 38."},
    {"machine",
     S("{\"vcpu_count\": 1e2, \"mem_size_mib\": 128}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: floating point `100.0`, expected u8 at line 1 column 18."},
    {"machine",
     S("{\"vcpu_count\": 01, \"mem_size_mib\": 128}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid number at line 1 column 17."},
    {"machine",
     S("{\n  \"vcpu_count\": 2,\n  \"mem_size_mib\": 128,\n  \"smt\": 3\n}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `3`, expected a boolean at line 4 column 10."},
    {"machine",
     S("{\"vcpu_count\": [1], \"mem_size_mib\": 128}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: sequence, expected u8 at line 1 column 15."},
    {"machine",
     S("{\"vcpu_count\": {}, \"mem_size_mib\": 128}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: map, expected u8 at line 1 column 15."},
    {"machine",
     S("{\"vcpu_count\" : 2 , \"bogus\" : 1}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `bogus`, expected one of `vcpu_count`, `mem_size_mib`, `smt"
     "`, `cpu_template`, `track_dirty_pages`, `huge_pages` at line 1 column"
     " 28."},
    {"machine",
     S("{\"vcpu_count\": 2,}"),
     "An error occurred when deserializing the json body of a request: trai"
     "ling comma at line 1 column 18."},
    {"machine",
     S("{\"vcpu_count\": 2 \"x\": 1}"),
     "An error occurred when deserializing the json body of a request: expe"
     "cted `,` or `}` at line 1 column 18."},
    {"machine",
     S("{vcpu_count: 2}"),
     "An error occurred when deserializing the json body of a request: key "
     "must be a string at line 1 column 2."},
    {"machine",
     S("{\"vcpu_count\": tru}"),
     "An error occurred when deserializing the json body of a request: expe"
     "cted ident at line 1 column 19."},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 128}\n\n"),
     NULL},
    {"machine",
     S("{\"vcpu_count\": 2, \"mem_size_mib\": 128}}"),
     "An error occurred when deserializing the json body of a request: trai"
     "ling characters at line 1 column 39."},
    {"machine_update",
     S("{}"),
     "Empty PATCH request."},
    {"machine_update",
     S("{\"vcpu_count\": 4}"),
     NULL},
    {"machine_update",
     S("{\"cpu_template\": null}"),
     "Empty PATCH request."},
    {"machine_update",
     S("{\"cpu_template\": \"None\"}"),
     NULL},
    {"machine_update",
     S("{\"smt\": null, \"huge_pages\": null}"),
     "Empty PATCH request."},
    {"machine_update",
     S("{\"foo\": 1}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `foo`, expected one of `vcpu_count`, `mem_size_mib`, `smt`,"
     " `cpu_template`, `track_dirty_pages`, `huge_pages` at line 1 column 6"
     "."},
    {"machine_update",
     S("{\"mem_size_mib\": -5}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid value: integer `-5`, expected usize at line 1 column 19."},
    {"cpu",
     S("{}"),
     NULL},
    {"cpu",
     S("{\"kvm_capabilities\": [\"!56\", \"+7\", \"4294967295\"]}"),
     NULL},
    {"cpu",
     S("{\"kvm_capabilities\": [\"4294967296\"]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [4294967296] as a kvm capability - can not convert"
     " to numeric: number too large to fit in target type at line 1 column "
     "35."},
    {"cpu",
     S("{\"kvm_capabilities\": [\"abc\", \"1\"]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [abc] as a kvm capability - can not convert to num"
     "eric: invalid digit found in string at line 1 column 29."},
    {"cpu",
     S("{\"kvm_capabilities\": [\"\"]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [] as a kvm capability - can not convert to numeri"
     "c: cannot parse integer from empty string at line 1 column 25."},
    {"cpu",
     S("{\"kvm_capabilities\": [\"!\"]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [!] as a kvm capability - can not convert to numer"
     "ic: cannot parse integer from empty string at line 1 column 26."},
    {"cpu",
     S("{\"kvm_capabilities\": [5]}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `5`, expected a string at line 1 column 23."},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \""
       "flags\": 0, \"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0"
       "bxxxx000000000011111111xxxxxxxxxx\"}]}]}"),
     NULL},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"1\", \"subleaf\": \"0x0\", \"fl"
       "ags\": 0, \"modifiers\": []}]}"),
     "An error occurred when deserializing the json body of a request: No s"
     "upported number system prefix found in value [1]. Make sure to prefix"
     " the number with '0x' for hexadecimal numbers or '0b' for binary numb"
     "ers. at line 1 column 33."},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0xg\", \"subleaf\": \"0x0\", \""
       "flags\": 0, \"modifiers\": []}]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [0xg] as a number for CPU template - ParseIntError"
     " { kind: InvalidDigit } at line 1 column 35."},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0x\", \"subleaf\": \"0x0\", \"f"
       "lags\": 0, \"modifiers\": []}]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [0x] as a number for CPU template - ParseIntError "
     "{ kind: Empty } at line 1 column 34."},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0x100000000\", \"subleaf\": \"0"
       "x0\", \"flags\": 0, \"modifiers\": []}]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [0x100000000] as a number for CPU template - Parse"
     "IntError { kind: PosOverflow } at line 1 column 43."},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0b102\", \"subleaf\": \"0x0\", "
       "\"flags\": 0, \"modifiers\": []}]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [0b102] as a number for CPU template - ParseIntErr"
     "or { kind: InvalidDigit } at line 1 column 37."},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \""
       "flags\": \"1\", \"modifiers\": []}]}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: string \"1\", expected u32 at line 1 column 67."},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \""
       "flags\": 0, \"modifiers\": [{\"register\": \"eex\", \"bitmap\": \"0"
       "b1\"}]}]}"),
     "An error occurred when deserializing the json body of a request: Inva"
     "lid CPUID register. Must be one of [eax, ebx, ecx, edx] at line 1 col"
     "umn 99."},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \""
       "flags\": 0, \"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0"
       "b12\"}]}]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [0b12] as a bitmap - unknown character: 50 at line"
     " 1 column 118."},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \""
       "flags\": 0, \"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0"
       "b111111111111111111111111111111111\"}]}]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [0b111111111111111111111111111111111] as a bitmap "
     "- string is too long at line 1 column 149."},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \""
       "flags\": 0, \"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"1"
       "_0_x\"}], \"extra\": 1}]}"),
     NULL},
    {"cpu",
     S("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \""
       "flags\": 0}]}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `modifiers` at line 1 column 66."},
    {"cpu",
     S("{\"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": \"0bxxxx1\"}"
       "]}"),
     NULL},
    {"cpu",
     S("{\"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": \"0b11111111"
       "111111111111111111111111111111111111111111111111111111111\"}]}"),
     "An error occurred when deserializing the json body of a request: Fail"
     "ed to parse string [0b11111111111111111111111111111111111111111111111"
     "111111111111111111] as a bitmap - string is too long at line 1 column"
     " 117."},
    {"cpu",
     S("{\"reg_modifiers\": []}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `reg_modifiers`, expected one of `kvm_capabilities`, `cpuid"
     "_modifiers`, `msr_modifiers` at line 1 column 16."},
    {"cpu",
     S("{\"kvm_capabilities\": null}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: null, expected a sequence at line 1 column 25."},
    {"logger",
     S("{\"level\": \"Warning\"}"),
     NULL},
    {"logger",
     S("{\"level\": \"WARN\", \"show_level\": true}"),
     NULL},
    {"logger",
     S("{\"level\": \"bogus\"}"),
     "An error occurred when deserializing the json body of a request: Inva"
     "lid LevelFilter at line 1 column 18."},
    {"logger",
     S("{\"level\": \"bogus\", \"show_level\": 1}"),
     "An error occurred when deserializing the json body of a request: Inva"
     "lid LevelFilter at line 1 column 17."},
    {"logger",
     S("{\"log_path\": \"/x\", \"module\": \"a::b\", \"show_log_origin\": f"
       "alse}"),
     NULL},
    {"logger",
     S("{\"level\": 3}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `3`, expected a string at line 1 column 11."},
    {"logger",
     S("{\"foo\": 1}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `foo`, expected one of `log_path`, `level`, `show_level`, `"
     "show_log_origin`, `module` at line 1 column 6."},
    {"metrics",
     S("{\"metrics_path\": \"/m\"}"),
     NULL},
    {"metrics",
     S("{\"metrics_path\": \"/m\", \"foo\": [1, {\"a\": -1.5e3}]}"),
     NULL},
    {"metrics",
     S("{\"metrics_path\": \"/m\", \"properties\": {\"b\": \"2\", \"a\": \""
       "1\", \"b\": \"3\"}}"),
     NULL},
    {"metrics",
     S("{\"metrics_path\": \"/m\", \"properties\": {\"a\": 1}}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `1`, expected a string at line 1 column 44."},
    {"metrics",
     S("{\"metrics_path\": \"/m\", \"properties\": null}"),
     NULL},
    {"metrics",
     S("{\"emit_id\": true}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `metrics_path` at line 1 column 17."},
    {"metrics",
     S("{\"metrics_path\": \"/m\", \"foo\": [1,]}"),
     "An error occurred when deserializing the json body of a request: expe"
     "cted value at line 1 column 34."},
    {"metrics",
     S("{\"metrics_path\": \"/m\", \"foo\": \"\001\"}"),
     "An error occurred when deserializing the json body of a request: cont"
     "rol character (\\u0000-\\u001F) found while parsing a string at line "
     "1 column 31."},
    {"metrics",
     S("{\"metrics_path\": 1}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `1`, expected path string at line 1 column 18."},
    {"mmds_config",
     S("{\"network_interfaces\": [\"1\"]}"),
     NULL},
    {"mmds_config",
     S("{\"version\": \"foo\", \"network_interfaces\": [\"1\"]}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `foo`, expected `V1` or `V2` at line 1 column 17."},
    {"mmds_config",
     S("{\"version\": \"V2\", \"network_interfaces\": [], \"ipv4_address\":"
       " \"169.254.169.250\", \"imds_compat\": true}"),
     NULL},
    {"mmds_config",
     S("{\"network_interfaces\": [\"1\"], \"ipv4_address\": \"1.2.3\"}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid IPv4 address syntax at line 1 column 53."},
    {"mmds_config",
     S("{\"network_interfaces\": [\"1\"], \"ipv4_address\": \"01.2.3.4\"}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid IPv4 address syntax at line 1 column 56."},
    {"mmds_config",
     S("{\"network_interfaces\": [\"1\"], \"ipv4_address\": 5}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `5`, expected IPv4 address at line 1 column 47."},
    {"mmds_config",
     S("{\"network_interfaces\": \"eth0\"}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: string \"eth0\", expected a sequence at line 1 column 29."},
    {"mmds_config",
     S("{\"network_interfaces\": [1]}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `1`, expected a string at line 1 column 25."},
    {"mmds_config",
     S("{\"version\": \"V2\"}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `network_interfaces` at line 1 column 17."},
    {"mmds",
     S("{\"a\": 1}"),
     NULL},
    {"mmds",
     S("[1, 2]"),
     NULL},
    {"mmds",
     S("\"s\""),
     NULL},
    {"mmds",
     S(""),
     "An error occurred when deserializing the json body of a request: EOF "
     "while parsing a value at line 1 column 0."},
    {"mmds",
     S("{\"a\": }"),
     "An error occurred when deserializing the json body of a request: expe"
     "cted value at line 1 column 7."},
    {"mmds",
     S("{\"a\": 1} {\"b\": 2}"),
     "An error occurred when deserializing the json body of a request: trai"
     "ling characters at line 1 column 10."},
    {"vsock",
     S("{\"guest_cid\": 3, \"uds_path\": \"/v\"}"),
     NULL},
    {"vsock",
     S("{\"vsock_id\": \"v\", \"guest_cid\": 3, \"uds_path\": \"/v\"}"),
     NULL},
    {"vsock",
     S("{\"guest_cid\": 4294967296, \"uds_path\": \"/v\"}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid value: integer `4294967296`, expected u32 at line 1 column 24."},
    {"vsock",
     S("{\"uds_path\": \"/v\"}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `guest_cid` at line 1 column 18."},
    {"vsock",
     S("{\"guest_cid\": 3}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `uds_path` at line 1 column 16."},
    {"vsock",
     S("{\"guest_cid\": 3, \"uds_path\": \"/v\", \"x\": 1}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `x`, expected one of `vsock_id`, `guest_cid`, `uds_path` at"
     " line 1 column 38."},
    {"entropy",
     S("{}"),
     NULL},
    {"entropy",
     S("{\"rate_limiter\": null}"),
     NULL},
    {"entropy",
     S("{\"rate_limiter\": {\"bandwidth\": {\"size\": 1, \"refill_time\": 2"
       "}}}"),
     NULL},
    {"entropy",
     S("{\"rate_limiter\": 5}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `5`, expected struct RateLimiterConfig at line 1 co"
     "lumn 18."},
    {"entropy",
     S("{\"x\": 1}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `x`, expected `rate_limiter` at line 1 column 4."},
    {"serial",
     S("{}"),
     NULL},
    {"serial",
     S("{\"serial_out_path\": \"/s\", \"rate_limiter\": {\"size\": 10, \"re"
       "fill_time\": 5}}"),
     NULL},
    {"serial",
     S("{\"rate_limiter\": {\"bandwidth\": {\"size\": 1, \"refill_time\": 1"
       "}}}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `size` at line 1 column 61."},
    {"balloon",
     S("{\"amount_mib\": 0, \"deflate_on_oom\": true}"),
     NULL},
    {"balloon",
     S("{\"amount_mib\": 1}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `deflate_on_oom` at line 1 column 17."},
    {"balloon",
     S("{\"deflate_on_oom\": true}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `amount_mib` at line 1 column 24."},
    {"balloon",
     S("{\"amount_mib\": 1, \"deflate_on_oom\": true, \"stats_polling_inter"
       "val_s\": 65536}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid value: integer `65536`, expected u16 at line 1 column 75."},
    {"balloon",
     S("{\"amount_mib\": 1, \"deflate_on_oom\": true, \"free_page_hinting\""
       ": true, \"free_page_reporting\": true, \"stats_polling_interval_s\""
       ": 2}"),
     NULL},
    {"balloon_update",
     S("{\"amount_mib\": 5}"),
     NULL},
    {"balloon_update",
     S("{\"amount_mib\": 4294967296}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid value: integer `4294967296`, expected u32 at line 1 column 25."},
    {"balloon_update",
     S("{\"amount_mib\": 5, \"deflate_on_oom\": true}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `deflate_on_oom`, expected `amount_mib` at line 1 column 34"
     "."},
    {"balloon_stats",
     S("{\"stats_polling_interval_s\": 5}"),
     NULL},
    {"balloon_stats",
     S("{\"stats_polling_interval_s\": -1}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid value: integer `-1`, expected u16 at line 1 column 31."},
    {"balloon_stats",
     S("{}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `stats_polling_interval_s` at line 1 column 2."},
    {"hinting",
     S(""),
     NULL},
    {"hinting",
     S("{}"),
     NULL},
    {"hinting",
     S("{\"acknowledge_on_stop\": false}"),
     NULL},
    {"hinting",
     S("{\"acknowledge_on_stop\": null}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: null, expected a boolean at line 1 column 28."},
    {"hinting",
     S("{\"foo\": 1}"),
     NULL},
    {"hinting",
     S(" "),
     "An error occurred when deserializing the json body of a request: EOF "
     "while parsing a value at line 1 column 1."},
    {"hotplug",
     S("{\"total_size_mib\": 1024}"),
     NULL},
    {"hotplug",
     S("{\"total_size_mib\": 1024, \"block_size_mib\": 4, \"slot_size_mib\""
       ": 256}"),
     NULL},
    {"hotplug",
     S("{\"block_size_mib\": 2}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `total_size_mib` at line 1 column 21."},
    {"hotplug",
     S("{\"total_size_mib\": 1, \"foo\": 2}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `foo`, expected one of `total_size_mib`, `block_size_mib`, "
     "`slot_size_mib` at line 1 column 27."},
    {"hotplug_update",
     S("{\"requested_size_mib\": 512}"),
     NULL},
    {"hotplug_update",
     S("{}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `requested_size_mib` at line 1 column 2."},
    {"hotplug_update",
     S("{\"requested_size_mib\": \"512\"}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: string \"512\", expected u32 at line 1 column 28."},
    {"snap_create",
     S("{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}"),
     NULL},
    {"snap_create",
     S("{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"/s\", \"mem_file"
       "_path\": \"/m\"}"),
     NULL},
    {"snap_create",
     S("{\"snapshot_type\": \"Incremental\", \"snapshot_path\": \"/s\", \"m"
       "em_file_path\": \"/m\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `Incremental`, expected `Diff` or `Full` at line 1 column"
     " 31."},
    {"snap_create",
     S("{\"snapshot_path\": \"/s\"}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `mem_file_path` at line 1 column 23."},
    {"snap_create",
     S("{\"snapshot_path\": 1, \"mem_file_path\": \"/m\"}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: integer `1`, expected path string at line 1 column 19."},
    {"snap_create",
     S("{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"version\":"
       " \"1.0\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own field `version`, expected one of `snapshot_type`, `snapshot_path`"
     ", `mem_file_path` at line 1 column 56."},
    {"snap_load",
     S("{\"snapshot_path\": \"foo\", \"mem_backend\": {\"backend_path\": \""
       "bar\", \"backend_type\": \"File\"}}"),
     NULL},
    {"snap_load",
     S("{\"snapshot_path\": \"foo\", \"mem_file_path\": \"bar\", \"enable_d"
       "iff_snapshots\": true, \"resume_vm\": true}"),
     NULL},
    {"snap_load",
     S("{\n            \"snapshot_path\": \"foo\",\n            \"mem_backe"
       "nd\": {\n                \"backend_path\": \"bar\"\n            }\n"
       "        }"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `backend_type` at line 5 column 13."},
    {"snap_load",
     S("{\n            \"snapshot_path\": \"foo\",\n            \"mem_backe"
       "nd\": {\n                \"backend_path\": \"bar\",\n              "
       "  \"backend_type\": \"File\"\n            },\n            \"huge_pa"
       "ges\": \"1M\"\n        }"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `1M`, expected one of `Snapshot`, `None`, `Transparent`, "
     "`2M` at line 7 column 30."},
    {"snap_load",
     S("{\n            \"snapshot_path\": \"foo\",\n            \"mem_backe"
       "nd\": {\n                \"backend_type\": \"File\",\n            }"
       "\n        }"),
     "An error occurred when deserializing the json body of a request: trai"
     "ling comma at line 5 column 13."},
    {"snap_load",
     S("{\n            \"snapshot_path\": \"foo\",\n            \"mem_file_"
       "path\": \"bar\",\n            \"mem_backend\": {\n                "
       "\"backend_path\": \"bar\",\n                \"backend_type\": \"Uff"
       "d\"\n            }\n        }"),
     "An error occurred when deserializing the json body of a request: too "
     "many fields: either `mem_backend` or `mem_file_path` exclusively is r"
     "equired."},
    {"snap_load",
     S("{\n            \"snapshot_path\": \"foo\"\n        }"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field: either `mem_backend` or `mem_file_path` is required."},
    {"snap_load",
     S("{\n            \"mem_backend\": {\n                \"backend_path\""
       ": \"bar\",\n                \"backend_type\": \"Uffd\"\n           "
       " }\n        }"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `snapshot_path` at line 6 column 9."},
    {"snap_load",
     S("{\"snapshot_path\": \"foo\", \"mem_backend\": {\"backend_path\": \""
       "bar\", \"backend_type\": \"foo\"}}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `foo`, expected `File` or `Uffd` at line 1 column 85."},
    {"snap_load",
     S("{\"snapshot_path\": \"foo\", \"mem_backend\": {\"backend_type\": \""
       "File\"}}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `backend_path` at line 1 column 64."},
    {"snap_load",
     S("{\"snapshot_path\": \"foo\", \"mem_file_path\": \"bar\", \"network_"
       "overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap1\","
       " \"x\": 1}], \"vsock_override\": {\"uds_path\": \"/v\", \"y\": 2}, "
       "\"clock_realtime\": true, \"huge_pages\": \"Transparent\"}"),
     NULL},
    {"snap_load",
     S("{\"snapshot_path\": \"foo\", \"mem_file_path\": \"bar\", \"network_"
       "overrides\": [{\"iface_id\": \"eth0\"}]}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `host_dev_name` at line 1 column 91."},
    {"snap_load",
     S("{\"snapshot_path\": \"foo\", \"mem_file_path\": \"bar\", \"network_"
       "overrides\": null}"),
     "An error occurred when deserializing the json body of a request: inva"
     "lid type: null, expected a sequence at line 1 column 74."},
    {"vm",
     S("{\"state\": \"Paused\"}"),
     NULL},
    {"vm",
     S("{\"state\": \"Resumed\"}"),
     NULL},
    {"vm",
     S("{\"state\": \"Running\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `Running`, expected `Paused` or `Resumed` at line 1 colum"
     "n 19."},
    {"vm",
     S("{\"state\": \"paused\"}"),
     "An error occurred when deserializing the json body of a request: unkn"
     "own variant `paused`, expected `Paused` or `Resumed` at line 1 column"
     " 18."},
    {"vm",
     S("{}"),
     "An error occurred when deserializing the json body of a request: miss"
     "ing field `state` at line 1 column 2."},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": []}"),
     NULL},
    {"config",
     S("{\"drives\": []}"),
     "Invalid JSON: missing field `boot-source` at line 1 column 14"},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}}"),
     "Invalid JSON: missing field `drives` at line 1 column 44"},
    {"config",
     S("{}"),
     "Invalid JSON: missing field `drives` at line 1 column 2"},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [], "
       "\"network-interfaces\": null}"),
     "Invalid JSON: invalid type: null, expected a sequence at line 1 colum"
     "n 85"},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [], "
       "\"cpu-config\": \"/t.json\"}"),
     NULL},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [], "
       "\"cpu-config\": {\"kvm_capabilities\": [\"1\"]}, \"machine-config\""
       ": {\"vcpu_count\": 2, \"mem_size_mib\": 256, \"cpu_template\": \"No"
       "ne\"}}"),
     NULL},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [], "
       "\"cpu-config\": {\"foo\": 1} }"),
     "Invalid JSON: data did not match any variant of untagged enum CustomC"
     "puTemplateOrPath at line 1 column 85"},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [], "
       "\"cpu-config\": 5}"),
     "Invalid JSON: data did not match any variant of untagged enum CustomC"
     "puTemplateOrPath at line 1 column 75"},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [], "
       "\"serial\": {\"serial_out_path\": \"/s\"}, \"unknown\": 1}"),
     NULL},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\""
       "drive_id\": \"r\", \"is_root_device\": true, \"path_on_host\": \"/r"
       "\", \"bogus\": 1}]}"),
     "Invalid JSON: unknown field `bogus`, expected one of `drive_id`, `par"
     "tuuid`, `is_root_device`, `cache_type`, `is_read_only`, `path_on_host"
     "`, `rate_limiter`, `io_engine`, `socket` at line 1 column 127"},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [], "
       "\"machine-config\": {\"vcpu_count\": 2}}"),
     "Invalid JSON: missing field `mem_size_mib` at line 1 column 94"},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [], "
       "\"machine_config\": {\"vcpu_count\": 2}}"),
     NULL},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [], "
       "\"balloon\": null, \"vsock\": null, \"logger\": null, \"metrics\": "
       "null, \"mmds-config\": null, \"entropy\": null, \"memory-hotplug\":"
       " null, \"cpu-config\": null}"),
     NULL},
    {"config",
     S("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [], "
       "\"network-interfaces\": [{\"iface_id\": \"e\", \"host_dev_name\": "
       "\"t\", \"guest_mac\": \"zz\"}]}"),
     "Invalid JSON: The provided MAC address is invalid. at line 1 column 1"
     "40"},
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
            printf("case %zu (%s): unexpected error: %s\n", i, c->type, err.msg);
            failures++;
        } else if (c->expect && (rc != -EINVAL || strcmp(err.msg, c->expect))) {
            printf("case %zu (%s): rc %d\n  got:  %s\n  want: %s\n", i,
                   c->type, rc, rc ? err.msg : "(accepted)", c->expect);
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

static void assert_json(const char *want, void (*fn)(const void *, struct buf *),
                        const void *obj)
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

    assert_int_equal(PARSE(drive_cfg_parse,
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
    assert_int_equal(PARSE(net_iface_cfg_parse,
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
    ASSERT_JSON("{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"guest_mac\":null,"
                "\"mtu\":null,\"rx_rate_limiter\":null,"
                "\"tx_rate_limiter\":{\"bandwidth\":null,\"ops\":null}}",
                net_iface_cfg_to_json, &n);
    net_iface_cfg_fini(&n);

    assert_int_equal(PARSE(net_iface_update_parse,
                           "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": null}",
                           &nu, &err),
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
    ASSERT_JSON("{\"id\":\"pmem0\",\"path_on_host\":\"/p\",\"root_device\":true,"
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

    assert_int_equal(PARSE(machine_cfg_parse,
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

    assert_int_equal(PARSE(machine_cfg_update_parse, "{\"cpu_template\": "
                                                     "\"C3\"}",
                           &m, &err),
                     0);
    assert_true(m.deprecated);
    assert_int_equal(m.cpu_template, STATIC_CPU_TEMPLATE_C3);

    assert_int_equal(PARSE(machine_cfg_update_parse, "{\"cpu_template\": null}",
                           &m, &err),
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
        PARSE(cpu_config_parse,
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
    assert_string_equal(err.msg,
                        "unknown field `x`, expected one of `kvm_capabilities`, "
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
    assert_int_equal(PARSE(metrics_cfg_parse, "{\"metrics_path\": \"/m\"}", &m,
                           &err),
                     0);
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
    ASSERT_JSON("{\"version\":\"V1\",\"network_interfaces\":[\"eth0\",\"eth1\"],"
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

    assert_int_equal(PARSE(mmds_body_parse, "{\"b\": 1, \"a\": {\"c\": null}}",
                           &doc, &err),
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
                           "{\"guest_cid\": 0, \"uds_path\": \"/v\"}", &v, &err),
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
    assert_int_equal(PARSE(balloon_update_parse, "{\"amount_mib\": 4294967295}",
                           &bu, &err),
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
        {1024, 256, 128, "Slot size must be a multiple of block size (256 MiB)"},
        {64, 2, 128, "Total size must not be lower than slot size (128 MiB)"},
        {200, 2, 128, "Total size must be a multiple of slot size (128 MiB)"},
    };
    struct hotplug_memory_cfg h;
    struct hotplug_memory_update u;
    struct sq_err err;
    size_t i;

    (void)state;
    assert_int_equal(PARSE(hotplug_memory_cfg_parse,
                           "{\"total_size_mib\": 2048}", &h, &err),
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
        PARSE(snapshot_load_parse,
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

    assert_int_equal(PARSE(vm_state_req_parse, "{\"state\": \"Resumed\"}", &v,
                           &err),
                     0);
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
    assert_int_equal(PARSE(boot_source_cfg_parse,
                           "{\"kernel_image_path\": \"/k\", \"boot_args\": \"\"}",
                           &b, &err),
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

    assert_int_equal(PARSE(vmm_config_file_parse,
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
        {"\xc3\xb1" "and" "\xc3\xba", true}, /* n-tilde, "and", u-acute */
        {"\xd9\xa3", true},              /* ARABIC-INDIC DIGIT THREE (Nd) */
        {"\xc2\xbd", true},              /* VULGAR FRACTION ONE HALF (No) */
        {"\xe2\x85\xab", true},          /* ROMAN NUMERAL TWELVE (Nl) */
        {"a\xcd\x85", true},             /* U+0345, Other_Alphabetic */
        {"\xf0\x9d\x9f\x98", true},     /* MATHEMATICAL DOUBLE-STRUCK ZERO */
        {"a\xcc\x81", false},            /* U+0301 combining acute */
        {"a-b", false},
        {"a.b", false},
        {"a b", false},
        {"\xff", false},
        {"\xc3", false},
        {"\xed\xa0\x80", false},         /* an encoded surrogate */
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
