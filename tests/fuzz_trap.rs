//! Fuzz target: trap decoding (`src/trap`). Random ESR_EL2 (exception classes biased to the
//! ones sluice decodes, any ISS, any ISS2 and RES0 bits), FAR_EL2 and HPFAR_EL2 go through
//! `trap::decode` and `next_pc`; decoded MMIO accesses load and store random values; random
//! guest states take injected aborts. Nothing may panic, and what comes out must be what the
//! syndrome said (Arm ARM D24.2): widths of 1/2/4/8, registers 0..31, the IPA built from
//! HPFAR_EL2 and FAR_EL2[11:0], emulation offered only with a valid syndrome and IPA.

mod fuzz_support;

use fuzz_support::Rng;
use sluice::trap::{self, Exit, FaultKind, GuestExceptionState, InjectKind, Injection, MmioAccess};

/// ESR_EL2.EC values sluice decodes, and their neighbours.
const CLASSES: [u64; 11] = [
    0x24, 0x24, 0x20, 0x16, 0x17, 0x18, 0x01, 0x07, 0x19, 0x25, 0x21,
];
const EC_SHIFT: u32 = 26;
const ISS_MASK: u64 = (1 << 25) - 1;
const ISV: u64 = 1 << 24;
const S1PTW: u64 = 1 << 7;
const CM: u64 = 1 << 8;
const WNR: u64 = 1 << 6;
/// HPFAR_EL2.FIPA: bits [47:4] hold IPA[55:12].
const FIPA_MASK: u64 = ((1 << 44) - 1) << 4;

#[test]
fn trap_decoding_never_panics_and_gives_sane_accesses() {
    fuzz_support::run("trap", |rng| {
        for _ in 0..256 {
            let (esr, far, hpfar) = (syndrome(rng), rng.edgy_u64(), hpfar(rng));
            let exit = trap::decode(esr, far, hpfar);
            check_exit(exit, esr, far, hpfar);
            let pc = rng.edgy_u64();
            let next = trap::next_pc(pc, esr);
            assert!(next == pc.wrapping_add(2) || next == pc.wrapping_add(4));
            check_injection(rng);
        }
    });
}

fn syndrome(rng: &mut Rng) -> u64 {
    let ec = if rng.one_in(4) {
        rng.below(64)
    } else {
        rng.pick(&CLASSES)
    };
    let mut iss = rng.next_u64() & ISS_MASK;
    if rng.coin() {
        iss |= ISV; // the interesting half of data aborts
        iss &= !(S1PTW | CM);
        iss = iss & !0x3f | rng.pick(&[0x04, 0x05, 0x06, 0x07, 0x2b, 0x09, 0x0f, 0x10, 0x00]);
    }
    let il = rng.below(2) << 25;
    let high = if rng.one_in(4) {
        rng.next_u64() << 32
    } else {
        0
    };
    high | ec << EC_SHIFT | il | iss
}

fn hpfar(rng: &mut Rng) -> u64 {
    match rng.below(3) {
        0 => rng.next_u64(),
        1 => rng.next_u64() & FIPA_MASK,
        _ => rng.edgy_u64(),
    }
}

fn level_is_architectural(fault: FaultKind) -> bool {
    match fault {
        FaultKind::AddressSize { level }
        | FaultKind::Translation { level }
        | FaultKind::AccessFlag { level }
        | FaultKind::Permission { level }
        | FaultKind::SyncExternalOnWalk { level } => (-1..=3).contains(&level),
        _ => true,
    }
}

fn check_exit(exit: Exit, esr: u64, far: u64, hpfar: u64) {
    let ec = (esr >> EC_SHIFT) & 0x3f;
    let iss = esr & ISS_MASK;
    let why = format!("esr {esr:#x} far {far:#x} hpfar {hpfar:#x} gave {exit:?}");
    let ipa = (hpfar & FIPA_MASK) << 8 | far & 0xfff;
    let ok = match exit {
        Exit::Mmio(access) => {
            check_mmio(access, &why);
            ec == 0x24
                && iss & ISV != 0
                && iss & (S1PTW | CM) == 0
                && access.guest_phys == ipa
                && access.is_write == (iss & WNR != 0)
                && access.width_bytes == 1 << ((iss >> 22) & 3)
                && access.register == ((iss >> 16) & 0x1f) as u8
                && access.fault.reports_ipa()
        }
        Exit::DataAbortNoSyndrome {
            guest_phys, fault, ..
        } => ec == 0x24 && guest_phys == ipa && level_is_architectural(fault),
        Exit::InstructionAbort {
            guest_phys, fault, ..
        } => ec == 0x20 && guest_phys == ipa && level_is_architectural(fault),
        Exit::ExternalAbort { far: f, .. } => matches!(ec, 0x20 | 0x24) && f == far,
        Exit::Hvc { imm } => ec == 0x16 && imm as u64 == iss & 0xffff,
        Exit::Smc { imm } => ec == 0x17 && imm as u64 == iss & 0xffff,
        Exit::SysReg(s) => {
            let r = s.id();
            let named = format!("{r}");
            ec == 0x18
                && named.starts_with('S')
                && s.register <= 31
                && r.op0 <= 3
                && r.op1 <= 7
                && r.crn <= 15
                && r.crm <= 15
                && r.op2 <= 7
                && s.is_read == (iss & 1 != 0)
        }
        Exit::Wfi | Exit::Wfe => ec == 0x01,
        Exit::FpSimdTrap => ec == 0x07,
        Exit::SveTrap => ec == 0x19,
        Exit::Unknown { ec: e, iss: i } => e as u64 == ec && i as u64 == iss,
    };
    assert!(ok, "{why}");
}

/// A decoded access loads and stores only what its width and register allow.
fn check_mmio(access: MmioAccess, why: &str) {
    assert!(matches!(access.width_bytes, 1 | 2 | 4 | 8), "{why}");
    assert!(access.register <= 31, "{why}");
    for value in [
        0,
        1,
        u64::MAX,
        0x80,
        0x8000,
        0x8000_0000,
        0x1234_5678_9abc_def0,
    ] {
        let width_mask = match access.width_bytes {
            8 => u64::MAX,
            w => (1u64 << (8 * w)) - 1,
        };
        let loaded = access.read_result(value);
        if !access.register_is_64bit {
            assert!(
                loaded <= u32::MAX as u64,
                "{why}: W register loads {loaded:#x}"
            );
        }
        if !access.sign_extend {
            assert_eq!(
                loaded & !width_mask,
                0,
                "{why}: load of {value:#x} is wider"
            );
        }
        assert_eq!(access.write_value(value), value & width_mask, "{why}");
    }
}

/// Exception entry from any guest state lands at one of the four synchronous vectors, in
/// EL1h with DAIF masked, and keeps the interrupted PC and PSTATE.
fn check_injection(rng: &mut Rng) {
    let state = GuestExceptionState {
        pc: rng.edgy_u64(),
        pstate: rng.edgy_u64(),
        vbar_el1: rng.edgy_u64(),
        sctlr_el1: rng.edgy_u64(),
    };
    let far = rng.edgy_u64();
    let kind = match rng.below(3) {
        0 => InjectKind::DataAbort {
            far,
            is_write: rng.coin(),
        },
        1 => InjectKind::InstructionAbort { far },
        _ => InjectKind::Undefined,
    };
    let Injection {
        new_pc,
        new_pstate,
        elr_el1,
        spsr_el1,
        esr_el1,
        far_el1,
    } = trap::inject_abort(&state, kind);
    let why = format!("{state:?} {kind:?}");
    let vector = new_pc.wrapping_sub(state.vbar_el1);
    assert!(matches!(vector, 0 | 0x200 | 0x400 | 0x600), "{why}");
    assert_eq!(new_pstate & 0x1f, 0b0_0101, "{why}: not AArch64 EL1h");
    assert_eq!(new_pstate & 0x3c0, 0x3c0, "{why}: DAIF not masked");
    assert_eq!((elr_el1, spsr_el1), (state.pc, state.pstate), "{why}");
    assert!(
        matches!(esr_el1 >> EC_SHIFT, 0x00 | 0x20 | 0x21 | 0x24 | 0x25),
        "{why}"
    );
    assert_ne!(esr_el1 & 1 << 25, 0, "{why}: IL clear");
    let expected_far = match kind {
        InjectKind::Undefined => None,
        _ => Some(far),
    };
    assert_eq!(far_el1, expected_far, "{why}");
}
