/*
 * pvhnote.S: the ELF note that makes the guest a PVH kernel
 * (XEN_ELFNOTE_PHYS32_ENTRY = 18, name "Xen", 4-byte entry address).
 * Only the PVH flavour links this object. 4-byte alignment, as Linux's
 * notes, so readers that align by the segment's p_align agree.
 */
    .section .note.Xen, "a", @note
    .balign 4
    .long 2f - 1f           /* namesz */
    .long 4f - 3f           /* descsz */
    .long 18                /* type: XEN_ELFNOTE_PHYS32_ENTRY */
1:  .asciz "Xen"
2:  .balign 4
3:  .long pvh_start
4:  .balign 4
