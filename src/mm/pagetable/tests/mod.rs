//! Builder tests over a fake frame memory, shared by walk.rs and unmap.rs (kept apart to keep
//! those files short).

use super::*;
use std::collections::HashMap;

mod map;
mod unmap;

/// Something the builder did to the memory, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Write {
        table: u64,
        index: usize,
        value: u64,
    },
    Invalidate {
        input_addr: u64,
        size_bytes: u64,
    },
}

/// Tables in a hash map, with fake physical addresses handed out upwards from 0x1000_0000.
#[derive(Default)]
struct FakeMemory {
    tables: HashMap<u64, [u64; TABLE_ENTRIES]>,
    groups: HashMap<u64, usize>,
    bump: u64,
    limit: Option<usize>,
    events: Vec<Event>,
}

impl TableMemory for FakeMemory {
    fn alloc_tables_contiguous(&mut self, count: usize) -> Option<u64> {
        assert!(count.is_power_of_two() && count <= 16, "count {count}");
        if self.limit.is_some_and(|l| self.tables.len() + count > l) {
            return None;
        }
        let bytes = count as u64 * PAGE_BYTES;
        let first = (0x1000_0000 + self.bump).next_multiple_of(bytes);
        self.bump = first + bytes - 0x1000_0000;
        for k in 0..count as u64 {
            self.tables
                .insert(first + k * PAGE_BYTES, [0; TABLE_ENTRIES]);
        }
        self.groups.insert(first, count);
        Some(first)
    }
    fn free_tables_contiguous(&mut self, first_phys: u64, count: usize) {
        assert_eq!(self.groups.remove(&first_phys), Some(count), "bad free");
        for k in 0..count as u64 {
            self.tables.remove(&(first_phys + k * PAGE_BYTES));
        }
    }
    fn read_entry(&self, table_phys: u64, index: usize) -> u64 {
        self.tables[&table_phys][index]
    }
    fn write_entry(&mut self, table: u64, index: usize, value: u64) {
        self.tables.get_mut(&table).expect("live table")[index] = value;
        self.events.push(Event::Write {
            table,
            index,
            value,
        });
    }
    fn invalidate_tlb(&mut self, input_addr: u64, size_bytes: u64) {
        self.events.push(Event::Invalidate {
            input_addr,
            size_bytes,
        });
    }
}

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Stage 2 with a 44-bit IPA: a single level 0 root.
fn stage2() -> (FakeMemory, PageTable) {
    stage2_on(4)
}

fn stage2_on(pa_range: u8) -> (FakeMemory, PageTable) {
    let mut mem = FakeMemory::default();
    let pt = PageTable::new_stage2(&mut mem, &Stage2Layout::from_pa_range(pa_range)).unwrap();
    (mem, pt)
}

fn out(pt: &PageTable, mem: &FakeMemory, addr: u64) -> Option<u64> {
    pt.translate(mem, addr).map(|t| t.0)
}
