/*
 * sluice entry: the arm64 Linux Image header, then just enough assembly to reach Rust.
 *
 * Boot protocol (Documentation/arch/arm64/booting.rst): x0 = physical address of the DTB,
 * x1..x3 = 0, MMU off, entered at EL2 (or EL1 on a machine without virtualization, which we
 * refuse from Rust with a message). The image is linked at 0 and relocates itself.
 *
 * Secondary CPUs arrive at secondary_entry through the host's PSCI CPU_ON with x0 = their
 * logical index; they turn the MMU on with the tables the primary built, then enter Rust.
 */

.section .text.head, "ax"
.global _start
_start:
    b       primary_entry              /* code0 */
    .long   0                          /* code1 */
    .quad   0                          /* text_offset */
    .quad   __image_size               /* image_size: text, data, bss and stacks */
    .quad   0xa                        /* flags: LE, 4 KiB pages, place anywhere */
    .quad   0                          /* res2 */
    .quad   0                          /* res3 */
    .quad   0                          /* res4 */
    .ascii  "ARM\x64"                  /* magic */
    .long   0                          /* res5 */

.section .text.boot, "ax"

/* x0 = cpu index; sets sp to the top of that CPU's stack. Clobbers x1, x2. */
.macro set_cpu_stack
    adrp    x1, __stacks_start
    add     x1, x1, :lo12:__stacks_start
    ldr     x2, =__stack_size_per_cpu
    madd    x1, x2, x0, x1
    add     sp, x1, x2
.endm

primary_entry:
    msr     daifset, #0xf
    mov     x19, x0                    /* DTB */
    adr     x20, _start                /* load address */
    mrs     x21, CurrentEL
    lsr     x21, x21, #2

    /* Apply R_AARCH64_RELATIVE relocations: *(base + offset) = base + addend. */
    adrp    x2, __rela_start
    add     x2, x2, :lo12:__rela_start
    adrp    x3, __rela_end
    add     x3, x3, :lo12:__rela_end
1:  cmp     x2, x3
    b.hs    2f
    ldp     x4, x5, [x2], #16          /* r_offset, r_info */
    ldr     x6, [x2], #8               /* r_addend */
    cmp     x5, #1027                  /* R_AARCH64_RELATIVE */
    b.ne    1b
    add     x6, x6, x20
    str     x6, [x20, x4]
    b       1b
2:
    /* Zero .bss (the stacks live there too). */
    adrp    x2, __bss_start
    add     x2, x2, :lo12:__bss_start
    adrp    x3, __bss_end
    add     x3, x3, :lo12:__bss_end
3:  cmp     x2, x3
    b.hs    4f
    stp     xzr, xzr, [x2], #16
    b       3b
4:
    mov     x0, #0
    set_cpu_stack
    cmp     x21, #2
    b.ne    5f
    adrp    x1, el2_vectors
    add     x1, x1, :lo12:el2_vectors
    msr     vbar_el2, x1
    isb
5:
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    bl      primary_main
6:  wfe
    b       6b

.global secondary_entry
secondary_entry:
    msr     daifset, #0xf
    mov     x19, x0
    set_cpu_stack
    adrp    x1, el2_vectors
    add     x1, x1, :lo12:el2_vectors
    msr     vbar_el2, x1
    /* Turn on the MMU with the primary's tables (see arch::mmu::SecondaryMmu). */
    adrp    x1, SECONDARY_MMU
    add     x1, x1, :lo12:SECONDARY_MMU
    ldp     x2, x3, [x1]               /* MAIR_EL2, TCR_EL2 */
    ldp     x4, x5, [x1, #16]          /* TTBR0_EL2, SCTLR_EL2 */
    msr     mair_el2, x2
    msr     tcr_el2, x3
    msr     ttbr0_el2, x4
    isb
    tlbi    alle2
    dsb     nsh
    isb
    msr     sctlr_el2, x5
    isb
    mov     x0, x19
    bl      secondary_main
7:  wfe
    b       7b
