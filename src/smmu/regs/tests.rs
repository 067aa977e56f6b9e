//! Register offsets and values checked against IHI 0070 chapter 6.
use super::*;
use crate::smmu::features::test_idrs::stage2_smmu;

fn smmu(oas_bits: u8) -> Features {
    Features {
        stream_id_bits: 16,
        cmdq_log2_entries: 8,
        eventq_log2_entries: 7,
        ..stage2_smmu(oas_bits, true)
    }
}

#[test]
fn offsets_are_those_of_the_register_summary() {
    let page0 = [
        (IDR0, 0x00),
        (IDR1, 0x04),
        (IDR3, 0x0c),
        (IDR5, 0x14),
        (CR0, 0x20),
        (CR0ACK, 0x24),
        (CR1, 0x28),
        (CR2, 0x2c),
        (STATUSR, 0x40),
        (GBPA, 0x44),
        (IRQ_CTRL, 0x50),
        (IRQ_CTRLACK, 0x54),
        (GERROR, 0x60),
        (GERRORN, 0x64),
        (GERROR_IRQ_CFG0, 0x68),
        (GERROR_IRQ_CFG1, 0x70),
        (GERROR_IRQ_CFG2, 0x74),
        (STRTAB_BASE, 0x80),
        (STRTAB_BASE_CFG, 0x88),
        (CMDQ_BASE, 0x90),
        (CMDQ_PROD, 0x98),
        (CMDQ_CONS, 0x9c),
        (EVENTQ_BASE, 0xa0),
        (EVENTQ_IRQ_CFG0, 0xb0),
        (EVENTQ_IRQ_CFG1, 0xb8),
        (EVENTQ_IRQ_CFG2, 0xbc),
    ];
    for (offset, expected) in page0 {
        assert_eq!(offset, expected);
    }
    assert_eq!((EVENTQ_PROD, EVENTQ_CONS), (0x100a8, 0x100ac));
}

#[test]
fn control_bits_are_in_place() {
    assert_eq!(CR0_SMMUEN | CR0_EVENTQEN | CR0_CMDQEN, 0b1101);
    assert_eq!(CR2_SLUICE, 0b110, "RECINVSID and PTM, E2H clear");
    assert_eq!(CR2_SLUICE & CR2_E2H, 0);
    assert_eq!(GBPA_ABORT_ALL, 0x8010_0000);
    assert_eq!(IRQ_CTRL_GERROR_IRQEN | IRQ_CTRL_EVENTQ_IRQEN, 0b101);
}

#[test]
fn cr1_is_write_back_inner_shareable_when_coherent_and_non_cacheable_otherwise() {
    // QUEUE_IC [1:0], QUEUE_OC [3:2], QUEUE_SH [5:4], TABLE_IC [7:6], TABLE_OC [9:8],
    // TABLE_SH [11:10].
    let coherent = 1 | 1 << 2 | 3 << 4 | 1 << 6 | 1 << 8 | 3 << 10;
    assert_eq!(Cr1::for_coherency(true).bits(), coherent);
    assert_eq!(Cr1::for_coherency(false).bits(), 2 << 4 | 2 << 10);
    let mixed = Cr1 {
        queue_cache: Cacheability::WriteThrough,
        queue_share: Shareability::NonShareable,
        table_cache: Cacheability::WriteBack,
        table_share: Shareability::OuterShareable,
    };
    assert_eq!(mixed.bits(), 2 | 2 << 2 | 1 << 6 | 1 << 8 | 2 << 10);
}

#[test]
fn a_linear_stream_table_has_ra_address_and_log2size() {
    let table = StreamTable::linear(0x4010_0000, 8, &smmu(48)).unwrap();
    assert_eq!(table.size_bytes(), 16 * 1024);
    assert_eq!(table.base(), 1 << 62 | 0x4010_0000);
    assert_eq!(
        table.base_cfg(),
        8,
        "FMT [17:16] = linear, LOG2SIZE [5:0] = 8"
    );
    let full = StreamTable::linear(0x4000_0000, 16, &smmu(48)).unwrap();
    assert_eq!(full.base_cfg(), 16);
}

#[test]
fn a_stream_table_must_fit_sidsize_be_aligned_and_within_oas() {
    assert_eq!(
        StreamTable::linear(0x4000_0000, 17, &smmu(48)),
        Err(SmmuError::TooManyEntries {
            what: "stream table",
            log2_entries: 17,
            max_log2_entries: 16
        })
    );
    assert!(matches!(
        StreamTable::linear(0x4000_2000, 8, &smmu(48)),
        Err(SmmuError::Misaligned {
            align_bytes: 0x4000,
            ..
        })
    ));
    assert!(
        StreamTable::linear(0xffff_c000, 8, &smmu(32)).is_ok(),
        "ends at 4 GiB"
    );
    assert!(matches!(
        StreamTable::linear(0x1_0000_0000, 8, &smmu(32)),
        Err(SmmuError::AddressTooWide { .. })
    ));
    assert!(StreamTable::linear(0x1_0000_0000, 8, &smmu(36)).is_ok());
}

#[test]
fn queue_bases_carry_the_allocate_hint_address_and_log2size() {
    let f = smmu(48);
    assert_eq!(cmdq_base(0x4020_0000, 8, &f), Ok(1 << 62 | 0x4020_0000 | 8));
    assert_eq!(
        eventq_base(0x4020_2000, 7, &f),
        Ok(1 << 62 | 0x4020_2000 | 7)
    );
    assert_eq!(cmdq_base(0x4020_0000, 0, &f), Ok(1 << 62 | 0x4020_0000));
}

#[test]
fn queue_bases_respect_cmdqs_eventqs_and_queue_size_alignment() {
    let f = smmu(48);
    assert!(matches!(
        cmdq_base(0x4020_0000, 9, &f),
        Err(SmmuError::TooManyEntries {
            max_log2_entries: 8,
            ..
        })
    ));
    assert!(matches!(
        eventq_base(0x4020_0000, 8, &f),
        Err(SmmuError::TooManyEntries { .. })
    ));
    // 256 commands of 16 bytes: 4 KiB alignment.
    assert!(matches!(
        cmdq_base(0x4020_0800, 8, &f),
        Err(SmmuError::Misaligned {
            align_bytes: 0x1000,
            ..
        })
    ));
    // A one-entry queue still needs the 32-byte alignment of the ADDR field.
    assert!(matches!(
        cmdq_base(0x4020_0010, 0, &f),
        Err(SmmuError::Misaligned {
            align_bytes: 32,
            ..
        })
    ));
    assert!(eventq_base(0x4020_0020, 0, &f).is_ok());
}
