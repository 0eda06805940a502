/*
 * vm_shell.h: the part of a KVM VM that no configuration changes, made
 * before it is asked for.
 *
 * Every microVM, booted or restored, starts from the same shell: /dev/kvm
 * opened and asked what CPUID it supports (after the dynamic XSTATE
 * permission, xstate.h), and a VM fd with its TSS address, in-kernel
 * irqchip and PIT. Making it costs milliseconds of kernel time, most of it
 * waiting: KVM_CREATE_PIT2 registers its I/O devices, each after an SRCU
 * grace period, and a memory slot set right after waits for the next one.
 * None of it depends on the machine configuration or on a snapshot, so
 * squib makes it while the API waits for its first client (on the nested
 * hosts squib is developed on, a 128 MiB restore's VMM time went from 8.8
 * to 5.3 ms, 3.2 ms in a process up 100 ms: docs/bench.md):
 *
 *   main ── vm_shell_prepare() ──► thread "fc_vm_prepare": vm_shell_make()
 *                                        │ (the result kept, the thread ends)
 *   machine_create() ── vm_shell_take() ─┴─► joins it; takes the shell if
 *                                            it was made, else makes one
 *                                            now and reports its error
 *
 * A shell that failed on the thread is thrown away and made again by
 * vm_shell_take(), so the error a client sees is the one upstream gives at
 * that point, with its text (a host without /dev/kvm fails twice, quietly
 * the first time). The thread runs before any guest exists and before the
 * vmm thread installs its seccomp filter (pre-boot requests are served
 * unfiltered too, docs/seccomp.md); it takes no lock and touches nothing
 * but its own result.
 */
#ifndef SQUIB_VMM_VM_SHELL_H
#define SQUIB_VMM_VM_SHELL_H

#include <stdint.h>

#include "util/err.h"
#include "vmm/kvm.h"

/* Room in `supported` (KVM's own limit for KVM_SET_CPUID2). */
#define VM_SHELL_CPUID_CAPACITY 256

struct vm_shell {
    struct kvm_sys kvm;           /* owned; fd -1 if none */
    struct kvm_cpuid2 *supported; /* owned: KVM_GET_SUPPORTED_CPUID, with
                                     room for VM_SHELL_CPUID_CAPACITY */
    int vm_fd;                    /* owned; -1 if none. TSS address set,
                                     irqchip and PIT2 created */
    uint32_t xsave2; /* the VM's KVM_CAP_XSAVE2 (XSAVE bytes); 0: none */
    /* Upstream's info line about dynamic XSTATE features (xstate.h), or
     * NULL; logged by vm_shell_take() on the vmm thread. Kept by a failed
     * vm_shell_make() and vm_shell_fini(). */
    const char *xstate_note;
};

/* An empty shell (no fd, nothing allocated). */
void vm_shell_init(struct vm_shell *s);

/*
 * Make a shell in s (empty): open /dev/kvm, request the dynamic XSTATE
 * features, read the supported CPUID, create the VM, its TSS, irqchip and
 * PIT. 0, or -errno with err set to upstream's text for the step that
 * failed ("Kvm error: ...", "Error with the KvmVm object: ...") and s
 * empty again.
 */
int vm_shell_make(struct vm_shell *s, struct sq_err *err);

/* Close and free what s holds; s is empty after. */
void vm_shell_fini(struct vm_shell *s);

/*
 * Start making this process's shell on its own thread. Once per process,
 * from the main thread, before any vm_shell_take(); later calls do
 * nothing. A thread that cannot be created is not an error: the shell is
 * then made by vm_shell_take().
 */
void vm_shell_prepare(void);

/*
 * The shell into s (empty): the prepared one if vm_shell_prepare() made
 * one and it is not taken yet (waiting for the thread if it is still at
 * work), else one made now by vm_shell_make(). Logs the XSTATE note, if
 * any, as upstream does at this point. 0 or -errno with err set as
 * vm_shell_make() sets it. On the vmm thread only.
 */
int vm_shell_take(struct vm_shell *s, struct sq_err *err);

#endif
