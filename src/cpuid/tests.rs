use super::table::REGISTERS;
use super::*;

const ID_AA64PFR0: SysRegId = SysRegId::new(3, 0, 0, 4, 0);
const ID_AA64PFR1: SysRegId = SysRegId::new(3, 0, 0, 4, 1);
const ID_AA64PFR2: SysRegId = SysRegId::new(3, 0, 0, 4, 2);
const ID_AA64SMFR0: SysRegId = SysRegId::new(3, 0, 0, 4, 5);
const ID_AA64DFR0: SysRegId = SysRegId::new(3, 0, 0, 5, 0);
const ID_AA64ISAR2: SysRegId = SysRegId::new(3, 0, 0, 6, 2);
const ID_AA64MMFR0: SysRegId = SysRegId::new(3, 0, 0, 7, 0);
const ID_AA64MMFR1: SysRegId = SysRegId::new(3, 0, 0, 7, 1);
const ID_ISAR0: SysRegId = SysRegId::new(3, 0, 0, 2, 0);

fn all_on() -> Enables {
    Enables {
        mops: true,
        fpmr: true,
        sme_fa64: true,
        sme_zt0: true,
        ipa_pa_range: MAX_IPA_PA_RANGE,
    }
}

fn all_off() -> Enables {
    Enables {
        mops: false,
        fpmr: false,
        sme_fa64: false,
        sme_zt0: false,
        ipa_pa_range: 2,
    }
}

fn with_field(shift: u32, value: u64) -> u64 {
    value << shift
}

#[test]
fn the_tid3_space_is_crm_1_to_7_of_op0_3_op1_0_crn_0() {
    assert!(is_id_register(ID_AA64PFR0));
    assert!(is_id_register(SysRegId::new(3, 0, 0, 1, 0)));
    assert!(is_id_register(SysRegId::new(3, 0, 0, 7, 7)));
    assert!(!is_id_register(SysRegId::new(3, 0, 0, 0, 0))); // MIDR_EL1: VPIDR_EL2, not TID3
    assert!(!is_id_register(SysRegId::new(3, 1, 0, 4, 0)));
    assert!(!is_id_register(SysRegId::new(3, 0, 1, 4, 0)));
    assert!(!is_id_register(SysRegId::new(2, 0, 0, 4, 0)));
}

#[test]
fn mte_is_hidden_whatever_the_host_has() {
    // MTE = 3 (MTE3), MTE_frac = 0, MTEX = 1, BT = 1.
    let host = with_field(8, 3) | with_field(52, 1) | 1;
    assert_eq!(guest_value(ID_AA64PFR1, host, &all_on()), 1);
    let pfr2_host = 0x111; // MTEPERM, MTESTOREONLY, MTEFAR
    assert_eq!(guest_value(ID_AA64PFR2, pfr2_host, &all_on()), 0);
}

#[test]
fn sme_is_kept_at_sme2_only_with_zt0_enabled_and_fa64_only_with_fa64_enabled() {
    let host = with_field(24, 2);
    assert_eq!(guest_value(ID_AA64PFR1, host, &all_on()), host);
    assert_eq!(
        guest_value(ID_AA64PFR1, host, &all_off()),
        with_field(24, 1)
    );
    let smfr0 = (1u64 << 63) | with_field(56, 1) | 0xff00_0000;
    assert_eq!(guest_value(ID_AA64SMFR0, smfr0, &all_on()), smfr0);
    assert_eq!(
        guest_value(ID_AA64SMFR0, smfr0, &all_off()),
        smfr0 & !(0xf << 60)
    );
}

#[test]
fn sluice_enables_sme_fa64_and_zt0_exactly_when_the_host_has_them() {
    let host = HostFeatures {
        pfr1: with_field(24, 2),
        smfr0: 1 << 63,
        ..HostFeatures::default()
    };
    let e = Enables::for_host(&host, 5);
    assert!(e.sme_fa64 && e.sme_zt0);
    let sme1 = HostFeatures {
        pfr1: with_field(24, 1),
        ..HostFeatures::default()
    };
    let e = Enables::for_host(&sme1, 5);
    assert!(!e.sme_fa64 && !e.sme_zt0);
}

#[test]
fn mops_and_fpmr_need_hcrx_on_the_host() {
    let host = HostFeatures {
        isar2: with_field(16, 1),
        pfr2: with_field(32, 1),
        ..HostFeatures::default()
    };
    let no_hcx = Enables::for_host(&host, 5);
    assert!(!no_hcx.mops && !no_hcx.fpmr);
    let e = Enables::for_host(
        &HostFeatures {
            mmfr1: with_field(40, 1),
            ..host
        },
        5,
    );
    assert!(e.mops && e.fpmr);
    assert_eq!(
        guest_value(ID_AA64ISAR2, with_field(16, 1), &e),
        with_field(16, 1)
    );
    assert_eq!(guest_value(ID_AA64ISAR2, with_field(16, 1), &all_off()), 0);
    assert_eq!(
        guest_value(ID_AA64PFR2, with_field(32, 1), &e),
        with_field(32, 1)
    );
    assert_eq!(guest_value(ID_AA64PFR2, with_field(32, 1), &all_off()), 0);
}

#[test]
fn unallocated_registers_of_the_id_space_read_as_zero() {
    for (crm, op2) in [
        (3, 3),
        (3, 7),
        (4, 3),
        (4, 6),
        (5, 3),
        (5, 6),
        (5, 7),
        (6, 4),
        (7, 7),
    ] {
        let reg = SysRegId::new(3, 0, 0, crm, op2);
        assert_eq!(name(reg), None, "{reg}");
        assert_eq!(guest_value(reg, u64::MAX, &all_on()), 0, "{reg}");
    }
}

#[test]
fn registers_outside_the_id_space_read_as_zero() {
    assert_eq!(
        guest_value(SysRegId::new(3, 0, 0, 0, 0), u64::MAX, &all_on()),
        0
    );
    assert_eq!(
        guest_value(SysRegId::new(3, 0, 1, 4, 0), u64::MAX, &all_on()),
        0
    );
}

#[test]
fn implementation_defined_and_debug_extension_registers_read_as_zero() {
    for (crm, op2) in [
        (1, 3),
        (3, 5),
        (5, 1),
        (5, 2),
        (5, 4),
        (5, 5),
        (7, 3),
        (7, 4),
    ] {
        let reg = SysRegId::new(3, 0, 0, crm, op2);
        assert!(name(reg).is_some(), "{reg}");
        assert_eq!(guest_value(reg, u64::MAX, &all_on()), 0, "{reg}");
    }
}

#[test]
fn a_signed_field_hidden_reads_not_implemented_and_a_negative_host_value_is_kept() {
    let fp = FieldRule {
        name: "FP",
        shift: 16,
        sign: Sign::Signed,
        rule: Rule::Hide,
    };
    assert_eq!(fp.apply(0, &all_on()), 0xf);
    let capped = FieldRule {
        rule: Rule::Max(1),
        ..fp
    };
    assert_eq!(capped.apply(0xf, &all_on()), 0xf); // -1 < 1: not implemented stays so
    assert_eq!(capped.apply(3, &all_on()), 1);
    assert_eq!(capped.apply(0, &all_on()), 0);
    let unsigned = FieldRule {
        sign: Sign::Unsigned,
        ..capped
    };
    assert_eq!(unsigned.apply(0xf, &all_on()), 1); // unsigned 15 > 1
}

#[test]
fn fp_and_advsimd_not_implemented_stay_not_implemented() {
    let host = with_field(16, 0xf) | with_field(20, 0xf) | 0x11;
    assert_eq!(guest_value(ID_AA64PFR0, host, &all_on()), host);
    assert_eq!(guest_value(ID_AA64PFR0, 0x11, &all_on()), 0x11); // FP = 0: implemented
}

#[test]
fn el2_and_everything_only_an_el2_uses_is_hidden() {
    let pfr0 = with_field(8, 1) | with_field(36, 1) | with_field(32, 1);
    assert_eq!(guest_value(ID_AA64PFR0, pfr0, &all_on()), with_field(32, 1)); // SVE kept
    let mmfr1 = with_field(8, 1) | with_field(40, 1) | with_field(4, 2) | with_field(20, 3);
    assert_eq!(
        guest_value(ID_AA64MMFR1, mmfr1, &all_on()),
        with_field(20, 3)
    ); // PAN kept
}

#[test]
fn el1_is_shown_as_aarch64_only_and_el0_keeps_aarch32() {
    let host = 0x22; // EL0 and EL1: AArch64 and AArch32
    assert_eq!(guest_value(ID_AA64PFR0, host, &all_on()), 0x12);
}

#[test]
fn parange_is_capped_at_the_guest_ipa_size() {
    let host = with_field(28, 0) | 6; // 52-bit PA, TGran4 supported
    assert_eq!(guest_value(ID_AA64MMFR0, host, &all_on()), 5);
    assert_eq!(guest_value(ID_AA64MMFR0, 1, &all_on()), 1);
    assert_eq!(guest_value(ID_AA64MMFR0, host, &all_off()), 2);
    assert_eq!(
        Enables::for_host(&HostFeatures::default(), 6).ipa_pa_range,
        5
    );
}

#[test]
fn tgran4_and_tgran64_not_supported_are_kept_as_minus_one() {
    let host = with_field(24, 0xf) | with_field(28, 0xf) | 5;
    assert_eq!(guest_value(ID_AA64MMFR0, host, &all_on()), host);
}

#[test]
fn ecv_is_capped_at_1_and_fgt_hidden() {
    let host = with_field(60, 2) | with_field(56, 1) | 5;
    assert_eq!(
        guest_value(ID_AA64MMFR0, host, &all_on()),
        with_field(60, 1) | 5
    );
}

#[test]
fn the_pmu_and_debug_are_kept_while_spe_trace_and_brbe_are_hidden() {
    let host = 0x1_0f0f_1f00_5f06_u64 | with_field(32, 1) | with_field(44, 1) | with_field(52, 1);
    let guest = guest_value(ID_AA64DFR0, host, &all_on());
    assert_eq!(field(guest, 0), 6); // DebugVer
    assert_eq!(field(guest, 8), 0xf); // PMUVer IMP DEF kept
    assert_eq!(field(guest, 36), field(host, 36)); // DoubleLock
    assert_eq!(field(guest, 32), 0); // PMSVer
    assert_eq!(field(guest, 44), 0); // TraceBuffer
    assert_eq!(field(guest, 52), 0); // BRBE
    assert_eq!(field(guest, 4), 0); // TraceVer
}

#[test]
fn aarch32_instruction_set_registers_are_the_hosts() {
    assert_eq!(guest_value(ID_ISAR0, 0x0210_1110, &all_off()), 0x0210_1110);
}

#[test]
fn unknown_fields_of_an_aarch64_feature_register_read_as_zero() {
    // PFR1 bits [23:20] are not named by the table.
    assert_eq!(guest_value(ID_AA64PFR1, with_field(20, 5), &all_on()), 0);
}

#[test]
fn every_table_entry_is_in_the_id_space_with_unique_encodings_and_aligned_fields() {
    for (i, spec) in REGISTERS.iter().enumerate() {
        let reg = SysRegId::new(3, 0, 0, spec.crm, spec.op2);
        assert!(is_id_register(reg), "{}", spec.name);
        assert_eq!(name(reg), Some(spec.name));
        assert!(
            REGISTERS[i + 1..]
                .iter()
                .all(|o| (o.crm, o.op2) != (spec.crm, spec.op2)),
            "{} twice",
            spec.name
        );
        for (j, rule) in spec.fields.iter().enumerate() {
            assert!(
                rule.shift % 4 == 0 && rule.shift < 64,
                "{}.{}",
                spec.name,
                rule.name
            );
            assert!(
                spec.fields[j + 1..].iter().all(|o| o.shift != rule.shift),
                "{}.{} twice",
                spec.name,
                rule.name
            );
        }
    }
}

#[test]
fn no_guest_value_ever_shows_more_than_the_host_in_an_unsigned_field() {
    let mut seed = 0x1234_5678_9abc_def0_u64;
    for _ in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        for spec in REGISTERS {
            let reg = SysRegId::new(3, 0, 0, spec.crm, spec.op2);
            let guest = guest_value(reg, seed, &all_on());
            for rule in spec.fields.iter().filter(|r| r.sign == Sign::Unsigned) {
                let s = u32::from(rule.shift);
                assert!(
                    field(guest, s) <= field(seed, s),
                    "{}.{}",
                    spec.name,
                    rule.name
                );
            }
        }
    }
}

#[test]
fn mdcr_el2_gives_every_counter_to_the_guest_and_stops_counting_in_sluice_where_it_can() {
    assert_eq!(mdcr_el2(6, with_field(8, 1)), 6); // PMUv3: no HPMD
    assert_eq!(mdcr_el2(6, with_field(8, 4)), 6 | 1 << 17); // PMUv3p1: HPMD
    assert_eq!(mdcr_el2(31, with_field(8, 8)), 31 | 1 << 17 | 1 << 23); // PMUv3p7: HCCD too
    assert_eq!(mdcr_el2(6, with_field(8, 0xf)), 6); // IMPLEMENTATION DEFINED PMU
    assert_eq!(mdcr_el2(0xff, 0), 0x1f);
}
