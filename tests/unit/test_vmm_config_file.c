/*
 * test_vmm_config_file.c: --config-file replay (digest 3.5): upstream's
 * application order, ResourcesError categories and the two outer wrappings.
 *
 * The parsed document (struct vmm_config_file) is built by hand; the
 * machine is faked through struct vmm_machine_ops.
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

#include "mmds/store.h"
#include "vmm/vmm.h"

#define MUT(s) ((char *)(uintptr_t)(s))

struct fx {
    struct vmm *v;
    struct vmm_config_file c;
    char dir[64];
    char kernel[128];
    char disk[128];
    int fail_start;
};

static struct fx *g_fx;

static int fake_start(struct vmm *v, struct sq_err *err)
{
    (void)v;
    if (g_fx->fail_start)
        return sq_errf(err, -ENOMEM,
                       "Invalid Memory Configuration: Cannot create mmap "
                       "region: Out of memory (os error 12)");
    return 0;
}

static int fake_ok(struct vmm *v, struct sq_err *err)
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
    fake_start, fake_ok, fake_ok, fake_ok, fake_stop, NULL, NULL, NULL, NULL,
};

static int fake_tap_open(const char *name, int *fd, char if_name[RES_IFNAMSIZ],
                         struct sq_err *err)
{
    snprintf(if_name, RES_IFNAMSIZ, "%s", name);
    (void)name;
    *fd = dup(0);
    return *fd < 0 ? sq_errf(err, -errno, "dup") : 0;
}

static void make_file(const char *path)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs("data", f);
    fclose(f);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vmm_opts o = {.instance_id = "cfg-vm"};

    strcpy(f->dir, "/tmp/squib-cfg-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->kernel, sizeof(f->kernel), "%s/vmlinux", f->dir);
    snprintf(f->disk, sizeof(f->disk), "%s/rootfs", f->dir);
    make_file(f->kernel);
    make_file(f->disk);
    f->v = vmm_new(NULL, &o);
    f->v->ops = &fake_ops;
    f->v->res.tap_open = fake_tap_open;
    /* The minimal valid document: a kernel and no drives. */
    f->c.boot_source.kernel_image_path = f->kernel;
    g_fx = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[160];

    vmm_free(f->v);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int apply(struct fx *f, struct sq_err *err)
{
    sq_err_clear(err);
    return vmm_apply_config_file(f->v, &f->c, err);
}

#define FAILED "Configuration for VMM from one single json failed: "

static void test_minimal_boots(void **state)
{
    struct fx *f = *state;
    struct sq_err err;

    assert_int_equal(apply(f, &err), 0);
    assert_true(vmm_is_started(f->v));
    /* A second replay is refused: the VM is built. */
    assert_true(apply(f, &err) < 0);
}

static void test_start_failure_wrapping(void **state)
{
    struct fx *f = *state;
    struct sq_err err;

    f->fail_start = 1;
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg, "Could not Start MicroVM from one single "
                                 "json: Invalid Memory Configuration: Cannot "
                                 "create mmap region: Out of memory (os error "
                                 "12)");
    assert_false(vmm_is_started(f->v));
}

static void test_boot_source_error(void **state)
{
    struct fx *f = *state;
    struct sq_err err;

    f->c.boot_source.kernel_image_path = MUT("/nonexistent/vmlinux");
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg, FAILED "Boot source error: The kernel file "
                                        "cannot be opened: No such file or "
                                        "directory (os error 2)");
}

/* machine-config is applied before balloon: a balloon bigger than the
 * default 128 MiB fits once the file's machine-config raised the memory. */
static void test_order_machine_before_balloon(void **state)
{
    struct fx *f = *state;
    struct sq_err err;

    f->c.has_machine_config = true;
    f->c.machine_config.has_vcpu_count = true;
    f->c.machine_config.vcpu_count = 2;
    f->c.machine_config.has_mem_size_mib = true;
    f->c.machine_config.mem_size_mib = 512;
    f->c.has_balloon = true;
    f->c.balloon.amount_mib = 300;
    assert_int_equal(apply(f, &err), 0);
    assert_int_equal(f->v->res.balloon.amount_mib, 300);
    assert_int_equal(f->v->res.machine.vcpu_count, 2);
}

static void test_balloon_error(void **state)
{
    struct fx *f = *state;
    struct sq_err err;

    f->c.has_balloon = true;
    f->c.balloon.amount_mib = 300;
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg, FAILED "Balloon device error: Amount of "
                                        "pages requested is too large.");
}

/* machine-config comes before boot-source: with both wrong, the machine
 * error is reported. */
static void test_order_machine_before_boot(void **state)
{
    struct fx *f = *state;
    struct sq_err err;

    f->c.boot_source.kernel_image_path = MUT("/nonexistent/vmlinux");
    f->c.has_machine_config = true;
    f->c.machine_config.has_vcpu_count = true;
    f->c.machine_config.vcpu_count = 0;
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg,
                        FAILED "VM config error: The number of vCPUs must be "
                               "greater than 0, less than 32 and must be 1 or "
                               "an even number if SMT is enabled.");
}

static void test_logger_first(void **state)
{
    struct fx *f = *state;
    struct sq_err err;

    f->c.boot_source.kernel_image_path = MUT("/nonexistent/vmlinux");
    f->c.has_logger = true;
    f->c.logger.log_path = MUT("/nonexistent/dir/log");
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg, FAILED "Logger error: Failed to open target "
                                        "file: No such file or directory (os "
                                        "error 2)");
    f->c.has_logger = false;
    f->c.has_metrics = true;
    f->c.metrics.metrics_path = MUT("/nonexistent/dir/metrics");
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg,
                        FAILED "Metrics error: Cannot initialize the metrics "
                               "system due to bad user input: No such file or "
                               "directory (os error 2)");
}

static void test_cpu_config_file_missing(void **state)
{
    struct fx *f = *state;
    struct sq_err err;

    f->c.cpu_config_kind = CPU_CONFIG_PATH;
    f->c.cpu_config_path = MUT("/nonexistent/template.json");
    /* Applied before boot-source, whose error would otherwise show. */
    f->c.boot_source.kernel_image_path = MUT("/nonexistent/vmlinux");
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg, FAILED "File operation error: No such file or "
                                        "directory (os error 2)");
}

static void test_cpu_config_file(void **state)
{
    struct fx *f = *state;
    char path[160];
    struct sq_err err;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/template.json", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"kvm_capabilities\": [\"!56\", \"170\"]}", fp);
    fclose(fp);
    f->c.cpu_config_kind = CPU_CONFIG_PATH;
    f->c.cpu_config_path = path;
    assert_int_equal(apply(f, &err), 0);
    assert_true(f->v->res.has_custom_template);
    assert_int_equal(f->v->res.custom_template.n_kvm_caps, 2);
    assert_int_equal(f->v->res.custom_template.kvm_caps[0].cap, 56);
    assert_true(f->v->res.custom_template.kvm_caps[0].remove);
    assert_int_equal(f->v->res.custom_template.kvm_caps[1].cap, 170);

    /* A broken file: serde's bare message under "Invalid JSON: ". */
    fp = fopen(path, "w");
    fputs("{", fp);
    fclose(fp);
    vmm_free(f->v);
    f->v = vmm_new(NULL, &(struct vmm_opts){.instance_id = "x"});
    f->v->ops = &fake_ops;
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg, FAILED "Invalid JSON: EOF while parsing an "
                                        "object at line 1 column 1");
}

static void test_drive_and_net_errors(void **state)
{
    struct fx *f = *state;
    struct drive_cfg drives[2];
    struct net_iface_cfg nets[2];
    struct sq_err err;

    memset(drives, 0, sizeof(drives));
    for (int i = 0; i < 2; i++) {
        drives[i].drive_id = MUT(i ? "second" : "rootfs");
        drives[i].drive_id_len = strlen(drives[i].drive_id);
        drives[i].is_root_device = true;
        drives[i].path_on_host = f->disk;
    }
    f->c.drives = drives;
    f->c.n_drives = 2;
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg, FAILED "Block device error: A root block "
                                        "device already exists!");

    /* Drives are applied before NICs: fix the drives, break the NICs. */
    drives[1].is_root_device = false;
    memset(nets, 0, sizeof(nets));
    for (int i = 0; i < 2; i++) {
        nets[i].iface_id = MUT(i ? "eth1" : "eth0");
        nets[i].iface_id_len = 4;
        nets[i].host_dev_name = MUT("tap");
        nets[i].has_guest_mac = true;
        nets[i].guest_mac[0] = 0xaa;
    }
    f->c.network_interfaces = nets;
    f->c.n_network_interfaces = 2;
    vmm_free(f->v);
    f->v = vmm_new(NULL, &(struct vmm_opts){.instance_id = "x"});
    f->v->ops = &fake_ops;
    f->v->res.tap_open = fake_tap_open;
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg, FAILED "Network device error: The MAC "
                                        "address is already in use: "
                                        "aa:00:00:00:00:00");
}

static void test_mmds_config_and_metadata(void **state)
{
    struct fx *f = *state;
    struct net_iface_cfg net;
    char *ids[1] = {MUT("eth9")};
    struct json_value *meta;
    struct sq_err err;
    struct buf b = BUF_INIT;

    memset(&net, 0, sizeof(net));
    net.iface_id = MUT("eth0");
    net.iface_id_len = 4;
    net.host_dev_name = MUT("tap0");
    f->c.network_interfaces = &net;
    f->c.n_network_interfaces = 1;
    f->c.has_mmds_config = true;
    f->c.mmds_config.n_network_interfaces = 1;
    f->c.mmds_config.network_interfaces = ids;
    assert_true(apply(f, &err) < 0);
    /* The config file's category has no typo, unlike the API's. */
    assert_string_equal(err.msg,
                        FAILED "MMDS config error: The list of network "
                               "interface IDs provided contains at least one "
                               "ID that does not correspond to any existing "
                               "network interface.");

    /* With a good id, the metadata is in the store (put before the
     * mmds-config, which then only sets the version). */
    vmm_free(f->v);
    f->v = vmm_new(NULL, &(struct vmm_opts){.instance_id = "x"});
    f->v->ops = &fake_ops;
    f->v->res.tap_open = fake_tap_open;
    ids[0] = MUT("eth0");
    f->c.mmds_config.version = MMDS_VERSION_V2;
    meta = json_new_object();
    json_object_set(meta, "k", 1, json_new_str("v", 1));
    sq_err_clear(&err);
    assert_int_equal(
        vmm_apply_config_file_with_metadata(f->v, &f->c, meta, &err), 0);
    json_value_free(meta);
    mmds_store_render(f->v->res.mmds, &b);
    assert_string_equal(b.data, "{\"k\":\"v\"}");
    buf_fini(&b);
    assert_int_equal(mmds_store_version(f->v->res.mmds), MMDS_VERSION_V2);
    assert_true(f->v->res.nets[0].mmds);
}

static void test_metadata_too_big(void **state)
{
    struct fx *f = *state;
    struct json_value *meta = json_new_str("x", 1);
    struct sq_err err;

    vmm_free(f->v);
    f->v = vmm_new(NULL, &(struct vmm_opts){.mmds_size_limit = 2});
    f->v->ops = &fake_ops;
    sq_err_clear(&err);
    assert_true(vmm_apply_config_file_with_metadata(f->v, &f->c, meta, &err) <
                0);
    json_value_free(meta);
    assert_string_equal(err.msg, FAILED "MMDS error: The MMDS patch request "
                                        "doesn't fit.");
}

static void test_vsock_pmem_hotplug_errors(void **state)
{
    struct fx *f = *state;
    struct pmem_cfg pm[2];
    struct sq_err err;

    /* vsock comes before balloon. */
    f->c.has_vsock = true;
    f->c.vsock.uds_path = MUT("/nonexistent/dir/v.sock");
    f->c.has_balloon = true;
    f->c.balloon.amount_mib = 100000;
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg,
                        FAILED "Vsock device error: Cannot create backend for "
                               "vsock device: Error binding to the host-side "
                               "Unix socket: No such file or directory (os "
                               "error 2)");
    f->c.has_vsock = false;
    f->c.has_balloon = false;

    /* pmem before memory-hotplug. */
    memset(pm, 0, sizeof(pm));
    for (int i = 0; i < 2; i++) {
        pm[i].id = MUT(i ? "p1" : "p0");
        pm[i].id_len = 2;
        pm[i].path_on_host = f->disk;
        pm[i].root_device = true;
    }
    f->c.pmem = pm;
    f->c.n_pmem = 2;
    f->c.has_memory_hotplug = true;
    f->c.memory_hotplug.total_size_mib = 1;
    f->c.memory_hotplug.block_size_mib = 2;
    f->c.memory_hotplug.slot_size_mib = 128;
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg, FAILED "Pmem device error: A root pmem device "
                                        "already exist");
    pm[1].root_device = false;
    vmm_free(f->v);
    f->v = vmm_new(NULL, &(struct vmm_opts){.instance_id = "x"});
    f->v->ops = &fake_ops;
    assert_true(apply(f, &err) < 0);
    assert_string_equal(err.msg,
                        FAILED "Memory hotplug config error: Total size must "
                               "not be lower than slot size (128 MiB)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_minimal_boots),
        T(test_start_failure_wrapping),
        T(test_boot_source_error),
        T(test_order_machine_before_balloon),
        T(test_balloon_error),
        T(test_order_machine_before_boot),
        T(test_logger_first),
        T(test_cpu_config_file_missing),
        T(test_cpu_config_file),
        T(test_drive_and_net_errors),
        T(test_mmds_config_and_metadata),
        T(test_metadata_too_big),
        T(test_vsock_pmem_hotplug_errors),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
