//! EL1 system registers, the counter, PSCI calls and the stage-1 identity map.
//!
//! Registers are read by encoding (`s3_...`) where LLVM 14's assembler does not know the name
//! without a target feature; fields are named constants next to the register they belong to.
//! (aarch64-cpu is not used: half of what is probed here, SME/MOPS/FPMR/ICC, is not in it.)

use crate::platform::{Conduit, Range};
use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering};

/// Reads a system register by name or encoding.
macro_rules! mrs {
    ($reg:literal) => {{
        let v: u64;
        // SAFETY: reading a system register has no side effect on memory (not marked `nomem`
        // so that it stays ordered with the memory accesses around it, e.g. in a probe).
        unsafe { core::arch::asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nostack)) };
        v
    }};
}

/// Writes a system register by name or encoding, then synchronises the context.
macro_rules! msr {
    ($reg:literal, $v:expr) => {{
        let v: u64 = $v;
        // SAFETY: the callers write registers that configure only this CPU's EL1 state,
        // with values chosen for it; no Rust-visible memory changes.
        unsafe { core::arch::asm!(concat!("msr ", $reg, ", {}"), "isb", in(reg) v, options(nostack)) };
    }};
}
pub(crate) use {mrs, msr};

/// CNTV_CTL_EL0 fields (Arm ARM D24.8.14).
pub mod cntv_ctl {
    /// Timer enabled.
    pub const ENABLE: u64 = 1 << 0;
    /// Interrupt masked.
    pub const IMASK: u64 = 1 << 1;
    /// Condition met (CVAL reached), whatever IMASK says.
    pub const ISTATUS: u64 = 1 << 2;
}

/// SCTLR_EL1 bits this guest sets (Arm ARM D24.2.161).
pub mod sctlr {
    /// Stage-1 MMU.
    pub const M: u64 = 1 << 0;
    /// Data cacheability.
    pub const C: u64 = 1 << 2;
    /// Instruction cacheability.
    pub const I: u64 = 1 << 12;
    /// Pointer authentication with the IA key.
    pub const EN_IA: u64 = 1 << 31;
    /// BTI at EL1 (FEAT_BTI).
    pub const BT1: u64 = 1 << 36;
}

/// The virtual counter.
pub fn counter() -> u64 {
    // SAFETY: isb + reading CNTVCT_EL0 touch no memory.
    unsafe {
        let v: u64;
        asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nostack));
        v
    }
}

/// Counter ticks per second.
pub fn counter_hz() -> u64 {
    mrs!("cntfrq_el0").max(1)
}

/// Ticks in `us` microseconds.
pub fn us_to_ticks(us: u64) -> u64 {
    us.saturating_mul(counter_hz()) / 1_000_000
}

/// Microseconds in `ticks`.
pub fn ticks_to_us(ticks: u64) -> u64 {
    ticks.saturating_mul(1_000_000) / counter_hz()
}

/// This CPU's logical index (set by the entry code).
pub fn cpu_index() -> usize {
    mrs!("tpidr_el1") as usize
}

/// This CPU's MPIDR affinity fields (Aff3..Aff0).
pub fn mpidr() -> u64 {
    mrs!("mpidr_el1") & 0xff_00ff_ffff
}

/// Unmasks IRQs.
pub fn irq_unmask() {
    // SAFETY: the vectors are installed before any CPU unmasks IRQs.
    unsafe { asm!("msr daifclr, #2", options(nostack)) };
}

/// Masks IRQs.
pub fn irq_mask() {
    // SAFETY: masking interrupts is always allowed.
    unsafe { asm!("msr daifset, #2", options(nostack)) };
}

/// Waits for an interrupt (taken or not: it also wakes with IRQs masked).
pub fn wfi() {
    // SAFETY: WFI only suspends this CPU until an interrupt is pending.
    unsafe { asm!("dsb sy", "wfi", options(nostack)) };
}

/// PSCI function IDs (Arm DEN 0022, PSCI 1.1, table 5.1; SMC64 where an address is passed).
pub mod psci {
    /// PSCI_VERSION.
    pub const VERSION: u32 = 0x8400_0000;
    /// CPU_OFF.
    pub const CPU_OFF: u32 = 0x8400_0002;
    /// CPU_ON, SMC64.
    pub const CPU_ON: u32 = 0xc400_0003;
    /// AFFINITY_INFO, SMC64.
    pub const AFFINITY_INFO: u32 = 0xc400_0004;
    /// SYSTEM_OFF.
    pub const SYSTEM_OFF: u32 = 0x8400_0008;
    /// Return codes (PSCI 1.1 section 5.2.2).
    pub const SUCCESS: i64 = 0;
    /// Bad argument.
    pub const INVALID_PARAMETERS: i64 = -2;
    /// CPU_ON of an on CPU.
    pub const ALREADY_ON: i64 = -4;
    /// CPU_ON of a CPU whose CPU_ON is in progress.
    pub const ON_PENDING: i64 = -5;
    /// Entry point known to be invalid.
    pub const INVALID_ADDRESS: i64 = -9;
    /// AFFINITY_INFO answers.
    pub const AFF_ON: i64 = 0;
    /// Off.
    pub const AFF_OFF: i64 = 1;
    /// On pending.
    pub const AFF_ON_PENDING: i64 = 2;
}

static CONDUIT: AtomicU8 = AtomicU8::new(0);

/// Chooses HVC or SMC for PSCI (from the DT, before any call).
pub fn set_conduit(conduit: Conduit) {
    CONDUIT.store(conduit as u8, Ordering::Relaxed);
}

/// A PSCI call; x0 of the answer, sign-extended from 32 bits as PSCI return codes are.
pub fn psci_call(function: u32, a1: u64, a2: u64, a3: u64) -> i64 {
    let mut x0 = function as u64;
    if CONDUIT.load(Ordering::Relaxed) == Conduit::Smc as u8 {
        // SAFETY: an SMCCC call; the firmware preserves x4-x17 (SMCCC 1.1) and touches no
        // memory of ours.
        unsafe {
            asm!("smc #0", inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _, options(nostack))
        };
    } else {
        // SAFETY: as above, with the hypervisor as the callee.
        unsafe {
            asm!("hvc #0", inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _, options(nostack))
        };
    }
    x0 as i32 as i64
}

/// Stage-1 translation of EL1: one level-1 table of 1 GiB blocks, identity mapped, RAM normal
/// write-back cacheable, everything else Device-nGnRnE and never executable.
#[repr(C, align(4096))]
struct Table([u64; 512]);

static mut TABLE: Table = Table([0; 512]);

const MAIR: u64 = 0xff << 8; // attr0 Device-nGnRnE, attr1 Normal WB RA WA
/// T0SZ 25 (39-bit VA, walk starts at level 1), WBWA inner shareable walks, 4 KiB granule,
/// no TTBR1 walks, 40-bit IPS.
const TCR: u64 = 25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32);

/// Fills the table (CPU 0, before any secondary starts).
pub fn build_identity_map(ram: Range) {
    let mut entries = [0u64; 512];
    for (i, e) in entries.iter_mut().enumerate() {
        *e = crate::encode::l1_block(i, ram);
    }
    // SAFETY: only CPU 0 writes the table, once, before any CPU turns its MMU on.
    unsafe { (*core::ptr::addr_of_mut!(TABLE)).0 = entries };
}

/// Turns this CPU's MMU and caches on with the table.
pub fn mmu_on() {
    let table = core::ptr::addr_of!(TABLE) as u64;
    msr!("mair_el1", MAIR);
    msr!("tcr_el1", TCR);
    msr!("ttbr0_el1", table);
    // SAFETY: TLB maintenance of this CPU's own, not yet enabled, translation regime.
    unsafe { asm!("tlbi vmalle1", "dsb nsh", "isb", options(nostack)) };
    msr!(
        "sctlr_el1",
        mrs!("sctlr_el1") | sctlr::M | sctlr::C | sctlr::I
    );
}

/// Lets EL1 use FP/SIMD, SVE and SME (CPACR_EL1 FPEN, ZEN, SMEN = 0b11).
pub fn enable_fp() {
    msr!("cpacr_el1", (3 << 20) | (3 << 16) | (3 << 24));
}

/// Reads a 32-bit device register with a plain `ldr`, whose data abort carries a syndrome a
/// hypervisor can emulate (a volatile read may compile to a writeback or pair form that does
/// not).
///
/// # Safety
/// `addr` must be a 4-byte aligned device register mapped in the identity map.
pub unsafe fn mmio_read32(addr: u64) -> u32 {
    let v: u32;
    // SAFETY: the caller vouches for the address.
    unsafe { asm!("ldr {v:w}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack)) };
    v
}

/// Writes a 32-bit device register with a plain `str` (see `mmio_read32`).
///
/// # Safety
/// As for `mmio_read32`.
pub unsafe fn mmio_write32(addr: u64, v: u32) {
    // SAFETY: the caller vouches for the address.
    unsafe { asm!("str {v:w}, [{a}]", a = in(reg) addr, v = in(reg) v, options(nostack)) };
}

/// Reads a 64-bit device register with a plain `ldr` (see `mmio_read32`).
///
/// # Safety
/// `addr` must be an 8-byte aligned device register mapped in the identity map.
pub unsafe fn mmio_read64(addr: u64) -> u64 {
    let v: u64;
    // SAFETY: the caller vouches for the address.
    unsafe { asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack)) };
    v
}
