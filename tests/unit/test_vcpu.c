/*
 * test_vcpu.c: the exit dispatcher, without KVM: a struct vcpu whose
 * kvm_run is a plain buffer filled as KVM would, one case per exit kind.
 * Checks the decision (re-enter, interrupted, stop with code), the log line
 * upstream prints, the metrics, and the bus dispatch of I/O and MMIO.
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
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics_spy.h"
#include "obs/log.h"
#include "util/evloop.h"
#include "vmm/vcpu.h"

#define RUN_SIZE 4096

struct dev {
    struct bus_dev bus;
    uint8_t wrote[64];
    size_t n_wrote;
    uint64_t last_off;
};

static void dev_read(struct bus_dev *b, uint64_t off, uint8_t *data,
                     uint32_t len)
{
    struct dev *d = b->opaque;

    d->last_off = off;
    for (uint32_t i = 0; i < len; i++)
        data[i] = (uint8_t)(0xa0 + i);
}

static void dev_write(struct bus_dev *b, uint64_t off, const uint8_t *data,
                      uint32_t len)
{
    struct dev *d = b->opaque;

    d->last_off = off;
    for (uint32_t i = 0; i < len && d->n_wrote < sizeof(d->wrote); i++)
        d->wrote[d->n_wrote++] = data[i];
}

struct vfx {
    struct vcpu v;
    struct bus pio, mmio;
    struct dev dev;
    char log_path[64];
};

static struct vfx *vfx_new(void)
{
    struct vfx *f = calloc(1, sizeof(*f));
    int fd;

    assert_non_null(f);
    spy_reset();
    f->v.run = calloc(1, RUN_SIZE);
    assert_non_null(f->v.run);
    f->v.run_size = RUN_SIZE;
    f->v.fd = -1;
    f->v.pio = &f->pio;
    f->v.mmio = &f->mmio;
    bus_init(&f->pio);
    bus_init(&f->mmio);
    bus_dev_init(&f->dev.bus, "dev", dev_read, dev_write, &f->dev);
    assert_int_equal(bus_add(&f->pio, 0x3f8, 8, &f->dev.bus), 0);
    assert_int_equal(bus_add(&f->mmio, 0xc0001000, 0x1000, &f->dev.bus), 0);
    snprintf(f->log_path, sizeof(f->log_path), "/tmp/squib-vcpu-log-XXXXXX");
    fd = mkstemp(f->log_path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(log_set_target(f->log_path), 0);
    return f;
}

static void vfx_free(struct vfx *f)
{
    unlink(f->log_path);
    bus_fini(&f->pio);
    bus_fini(&f->mmio);
    bus_dev_fini(&f->dev.bus);
    free(f->v.run);
    free(f);
}

static bool logged(struct vfx *f, const char *needle)
{
    char buf[8192];
    int fd = open(f->log_path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return strstr(buf, needle) != NULL;
}

static int handle(struct vfx *f, int rc, int *code)
{
    *code = -7;
    return vcpu_handle_exit(&f->v, rc, code);
}

static void test_fatal_and_clean_exits(void **state)
{
    static const struct {
        int run_rc;
        uint32_t reason;
        uint32_t ev_type, ev_ndata;
        int want_ret, want_code;
        bool failure;
        const char *line;
    } cases[] = {
        {-EINTR, 0, 0, 0, 1, 1, false, NULL},
        {-EAGAIN, 0, 0, 0, 0, 1, false, NULL},
        {-ENOSYS, 0, 0, 0, 2, 1, true,
         "Received ENOSYS error because KVM failed to emulate an instruction."},
        {-EFAULT, 0, 0, 0, 2, 1, true,
         "Failure during vcpu run: Bad address (os error 14)"},
        {0, KVM_EXIT_HLT, 0, 0, 2, 1, true,
         "Unexpected exit reason on vcpu run: Hlt"},
        {0, KVM_EXIT_SHUTDOWN, 0, 0, 2, 1, true,
         "Unexpected exit reason on vcpu run: Shutdown"},
        {0, KVM_EXIT_UNKNOWN, 0, 0, 2, 1, true,
         "Unexpected exit reason on vcpu run: Unknown"},
        {0, KVM_EXIT_INTERNAL_ERROR, 0, 0, 2, 1, true,
         "Received KVM_EXIT_INTERNAL_ERROR signal"},
        {0, KVM_EXIT_FAIL_ENTRY, 0, 0, 2, 1, true,
         "Received KVM_EXIT_FAIL_ENTRY signal: 7 on cpu 3"},
        {0, KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_RESET, 0, 2, 0, false,
         "Received KVM_SYSTEM_EVENT: type: 2, event: []"},
        {0, KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_SHUTDOWN, 2, 2, 0, false,
         "Received KVM_SYSTEM_EVENT: type: 1, event: [5, 6]"},
        {0, KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_CRASH, 0, 2, 1, true,
         "Received KVM_SYSTEM_EVENT signal type: 3, flag: []"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vfx *f = vfx_new();
        int code, ret;

        f->v.run->exit_reason = cases[i].reason;
        f->v.run->fail_entry.hardware_entry_failure_reason = 7;
        f->v.run->fail_entry.cpu = 3;
        if (cases[i].reason == KVM_EXIT_SYSTEM_EVENT) {
            f->v.run->system_event.type = cases[i].ev_type;
            f->v.run->system_event.ndata = cases[i].ev_ndata;
            f->v.run->system_event.data[0] = 5;
            f->v.run->system_event.data[1] = 6;
        }
        ret = handle(f, cases[i].run_rc, &code);
        assert_int_equal(ret, cases[i].want_ret);
        if (ret == 2)
            assert_int_equal(code, cases[i].want_code);
        assert_int_equal(spy_get(METRIC_vcpu_failures),
                         cases[i].failure ? 1 : 0);
        if (cases[i].line && !logged(f, cases[i].line))
            fail_msg("case %zu: missing log line \"%s\"", i, cases[i].line);
        vfx_free(f);
    }
}

static void fill_io(struct vfx *f, uint8_t dir, uint8_t size, uint16_t port,
                    uint32_t count, uint64_t data_offset)
{
    f->v.run->exit_reason = KVM_EXIT_IO;
    f->v.run->io.direction = dir;
    f->v.run->io.size = size;
    f->v.run->io.port = port;
    f->v.run->io.count = count;
    f->v.run->io.data_offset = data_offset;
}

static void test_port_io(void **state)
{
    struct vfx *f = vfx_new();
    uint8_t *data = (uint8_t *)f->v.run + 1024;
    int code;

    (void)state;
    /* rep outsb of three bytes: three writes of one byte. */
    memcpy(data, "abc", 3);
    fill_io(f, KVM_EXIT_IO_OUT, 1, 0x3f9, 3, 1024);
    assert_int_equal(handle(f, 0, &code), 0);
    assert_int_equal(f->dev.n_wrote, 3);
    assert_memory_equal(f->dev.wrote, "abc", 3);
    assert_int_equal(f->dev.last_off, 1);
    assert_int_equal(spy_get(METRIC_vcpu_exit_io_out), 1); /* one exit */

    /* Two 2-byte reads land in consecutive slots. */
    memset(data, 0x55, 8);
    fill_io(f, KVM_EXIT_IO_IN, 2, 0x3fa, 2, 1024);
    assert_int_equal(handle(f, 0, &code), 0);
    assert_int_equal(data[0], 0xa0);
    assert_int_equal(data[1], 0xa1);
    assert_int_equal(data[2], 0xa0);
    assert_int_equal(data[4], 0x55);
    assert_int_equal(spy_get(METRIC_vcpu_exit_io_in), 1);

    /* A port nobody owns: reads give zeros, the access is logged. */
    memset(data, 0x55, 4);
    fill_io(f, KVM_EXIT_IO_IN, 1, 0x80, 1, 1024);
    assert_int_equal(handle(f, 0, &code), 0);
    assert_int_equal(data[0], 0);
    assert_true(logged(f, "vcpu: IO read @ 0x80:0x1 failed"));

    /* Data said to lie outside the kvm_run mapping: stop, never touch it. */
    fill_io(f, KVM_EXIT_IO_OUT, 4, 0x3f8, 1024, 1024);
    assert_int_equal(handle(f, 0, &code), 2);
    assert_int_equal(code, 1);
    fill_io(f, KVM_EXIT_IO_OUT, 1, 0x3f8, 1, RUN_SIZE + 1);
    assert_int_equal(handle(f, 0, &code), 2);
    vfx_free(f);
}

static void test_mmio(void **state)
{
    struct vfx *f = vfx_new();
    struct kvm_run *run = f->v.run;
    int code;

    (void)state;
    run->exit_reason = KVM_EXIT_MMIO;
    run->mmio.phys_addr = 0xc0001070;
    run->mmio.len = 4;
    run->mmio.is_write = 1;
    memcpy(run->mmio.data, "\x01\x02\x03\x04", 4);
    assert_int_equal(handle(f, 0, &code), 0);
    assert_int_equal(f->dev.last_off, 0x70);
    assert_memory_equal(f->dev.wrote, "\x01\x02\x03\x04", 4);
    assert_int_equal(spy_get(METRIC_vcpu_exit_mmio_write), 1);

    run->mmio.is_write = 0;
    run->mmio.len = 2;
    assert_int_equal(handle(f, 0, &code), 0);
    assert_int_equal(run->mmio.data[0], 0xa0);
    assert_int_equal(run->mmio.data[1], 0xa1);
    assert_int_equal(spy_get(METRIC_vcpu_exit_mmio_read), 1);

    run->mmio.phys_addr = 0xd0000000;
    memset(run->mmio.data, 0x77, 8);
    assert_int_equal(handle(f, 0, &code), 0);
    assert_int_equal(run->mmio.data[0], 0);
    assert_true(logged(f, "Invalid MMIO read @ 0xd0000000:0x2"));

    run->mmio.len = 9;
    assert_int_equal(handle(f, 0, &code), 2);
    vfx_free(f);
}

/* What vcpu_call ran: on which thread, with which fd. */
struct call_seen {
    pthread_t thread;
    int fd;
    int calls;
};

static int record_call(int vcpu_fd, void *opaque)
{
    struct call_seen *c = opaque;

    c->thread = pthread_self();
    c->fd = vcpu_fd;
    c->calls++;
    return c->calls == 2 ? -EIO : 0;
}

/*
 * vcpu_call runs the function on the vCPU's own thread while it is paused
 * (inline before the thread exists), returns its result, and leaves the
 * thread paused and responsive to the usual requests. No KVM: the thread
 * never runs the guest.
 */
static void test_call_on_vcpu_thread(void **state)
{
    struct vcpu *v = calloc(1, sizeof(*v));
    struct call_seen seen = {0};

    (void)state;
    assert_non_null(v);
    v->run = mmap(NULL, RUN_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(v->run != MAP_FAILED);
    v->run_size = RUN_SIZE;
    v->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    v->ack_fd = evloop_eventfd_new();
    assert_true(v->fd >= 0 && v->ack_fd >= 0);
    pthread_mutex_init(&v->lock, NULL);
    pthread_cond_init(&v->cond, NULL);

    /* No thread yet: runs right here. */
    assert_int_equal(vcpu_call(v, record_call, &seen, 1000), 0);
    assert_true(pthread_equal(seen.thread, pthread_self()));
    assert_int_equal(seen.fd, v->fd);

    assert_int_equal(vcpu_start(v, 1000), 0);
    assert_int_equal(vcpu_call(v, record_call, &seen, 1000), -EIO);
    assert_false(pthread_equal(seen.thread, pthread_self()));
    assert_true(pthread_equal(seen.thread, v->thread));
    assert_int_equal(seen.fd, v->fd);
    assert_int_equal(vcpu_get_state(v), VCPU_PAUSED);
    assert_int_equal(vcpu_call(v, record_call, &seen, 1000), 0);
    assert_int_equal(seen.calls, 3);
    /* Still answers a pause request afterwards. */
    vcpu_request(v, VCPU_REQ_PAUSE);
    assert_int_equal(vcpu_wait(v, VCPU_PAUSED, 1000), 0);
    vcpu_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_on_vcpu_thread),
        cmocka_unit_test(test_fatal_and_clean_exits),
        cmocka_unit_test(test_port_io),
        cmocka_unit_test(test_mmio),
    };

    log_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
