//! STE words checked bit by bit against IHI 0070 5.2 (positions written out here as the spec
//! numbers them across the 512-bit entry, not taken from the builder's constants).
use super::*;
use crate::mm::pagetable::Stage2Layout;
use crate::smmu::features::test_idrs::stage2_smmu;

/// Bit `n` of the 512-bit STE as (word, bit in word).
fn ste_bit(ste: &Ste, n: u32) -> bool {
    ste.0[(n / 64) as usize] >> (n % 64) & 1 == 1
}

/// Bits `[msb:lsb]` of the 512-bit STE (within one word).
fn ste_bits(ste: &Ste, msb: u32, lsb: u32) -> u64 {
    assert_eq!(msb / 64, lsb / 64);
    let width = msb - lsb + 1;
    ste.0[(lsb / 64) as usize] >> (lsb % 64) & ((1u64 << width) - 1)
}

fn smmu(oas_bits: u8, vmid16: bool) -> Features {
    stage2_smmu(oas_bits, vmid16)
}

/// A 40-bit IPA guest (PARange 0b010): level 1 start, two concatenated root tables.
fn config_40_bit(root_phys: u64) -> S2Config {
    let vtcr = Stage2Layout::from_pa_range(2).vtcr_el2();
    S2Config::from_vtcr(vtcr, root_phys, 5, &smmu(48, true)).unwrap()
}

#[test]
fn abort_ste_is_valid_with_config_abort_and_nothing_else() {
    let ste = Ste::abort();
    assert!(ste_bit(&ste, 0), "V");
    assert_eq!(ste_bits(&ste, 3, 1), 0b000, "Config = abort");
    assert_eq!(ste.0, [1, 0, 0, 0, 0, 0, 0, 0]);
    assert!(ste.valid());
    assert_eq!(ste.config(), StreamConfig::Abort);
}

#[test]
fn stage2_ste_has_every_field_where_ihi_0070_puts_it() {
    let ste = Ste::stage2(&config_40_bit(0x4008_2000));
    assert!(ste_bit(&ste, 0), "V");
    assert_eq!(
        ste_bits(&ste, 3, 1),
        0b110,
        "Config = S1 bypass, S2 translate"
    );
    assert_eq!(ste_bits(&ste, 109, 108), 0b01, "SHCFG = incoming");
    assert_eq!(ste_bits(&ste, 143, 128), 5, "S2VMID");
    assert_eq!(ste_bits(&ste, 165, 160), 24, "S2T0SZ: 40-bit IPA");
    assert_eq!(ste_bits(&ste, 167, 166), 0b01, "S2SL0: level 1");
    assert_eq!(ste_bits(&ste, 169, 168), 0b01, "S2IR0: WBWA");
    assert_eq!(ste_bits(&ste, 171, 170), 0b01, "S2OR0: WBWA");
    assert_eq!(ste_bits(&ste, 173, 172), 0b11, "S2SH0: inner shareable");
    assert_eq!(ste_bits(&ste, 175, 174), 0b00, "S2TG: 4 KiB");
    assert_eq!(ste_bits(&ste, 178, 176), 0b010, "S2PS: 40 bits");
    assert!(ste_bit(&ste, 179), "S2AA64");
    assert!(!ste_bit(&ste, 180), "S2ENDI: little-endian");
    assert!(!ste_bit(&ste, 181), "S2AFFD: access flag faults on");
    assert!(ste_bit(&ste, 182), "S2PTW");
    assert!(!ste_bit(&ste, 185), "S2S: terminate, no stall");
    assert!(ste_bit(&ste, 186), "S2R: record faults");
    assert_eq!(ste_bits(&ste, 243, 196) << 4, 0x4008_2000, "S2TTB");
    assert_eq!(
        &ste.0[4..],
        &[0; 4],
        "words 4-7 (secure stage 2 and beyond) unused"
    );
}

#[test]
fn stage2_ste_words_are_exactly_the_expected_values() {
    let ste = Ste::stage2(&config_40_bit(0x4008_2000));
    let vtcr_low_19 = 24 | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 16;
    assert_eq!(ste.0[0], 0b1101);
    assert_eq!(ste.0[1], 1 << 44);
    assert_eq!(
        ste.0[2],
        5 | vtcr_low_19 << 32 | 1 << 51 | 1 << 54 | 1 << 58
    );
    assert_eq!(ste.0[3], 0x4008_2000);
}

#[test]
fn accessors_read_back_what_the_builder_wrote() {
    let s2 = config_40_bit(0x4008_2000);
    let ste = Ste::stage2(&s2);
    assert_eq!(ste.config(), StreamConfig::Stage2Only);
    assert_eq!(ste.s2_config(), s2);
    assert_eq!(ste.shcfg(), 1);
    assert!(ste.s2_aa64() && ste.s2_record_faults() && ste.s2_protected_walks());
    assert!(!ste.s2_stall() && !ste.s2_big_endian() && !ste.s2_access_flag_faults_disabled());
}

#[test]
fn le_bytes_put_word_0_first_and_each_word_little_endian() {
    let bytes = Ste::stage2(&config_40_bit(0x4008_2000)).to_le_bytes();
    assert_eq!(bytes[0], 0x0d);
    assert_eq!(&bytes[8..16], &(1u64 << 44).to_le_bytes());
    assert_eq!(&bytes[24..32], &[0x00, 0x20, 0x08, 0x40, 0, 0, 0, 0]);
    assert_eq!(&Ste::abort().to_le_bytes()[1..], &[0; 63]);
}

#[test]
fn every_pa_range_layout_is_mirrored_field_for_field() {
    for pa_range in 0..=5 {
        let layout = Stage2Layout::from_pa_range(pa_range);
        let vtcr = layout.vtcr_el2();
        let root = 0x10_0000 * layout.root_tables as u64;
        let s2 = S2Config::from_vtcr(vtcr, root, 1, &smmu(48, false)).unwrap();
        let ste = Ste::stage2(&s2);
        assert_eq!(
            ste_bits(&ste, 178, 160),
            vtcr & 0x7_ffff,
            "PARange {pa_range}"
        );
    }
}

#[test]
fn an_output_size_beyond_the_smmu_oas_is_refused() {
    let vtcr = Stage2Layout::from_pa_range(5).vtcr_el2();
    let err = S2Config::from_vtcr(vtcr, 0x4000_0000, 1, &smmu(44, true)).unwrap_err();
    assert_eq!(
        err,
        SmmuError::OutputSizeTooLarge {
            ps_bits: 48,
            oas_bits: 44
        }
    );
    assert!(alloc::format!("{err}").contains("OAS"));
}

#[test]
fn a_vmid_above_255_needs_vmid16() {
    let vtcr = Stage2Layout::from_pa_range(2).vtcr_el2();
    let narrow = S2Config::from_vtcr(vtcr, 0x4000_0000, 256, &smmu(48, false));
    assert_eq!(narrow, Err(SmmuError::VmidTooWide(256)));
    assert!(S2Config::from_vtcr(vtcr, 0x4000_0000, 256, &smmu(48, true)).is_ok());
}

#[test]
fn a_root_not_aligned_to_its_concatenated_tables_is_refused() {
    // 40-bit IPA: two concatenated 4 KiB tables, so 8 KiB alignment.
    let vtcr = Stage2Layout::from_pa_range(2).vtcr_el2();
    let err = S2Config::from_vtcr(vtcr, 0x4000_1000, 1, &smmu(48, true));
    assert_eq!(
        err,
        Err(SmmuError::Misaligned {
            what: "stage-2 root table",
            phys: 0x4000_1000,
            align_bytes: 0x2000
        })
    );
    let beyond = S2Config::from_vtcr(vtcr, 1 << 40, 1, &smmu(48, true));
    assert!(matches!(beyond, Err(SmmuError::AddressTooWide { .. })));
}

#[test]
fn vtcr_values_sluice_never_builds_are_refused_naming_the_field() {
    let vtcr = Stage2Layout::from_pa_range(2).vtcr_el2();
    let f = smmu(48, true);
    let with = |clear: u64, set: u64| S2Config::from_vtcr(vtcr & !clear | set, 0, 1, &f);
    assert_eq!(
        with(0, 0b10 << 14),
        Err(SmmuError::BadVtcr("TG0")),
        "16 KiB granule"
    );
    assert_eq!(with(0b11 << 12, 0b01 << 12), Err(SmmuError::BadVtcr("SH0")));
    assert_eq!(
        with(0b111 << 16, 0b110 << 16),
        Err(SmmuError::BadVtcr("PS")),
        "52-bit"
    );
    assert_eq!(with(0b11 << 6, 0b00 << 6), Err(SmmuError::BadVtcr("SL0")));
    assert_eq!(
        with(0x3f, 15),
        Err(SmmuError::BadVtcr("T0SZ")),
        "49-bit IPA"
    );
    assert_eq!(
        with(0x3f, 40),
        Err(SmmuError::BadVtcr("T0SZ")),
        "24-bit IPA"
    );
    // A 44-bit IPA does not fit a 40-bit output.
    assert_eq!(
        with(0x3f | 0b11 << 6, 20 | 0b10 << 6),
        Err(SmmuError::BadVtcr("T0SZ"))
    );
}
