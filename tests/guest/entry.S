/*
 * entry.S: entry points of the test guest and the AP trampoline.
 *
 *  startup_32 (0x100000)  32-bit boot protocol (bzImage entered at
 *                         code32_start, as QEMU does): ESI = boot_params.
 *  startup_64 (0x100200)  64-bit boot protocol (ELF vmlinux, bzImage + 0x200,
 *                         as squib/Firecracker do): RSI = boot_params.
 *  pvh_start              PVH (32-bit, paging off): EBX = hvm_start_info.
 *
 * Each entry first saves the registers it was given (reported later), then
 * zeroes .bss, installs the guest's own GDT and identity page tables (4 GiB
 * with 2 MiB pages, so the LAPIC, IOAPIC and MMIO devices are reachable) and
 * calls guest_main() on the guest's own stack. Only 2 MiB pages are used
 * (a 1 GiB mapping faulted on the nested hypervisor the tests run on).
 */
#include "guest.h"

#define CR0_PE   0x1
#define CR0_PG   0x80000000
#define CR4_PAE  0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100

#define SEL_CODE64 0x08
#define SEL_DATA   0x10
#define SEL_CODE32 0x18

    .section .text.entry, "ax"

/* ---------------------------------------------------------------- 32-bit */
    .code32
    .globl startup_32
startup_32:
    cli
    movl %eax, entry_regs + ER_RAX
    movl $BOOT_KIND_BZ32, %eax
    jmp save32

    .org 0x200
/* ---------------------------------------------------------------- 64-bit */
    .code64
    .globl startup_64
startup_64:
    cli
    movq %rax, entry_regs + ER_RAX(%rip)
    movq %rbx, entry_regs + ER_RBX(%rip)
    movq %rcx, entry_regs + ER_RCX(%rip)
    movq %rdx, entry_regs + ER_RDX(%rip)
    movq %rsi, entry_regs + ER_RSI(%rip)
    movq %rdi, entry_regs + ER_RDI(%rip)
    movq %rbp, entry_regs + ER_RBP(%rip)
    movq %rsp, entry_regs + ER_RSP(%rip)
    movq %r8, entry_regs + ER_R8(%rip)
    movq %r9, entry_regs + ER_R9(%rip)
    movq %r10, entry_regs + ER_R10(%rip)
    movq %r11, entry_regs + ER_R11(%rip)
    movq %r12, entry_regs + ER_R12(%rip)
    movq %r13, entry_regs + ER_R13(%rip)
    movq %r14, entry_regs + ER_R14(%rip)
    movq %r15, entry_regs + ER_R15(%rip)
    /* RFLAGS: read through the guest's own stack, not the caller's. */
    leaq stack_top(%rip), %rsp
    pushfq
    popq %rax
    movq %rax, entry_regs + ER_RFLAGS(%rip)
    movq %cr0, %rax
    movq %rax, entry_regs + ER_CR0(%rip)
    movq %cr3, %rax
    movq %rax, entry_regs + ER_CR3(%rip)
    movq %cr4, %rax
    movq %rax, entry_regs + ER_CR4(%rip)
    movl $MSR_EFER, %ecx
    rdmsr
    movl %eax, entry_regs + ER_EFER(%rip)
    movl %edx, entry_regs + ER_EFER + 4(%rip)
    movw %cs, entry_regs + ER_CS(%rip)
    movw %ds, entry_regs + ER_DS(%rip)
    movw %ss, entry_regs + ER_SS(%rip)
    sgdt entry_regs + ER_GDT(%rip)
    sidt entry_regs + ER_IDT(%rip)
    leaq startup_64(%rip), %rax
    movq %rax, entry_regs + ER_RIP(%rip)
    movl $BOOT_KIND_64, entry_kind(%rip)

    /* zero .bss (the stack and page tables live there) */
    cld
    leaq __bss_start(%rip), %rdi
    leaq __bss_end(%rip), %rcx
    subq %rdi, %rcx
    xorl %eax, %eax
    rep stosb

    leaq stack_top(%rip), %rsp
    call paging_build           /* C: fills pml4/pdpt/pd */
    lgdt gdt64_desc(%rip)
    leaq pml4(%rip), %rax
    movq %rax, %cr3
    pushq $SEL_CODE64
    leaq 1f(%rip), %rax
    pushq %rax
    lretq
1:  movl $SEL_DATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    jmp to_main

/* --------------------------------------------------------------- PVH */
    .code32
    .globl pvh_start
pvh_start:
    cli
    movl %eax, entry_regs + ER_RAX
    movl $BOOT_KIND_PVH, %eax
    /* fall through */

/* Common 32-bit path; EAX = boot kind, the caller's EAX already saved. */
save32:
    movl %eax, entry_kind
    movl %ebx, entry_regs + ER_RBX
    movl %ecx, entry_regs + ER_RCX
    movl %edx, entry_regs + ER_RDX
    movl %esi, entry_regs + ER_RSI
    movl %edi, entry_regs + ER_RDI
    movl %ebp, entry_regs + ER_RBP
    movl %esp, entry_regs + ER_RSP
    movl $stack_top, %esp       /* 32-bit protocols give no stack */
    pushfl
    popl %eax
    movl %eax, entry_regs + ER_RFLAGS
    movl %cr0, %eax
    movl %eax, entry_regs + ER_CR0
    movl %cr3, %eax
    movl %eax, entry_regs + ER_CR3
    movl %cr4, %eax
    movl %eax, entry_regs + ER_CR4
    movw %cs, entry_regs + ER_CS
    movw %ds, entry_regs + ER_DS
    movw %ss, entry_regs + ER_SS
    sgdt entry_regs + ER_GDT
    sidt entry_regs + ER_IDT
    movl entry_kind, %eax
    cmpl $BOOT_KIND_PVH, %eax
    jne 1f
    movl $pvh_start, entry_regs + ER_RIP
    jmp 2f
1:  movl $startup_32, entry_regs + ER_RIP
2:
    /* zero .bss */
    cld
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    /* PML4[0] -> PDPT; PDPT[0..3] -> PD[0..3]; PD: 2048 x 2 MiB */
    movl $pdpt, %eax
    orl $7, %eax                /* user-accessible: see user_enter() */
    movl %eax, pml4
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    addl $pd, %eax
    orl $7, %eax
    movl %eax, pdpt(, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jne 1b
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x87, %eax             /* present, writable, user, 2 MiB */
    cmpl $1536, %ecx            /* >= 3 GiB: MMIO, uncached */
    jb 2f
    orl $0x18, %eax
2:  movl %eax, pd(, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jne 1b

    lgdt gdt64_desc
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PE | CR0_PG), %eax
    movl %eax, %cr0
    ljmp $SEL_CODE64, $long64

    .code64
long64:
    movl $SEL_DATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movabsq $stack_top, %rsp
to_main:
    xorl %ebp, %ebp
    call guest_main
1:  cli
    hlt
    jmp 1b

/* ------------------------------------------------------ AP trampoline
 * Copied to AP_TRAMPOLINE (below 1 MiB) and entered in real mode at the
 * SIPI vector. Everything inside it is addressed relative to its start.
 */
    .code16
    .globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
    cli
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (ap_gdt_desc - ap_tramp_start)
    movl %cr0, %eax
    orl $CR0_PE, %eax
    movl %eax, %cr0
    ljmpl $SEL_CODE32, $(AP_TRAMPOLINE + ap32 - ap_tramp_start)
    .code32
ap32:
    movl $SEL_DATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $CR0_PG, %eax
    movl %eax, %cr0
    ljmp $SEL_CODE64, $ap64
    .balign 8
ap_gdt_desc:
    .word gdt64_end - gdt64 - 1
    .long gdt64
ap_tramp_end:

    .code64
ap64:
    movl $SEL_DATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movl $1, %eax
    lock xaddl %eax, ap_next(%rip)
    incl %eax                   /* AP n uses stack n (1-based) */
    cmpl $MAX_CPUS, %eax
    jae 2f
    shll $12, %eax
    leaq ap_stacks(%rip), %rsp
    addq %rax, %rsp
    xorl %ebp, %ebp
    call ap_main
2:  cli
    hlt
    jmp 2b

/* ------------------------------------------------------ interrupts
 * 256 stubs, 16 bytes apart (idt_setup() points gate n at isr_stubs + 16n).
 * Each pushes a dummy error code where the CPU pushes none, then the vector,
 * and goes to isr_common, which calls isr_handler(vector, error, frame).
 */
    .section .text
    .balign 16
    .globl isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp isr_common
    .set vec, vec + 1
    .endr

isr_common:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    movq 72(%rsp), %rdi         /* vector */
    movq 80(%rsp), %rsi         /* error code */
    leaq 88(%rsp), %rdx         /* rip, cs, rflags, rsp, ss */
    cld
    call isr_handler
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    addq $16, %rsp
    iretq

/* ---------------------------------------------------------------- data */
    .section .data
    .balign 16
gdt64:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x00cf9a000000ffff    /* 0x18: 32-bit code (AP trampoline) */
    .quad 0x00affa000000ffff    /* 0x20: 64-bit user code (0x23) */
    .quad 0x00cff2000000ffff    /* 0x28: user data (0x2b) */
    .globl gdt64_tss
gdt64_tss:
    .quad 0, 0                  /* 0x30: TSS, filled in by user_enter() */
gdt64_end:
    .balign 8
    .word 0, 0, 0
gdt64_desc:
    .word gdt64_end - gdt64 - 1
    .quad gdt64

    .globl entry_regs, entry_kind, ap_next
    .balign 8
entry_regs:
    .fill ER_SIZE, 1, 0
entry_kind:
    .long 0
ap_next:
    .long 0

    .section .bss
    .balign 4096
    .globl pml4, pdpt, pd, ap_stacks
pml4:
    .skip 4096
pdpt:
    .skip 4096
pd:
    .skip 4 * 4096
stack:
    .skip 16384
stack_top:
ap_stacks:
    .skip MAX_CPUS * 4096
