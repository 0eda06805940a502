/*
 * xstate.h: permission for the dynamically enabled XSAVE features (Intel
 * AMX's TILEDATA, XSTATE component 18) before KVM is asked what CPUID it
 * supports, as upstream's request_dynamic_xstate_features does.
 *
 * Linux grants a process the large XSAVE areas of such features only on
 * request (arch_prctl ARCH_REQ_XCOMP_GUEST_PERM, Documentation/arch/x86/
 * xstate.rst); without it KVM_GET_SUPPORTED_CPUID leaves AMX out (or, on
 * kernels before 6.4, reports TILECFG without TILEDATA, which makes a guest
 * fault in XSETBV at boot), and KVM_CAP_XSAVE2 names a 4 KiB area. The
 * permission is per process and cannot be taken back, so asking more than
 * once is harmless. A CPU template can still hide the features.
 */
#ifndef SQUIB_VMM_XSTATE_H
#define SQUIB_VMM_XSTATE_H

#include "util/err.h"

/* arch_prctl codes (asm/prctl.h) and the feature (XFEATURE_XTILE_DATA). */
#define XSTATE_ARCH_GET_XCOMP_SUPP       0x1021
#define XSTATE_ARCH_GET_XCOMP_GUEST_PERM 0x1024
#define XSTATE_ARCH_REQ_XCOMP_GUEST_PERM 0x1025
#define XSTATE_XTILEDATA                 18u

/*
 * Ask for every dynamic feature the CPU and kernel support (today AMX
 * TILEDATA, when both AMX bits 17 and 18 are supported). A kernel without
 * dynamic features (before 5.16) or without them for guests (5.16) is not
 * an error: *note is set to upstream's info line for the caller to log
 * (NULL when there is none) and 0 returned. Returns 0, or -errno with err
 * set to upstream's XstateError text ("Failed to get supported XSTATE
 * features: {os}" / "Failed to request permission for XSTATE feature
 * (18): {os}"). Logs nothing: it may run off the vmm thread (vm_shell.h).
 */
int xstate_request_dynamic(const char **note, struct sq_err *err);

#endif
