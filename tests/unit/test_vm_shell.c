/*
 * test_vm_shell.c: the VM shell (vmm/vm_shell.h) on real KVM: what a made
 * shell holds, and that vm_shell_take() hands over the shell the thread of
 * vm_shell_prepare() made, once, and makes later ones itself.
 *
 * Whether a shell was made before or during vm_shell_take() shows in its
 * fd numbers: the kernel gives the lowest free number, so a shell made
 * before the test reserved the lowest free fd has numbers below it, and one
 * made after has numbers above. The tests run in order in one process (the
 * prepared shell is once per process). Every test skips, saying why, when
 * /dev/kvm cannot be opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kvm_usable.h"

#include "obs/log.h"
#include "vmm/vm_shell.h"

static bool is_empty(const struct vm_shell *s)
{
    return s->kvm.fd == -1 && s->vm_fd == -1 && !s->supported && s->xsave2 == 0;
}

/* The VM fd has its irqchip and PIT (a second one is refused) and takes a
 * vCPU; /dev/kvm answered its questions. */
static void check_made(const struct vm_shell *s)
{
    struct kvm_pit_config pit;
    int vcpu;

    assert_true(s->kvm.fd >= 0);
    assert_true(s->vm_fd >= 0);
    assert_true(s->kvm.vcpu_mmap_size > 0);
    assert_true(s->kvm.max_memslots >= 1);
    assert_non_null(s->supported);
    assert_true(s->supported->nent > 0);
    assert_true(s->supported->nent <= VM_SHELL_CPUID_CAPACITY);
    assert_int_equal(s->supported->entries[0].function, 0);
    assert_int_equal(ioctl(s->vm_fd, KVM_CREATE_IRQCHIP, 0), -1);
    assert_int_equal(errno, EEXIST);
    memset(&pit, 0, sizeof(pit));
    assert_int_equal(ioctl(s->vm_fd, KVM_CREATE_PIT2, &pit), -1);
    assert_int_equal(errno, EEXIST);
    vcpu = ioctl(s->vm_fd, KVM_CREATE_VCPU, 0);
    assert_true(vcpu >= 0);
    close(vcpu);
}

static void test_make_and_fini(void **state)
{
    struct sq_err err;
    struct vm_shell s;

    (void)state;
    vm_shell_init(&s);
    assert_true(is_empty(&s));
    if (!kvm_usable())
        return;
    sq_err_clear(&err);
    assert_int_equal(vm_shell_make(&s, &err), 0);
    assert_int_equal(err.code, 0);
    check_made(&s);
    vm_shell_fini(&s);
    assert_true(is_empty(&s));
    vm_shell_fini(&s); /* twice is harmless */
    assert_true(is_empty(&s));
}

/* vm_shell_take() of a shell; `before`: its fds must be below the lowest
 * free fd at the call (made earlier), else above it (made by the call). */
static void take_and_check(bool before)
{
    struct sq_err err;
    struct vm_shell s;
    int mark = dup(0);

    assert_true(mark >= 0);
    sq_err_clear(&err);
    assert_int_equal(vm_shell_take(&s, &err), 0);
    check_made(&s);
    if (before) {
        assert_true(s.kvm.fd < mark);
        assert_true(s.vm_fd < mark);
    } else {
        assert_true(s.kvm.fd > mark);
        assert_true(s.vm_fd > mark);
    }
    vm_shell_fini(&s);
    close(mark);
}

static void test_take_prepared_once(void **state)
{
    struct timespec ts = {0, 300 * 1000 * 1000};

    (void)state;
    if (!kvm_usable())
        return;
    vm_shell_prepare();
    vm_shell_prepare();   /* a second call starts nothing */
    nanosleep(&ts, NULL); /* the thread is done long before */
    take_and_check(true);
    /* Taken: the next ones are made by the call, and a late
     * vm_shell_prepare() starts no thread. */
    take_and_check(false);
    vm_shell_prepare();
    nanosleep(&ts, NULL);
    take_and_check(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_and_fini),
        cmocka_unit_test(test_take_prepared_once),
    };

    log_init();
    log_set_thread_name("main");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
