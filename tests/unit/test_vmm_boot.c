/*
 * test_vmm_boot.c: InstanceStart end to end with the real machine layer and
 * KVM, booting the project's test guest (tests/guest, built into
 * build/guest/ by mk/guest.mk): the composed command line reaches the
 * guest, the serial output goes to serial_out_path, pause/resume and
 * SendCtrlAltDel reach the vCPUs and the i8042, and the guest's i8042
 * reset stops the VM with exit code 0; with --enable-pci, the guest's PCI
 * probe drives virtio-rng over PCI with MSI-X (tests/guest/pci.c).
 *
 * Skipped, with the reason printed, when /dev/kvm or the guest is missing.
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
#include <unistd.h>

#include <cmocka.h>
#include <cpuid.h>

#include "api/controller.h"
#include "util/evloop.h"
#include "vmm/vmm.h"
#include "vmm_harness.h"

#define MUT(s)        ((char *)(uintptr_t)(s))
#define GUEST_DEFAULT "build/guest/guest-linux.elf"
#define WAIT_MS       30000

struct fx {
    struct evloop *loop;
    struct vmm *v;
    char dir[64];
    char serial[128];
    const char *guest;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vmm_opts o = {.instance_id = "boot-vm"};
    const char *g = getenv("SQUIB_TEST_GUEST");
    int fd;

    f->guest = g ? g : GUEST_DEFAULT;
    strcpy(f->dir, "/tmp/squib-boot-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->serial, sizeof(f->serial), "%s/serial.out", f->dir);
    f->loop = evloop_new();
    assert_non_null(f->loop);
    f->v = vmm_new(f->loop, &o);
    *state = f;

    fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        print_message("skipped: /dev/kvm: %s\n", strerror(errno));
        return 0;
    }
    close(fd);
    if (access(f->guest, R_OK) != 0) {
        print_message("skipped: test guest %s: %s (make guests)\n", f->guest,
                      strerror(errno));
        return 0;
    }
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[160];

    vmm_free(f->v);
    evloop_free(f->loop);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static bool can_run(const struct fx *f)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return false;
    close(fd);
    return access(f->guest, R_OK) == 0;
}

static char g_resp[1024];

static int act(struct vmm *v, enum vmm_op op, void *body)
{
    struct vmm_call c;
    int st = harness_call(v, op, NULL, body, &c);

    snprintf(g_resp, sizeof(g_resp), "%s", c.wire.data ? c.wire.data : "");
    harness_call_fini(&c);
    return st;
}

static char *serial_text(const struct fx *f)
{
    static char text[65536];
    FILE *fp = fopen(f->serial, "r");
    size_t n = 0;

    text[0] = '\0';
    if (fp) {
        n = fread(text, 1, sizeof(text) - 1, fp);
        fclose(fp);
    }
    text[n] = '\0';
    return text;
}

/* Run the vmm loop until `needle` shows up on the serial port (or, with
 * NULL, until the machine stops). Returns false on timeout. */
static bool wait_for(struct fx *f, const char *needle)
{
    for (int waited = 0; waited < WAIT_MS; waited += 20) {
        if (needle ? strstr(serial_text(f), needle) != NULL
                   : f->v->exit_requested)
            return true;
        if (f->v->exit_requested && needle)
            return strstr(serial_text(f), needle) != NULL;
        evloop_run_once(f->loop, 20);
    }
    return false;
}

static void configure(struct fx *f, const char *boot_args)
{
    struct boot_source_cfg b = {MUT(f->guest), NULL, MUT(boot_args)};
    struct serial_cfg s = {.serial_out_path = f->serial};
    struct machine_cfg m;

    memset(&m, 0, sizeof(m));
    m.has_vcpu_count = m.has_mem_size_mib = true;
    m.vcpu_count = 1;
    m.mem_size_mib = 128;
    assert_int_equal(act(f->v, VMM_OP_PUT_BOOT_SOURCE, &b), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_SERIAL, &s), 204);
    assert_int_equal(act(f->v, VMM_OP_PATCH_MACHINE_CONFIG, &m), 204);
}

static void test_boot_report_and_reset(void **state)
{
    struct fx *f = *state;
    struct instance_action start = {ACTION_INSTANCE_START};
    char *out;

    if (!can_run(f))
        skip();
    configure(f, "squibtest=report");
    assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, &start), 204);
    assert_true(vmm_is_started(f->v));
    assert_true(wait_for(f, NULL));
    assert_int_equal(f->v->exit_code, 0);
    out = serial_text(f);
    /* The command line as composed by cmdline_build (pci=off appended). */
    assert_non_null(strstr(out, "cmdline=squibtest=report pci=off"));
    assert_non_null(strstr(out, "SQUIB-GUEST done"));
    assert_non_null(strstr(out, "reset method=i8042"));
}

static void test_pause_resume_and_ctrl_alt_del(void **state)
{
    struct fx *f = *state;
    struct instance_action start = {ACTION_INSTANCE_START};
    struct instance_action cad = {ACTION_SEND_CTRL_ALT_DEL};
    struct vm_state_req pause = {VM_STATE_REQ_PAUSED};
    struct vm_state_req resume = {VM_STATE_REQ_RESUMED};

    if (!can_run(f))
        skip();
    configure(f, "squibtest=cad");
    assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, &start), 204);
    assert_true(wait_for(f, "SQUIB-GUEST cad waiting"));
    assert_false(f->v->exit_requested);

    assert_int_equal(act(f->v, VMM_OP_PATCH_VM, &pause), 204);
    assert_int_equal(f->v->state, VMM_STATE_PAUSED);
    assert_int_equal(act(f->v, VMM_OP_PATCH_VM, &resume), 204);
    assert_int_equal(f->v->state, VMM_STATE_RUNNING);

    assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, &cad), 204);
    assert_true(wait_for(f, "SQUIB-GUEST cad seen=yes"));
    assert_true(wait_for(f, NULL));
    assert_int_equal(f->v->exit_code, 0);
}

/* machine-config's vcpu_count reaches the machine: the guest starts its
 * APs from the MADT. */
static void test_smp_from_machine_config(void **state)
{
    struct fx *f = *state;
    struct instance_action start = {ACTION_INSTANCE_START};
    struct machine_cfg m;

    if (!can_run(f))
        skip();
    configure(f, "squibtest=smp");
    memset(&m, 0, sizeof(m));
    m.has_vcpu_count = true;
    m.vcpu_count = 4;
    assert_int_equal(act(f->v, VMM_OP_PATCH_MACHINE_CONFIG, &m), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, &start), 204);
    assert_true(wait_for(f, NULL));
    assert_int_equal(f->v->exit_code, 0);
    assert_non_null(strstr(serial_text(f), "expected=3 started=3"));
}

/* A static template for the other CPU vendor: upstream's text, and the VM
 * stays Not started. */
static void test_static_template_vendor_mismatch(void **state)
{
    struct fx *f = *state;
    struct instance_action start = {ACTION_INSTANCE_START};
    struct machine_cfg m;
    unsigned a, b, c, d;
    char vendor[13];

    if (!can_run(f))
        skip();
    __cpuid(0, a, b, c, d);
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = '\0';
    configure(f, "squibtest=report");
    memset(&m, 0, sizeof(m));
    m.has_cpu_template = true;
    if (!strcmp(vendor, "AuthenticAMD"))
        m.cpu_template = STATIC_CPU_TEMPLATE_T2;
    else if (!strcmp(vendor, "GenuineIntel"))
        m.cpu_template = STATIC_CPU_TEMPLATE_T2A;
    else
        skip();
    assert_int_equal(act(f->v, VMM_OP_PATCH_MACHINE_CONFIG, &m), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, &start), 400);
    assert_string_equal(g_resp, "{\"fault_message\":\"Start microvm error: "
                                "Failed to get CPU template: CPU vendor "
                                "mismatched between actual CPU and CPU "
                                "template.\"}");
    assert_false(vmm_is_started(f->v));
    assert_null(f->v->machine);
}

/* --enable-pci with an entropy device: the guest's PCI probe
 * (tests/guest/pci.c) finds the host bridge and virtio-rng over ECAM and
 * the ports, drives it with MSI-X, and squib still answers after the
 * hostile part. */
static void test_pci_probe(void **state)
{
    struct fx *f = *state;
    struct vmm_opts o = {.instance_id = "boot-vm", .enable_pci = true};
    struct instance_action start = {ACTION_INSTANCE_START};
    static const char *const want[] = {
        "SQUIB-GUEST cmdline=squibtest=pci\n",
        "acpi sig=MCFG",
        /* The host bridge and virtio-rng, the same through both ways. */
        "pci dev slot=0 id=0xd578086 class=0x6000000 ports=same",
        "pci dev slot=1 id=0x10441af4 class=0xffff0001 ports=same",
        "pci cap at=0x40 id=0x9 type=1 bar=0 offset=0x0 length=0x38",
        "type=2 bar=0 offset=0x6000 length=0x1000 mult=4",
        "id=0x11 vectors=2 table=0x8000 pba=0x48000",
        "pci bar0 addr=0x4000000000 size=0x80000 flags=0x4 after=0x4",
        "status=0xf",
        /* Entropy with the queue's MSI-X vector, through KVM. */
        "pci rng first used=1 irq=1 len=16 config_irqs=0",
        /* The common configuration through VIRTIO_PCI_CAP_PCI_CFG. */
        "pci cfgwin at=0x84 num_queues=1 same=1 status=0xf select=1 "
        "select_after=0",
        "pci mask vector used=1 irq=0 pba=0x2 unmasked_irq=1 pba_after=0x0",
        "pci mask function used=1 irq=0 pba=0x2 unmasked_irq=1",
        "pci hostile cross=0xffff empty=0xffffffff fn1=0xffffffff id_kept=1 "
        "cap_ptr=0x40 disabled=0xffffffff gap=0x0 past_table=0xffffffff "
        "bad_vector=0xffff",
        "pci rng after-hostile used=1 irq=1 len=16",
        "pci done queue_irqs=4",
        "SQUIB-GUEST done",
    };
    struct entropy_cfg e;
    char *out;

    if (!can_run(f))
        skip();
    vmm_free(f->v);
    f->v = vmm_new(f->loop, &o);
    configure(f, "squibtest=pci");
    memset(&e, 0, sizeof(e));
    assert_int_equal(act(f->v, VMM_OP_PUT_ENTROPY, &e), 204);
    assert_int_equal(act(f->v, VMM_OP_PUT_ACTIONS, &start), 204);
    assert_true(wait_for(f, NULL));
    out = serial_text(f);
    assert_int_equal(f->v->exit_code, 0);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!strstr(out, want[i]))
            print_message("missing: %s\n", want[i]);
        assert_non_null(strstr(out, want[i]));
    }
    /* No pci=off and no virtio_mmio.device= words on PCI. */
    assert_null(strstr(out, "pci=off"));
    assert_null(strstr(out, "virtio_mmio"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_boot_report_and_reset, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume_and_ctrl_alt_del,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_smp_from_machine_config, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_static_template_vendor_mismatch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_probe, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
