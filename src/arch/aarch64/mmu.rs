//! EL2 stage-1 MMU, stage-2 translation registers, TLB maintenance, and the frame memory that
//! translation tables live in.

use super::cpu::write_sysreg;
use core::arch::asm;

/// SCTLR_EL2 with the MMU, data and instruction caches and stack alignment checks on
/// (RES1 bits 29:28, 23:22, 18, 16, 11, 5:4 of the non-VHE layout).
const SCTLR_EL2_MMU_ON: u64 = 0x30c5_0830 | (1 << 0) | (1 << 2) | (1 << 12) | (1 << 3);

/// The values a secondary CPU loads in `boot/entry.S` before it turns its MMU on.
/// Layout shared with the assembly: MAIR_EL2, TCR_EL2, TTBR0_EL2, SCTLR_EL2.
#[repr(C)]
pub struct SecondaryMmu {
    mair: u64,
    tcr: u64,
    ttbr0: u64,
    sctlr: u64,
}

#[no_mangle]
static mut SECONDARY_MMU: SecondaryMmu = SecondaryMmu {
    mair: 0,
    tcr: 0,
    ttbr0: 0,
    sctlr: 0,
};

/// Turns on this CPU's EL2 MMU with the given identity-mapping tables and records the values
/// for the secondary CPUs. Called once, on the primary CPU, before any secondary starts.
pub fn enable_el2_mmu(mair: u64, tcr: u64, root_phys: u64) {
    // SAFETY: only the primary CPU writes SECONDARY_MMU, before it starts any secondary CPU
    // (PSCI CPU_ON is a release point), so there is no concurrent access.
    unsafe {
        let cfg = &mut *core::ptr::addr_of_mut!(SECONDARY_MMU);
        *cfg = SecondaryMmu {
            mair,
            tcr,
            ttbr0: root_phys,
            sctlr: SCTLR_EL2_MMU_ON,
        };
    }
    write_sysreg!("mair_el2", mair);
    write_sysreg!("tcr_el2", tcr);
    write_sysreg!("ttbr0_el2", root_phys);
    // SAFETY: the tables identity-map this code, its stack and data with the same attributes
    // the MMU-off view had, so execution continues at the next instruction.
    unsafe { asm!("isb", "tlbi alle2", "dsb nsh", "isb", options(nostack)) };
    write_sysreg!("sctlr_el2", SCTLR_EL2_MMU_ON);
    // SAFETY: synchronise the SCTLR change.
    unsafe { asm!("isb", options(nostack)) };
}

/// Installs a guest's stage-2 tables (VTTBR_EL2 with `vmid`) and translation control.
pub fn install_stage2(vtcr: u64, root_phys: u64, vmid: u16) {
    write_sysreg!("vtcr_el2", vtcr);
    write_sysreg!("vttbr_el2", root_phys | (vmid as u64) << 48);
    // SAFETY: TLB maintenance for the current VMID; no memory effect visible to Rust.
    unsafe {
        asm!(
            "isb",
            "tlbi vmalls12e1is",
            "dsb ish",
            "isb",
            options(nostack)
        )
    };
}

/// Above this many pages one invalidation of the whole VMID is cheaper than a TLBI per page
/// (Linux's arm64 MAX_TLBI_OPS is the same bound). Freeing an emptied stage-2 table covers
/// its whole entry, up to 512 GiB (2^27 pages) at level 0: a guest that turned off decode of
/// a lone 64-bit BAR kept its vCPU in EL2 for minutes looping over them.
const MAX_TLBI_BY_IPA: u64 = 512;

/// Invalidates stage-2 TLB entries for `[ipa, ipa + len)` of the current VMID on every CPU
/// (plus all stage-1 entries, which may have cached the combined translation).
pub fn invalidate_stage2_range(ipa: u64, len: u64) {
    // SAFETY: DSB so the table update is visible to the walkers before invalidation.
    unsafe { asm!("dsb ishst", options(nostack)) };
    let mut page = ipa >> 12;
    let end = ipa.saturating_add(len).div_ceil(4096);
    if end.saturating_sub(page) > MAX_TLBI_BY_IPA {
        // SAFETY: TLB maintenance only drops cached translations (all of this VMID's).
        unsafe { asm!("tlbi vmalls12e1is", "dsb ish", "isb", options(nostack)) };
        return;
    }
    while page < end {
        // SAFETY: TLBI by IPA only drops cached translations.
        unsafe { asm!("tlbi ipas2e1is, {}", in(reg) page, options(nostack)) };
        page += 1;
    }
    // SAFETY: complete the invalidation, then drop combined stage-1+2 entries.
    unsafe {
        asm!(
            "dsb ish",
            "tlbi vmalle1is",
            "dsb ish",
            "isb",
            options(nostack)
        )
    };
}
