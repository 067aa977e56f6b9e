//! Mapping: block choice, concatenated roots, descriptor bits, refusals.

use super::*;

#[test]
fn an_aligned_gib_is_mapped_with_one_level_1_block() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, GIB, 3 * GIB, GIB, Attributes::NORMAL_RWX)
        .unwrap();
    assert_eq!(mem.tables.len(), 2); // root (level 0) + one level 1 table
    assert_eq!(pt.leaf_descriptor(&mem, GIB).unwrap().1, 1);
    assert_eq!(
        pt.translate(&mem, GIB + 0x1234),
        Some((3 * GIB + 0x1234, Attributes::NORMAL_RWX))
    );
}

#[test]
fn a_gib_aligned_input_with_a_2mib_aligned_output_gets_2mib_blocks() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, GIB, GIB + 2 * MIB, GIB, Attributes::NORMAL_RW)
        .unwrap();
    assert_eq!(mem.tables.len(), 3);
    assert_eq!(pt.leaf_descriptor(&mem, GIB).unwrap().1, 2);
    assert_eq!(out(&pt, &mem, 2 * GIB - 1), Some(2 * GIB + 2 * MIB - 1));
}

#[test]
fn a_page_aligned_output_forces_pages_even_for_a_block_aligned_input() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, 2 * MIB, 0x5000, 2 * MIB, Attributes::NORMAL_RW)
        .unwrap();
    assert_eq!(pt.leaf_descriptor(&mem, 2 * MIB).unwrap().1, 3);
    assert_eq!(out(&pt, &mem, 4 * MIB - 1), Some(0x5000 + 2 * MIB - 1));
}

#[test]
fn with_pages_only_an_aligned_range_gets_pages_and_translates_the_same() {
    let (mut mem, pt) = stage2();
    let mut pt = pt.with_leaves(Leaves::Pages);
    pt.map(&mut mem, GIB, 3 * GIB, 4 * MIB, Attributes::NORMAL_RWX)
        .unwrap();
    // Root, level 1, level 2 and one level 3 table per 2 MiB.
    assert_eq!(mem.tables.len(), 5);
    for addr in (GIB..GIB + 4 * MIB).step_by(PAGE_BYTES as usize) {
        assert_eq!(pt.leaf_descriptor(&mem, addr).unwrap().1, 3, "{addr:#x}");
        assert_eq!(out(&pt, &mem, addr + 0x12), Some(addr + 2 * GIB + 0x12));
    }
    assert_eq!(out(&pt, &mem, GIB + 4 * MIB), None);
}

#[test]
fn unaligned_ends_use_pages_and_the_middle_uses_blocks() {
    let (mut mem, mut pt) = stage2();
    let start = GIB - 0x3000;
    let size = 0x3000 + 4 * MIB + 0x1000;
    pt.map(&mut mem, start, start, size, Attributes::NORMAL_RW)
        .unwrap();
    // Root, one level 1 table, two level 2 tables (the range crosses a GiB), two level 3.
    assert_eq!(mem.tables.len(), 6);
    let levels = [(start, 3), (GIB, 2), (GIB + 2 * MIB, 2), (GIB + 4 * MIB, 3)];
    for (addr, level) in levels {
        assert_eq!(
            pt.leaf_descriptor(&mem, addr).unwrap().1,
            level,
            "{addr:#x}"
        );
        assert_eq!(out(&pt, &mem, addr), Some(addr), "{addr:#x}");
    }
    assert_eq!(out(&pt, &mem, start - PAGE_BYTES), None);
    assert_eq!(out(&pt, &mem, GIB + 4 * MIB + 0x1000), None);
}

#[test]
fn stage2_descriptors_carry_the_arm_arm_bits_and_translate_back() {
    let (mut mem, mut pt) = stage2();
    pt.map(
        &mut mem,
        0x9000_0000,
        0x9000_0000,
        PAGE_BYTES,
        Attributes::DEVICE_RW,
    )
    .unwrap();
    // Page (0b11) | MemAttr 0b0001 Device-nGnRE | S2AP 0b11 | AF | XN.
    let device = 0x9000_0000 | 0b11 | 0b0001 << 2 | 0b11 << 6 | 1 << 10 | 1 << 54;
    assert_eq!(pt.leaf_descriptor(&mem, 0x9000_0000), Some((device, 3)));
    pt.map(
        &mut mem,
        0x4000_0000,
        0x8020_0000,
        2 * MIB,
        Attributes::NORMAL_RX,
    )
    .unwrap();
    // Block (0b01) | MemAttr 0b1111 normal WB | S2AP 0b01 read-only | SH inner | AF.
    let normal = 0x8020_0000 | 0b01 | 0b1111 << 2 | 0b01 << 6 | 0b11 << 8 | 1 << 10;
    assert_eq!(pt.leaf_descriptor(&mem, 0x4000_0000), Some((normal, 2)));
    assert_eq!(
        pt.translate(&mem, 0x4000_0008),
        Some((0x8020_0008, Attributes::NORMAL_RX))
    );
    assert_eq!(
        pt.translate(&mem, 0x9000_0ffc),
        Some((0x9000_0ffc, Attributes::DEVICE_RW))
    );
}

#[test]
fn el2_stage1_descriptors_use_mair_indices_and_translate_back() {
    let mut mem = FakeMemory::default();
    let mut pt = PageTable::new(&mut mem, Format::El2Stage1, 48).unwrap();
    pt.map(
        &mut mem,
        0x900_0000,
        0x900_0000,
        PAGE_BYTES,
        Attributes::DEVICE_RW,
    )
    .unwrap();
    // Page | AttrIndx 1 | AP 0b01 (RW, AP[1] RES1) | AF | XN; not shareable.
    let device = 0x900_0000 | 0b11 | 1 << 2 | 0b01 << 6 | 1 << 10 | 1 << 54;
    assert_eq!(pt.leaf_descriptor(&mem, 0x900_0000), Some((device, 3)));
    pt.map(
        &mut mem,
        0x4000_0000,
        0x4000_0000,
        GIB,
        Attributes::NORMAL_RWX,
    )
    .unwrap();
    // Block | AttrIndx 0 | AP 0b01 | SH inner | AF; executable.
    let normal = 0x4000_0000 | 0b01 | 0b01 << 6 | 0b11 << 8 | 1 << 10;
    assert_eq!(pt.leaf_descriptor(&mem, 0x4000_0000), Some((normal, 1)));
    assert_eq!(
        pt.translate(&mem, 0x7fff_fff8),
        Some((0x7fff_fff8, Attributes::NORMAL_RWX))
    );
    assert_eq!(
        pt.translate(&mem, 0x900_0010),
        Some((0x900_0010, Attributes::DEVICE_RW))
    );
}

#[test]
fn a_40_bit_stage2_spreads_its_level_1_root_over_two_tables() {
    let (mut mem, mut pt) = stage2_on(2);
    assert_eq!((pt.start_level(), pt.root_tables()), (1, 2));
    assert_eq!(pt.root_phys() % (2 * PAGE_BYTES), 0);
    let ipa = 600 * GIB; // root index 600: entry 88 of the second table
    pt.map(&mut mem, ipa, GIB, GIB, Attributes::NORMAL_RW)
        .unwrap();
    let second = pt.root_phys() + PAGE_BYTES;
    assert_eq!(mem.read_entry(second, 88) & OUTPUT_MASK, GIB);
    assert_eq!(out(&pt, &mem, ipa + 5), Some(GIB + 5));
    assert_eq!(
        pt.map(&mut mem, 1 << 40, 0, PAGE_BYTES, Attributes::NORMAL_RW),
        Err(PageTableError::OutOfRange)
    );
    pt.destroy(&mut mem);
    assert!(mem.tables.is_empty() && mem.groups.is_empty());
}

#[test]
fn a_32_bit_stage2_starts_at_level_2_and_so_maps_a_gib_with_2mib_blocks() {
    let (mut mem, mut pt) = stage2_on(0);
    assert_eq!((pt.start_level(), pt.root_tables()), (2, 4));
    pt.map(&mut mem, 3 * GIB, 3 * GIB, GIB, Attributes::NORMAL_RW)
        .unwrap();
    assert_eq!(mem.tables.len(), 4); // the root alone
    assert_eq!(pt.leaf_descriptor(&mem, 3 * GIB).unwrap().1, 2);
    // IPA 3 GiB is root entry 1536: entry 0 of the fourth root table.
    let fourth = pt.root_phys() + 3 * PAGE_BYTES;
    assert_eq!(mem.read_entry(fourth, 0) & OUTPUT_MASK, 3 * GIB);
}

#[test]
fn mapping_over_a_mapping_is_refused_and_changes_nothing() {
    let (mut mem, mut pt) = stage2();
    pt.map(
        &mut mem,
        0x4020_0000,
        0x4020_0000,
        PAGE_BYTES,
        Attributes::NORMAL_RW,
    )
    .unwrap();
    let before = mem.tables.clone();
    let err = pt.map(
        &mut mem,
        0x4000_0000,
        0x8000_0000,
        4 * MIB,
        Attributes::NORMAL_RW,
    );
    assert_eq!(
        err,
        Err(PageTableError::AlreadyMapped {
            input_addr: 0x4020_0000
        })
    );
    assert_eq!(mem.tables, before);
}

#[test]
fn mapping_a_page_inside_a_block_is_refused() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, GIB, GIB, GIB, Attributes::NORMAL_RW)
        .unwrap();
    let err = pt.map(
        &mut mem,
        GIB + 5 * MIB,
        0,
        PAGE_BYTES,
        Attributes::NORMAL_RW,
    );
    assert_eq!(
        err,
        Err(PageTableError::AlreadyMapped {
            input_addr: GIB + 5 * MIB
        })
    );
    assert_eq!(out(&pt, &mem, GIB + 5 * MIB), Some(GIB + 5 * MIB));
}

#[test]
fn out_of_range_and_misaligned_requests_are_errors() {
    let (mut mem, mut pt) = stage2();
    let a = Attributes::NORMAL_RW;
    let top = 1u64 << 44;
    let huge = !0xfffu64;
    let cases = [
        (top, 0, PAGE_BYTES, PageTableError::OutOfRange),
        (
            top - PAGE_BYTES,
            0,
            2 * PAGE_BYTES,
            PageTableError::OutOfRange,
        ),
        (0, 1 << 48, PAGE_BYTES, PageTableError::OutOfRange),
        (huge, 0, 2 * PAGE_BYTES, PageTableError::OutOfRange),
        (0, huge, 2 * PAGE_BYTES, PageTableError::OutOfRange),
        (PAGE_BYTES, 0, huge, PageTableError::OutOfRange),
        (0x10, 0, PAGE_BYTES, PageTableError::Misaligned),
        (0, 0x10, PAGE_BYTES, PageTableError::Misaligned),
        (0, 0, 5, PageTableError::Misaligned),
    ];
    for (input, output, size, err) in cases {
        assert_eq!(
            pt.map(&mut mem, input, output, size, a),
            Err(err),
            "{input:#x}"
        );
    }
    assert_eq!(pt.unmap(&mut mem, 0, 5), Err(PageTableError::Misaligned));
    assert_eq!(
        pt.unmap(&mut mem, top, PAGE_BYTES),
        Err(PageTableError::OutOfRange)
    );
    assert_eq!(pt.translate(&mem, u64::MAX), None);
    assert_eq!(pt.translate(&mem, top), None);
    assert_eq!(mem.tables.len(), 1);
    // The very last page of both spaces is fine.
    pt.map(
        &mut mem,
        top - PAGE_BYTES,
        (1 << 48) - PAGE_BYTES,
        PAGE_BYTES,
        a,
    )
    .unwrap();
    assert_eq!(out(&pt, &mem, top - 1), Some((1 << 48) - 1));
}

#[test]
fn unsupported_input_sizes_and_attributes_are_refused_without_allocating() {
    let mut mem = FakeMemory::default();
    for bits in [0, 24, 49, 52, 64, 255] {
        assert!(matches!(
            PageTable::new(&mut mem, Format::Stage2, bits),
            Err(PageTableError::UnsupportedInputBits(b)) if b == bits
        ));
    }
    assert!(mem.tables.is_empty());
    let mut pt = PageTable::new(&mut mem, Format::El2Stage1, 40).unwrap();
    let write_only = Attributes::new(MemoryKind::Normal, Access::new(false, true, false));
    let exec_device = Attributes::new(MemoryKind::Device, Access::RWX);
    for attrs in [write_only, exec_device] {
        assert_eq!(
            pt.map(&mut mem, 0, 0, PAGE_BYTES, attrs),
            Err(PageTableError::UnsupportedAttributes)
        );
    }
    assert_eq!(mem.tables.len(), 1);
}

#[test]
fn running_out_of_table_memory_rolls_back_and_frees_the_tables_it_made() {
    // The first page needs level 1, 2 and 3 tables (4 with the root); the second, past the GiB
    // boundary, needs two more. Every limit below 6 fails at a different table.
    for limit in 1..6 {
        let (mut mem, mut pt) = stage2();
        mem.limit = Some(limit);
        let err = pt.map(
            &mut mem,
            GIB - PAGE_BYTES,
            0,
            2 * PAGE_BYTES,
            Attributes::NORMAL_RW,
        );
        assert_eq!(err, Err(PageTableError::OutOfMemory), "limit {limit}");
        assert_eq!(out(&pt, &mem, GIB - PAGE_BYTES), None);
        assert_eq!(mem.tables.len(), 1, "limit {limit}");
        mem.limit = None;
        pt.map(
            &mut mem,
            GIB - PAGE_BYTES,
            0,
            2 * PAGE_BYTES,
            Attributes::NORMAL_RW,
        )
        .unwrap();
        assert_eq!(mem.tables.len(), 6);
    }
}
