//! Guest exits decoded from ESR_EL2, FAR_EL2 and HPFAR_EL2 into typed values, and the
//! arithmetic of injecting a synchronous exception into the guest's EL1.
//!
//! Encodings: Arm ARM (DDI 0487) D24.2 ESR_EL2 ("ISS encoding for an exception from a Data
//! Abort", "... from an Instruction Abort", "... from MSR, MRS, or System instruction
//! execution in AArch64 state", "... from a WF* instruction", "... from an HVC or SVC
//! instruction") and HPFAR_EL2.
//!
//! Policy: an abort is only offered for emulation ([`Exit::Mmio`]) when the hardware gave a
//! full syndrome (ISV) *and* HPFAR_EL2 is architecturally valid for it (a stage-2
//! translation, access-flag or address-size fault not on a stage-1 walk). Anything else would
//! let a stale HPFAR_EL2 steer the access into the wrong emulator.
#![forbid(unsafe_code)]

use tock_registers::interfaces::Readable;
use tock_registers::register_bitfields;
use tock_registers::registers::InMemoryRegister;

mod access;
mod fault;
mod inject;
mod policy;

pub use access::{MmioAccess, SysRegAccess, SysRegId};
pub use fault::{FaultKind, Level};
pub use inject::{inject_abort, GuestExceptionState, InjectKind, Injection};
pub use policy::Unemulated;

register_bitfields! {u64,
    /// ESR_ELx common fields.
    ESR [
        /// Exception class.
        EC OFFSET(26) NUMBITS(6) [],
        /// Instruction length: 1 = 32-bit instruction.
        IL OFFSET(25) NUMBITS(1) [],
        /// Instruction-specific syndrome.
        ISS OFFSET(0) NUMBITS(25) []
    ],
    /// ISS of a Data Abort (an Instruction Abort uses FnV, EA, S1PTW and FSC alike).
    ABORT [
        /// Instruction syndrome valid: SAS, SSE, SRT, SF describe the access.
        ISV OFFSET(24) NUMBITS(1) [],
        /// Access size: 0 byte, 1 halfword, 2 word, 3 doubleword.
        SAS OFFSET(22) NUMBITS(2) [],
        /// Sign-extend the loaded value.
        SSE OFFSET(21) NUMBITS(1) [],
        /// Register transferred.
        SRT OFFSET(16) NUMBITS(5) [],
        /// The register is 64-bit (X) rather than 32-bit (W).
        SF OFFSET(15) NUMBITS(1) [],
        /// FAR not valid.
        FNV OFFSET(10) NUMBITS(1) [],
        /// External abort type (IMPLEMENTATION DEFINED).
        EA OFFSET(9) NUMBITS(1) [],
        /// The abort came from a cache maintenance or address translation instruction.
        CM OFFSET(8) NUMBITS(1) [],
        /// Fault on the stage-2 translation of a stage-1 page-table walk.
        S1PTW OFFSET(7) NUMBITS(1) [],
        /// Write not read.
        WNR OFFSET(6) NUMBITS(1) [],
        /// Fault status code.
        FSC OFFSET(0) NUMBITS(6) []
    ],
    /// ISS of a trapped MSR/MRS.
    SYSREG [
        /// op0.
        OP0 OFFSET(20) NUMBITS(2) [],
        /// op2.
        OP2 OFFSET(17) NUMBITS(3) [],
        /// op1.
        OP1 OFFSET(14) NUMBITS(3) [],
        /// CRn.
        CRN OFFSET(10) NUMBITS(4) [],
        /// Rt.
        RT OFFSET(5) NUMBITS(5) [],
        /// CRm.
        CRM OFFSET(1) NUMBITS(4) [],
        /// Direction: 1 = read (MRS).
        DIRECTION OFFSET(0) NUMBITS(1) []
    ],
    /// ISS of a trapped WFI/WFE/WFIT/WFET.
    WFX [
        /// Trapped instruction: 0 WFI, 1 WFE, 2 WFIT, 3 WFET.
        TI OFFSET(0) NUMBITS(2) []
    ],
    /// ISS of an HVC or SMC.
    CALL [
        /// The instruction's immediate.
        IMM16 OFFSET(0) NUMBITS(16) []
    ],
    /// HPFAR_EL2.
    HPFAR [
        /// Faulting IPA bits [55:12] (bits [51:12] without FEAT_D128; the rest RES0).
        FIPA OFFSET(4) NUMBITS(44) []
    ]
}

/// Exception classes (ESR_ELx.EC) sluice distinguishes.
mod ec {
    pub const UNKNOWN: u8 = 0x00;
    pub const WFX: u8 = 0x01;
    pub const FP_SIMD: u8 = 0x07;
    pub const HVC64: u8 = 0x16;
    pub const SMC64: u8 = 0x17;
    pub const SYSREG: u8 = 0x18;
    pub const SVE: u8 = 0x19;
    pub const IABT_LOWER: u8 = 0x20;
    pub const IABT_CURRENT: u8 = 0x21;
    pub const DABT_LOWER: u8 = 0x24;
    pub const DABT_CURRENT: u8 = 0x25;
}

/// Why the guest exited to EL2, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A load/store to an unmapped guest-physical address that can be emulated.
    Mmio(MmioAccess),
    /// A stage-2 data abort that cannot be emulated: no syndrome (LDP, writeback, atomics...),
    /// a stage-2 fault on the guest's own page-table walk, a permission fault, or a cache
    /// maintenance instruction on unmapped space.
    DataAbortNoSyndrome {
        /// Guest-physical address; meaningful only when `guest_phys_valid`.
        guest_phys: u64,
        /// HPFAR_EL2 is architecturally valid for this fault.
        guest_phys_valid: bool,
        /// Store or load, as far as the hardware says (cache maintenance reports a write).
        is_write: bool,
        /// Why stage 2 faulted.
        fault: FaultKind,
        /// The fault happened while walking the guest's stage-1 tables.
        on_table_walk: bool,
        /// The access was a cache maintenance (DC ...) or address translation instruction:
        /// KVM skips these on unmapped space rather than faulting the guest.
        cache_maintenance: bool,
    },
    /// Instruction fetch from an address stage 2 does not map executable.
    InstructionAbort {
        /// Guest-physical address; meaningful only when `guest_phys_valid`.
        guest_phys: u64,
        /// HPFAR_EL2 is architecturally valid for this fault.
        guest_phys_valid: bool,
        /// Why stage 2 faulted.
        fault: FaultKind,
        /// The fault happened while walking the guest's stage-1 tables.
        on_table_walk: bool,
    },
    /// A synchronous external abort on a guest access (e.g. a passed-through device that
    /// answered with an error). HPFAR_EL2 is not valid for it; only the VA is known.
    ExternalAbort {
        /// FAR_EL2: the guest virtual address; meaningful only when `far_valid`.
        far: u64,
        /// FAR_EL2 holds the address (ISS.FnV clear).
        far_valid: bool,
        /// The access was a write.
        is_write: bool,
        /// An instruction fetch rather than a data access.
        instruction_fetch: bool,
    },
    /// HVC from the guest (the PC already points past it).
    Hvc {
        /// The immediate.
        imm: u16,
    },
    /// SMC from the guest, trapped by HCR_EL2.TSC (the PC points at it).
    Smc {
        /// The immediate.
        imm: u16,
    },
    /// A trapped system register access.
    SysReg(SysRegAccess),
    /// A trapped WFI or WFIT.
    Wfi,
    /// A trapped WFE or WFET.
    Wfe,
    /// An FP/SIMD instruction trapped by CPTR_EL2 (EC 0x07).
    FpSimdTrap,
    /// An SVE instruction trapped by CPTR_EL2 (EC 0x19).
    SveTrap,
    /// Anything else.
    Unknown {
        /// Exception class.
        ec: u8,
        /// Syndrome.
        iss: u32,
    },
}

/// Decodes an exit from the raw syndrome registers.
pub fn decode(esr_el2: u64, far_el2: u64, hpfar_el2: u64) -> Exit {
    let esr: InMemoryRegister<u64, ESR::Register> = InMemoryRegister::new(esr_el2);
    let ec = esr.read(ESR::EC) as u8;
    let iss = esr.read(ESR::ISS) as u32;
    let hpfar: InMemoryRegister<u64, HPFAR::Register> = InMemoryRegister::new(hpfar_el2);
    let guest_phys = (hpfar.read(HPFAR::FIPA) << 12) | (far_el2 & 0xfff);
    let call: InMemoryRegister<u64, CALL::Register> = InMemoryRegister::new(u64::from(iss));
    let imm = call.read(CALL::IMM16) as u16;
    match ec {
        ec::DABT_LOWER => decode_data_abort(iss, far_el2, guest_phys, false),
        ec::IABT_LOWER => decode_instruction_abort(iss, far_el2, guest_phys),
        ec::HVC64 => Exit::Hvc { imm },
        ec::SMC64 => Exit::Smc { imm },
        ec::SYSREG => Exit::SysReg(decode_sysreg(iss)),
        ec::WFX => decode_wfx(iss),
        ec::FP_SIMD => Exit::FpSimdTrap,
        ec::SVE => Exit::SveTrap,
        _ => Exit::Unknown { ec, iss },
    }
}

/// Whether `esr_el2` is a data abort from the guest at stage 2 whose IPA HPFAR_EL2 does not
/// give (a Permission fault, not on a stage-1 walk): the caller may find it from FAR_EL2 (an
/// address translation of the guest's stage 1) and decode with `decode_at_ipa`.
pub fn ipa_needs_resolving(esr_el2: u64) -> bool {
    let esr: InMemoryRegister<u64, ESR::Register> = InMemoryRegister::new(esr_el2);
    let d = abort_iss(esr.read(ESR::ISS) as u32);
    esr.read(ESR::EC) as u8 == ec::DABT_LOWER
        && !d.is_set(ABORT::S1PTW)
        && matches!(
            FaultKind::from_status(d.read(ABORT::FSC) as u8),
            FaultKind::Permission { .. }
        )
}

/// `decode` of a data abort whose faulting IPA the caller resolved (`ipa_needs_resolving`):
/// `ipa` (its page; the offset comes from FAR_EL2) stands for HPFAR_EL2 and counts as valid,
/// so an access with a syndrome decodes as `Exit::Mmio`.
pub fn decode_at_ipa(esr_el2: u64, far_el2: u64, ipa: u64) -> Exit {
    let esr: InMemoryRegister<u64, ESR::Register> = InMemoryRegister::new(esr_el2);
    let guest_phys = (ipa & !0xfff) | (far_el2 & 0xfff);
    match esr.read(ESR::EC) as u8 {
        ec::DABT_LOWER => decode_data_abort(esr.read(ESR::ISS) as u32, far_el2, guest_phys, true),
        _ => decode(esr_el2, far_el2, (ipa >> 12) << 4),
    }
}

fn abort_iss(iss: u32) -> InMemoryRegister<u64, ABORT::Register> {
    InMemoryRegister::new(u64::from(iss))
}

/// `ipa_resolved`: `guest_phys` is right even for a fault kind HPFAR_EL2 does not report.
fn decode_data_abort(iss: u32, far_el2: u64, guest_phys: u64, ipa_resolved: bool) -> Exit {
    let d = abort_iss(iss);
    let fault = FaultKind::from_status(d.read(ABORT::FSC) as u8);
    let is_write = d.is_set(ABORT::WNR);
    if fault.is_external() {
        return Exit::ExternalAbort {
            far: far_el2,
            far_valid: !d.is_set(ABORT::FNV),
            is_write,
            instruction_fetch: false,
        };
    }
    let on_table_walk = d.is_set(ABORT::S1PTW);
    let guest_phys_valid = on_table_walk || fault.reports_ipa() || ipa_resolved;
    let cache_maintenance = d.is_set(ABORT::CM);
    if !d.is_set(ABORT::ISV) || on_table_walk || !guest_phys_valid || cache_maintenance {
        return Exit::DataAbortNoSyndrome {
            guest_phys,
            guest_phys_valid,
            is_write,
            fault,
            on_table_walk,
            cache_maintenance,
        };
    }
    Exit::Mmio(MmioAccess {
        guest_phys,
        width_bytes: 1 << d.read(ABORT::SAS),
        is_write,
        register: d.read(ABORT::SRT) as u8,
        sign_extend: d.is_set(ABORT::SSE),
        register_is_64bit: d.is_set(ABORT::SF),
        fault,
    })
}

fn decode_instruction_abort(iss: u32, far_el2: u64, guest_phys: u64) -> Exit {
    let i = abort_iss(iss);
    let fault = FaultKind::from_status(i.read(ABORT::FSC) as u8);
    if fault.is_external() {
        return Exit::ExternalAbort {
            far: far_el2,
            far_valid: !i.is_set(ABORT::FNV),
            is_write: false,
            instruction_fetch: true,
        };
    }
    let on_table_walk = i.is_set(ABORT::S1PTW);
    Exit::InstructionAbort {
        guest_phys,
        guest_phys_valid: on_table_walk || fault.reports_ipa(),
        fault,
        on_table_walk,
    }
}

fn decode_sysreg(iss: u32) -> SysRegAccess {
    let s: InMemoryRegister<u64, SYSREG::Register> = InMemoryRegister::new(u64::from(iss));
    SysRegAccess {
        reg: SysRegId {
            op0: s.read(SYSREG::OP0) as u8,
            op1: s.read(SYSREG::OP1) as u8,
            crn: s.read(SYSREG::CRN) as u8,
            crm: s.read(SYSREG::CRM) as u8,
            op2: s.read(SYSREG::OP2) as u8,
        },
        register: s.read(SYSREG::RT) as u8,
        is_read: s.is_set(SYSREG::DIRECTION),
    }
}

/// WFIT/WFET (FEAT_WFxT) are reported as their untimed forms: waking early is always allowed.
fn decode_wfx(iss: u32) -> Exit {
    let w: InMemoryRegister<u64, WFX::Register> = InMemoryRegister::new(u64::from(iss));
    match w.read(WFX::TI) {
        0 | 2 => Exit::Wfi,
        _ => Exit::Wfe,
    }
}

/// The guest PC after the trapped instruction `esr_el2` describes (2 or 4 bytes on, by IL).
pub fn next_pc(pc: u64, esr_el2: u64) -> u64 {
    let esr: InMemoryRegister<u64, ESR::Register> = InMemoryRegister::new(esr_el2);
    pc.wrapping_add(if esr.is_set(ESR::IL) { 4 } else { 2 })
}

#[cfg(test)]
mod tests;
