/*
 * EL2 exception vectors and the guest entry/exit path.
 *
 * A guest exit pushes a GuestFrame (x0..x30, ELR_EL2, SPSR_EL2) on this CPU's stack, calls
 * handle_guest_exit(frame, kind) in Rust, then restores the frame and returns to the guest.
 * EL1 system registers are never switched: every vCPU is pinned to its own physical CPU.
 * The layout must match arch::aarch64::context::GuestFrame.
 */

.equ FRAME_BYTES, 272

.equ EXIT_SYNC, 0
.equ EXIT_IRQ, 1
.equ EXIT_FIQ, 2
.equ EXIT_SERROR, 3

.macro guest_vector kind
    .balign 0x80
    sub     sp, sp, #FRAME_BYTES
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       guest_exit_common
.endm

.macro self_vector kind
    .balign 0x80
    mov     x0, #\kind
    mrs     x1, esr_el2
    mrs     x2, elr_el2
    mrs     x3, far_el2
    mov     x4, sp
    b       hyp_exception
.endm

.section .text
.balign 0x800
.global el2_vectors
el2_vectors:
    /* Current EL with SP_EL0: never used by sluice. */
    self_vector 0
    self_vector 1
    self_vector 2
    self_vector 3
    /* Current EL with SP_ELx: a fault in sluice itself (or on a fallible device access). */
    .balign 0x80
    b       el2_sync_fixup
    self_vector 1
    self_vector 2
    self_vector 3
    /* Lower EL, AArch64: the guest. */
    guest_vector EXIT_SYNC
    guest_vector EXIT_IRQ
    guest_vector EXIT_FIQ
    guest_vector EXIT_SERROR
    /* Lower EL, AArch32: refused by HCR_EL2.RW, handled like AArch64 exits. */
    guest_vector EXIT_SYNC
    guest_vector EXIT_IRQ
    guest_vector EXIT_FIQ
    guest_vector EXIT_SERROR

guest_exit_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x30, x2, [sp, #240]
    str     x3, [sp, #256]
    mov     x0, sp
    mov     x29, #0                    /* end the frame-pointer chain at the guest */
    bl      handle_guest_exit
    b       guest_resume

/*
 * guest_enter(frame: *const GuestFrame, stack_top: u64) -> !
 * Loads the guest's registers straight from `frame` (which may live anywhere on this CPU's
 * stack) and resets sp to `stack_top` for the next exit.
 */
.global guest_enter
guest_enter:
    mov     sp, x1
    ldp     x30, x2, [x0, #240]
    ldr     x3, [x0, #256]
    msr     elr_el2, x2
    msr     spsr_el2, x3
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldp     x0, x1, [x0, #0]
    eret

guest_resume:
    ldp     x30, x0, [sp, #240]
    ldr     x1, [sp, #256]
    msr     elr_el2, x0
    msr     spsr_el2, x1
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    add     sp, sp, #FRAME_BYTES
    eret
