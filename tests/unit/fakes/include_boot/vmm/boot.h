/*
 * boot.h (stand-in): the boot branch's interface, copied from the agreed
 * interface text so that the machine code and its tests build before that
 * branch is merged. mk/machine.mk adds this directory to the include path
 * only while src/vmm/boot.h does not exist; the real header then wins.
 */
#ifndef SQUIB_VMM_BOOT_H
#define SQUIB_VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "util/err.h"

struct boot_mem {
    uint8_t *ram;
    uint64_t ram_len;
    uint64_t mem_size;
};

enum boot_protocol { BOOT_PROTO_LINUX64, BOOT_PROTO_PVH, BOOT_PROTO_BZIMAGE };

struct boot_result {
    enum boot_protocol proto;
    uint64_t entry;
};

/* Load kernel, initrd and command line into guest RAM (see interface). */
int boot_load(const struct boot_mem *mem, int kernel_fd, int initrd_fd,
              const char *cmdline, struct boot_result *out, struct sq_err *err);
/* Boot vCPU register state for the protocol. */
void boot_vcpu_setup(const struct boot_result *res, struct kvm_regs *regs,
                     struct kvm_sregs *sregs, struct kvm_fpu *fpu);
/* Boot MSR list: fills entries, returns count. */
size_t boot_msrs(struct kvm_msr_entry *entries, size_t max);

#endif
