use super::*;
use std::collections::HashMap;

/// Tables in a hash map, with fake physical addresses handed out from 0x1000_0000.
#[derive(Default)]
struct FakeMemory {
    tables: HashMap<u64, [u64; ENTRIES]>,
    next: u64,
    limit: Option<usize>,
}

impl TableMemory for FakeMemory {
    fn alloc_table(&mut self) -> Option<u64> {
        if self.limit.is_some_and(|l| self.tables.len() >= l) {
            return None;
        }
        let pa = 0x1000_0000 + self.next * PAGE_BYTES;
        self.next += 1;
        self.tables.insert(pa, [0; ENTRIES]);
        Some(pa)
    }
    fn free_table(&mut self, table_phys: u64) {
        assert!(
            self.tables.remove(&table_phys).is_some(),
            "double free of {table_phys:#x}"
        );
    }
    fn read_entry(&self, table_phys: u64, index: usize) -> u64 {
        self.tables[&table_phys][index]
    }
    fn write_entry(&mut self, table_phys: u64, index: usize, value: u64) {
        self.tables.get_mut(&table_phys).unwrap()[index] = value;
    }
}

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn stage2() -> (FakeMemory, PageTable) {
    let mut mem = FakeMemory::default();
    let pt = PageTable::new_stage2(&mut mem, &Stage2Layout::from_pa_range(2)).unwrap();
    (mem, pt)
}

#[test]
fn an_aligned_gib_uses_one_level1_block() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, GIB, GIB, GIB, Attributes::NORMAL_RWX)
        .unwrap();
    assert_eq!(mem.tables.len(), 2); // root (level 0) + one level 1 table
    assert_eq!(
        pt.translate(&mem, GIB + 0x1234),
        Some((GIB + 0x1234, Attributes::NORMAL_RWX))
    );
}

#[test]
fn unaligned_ends_use_pages_and_the_middle_uses_blocks() {
    let (mut mem, mut pt) = stage2();
    let start = 0x4000_0000 - 0x3000;
    pt.map(
        &mut mem,
        start,
        start,
        4 * MIB + 0x3000 + 0x1000,
        Attributes::NORMAL_RW,
    )
    .unwrap();
    // Root, one level 1 table, two level 2 tables (the range crosses a GiB), two level 3.
    assert_eq!(mem.tables.len(), 6);
    for addr in [start, 0x4000_0000, 0x4020_0000, 0x4040_0000] {
        assert_eq!(
            pt.translate(&mem, addr).map(|t| t.0),
            Some(addr),
            "{addr:#x}"
        );
    }
    assert_eq!(pt.translate(&mem, 0x4040_1000), None);
}

#[test]
fn stage2_descriptor_bits_follow_the_arm_arm() {
    let (mut mem, mut pt) = stage2();
    pt.map(
        &mut mem,
        0x9000_0000,
        0x9000_0000,
        PAGE_BYTES,
        Attributes::DEVICE_RW,
    )
    .unwrap();
    let (entry, level) = pt.lookup(&mem, 0x9000_0000).unwrap();
    assert_eq!(level, 3);
    // page | MemAttr Device-nGnRE | S2AP RW | AF | XN
    assert_eq!(
        entry,
        0x9000_0000 | 0b11 | 0b0001 << 2 | 0b11 << 6 | 1 << 10 | 1 << 54
    );
    pt.map(
        &mut mem,
        0x4000_0000,
        0x4000_0000,
        2 * MIB,
        Attributes::NORMAL_RWX,
    )
    .unwrap();
    let (entry, level) = pt.lookup(&mem, 0x4000_0000).unwrap();
    assert_eq!(level, 2);
    assert_eq!(
        entry,
        0x4000_0000 | 0b01 | 0b1111 << 2 | 0b11 << 6 | 0b11 << 8 | 1 << 10
    );
}

#[test]
fn el2_stage1_descriptor_bits_use_mair_indices() {
    let mut mem = FakeMemory::default();
    let mut pt = PageTable::new(&mut mem, Format::El2Stage1, 48).unwrap();
    pt.map(
        &mut mem,
        0x800_0000,
        0x800_0000,
        PAGE_BYTES,
        Attributes::DEVICE_RW,
    )
    .unwrap();
    assert_eq!(
        pt.lookup(&mem, 0x800_0000).unwrap().0,
        0x800_0000 | 0b11 | 1 << 2 | 1 << 10 | 1 << 54
    );
    pt.map(
        &mut mem,
        0x4000_0000,
        0x4000_0000,
        GIB,
        Attributes::NORMAL_RWX,
    )
    .unwrap();
    assert_eq!(
        pt.lookup(&mem, 0x4000_0000).unwrap(),
        (0x4000_0000 | 0b01 | 0b11 << 8 | 1 << 10, 1)
    );
    assert_eq!(
        pt.translate(&mem, 0x4000_0000).unwrap().1,
        Attributes::NORMAL_RWX
    );
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
fn unmapping_a_page_inside_a_gib_block_splits_it_down_to_pages() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, GIB, 2 * GIB, GIB, Attributes::NORMAL_RWX)
        .unwrap();
    pt.unmap(&mut mem, GIB + 3 * MIB, PAGE_BYTES).unwrap();
    assert_eq!(pt.translate(&mem, GIB + 3 * MIB), None);
    assert_eq!(
        pt.translate(&mem, GIB + 3 * MIB + PAGE_BYTES).unwrap().0,
        2 * GIB + 3 * MIB + PAGE_BYTES
    );
    assert_eq!(
        pt.translate(&mem, GIB + 3 * MIB - 8).unwrap().0,
        2 * GIB + 3 * MIB - 8
    );
    assert_eq!(
        pt.translate(&mem, 2 * GIB - 1).unwrap(),
        (3 * GIB - 1, Attributes::NORMAL_RWX)
    );
}

#[test]
fn unmapping_everything_frees_every_table_but_the_root() {
    let (mut mem, mut pt) = stage2();
    pt.map(
        &mut mem,
        0x4000_1000,
        0x4000_1000,
        5 * MIB,
        Attributes::NORMAL_RW,
    )
    .unwrap();
    pt.unmap(&mut mem, 0x4000_0000, 8 * MIB).unwrap();
    assert_eq!(mem.tables.len(), 1);
    pt.destroy(&mut mem);
    assert!(mem.tables.is_empty());
}

#[test]
fn out_of_range_and_misaligned_requests_are_errors() {
    let (mut mem, mut pt) = stage2();
    let a = Attributes::NORMAL_RW;
    assert_eq!(
        pt.map(&mut mem, 1 << 40, 0, PAGE_BYTES, a),
        Err(PageTableError::OutOfRange)
    );
    assert_eq!(
        pt.map(&mut mem, 0, 1 << 48, PAGE_BYTES, a),
        Err(PageTableError::OutOfRange)
    );
    assert_eq!(
        pt.map(&mut mem, !0xfff, 0, PAGE_BYTES * 2, a),
        Err(PageTableError::OutOfRange)
    );
    assert_eq!(
        pt.map(&mut mem, 0x10, 0, PAGE_BYTES, a),
        Err(PageTableError::Misaligned)
    );
    assert_eq!(pt.unmap(&mut mem, 0, 5), Err(PageTableError::Misaligned));
}

#[test]
fn running_out_of_table_memory_rolls_back_the_partial_mapping() {
    let (mut mem, mut pt) = stage2();
    mem.limit = Some(3);
    let err = pt.map(
        &mut mem,
        0x4000_0000 - PAGE_BYTES,
        0,
        2 * PAGE_BYTES,
        Attributes::NORMAL_RW,
    );
    assert_eq!(err, Err(PageTableError::OutOfMemory));
    assert_eq!(pt.translate(&mem, 0x4000_0000 - PAGE_BYTES), None);
}

#[test]
fn stage2_layout_follows_parange() {
    let l = Stage2Layout::from_pa_range(2);
    assert_eq!((l.input_bits, l.start_level), (40, 0));
    assert_eq!(
        l.vtcr_el2(),
        24 | 2 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 16 | 1 << 31
    );
    let l = Stage2Layout::from_pa_range(1);
    assert_eq!((l.input_bits, l.start_level), (36, 1));
    assert_eq!(l.vtcr_el2() & 0xff, 28 | 1 << 6);
    let l = Stage2Layout::from_pa_range(6);
    assert_eq!((l.input_bits, l.ps), (48, 5));
}

#[test]
fn tcr_el2_sets_res1_bits_and_the_pa_size() {
    assert_eq!(
        tcr_el2(5),
        16 | 1 << 8 | 1 << 10 | 3 << 12 | 5 << 16 | 1 << 23 | 1 << 31
    );
}
