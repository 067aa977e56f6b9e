//! CPU-level EL2 operations: identification, guest trap configuration, barriers, caches.

use aarch64_cpu::registers::{
    CNTFRQ_EL0, CNTHCTL_EL2, CNTPCT_EL0, CNTP_CTL_EL0, CNTVOFF_EL2, CNTV_CTL_EL0, HCR_EL2,
    ID_AA64MMFR0_EL1, ID_AA64MMFR1_EL1, ID_AA64PFR0_EL1, MIDR_EL1, MPIDR_EL1, TPIDR_EL2,
    VMPIDR_EL2,
};
use core::arch::asm;
use sluice::mm::zero::ZeroPlan;
use tock_registers::interfaces::{Readable, Writeable};

/// Reads a system register that `aarch64-cpu` does not name, by its assembler name.
macro_rules! read_sysreg {
    ($name:literal) => {{
        let value: u64;
        // SAFETY: reading this system register at EL2 has no side effect on memory.
        unsafe { core::arch::asm!(concat!("mrs {}, ", $name), out(reg) value, options(nomem, nostack)) };
        value
    }};
}

/// Writes a system register that `aarch64-cpu` does not name, by its assembler name.
macro_rules! write_sysreg {
    ($name:literal, $value:expr) => {{
        let value: u64 = $value;
        // SAFETY: callers write architecturally valid values to EL2-owned registers; the effect
        // is on CPU state only, never on Rust-visible memory.
        unsafe { core::arch::asm!(concat!("msr ", $name, ", {}"), in(reg) value, options(nostack)) };
    }};
}
pub(crate) use {read_sysreg, write_sysreg};

/// This CPU's MPIDR affinity value (Aff3..Aff0, other bits cleared).
pub fn mpidr_affinity() -> u64 {
    MPIDR_EL1.get() & 0xff_00ff_ffff
}

/// Gives the guest running on this CPU the MPIDR affinity `affinity` (its vCPU's, not this
/// CPU's): VMPIDR_EL2 keeps the physical U bit and RES1 bit 31, drops MT (the virtual
/// affinities are a flat count, no threads).
pub fn set_virtual_mpidr(affinity: u64) {
    let kept = MPIDR_EL1.get() & (1 << 31 | 1 << 30);
    VMPIDR_EL2.set(kept | (affinity & 0xff_00ff_ffff));
}

/// Records this CPU's logical index for `cpu_index`.
pub fn set_cpu_index(index: usize) {
    TPIDR_EL2.set(index as u64);
}

/// The logical index given by `set_cpu_index`.
pub fn cpu_index() -> usize {
    TPIDR_EL2.get() as usize
}

/// The generic timer's counter value.
pub fn counter() -> u64 {
    // SAFETY: an ISB orders the counter read after earlier instructions; no memory effect.
    unsafe { asm!("isb", options(nomem, nostack)) };
    CNTPCT_EL0.get()
}

/// The counter frequency in Hz.
pub fn counter_hz() -> u64 {
    CNTFRQ_EL0.get()
}

/// Spins while `busy()` holds, for at most `timeout_ms` milliseconds; true if it stopped
/// holding in time.
pub fn spin_while(timeout_ms: u64, mut busy: impl FnMut() -> bool) -> bool {
    let deadline = counter() + counter_hz() * timeout_ms / 1000;
    while busy() {
        if counter() >= deadline {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// Waits `ms` milliseconds.
pub fn delay_ms(ms: u64) {
    spin_while(ms, || true);
}

/// ID_AA64MMFR0_EL1.PARange: the physical address size this CPU supports.
pub fn pa_range() -> u8 {
    (ID_AA64MMFR0_EL1.get() & 0xf) as u8
}

/// The boot CPU's level and ID registers, for `sluice::board::check` (readable at EL1 too, so
/// that a wrong entry level can be reported).
pub fn board_features(current_el: u64) -> sluice::board::CpuFeatures {
    sluice::board::CpuFeatures {
        current_el: current_el as u8,
        id_aa64pfr0: ID_AA64PFR0_EL1.get(),
        id_aa64mmfr0: ID_AA64MMFR0_EL1.get(),
        id_aa64mmfr1: ID_AA64MMFR1_EL1.get(),
    }
}

/// Sleeps until an event (SEV from another CPU, or an interrupt becoming pending).
pub fn wait_for_event() {
    // SAFETY: WFE only pauses this CPU.
    unsafe { asm!("wfe", options(nomem, nostack)) };
}

/// The IPA the guest's stage 1 gives the virtual address `va` for a write at EL1 (AT S1E1W),
/// for a stage-2 Permission fault, whose IPA HPFAR_EL2 does not report; None if the
/// translation fails now (the guest changed its tables since: it retries the access).
/// PAR_EL1 is the guest's, so it is given back as it was.
pub fn guest_ipa_of_write(va: u64) -> Option<u64> {
    let saved = read_sysreg!("par_el1");
    // SAFETY: AT only translates (through the guest's live EL1 regime) and writes PAR_EL1,
    // which is restored below; the ISB makes the result visible to the MRS.
    unsafe { asm!("at s1e1w, {}", "isb", in(reg) va, options(nostack)) };
    let par = read_sysreg!("par_el1");
    write_sysreg!("par_el1", saved);
    const PAR_F: u64 = 1;
    const PAR_PA: u64 = ((1 << 52) - 1) & !0xfff;
    (par & PAR_F == 0).then_some((par & PAR_PA) | (va & 0xfff))
}

/// Sleeps until an interrupt is pending at this CPU, masked or not (WFI).
pub fn wait_for_interrupt() {
    // SAFETY: WFI only pauses this CPU.
    unsafe { asm!("wfi", options(nomem, nostack)) };
}

/// Wakes every CPU sleeping in `wait_for_event`.
pub fn send_event() {
    // SAFETY: DSB makes earlier stores visible before the event; SEV has no memory effect.
    unsafe { asm!("dsb ish", "sev", options(nostack)) };
}

/// Configures the EL2 controls that make the guest a guest: stage 2 on, physical interrupts
/// and aborts to EL2, SMC trapped, guest runs AArch64 at EL1 with this CPU's identity, and its
/// reads of the ID registers trapped (TID3) so that it sees the CPU `sluice::cpuid` describes,
/// and its accesses to the RAS error records trapped (TERR: it sees none of the machine's).
pub fn configure_guest_traps() {
    HCR_EL2.write(
        HCR_EL2::VM::Enable
            + HCR_EL2::SWIO::SET
            + HCR_EL2::FMO::EnableVirtualFIQ
            + HCR_EL2::IMO::EnableVirtualIRQ
            + HCR_EL2::AMO::SET
            + HCR_EL2::FB::SET
            + HCR_EL2::BSU::InnerShareable
            + HCR_EL2::TSC::EnableTrapEl1SmcToEl2
            + HCR_EL2::TID3::SET
            + HCR_EL2::TERR::SET
            + HCR_EL2::RW::EL1IsAarch64
            + HCR_EL2::API::DisableTrapPointerAuthInstToEl2
            + HCR_EL2::APK::DisableTrapPointerAuthKeyRegsToEl2,
    );
    // The guest reads both counters and may use its physical timer; its virtual counter is the
    // physical one (no offset), so guest and hypervisor timestamps agree.
    CNTHCTL_EL2.write(CNTHCTL_EL2::EL1PCEN::SET + CNTHCTL_EL2::EL1PCTEN::SET);
    CNTVOFF_EL2.set(0);
    write_sysreg!("vpidr_el2", MIDR_EL1.get());
    VMPIDR_EL2.set(MPIDR_EL1.get());
    configure_feature_traps();
}

/// Leaves FP/SIMD, SVE and SME untrapped at their full vector length, turns on what the
/// guest's ID registers show (MOPS, FPMR, SME's FA64 and ZT0: `idregs::configure`), and hands
/// the guest every PMU counter (not counting while sluice runs: `cpuid::mdcr_el2`). sluice
/// itself is soft-float, so the guest's FP state is never touched.
fn configure_feature_traps() {
    // CPTR_EL2 (non-VHE): RES1 bits 13, 9 and 7:0; TZ (8), TFP (10), TSM (12), TTA, TAM and
    // TCPAC all clear.
    write_sysreg!("cptr_el2", 0x22ff);
    // SAFETY: ISB so that the ZCR/SMCR accesses below are not trapped by the old CPTR value.
    unsafe { asm!("isb", options(nomem, nostack)) };
    let pfr0 = read_sysreg!("id_aa64pfr0_el1");
    let pfr1 = read_sysreg!("id_aa64pfr1_el1");
    if (pfr0 >> 32) & 0xf != 0 {
        write_sysreg!("S3_4_C1_C2_0", 0xf); // ZCR_EL2.LEN: no limit
    }
    let has_sme = (pfr1 >> 24) & 0xf != 0;
    let has_hcrx = (read_sysreg!("id_aa64mmfr1_el1") >> 40) & 0xf != 0;
    super::idregs::configure(&super::idregs::enables(), has_hcrx, has_sme);
    let pmcr_counters = ((read_sysreg!("pmcr_el0") >> 11) & 0x1f) as u8;
    let dfr0 = read_sysreg!("id_aa64dfr0_el1");
    write_sysreg!("mdcr_el2", sluice::cpuid::mdcr_el2(pmcr_counters, dfr0));
    reset_el1_state();
}

/// SCTLR_EL1 with MMU, caches and alignment checks off, RES1 bits set: the state a CPU
/// enters a kernel in (arm64 boot protocol).
const SCTLR_EL1_RESET: u64 = 0x30d0_0800;

/// Puts the guest's EL1 translation controls back to their boot state (MMU and caches off),
/// whatever a previous guest on this CPU left there.
pub fn reset_el1_state() {
    write_sysreg!("sctlr_el1", SCTLR_EL1_RESET);
    // SAFETY: an instruction barrier has no memory effect.
    unsafe { asm!("isb", options(nomem, nostack)) };
}

/// Turns off the EL1 virtual and physical timers (CNTV_CTL_EL0, CNTP_CTL_EL0), so an old
/// guest's deadline raises nothing.
pub fn stop_el1_timers() {
    write_sysreg!("cntv_ctl_el0", 0);
    write_sysreg!("cntp_ctl_el0", 0);
}

/// Whether the guest's EL1 timers assert their interrupts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerOutputs {
    /// The virtual timer (CNTV_CTL_EL0).
    pub virt: bool,
    /// The EL1 physical timer (CNTP_CTL_EL0).
    pub phys: bool,
}

/// Samples the outputs of this CPU's EL1 timers: ENABLE, ISTATUS and not IMASK. At EL2
/// without VHE, CNTV_CTL_EL0 and CNTP_CTL_EL0 are the guest's own timers (sluice uses
/// neither).
pub fn el1_timer_outputs() -> TimerOutputs {
    let virt = CNTV_CTL_EL0.extract();
    let phys = CNTP_CTL_EL0.extract();
    TimerOutputs {
        virt: virt.is_set(CNTV_CTL_EL0::ENABLE)
            && virt.is_set(CNTV_CTL_EL0::ISTATUS)
            && !virt.is_set(CNTV_CTL_EL0::IMASK),
        phys: phys.is_set(CNTP_CTL_EL0::ENABLE)
            && phys.is_set(CNTP_CTL_EL0::ISTATUS)
            && !phys.is_set(CNTP_CTL_EL0::IMASK),
    }
}

/// Zeroes `[start, start + len)` of identity-mapped Normal memory. Each whole 4 KiB page is
/// read first and written only if some word of it is not zero: under QEMU, RAM no one has
/// touched yet reads as the host's shared zero page, and writing it would make the host
/// allocate and clear every page (most of a guest's first scrub); RAM a guest used is written
/// after a few reads. The writes are pair stores of the zero register (not DC ZVA: under TCG
/// every DC ZVA is a helper call, 8-18 s for 858 MiB against 2-4 s with stores); the unaligned
/// ends are plain stores. Nothing is cleaned: callers for a guest with caches off clean.
///
/// # Safety
/// The range must be RAM mapped as Normal memory at EL2 that nothing else uses meanwhile.
pub unsafe fn zero_range(start: u64, len: u64) {
    let plan = ZeroPlan::new(start, len, Some(PAGE_BYTES));
    for (at, bytes) in [plan.head, plan.tail] {
        // SAFETY: part of the caller's range (Normal RAM, not in use).
        unsafe { core::ptr::write_bytes(at as *mut u8, 0, bytes as usize) };
    }
    let (first, bytes) = plan.blocks;
    for page in (first..first + bytes).step_by(PAGE_BYTES as usize) {
        // SAFETY: one aligned page of the caller's range, which nothing else writes.
        let words = unsafe { core::slice::from_raw_parts(page as *const u64, 512) };
        if words.iter().any(|&w| w != 0) {
            // SAFETY: as above.
            unsafe { zero_page(page) };
        }
    }
}

/// The unit `zero_range` checks before it writes.
const PAGE_BYTES: u64 = 4096;

/// Zeroes the 4 KiB page at `page`, 64 bytes per loop.
///
/// # Safety
/// `page` must be a 4 KiB aligned page of Normal RAM that nothing else uses meanwhile.
unsafe fn zero_page(page: u64) {
    // SAFETY: the caller's page: 64 loops of 64 bytes stay inside it.
    unsafe {
        asm!(
            "2:",
            "stp xzr, xzr, [{d}], #16",
            "stp xzr, xzr, [{d}], #16",
            "stp xzr, xzr, [{d}], #16",
            "stp xzr, xzr, [{d}], #16",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            d = inout(reg) page => _,
            n = inout(reg) PAGE_BYTES / 64 => _,
            options(nostack)
        )
    };
}

/// Copies `len` bytes from `src` to `dst` (RAM, not overlapping), 64 bytes per loop with
/// pair loads and stores of SIMD registers where both are 16-byte aligned alike (a guest
/// kernel's tens of MiB at boot and at every reboot; under QEMU's TCG a 128-bit access costs
/// about what a 64-bit one does, so the copy takes 35 ms where general registers took 48);
/// `core::ptr::copy_nonoverlapping` for the rest.
///
/// V0-V3 are overwritten: sluice keeps nothing in SIMD registers (softfloat target), and the
/// only guest state they can hold here is that of the guest being loaded on this CPU (vCPUs
/// are pinned), which starts afresh.
///
/// # Safety
/// As `copy_nonoverlapping`: both ranges valid, identity-mapped RAM, not overlapping.
pub unsafe fn copy_ram(dst: u64, src: u64, len: u64) {
    let head = if (dst ^ src) & 15 == 0 {
        dst.wrapping_neg() & 15
    } else {
        len // differently aligned: no pair loop
    }
    .min(len);
    let blocks = (len - head) / 64;
    // SAFETY: the first `head` bytes of the caller's ranges.
    unsafe { core::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, head as usize) };
    let (mut d, mut s) = (dst + head, src + head);
    if blocks > 0 {
        // SAFETY: `blocks` whole 64-byte blocks inside the caller's ranges, 16-byte aligned;
        // V0-V3 hold nothing sluice needs (see above).
        unsafe {
            asm!(
                // The softfloat target has no FP/SIMD feature for the assembler; CPTR_EL2.TFP
                // is clear, so EL2 may use the registers.
                ".arch_extension fp",
                ".arch_extension simd",
                "2:",
                "ldp q0, q1, [{s}], #32",
                "ldp q2, q3, [{s}], #32",
                "stp q0, q1, [{d}], #32",
                "stp q2, q3, [{d}], #32",
                "subs {n}, {n}, #1",
                "b.ne 2b",
                s = inout(reg) s,
                d = inout(reg) d,
                n = inout(reg) blocks => _,
                options(nostack)
            )
        };
    }
    let rest = dst + len - d;
    // SAFETY: the tail of the caller's ranges, after the blocks.
    unsafe { core::ptr::copy_nonoverlapping(s as *const u8, d as *mut u8, rest as usize) };
}

/// Cleans the data cache to the point of coherency over `[start, start + len)`, so that a guest
/// that starts with its MMU off sees what sluice wrote with caches on; then invalidates the
/// instruction cache for the same reason.
pub fn clean_dcache_range(start: u64, len: u64) {
    let line = dcache_line_bytes();
    let mut addr = start & !(line - 1);
    let end = start.saturating_add(len);
    while addr < end {
        // SAFETY: DC CVAC on an identity-mapped RAM address only writes back cache lines.
        unsafe { asm!("dc cvac, {}", in(reg) addr, options(nostack)) };
        addr += line;
    }
    // SAFETY: barriers and I-cache invalidation have no effect on Rust-visible memory. Every
    // CPU's I-cache (IS): other vCPUs run the code that was written too.
    unsafe { asm!("dsb sy", "ic ialluis", "dsb sy", "isb", options(nostack)) };
}

/// Cleans and invalidates the data cache to the point of coherency over `[start, start + len)`:
/// what a device wrote to memory behind the cache becomes visible to sluice's next reads, and
/// anything sluice wrote reaches memory first.
pub fn clean_invalidate_dcache_range(start: u64, len: u64) {
    let line = dcache_line_bytes();
    let mut addr = start & !(line - 1);
    let end = start.saturating_add(len);
    while addr < end {
        // SAFETY: DC CIVAC on an identity-mapped RAM address writes back, then drops, cache
        // lines; the memory's contents stay what they were.
        unsafe { asm!("dc civac, {}", in(reg) addr, options(nostack)) };
        addr += line;
    }
    // SAFETY: a barrier has no effect on Rust-visible memory.
    unsafe { asm!("dsb sy", options(nostack)) };
}

fn dcache_line_bytes() -> u64 {
    4 << ((read_sysreg!("ctr_el0") >> 16) & 0xf)
}
