/*
 * xstate.c: permission for the dynamic XSAVE features (xstate.h).
 */
#include "vmm/xstate.h"

#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX_MASK (3ull << 17) /* TILECFG and TILEDATA */

int xstate_request_dynamic(const char **note, struct sq_err *err)
{
    uint64_t supported = 0;
    char os[128];

    *note = NULL;

    if (syscall(SYS_arch_prctl, XSTATE_ARCH_GET_XCOMP_SUPP, &supported) < 0) {
        int e = errno;

        if (e == EINVAL) { /* Linux before 5.16 */
            *note = "Dynamic XSTATE feature enabling is not supported.";
            return 0;
        }
        return sq_errf(err, -e, "Failed to get supported XSTATE features: %s",
                       sq_os_error(e, os, sizeof(os)));
    }
    if ((supported & AMX_MASK) != AMX_MASK)
        return 0;
    if (syscall(SYS_arch_prctl, XSTATE_ARCH_REQ_XCOMP_GUEST_PERM,
                (unsigned long)XSTATE_XTILEDATA) < 0) {
        int e = errno;

        if (e == EINVAL) { /* Linux 5.16: not for guests yet */
            *note = "Dynamic XSTATE feature enabling is not supported for "
                    "guest.";
            return 0;
        }
        return sq_errf(err, -e,
                       "Failed to request permission for XSTATE feature "
                       "(%u): %s",
                       XSTATE_XTILEDATA, sq_os_error(e, os, sizeof(os)));
    }
    return 0;
}
