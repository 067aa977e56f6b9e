use super::*;

/// ESR for a lower-EL data abort with the given ISS.
fn dabt(iss: u64) -> u64 {
    (0x24 << 26) | (1 << 25) | iss
}

/// ESR for a lower-EL instruction abort with the given ISS.
fn iabt(iss: u64) -> u64 {
    (0x20 << 26) | (1 << 25) | iss
}

/// HPFAR_EL2 for a fault on the page holding `guest_phys`.
fn hpfar(guest_phys: u64) -> u64 {
    (guest_phys >> 12) << 4
}

const ISV: u64 = 1 << 24;
const WNR: u64 = 1 << 6;
const S1PTW: u64 = 1 << 7;
const CM: u64 = 1 << 8;
const FNV: u64 = 1 << 10;
const TRANSLATION_L3: u64 = 0x07;

#[test]
fn word_store_from_w3_decodes_as_a_four_byte_mmio_write() {
    // ISV, SAS=2 (word), SRT=3, WNR, DFSC=translation level 3: what `str w3, [x0]` gives.
    let esr = dabt(ISV | (2 << 22) | (3 << 16) | WNR | TRANSLATION_L3);
    let exit = decode(esr, 0xffff_0000_0901_0abc, hpfar(0x0901_0000));
    let Exit::Mmio(a) = exit else {
        panic!("{exit:?}")
    };
    assert_eq!(a.guest_phys, 0x0901_0abc);
    assert_eq!((a.width_bytes, a.is_write, a.register), (4, true, 3));
    assert!(!a.register_is_64bit && !a.sign_extend);
    assert_eq!(a.fault, FaultKind::Translation { level: 3 });
}

#[test]
fn hpfar_supplies_the_page_and_far_the_offset() {
    let esr = dabt(ISV | (3 << 22) | (1 << 15) | 0x06);
    let Exit::Mmio(a) = decode(esr, 0x1234_5678, hpfar(0x8_0000_0000)) else {
        panic!()
    };
    assert_eq!(a.guest_phys, 0x8_0000_0678);
    assert_eq!(a.width_bytes, 8);
    assert!(a.register_is_64bit && !a.is_write);
}

#[test]
fn a_52_bit_ipa_survives_and_hpfar_ns_bit_is_ignored() {
    let ipa = 0x000f_ffff_ffff_f000u64;
    let Exit::Mmio(a) = decode(dabt(ISV | TRANSLATION_L3), 0x10, hpfar(ipa) | (1 << 63)) else {
        panic!()
    };
    assert_eq!(a.guest_phys, ipa | 0x10);
}

#[test]
fn ldrsh_into_x_register_reports_sign_extension() {
    // SAS=1, SSE, SRT=30, SF.
    let esr = dabt(ISV | (1 << 22) | (1 << 21) | (30 << 16) | (1 << 15) | TRANSLATION_L3);
    let Exit::Mmio(a) = decode(esr, 0, 0) else {
        panic!()
    };
    assert_eq!((a.width_bytes, a.register), (2, 30));
    assert!(a.sign_extend && a.register_is_64bit);
}

#[test]
fn abort_without_syndrome_or_on_a_table_walk_is_not_emulated() {
    let no_isv = decode(dabt(WNR | TRANSLATION_L3), 0, 0);
    assert!(matches!(
        no_isv,
        Exit::DataAbortNoSyndrome {
            is_write: true,
            on_table_walk: false,
            guest_phys_valid: true,
            ..
        }
    ));
    let walk = decode(dabt(ISV | S1PTW | TRANSLATION_L3), 0, 0);
    assert!(matches!(
        walk,
        Exit::DataAbortNoSyndrome {
            on_table_walk: true,
            guest_phys_valid: true,
            ..
        }
    ));
}

#[test]
fn a_permission_fault_is_not_emulated_because_hpfar_is_unknown_for_it() {
    let exit = decode(dabt(ISV | WNR | 0x0f), 0, hpfar(0x0900_0000));
    assert!(matches!(
        exit,
        Exit::DataAbortNoSyndrome {
            guest_phys_valid: false,
            fault: FaultKind::Permission { level: 3 },
            ..
        }
    ));
}

#[test]
fn cache_maintenance_on_unmapped_space_is_reported_as_such() {
    let exit = decode(dabt(CM | WNR | TRANSLATION_L3), 0, 0);
    assert!(matches!(
        exit,
        Exit::DataAbortNoSyndrome {
            cache_maintenance: true,
            ..
        }
    ));
}

#[test]
fn synchronous_external_aborts_carry_the_virtual_address_not_a_stale_ipa() {
    let exit = decode(
        dabt(ISV | WNR | 0x10),
        0xffff_0000_dead_b000,
        hpfar(0x0900_0000),
    );
    assert_eq!(
        exit,
        Exit::ExternalAbort {
            far: 0xffff_0000_dead_b000,
            far_valid: true,
            is_write: true,
            instruction_fetch: false,
        }
    );
    let fetch = decode(iabt(FNV | 0x10), 0, 0);
    assert!(matches!(
        fetch,
        Exit::ExternalAbort {
            far_valid: false,
            instruction_fetch: true,
            ..
        }
    ));
    let on_walk = decode(dabt(S1PTW | 0x14), 0, 0);
    assert!(matches!(on_walk, Exit::ExternalAbort { .. }));
}

#[test]
fn instruction_abort_reports_the_ipa_and_its_validity() {
    let exit = decode(iabt(TRANSLATION_L3), 0x4_0123, hpfar(0x8000_0000));
    assert_eq!(
        exit,
        Exit::InstructionAbort {
            guest_phys: 0x8000_0123,
            guest_phys_valid: true,
            fault: FaultKind::Translation { level: 3 },
            on_table_walk: false,
        }
    );
    let perm = decode(iabt(0x0f), 0, 0);
    assert!(matches!(
        perm,
        Exit::InstructionAbort {
            guest_phys_valid: false,
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
fn mrs_cntp_ctl_el0_decodes_as_a_read() {
    // op0=3 op2=1 op1=3 CRn=14 Rt=0 CRm=2 direction=1 (read).
    let iss = (3 << 20) | (1 << 17) | (3 << 14) | (14 << 10) | (2 << 1) | 1;
    let Exit::SysReg(s) = decode((0x18 << 26) | (1 << 25) | iss, 0, 0) else {
        panic!()
    };
    assert_eq!(s.id(), SysRegId::CNTP_CTL_EL0);
    assert!(s.is_read);
}

#[test]
fn the_sgi_registers_differ_only_in_op2() {
    let ids = [
        SysRegId::ICC_SGI1R_EL1,
        SysRegId::ICC_ASGI1R_EL1,
        SysRegId::ICC_SGI0R_EL1,
    ];
    assert_eq!(ids.map(|r| r.op2), [5, 6, 7]);
    assert!(ids
        .iter()
        .all(|r| (r.op0, r.op1, r.crn, r.crm) == (3, 0, 12, 11)));
}

#[test]
fn hvc_smc_wfi_wfe_fp_and_unknown_classes_are_told_apart() {
    assert_eq!(decode((0x16 << 26) | (1 << 25), 0, 0), Exit::Hvc { imm: 0 });
    assert_eq!(
        decode((0x17 << 26) | (1 << 25) | 3, 0, 0),
        Exit::Smc { imm: 3 }
    );
    assert_eq!(decode((0x01 << 26) | (1 << 25), 0, 0), Exit::Wfi);
    assert_eq!(decode((0x01 << 26) | (1 << 25) | 1, 0, 0), Exit::Wfe);
    assert_eq!(decode((0x01 << 26) | (1 << 25) | 2, 0, 0), Exit::Wfi); // WFIT
    assert_eq!(decode((0x01 << 26) | (1 << 25) | 3, 0, 0), Exit::Wfe); // WFET
    assert_eq!(decode((0x07 << 26) | (1 << 25), 0, 0), Exit::FpSimdTrap);
    assert_eq!(decode((0x19 << 26) | (1 << 25), 0, 0), Exit::SveTrap);
    assert_eq!(decode(0x3f << 26, 0, 0), Exit::Unknown { ec: 0x3f, iss: 0 });
}

#[test]
fn hvc_immediate_ignores_the_upper_iss_bits() {
    let esr = (0x16 << 26) | (1 << 25) | (1 << 20) | 0xbeef;
    assert_eq!(decode(esr, 0, 0), Exit::Hvc { imm: 0xbeef });
}

#[test]
fn any_register_values_decode_without_panicking() {
    for ec in 0..64u64 {
        for iss in [0, 0x1ff_ffff, 0x155_5555, 0x0aa_aaaa] {
            let _ = decode((ec << 26) | (1 << 25) | iss | (0xffff_ffff << 32), !0, !0);
        }
    }
}

#[test]
fn next_pc_follows_the_instruction_length() {
    assert_eq!(next_pc(0x1000, 1 << 25), 0x1004);
    assert_eq!(next_pc(0x1000, 0), 0x1002);
    assert_eq!(next_pc(u64::MAX - 1, 1 << 25), 2);
}

const PERMISSION_L3: u64 = 0x0f;

#[test]
fn a_permission_fault_write_needs_its_ipa_resolved_and_then_decodes_as_mmio() {
    // `str w1, [x0]` to a page stage 2 maps read-only: HPFAR_EL2 is UNKNOWN (garbage here).
    let esr = dabt(ISV | (2 << 22) | (1 << 16) | WNR | PERMISSION_L3);
    assert!(ipa_needs_resolving(esr));
    let Exit::DataAbortNoSyndrome {
        guest_phys_valid, ..
    } = decode(esr, 0xffff_8000_0900_0000, 0xdead_0000)
    else {
        panic!()
    };
    assert!(!guest_phys_valid);
    let Exit::Mmio(a) = decode_at_ipa(esr, 0xffff_8000_1234_5000, 0x0900_0fff) else {
        panic!()
    };
    assert_eq!(a.guest_phys, 0x0900_0000);
    assert_eq!((a.width_bytes, a.is_write, a.register), (4, true, 1));
    assert_eq!(a.fault, FaultKind::Permission { level: 3 });
}

#[test]
fn only_permission_faults_off_the_table_walk_need_resolving() {
    assert!(!ipa_needs_resolving(dabt(ISV | TRANSLATION_L3)));
    assert!(!ipa_needs_resolving(dabt(S1PTW | PERMISSION_L3)));
    assert!(!ipa_needs_resolving(iabt(PERMISSION_L3)));
    assert!(!ipa_needs_resolving(0x16 << 26)); // HVC
                                               // Without a syndrome the access stays one sluice cannot emulate, IPA or not.
    let exit = decode_at_ipa(dabt(WNR | PERMISSION_L3), 0x18, 0x0900_0000);
    assert!(matches!(
        exit,
        Exit::DataAbortNoSyndrome {
            guest_phys: 0x0900_0018,
            ..
        }
    ));
}
