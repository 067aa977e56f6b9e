/*
 * Device accesses sluice makes on a guest's behalf that the device may answer with an abort
 * (an external abort on a forwarded MSI-X page access, say). Each accessor is one load or
 * store between fallible_access_start and fallible_access_end; a data abort taken at EL2 on
 * one of them is fixed up by el2_sync_fixup: x1 = 1 and execution resumes after it, so the
 * caller sees a failed access instead of sluice panicking.
 *
 * Reads:  x0 = address -> x0 = value, x1 = 0 (ok) or 1 (aborted)
 * Writes: x0 = address, x1 = value -> x1 = 0 (ok) or 1 (aborted)
 */

.section .text
.balign 4
.global fallible_read8, fallible_read16, fallible_read32, fallible_read64
.global fallible_write8, fallible_write16, fallible_write32, fallible_write64

fallible_read8:
    mov     x1, #0
fallible_access_start:
    ldrb    w0, [x0]
    ret
fallible_read16:
    mov     x1, #0
    ldrh    w0, [x0]
    ret
fallible_read32:
    mov     x1, #0
    ldr     w0, [x0]
    ret
fallible_read64:
    mov     x1, #0
    ldr     x0, [x0]
    ret
fallible_write8:
    mov     x2, x1
    mov     x1, #0
    strb    w2, [x0]
    ret
fallible_write16:
    mov     x2, x1
    mov     x1, #0
    strh    w2, [x0]
    ret
fallible_write32:
    mov     x2, x1
    mov     x1, #0
    str     w2, [x0]
    ret
fallible_write64:
    mov     x2, x1
    mov     x1, #0
    str     x2, [x0]
fallible_access_end:
    ret

/*
 * Synchronous exception from EL2 itself. A data abort (EC 0x25) on a fallible access is fixed
 * up; anything else is a sluice bug and goes to hyp_exception. Only x9/x10 are used, saved on
 * the stack, so the interrupted accessor sees nothing but x1.
 */
.global el2_sync_fixup
el2_sync_fixup:
    stp     x9, x10, [sp, #-16]!
    mrs     x9, esr_el2
    lsr     x9, x9, #26
    cmp     x9, #0x25
    b.ne    1f
    mrs     x9, elr_el2
    adr     x10, fallible_access_start
    cmp     x9, x10
    b.lo    1f
    adr     x10, fallible_access_end
    cmp     x9, x10
    b.hs    1f
    add     x9, x9, #4
    msr     elr_el2, x9
    ldp     x9, x10, [sp], #16
    mov     x1, #1
    eret
1:
    ldp     x9, x10, [sp], #16
    mov     x0, #0
    mrs     x1, esr_el2
    mrs     x2, elr_el2
    mrs     x3, far_el2
    mov     x4, sp
    b       hyp_exception
