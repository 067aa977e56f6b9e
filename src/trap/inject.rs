//! Injecting a synchronous exception into the guest's EL1, as the CPU would take it.
//!
//! Arm ARM D1.3 "Exception entry": ELR_EL1 = preferred return address, SPSR_EL1 = old PSTATE,
//! PSTATE = EL1h with D, A, I, F masked, PAN set when SCTLR_EL1.SPAN is 0, SSBS from
//! SCTLR_EL1.DSSBS; the vector is VBAR_EL1 + 0x000 (from EL1 with SP_EL0), 0x200 (from EL1
//! with SP_EL1) or 0x400 (from EL0 in AArch64).
#![forbid(unsafe_code)]

use super::ec;

const PSTATE_MODE_MASK: u64 = 0xf;
const MODE_EL0T: u64 = 0b0000;
const MODE_EL1T: u64 = 0b0100;
const MODE_EL1H: u64 = 0b0101;
const PSTATE_DAIF: u64 = 0xf << 6;
const PSTATE_PAN: u64 = 1 << 22;
const PSTATE_SSBS: u64 = 1 << 12;
const SCTLR_SPAN: u64 = 1 << 23;
const SCTLR_DSSBS: u64 = 1 << 44;
const ESR_IL: u64 = 1 << 25;
/// Fault status "synchronous external abort, not on a table walk".
const FSC_SYNC_EXTERNAL: u64 = 0x10;
const ISS_WNR: u64 = 1 << 6;

/// The guest state the injection depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestExceptionState {
    /// PC of the faulting instruction (the preferred return address).
    pub pc: u64,
    /// PSTATE at the fault (SPSR_EL2).
    pub pstate: u64,
    /// The guest's VBAR_EL1.
    pub vbar_el1: u64,
    /// The guest's SCTLR_EL1 (SPAN and DSSBS matter).
    pub sctlr_el1: u64,
}

/// What to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectKind {
    /// A synchronous external abort on a data access to `far`.
    DataAbort {
        /// The faulting virtual address.
        far: u64,
        /// The access was a write.
        is_write: bool,
    },
    /// A synchronous external abort on an instruction fetch from `far`.
    InstructionAbort {
        /// The faulting virtual address.
        far: u64,
    },
    /// An undefined instruction.
    Undefined,
}

/// The register values that make the guest take the exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injection {
    /// Where the guest resumes: its vector.
    pub new_pc: u64,
    /// PSTATE at the vector.
    pub new_pstate: u64,
    /// ELR_EL1.
    pub elr_el1: u64,
    /// SPSR_EL1.
    pub spsr_el1: u64,
    /// ESR_EL1.
    pub esr_el1: u64,
    /// FAR_EL1, for aborts.
    pub far_el1: Option<u64>,
}

/// Computes the exception entry for `kind` taken from `state`.
pub fn inject_abort(state: &GuestExceptionState, kind: InjectKind) -> Injection {
    let mode = state.pstate & PSTATE_MODE_MASK;
    let from_el0 = mode == MODE_EL0T;
    let vector_offset = match mode {
        MODE_EL0T => 0x400,
        MODE_EL1T => 0x000,
        _ => 0x200,
    };
    let (class, iss, far) = match kind {
        InjectKind::DataAbort { far, is_write } => {
            let class = if from_el0 {
                ec::DABT_LOWER
            } else {
                ec::DABT_CURRENT
            };
            (
                class,
                FSC_SYNC_EXTERNAL | if is_write { ISS_WNR } else { 0 },
                Some(far),
            )
        }
        InjectKind::InstructionAbort { far } => (
            if from_el0 {
                ec::IABT_LOWER
            } else {
                ec::IABT_CURRENT
            },
            FSC_SYNC_EXTERNAL,
            Some(far),
        ),
        InjectKind::Undefined => (ec::UNKNOWN, 0, None),
    };
    let mut new_pstate = MODE_EL1H | PSTATE_DAIF;
    if state.sctlr_el1 & SCTLR_SPAN == 0 {
        new_pstate |= PSTATE_PAN;
    } else {
        new_pstate |= state.pstate & PSTATE_PAN;
    }
    if state.sctlr_el1 & SCTLR_DSSBS != 0 {
        new_pstate |= PSTATE_SSBS;
    }
    Injection {
        new_pc: state.vbar_el1.wrapping_add(vector_offset),
        new_pstate,
        elr_el1: state.pc,
        spsr_el1: state.pstate,
        esr_el1: (class as u64) << 26 | ESR_IL | iss,
        far_el1: far,
    }
}
