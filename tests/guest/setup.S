/*
 * setup.S: the real-mode part of the test guest's bzImage, followed by the
 * protected-mode payload (the flat binary of the guest linked at 1 MiB).
 *
 * The setup header follows Documentation/x86/boot.rst: boot protocol 2.15,
 * LOADED_HIGH, XLF_KERNEL_64 (a 64-bit entry at code32_start + 0x200, which
 * squib and Firecracker use). Loaders that run the real-mode code instead
 * (QEMU's linuxboot) enter at offset 0x200 with DS = the setup segment; the
 * code below switches to 32-bit protected mode and jumps to code32_start
 * with ESI = boot_params, as the 32-bit boot protocol requires.
 *
 * Built with -DPAYLOAD="path" and --defsym INIT_END=<_end of the payload>.
 */
#define SETUP_SECTS 3

    .code16
    .section .text, "ax"
    .globl _setup
_setup:
    .org 0x1f1
    .byte SETUP_SECTS                        /* setup_sects */
    .word 0                                  /* root_flags */
    .long (payload_end - payload_start + 15) / 16 /* syssize */
    .word 0                                  /* ram_size */
    .word 0xffff                             /* vid_mode: normal */
    .word 0                                  /* root_dev */
    .word 0xaa55                             /* boot_flag */
    .byte 0xeb, start_of_setup - 1f          /* jump (short) */
1:  .ascii "HdrS"                            /* header */
    .word 0x020f                             /* version 2.15 */
    .long 0                                  /* realmode_swtch */
    .word 0x1000                             /* start_sys_seg */
    .word 0                                  /* kernel_version */
    .byte 0                                  /* type_of_loader */
    .byte 0x01                               /* loadflags: LOADED_HIGH */
    .word 0x8000                             /* setup_move_size */
    .long 0x100000                           /* code32_start */
    .long 0                                  /* ramdisk_image */
    .long 0                                  /* ramdisk_size */
    .long 0                                  /* bootsect_kludge */
    .word 0                                  /* heap_end_ptr */
    .byte 0                                  /* ext_loader_ver */
    .byte 0                                  /* ext_loader_type */
    .long 0                                  /* cmd_line_ptr */
    .long 0x7fffffff                         /* initrd_addr_max */
    .long 0x200000                           /* kernel_alignment */
    .byte 0                                  /* relocatable_kernel */
    .byte 21                                 /* min_alignment */
    .word 0x0001                             /* xloadflags: XLF_KERNEL_64 */
    .long 2047                               /* cmdline_size */
    .long 0                                  /* hardware_subarch */
    .quad 0                                  /* hardware_subarch_data */
    .long 0                                  /* payload_offset */
    .long 0                                  /* payload_length */
    .quad 0                                  /* setup_data */
    .quad 0x100000                           /* pref_address */
    .long INIT_END - 0x100000                /* init_size */
    .long 0                                  /* handover_offset */
    .long 0                                  /* kernel_info_offset */

start_of_setup:
    cli
    cld
    movw %ds, %ax
    movzwl %ax, %esi
    shll $4, %esi                     /* ESI = linear boot_params */
    movl %esi, %eax
    addl $(gdt - _setup), %eax
    movl %eax, (gdt_desc + 2 - _setup)
    movl %esi, %eax
    addl $(pm32 - _setup), %eax
    movl %eax, (far_ptr - _setup)
    lgdtl (gdt_desc - _setup)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl *(far_ptr - _setup)

    .code32
pm32:
    movl $0x18, %eax                  /* __BOOT_DS */
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %fs
    movl %eax, %gs
    movl %eax, %ss
    xorl %ebp, %ebp
    xorl %edi, %edi
    xorl %ebx, %ebx
    movl 0x214(%esi), %eax            /* code32_start */
    jmp *%eax

    .balign 8
gdt:
    .quad 0
    .quad 0
    .quad 0x00cf9a000000ffff          /* 0x10: __BOOT_CS */
    .quad 0x00cf92000000ffff          /* 0x18: __BOOT_DS */
gdt_desc:
    .word 31
    .long 0
far_ptr:
    .long 0
    .word 0x10

    .org (SETUP_SECTS + 1) * 512
payload_start:
    .incbin PAYLOAD
payload_end:
