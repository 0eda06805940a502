/*
 * test_machine_boot.c: the whole boot path on real KVM. machine_create()
 * loads the project's test guest (tests/guest, built by `make guests` into
 * build/guest/) with the real loader, writes the real MPTable and ACPI
 * tables, configures the vCPUs, and the guest reports over COM1 what it
 * found ("SQUIB-GUEST ..." lines) and runs the test named on its command
 * line (squibtest=...).
 *
 * It needs the loader and the firmware tables (src/vmm/boot.c, acpi.c):
 * until they are in the tree the tests skip and say so, as they do when
 * /dev/kvm is not usable or the guests were not built. SQUIB_GUEST_DIR
 * overrides where the guests are looked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kvm_usable.h"

#include "obs/log.h"
#include "util/evloop.h"
#include "vmm/machine.h"

#if __has_include("../../src/vmm/boot.h") &&                                   \
                  __has_include("../../src/vmm/acpi.h")
#define HAVE_LOADER 1
#else
#define HAVE_LOADER 0
#endif

#define TIMEOUT_MS 60000
#define OUT_MAX    65536

struct bfx {
    struct machine *m;
    struct evloop *loop;
    int out_r, out_w;
    int kernel_fd;
    char log_path[64];
    char out[OUT_MAX];
    size_t out_len;
    int exit_code;
    bool exited;
};

static const char *guest_dir(void)
{
    const char *d = getenv("SQUIB_GUEST_DIR");

    return d && *d ? d : "build/guest";
}

/* Skip unless everything a real boot needs is here. */
static bool can_boot(const char *kernel)
{
    char path[512];

    if (!HAVE_LOADER) {
        printf("SKIP: the kernel loader and firmware tables are not in this "
               "tree yet\n");
        return false;
    }
    if (!kvm_usable())
        return false;
    snprintf(path, sizeof(path), "%s/%s", guest_dir(), kernel);
    if (access(path, R_OK) != 0) {
        printf("SKIP: %s is missing (make guests)\n", path);
        return false;
    }
    return true;
}

static void on_exit_cb(void *opaque, int code)
{
    struct bfx *f = opaque;

    f->exited = true;
    f->exit_code = code;
}

static void boot(struct bfx *f, const char *kernel, const char *cmdline,
                 uint32_t vcpus, bool boot_timer)
{
    struct machine_config cfg;
    struct sq_err err;
    char path[512];
    int p[2], fd;

    memset(f, 0, sizeof(*f));
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    /* Room for a chatty guest: the UART drops what does not fit. */
    (void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    f->out_r = p[0];
    f->out_w = p[1];
    snprintf(path, sizeof(path), "%s/%s", guest_dir(), kernel);
    f->kernel_fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(f->kernel_fd >= 0);
    snprintf(f->log_path, sizeof(f->log_path), "/tmp/squib-mboot-log-XXXXXX");
    fd = mkstemp(f->log_path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(log_set_target(f->log_path), 0);
    f->loop = evloop_new();
    assert_non_null(f->loop);

    memset(&cfg, 0, sizeof(cfg));
    cfg.vcpu_count = vcpus;
    cfg.mem_size_mib = 128;
    cfg.kernel_fd = f->kernel_fd;
    cfg.initrd_fd = -1;
    cfg.cmdline = cmdline;
    cfg.serial_out_fd = f->out_w;
    cfg.boot_timer = boot_timer;
    cfg.on_exit = on_exit_cb;
    cfg.exit_opaque = f;
    sq_err_clear(&err);
    if (machine_create(&cfg, f->loop, &f->m, &err) != 0)
        fail_msg("machine_create: %s", err.msg);
    if (machine_start(f->m, &err) != 0)
        fail_msg("machine_start: %s", err.msg);
}

static void finish(struct bfx *f)
{
    machine_destroy(f->m);
    evloop_free(f->loop);
    close(f->out_r);
    close(f->out_w);
    close(f->kernel_fd);
    unlink(f->log_path);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void drain(struct bfx *f)
{
    ssize_t n;

    while (f->out_len < OUT_MAX - 1 && (n = read(f->out_r, f->out + f->out_len,
                                                 OUT_MAX - 1 - f->out_len)) > 0)
        f->out_len += (size_t)n;
    f->out[f->out_len] = '\0';
}

/* Run the loop until `needle` is in the output (true) or timeout/exit. */
static bool wait_for(struct bfx *f, const char *needle, int timeout_ms)
{
    uint64_t t0 = now_ms();

    for (;;) {
        drain(f);
        if (strstr(f->out, needle))
            return true;
        if (f->exited || now_ms() - t0 > (uint64_t)timeout_ms)
            return false;
        evloop_run_once(f->loop, 10);
    }
}

/* Run the loop until the machine asks to stop; its exit code, or -1. */
static int wait_exit(struct bfx *f, int timeout_ms)
{
    uint64_t t0 = now_ms();

    while (!f->exited && now_ms() - t0 < (uint64_t)timeout_ms) {
        evloop_run_once(f->loop, 20);
        drain(f);
    }
    drain(f);
    return f->exited ? f->exit_code : -1;
}

static bool log_contains(struct bfx *f, const char *needle)
{
    static char buf[65536];
    int fd = open(f->log_path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return strstr(buf, needle) != NULL;
}

static void expect_out(struct bfx *f, const char *needle)
{
    if (!strstr(f->out, needle)) {
        /* cmocka truncates long messages: print the output first. */
        printf("guest output:\n%s\n", f->out);
        fail_msg("guest output lacks \"%s\"", needle);
    }
}

/* ---- tests -------------------------------------------------------------- */

static void test_report_each_protocol(void **state)
{
    static const struct {
        const char *file, *kind;
    } cases[] = {
        {"guest-linux.elf", "SQUIB-GUEST boot=linux64\n"},
        {"guest-pvh.elf", "SQUIB-GUEST boot=pvh\n"},
        {"guest.bzImage", "SQUIB-GUEST boot=bzimage64\n"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bfx f;

        if (!can_boot(cases[i].file))
            skip();
        boot(&f, cases[i].file, "console=ttyS0 squibtest=report pci=off", 2,
             false);
        assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0);
        expect_out(&f, "SQUIB-GUEST hello\n");
        expect_out(&f, cases[i].kind);
        expect_out(&f, "cmdline=console=ttyS0 squibtest=report pci=off\n");
        /* The firmware tables are where the guest looks, checksums good. */
        expect_out(&f, "SQUIB-GUEST mptable fp=0x9fc00");
        expect_out(&f, "SQUIB-GUEST rsdp addr=0xe0000");
        assert_null(strstr(f.out, "=bad"));
        assert_null(strstr(f.out, "exception"));
        expect_out(&f, "SQUIB-GUEST done\n");
        finish(&f);
    }
}

static void test_smp_guest(void **state)
{
    struct bfx f;

    (void)state;
    if (!can_boot("guest-linux.elf"))
        skip();
    boot(&f, "guest-linux.elf", "console=ttyS0 squibtest=smp", 4, false);
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0);
    expect_out(&f, "SQUIB-GUEST smp ");
    expect_out(&f, " bsp_apic_id=0 expected=3 started=3\n");
    expect_out(&f, "SQUIB-GUEST ap apic_id=3 cpuid_apic_id=3\n");
    finish(&f);
}

static void test_cad_guest(void **state)
{
    struct bfx f;
    struct sq_err err;

    (void)state;
    if (!can_boot("guest-linux.elf"))
        skip();
    boot(&f, "guest-linux.elf", "console=ttyS0 squibtest=cad", 1, false);
    assert_true(wait_for(&f, "SQUIB-GUEST cad waiting\n", TIMEOUT_MS));
    assert_int_equal(machine_send_ctrl_alt_del(f.m, &err), 0);
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0);
    expect_out(&f, "SQUIB-GUEST cad seen=yes\n");
    finish(&f);
}

static void test_boot_timer_guest(void **state)
{
    struct bfx f;

    (void)state;
    if (!can_boot("guest-linux.elf"))
        skip();
    boot(&f, "guest-linux.elf", "console=ttyS0 squibtest=boottimer", 1, true);
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0);
    expect_out(&f, "SQUIB-GUEST boottimer written=123\n");
    assert_true(log_contains(&f, "Guest-boot-time = "));
    assert_true(log_contains(&f, "Vmm is stopping."));
    finish(&f);
}

static void test_triple_fault_guest(void **state)
{
    struct bfx f;

    (void)state;
    if (!can_boot("guest-linux.elf"))
        skip();
    boot(&f, "guest-linux.elf", "console=ttyS0 squibtest=triplefault", 1,
         false);
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 1);
    expect_out(&f, "SQUIB-GUEST triplefault\n");
    finish(&f);
}

/* The counter runs in guest ring 3 and a LAPIC timer reports it: while the
 * machine is paused no new report appears, after resume they continue. */
static void test_counter_pause_resume(void **state)
{
    struct bfx f;
    struct sq_err err;
    size_t len_paused;

    (void)state;
    if (!can_boot("guest-linux.elf"))
        skip();
    boot(&f, "guest-linux.elf",
         "console=ttyS0 squibtest=counter squibevery=1000", 1, false);
    assert_true(wait_for(&f, "SQUIB-GUEST counter value=", TIMEOUT_MS));
    assert_int_equal(machine_pause(f.m, &err), 0);
    usleep(50000);
    drain(&f);
    len_paused = f.out_len;
    usleep(300000);
    drain(&f);
    assert_int_equal(f.out_len, len_paused);
    assert_int_equal(machine_resume(f.m, &err), 0);
    for (uint64_t t0 = now_ms();
         f.out_len == len_paused && now_ms() - t0 < TIMEOUT_MS;)
        drain(&f), usleep(10000);
    assert_true(f.out_len > len_paused);
    assert_false(f.exited);
    finish(&f);
}

/* A kernel the loader rejects: machine_create fails with the loader's text
 * and leaves nothing behind (the sanitizer build checks for leaks). */
static void test_bad_kernel_fails_cleanly(void **state)
{
    struct machine_config cfg;
    struct machine *m = NULL;
    struct sq_err err;
    char junk[4096];
    int fd;

    (void)state;
    if (!can_boot("guest-linux.elf"))
        skip();
    memset(junk, 0x5a, sizeof(junk));
    fd = memfd_create("junk", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    memset(&cfg, 0, sizeof(cfg));
    cfg.vcpu_count = 1;
    cfg.mem_size_mib = 32;
    cfg.kernel_fd = fd;
    cfg.initrd_fd = -1;
    cfg.cmdline = "console=ttyS0";
    cfg.serial_out_fd = -1;
    sq_err_clear(&err);
    assert_true(machine_create(&cfg, NULL, &m, &err) < 0);
    assert_null(m);
    assert_non_null(strstr(err.msg, "Cannot load kernel due to invalid memory "
                                    "configuration or invalid kernel image"));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_each_protocol),
        cmocka_unit_test(test_smp_guest),
        cmocka_unit_test(test_cad_guest),
        cmocka_unit_test(test_boot_timer_guest),
        cmocka_unit_test(test_triple_fault_guest),
        cmocka_unit_test(test_counter_pause_resume),
        cmocka_unit_test(test_bad_kernel_fails_cleanly),
    };

    log_init();
    log_set_thread_name("main");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
