//! Injecting a synchronous exception into the guest's EL1, as the CPU would take it.
//!
//! Arm ARM (DDI 0487) D1.3 "Exception entry" and the `AArch64.TakeException` pseudocode:
//! - ELR_EL1 = preferred return address (the faulting instruction), SPSR_EL1 = old PSTATE.
//! - Vector = VBAR_EL1 + 0x000 (from EL1 with SP_EL0), 0x200 (from EL1 with SP_EL1), 0x400
//!   (from EL0 in AArch64) or 0x600 (from EL0 in AArch32); synchronous = +0.
//! - New PSTATE = EL1h with D, A, I, F set; NZCV and DIT kept; PAN kept, and set when
//!   SCTLR_EL1.SPAN is 0 (SPAN is RES1 without FEAT_PAN, so this is right either way); SSBS =
//!   SCTLR_EL1.DSSBS; UAO, SS, IL, BTYPE cleared.
//! - Not modelled, because sluice does not give its guests the features: TCO (FEAT_MTE would
//!   set it), ALLINT (FEAT_NMI), PM (FEAT_EBEP), EXLOCK (FEAT_GCS).
#![forbid(unsafe_code)]

use super::{ec, ESR};
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::InMemoryRegister;

/// PSTATE/SPSR_ELx bits (Arm ARM C5.2 SPSR_EL1, AArch64 layout; the bits kept here sit at the
/// same place in the AArch32 layout).
mod pstate {
    /// M[3:0]: exception level and stack pointer.
    pub const MODE_MASK: u64 = 0xf;
    /// M[4]: the interrupted state was AArch32.
    pub const NRW: u64 = 1 << 4;
    pub const MODE_EL0T: u64 = 0b0000;
    pub const MODE_EL1T: u64 = 0b0100;
    pub const MODE_EL1H: u64 = 0b0101;
    /// D, A, I and F.
    pub const DAIF: u64 = 0xf << 6;
    pub const SSBS: u64 = 1 << 12;
    pub const PAN: u64 = 1 << 22;
    pub const DIT: u64 = 1 << 24;
    /// N, Z, C and V.
    pub const NZCV: u64 = 0xf << 28;
}

/// SCTLR_EL1.SPAN: 0 = set PSTATE.PAN on exception entry to EL1.
const SCTLR_SPAN: u64 = 1 << 23;
/// SCTLR_EL1.DSSBS: PSTATE.SSBS on exception entry to EL1.
const SCTLR_DSSBS: u64 = 1 << 44;

/// Vector offsets from VBAR_EL1 (Arm ARM D1.3.1, table "Vector offsets from vector table base
/// address"); the synchronous entry is the first of each group.
const VECTOR_CURRENT_EL_SP0: u64 = 0x000;
const VECTOR_CURRENT_EL_SPX: u64 = 0x200;
const VECTOR_LOWER_EL_AARCH64: u64 = 0x400;
const VECTOR_LOWER_EL_AARCH32: u64 = 0x600;

/// Fault status "synchronous external abort, not on a translation table walk".
const FSC_SYNC_EXTERNAL: u64 = 0x10;
/// ISS.WnR of a data abort.
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
    /// The guest's SCTLR_EL1 (SPAN and DSSBS shape the new PSTATE).
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
    /// An undefined instruction (EC 0x00, "unknown reason").
    Undefined,
}

/// The register values that make the guest take the exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injection {
    /// Where the guest resumes: its vector.
    pub new_pc: u64,
    /// PSTATE at the vector (goes to SPSR_EL2 for the ERET).
    pub new_pstate: u64,
    /// ELR_EL1.
    pub elr_el1: u64,
    /// SPSR_EL1.
    pub spsr_el1: u64,
    /// ESR_EL1.
    pub esr_el1: u64,
    /// FAR_EL1, for aborts (None: leave FAR_EL1 alone, it is UNKNOWN for EC 0x00).
    pub far_el1: Option<u64>,
}

/// Where the interrupted context was, as exception entry sees it.
struct Source {
    from_el0: bool,
    vector_offset: u64,
}

fn source_of(old_pstate: u64) -> Source {
    if old_pstate & pstate::NRW != 0 {
        // AArch32 can only be EL0 here: sluice runs EL1 in AArch64 (HCR_EL2.RW = 1).
        return Source {
            from_el0: true,
            vector_offset: VECTOR_LOWER_EL_AARCH32,
        };
    }
    let (from_el0, vector_offset) = match old_pstate & pstate::MODE_MASK {
        pstate::MODE_EL0T => (true, VECTOR_LOWER_EL_AARCH64),
        pstate::MODE_EL1T => (false, VECTOR_CURRENT_EL_SP0),
        // EL1h; an EL2 mode cannot be interrupted guest state, so it is treated as EL1h.
        _ => (false, VECTOR_CURRENT_EL_SPX),
    };
    Source {
        from_el0,
        vector_offset,
    }
}

fn entry_pstate(old_pstate: u64, sctlr_el1: u64) -> u64 {
    let mut new = pstate::MODE_EL1H | pstate::DAIF;
    new |= old_pstate & (pstate::NZCV | pstate::DIT | pstate::PAN);
    if sctlr_el1 & SCTLR_SPAN == 0 {
        new |= pstate::PAN;
    }
    if sctlr_el1 & SCTLR_DSSBS != 0 {
        new |= pstate::SSBS;
    }
    new
}

/// (EC, ISS, FAR) for `kind` taken from EL0 or EL1.
fn syndrome(kind: InjectKind, from_el0: bool) -> (u8, u64, Option<u64>) {
    let pick = |lower, current| if from_el0 { lower } else { current };
    match kind {
        InjectKind::DataAbort { far, is_write } => (
            pick(ec::DABT_LOWER, ec::DABT_CURRENT),
            FSC_SYNC_EXTERNAL | if is_write { ISS_WNR } else { 0 },
            Some(far),
        ),
        InjectKind::InstructionAbort { far } => (
            pick(ec::IABT_LOWER, ec::IABT_CURRENT),
            FSC_SYNC_EXTERNAL,
            Some(far),
        ),
        InjectKind::Undefined => (ec::UNKNOWN, 0, None),
    }
}

/// Computes the exception entry for `kind` taken from `state`.
pub fn inject_abort(state: &GuestExceptionState, kind: InjectKind) -> Injection {
    let source = source_of(state.pstate);
    let (class, iss, far_el1) = syndrome(kind, source.from_el0);
    // IL is RES1 for aborts without a valid ISV and for EC 0x00.
    let esr: InMemoryRegister<u64, ESR::Register> = InMemoryRegister::new(0);
    esr.write(ESR::EC.val(u64::from(class)) + ESR::IL::SET + ESR::ISS.val(iss));
    Injection {
        new_pc: state.vbar_el1.wrapping_add(source.vector_offset),
        new_pstate: entry_pstate(state.pstate, state.sctlr_el1),
        elr_el1: state.pc,
        spsr_el1: state.pstate,
        esr_el1: esr.get(),
        far_el1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VBAR: u64 = 0xffff_8000_1000_0000;
    /// DAIF masked, EL1h.
    const EL1H_MASKED: u64 = 0x3c5;
    const PAN: u64 = 1 << 22;

    fn state(pstate: u64) -> GuestExceptionState {
        GuestExceptionState {
            pc: 0x40_1000,
            pstate,
            vbar_el1: VBAR,
            sctlr_el1: 0,
        }
    }

    fn read_abort(far: u64) -> InjectKind {
        InjectKind::DataAbort {
            far,
            is_write: false,
        }
    }

    #[test]
    fn data_abort_from_el0_goes_to_the_lower_el_vector_with_ec_0x24() {
        let i = inject_abort(&state(0x0), read_abort(0x901_0000));
        assert_eq!(i.new_pc, VBAR + 0x400);
        // EC 0x24, IL, DFSC 0x10: 0x9200_0010.
        assert_eq!(i.esr_el1, 0x9200_0010);
        assert_eq!(
            (i.elr_el1, i.spsr_el1, i.far_el1),
            (0x40_1000, 0, Some(0x901_0000))
        );
        assert_eq!(i.new_pstate, EL1H_MASKED | PAN); // SPAN clear: PAN set on entry
    }

    #[test]
    fn write_abort_from_el1h_uses_the_current_el_spx_vector_with_wnr() {
        let i = inject_abort(
            &state(EL1H_MASKED),
            InjectKind::DataAbort {
                far: 8,
                is_write: true,
            },
        );
        assert_eq!(i.new_pc, VBAR + 0x200);
        // EC 0x25, IL, WnR, DFSC 0x10: 0x9600_0050.
        assert_eq!(i.esr_el1, 0x9600_0050);
    }

    #[test]
    fn instruction_aborts_use_ec_0x20_from_el0_and_0x21_from_el1() {
        let from_el0 = inject_abort(&state(0x0), InjectKind::InstructionAbort { far: 4 });
        assert_eq!(from_el0.esr_el1, 0x8200_0010);
        let from_el1 = inject_abort(&state(0x5), InjectKind::InstructionAbort { far: 4 });
        assert_eq!(from_el1.esr_el1, 0x8600_0010);
        assert_eq!(from_el1.far_el1, Some(4));
    }

    #[test]
    fn undefined_from_el1t_uses_the_sp0_vector_and_no_far() {
        let mut s = state(0x4);
        s.sctlr_el1 = SCTLR_SPAN | SCTLR_DSSBS;
        let i = inject_abort(&s, InjectKind::Undefined);
        assert_eq!(i.new_pc, VBAR);
        assert_eq!(i.esr_el1, 0x0200_0000); // EC 0, IL 1
        assert_eq!(i.far_el1, None);
        assert_eq!(i.new_pstate, EL1H_MASKED | (1 << 12)); // SPAN set keeps PAN (0); SSBS
    }

    #[test]
    fn aarch32_el0_takes_the_lower_el_aarch32_vector() {
        let user32 = 0x10 | (1 << 5); // M = usr, T32
        let i = inject_abort(&state(user32), InjectKind::Undefined);
        assert_eq!(i.new_pc, VBAR + 0x600);
        assert_eq!(i.spsr_el1, user32);
        let a = inject_abort(&state(user32), read_abort(0));
        assert_eq!(a.esr_el1 >> 26, 0x24);
    }

    #[test]
    fn flags_dit_and_pan_survive_entry_while_uao_ss_and_btype_are_cleared() {
        let mut s = state(0);
        s.sctlr_el1 = SCTLR_SPAN;
        let nzcv = 0xf << 28;
        let dit = 1 << 24;
        let uao = 1 << 23;
        let ss = 1 << 21;
        let btype = 0b11 << 10;
        let i = inject_abort(
            &GuestExceptionState {
                pstate: nzcv | dit | uao | PAN | ss | btype | 0x5,
                ..s
            },
            InjectKind::Undefined,
        );
        assert_eq!(i.new_pstate, nzcv | dit | PAN | EL1H_MASKED);
    }

    #[test]
    fn a_vector_base_at_the_top_of_the_address_space_wraps_instead_of_panicking() {
        let mut s = state(0x0);
        s.vbar_el1 = u64::MAX - 0x100;
        assert_eq!(inject_abort(&s, InjectKind::Undefined).new_pc, 0x2ff);
    }
}
