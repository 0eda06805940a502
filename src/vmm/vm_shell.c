/*
 * vm_shell.c: the configuration-free part of a KVM VM, and the thread that
 * makes it ahead of time (vm_shell.h).
 */
#include "vmm/vm_shell.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "obs/log.h"
#include "util/xalloc.h"
#include "vmm/xstate.h"

#define KVM_TSS_ADDRESS 0xfffbd000ULL

void vm_shell_init(struct vm_shell *s)
{
    s->kvm.fd = -1;
    s->kvm.api_version = 0;
    s->kvm.vcpu_mmap_size = 0;
    s->kvm.max_memslots = 0;
    s->supported = NULL;
    s->vm_fd = -1;
    s->xsave2 = 0;
    s->xstate_note = NULL;
}

void vm_shell_fini(struct vm_shell *s)
{
    const char *note = s->xstate_note;

    if (s->vm_fd >= 0)
        close(s->vm_fd);
    kvm_sys_close(&s->kvm);
    free(s->supported);
    vm_shell_init(s);
    s->xstate_note = note;
}

/* /dev/kvm and the CPUID it supports (upstream's Kvm::new). */
static int open_kvm(struct vm_shell *s, struct sq_err *err)
{
    char os[256];
    int rc = kvm_sys_open(&s->kvm);

    /* Upstream's KvmError::ApiVersion for any answer but 12, a failed
     * ioctl's -1 included; Kvm (the text below) only if the open failed. */
    if (rc < 0 && s->kvm.api_version != 0 &&
        s->kvm.api_version != KVM_API_VERSION)
        return sq_errf(err, rc,
                       "Kvm error: The host kernel reports an invalid "
                       "KVM API version: %d",
                       s->kvm.api_version);
    if (rc < 0)
        return sq_errf(err, rc,
                       "Kvm error: Error creating KVM object: %s Make sure the "
                       "user launching the firecracker process is configured "
                       "on the /dev/kvm file's ACL.",
                       sq_os_error(-rc, os, sizeof(os)));
    /* Before KVM says what it supports, as upstream's Kvm::init_arch. */
    rc = xstate_request_dynamic(&s->xstate_note, err);
    if (rc < 0)
        return sq_err_prefix(err, "Kvm error: Architecture specific error: "
                                  "Failed to request permission for dynamic "
                                  "XSTATE features: ");
    s->supported = xcalloc(1, sizeof(struct kvm_cpuid2) +
                                  VM_SHELL_CPUID_CAPACITY *
                                      sizeof(struct kvm_cpuid_entry2));
    rc =
        kvm_get_supported_cpuid(&s->kvm, s->supported, VM_SHELL_CPUID_CAPACITY);
    if (rc < 0)
        return sq_errf(err, rc,
                       "Kvm error: Architecture specific error: Failed "
                       "to get supported cpuid: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    return 0;
}

/* The VM fd, its TSS, irqchip and PIT (upstream's Vm::new and
 * setup_irqchip). */
static int create_vm(struct vm_shell *s, struct sq_err *err)
{
    char os[256];
    int rc;

    s->vm_fd = kvm_create_vm(&s->kvm);
    if (s->vm_fd < 0) {
        rc = s->vm_fd;
        s->vm_fd = -1;
        return sq_errf(err, rc,
                       "Error with the KvmVm object: Failed to create "
                       "VM: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    }
    /* The XSAVE area's size (KVM 5.17+), read once as upstream does. */
    rc = kvm_vm_check_extension(s->vm_fd, KVM_CAP_XSAVE2);
    if (rc < 0)
        return sq_errf(err, rc,
                       "Error with the KvmVm object: Failed to check KVM "
                       "capability (0): %s",
                       sq_os_error(-rc, os, sizeof(os)));
    s->xsave2 = (uint32_t)rc;
    rc = kvm_set_tss_addr(s->vm_fd, KVM_TSS_ADDRESS);
    if (rc < 0)
        return sq_errf(err, rc,
                       "Error with the KvmVm object: Failed to set "
                       "KVM TSS address: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    rc = kvm_create_irqchip(s->vm_fd);
    if (rc == 0)
        rc = kvm_create_pit2(s->vm_fd, KVM_PIT_SPEAKER_DUMMY);
    if (rc < 0)
        return sq_errf(err, rc,
                       "Error with the KvmVm object: Failed to set "
                       "KVM vm irqchip: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    return 0;
}

int vm_shell_make(struct vm_shell *s, struct sq_err *err)
{
    int rc;

    vm_shell_init(s);
    rc = open_kvm(s, err);
    if (rc == 0)
        rc = create_vm(s, err);
    if (rc < 0)
        vm_shell_fini(s);
    return rc;
}

/* ---- made ahead of time ---------------------------------------------------
 * Written by the thread, read by the vmm thread only after pthread_join(),
 * which orders the two.
 */
static pthread_t prep_thread;
static bool prep_started; /* main thread only */
static bool prep_taken;   /* vmm (main) thread only */
static struct vm_shell prep_shell;
static int prep_rc;

static void *prep_main(void *arg)
{
    struct sq_err err;

    (void)arg;
    pthread_setname_np(pthread_self(), "fc_vm_prepare");
    sq_err_clear(&err);
    prep_rc = vm_shell_make(&prep_shell, &err);
    return NULL;
}

void vm_shell_prepare(void)
{
    if (prep_started || prep_taken)
        return;
    vm_shell_init(&prep_shell);
    prep_rc = -EAGAIN;
    prep_started = pthread_create(&prep_thread, NULL, prep_main, NULL) == 0;
}

int vm_shell_take(struct vm_shell *s, struct sq_err *err)
{
    int rc = -EAGAIN;

    if (prep_started && !prep_taken) {
        pthread_join(prep_thread, NULL);
        rc = prep_rc;
        if (rc == 0)
            *s = prep_shell;
        vm_shell_init(&prep_shell);
    }
    prep_taken = true;
    if (rc < 0)
        rc = vm_shell_make(s, err);
    if (s->xstate_note)
        log_info("%s", s->xstate_note);
    return rc;
}
