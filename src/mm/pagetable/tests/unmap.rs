//! Unmapping: splitting, break-before-make, freeing.

use super::*;

#[test]
fn unmapping_a_page_inside_a_gib_block_splits_it_down_to_pages() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, GIB, 2 * GIB, GIB, Attributes::NORMAL_RWX)
        .unwrap();
    pt.unmap(&mut mem, GIB + 3 * MIB, PAGE_BYTES).unwrap();
    // Root, level 1, the level 2 table the block became, the level 3 table its 2 MiB became.
    assert_eq!(mem.tables.len(), 4);
    assert_eq!(out(&pt, &mem, GIB + 3 * MIB), None);
    let next_page = GIB + 3 * MIB + PAGE_BYTES;
    assert_eq!(pt.leaf_descriptor(&mem, next_page).unwrap().1, 3);
    assert_eq!(
        pt.translate(&mem, next_page),
        Some((2 * GIB + 3 * MIB + PAGE_BYTES, Attributes::NORMAL_RWX))
    );
    assert_eq!(
        out(&pt, &mem, GIB + 3 * MIB - 8),
        Some(2 * GIB + 3 * MIB - 8)
    );
    assert_eq!(pt.leaf_descriptor(&mem, GIB).unwrap().1, 2);
    assert_eq!(
        pt.translate(&mem, 2 * GIB - 1),
        Some((3 * GIB - 1, Attributes::NORMAL_RWX))
    );
}

#[test]
fn unmapping_a_2mib_piece_of_a_gib_block_leaves_511_blocks() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, GIB, GIB, GIB, Attributes::NORMAL_RW)
        .unwrap();
    pt.unmap(&mut mem, GIB + 2 * MIB, 2 * MIB).unwrap();
    assert_eq!(mem.tables.len(), 3);
    assert_eq!(out(&pt, &mem, GIB + 3 * MIB), None);
    assert_eq!(pt.leaf_descriptor(&mem, GIB + 4 * MIB).unwrap().1, 2);
    assert_eq!(out(&pt, &mem, GIB + 2 * MIB - 1), Some(GIB + 2 * MIB - 1));
}

#[test]
fn unmapping_a_page_inside_a_2mib_block_splits_it_into_511_pages() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, 4 * MIB, 6 * MIB, 2 * MIB, Attributes::NORMAL_RW)
        .unwrap();
    pt.unmap(&mut mem, 5 * MIB, PAGE_BYTES).unwrap();
    assert_eq!(mem.tables.len(), 4);
    let mapped = (0..512)
        .filter(|i| out(&pt, &mem, 4 * MIB + i * PAGE_BYTES).is_some())
        .count();
    assert_eq!(mapped, 511);
    assert_eq!(
        out(&pt, &mem, 5 * MIB + PAGE_BYTES),
        Some(7 * MIB + PAGE_BYTES)
    );
}

#[test]
fn splitting_a_live_block_breaks_before_making() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, 0, 0, 2 * MIB, Attributes::NORMAL_RW)
        .unwrap();
    let level1 = mem.read_entry(pt.root_phys(), 0) & OUTPUT_MASK;
    let level2 = mem.read_entry(level1, 0) & OUTPUT_MASK;
    mem.events.clear();
    pt.unmap(&mut mem, 0, PAGE_BYTES).unwrap();
    let level3 = mem.read_entry(level2, 0) & OUTPUT_MASK;
    let block_slot_events: Vec<Event> = mem
        .events
        .iter()
        .copied()
        .filter(|e| match *e {
            Event::Write { table, index, .. } => table == level2 && index == 0,
            Event::Invalidate { size_bytes, .. } => size_bytes == 2 * MIB,
        })
        .collect();
    let expected = [
        Event::Write {
            table: level2,
            index: 0,
            value: 0,
        },
        Event::Invalidate {
            input_addr: 0,
            size_bytes: 2 * MIB,
        },
        Event::Write {
            table: level2,
            index: 0,
            value: level3 | 0b11,
        },
    ];
    assert_eq!(block_slot_events, expected);
    assert_eq!(
        mem.events.last(),
        Some(&Event::Invalidate {
            input_addr: 0,
            size_bytes: PAGE_BYTES
        })
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
    pt.map(&mut mem, 7 * GIB, 7 * GIB, GIB, Attributes::NORMAL_RW)
        .unwrap();
    assert_eq!(mem.tables.len(), 5); // root, level 1, level 2, two level 3
    pt.unmap(&mut mem, 0x4000_0000, 8 * MIB).unwrap();
    assert_eq!(mem.tables.len(), 2); // the GiB block's level 1 table stays
    pt.unmap(&mut mem, 7 * GIB, GIB).unwrap();
    assert_eq!(mem.tables.len(), 1);
    pt.destroy(&mut mem);
    assert!(mem.tables.is_empty() && mem.groups.is_empty());
}

#[test]
fn freeing_an_emptied_table_comes_after_its_translations_are_invalidated() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, 0, 0, PAGE_BYTES, Attributes::NORMAL_RW)
        .unwrap();
    mem.events.clear();
    pt.unmap(&mut mem, 0, PAGE_BYTES).unwrap();
    let sizes: Vec<u64> = mem
        .events
        .iter()
        .filter_map(|e| match *e {
            Event::Invalidate { size_bytes, .. } => Some(size_bytes),
            Event::Write { .. } => None,
        })
        .collect();
    // The page, then the level 3, 2 and 1 tables' parent entries, innermost first.
    assert_eq!(sizes, [PAGE_BYTES, 2 * MIB, GIB, 512 * GIB]);
    assert_eq!(mem.tables.len(), 1);
}

#[test]
fn unmapping_what_is_not_mapped_is_ok_and_changes_nothing() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, GIB, GIB, PAGE_BYTES, Attributes::NORMAL_RW)
        .unwrap();
    let before = mem.tables.clone();
    pt.unmap(&mut mem, GIB + PAGE_BYTES, 64 * GIB).unwrap();
    assert_eq!(mem.tables, before);
}

#[test]
fn destroy_frees_every_table_of_a_populated_tree() {
    let (mut mem, mut pt) = stage2_on(3);
    for i in 0..4 {
        let ipa = i * 300 * GIB + 0x7000;
        pt.map(&mut mem, ipa, ipa, 3 * MIB, Attributes::NORMAL_RW)
            .unwrap();
    }
    assert!(mem.tables.len() > 8);
    pt.destroy(&mut mem);
    assert!(mem.tables.is_empty() && mem.groups.is_empty());
}

#[test]
fn running_out_of_memory_while_splitting_leaves_the_block_whole() {
    let (mut mem, mut pt) = stage2();
    pt.map(&mut mem, GIB, GIB, GIB, Attributes::NORMAL_RW)
        .unwrap();
    mem.limit = Some(mem.tables.len());
    assert_eq!(
        pt.unmap(&mut mem, GIB + PAGE_BYTES, PAGE_BYTES),
        Err(PageTableError::OutOfMemory)
    );
    assert_eq!(
        pt.leaf_descriptor(&mem, GIB + PAGE_BYTES).map(|d| d.1),
        Some(1)
    );
}
