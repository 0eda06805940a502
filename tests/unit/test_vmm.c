/*
 * test_vmm.c: the VMM controller through vmm_handle() and the read
 * mirror: pre/post-boot legality, every VMM-side error text, device list
 * orders, GET bodies byte for byte (upstream's test_api.py expectations).
 *
 * Request bodies are built by hand as the api layer's parsers would produce
 * them. Host paths are temp files made per test; TAP devices are faked
 * through vm_resources.tap_open, the machine through struct vmm_machine_ops.
 */
#include <dirent.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "api/controller.h"
#include "fake_pci_machine.h"
#include "fake_tap.h"
#include "mmds/store.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "vmm/resources.h"
#include "vmm/vmm.h"
#include "vmm_harness.h"

/* String literals into the request structs' char * fields (never freed:
 * the tests own the bodies). */
#define MUT(s) ((char *)(uintptr_t)(s))

/* ---------------------------------------------------------------------- */
/* Fixtures */

struct fx {
    struct vmm *v;
    char dir[64];
    char kernel[128];
    char disk[128];
    char disk2[128];
    int starts; /* fake machine: start calls */
    int fail_start;
    int patches; /* fake machine: patch_device calls */
    int fail_patch;
    enum vmm_op patch_op;
    char patch_id[32];
    int balloon_active;  /* fake balloon: patches succeed */
    struct fake_pci pci; /* fake machine with --enable-pci */
};

static struct fx *g_fx;

static int fake_start(struct vmm *v, struct sq_err *err)
{
    g_fx->starts++;
    if (g_fx->fail_start)
        return sq_errf(err, -ENOMEM,
                       "Invalid Memory Configuration: Cannot create mmap "
                       "region: Out of memory (os error 12)");
    if (v->res.pci_enabled) {
        int rc = fake_pci_build(&g_fx->pci, v, err);

        if (rc)
            fake_pci_free(&g_fx->pci);
        return rc;
    }
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
    fake_pci_free(&g_fx->pci);
}

static int fake_hotplug(struct vmm *v, enum vmm_op op, size_t index,
                        struct sq_err *err)
{
    return fake_pci_hotplug(&g_fx->pci, v, op, index, err);
}

static int fake_unplug(struct vmm *v, enum vmm_op op, const char *id,
                       struct sq_err *err)
{
    (void)v;
    return fake_pci_unplug(&g_fx->pci, op, id, err);
}

static int fake_patch(struct vmm *v, enum vmm_op op, const char *id,
                      const void *update, struct sq_err *err)
{
    (void)v;
    (void)update;
    g_fx->patches++;
    g_fx->patch_op = op;
    snprintf(g_fx->patch_id, sizeof(g_fx->patch_id), "%s", id);
    /* A balloon no guest driver has activated, unless the test says (the
     * statistics interval changes whatever the driver did). */
    if ((op == VMM_OP_PATCH_BALLOON ||
         op == VMM_OP_PATCH_BALLOON_HINTING_START ||
         op == VMM_OP_PATCH_BALLOON_HINTING_STOP) &&
        !g_fx->balloon_active)
        return sq_errf(err, -EAGAIN, "Device not activated yet.");
    if (g_fx->fail_patch)
        return sq_errf(err, -EIO,
                       "Failed perform action on device: "
                       "injected");
    return 0;
}

static const struct vmm_machine_ops fake_ops = {
    .start = fake_start,
    .pause = fake_ok,
    .resume = fake_ok,
    .ctrl_alt_del = fake_ok,
    .stop = fake_stop,
    .patch_device = fake_patch,
    .hotplug_device = fake_hotplug,
    .unplug_device = fake_unplug,
};

static void make_file(const char *path, size_t size)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    if (size) {
        assert_int_equal(fseek(f, (long)size - 1, SEEK_SET), 0);
        fputc(0, f);
    }
    fclose(f);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vmm_opts o = {.instance_id = "test-id", .mmds_size_limit = 0};

    strcpy(f->dir, "/tmp/squib-vmm-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->kernel, sizeof(f->kernel), "%s/vmlinux", f->dir);
    snprintf(f->disk, sizeof(f->disk), "%s/disk.img", f->dir);
    snprintf(f->disk2, sizeof(f->disk2), "%s/disk2.img", f->dir);
    make_file(f->kernel, 4096);
    make_file(f->disk, 1 << 20);
    make_file(f->disk2, 4096);
    f->v = vmm_new(NULL, &o);
    f->v->ops = &fake_ops;
    f->v->res.tap_open = fake_tap_open;
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

/* Run one action; returns the status, the response in g_resp, the last
 * call in g_last (bodies live on the test's stack). */
static const char *g_resp;
static struct vmm_call g_last_call;
static struct vmm_call *g_last;

static int act(struct vmm *v, enum vmm_op op, const char *id, void *body)
{
    if (g_last)
        harness_call_fini(g_last);
    g_last = &g_last_call;
    harness_call(v, op, id, body, g_last);
    g_resp = g_last->wire.data ? g_last->wire.data : "";
    return g_last->status;
}

static void expect_fault(int status, const char *msg)
{
    char want[4096];

    snprintf(want, sizeof(want), "{\"fault_message\":\"%s\"}", msg);
    assert_int_equal(status, 400);
    assert_string_equal(g_resp, want);
}

static const char *get(struct vmm *v, enum vmm_op op, int *status)
{
    static char body[8192];
    struct mirror *m = harness_mirror(v);

    *status = m->get[op].status;
    snprintf(body, sizeof(body), "%s", m->get[op].body);
    mirror_free(m);
    return body;
}

static struct boot_source_cfg boot(const char *k)
{
    struct boot_source_cfg b = {MUT(k), NULL, NULL};

    return b;
}

/* PUT /pmem/{id} on `path`: the status. */
static int put_pmem(struct fx *f, const char *id, const char *path)
{
    struct pmem_cfg p;

    memset(&p, 0, sizeof(p));
    p.id = MUT(id);
    p.id_len = strlen(id);
    p.path_on_host = MUT(path);
    return act(f->v, VMM_OP_PUT_PMEM, id, &p);
}

static struct drive_cfg drive(const char *id, const char *path, bool root)
{
    struct drive_cfg d;

    memset(&d, 0, sizeof(d));
    d.drive_id = MUT(id);
    d.drive_id_len = strlen(id);
    d.is_root_device = root;
    d.path_on_host = MUT(path);
    return d;
}

static struct net_iface_cfg nic(const char *id, const char *tap, int mac_last)
{
    struct net_iface_cfg n;

    memset(&n, 0, sizeof(n));
    n.iface_id = MUT(id);
    n.iface_id_len = strlen(id);
    n.host_dev_name = MUT(tap);
    if (mac_last >= 0) {
        static const uint8_t base[6] = {0x06, 0, 0, 0, 0, 0};

        n.has_guest_mac = true;
        memcpy(n.guest_mac, base, 6);
        n.guest_mac[5] = (uint8_t)mac_last;
    }
    return n;
}

static struct machine_cfg machine_put(unsigned vcpus, uint64_t mem)
{
    struct machine_cfg m;

    memset(&m, 0, sizeof(m));
    m.has_vcpu_count = m.has_mem_size_mib = m.has_smt = true;
    m.has_track_dirty_pages = m.has_huge_pages = true;
    m.vcpu_count = (uint8_t)vcpus;
    m.mem_size_mib = mem;
    return m;
}

static void start_vm(struct fx *f)
{
    struct boot_source_cfg b = boot(f->kernel);
    struct instance_action start = {ACTION_INSTANCE_START};

    if (!f->v->res.boot.configured)
        assert_int_equal(act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &start), 204);
    assert_true(vmm_is_started(f->v));
}

/* ---------------------------------------------------------------------- */
/* Instance info, version, lifecycle */

static void test_instance_info_and_version(void **state)
{
    struct fx *f = *state;
    int st;

    assert_string_equal(get(f->v, VMM_OP_GET_INSTANCE_INFO, &st),
                        "{\"id\":\"test-id\",\"state\":\"Not started\","
                        "\"vmm_version\":\"1.17.0-dev\",\"app_name\":"
                        "\"Firecracker\"}");
    assert_int_equal(st, 200);
    assert_string_equal(get(f->v, VMM_OP_GET_VERSION, &st),
                        "{\"firecracker_version\":\"1.17.0-dev\"}");
    start_vm(f);
    assert_string_equal(get(f->v, VMM_OP_GET_INSTANCE_INFO, &st),
                        "{\"id\":\"test-id\",\"state\":\"Running\","
                        "\"vmm_version\":\"1.17.0-dev\",\"app_name\":"
                        "\"Firecracker\"}");
    {
        struct vm_state_req p = {VM_STATE_REQ_PAUSED};
        struct vm_state_req r = {VM_STATE_REQ_RESUMED};

        assert_int_equal(act(f->v, VMM_OP_PATCH_VM, NULL, &p), 204);
        assert_int_equal(act(f->v, VMM_OP_PATCH_VM, NULL, &p), 204);
        assert_string_equal(get(f->v, VMM_OP_GET_INSTANCE_INFO, &st),
                            "{\"id\":\"test-id\",\"state\":\"Paused\","
                            "\"vmm_version\":\"1.17.0-dev\",\"app_name\":"
                            "\"Firecracker\"}");
        assert_int_equal(act(f->v, VMM_OP_PATCH_VM, NULL, &r), 204);
        assert_int_equal(act(f->v, VMM_OP_PATCH_VM, NULL, &r), 204);
        assert_int_equal(f->v->state, VMM_STATE_RUNNING);
    }
}

static void test_start_errors(void **state)
{
    struct fx *f = *state;
    struct instance_action start = {ACTION_INSTANCE_START};
    struct boot_source_cfg b = boot(f->kernel);

    expect_fault(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &start),
                 "Start microvm error: Cannot start microvm without kernel "
                 "configuration.");
    assert_int_equal(f->starts, 0);
    assert_int_equal(act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b), 204);
    f->fail_start = 1;
    expect_fault(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &start),
                 "Start microvm error: Invalid Memory Configuration: Cannot "
                 "create mmap region: Out of memory (os error 12)");
    assert_false(vmm_is_started(f->v));
    f->fail_start = 0;
    assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &start), 204);
    assert_int_equal(f->starts, 2);
    expect_fault(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &start),
                 "The requested operation is not supported after starting "
                 "the microVM.");
}

/* The real machine layer (vmm_start.c): what it refuses before KVM is
 * touched. */
static void test_default_machine_layer_refuses(void **state)
{
    struct fx *f = *state;
    struct instance_action start = {ACTION_INSTANCE_START};
    struct boot_source_cfg b = boot(f->kernel);
    struct drive_cfg d = drive("rootfs", f->disk, true);
    struct serial_cfg s;

    f->v->ops = &vmm_default_machine_ops;
    assert_int_equal(act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b), 204);
    memset(&s, 0, sizeof(s));
    s.serial_out_path = MUT("/nonexistent/dir/serial.out");
    assert_int_equal(act(f->v, VMM_OP_PUT_SERIAL, NULL, &s), 204);
    expect_fault(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &start),
                 "Start microvm error: Failed to create device manager: Error "
                 "with EventFd: No such file or directory (os error 2)");
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "rootfs", &d), 204);
    /* A pmem backing file is opened at InstanceStart (upstream), before
     * the serial output. */
    assert_int_equal(put_pmem(f, "pm", "/nonexistent/pmem.img"), 204);
    expect_fault(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &start),
                 "Start microvm error: Cannot create pmem device: Error "
                 "accessing backing file: No such file or directory (os "
                 "error 2)");
    assert_false(vmm_is_started(f->v));
    assert_null(f->v->machine);
    f->v->ops = &fake_ops;
}

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* The real machine layer refuses too many virtio devices with upstream's
 * chains before KVM is touched (GSIs 5..23: VMGenID and VMClock take the
 * two after the devices), and frees every device it built. */
static void test_default_machine_layer_device_limits(void **state)
{
    static const struct {
        int drives; /* plus entropy */
        const char *text;
    } rows[] = {
        {17, "Could not attach device: Error while registering ACPI with "
             "KVM: VMClock: Could not allocate GSI: The requested resource "
             "is not available."},
        {18, "Could not attach device: Error while registering ACPI with "
             "KVM: VMGenID: Could not allocate GSI: The requested resource "
             "is not available."},
        {19, "Could not attach device: MMIO transport error: Failed to "
             "allocate requested resource: The requested resource is not "
             "available."},
        {25, "Could not attach device: MMIO transport error: Failed to "
             "allocate requested resource: The requested resource is not "
             "available."},
    };
    struct fx *f = *state;
    struct instance_action start = {ACTION_INSTANCE_START};
    struct boot_source_cfg b = boot(f->kernel);
    struct entropy_cfg e;
    char want[512];
    int have = 0;

    f->v->ops = &vmm_default_machine_ops;
    assert_int_equal(act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b), 204);
    memset(&e, 0, sizeof(e));
    assert_int_equal(act(f->v, VMM_OP_PUT_ENTROPY, NULL, &e), 204);
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        int fds;

        for (; have < rows[k].drives; have++) {
            char id[16];
            struct drive_cfg d;

            snprintf(id, sizeof(id), "d%02d", have);
            d = drive(id, f->disk2, false);
            assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, id, &d), 204);
        }
        fds = fd_count();
        snprintf(want, sizeof(want), "Start microvm error: %s", rows[k].text);
        expect_fault(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &start), want);
        assert_false(vmm_is_started(f->v));
        assert_null(f->v->machine);
        assert_int_equal(fd_count(), fds);
    }
    f->v->ops = &fake_ops;
}

/* With --enable-pci the devices take PCI slots, not legacy GSIs: 31 drives
 * and entropy (32 devices) are refused for the 32nd with upstream's chain,
 * before KVM is touched, and every device built is freed. */
static void test_default_machine_layer_pci_device_limit(void **state)
{
    struct fx *f = *state;
    struct instance_action start = {ACTION_INSTANCE_START};
    struct boot_source_cfg b = boot(f->kernel);
    struct entropy_cfg e;
    int fds;

    f->v->ops = &vmm_default_machine_ops;
    f->v->res.pci_enabled = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b), 204);
    memset(&e, 0, sizeof(e));
    assert_int_equal(act(f->v, VMM_OP_PUT_ENTROPY, NULL, &e), 204);
    for (int i = 0; i < 31; i++) {
        char id[16];
        struct drive_cfg d;

        snprintf(id, sizeof(id), "d%02d", i);
        d = drive(id, f->disk2, false);
        assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, id, &d), 204);
    }
    fds = fd_count();
    expect_fault(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &start),
                 "Start microvm error: Could not attach device: Error attach "
                 "PCI device: PCI root error: Could not find an available "
                 "device slot on the PCI bus.");
    assert_false(vmm_is_started(f->v));
    assert_null(f->v->machine);
    assert_int_equal(fd_count(), fds);
    f->v->ops = &fake_ops;
}

/* ---------------------------------------------------------------------- */
/* Pre/post-boot matrix (digest 1.4) */

struct matrix_row {
    enum vmm_op op;
    int pre;  /* 1: NSPre expected before boot */
    int post; /* 1: NSPost expected after boot */
};

static const struct matrix_row matrix[] = {
    {VMM_OP_PUT_BALLOON, 0, 1},
    {VMM_OP_PATCH_BALLOON, 1, 0},
    {VMM_OP_PATCH_BALLOON_STATS, 1, 0},
    {VMM_OP_PATCH_BALLOON_HINTING_START, 1, 0},
    {VMM_OP_PATCH_BALLOON_HINTING_STOP, 1, 0},
    {VMM_OP_PUT_BOOT_SOURCE, 0, 1},
    {VMM_OP_PUT_CPU_CONFIG, 0, 1},
    {VMM_OP_PATCH_DRIVE, 1, 0},
    {VMM_OP_DELETE_DRIVE, 1, 0},
    {VMM_OP_PATCH_PMEM, 1, 0},
    {VMM_OP_DELETE_PMEM, 1, 0},
    {VMM_OP_PUT_LOGGER, 0, 1},
    {VMM_OP_PUT_MACHINE_CONFIG, 0, 1},
    {VMM_OP_PATCH_MACHINE_CONFIG, 0, 1},
    {VMM_OP_PUT_METRICS, 0, 1},
    {VMM_OP_PUT_MMDS_CONFIG, 0, 1},
    {VMM_OP_PUT_ENTROPY, 0, 1},
    {VMM_OP_PUT_SERIAL, 0, 1},
    {VMM_OP_PUT_HOTPLUG_MEMORY, 0, 1},
    {VMM_OP_PATCH_HOTPLUG_MEMORY, 1, 0},
    {VMM_OP_PATCH_NET, 1, 0},
    {VMM_OP_DELETE_NET, 1, 0},
    {VMM_OP_PUT_SNAPSHOT_CREATE, 1, 0},
    {VMM_OP_PUT_SNAPSHOT_LOAD, 0, 1},
    {VMM_OP_PATCH_VM, 1, 0},
    {VMM_OP_PUT_VSOCK, 0, 1},
};

/* A body that parses for every op (contents irrelevant for the check). */
union any_body {
    struct instance_action ia;
    struct balloon_cfg bc;
    struct balloon_update bu;
    struct balloon_stats_update bs;
    struct balloon_hinting_start bh;
    struct boot_source_cfg boot;
    struct cpu_template ct;
    struct drive_cfg d;
    struct drive_update du;
    struct pmem_cfg p;
    struct pmem_update pu;
    struct logger_cfg l;
    struct machine_cfg m;
    struct metrics_cfg mc;
    struct mmds_cfg mm;
    struct entropy_cfg e;
    struct serial_cfg s;
    struct hotplug_memory_cfg h;
    struct hotplug_memory_update hu;
    struct net_iface_cfg n;
    struct net_iface_update nu;
    struct snapshot_create sc;
    struct snapshot_load sl;
    struct vm_state_req vs;
    struct vsock_cfg vc;
};

static void fill_any(union any_body *b, enum vmm_op op, const struct fx *f)
{
    memset(b, 0, sizeof(*b));
    /* Bodies that make the pre-boot variants fail in their own way (or
     * succeed) rather than with NSPre, which is what the test looks for. */
    switch (op) {
    case VMM_OP_PUT_BOOT_SOURCE:
        b->boot.kernel_image_path = MUT(f->kernel);
        break;
    case VMM_OP_PUT_METRICS:
        b->mc.metrics_path = MUT("/nonexistent/dir/m");
        break;
    case VMM_OP_PUT_VSOCK:
        b->vc.uds_path = MUT("/nonexistent/dir/s");
        break;
    case VMM_OP_PATCH_DRIVE:
        b->du.drive_id = MUT("x");
        b->du.drive_id_len = 1;
        break;
    case VMM_OP_PATCH_NET:
        b->nu.iface_id = MUT("x");
        b->nu.iface_id_len = 1;
        break;
    case VMM_OP_PATCH_PMEM:
        b->pu.id = MUT("x");
        b->pu.id_len = 1;
        break;
    default:
        break;
    }
}

static void test_preboot_matrix(void **state)
{
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
        union any_body b;
        int st;

        fill_any(&b, matrix[i].op, f);
        st = act(f->v, matrix[i].op, "x", &b);
        if (matrix[i].pre)
            expect_fault(st, VMM_ERR_NS_PRE);
        else
            assert_null(strstr(g_resp, "not supported before"));
    }
    /* FlushMetrics and SendCtrlAltDel are post-boot only. */
    {
        struct instance_action fm = {ACTION_FLUSH_METRICS};
        struct instance_action cad = {ACTION_SEND_CTRL_ALT_DEL};

        expect_fault(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &fm), VMM_ERR_NS_PRE);
        expect_fault(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &cad), VMM_ERR_NS_PRE);
    }
}

static void test_postboot_matrix(void **state)
{
    struct fx *f = *state;
    int st;

    start_vm(f);
    for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
        union any_body b;

        fill_any(&b, matrix[i].op, f);
        st = act(f->v, matrix[i].op, "x", &b);
        if (matrix[i].post)
            expect_fault(st, VMM_ERR_NS_POST);
        else
            assert_null(strstr(g_resp, "not supported after"));
    }
    {
        struct instance_action fm = {ACTION_FLUSH_METRICS};
        struct instance_action cad = {ACTION_SEND_CTRL_ALT_DEL};

        assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &fm), 204);
        assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &cad), 204);
    }
    /* Pre-boot-only GETs answer after boot, and vice versa. */
    get(f->v, VMM_OP_GET_BALLOON_STATS, &st);
    assert_int_equal(st, 400);
    assert_string_equal(get(f->v, VMM_OP_GET_BALLOON, &st),
                        "{\"fault_message\":\"Internal VMM error: Failed "
                        "perform action on device: Device not found\"}");
}

static void test_preboot_only_gets(void **state)
{
    struct fx *f = *state;
    int st;
    char want[256];

    snprintf(want, sizeof(want), "{\"fault_message\":\"%s\"}", VMM_ERR_NS_PRE);
    assert_string_equal(get(f->v, VMM_OP_GET_BALLOON_STATS, &st), want);
    assert_int_equal(st, 400);
    assert_string_equal(get(f->v, VMM_OP_GET_BALLOON_HINTING_STATUS, &st),
                        want);
    assert_string_equal(get(f->v, VMM_OP_GET_HOTPLUG_MEMORY, &st), want);
    assert_string_equal(get(f->v, VMM_OP_GET_BALLOON, &st),
                        "{\"fault_message\":\"Balloon config error: No "
                        "balloon device found.\"}");
    assert_int_equal(st, 400);
}

/* ---------------------------------------------------------------------- */
/* Boot source */

static void test_boot_source(void **state)
{
    struct fx *f = *state;
    struct boot_source_cfg b = boot("/nonexistent/vmlinux");
    char big[3000];
    int st;

    expect_fault(act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b),
                 "Boot source error: The kernel file cannot be opened: No "
                 "such file or directory (os error 2)");
    b = boot(f->kernel);
    b.initrd_path = MUT("/nonexistent/initrd");
    expect_fault(act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b),
                 "Boot source error: The initrd file cannot be opened due to "
                 "invalid path or invalid permissions. No such file or "
                 "directory (os error 2)");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    b = boot(f->kernel);
    b.boot_args = big;
    st = act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b);
    assert_int_equal(st, 400);
    assert_non_null(strstr(g_resp, "{\"fault_message\":\"Boot source error: "
                                   "The kernel command line is invalid: "));
    /* Failures kept nothing. */
    assert_false(f->v->res.boot.configured);

    b = boot(f->kernel);
    b.boot_args = MUT("");
    assert_int_equal(act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b), 204);
    assert_true(f->v->res.boot.kernel_fd >= 0);
    assert_int_equal(f->v->res.boot.initrd_fd, -1);
    assert_non_null(
        strstr(get(f->v, VMM_OP_GET_VM_CONFIG, &st), "\"boot_args\":\"\""));
}

/* ---------------------------------------------------------------------- */
/* Drives */

static const char *drive_order(struct vmm *v)
{
    static char s[64];

    s[0] = '\0';
    for (size_t i = 0; i < v->res.n_drives; i++) {
        strcat(s, v->res.drives[i].cfg.drive_id);
        if (v->res.drives[i].cfg.is_root_device)
            strcat(s, "*");
        strcat(s, " ");
    }
    return s;
}

static void test_drive_root_ordering(void **state)
{
    struct fx *f = *state;
    struct drive_cfg d;

    d = drive("a", f->disk, false);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "a", &d), 204);
    d = drive("b", f->disk, false);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "b", &d), 204);
    d = drive("c", f->disk, false);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "c", &d), 204);
    assert_string_equal(drive_order(f->v), "a b c ");

    /* Re-PUT keeps the slot. */
    d = drive("b", f->disk2, false);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "b", &d), 204);
    assert_string_equal(drive_order(f->v), "a b c ");

    /* Turning c into the root swaps it with the first drive. */
    d = drive("c", f->disk, true);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "c", &d), 204);
    assert_string_equal(drive_order(f->v), "c* b a ");

    /* A second root is refused, a new root too. */
    d = drive("a", f->disk, true);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "a", &d),
                 "Drive config error: A root block device already exists!");
    d = drive("r", f->disk, true);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "r", &d),
                 "Drive config error: A root block device already exists!");

    /* Replacing the root itself is fine, also as a non-root. */
    d = drive("c", f->disk2, true);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "c", &d), 204);
    d = drive("c", f->disk2, false);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "c", &d), 204);
    assert_string_equal(drive_order(f->v), "c b a ");

    /* New root on a list without root goes in front. */
    d = drive("r", f->disk, true);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "r", &d), 204);
    assert_string_equal(drive_order(f->v), "r* c b a ");
}

static void test_drive_errors(void **state)
{
    struct fx *f = *state;
    struct drive_cfg d;
    struct pmem_cfg p;
    char want[512];

    d = drive("a", "/nonexistent/disk", false);
    snprintf(want, sizeof(want),
             "Drive config error: Unable to create the virtio block device: "
             "Virtio backend error: Error manipulating the backing file: No "
             "such file or directory (os error 2) %s",
             "/nonexistent/disk");
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "a", &d), want);

    d = drive("a", NULL, false);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "a", &d),
                 "Drive config error: Unable to create the virtio block "
                 "device: Invalid block config.");
    d = drive("a", f->disk, false);
    d.socket = MUT("/tmp/vhost.sock");
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "a", &d),
                 "Drive config error: Unable to create the virtio block "
                 "device: Invalid block config.");
    d = drive("a", NULL, false);
    d.socket = MUT("/tmp/vhost.sock");
    d.has_is_read_only = true;
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "a", &d),
                 "Drive config error: Unable to create the virtio block "
                 "device: Invalid block config.");
    assert_int_equal(f->v->res.n_drives, 0);

    /* Root pmem vs root block, both ways. */
    memset(&p, 0, sizeof(p));
    p.id = MUT("pm");
    p.id_len = 2;
    p.path_on_host = f->disk;
    p.root_device = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_PMEM, "pm", &p), 204);
    d = drive("a", f->disk, true);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "a", &d),
                 "Drive config error: Attempt to add block as a root device "
                 "while the root device defined as a pmem device");
    p.id = MUT("pm2");
    p.id_len = 3;
    expect_fault(act(f->v, VMM_OP_PUT_PMEM, "pm2", &p),
                 "Pmem config error: A root pmem device already exist");
    p.id = MUT("pm");
    p.id_len = 2;
    p.root_device = false;
    assert_int_equal(act(f->v, VMM_OP_PUT_PMEM, "pm", &p), 204);
    d = drive("a", f->disk, true);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "a", &d), 204);
    p.root_device = true;
    expect_fault(act(f->v, VMM_OP_PUT_PMEM, "pm", &p),
                 "Pmem config error: Attempt to add pmem as a root device "
                 "while the root device defined as a block device");
}

static void test_drive_read_only_open(void **state)
{
    struct fx *f = *state;
    struct drive_cfg d = drive("ro", f->disk, false);

    assert_int_equal(chmod(f->disk, 0444), 0);
    d.has_is_read_only = true;
    d.is_read_only = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "ro", &d), 204);
    assert_int_equal(f->v->res.drives[0].size, 1 << 20);
    if (geteuid() != 0) {
        /* Read-write open of a read-only file fails (root bypasses it). */
        d.is_read_only = false;
        assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "ro", &d), 400);
        assert_non_null(strstr(g_resp, "Permission denied (os error 13)"));
    }
}

/* ---------------------------------------------------------------------- */
/* Network interfaces */

static const char *net_order(struct vmm *v)
{
    static char s[64];

    s[0] = '\0';
    for (size_t i = 0; i < v->res.n_nets; i++) {
        strcat(s, v->res.nets[i].cfg.iface_id);
        strcat(s, " ");
    }
    return s;
}

static void test_net_swap_remove_and_errors(void **state)
{
    struct fx *f = *state;
    struct net_iface_cfg n;

    n = nic("a", "tapa", 1);
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "a", &n), 204);
    n = nic("b", "tapb", 2);
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "b", &n), 204);
    n = nic("c", "tapc", 3);
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "c", &n), 204);
    assert_string_equal(net_order(f->v), "a b c ");

    /* [a,b,c] re-PUT a -> [c,b,a] (swap_remove + push). */
    n = nic("a", "tapa", 1);
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "a", &n), 204);
    assert_string_equal(net_order(f->v), "c b a ");

    /* Same MAC on another id. */
    n = nic("d", "tapd", 2);
    expect_fault(act(f->v, VMM_OP_PUT_NET, "d", &n),
                 "Network config error: The MAC address is already in use: "
                 "06:00:00:00:00:02");
    /* Same MAC on the same id is a replacement. */
    n = nic("b", "tapb", 2);
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "b", &n), 204);
    assert_string_equal(net_order(f->v), "c a b ");

    /* MTU range. */
    n = nic("e", "tape", -1);
    n.has_mtu = true;
    n.mtu = 67;
    expect_fault(act(f->v, VMM_OP_PUT_NET, "e", &n),
                 "Network config error: Could not create the network device: "
                 "MTU 67 is out of range [68, 65535]");
    n.mtu = 68;
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "e", &n), 204);

    /* TAP failure; a failed re-PUT loses the old NIC, as upstream. */
    n = nic("c", "badtap", -1);
    expect_fault(act(f->v, VMM_OP_PUT_NET, "c", &n),
                 "Network config error: Could not create the network device: "
                 "Open tap device failed: Error while creating ifreq "
                 "structure: Device or resource busy (os error 16). Invalid "
                 "TUN/TAP Backend provided by badtap. Check our documentation "
                 "on setting up the network devices.");
    assert_string_equal(net_order(f->v), "e a b ");
}

static void test_real_tap_name_too_long(void **state)
{
    struct fx *f = *state;
    struct net_iface_cfg n = nic("a", "0123456789abcdefXYZ", -1);
    int st;

    (void)f;
    f->v->res.tap_open = res_tap_open;
    st = act(f->v, VMM_OP_PUT_NET, "a", &n);
    assert_int_equal(st, 400);
    /* Depending on /dev/net/tun access, one of upstream's two texts. */
    if (!strstr(g_resp, "Couldn't open /dev/net/tun"))
        assert_string_equal(g_resp,
                            "{\"fault_message\":\"Network config error: Could "
                            "not create the network device: Open tap device "
                            "failed: Invalid interface name\"}");
}

/* The real TAP path: the kernel names "sqv%d", and upstream reports the
 * name it got; a TAP held by another NIC is busy. Needs CAP_NET_ADMIN. */
static void test_real_tap(void **state)
{
    struct fx *f = *state;
    struct net_iface_cfg n = nic("a", "sqv%d", -1);
    char want[512], name[RES_IFNAMSIZ];
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    int st;

    if (fd < 0) {
        print_message("skipped: /dev/net/tun: %s\n", strerror(errno));
        skip();
    }
    close(fd);
    f->v->res.tap_open = res_tap_open;
    st = act(f->v, VMM_OP_PUT_NET, "a", &n);
    if (st != 204 && strstr(g_resp, "Operation not permitted")) {
        print_message("skipped: no CAP_NET_ADMIN\n");
        skip();
    }
    assert_int_equal(st, 204);
    snprintf(name, sizeof(name), "%s", f->v->res.nets[0].cfg.host_dev_name);
    assert_int_equal(strncmp(name, "sqv", 3), 0);
    assert_null(strchr(name, '%'));
    snprintf(want, sizeof(want), "\"host_dev_name\":\"%s\"", name);
    assert_non_null(strstr(get(f->v, VMM_OP_GET_VM_CONFIG, &st), want));

    n = nic("b", name, -1);
    snprintf(want, sizeof(want),
             "Network config error: Could not create the network device: "
             "Open tap device failed: Error while creating ifreq structure: "
             "Device or resource busy (os error 16). Invalid TUN/TAP Backend "
             "provided by %s. Check our documentation on setting up the "
             "network devices.",
             name);
    expect_fault(act(f->v, VMM_OP_PUT_NET, "b", &n), want);
}

/* ---------------------------------------------------------------------- */
/* Machine config, balloon, CPU templates */

static void test_machine_config_rules(void **state)
{
    struct fx *f = *state;
    struct machine_cfg m;
    struct balloon_cfg bc = {.amount_mib = 100, .deflate_on_oom = true};
    int st;

    static const char vcpu_err[] =
        "Machine config error: The number of vCPUs must be greater than 0, "
        "less than 32 and must be 1 or an even number if SMT is enabled.";
    static const char mem_err[] =
        "Machine config error: The memory size (MiB) is either 0, or not a "
        "multiple of the configured page size.";

    m = machine_put(0, 128);
    expect_fault(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), vcpu_err);
    m = machine_put(33, 128);
    expect_fault(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), vcpu_err);
    m = machine_put(3, 128);
    m.smt = true;
    expect_fault(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), vcpu_err);
    m = machine_put(32, 128);
    m.smt = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), 204);
    m = machine_put(1, 0);
    expect_fault(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), mem_err);
    m = machine_put(1, 129);
    m.huge_pages = HUGE_PAGES_2M;
    expect_fault(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), mem_err);
    m.huge_pages = HUGE_PAGES_TRANSPARENT;
    expect_fault(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), mem_err);
    m.mem_size_mib = 130;
    assert_int_equal(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), 204);
    assert_string_equal(get(f->v, VMM_OP_GET_MACHINE_CONFIG, &st),
                        "{\"vcpu_count\":1,\"mem_size_mib\":130,\"smt\":false,"
                        "\"track_dirty_pages\":false,\"huge_pages\":"
                        "\"Transparent\"}");

    /* PATCH with smt on an odd count: uses the current vcpu_count. */
    memset(&m, 0, sizeof(m));
    m.has_vcpu_count = true;
    m.vcpu_count = 3;
    assert_int_equal(act(f->v, VMM_OP_PATCH_MACHINE_CONFIG, NULL, &m), 204);
    memset(&m, 0, sizeof(m));
    m.has_smt = true;
    m.smt = true;
    expect_fault(act(f->v, VMM_OP_PATCH_MACHINE_CONFIG, NULL, &m), vcpu_err);

    /* Balloon interplay, both directions. */
    bc.amount_mib = 131;
    expect_fault(act(f->v, VMM_OP_PUT_BALLOON, NULL, &bc),
                 "Balloon config error: Amount of pages requested is too "
                 "large.");
    bc.amount_mib = 100;
    assert_int_equal(act(f->v, VMM_OP_PUT_BALLOON, NULL, &bc), 204);
    m = machine_put(1, 64);
    expect_fault(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m),
                 "Machine config error: The memory size (MiB) is smaller than "
                 "the previously set balloon device target size.");
    m = machine_put(1, 100);
    assert_int_equal(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), 204);
    assert_string_equal(get(f->v, VMM_OP_GET_BALLOON, &st),
                        "{\"amount_mib\":100,\"deflate_on_oom\":true,"
                        "\"stats_polling_interval_s\":0,\"free_page_hinting\":"
                        "false,\"free_page_reporting\":false}");
    assert_int_equal(st, 200);
}

static void test_cpu_template_keep_clear(void **state)
{
    struct fx *f = *state;
    struct machine_cfg m = machine_put(2, 256);
    struct cpu_template custom;
    struct kvm_cap_modifier cap = {42, true};
    struct vmm_call *a;
    int st;

    /* PUT with a static template; response deprecated. */
    m.has_cpu_template = true;
    m.cpu_template = STATIC_CPU_TEMPLATE_T2;
    m.deprecated = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), 204);
    assert_true(g_last->deprecated);
    assert_string_equal(get(f->v, VMM_OP_GET_MACHINE_CONFIG, &st),
                        "{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false,"
                        "\"cpu_template\":\"T2\",\"track_dirty_pages\":false,"
                        "\"huge_pages\":\"None\"}");

    /* PUT without cpu_template keeps it, resets the other defaults. */
    m = machine_put(2, 256);
    m.smt = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), 204);
    assert_false(g_last->deprecated);
    m = machine_put(2, 256);
    assert_int_equal(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), 204);
    assert_string_equal(get(f->v, VMM_OP_GET_MACHINE_CONFIG, &st),
                        "{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false,"
                        "\"cpu_template\":\"T2\",\"track_dirty_pages\":false,"
                        "\"huge_pages\":\"None\"}");

    /* A custom template replaces it and is not shown. */
    memset(&custom, 0, sizeof(custom));
    custom.n_kvm_caps = 1;
    custom.kvm_caps = &cap;
    assert_int_equal(act(f->v, VMM_OP_PUT_CPU_CONFIG, NULL, &custom), 204);
    assert_true(f->v->res.has_custom_template);
    assert_int_equal(f->v->res.custom_template.kvm_caps[0].cap, 42);
    assert_string_equal(get(f->v, VMM_OP_GET_MACHINE_CONFIG, &st),
                        "{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false,"
                        "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}");
    /* ... and survives a PUT without cpu_template ... */
    assert_int_equal(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), 204);
    assert_true(f->v->res.has_custom_template);
    /* ... but "None" clears it. */
    m.has_cpu_template = true;
    m.cpu_template = STATIC_CPU_TEMPLATE_NONE;
    m.deprecated = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), 204);
    assert_false(f->v->res.has_custom_template);
    assert_false(f->v->res.machine.has_cpu_template);
    a = g_last;
    assert_true(a->deprecated);
}

/* ---------------------------------------------------------------------- */
/* Vsock, entropy, hotplug, logger, metrics */

static void test_vsock(void **state)
{
    struct fx *f = *state;
    struct vsock_cfg vc;
    char p1[128], p2[128], want[512];

    snprintf(p1, sizeof(p1), "%s/v1.sock", f->dir);
    snprintf(p2, sizeof(p2), "%s/v2.sock", f->dir);
    memset(&vc, 0, sizeof(vc));
    vc.guest_cid = 3;
    vc.uds_path = p1;
    vc.vsock_id = MUT("vsock0");
    vc.deprecated = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_VSOCK, NULL, &vc), 204);
    assert_true(g_last->deprecated);
    assert_int_equal(access(p1, F_OK), 0);

    /* Re-PUT: the old socket file goes away, the new one is bound. */
    vc.uds_path = p2;
    vc.guest_cid = 15;
    assert_int_equal(act(f->v, VMM_OP_PUT_VSOCK, NULL, &vc), 204);
    assert_int_equal(access(p1, F_OK), -1);
    assert_int_equal(access(p2, F_OK), 0);

    /* Binding to an existing path fails (after the old one is removed). */
    make_file(p1, 0);
    vc.uds_path = p1;
    expect_fault(act(f->v, VMM_OP_PUT_VSOCK, NULL, &vc),
                 "Vsock config error: Cannot create backend for vsock device: "
                 "Error binding to the host-side Unix socket: Address already "
                 "in use (os error 98)");
    assert_false(f->v->res.has_vsock);
    assert_int_equal(access(p2, F_OK), -1);

    vc.uds_path = p2;
    assert_int_equal(act(f->v, VMM_OP_PUT_VSOCK, NULL, &vc), 204);
    snprintf(want, sizeof(want),
             "\"vsock\":{\"guest_cid\":15,\"uds_path\":\"%s\"}", p2);
    {
        int st;

        assert_non_null(strstr(get(f->v, VMM_OP_GET_VM_CONFIG, &st), want));
    }
}

static void test_hotplug_memory_rules(void **state)
{
    struct fx *f = *state;
    static const struct {
        uint32_t total, block, slot;
        const char *err;
    } cases[] = {
        {1024, 1, 128, "Block size must not be lower than 2 MiB"},
        {1024, 6, 128, "Block size must be a power of 2"},
        {1024, 2, 64, "Slot size must not be lower than 128 MiB"},
        {1024, 256, 384,
         "Slot size must be a multiple of block size (256 MiB)"},
        {128, 2, 256, "Total size must not be lower than slot size (256 MiB)"},
        {1000, 2, 128, "Total size must be a multiple of slot size (128 MiB)"},
        {1024, 128, 1024, NULL},
    };
    int st;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hotplug_memory_cfg h = {cases[i].total, cases[i].block,
                                       cases[i].slot};
        char want[256];

        st = act(f->v, VMM_OP_PUT_HOTPLUG_MEMORY, NULL, &h);
        if (!cases[i].err) {
            assert_int_equal(st, 204);
            continue;
        }
        snprintf(want, sizeof(want), "Memory hotplug config error: %s",
                 cases[i].err);
        expect_fault(st, want);
    }
    start_vm(f);
    assert_string_equal(get(f->v, VMM_OP_GET_HOTPLUG_MEMORY, &st),
                        "{\"block_size_mib\":128,\"total_size_mib\":1024,"
                        "\"slot_size_mib\":1024,\"plugged_size_mib\":0,"
                        "\"requested_size_mib\":0}");
    assert_int_equal(st, 200);
}

static void test_logger_and_metrics(void **state)
{
    struct fx *f = *state;
    struct logger_cfg l;
    struct metrics_cfg mc;
    char path[128];

    memset(&l, 0, sizeof(l));
    l.log_path = MUT("/nonexistent/dir/log");
    expect_fault(act(f->v, VMM_OP_PUT_LOGGER, NULL, &l),
                 "Logger error: Failed to open target file: No such file or "
                 "directory (os error 2)");

    /* A good target; the level resets to Info whenever it is omitted. */
    snprintf(path, sizeof(path), "%s/log", f->dir);
    l.log_path = path;
    l.has_level = true;
    l.level = LOG_FILTER_WARN;
    assert_int_equal(act(f->v, VMM_OP_PUT_LOGGER, NULL, &l), 204);
    assert_int_equal(log_get_level(), LOG_WARN);
    memset(&l, 0, sizeof(l));
    assert_int_equal(act(f->v, VMM_OP_PUT_LOGGER, NULL, &l), 204);
    assert_int_equal(log_get_level(), LOG_INFO);
    log_warn("into the file");
    {
        struct stat lst;

        assert_int_equal(stat(path, &lst), 0);
        assert_true(lst.st_size > 0);
    }
    log_init(); /* back to stdout for the other tests */

    memset(&mc, 0, sizeof(mc));
    mc.metrics_path = MUT("/nonexistent/dir/metrics");
    expect_fault(act(f->v, VMM_OP_PUT_METRICS, NULL, &mc),
                 "Metrics error: Cannot initialize the metrics system due to "
                 "bad user input: No such file or directory (os error 2)");
    snprintf(path, sizeof(path), "%s/metrics", f->dir);
    mc.metrics_path = path;
    assert_int_equal(act(f->v, VMM_OP_PUT_METRICS, NULL, &mc), 204);
    expect_fault(act(f->v, VMM_OP_PUT_METRICS, NULL, &mc),
                 "Metrics error: Cannot initialize the metrics system due to "
                 "bad user input: Reinitialization of metrics not allowed.");
    /* Neither is a boot-path resource. */
    assert_false(f->v->boot_path);

    /* FlushMetrics writes a line to the sink. */
    {
        struct instance_action fm = {ACTION_FLUSH_METRICS};
        struct stat st;

        start_vm(f);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, 0);
        assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, NULL, &fm), 204);
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size > 0);
    }
}

/* ---------------------------------------------------------------------- */
/* MMDS */

static void test_mmds_api(void **state)
{
    struct fx *f = *state;
    struct json_value *doc, *patch;
    struct mmds_cfg mc;
    char *ids[2] = {MUT("1"), MUT("foo")};
    struct net_iface_cfg n = nic("1", "tap1", 1);
    int st;

    assert_string_equal(get(f->v, VMM_OP_GET_MMDS, &st), "{}");
    assert_int_equal(st, 200);

    patch = json_new_object();
    json_object_set(patch, "a", 1, json_new_u64(1));
    expect_fault(act(f->v, VMM_OP_PATCH_MMDS, NULL, patch),
                 "MMDS error: The MMDS data store is not initialized.");

    doc = json_new_object();
    json_object_set(doc, "z", 1, json_new_str("last", 4));
    json_object_set(doc, "b", 1, json_new_str("x", 1));
    assert_int_equal(act(f->v, VMM_OP_PUT_MMDS, NULL, doc), 204);
    assert_true(g_last->body_taken); /* the store took it */
    assert_int_equal(act(f->v, VMM_OP_PATCH_MMDS, NULL, patch), 204);
    assert_string_equal(get(f->v, VMM_OP_GET_MMDS, &st),
                        "{\"a\":1,\"b\":\"x\",\"z\":\"last\"}");
    json_value_free(patch);
    /* PUT/PATCH /mmds are not boot-path resources. */
    assert_false(f->v->boot_path);

    /* mmds/config rules, in upstream's order. */
    memset(&mc, 0, sizeof(mc));
    mc.has_ipv4_address = true;
    memcpy(mc.ipv4_address, (uint8_t[]){169, 254, 0, 1}, 4);
    expect_fault(act(f->v, VMM_OP_PUT_MMDS_CONFIG, NULL, &mc),
                 "MMMDS config error: The MMDS IPv4 address is not link "
                 "local.");
    mc.has_ipv4_address = false;
    expect_fault(act(f->v, VMM_OP_PUT_MMDS_CONFIG, NULL, &mc),
                 "MMMDS config error: The list of network interface IDs that "
                 "allow forwarding MMDS requests is empty.");
    mc.n_network_interfaces = 2;
    mc.network_interfaces = ids;
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "1", &n), 204);
    expect_fault(act(f->v, VMM_OP_PUT_MMDS_CONFIG, NULL, &mc),
                 "MMMDS config error: The list of network interface IDs "
                 "provided contains at least one ID that does not correspond "
                 "to any existing network interface.");
    mc.n_network_interfaces = 1;
    mc.deprecated = true; /* V1 by default */
    assert_int_equal(act(f->v, VMM_OP_PUT_MMDS_CONFIG, NULL, &mc), 204);
    assert_true(g_last->deprecated);
    assert_non_null(strstr(get(f->v, VMM_OP_GET_VM_CONFIG, &st),
                           "\"mmds-config\":{\"version\":\"V1\","
                           "\"network_interfaces\":[\"1\"],\"ipv4_address\":"
                           "\"169.254.169.254\",\"imds_compat\":false}"));
}

static void test_mmds_limit_413(void **state)
{
    struct fx *f = *state;
    struct vmm_opts o = {.instance_id = "x", .mmds_size_limit = 10};
    struct vmm *v = vmm_new(NULL, &o);
    struct json_value *doc = json_new_object(), *patch;
    int st;

    (void)f;
    /* {"k":"12"} is exactly 10 bytes: fits. */
    json_object_set(doc, "k", 1, json_new_str("12", 2));
    st = act(v, VMM_OP_PUT_MMDS, NULL, doc);
    assert_int_equal(st, 204);
    patch = json_new_object();
    json_object_set(patch, "k", 1, json_new_str("123", 3));
    st = act(v, VMM_OP_PATCH_MMDS, NULL, patch);
    assert_int_equal(st, 413);
    assert_string_equal(g_resp, "{\"fault_message\":\"MMDS limit exceeded "
                                "error: The MMDS patch request doesn't "
                                "fit.\"}");
    json_value_free(patch);
    doc = json_new_str("0123456789", 10);
    st = act(v, VMM_OP_PUT_MMDS, NULL, doc);
    assert_int_equal(st, 413);
    assert_string_equal(get(v, VMM_OP_GET_MMDS, &st), "{\"k\":\"12\"}");
    vmm_free(v);
}

static void test_mmds_post_boot_needs_nic(void **state)
{
    struct fx *f = *state;
    struct json_value *doc = json_new_object();
    int st;

    assert_int_equal(act(f->v, VMM_OP_PUT_MMDS, NULL, doc), 204);
    start_vm(f);
    assert_string_equal(get(f->v, VMM_OP_GET_MMDS, &st),
                        "{\"fault_message\":\"MMDS error: The MMDS data store "
                        "is not initialized.\"}");
    assert_int_equal(st, 400);
    doc = json_new_object();
    expect_fault(act(f->v, VMM_OP_PUT_MMDS, NULL, doc),
                 "MMDS error: The MMDS data store is not initialized.");
    json_value_free(doc);
}

/* ---------------------------------------------------------------------- */
/* Snapshot load gating (digest 7.4) */

static void test_snapshot_load_gating(void **state)
{
    struct fx *f = *state;
    struct snapshot_load sl;
    struct logger_cfg l;
    struct serial_cfg s;
    struct boot_source_cfg b = boot("/nonexistent");
    int st;

    memset(&sl, 0, sizeof(sl));
    memset(&l, 0, sizeof(l));
    memset(&s, 0, sizeof(s));
    assert_int_equal(act(f->v, VMM_OP_PUT_LOGGER, NULL, &l), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_SERIAL, NULL, &s), 204);
    st = act(f->v, VMM_OP_PUT_SNAPSHOT_LOAD, NULL, &sl);
    assert_int_equal(st, 400);
    assert_null(strstr(g_resp, "not allowed after configuring"));

    /* Even a failed boot-path PUT closes the door. */
    assert_int_equal(act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b), 400);
    expect_fault(act(f->v, VMM_OP_PUT_SNAPSHOT_LOAD, NULL, &sl),
                 "Load snapshot error: Loading a microVM snapshot not allowed "
                 "after configuring boot-specific resources.");
}

/* ---------------------------------------------------------------------- */
/* Post-boot device operations */

static char g_metrics[1 << 16];

/* PATCH /network-interfaces/{id} after boot: the live device first, then
 * what GET /vm/config shows (absent buckets unchanged, a zero bucket
 * removed); nothing changes when the device refuses. */
static void test_patch_net_after_boot(void **state)
{
    struct fx *f = *state;
    struct net_iface_cfg n = nic("eth0", "tap0", 1);
    struct net_iface_update u;
    int st;

    n.has_rx_rate_limiter = true;
    n.rx_rate_limiter.has_ops = true;
    n.rx_rate_limiter.ops.size = 100;
    n.rx_rate_limiter.ops.refill_time = 1000;
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "eth0", &n), 204);
    /* As upstream, the device's metrics group exists from PUT on. */
    assert_true(metrics_serialize(g_metrics, sizeof(g_metrics)) > 0);
    assert_non_null(strstr(g_metrics, "\"net_eth0\":{"));
    start_vm(f);

    memset(&u, 0, sizeof(u));
    u.iface_id = MUT("eth9");
    u.iface_id_len = 4;
    expect_fault(act(f->v, VMM_OP_PATCH_NET, "eth9", &u),
                 "Network config error: Unable to update the net device: "
                 "Failed perform action on device: Device not found");
    assert_int_equal(f->patches, 0);

    u.iface_id = MUT("eth0");
    u.has_tx_rate_limiter = true;
    u.tx_rate_limiter.has_bandwidth = true;
    u.tx_rate_limiter.bandwidth.size = 4096;
    u.tx_rate_limiter.bandwidth.refill_time = 100;
    f->fail_patch = 1;
    expect_fault(act(f->v, VMM_OP_PATCH_NET, "eth0", &u),
                 "Network config error: Unable to update the net device: "
                 "Failed perform action on device: injected");
    assert_null(strstr(get(f->v, VMM_OP_GET_VM_CONFIG, &st), "4096"));

    f->fail_patch = 0;
    assert_int_equal(act(f->v, VMM_OP_PATCH_NET, "eth0", &u), 204);
    assert_int_equal(f->patch_op, VMM_OP_PATCH_NET);
    assert_string_equal(f->patch_id, "eth0");
    assert_non_null(
        strstr(get(f->v, VMM_OP_GET_VM_CONFIG, &st),
               "\"rx_rate_limiter\":{\"bandwidth\":null,\"ops\":{\"size\":100,"
               "\"one_time_burst\":null,\"refill_time\":1000}},"
               "\"tx_rate_limiter\":{\"bandwidth\":{\"size\":4096,"
               "\"one_time_burst\":null,\"refill_time\":100},\"ops\":null}"));

    /* A zero-sized ops bucket removes the RX limiter altogether. */
    memset(&u, 0, sizeof(u));
    u.iface_id = MUT("eth0");
    u.iface_id_len = 4;
    u.has_rx_rate_limiter = true;
    u.rx_rate_limiter.has_ops = true;
    assert_int_equal(act(f->v, VMM_OP_PATCH_NET, "eth0", &u), 204);
    assert_non_null(strstr(get(f->v, VMM_OP_GET_VM_CONFIG, &st),
                           "\"rx_rate_limiter\":null"));
    assert_int_equal(f->patches, 3);
}

/* The balloon's PATCHes reach the running device (fake: patch_device),
 * and GET /balloon then shows the new target. */
static void test_balloon_after_boot(void **state)
{
    struct fx *f = *state;
    struct balloon_cfg bc = {.amount_mib = 16,
                             .deflate_on_oom = false,
                             .stats_polling_interval_s = 1,
                             .free_page_hinting = true};
    struct balloon_update bu = {8};
    struct balloon_stats_update su = {3};
    int st;

    assert_int_equal(act(f->v, VMM_OP_PUT_BALLOON, NULL, &bc), 204);
    start_vm(f);
    /* No driver activated it yet: upstream's text, nothing recorded. */
    expect_fault(act(f->v, VMM_OP_PATCH_BALLOON, NULL, &bu),
                 "Balloon update error: Balloon: Device not activated yet.");
    assert_int_equal(f->v->res.balloon.amount_mib, 16);
    f->balloon_active = 1;
    assert_int_equal(act(f->v, VMM_OP_PATCH_BALLOON, NULL, &bu), 204);
    assert_int_equal(f->patch_op, VMM_OP_PATCH_BALLOON);
    assert_string_equal(f->patch_id, "balloon");
    assert_non_null(
        strstr(get(f->v, VMM_OP_GET_BALLOON, &st), "\"amount_mib\":8,"));
    assert_int_equal(act(f->v, VMM_OP_PATCH_BALLOON_STATS, NULL, &su), 204);
    assert_int_equal(f->patch_op, VMM_OP_PATCH_BALLOON_STATS);
    assert_int_equal(f->v->res.balloon.stats_polling_interval_s, 3);
    assert_int_equal(act(f->v, VMM_OP_PATCH_BALLOON_HINTING_START, NULL, NULL),
                     204);
    assert_int_equal(f->patch_op, VMM_OP_PATCH_BALLOON_HINTING_START);
    assert_int_equal(act(f->v, VMM_OP_PATCH_BALLOON_HINTING_STOP, NULL, NULL),
                     204);
    assert_int_equal(f->patch_op, VMM_OP_PATCH_BALLOON_HINTING_STOP);
    f->balloon_active = 0;
}

/* PATCH /pmem/{id} and /hotplug/memory reach the running devices (fake:
 * patch_device) by their ids; GET /vm/config shows the new limiter; the
 * devices' refusals come back behind upstream's prefixes. */
static void test_memory_devices_after_boot(void **state)
{
    struct fx *f = *state;
    struct hotplug_memory_cfg h = {256, 2, 128};
    struct hotplug_memory_update hu = {64};
    struct pmem_update pu;
    int st;

    assert_int_equal(put_pmem(f, "pm", f->disk), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_HOTPLUG_MEMORY, NULL, &h), 204);
    start_vm(f);
    memset(&pu, 0, sizeof(pu));
    pu.id = MUT("pm");
    pu.id_len = 2;
    pu.has_rate_limiter = true;
    pu.rate_limiter.has_ops = true;
    pu.rate_limiter.ops.size = 7;
    pu.rate_limiter.ops.refill_time = 100;
    assert_int_equal(act(f->v, VMM_OP_PATCH_PMEM, "pm", &pu), 204);
    assert_int_equal(f->patch_op, VMM_OP_PATCH_PMEM);
    assert_string_equal(f->patch_id, "pm");
    assert_non_null(strstr(get(f->v, VMM_OP_GET_VM_CONFIG, &st),
                           "\"ops\":{\"size\":7,\"one_time_burst\":null,"
                           "\"refill_time\":100}"));
    assert_int_equal(act(f->v, VMM_OP_PATCH_HOTPLUG_MEMORY, NULL, &hu), 204);
    assert_int_equal(f->patch_op, VMM_OP_PATCH_HOTPLUG_MEMORY);
    assert_string_equal(f->patch_id, "mem");
    f->fail_patch = 1;
    expect_fault(act(f->v, VMM_OP_PATCH_HOTPLUG_MEMORY, NULL, &hu),
                 "Memory hotplug update error: Failed to create memory "
                 "hotplug device: Failed perform action on device: injected");
    expect_fault(act(f->v, VMM_OP_PATCH_PMEM, "pm", &pu),
                 "Pmem config error: Unable to patch the pmem device: Failed "
                 "perform action on device: injected Please verify the "
                 "request arguments.");
    f->fail_patch = 0;
    pu.id = MUT("xx");
    expect_fault(act(f->v, VMM_OP_PATCH_PMEM, "xx", &pu),
                 "Pmem config error: Unable to patch the pmem device: Failed "
                 "perform action on device: Device not found Please verify "
                 "the request arguments.");
}

/* Open file descriptors of this process. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* What GET /vm/config shows now. */
static const char *vm_config(struct fx *f)
{
    int st;
    const char *body = get(f->v, VMM_OP_GET_VM_CONFIG, &st);

    assert_int_equal(st, 200);
    return body;
}

/* Slot IDs as a guest reads them: virtio vendor, device 0x1040 + type. */
#define IDS_BLOCK 0x10421af4u
#define IDS_NET   0x10411af4u
#define IDS_PMEM  0x105b1af4u
#define IDS_NONE  0xffffffffu

/* A running PCI machine (the fake builds the real bus) with a root drive
 * in slot 1 and eth0 in slot 2. */
static void start_pci_vm(struct fx *f)
{
    struct drive_cfg d = drive("rootfs", f->disk, true);
    struct net_iface_cfg n = nic("eth0", "tap0", 1);

    f->v->res.pci_enabled = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "rootfs", &d), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "eth0", &n), 204);
    start_vm(f);
    assert_int_equal(fake_pci_ids(&f->pci, 1), IDS_BLOCK);
    assert_int_equal(fake_pci_ids(&f->pci, 2), IDS_NET);
}

/* Hot-plug after boot (vmm_hotplug.c): upstream's checks in its order,
 * each with its text; nothing of a refused request is kept. */
static void test_hotplug_decisions(void **state)
{
    struct fx *f = *state;
    struct drive_cfg d;
    struct net_iface_cfg n;
    struct pmem_cfg p;
    char want[512];
    int fds;

    assert_int_equal(put_pmem(f, "pm0", f->disk), 204);
    start_pci_vm(f);
    fds = open_fds();

    /* An id the bus has comes before anything about the device. */
    d = drive("rootfs", "/nonexistent", true);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "rootfs", &d), "Device ID in use");
    memset(&p, 0, sizeof(p));
    p.id = MUT("pm0");
    p.id_len = 3;
    p.path_on_host = MUT("/nonexistent");
    p.root_device = true;
    expect_fault(act(f->v, VMM_OP_PUT_PMEM, "pm0", &p), "Device ID in use");
    n = nic("eth0", "bad0", 1);
    expect_fault(act(f->v, VMM_OP_PUT_NET, "eth0", &n), "Device ID in use");

    /* Then the kind's own checks, in upstream's order. */
    d = drive("xtra1", "/nonexistent", true);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "xtra1", &d),
                 "Drive config error: A root block device already exists!");
    d = drive("xtra1", "/nonexistent", false);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "xtra1", &d),
                 "Drive config error: Unable to create the virtio block "
                 "device: Virtio backend error: Error manipulating the "
                 "backing file: No such file or directory (os error 2) "
                 "/nonexistent");
    p.id = MUT("pm1");
    expect_fault(act(f->v, VMM_OP_PUT_PMEM, "pm1", &p),
                 "Pmem config error: Attempt to add pmem as a root device "
                 "while the root device defined as a block device");
    /* Pmem::new opens the file when the device is built. */
    p.root_device = false;
    assert_int_equal(act(f->v, VMM_OP_PUT_PMEM, "pm1", &p), 400);
    assert_non_null(strstr(g_resp, "Pmem config error: Unable to create the "
                                   "virtio-pmem device: "));
    n = nic("eth1", "bad0", 1);
    expect_fault(act(f->v, VMM_OP_PUT_NET, "eth1", &n),
                 "Network config error: The MAC address is already in use: "
                 "06:00:00:00:00:01");
    n = nic("eth1", "bad0", 2);
    snprintf(want, sizeof(want),
             "Network config error: Could not create the network device: "
             "Open tap device failed: Error while creating ifreq structure: "
             "Device or resource busy (os error 16). Invalid TUN/TAP Backend "
             "provided by %s. Check our documentation on setting up the "
             "network devices.",
             "bad0");
    expect_fault(act(f->v, VMM_OP_PUT_NET, "eth1", &n), want);

    /* Nothing kept: configuration, fds, metrics groups, bus. */
    assert_int_equal(f->v->res.n_drives, 1);
    assert_int_equal(f->v->res.n_pmems, 1);
    assert_int_equal(f->v->res.n_nets, 1);
    assert_int_equal(open_fds(), fds);
    assert_true(metrics_serialize(g_metrics, sizeof(g_metrics)) > 0);
    assert_null(strstr(g_metrics, "\"block_xtra1\""));
    assert_int_equal(fake_pci_ids(&f->pci, 4), IDS_NONE);

    /* Unplug: unknown, root. */
    expect_fault(act(f->v, VMM_OP_DELETE_DRIVE, "nope", NULL),
                 "Device not found");
    expect_fault(act(f->v, VMM_OP_DELETE_NET, "eth1", NULL),
                 "Device not found");
    expect_fault(act(f->v, VMM_OP_DELETE_PMEM, "pm1", NULL),
                 "Device not found");
    expect_fault(act(f->v, VMM_OP_DELETE_DRIVE, "rootfs", NULL),
                 "Cannot unplug root device");
}

/* Block, net and pmem plugged into a running bus and unplugged again: the
 * guest sees each in the lowest free slot with its BAR, the configuration
 * and metrics show it, and an unplug gives back everything (slot, BAR,
 * ioeventfds, file and TAP fds, configuration). */
static void test_hotplug_attach_detach(void **state)
{
    struct fx *f = *state;
    struct drive_cfg d = drive("extra", f->disk2, false);
    struct net_iface_cfg n = nic("eth1", "tap1", 2);
    int fds, ioev;

    start_pci_vm(f);
    assert_int_equal(fake_pci_ids(&f->pci, 3), IDS_NONE);
    fds = open_fds();
    ioev = f->pci.ioeventfds;

    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 3), IDS_BLOCK);
    assert_true(fake_pci_bar_mapped(&f->pci, 3));
    assert_int_equal(f->pci.ioeventfds, ioev + 1); /* one queue */
    assert_non_null(strstr(vm_config(f), "\"drive_id\":\"extra\""));
    assert_true(metrics_serialize(g_metrics, sizeof(g_metrics)) > 0);
    assert_non_null(strstr(g_metrics, "\"block_extra\":{"));

    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "eth1", &n), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 4), IDS_NET);
    assert_int_equal(f->pci.ioeventfds, ioev + 3); /* RX and TX */
    assert_non_null(strstr(vm_config(f), "\"iface_id\":\"eth1\""));
    assert_int_equal(put_pmem(f, "pm1", f->disk), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 5), IDS_PMEM);
    assert_non_null(strstr(vm_config(f), "\"id\":\"pm1\""));
    /* The new id is now in use; the MAC too. */
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d), "Device ID in use");

    assert_int_equal(act(f->v, VMM_OP_DELETE_DRIVE, "extra", NULL), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 3), IDS_NONE);
    assert_false(fake_pci_bar_mapped(&f->pci, 3));
    assert_null(strstr(vm_config(f), "\"drive_id\":\"extra\""));
    assert_int_equal(act(f->v, VMM_OP_DELETE_NET, "eth1", NULL), 204);
    assert_int_equal(act(f->v, VMM_OP_DELETE_PMEM, "pm1", NULL), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 4), IDS_NONE);
    assert_int_equal(fake_pci_ids(&f->pci, 5), IDS_NONE);
    assert_int_equal(f->pci.ioeventfds, ioev);
    assert_int_equal(open_fds(), fds);
    assert_int_equal(f->v->res.n_drives, 1);
    assert_int_equal(f->v->res.n_nets, 1);
    assert_int_equal(f->v->res.n_pmems, 0);
    expect_fault(act(f->v, VMM_OP_DELETE_DRIVE, "extra", NULL),
                 "Device not found");
    /* The boot devices stay where they were. */
    assert_int_equal(fake_pci_ids(&f->pci, 1), IDS_BLOCK);
    assert_int_equal(fake_pci_ids(&f->pci, 2), IDS_NET);

    /* A boot device can go too, and its slot is the next one used. */
    assert_int_equal(act(f->v, VMM_OP_DELETE_NET, "eth0", NULL), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 2), IDS_NONE);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 2), IDS_BLOCK);
    assert_true(fake_pci_bar_mapped(&f->pci, 2));
    assert_int_equal(fake_pci_ids(&f->pci, 3), IDS_NONE);
}

/* A pmem unplugged gives back its guest window and its KVM slot number:
 * the next pmem plugged (same window size) gets both, in the hole between
 * the boot pmem's window and a later plugged one's, where a guest reads
 * the window in the device's configuration. */
static void test_hotplug_pmem_window_reused(void **state)
{
    struct fx *f = *state;
    struct mem_window_alloc *win = &f->pci.l.win;
    const uint32_t s0 = MEM_WINDOW_FIRST_SLOT;
    uint64_t w0, w1, w2;

    assert_int_equal(put_pmem(f, "pm0", f->disk), 204);
    start_pci_vm(f);
    assert_int_equal(fake_pci_ids(&f->pci, 3), IDS_PMEM);
    w0 = fake_pci_dev_cfg64(&f->pci, 3, 0);
    assert_int_equal(w0, 512ULL << 30);
    assert_int_equal(fake_pci_dev_cfg64(&f->pci, 3, 8), 2 << 20);
    assert_int_equal(put_pmem(f, "pm1", f->disk), 204);
    assert_int_equal(put_pmem(f, "pm2", f->disk2), 204);
    w1 = fake_pci_dev_cfg64(&f->pci, 4, 0);
    w2 = fake_pci_dev_cfg64(&f->pci, 5, 0);
    assert_int_equal(w1, w0 + (2 << 20));
    assert_int_equal(w2, w1 + (2 << 20));
    assert_true(mem_window_slot_taken(win, s0 + 2));
    assert_int_equal(win->n_taken, 3);

    /* Unplug the middle one: its window and slot number are free. */
    assert_int_equal(act(f->v, VMM_OP_DELETE_PMEM, "pm1", NULL), 204);
    assert_int_equal(win->n_taken, 2);
    assert_false(mem_window_slot_taken(win, s0 + 1));
    assert_true(mem_window_slot_taken(win, s0 + 2));

    /* The next pmem takes them both (and PCI slot 4 again). */
    assert_int_equal(put_pmem(f, "pm3", f->disk2), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 4), IDS_PMEM);
    assert_int_equal(fake_pci_dev_cfg64(&f->pci, 4, 0), w1);
    assert_true(mem_window_slot_taken(win, s0 + 1));
    assert_false(mem_window_slot_taken(win, s0 + 3));
    assert_int_equal(win->n_taken, 3);

    /* A failed plug (the bus change) gives them back too. */
    f->pci.fail_bus = -EBUSY;
    assert_int_equal(put_pmem(f, "pm4", f->disk2), 400);
    f->pci.fail_bus = 0;
    assert_int_equal(win->n_taken, 3);
    assert_false(mem_window_slot_taken(win, s0 + 3));
    assert_int_equal(put_pmem(f, "pm4", f->disk2), 204);
    assert_int_equal(fake_pci_dev_cfg64(&f->pci, 6, 0), w2 + (2 << 20));
    assert_true(mem_window_slot_taken(win, s0 + 3));
}

/* A failure half way (ioeventfds, the bus change) leaves nothing: no
 * slot, no BAR, no ioeventfd, no fd, the configuration unchanged. */
static void test_hotplug_failure_rollback(void **state)
{
    struct fx *f = *state;
    struct drive_cfg d = drive("extra", f->disk2, false);
    struct net_iface_cfg n = nic("eth1", "tap1", 2);
    char before[8192];
    int fds, ioev;

    start_pci_vm(f);
    snprintf(before, sizeof(before), "%s", vm_config(f));
    fds = open_fds();
    ioev = f->pci.ioeventfds;

    /* net's second queue's ioeventfd fails: the first is taken back. */
    f->pci.registrations = 0;
    f->pci.fail_ioeventfd = 2;
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "eth1", &n), 400);
    assert_non_null(strstr(g_resp, "PCI manager error: KVM error: "));
    assert_int_equal(f->pci.ioeventfds, ioev);
    f->pci.fail_ioeventfd = 0;

    f->pci.fail_bus = -EBUSY;
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d), 400);
    assert_non_null(strstr(g_resp, "PCI manager error: Bus error: "));
    assert_int_equal(f->pci.ioeventfds, ioev);

    assert_int_equal(fake_pci_ids(&f->pci, 3), IDS_NONE);
    assert_false(fake_pci_bar_mapped(&f->pci, 3));
    assert_int_equal(open_fds(), fds);
    assert_string_equal(vm_config(f), before);
    assert_int_equal(f->v->res.n_drives, 1);
    assert_int_equal(f->v->res.n_nets, 1);

    /* A failed unplug keeps the device on the bus and in the config. */
    assert_int_equal(act(f->v, VMM_OP_DELETE_NET, "eth0", NULL), 400);
    assert_int_equal(fake_pci_ids(&f->pci, 2), IDS_NET);
    assert_string_equal(vm_config(f), before);

    /* Once the cause is gone the same requests succeed, in slot 3. */
    f->pci.fail_bus = 0;
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 3), IDS_BLOCK);
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "eth1", &n), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 4), IDS_NET);
}

/* A full PCI bus (31 devices) refuses a hot-plug with upstream's
 * PciManagerError once the device itself checked out; an unplug frees a
 * slot the next plug takes. */
static void test_hotplug_full_bus(void **state)
{
    struct fx *f = *state;
    struct drive_cfg d;
    int fds;

    f->v->res.pci_enabled = true;
    for (int i = 0; i < 31; i++) {
        char id[16];

        snprintf(id, sizeof(id), "d%02d", i);
        d = drive(id, f->disk, false);
        assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, id, &d), 204);
    }
    start_vm(f);
    assert_int_equal(fake_pci_ids(&f->pci, 31), IDS_BLOCK);
    fds = open_fds();
    d = drive("extra", "/nonexistent", false);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d),
                 "Drive config error: Unable to create the virtio block "
                 "device: Virtio backend error: Error manipulating the "
                 "backing file: No such file or directory (os error 2) "
                 "/nonexistent");
    d = drive("extra", f->disk, false);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d),
                 "PCI manager error: PCI root error: Could not find an "
                 "available device slot on the PCI bus.");
    assert_int_equal(open_fds(), fds);
    assert_int_equal(f->v->res.n_drives, 31);

    assert_int_equal(act(f->v, VMM_OP_DELETE_DRIVE, "d05", NULL), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 6), IDS_NONE);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d), 204);
    assert_int_equal(fake_pci_ids(&f->pci, 6), IDS_BLOCK);
    assert_true(fake_pci_bar_mapped(&f->pci, 6));
    d = drive("d05", f->disk, false);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "d05", &d),
                 "PCI manager error: PCI root error: Could not find an "
                 "available device slot on the PCI bus.");
}

static void test_postboot_device_ops(void **state)
{
    struct fx *f = *state;
    struct balloon_cfg bc = {.amount_mib = 16,
                             .deflate_on_oom = false,
                             .stats_polling_interval_s = 1};
    struct balloon_stats_update su = {5};
    struct balloon_update bu = {8};
    struct drive_cfg d = drive("rootfs", f->disk, true);
    struct drive_update du;
    struct snapshot_create sc;
    struct vm_state_req pause = {VM_STATE_REQ_PAUSED};
    int st;

    assert_int_equal(act(f->v, VMM_OP_PUT_BALLOON, NULL, &bc), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "rootfs", &d), 204);
    assert_true(metrics_serialize(g_metrics, sizeof(g_metrics)) > 0);
    assert_non_null(strstr(g_metrics, "\"block_rootfs\":{"));
    start_vm(f);

    /* Hot-plug needs PCI. */
    d = drive("extra", f->disk, false);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d),
                 "PCI is not enabled");
    expect_fault(act(f->v, VMM_OP_DELETE_DRIVE, "rootfs", NULL),
                 "PCI is not enabled");
    f->v->res.pci_enabled = true;
    d = drive("rootfs", f->disk, false);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "rootfs", &d), "Device ID in use");
    d = drive("extra", f->disk, true);
    expect_fault(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d),
                 "Drive config error: A root block device already exists!");
    d = drive("extra", f->disk, false);
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "extra", &d), 400);
    assert_int_equal(f->v->res.n_drives, 1); /* never a fake success */
    expect_fault(act(f->v, VMM_OP_DELETE_DRIVE, "nope", NULL),
                 "Device not found");
    expect_fault(act(f->v, VMM_OP_DELETE_DRIVE, "rootfs", NULL),
                 "Cannot unplug root device");

    /* PATCH drive. */
    memset(&du, 0, sizeof(du));
    du.drive_id = MUT("nope");
    du.drive_id_len = 4;
    expect_fault(act(f->v, VMM_OP_PATCH_DRIVE, "nope", &du),
                 "Drive config error: Unable to patch the block device: "
                 "Failed perform action on device: Device not found Please "
                 "verify the request arguments.");
    du.drive_id = MUT("rootfs");
    du.drive_id_len = 6;
    expect_fault(act(f->v, VMM_OP_PATCH_DRIVE, "rootfs", &du),
                 "Drive config error: Unable to patch the block device: "
                 "Block: Running method expected different backend. Please "
                 "verify the request arguments.");

    /* Balloon. */
    assert_string_equal(get(f->v, VMM_OP_GET_BALLOON_STATS, &st),
                        "{\"target_pages\":4096,\"actual_pages\":0,"
                        "\"target_mib\":16,\"actual_mib\":0}");
    assert_int_equal(act(f->v, VMM_OP_PATCH_BALLOON_STATS, NULL, &su), 204);
    assert_int_equal(f->v->res.balloon.stats_polling_interval_s, 5);
    su.stats_polling_interval_s = 0;
    expect_fault(act(f->v, VMM_OP_PATCH_BALLOON_STATS, NULL, &su),
                 "Balloon update error: Balloon: Statistics cannot be "
                 "enabled/disabled after activation.");
    expect_fault(act(f->v, VMM_OP_PATCH_BALLOON_HINTING_START, NULL, NULL),
                 "Balloon update error: Balloon: Attempting to use hinting "
                 "when not enabled");
    assert_string_equal(get(f->v, VMM_OP_GET_BALLOON_HINTING_STATUS, &st),
                        "{\"fault_message\":\"Balloon update error: Balloon: "
                        "Attempting to use hinting when not enabled\"}");
    st = act(f->v, VMM_OP_PATCH_BALLOON, NULL, &bu);
    assert_int_equal(st, 400); /* never a fake 204 */

    /* Snapshot create needs a paused VM. */
    memset(&sc, 0, sizeof(sc));
    expect_fault(act(f->v, VMM_OP_PUT_SNAPSHOT_CREATE, NULL, &sc),
                 "Create snapshot error: Cannot save the microVM state: "
                 "Operation not allowed: save/restore unavailable while "
                 "running");
    assert_int_equal(act(f->v, VMM_OP_PATCH_VM, NULL, &pause), 204);
    st = act(f->v, VMM_OP_PUT_SNAPSHOT_CREATE, NULL, &sc);
    assert_int_equal(st, 400);
    assert_null(strstr(g_resp, "while running"));
}

/* ---------------------------------------------------------------------- */
/* GET /vm/config, byte for byte */

static void test_vm_config_fresh(void **state)
{
    struct fx *f = *state;
    int st;

    assert_string_equal(
        get(f->v, VMM_OP_GET_VM_CONFIG, &st),
        "{\"balloon\":null,\"drives\":[],\"boot-source\":{\"kernel_image_"
        "path\":"
        "\"\",\"initrd_path\":null,\"boot_args\":null},\"cpu-config\":null,"
        "\"logger\":null,\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":"
        "128,\"smt\":false,\"track_dirty_pages\":false,\"huge_pages\":\"None\"}"
        ","
        "\"metrics\":null,\"mmds-config\":null,\"network-interfaces\":[],"
        "\"vsock\":null,\"entropy\":null,\"pmem\":[],\"memory-hotplug\":null}");
    assert_int_equal(st, 200);
}

/* test_api.py::test_get_full_config, with this test's paths. */
static void test_vm_config_full(void **state)
{
    struct fx *f = *state;
    struct boot_source_cfg b = boot(f->kernel);
    struct machine_cfg m = machine_put(2, 256);
    struct drive_cfg d = drive("rootfs", f->disk, true);
    struct balloon_cfg bc = {.amount_mib = 1, .deflate_on_oom = true};
    struct vsock_cfg vc;
    struct hotplug_memory_cfg h = {1024, 128, 1024};
    struct net_iface_cfg n = nic("1", "tap1", 1);
    struct mmds_cfg mc;
    char *ids[1] = {MUT("1")};
    char sock[128], want[4096];
    const char *got;
    int st;

    b.boot_args = MUT("");
    assert_int_equal(act(f->v, VMM_OP_PUT_BOOT_SOURCE, NULL, &b), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_MACHINE_CONFIG, NULL, &m), 204);
    d.has_is_read_only = true;
    d.is_read_only = true;
    d.has_io_engine = true;
    d.io_engine = IO_ENGINE_SYNC;
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "rootfs", &d), 204);
    assert_int_equal(put_pmem(f, "pmem", f->disk), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_BALLOON, NULL, &bc), 204);
    snprintf(sock, sizeof(sock), "%s/vsock.sock", f->dir);
    memset(&vc, 0, sizeof(vc));
    vc.guest_cid = 15;
    vc.uds_path = sock;
    assert_int_equal(act(f->v, VMM_OP_PUT_VSOCK, NULL, &vc), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_HOTPLUG_MEMORY, NULL, &h), 204);
    n.has_tx_rate_limiter = true;
    n.tx_rate_limiter.has_bandwidth = true;
    n.tx_rate_limiter.bandwidth.size = 1000000;
    n.tx_rate_limiter.bandwidth.refill_time = 100;
    /* A disabled ops bucket and an empty rx limiter are reported as null. */
    n.tx_rate_limiter.has_ops = true;
    n.has_rx_rate_limiter = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "1", &n), 204);
    memset(&mc, 0, sizeof(mc));
    mc.version = MMDS_VERSION_V2;
    mc.has_ipv4_address = true;
    memcpy(mc.ipv4_address, (uint8_t[]){169, 254, 169, 250}, 4);
    mc.n_network_interfaces = 1;
    mc.network_interfaces = ids;
    mc.imds_compat = true;
    assert_int_equal(act(f->v, VMM_OP_PUT_MMDS_CONFIG, NULL, &mc), 204);

    snprintf(
        want, sizeof(want),
        "{\"balloon\":{\"amount_mib\":1,\"deflate_on_oom\":true,"
        "\"stats_polling_interval_s\":0,\"free_page_hinting\":false,"
        "\"free_page_reporting\":false},\"drives\":[{\"drive_id\":\"rootfs\","
        "\"partuuid\":null,\"is_root_device\":true,\"cache_type\":\"Unsafe\","
        "\"is_read_only\":true,\"path_on_host\":\"%s\",\"rate_limiter\":null,"
        "\"io_engine\":\"Sync\",\"socket\":null}],\"boot-source\":{"
        "\"kernel_image_path\":\"%s\",\"initrd_path\":null,\"boot_args\":\"\"},"
        "\"cpu-config\":null,\"logger\":null,\"machine-config\":{\"vcpu_"
        "count\":"
        "2,\"mem_size_mib\":256,\"smt\":false,\"track_dirty_pages\":false,"
        "\"huge_pages\":\"None\"},\"metrics\":null,\"mmds-config\":{"
        "\"version\":"
        "\"V2\",\"network_interfaces\":[\"1\"],\"ipv4_address\":"
        "\"169.254.169.250\",\"imds_compat\":true},\"network-interfaces\":[{"
        "\"iface_id\":\"1\",\"host_dev_name\":\"tap1\",\"guest_mac\":"
        "\"06:00:00:00:00:01\",\"mtu\":null,\"rx_rate_limiter\":null,"
        "\"tx_rate_limiter\":{\"bandwidth\":{\"size\":1000000,"
        "\"one_time_burst\":null,\"refill_time\":100},\"ops\":null}}],"
        "\"vsock\":{\"guest_cid\":15,\"uds_path\":\"%s\"},\"entropy\":null,"
        "\"pmem\":[{\"id\":\"pmem\",\"path_on_host\":\"%s\",\"root_device\":"
        "false,\"read_only\":false,\"rate_limiter\":null}],\"memory-hotplug\":{"
        "\"total_size_mib\":1024,\"block_size_mib\":128,\"slot_size_mib\":"
        "1024}}",
        f->disk, f->kernel, sock, f->disk);
    got = get(f->v, VMM_OP_GET_VM_CONFIG, &st);
    assert_string_equal(got, want);
    /* Post-boot it is the same document. */
    start_vm(f);
    assert_string_equal(get(f->v, VMM_OP_GET_VM_CONFIG, &st), want);
}

static void test_vm_config_options(void **state)
{
    struct fx *f = *state;
    struct drive_cfg d = drive("d\"1", f->disk, false);
    struct entropy_cfg e;
    struct net_iface_cfg n = nic("n", "tapn", -1);
    const char *got;
    int st;

    d.partuuid = MUT("0eaa91a0-01");
    d.cache_type = CACHE_TYPE_WRITEBACK;
    d.has_io_engine = true;
    d.io_engine = IO_ENGINE_ASYNC;
    d.has_rate_limiter = true;
    d.rate_limiter.has_ops = true;
    d.rate_limiter.ops.size = 10;
    d.rate_limiter.ops.refill_time = 1;
    d.rate_limiter.ops.has_one_time_burst = true;
    d.rate_limiter.ops.one_time_burst = 5;
    assert_int_equal(act(f->v, VMM_OP_PUT_DRIVE, "x", &d), 204);
    memset(&e, 0, sizeof(e));
    assert_int_equal(act(f->v, VMM_OP_PUT_ENTROPY, NULL, &e), 204);
    n.has_mtu = true;
    n.mtu = 9000;
    assert_int_equal(act(f->v, VMM_OP_PUT_NET, "n", &n), 204);
    got = get(f->v, VMM_OP_GET_VM_CONFIG, &st);
    assert_non_null(strstr(got,
                           "\"drives\":[{\"drive_id\":\"d\\\"1\",\"partuuid\":"
                           "\"0eaa91a0-01\",\"is_root_device\":false,"
                           "\"cache_type\":\"Writeback\",\"is_read_only\":"
                           "false,"));
    assert_non_null(strstr(got, "\"rate_limiter\":{\"bandwidth\":null,\"ops\":"
                                "{\"size\":10,\"one_time_burst\":5,"
                                "\"refill_time\":1}},\"io_engine\":\"Async\","
                                "\"socket\":null}]"));
    assert_non_null(strstr(got, "\"entropy\":{\"rate_limiter\":null}"));
    /* A refill time whose nanoseconds overflow disables the bucket too. */
    e.has_rate_limiter = true;
    e.rate_limiter.has_bandwidth = true;
    e.rate_limiter.bandwidth.size = 1;
    e.rate_limiter.bandwidth.refill_time = UINT64_MAX / 1000000u + 1;
    e.rate_limiter.has_ops = true;
    e.rate_limiter.ops.size = 1;
    e.rate_limiter.ops.refill_time = UINT64_MAX / 1000000u;
    assert_int_equal(act(f->v, VMM_OP_PUT_ENTROPY, NULL, &e), 204);
    got = get(f->v, VMM_OP_GET_VM_CONFIG, &st);
    assert_non_null(strstr(got, "\"entropy\":{\"rate_limiter\":{"
                                "\"bandwidth\":null,\"ops\":{\"size\":1,"
                                "\"one_time_burst\":null,\"refill_time\":"
                                "18446744073709}}}"));
    assert_non_null(strstr(got, "\"guest_mac\":null,\"mtu\":9000,"));
}

/* PATCH rate limiter rules (digest 1.5, "Common: TokenBucket"). */
static void test_rate_limiter_update(void **state)
{
    struct rate_limiter_cfg cur, upd;
    bool has = true;

    (void)state;
    memset(&cur, 0, sizeof(cur));
    cur.has_bandwidth = true;
    cur.bandwidth.size = 100;
    cur.bandwidth.refill_time = 10;
    cur.has_ops = true;
    cur.ops.size = 5;
    cur.ops.refill_time = 1;

    /* Absent limiter: no change. */
    memset(&upd, 0, sizeof(upd));
    res_rate_limiter_update(&has, &cur, false, &upd);
    assert_true(has);
    assert_int_equal(cur.bandwidth.size, 100);

    /* Present limiter, null buckets: no change either. */
    res_rate_limiter_update(&has, &cur, true, &upd);
    assert_true(has && cur.has_bandwidth && cur.has_ops);

    /* Replace bandwidth (burst 0 reported as absent), keep ops. */
    upd.has_bandwidth = true;
    upd.bandwidth.size = 7;
    upd.bandwidth.refill_time = 3;
    upd.bandwidth.has_one_time_burst = true;
    res_rate_limiter_update(&has, &cur, true, &upd);
    assert_int_equal(cur.bandwidth.size, 7);
    assert_false(cur.bandwidth.has_one_time_burst);
    assert_int_equal(cur.ops.size, 5);

    /* Size 0 removes a bucket; removing both leaves no limiter. */
    upd.bandwidth.size = 0;
    upd.has_ops = true;
    upd.ops.size = 1;
    upd.ops.refill_time = 0;
    res_rate_limiter_update(&has, &cur, true, &upd);
    assert_false(cur.has_bandwidth);
    assert_false(cur.has_ops);
    assert_false(has);

    /* From nothing, a bucket creates the limiter. */
    memset(&upd, 0, sizeof(upd));
    upd.has_ops = true;
    upd.ops.size = 9;
    upd.ops.refill_time = 9;
    res_rate_limiter_update(&has, &cur, true, &upd);
    assert_true(has && cur.has_ops && !cur.has_bandwidth);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_instance_info_and_version),
        T(test_start_errors),
        T(test_default_machine_layer_refuses),
        T(test_default_machine_layer_device_limits),
        T(test_default_machine_layer_pci_device_limit),
        T(test_preboot_matrix),
        T(test_postboot_matrix),
        T(test_preboot_only_gets),
        T(test_boot_source),
        T(test_drive_root_ordering),
        T(test_drive_errors),
        T(test_drive_read_only_open),
        T(test_net_swap_remove_and_errors),
        T(test_real_tap_name_too_long),
        T(test_real_tap),
        T(test_machine_config_rules),
        T(test_cpu_template_keep_clear),
        T(test_vsock),
        T(test_hotplug_memory_rules),
        T(test_logger_and_metrics),
        T(test_mmds_api),
        T(test_mmds_limit_413),
        T(test_mmds_post_boot_needs_nic),
        T(test_snapshot_load_gating),
        T(test_postboot_device_ops),
        T(test_hotplug_decisions),
        T(test_hotplug_attach_detach),
        T(test_hotplug_pmem_window_reused),
        T(test_hotplug_failure_rollback),
        T(test_hotplug_full_bus),
        T(test_patch_net_after_boot),
        T(test_balloon_after_boot),
        T(test_memory_devices_after_boot),
        T(test_vm_config_fresh),
        T(test_vm_config_full),
        T(test_vm_config_options),
        cmocka_unit_test(test_rate_limiter_update),
#undef T
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    if (g_last)
        harness_call_fini(g_last);
    return rc;
}
