/*
 * test_xstate.c: the dynamic XSAVE permission request (vmm/xstate.h),
 * with the real arch_prctl calls of the host it runs on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/xstate.h"

/* It never fails on a Linux host, whatever the CPU and kernel; asked twice
 * it still succeeds; where the CPU and kernel offer AMX, the process then
 * holds the guest permission for TILEDATA (upstream's unit test). */
static void test_request(void **state)
{
    struct sq_err err = {0, ""};
    uint64_t supported = 0, permitted = 0;
    const char *note = "unset";

    (void)state;
    assert_int_equal(xstate_request_dynamic(&note, &err), 0);
    assert_int_equal(err.code, 0);
    assert_int_equal(xstate_request_dynamic(&note, &err), 0);
    if (syscall(SYS_arch_prctl, XSTATE_ARCH_GET_XCOMP_SUPP, &supported) < 0) {
        assert_int_equal(errno, EINVAL); /* Linux before 5.16 */
        assert_string_equal(
            note, "Dynamic XSTATE feature enabling is not supported.");
        return;
    }
    /* 5.16 refuses guests the permission (its own note); later ones give
     * it, or there is nothing to ask for: no note. */
    if (note)
        assert_string_equal(note, "Dynamic XSTATE feature enabling is not "
                                  "supported for guest.");
    if ((supported & (3ull << 17)) != (3ull << 17))
        return; /* no AMX here: nothing was asked for */
    if (syscall(SYS_arch_prctl, XSTATE_ARCH_GET_XCOMP_GUEST_PERM, &permitted) <
        0) {
        assert_int_equal(errno, EINVAL); /* Linux 5.16 */
        return;
    }
    assert_true(permitted & (1ull << XSTATE_XTILEDATA));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
