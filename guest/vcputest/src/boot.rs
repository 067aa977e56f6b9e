//! The entry: the arm64 Image header (Documentation/arch/arm64/booting.rst), self-relocation,
//! the drop from EL2 to EL1 when QEMU starts us at EL2 (natively, `virtualization=on`), the
//! per-CPU stacks and the EL1 exception vectors. Everything else is Rust.
//!
//! The EL2 drop leaves EL1 untrapped, so the native run sees the same EL1 as a guest of
//! sluice: HCR_EL2.RW (AArch64 EL1) plus API/APK (pointer authentication) and ATA (MTE tag
//! registers); CNTHCTL_EL2 lets EL1 use the physical counter and timer; CPTR_EL2 traps no
//! FP/SVE/SME; MDCR_EL2 keeps only HPMN; ICC_SRE_EL2 enables the GICv3 system registers at
//! EL1; ZCR_EL2/SMCR_EL2 give EL1 the longest vectors; HCRX_EL2.MSCEn allows MOPS at EL1.

use core::arch::global_asm;

global_asm!(
    r#"
.section .text.head, "ax"
.global _start
_start:
    b       primary_entry              /* code0 */
    .long   0                          /* code1 */
    .quad   0                          /* text_offset */
    .quad   __image_size               /* image_size: text, data, bss and stacks */
    .quad   0xa                        /* flags: LE, 4 KiB pages, place anywhere */
    .quad   0
    .quad   0
    .quad   0
    .ascii  "ARM\x64"                  /* magic */
    .long   0

.section .text.boot, "ax"

/* x0 = cpu index: sp = top of that CPU's stack, tpidr_el1 = index, vbar_el1 = vectors. */
.macro cpu_setup
    adrp    x1, __stacks_start
    add     x1, x1, :lo12:__stacks_start
    ldr     x2, =__stack_size_per_cpu
    madd    x1, x2, x0, x1
    add     sp, x1, x2
    msr     tpidr_el1, x0
    adrp    x1, vt_vectors
    add     x1, x1, :lo12:vt_vectors
    msr     vbar_el1, x1
    isb
.endm

primary_entry:
    msr     daifset, #0xf
    mov     x19, x0                    /* DTB */
    adr     x20, _start                /* load address */
    mrs     x21, CurrentEL
    lsr     x21, x21, #2
    /* R_AARCH64_RELATIVE relocations: *(base + offset) = base + addend. */
    adrp    x2, __rela_start
    add     x2, x2, :lo12:__rela_start
    adrp    x3, __rela_end
    add     x3, x3, :lo12:__rela_end
1:  cmp     x2, x3
    b.hs    2f
    ldp     x4, x5, [x2], #16
    ldr     x6, [x2], #8
    cmp     x5, #1027
    b.ne    1b
    add     x6, x6, x20
    str     x6, [x20, x4]
    b       1b
2:  adrp    x2, __bss_start
    add     x2, x2, :lo12:__bss_start
    adrp    x3, __bss_end
    add     x3, x3, :lo12:__bss_end
3:  cmp     x2, x3
    b.hs    4f
    stp     xzr, xzr, [x2], #16
    b       3b
4:  bl      vt_drop_to_el1
    mov     x0, #0
    cpu_setup
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    bl      vt_primary_main
5:  wfi
    b       5b

/* PSCI CPU_ON entry: x0 = context id = logical cpu index (checked in Rust). */
.global vt_secondary_entry
vt_secondary_entry:
    msr     daifset, #0xf
    mov     x19, x0
    mrs     x21, CurrentEL
    lsr     x21, x21, #2
    bl      vt_drop_to_el1
    and     x0, x19, #7                /* a stack even for a bad context id */
    cpu_setup
    mov     x0, x19
    mov     x1, x21
    bl      vt_secondary_main
6:  wfi
    b       6b

/* At EL2: configure EL2 to trap nothing and return to the caller at EL1h, DAIF masked.
 * At EL1: return. Clobbers x9, x10. */
vt_drop_to_el1:
    mrs     x9, CurrentEL
    cmp     x9, #8
    b.ne    9f
    mov     x9, #(1 << 31)             /* RW */
    orr     x9, x9, #(3 << 40)         /* APK, API */
    orr     x9, x9, #(1 << 56)         /* ATA */
    msr     hcr_el2, x9
    mov     x9, #3                     /* EL1PCEN, EL1PCTEN */
    msr     cnthctl_el2, x9
    msr     cntvoff_el2, xzr
    mov     x9, #0x22ff                /* RES1 bits only: TFP, TZ, TSM, TTA, TAM, TCPAC = 0 */
    msr     cptr_el2, x9
    isb
    mrs     x9, mdcr_el2
    and     x9, x9, #0x1f              /* HPMN only */
    msr     mdcr_el2, x9
    mov     x9, #0xf                   /* SRE, DFB, DIB, Enable */
    msr     s3_4_c12_c9_5, x9          /* ICC_SRE_EL2 */
    isb
    mrs     x9, id_aa64pfr0_el1
    ubfx    x10, x9, #32, #4           /* SVE */
    cbz     x10, 7f
    mov     x10, #0xf
    msr     s3_4_c1_c2_0, x10          /* ZCR_EL2.LEN */
7:  mrs     x9, id_aa64pfr1_el1
    ubfx    x10, x9, #24, #4           /* SME */
    cbz     x10, 8f
    mov     x10, #0xf
    orr     x10, x10, #(3 << 30)       /* FA64, EZT0 */
    msr     s3_4_c1_c2_6, x10          /* SMCR_EL2 */
8:  mrs     x9, id_aa64mmfr1_el1
    ubfx    x10, x9, #40, #4           /* HCX */
    cbz     x10, 10f
    mov     x10, #(1 << 11)            /* MSCEn */
    msr     s3_4_c1_c2_2, x10          /* HCRX_EL2 */
10: ldr     x9, =0x30d00800            /* SCTLR_EL1: RES1 bits, MMU and caches off */
    msr     sctlr_el1, x9
    mov     x9, #0x3c5                 /* EL1h, DAIF masked */
    msr     spsr_el2, x9
    msr     elr_el2, x30
    isb
    eret
9:  ret

/* EL1 vectors: every entry saves x0/x1, passes its slot number to vt_common. */
.macro vt_vec slot
    .balign 0x80
    sub     sp, sp, #176
    stp     x0, x1, [sp, #0]
    mov     x0, #\slot
    b       vt_common
.endm

.section .text.vectors, "ax"
.balign 0x800
.global vt_vectors
vt_vectors:
    vt_vec 0
    vt_vec 1
    vt_vec 2
    vt_vec 3
    vt_vec 4
    vt_vec 5
    vt_vec 6
    vt_vec 7
    vt_vec 8
    vt_vec 9
    vt_vec 10
    vt_vec 11
    vt_vec 12
    vt_vec 13
    vt_vec 14
    vt_vec 15

vt_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    bl      vt_exception
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x29, [sp, #144]
    ldr     x30, [sp, #160]
    add     sp, sp, #176
    eret
"#
);

extern "C" {
    /// The PSCI CPU_ON entry point of secondary CPUs.
    pub fn vt_secondary_entry();
}
