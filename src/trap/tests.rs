use super::*;

/// ESR for a lower-EL data abort with the given ISS.
fn dabt(iss: u64) -> u64 {
    (0x24 << 26) | (1 << 25) | iss
}

#[test]
fn word_store_from_w3_decodes_as_a_four_byte_mmio_write() {
    // ISV, SAS=2 (word), SRT=3, WNR, DFSC=translation level 3.
    let esr = dabt((1 << 24) | (2 << 22) | (3 << 16) | (1 << 6) | 0x07);
    let exit = decode(esr, 0xffff_0000_0901_0abc, 0x0090_1000 << 4 >> 12 << 4);
    let Exit::Mmio(a) = exit else {
        panic!("{exit:?}")
    };
    assert_eq!(a.guest_phys, 0x0901_0abc);
    assert_eq!((a.width_bytes, a.is_write, a.register), (4, true, 3));
    assert!(!a.register_is_64bit);
    assert_eq!(a.fault, FaultKind::Translation);
}

#[test]
fn hpfar_supplies_the_page_and_far_the_offset() {
    let esr = dabt((1 << 24) | (3 << 22) | (1 << 15) | 0x06);
    let hpfar = (0x8_0000_0000u64 >> 12) << 4;
    let Exit::Mmio(a) = decode(esr, 0x1234_5678, hpfar) else {
        panic!()
    };
    assert_eq!(a.guest_phys, 0x8_0000_0678);
    assert_eq!(a.width_bytes, 8);
    assert!(a.register_is_64bit && !a.is_write);
}

#[test]
fn sign_extending_byte_load_into_w_register_keeps_32_bits() {
    let a = MmioAccess {
        guest_phys: 0,
        width_bytes: 1,
        is_write: false,
        register: 0,
        sign_extend: true,
        register_is_64bit: false,
        fault: FaultKind::Translation,
    };
    assert_eq!(a.read_result(0x80), 0xffff_ff80);
    assert_eq!(
        MmioAccess {
            register_is_64bit: true,
            ..a
        }
        .read_result(0x80),
        0xffff_ffff_ffff_ff80
    );
    assert_eq!(
        MmioAccess {
            sign_extend: false,
            ..a
        }
        .read_result(0x1ff),
        0xff
    );
}

#[test]
fn abort_without_syndrome_or_on_a_table_walk_is_not_emulated() {
    let no_isv = decode(dabt((1 << 6) | 0x07), 0, 0);
    assert!(matches!(
        no_isv,
        Exit::DataAbortNoSyndrome {
            is_write: true,
            on_table_walk: false,
            ..
        }
    ));
    let walk = decode(dabt((1 << 24) | (1 << 7) | 0x07), 0, 0);
    assert!(matches!(
        walk,
        Exit::DataAbortNoSyndrome {
            on_table_walk: true,
            ..
        }
    ));
}

#[test]
fn msr_icc_sgi1r_el1_decodes_with_its_source_register() {
    // op0=3 op2=5 op1=0 CRn=12 Rt=7 CRm=11 direction=0 (write).
    let iss = (3 << 20) | (5 << 17) | (12 << 10) | (7 << 5) | (11 << 1);
    let Exit::SysReg(s) = decode((0x18 << 26) | (1 << 25) | iss, 0, 0) else {
        panic!()
    };
    assert_eq!(s.id(), SysRegId::ICC_SGI1R_EL1);
    assert_eq!(s.register, 7);
    assert!(!s.is_read);
}

#[test]
fn hvc_smc_wfi_wfe_and_unknown_classes_are_told_apart() {
    assert_eq!(decode((0x16 << 26) | (1 << 25), 0, 0), Exit::Hvc { imm: 0 });
    assert_eq!(
        decode((0x17 << 26) | (1 << 25) | 3, 0, 0),
        Exit::Smc { imm: 3 }
    );
    assert_eq!(decode((0x01 << 26) | (1 << 25), 0, 0), Exit::Wfi);
    assert_eq!(decode((0x01 << 26) | (1 << 25) | 1, 0, 0), Exit::Wfe);
    assert_eq!(decode(0x3f << 26, 0, 0), Exit::Unknown { ec: 0x3f, iss: 0 });
}

#[test]
fn next_pc_follows_the_instruction_length() {
    assert_eq!(next_pc(0x1000, 1 << 25), 0x1004);
    assert_eq!(next_pc(0x1000, 0), 0x1002);
}

fn state(pstate: u64) -> GuestExceptionState {
    GuestExceptionState {
        pc: 0x40_1000,
        pstate,
        vbar_el1: 0xffff_8000_1000_0000,
        sctlr_el1: 0,
    }
}

#[test]
fn data_abort_from_el0_goes_to_the_lower_el_vector_with_ec_0x24() {
    let i = inject_abort(
        &state(0x0),
        InjectKind::DataAbort {
            far: 0x9010000,
            is_write: false,
        },
    );
    assert_eq!(i.new_pc, 0xffff_8000_1000_0400);
    assert_eq!(i.esr_el1, (0x24 << 26) | (1 << 25) | 0x10);
    assert_eq!(
        (i.elr_el1, i.spsr_el1, i.far_el1),
        (0x40_1000, 0, Some(0x9010000))
    );
    assert_eq!(i.new_pstate, 0x3c5 | (1 << 22)); // SPAN clear: PAN set on entry
}

#[test]
fn write_abort_from_el1h_uses_the_current_el_spx_vector_with_wnr() {
    let i = inject_abort(
        &state(0x3c5),
        InjectKind::DataAbort {
            far: 8,
            is_write: true,
        },
    );
    assert_eq!(i.new_pc, 0xffff_8000_1000_0200);
    assert_eq!(i.esr_el1, (0x25 << 26) | (1 << 25) | (1 << 6) | 0x10);
}

#[test]
fn undefined_from_el1t_uses_the_sp0_vector_and_no_far() {
    let mut s = state(0x4);
    s.sctlr_el1 = (1 << 23) | (1 << 44);
    let i = inject_abort(&s, InjectKind::Undefined);
    assert_eq!(i.new_pc, 0xffff_8000_1000_0000);
    assert_eq!(i.esr_el1, 1 << 25);
    assert_eq!(i.far_el1, None);
    assert_eq!(i.new_pstate, 0x3c5 | (1 << 12)); // SPAN set keeps PAN (0); DSSBS gives SSBS
}
