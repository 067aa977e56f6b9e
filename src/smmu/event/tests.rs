//! Event records built bit by bit as IHI 0070 7.3 numbers them across the 256-bit record.
use super::*;
use alloc::format;

/// A record with the given (bit, value) fields set; bit numbers span the whole record.
fn record(fields: &[(u32, u64)]) -> [u64; 4] {
    let mut words = [0u64; 4];
    for &(bit, value) in fields {
        words[(bit / 64) as usize] |= value << (bit % 64);
    }
    words
}

#[test]
fn a_stage2_write_translation_fault_decodes_every_field() {
    let words = record(&[
        (0, 0x10),          // F_TRANSLATION
        (32, 0x0010),       // StreamID
        (64 + 35, 0),       // RnW = 0: write
        (64 + 39, 1),       // S2
        (64 + 40, 0b10),    // CLASS = IN
        (128, 0x7fff_0000), // InputAddr
        (192, 0x7fff_0000), // IPA[51:12]
    ]);
    let event = Event::decode(words);
    assert_eq!(event.kind, EventKind::Translation);
    assert_eq!(event.stream_id, 0x10);
    assert_eq!(event.substream_id, None);
    let transaction = event.transaction.unwrap();
    assert_eq!(transaction.input_addr, 0x7fff_0000);
    assert!(transaction.write && !transaction.instruction && !transaction.privileged);
    let site = event.site.unwrap();
    assert!(site.stage2);
    assert_eq!(site.class, FaultClass::InputAddress);
    assert_eq!(site.ipa, Some(0x7fff_0000));
    assert_eq!(event.fetch_addr, None);
    assert_eq!(
        format!("{event}"),
        "F_TRANSLATION stream 0x0010 write to 0x7fff0000 (stage 2, input address)"
    );
}

#[test]
fn read_privileged_and_instruction_flags_come_from_bits_99_98_97() {
    let words = record(&[
        (0, 0x13),
        (32, 0x0208),
        (64 + 33, 1), // PnU
        (64 + 34, 1), // InD
        (64 + 35, 1), // RnW = read
        (64 + 40, 0b01),
        (128, 0xdead_b000),
    ]);
    let event = Event::decode(words);
    let transaction = event.transaction.unwrap();
    assert!(!transaction.write && transaction.instruction && transaction.privileged);
    assert_eq!(event.site.unwrap().class, FaultClass::TableWalk);
    assert_eq!(event.site.unwrap().ipa, None, "stage 1 faults carry no IPA");
    assert_eq!(
        format!("{event}"),
        "F_PERMISSION stream 0x0208 privileged instruction fetch from 0xdeadb000 (stage 1, table walk)"
    );
}

#[test]
fn substream_id_is_reported_only_when_ssv_is_set() {
    let without = Event::decode(record(&[(0, 0x04), (12, 0x5), (32, 7)]));
    assert_eq!(without.substream_id, None);
    let with = Event::decode(record(&[(0, 0x04), (11, 1), (12, 0xf_ffff), (32, 7)]));
    assert_eq!(with.substream_id, Some(0xf_ffff));
    assert_eq!(
        format!("{with}"),
        "C_BAD_STE stream 0x0007 substream 0xfffff"
    );
}

#[test]
fn configuration_events_have_no_transaction_fields() {
    let event = Event::decode(record(&[(0, 0x02), (32, 0x1_0000), (64 + 35, 1), (128, 5)]));
    assert_eq!(event.kind, EventKind::BadStreamId);
    assert_eq!(
        (event.transaction, event.site, event.fetch_addr),
        (None, None, None)
    );
    assert_eq!(format!("{event}"), "C_BAD_STREAMID stream 0x10000");
}

#[test]
fn fetch_aborts_report_the_fetch_address_from_word_3() {
    let ste_fetch = Event::decode(record(&[(0, 0x03), (32, 3), (192, 0x4000_00c7)]));
    assert_eq!(
        ste_fetch.fetch_addr,
        Some(0x4000_00c0),
        "FetchAddr is bits [51:3]"
    );
    assert_eq!(
        format!("{ste_fetch}"),
        "F_STE_FETCH stream 0x0003 fetching 0x400000c0"
    );
    let walk = Event::decode(record(&[
        (0, 0x0b),
        (32, 3),
        (64 + 35, 1),
        (64 + 39, 1),
        (64 + 40, 0b10),
        (128, 0x1000),
        (192, 0x8_0008),
    ]));
    assert_eq!(walk.fetch_addr, Some(0x8_0008));
    assert_eq!(
        walk.site.unwrap().ipa,
        None,
        "word 3 is the fetch address here"
    );
    assert_eq!(
        format!("{walk}"),
        "F_WALK_EABT stream 0x0003 read from 0x1000 (stage 2, input address) fetching 0x80008"
    );
}

#[test]
fn every_named_type_has_its_code_and_others_are_unknown() {
    let codes = [
        (0x05, "F_BAD_ATS_TREQ"),
        (0x06, "F_STREAM_DISABLED"),
        (0x10, "F_TRANSLATION"),
        (0x11, "F_ADDR_SIZE"),
        (0x12, "F_ACCESS"),
        (0x13, "F_PERMISSION"),
        (0x20, "F_TLB_CONFLICT"),
        (0x21, "F_CFG_CONFLICT"),
        (0x24, "E_PAGE_REQUEST"),
    ];
    for (code, name) in codes {
        assert_eq!(EventKind::from_code(code).name(), Some(name), "{code:#x}");
    }
    assert_eq!(EventKind::from_code(0xe0), EventKind::Unknown(0xe0));
    let unknown = Event::decode(record(&[(0, 0xe0), (32, 1)]));
    assert_eq!(format!("{unknown}"), "event 0xe0 stream 0x0001");
}

#[test]
fn global_errors_name_each_active_bit() {
    let gerror = GERROR_CMDQ_ERR | GERROR_SFM_ERR | 1 << 5;
    let gerrorn = 1 << 5; // MSI_EVENTQ_ABT_ERR already acknowledged
    let active = GlobalErrors::from(gerror ^ gerrorn);
    assert!(active.contains(GERROR_CMDQ_ERR) && active.contains(GERROR_SFM_ERR));
    assert_eq!(format!("{active}"), "CMDQ_ERR, SFM_ERR");
    assert_eq!(format!("{}", GlobalErrors::from(0)), "none");
    assert_eq!(
        format!("{}", GlobalErrors::from(1 << 1 | 1 << 9)),
        "CMDQP_ERR, bits 0x2"
    );
    let all: alloc::vec::Vec<_> = GlobalErrors::from(0x3fd).names().collect();
    assert_eq!(
        all,
        [
            "CMDQ_ERR",
            "EVENTQ_ABT_ERR",
            "PRIQ_ABT_ERR",
            "MSI_CMDQ_ABT_ERR",
            "MSI_EVENTQ_ABT_ERR",
            "MSI_PRIQ_ABT_ERR",
            "MSI_GERROR_ABT_ERR",
            "SFM_ERR",
            "CMDQP_ERR"
        ]
    );
}
