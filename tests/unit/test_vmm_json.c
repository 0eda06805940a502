/*
 * test_vmm_json.c: the controller fed with request bodies as clients send
 * them (JSON parsed by config/config.h, as the api thread does), following
 * upstream's test_api.py flows, and the GET /vm/config -> --config-file
 * round trip ("GET /vm/config output is itself a valid config file").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/controller.h"
#include "config/config.h"
#include "vmm/vmm.h"
#include "vmm_harness.h"

struct fx {
    struct vmm *v;
    char dir[64];
    char kernel[128];
    char rootfs[128];
};

static int fake_start(struct vmm *v, struct sq_err *err)
{
    (void)v;
    (void)err;
    return 0;
}

static void fake_stop(struct vmm *v)
{
    (void)v;
}

static const struct vmm_machine_ops fake_ops = {
    fake_start, fake_start, fake_start, fake_start, fake_stop,
    NULL,       NULL,       NULL,       NULL,
};

static int fake_tap_open(const char *name, int *fd, char if_name[RES_IFNAMSIZ],
                         struct sq_err *err)
{
    snprintf(if_name, RES_IFNAMSIZ, "%s", name);
    (void)name;
    *fd = dup(0);
    return *fd < 0 ? sq_errf(err, -errno, "dup") : 0;
}

static struct vmm *new_vmm(void)
{
    struct vmm_opts o = {.instance_id = "json-vm"};
    struct vmm *v = vmm_new(NULL, &o);

    v->ops = &fake_ops;
    v->res.tap_open = fake_tap_open;
    return v;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    FILE *fp;

    strcpy(f->dir, "/tmp/squib-json-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->kernel, sizeof(f->kernel), "%s/vmlinux.bin", f->dir);
    snprintf(f->rootfs, sizeof(f->rootfs), "%s/rootfs.ext4", f->dir);
    fp = fopen(f->kernel, "w");
    fclose(fp);
    fp = fopen(f->rootfs, "w");
    fclose(fp);
    assert_int_equal(chdir(f->dir), 0); /* relative paths, as in a jail */
    f->v = new_vmm();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[160];

    vmm_free(f->v);
    assert_int_equal(chdir("/"), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Parse `json` for `op` the way the api layer does, run it, free it. */
static char g_resp[4096];
static bool g_deprecated;

#define PARSE(member, fn)                                                      \
    do {                                                                       \
        assert_int_equal(fn(json, strlen(json), &req.body.member, &err), 0);   \
        body = &req.body.member;                                               \
    } while (0)

static int run(struct vmm *v, enum vmm_op op, const char *json)
{
    struct vmm_request req;
    struct vmm_call c;
    void *body = NULL;
    struct sq_err err;
    int status;

    memset(&req, 0, sizeof(req));
    req.op = op;
    switch (op) {
    case VMM_OP_PUT_ACTIONS:
        PARSE(instance_action, instance_action_parse);
        break;
    case VMM_OP_PUT_BOOT_SOURCE:
        PARSE(boot_source, boot_source_cfg_parse);
        break;
    case VMM_OP_PUT_DRIVE:
        PARSE(drive, drive_cfg_parse);
        break;
    case VMM_OP_PUT_NET:
        PARSE(net, net_iface_cfg_parse);
        break;
    case VMM_OP_PUT_PMEM:
        PARSE(pmem, pmem_cfg_parse);
        break;
    case VMM_OP_PUT_MACHINE_CONFIG:
        PARSE(machine, machine_cfg_parse);
        break;
    case VMM_OP_PATCH_MACHINE_CONFIG:
        PARSE(machine, machine_cfg_update_parse);
        break;
    case VMM_OP_PUT_BALLOON:
        PARSE(balloon, balloon_cfg_parse);
        break;
    case VMM_OP_PUT_VSOCK:
        PARSE(vsock, vsock_cfg_parse);
        break;
    case VMM_OP_PUT_MMDS_CONFIG:
        PARSE(mmds_config, mmds_cfg_parse);
        break;
    case VMM_OP_PUT_HOTPLUG_MEMORY:
        PARSE(hotplug_memory, hotplug_memory_cfg_parse);
        break;
    case VMM_OP_PUT_ENTROPY:
        PARSE(entropy, entropy_cfg_parse);
        break;
    case VMM_OP_PUT_CPU_CONFIG:
        PARSE(cpu_config, cpu_config_parse);
        break;
    case VMM_OP_PUT_MMDS:
    case VMM_OP_PATCH_MMDS:
        assert_int_equal(
            mmds_body_parse(json, strlen(json), &req.body.mmds_data, &err), 0);
        body = req.body.mmds_data;
        break;
    default:
        fail_msg("op %d not covered", op);
    }
    status = harness_call(v, op, NULL, body, &c);
    /* The request's owner frees what the vmm did not take. */
    if (c.body_taken)
        req.body.mmds_data = NULL;
    vmm_request_fini(&req);
    snprintf(g_resp, sizeof(g_resp), "%s", c.wire.data ? c.wire.data : "");
    g_deprecated = c.deprecated;
    harness_call_fini(&c);
    return status;
}

static char *get(struct vmm *v, enum vmm_op op)
{
    struct mirror *m = harness_mirror(v);
    char *s = strdup(m->get[op].body);

    assert_int_equal(m->get[op].status, 200);
    mirror_free(m);
    return s;
}

/* test_api.py::test_get_full_config (pre-boot and post-boot). */
static const char *const full_config_steps[][2] = {
    {"PUT /boot-source",
     "{\"kernel_image_path\":\"vmlinux.bin\",\"boot_args\":\"\"}"},
    {"PUT /machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256}"},
    {"PUT /drives",
     "{\"drive_id\":\"rootfs\",\"path_on_host\":\"rootfs.ext4\","
     "\"is_root_device\":true,\"is_read_only\":true,\"io_engine\":\"Sync\"}"},
    {"PUT /pmem",
     "{\"id\":\"pmem\",\"path_on_host\":\"rootfs.ext4\",\"root_device\":false,"
     "\"read_only\":false}"},
    {"PUT /balloon", "{\"amount_mib\":1,\"deflate_on_oom\":true}"},
    {"PUT /vsock", "{\"guest_cid\":15,\"uds_path\":\"vsock.sock\"}"},
    {"PUT /hotplug/memory",
     "{\"total_size_mib\":1024,\"block_size_mib\":128,\"slot_size_mib\":1024}"},
    {"PUT /network-interfaces",
     "{\"iface_id\":\"1\",\"guest_mac\":\"06:00:00:00:00:01\","
     "\"host_dev_name\":\"tap1\",\"tx_rate_limiter\":{\"bandwidth\":{\"size\":"
     "1000000,\"refill_time\":100,\"one_time_burst\":null},\"ops\":null}}"},
    {"PUT /mmds/config",
     "{\"version\":\"V2\",\"ipv4_address\":\"169.254.169.250\","
     "\"network_interfaces\":[\"1\"],\"imds_compat\":true}"},
};

static const enum vmm_op full_config_ops[] = {
    VMM_OP_PUT_BOOT_SOURCE,    VMM_OP_PUT_MACHINE_CONFIG,
    VMM_OP_PUT_DRIVE,          VMM_OP_PUT_PMEM,
    VMM_OP_PUT_BALLOON,        VMM_OP_PUT_VSOCK,
    VMM_OP_PUT_HOTPLUG_MEMORY, VMM_OP_PUT_NET,
    VMM_OP_PUT_MMDS_CONFIG,
};

static const char full_config_expected[] =
    "{\"balloon\":{\"amount_mib\":1,\"deflate_on_oom\":true,"
    "\"stats_polling_interval_s\":0,\"free_page_hinting\":false,"
    "\"free_page_reporting\":false},\"drives\":[{\"drive_id\":\"rootfs\","
    "\"partuuid\":null,\"is_root_device\":true,\"cache_type\":\"Unsafe\","
    "\"is_read_only\":true,\"path_on_host\":\"rootfs.ext4\",\"rate_limiter\":"
    "null,\"io_engine\":\"Sync\",\"socket\":null}],\"boot-source\":{"
    "\"kernel_image_path\":\"vmlinux.bin\",\"initrd_path\":null,\"boot_args\":"
    "\"\"},\"cpu-config\":null,\"logger\":null,\"machine-config\":{"
    "\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false,\"track_dirty_pages\":"
    "false,\"huge_pages\":\"None\"},\"metrics\":null,\"mmds-config\":{"
    "\"version\":\"V2\",\"network_interfaces\":[\"1\"],\"ipv4_address\":"
    "\"169.254.169.250\",\"imds_compat\":true},\"network-interfaces\":[{"
    "\"iface_id\":\"1\",\"host_dev_name\":\"tap1\",\"guest_mac\":"
    "\"06:00:00:00:00:01\",\"mtu\":null,\"rx_rate_limiter\":null,"
    "\"tx_rate_limiter\":{\"bandwidth\":{\"size\":1000000,\"one_time_burst\":"
    "null,\"refill_time\":100},\"ops\":null}}],\"vsock\":{\"guest_cid\":15,"
    "\"uds_path\":\"vsock.sock\"},\"entropy\":null,\"pmem\":[{\"id\":\"pmem\","
    "\"path_on_host\":\"rootfs.ext4\",\"root_device\":false,\"read_only\":"
    "false,\"rate_limiter\":null}],\"memory-hotplug\":{\"total_size_mib\":1024,"
    "\"block_size_mib\":128,\"slot_size_mib\":1024}}";

static void configure_full(struct vmm *v)
{
    for (size_t i = 0; i < sizeof(full_config_ops) / sizeof(full_config_ops[0]);
         i++) {
        int st = run(v, full_config_ops[i], full_config_steps[i][1]);

        if (st != 204)
            fail_msg("%s: %d %s", full_config_steps[i][0], st, g_resp);
    }
}

static void test_get_full_config(void **state)
{
    struct fx *f = *state;
    char *s;

    configure_full(f->v);
    s = get(f->v, VMM_OP_GET_VM_CONFIG);
    assert_string_equal(s, full_config_expected);
    free(s);
    assert_int_equal(
        run(f->v, VMM_OP_PUT_ACTIONS, "{\"action_type\":\"InstanceStart\"}"),
        204);
    s = get(f->v, VMM_OP_GET_VM_CONFIG);
    assert_string_equal(s, full_config_expected);
    free(s);
}

/* GET /vm/config is a valid --config-file that rebuilds the same VM. */
static void test_vm_config_round_trip(void **state)
{
    struct fx *f = *state;
    struct vmm_config_file cfg;
    struct vmm *v2;
    struct sq_err err;
    char *doc, *again;

    configure_full(f->v);
    doc = get(f->v, VMM_OP_GET_VM_CONFIG);
    /* The vsock socket path is bound: free it for the second VM. */
    vmm_free(f->v);
    f->v = new_vmm();
    unlink("vsock.sock");

    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(vmm_config_file_parse(doc, strlen(doc), &cfg, &err), 0);
    v2 = new_vmm();
    assert_int_equal(vmm_apply_config_file(v2, &cfg, &err), 0);
    assert_true(vmm_is_started(v2));
    again = get(v2, VMM_OP_GET_VM_CONFIG);
    assert_string_equal(again, doc);
    vmm_config_file_fini(&cfg);
    vmm_free(v2);
    free(doc);
    free(again);
}

static void test_machine_config_flow(void **state)
{
    struct fx *f = *state;
    char *s;

    /* test_api_machine_config: PATCH with cpu_template is deprecated. */
    assert_int_equal(run(f->v, VMM_OP_PUT_MACHINE_CONFIG,
                         "{\"vcpu_count\":2,\"mem_size_mib\":256,"
                         "\"cpu_template\":\"C3\"}"),
                     204);
    assert_true(g_deprecated);
    assert_int_equal(
        run(f->v, VMM_OP_PATCH_MACHINE_CONFIG, "{\"vcpu_count\":4}"), 204);
    assert_false(g_deprecated);
    s = get(f->v, VMM_OP_GET_MACHINE_CONFIG);
    assert_string_equal(s,
                        "{\"vcpu_count\":4,\"mem_size_mib\":256,\"smt\":"
                        "false,\"cpu_template\":\"C3\",\"track_dirty_pages\":"
                        "false,\"huge_pages\":\"None\"}");
    free(s);
    assert_int_equal(
        run(f->v, VMM_OP_PATCH_MACHINE_CONFIG, "{\"cpu_template\":\"None\"}"),
        204);
    assert_true(g_deprecated);
    s = get(f->v, VMM_OP_GET_MACHINE_CONFIG);
    assert_null(strstr(s, "cpu_template"));
    free(s);
    /* A custom template from PUT /cpu-config is not shown either. */
    assert_int_equal(
        run(f->v, VMM_OP_PUT_CPU_CONFIG, "{\"kvm_capabilities\":[\"!56\"]}"),
        204);
    assert_true(f->v->res.has_custom_template);
    assert_int_equal(run(f->v, VMM_OP_PUT_MACHINE_CONFIG,
                         "{\"vcpu_count\":1,\"mem_size_mib\":128,"
                         "\"huge_pages\":\"2M\"}"),
                     204);
    assert_true(f->v->res.has_custom_template);
    assert_int_equal(
        run(f->v, VMM_OP_PATCH_MACHINE_CONFIG, "{\"mem_size_mib\":129}"), 400);
    assert_string_equal(g_resp, "{\"fault_message\":\"Machine config error: "
                                "The memory size (MiB) is either 0, or not a "
                                "multiple of the configured page size.\"}");
}

static void test_mmds_v1_deprecation_and_data(void **state)
{
    struct fx *f = *state;
    char *s;

    assert_int_equal(run(f->v, VMM_OP_PUT_NET,
                         "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}"),
                     204);
    assert_int_equal(run(f->v, VMM_OP_PUT_MMDS_CONFIG,
                         "{\"network_interfaces\":[\"eth0\"]}"),
                     204);
    assert_true(g_deprecated);
    assert_int_equal(run(f->v, VMM_OP_PUT_MMDS,
                         "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\","
                         "\"reservation-id\":\"r-1\"}}}"),
                     204);
    assert_int_equal(run(f->v, VMM_OP_PATCH_MMDS,
                         "{\"latest\":{\"meta-data\":{\"ami-id\":null,"
                         "\"b\":[1,2.5,\"x\"]}}}"),
                     204);
    s = get(f->v, VMM_OP_GET_MMDS);
    assert_string_equal(s, "{\"latest\":{\"meta-data\":{\"b\":[1,2.5,\"x\"],"
                           "\"reservation-id\":\"r-1\"}}}");
    free(s);
    /* After boot the NIC carries the store: still reachable. */
    assert_int_equal(run(f->v, VMM_OP_PUT_BOOT_SOURCE,
                         "{\"kernel_image_path\":\"vmlinux.bin\"}"),
                     204);
    assert_int_equal(
        run(f->v, VMM_OP_PUT_ACTIONS, "{\"action_type\":\"InstanceStart\"}"),
        204);
    assert_int_equal(run(f->v, VMM_OP_PATCH_MMDS, "{\"new\":true}"), 204);
    s = get(f->v, VMM_OP_GET_MMDS);
    assert_non_null(strstr(s, "\"new\":true"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_get_full_config),
        T(test_vm_config_round_trip),
        T(test_machine_config_flow),
        T(test_mmds_v1_deprecation_and_data),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
