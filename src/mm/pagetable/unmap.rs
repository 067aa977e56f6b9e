//! Removing mappings: splitting blocks that straddle the range, freeing tables that empty, and
//! freeing everything.
#![forbid(unsafe_code)]

use super::attrs::ATTR_MASK;
use super::{
    level_bytes, PageTable, PageTableError, Result, TableMemory, DESC_TABLE, DESC_VALID,
    OUTPUT_MASK, PAGE_BYTES, TABLE_ENTRIES,
};

/// A descriptor slot: table address and index.
#[derive(Clone, Copy)]
struct Slot {
    table_phys: u64,
    index: usize,
}

impl PageTable {
    /// Removes every mapping in `[input_addr, input_addr + size_bytes)`, splitting blocks that
    /// straddle its ends and freeing tables that become empty (never the root).
    ///
    /// Parts that are not mapped are skipped: unmapping what is not mapped is `Ok`. Each removed
    /// or replaced descriptor is reported through [`TableMemory::invalidate_tlb`] before anything
    /// it pointed to is freed. A split needs a new table: on `OutOfMemory`, the part of the range
    /// before the block that could not be split is unmapped, the rest is untouched.
    pub fn unmap(
        &mut self,
        mem: &mut impl TableMemory,
        input_addr: u64,
        size_bytes: u64,
    ) -> Result<()> {
        let end = self.check_input(input_addr, size_bytes)?;
        self.unmap_in(mem, self.root_phys, self.start_level, input_addr, end)?;
        Ok(())
    }

    /// Unmaps `[start, end)` (inside what `table_phys` covers at `level`); returns whether the
    /// table is now empty and may be freed (never true for the root).
    fn unmap_in(
        &mut self,
        mem: &mut impl TableMemory,
        table_phys: u64,
        level: u8,
        start: u64,
        end: u64,
    ) -> Result<bool> {
        let entry_bytes = level_bytes(level);
        let mut addr = start;
        while addr < end {
            let entry_base = addr & !(entry_bytes - 1);
            let entry_end = entry_base
                .checked_add(entry_bytes)
                .map_or(end, |e| e.min(end));
            self.unmap_entry(mem, table_phys, level, addr, entry_end)?;
            addr = entry_end;
        }
        Ok(level != self.start_level && table_is_empty(mem, table_phys))
    }

    /// Unmaps `[start, end)`, which lies inside the one entry of `table_phys` that covers `start`.
    fn unmap_entry(
        &mut self,
        mem: &mut impl TableMemory,
        table_phys: u64,
        level: u8,
        start: u64,
        end: u64,
    ) -> Result<()> {
        let (table_phys, index) = self.slot(table_phys, level, start);
        let slot = Slot { table_phys, index };
        let entry = mem.read_entry(table_phys, index);
        if entry & DESC_VALID == 0 {
            return Ok(());
        }
        let entry_bytes = level_bytes(level);
        let base = start & !(entry_bytes - 1);
        let is_table = level < 3 && entry & DESC_TABLE != 0;
        if !is_table && start == base && end - base == entry_bytes {
            clear(mem, slot, base, entry_bytes);
            return Ok(());
        }
        let next = if is_table {
            entry & OUTPUT_MASK
        } else {
            split(mem, slot, entry, level, base)?
        };
        if self.unmap_in(mem, next, level + 1, start, end)? {
            clear(mem, slot, base, entry_bytes);
            mem.free_table(next);
        }
        Ok(())
    }

    /// Frees every table, the root included. The caller makes sure no CPU walks them any more
    /// (e.g. the VMID's TLB entries are invalidated) before the memory is reused.
    pub fn destroy(self, mem: &mut impl TableMemory) {
        for k in 0..self.root_tables {
            free_children(
                mem,
                self.root_phys + k as u64 * PAGE_BYTES,
                self.start_level,
            );
        }
        mem.free_tables_contiguous(self.root_phys, self.root_tables);
    }
}

/// Invalidates a descriptor covering `[base, base + size_bytes)` and has its translations
/// dropped.
fn clear(mem: &mut impl TableMemory, slot: Slot, base: u64, size_bytes: u64) {
    mem.write_entry(slot.table_phys, slot.index, 0);
    mem.invalidate_tlb(base, size_bytes);
}

/// Replaces the block `entry` at `slot` (at `level`, covering from `base`) with a table one level
/// down that maps the same output with the same attributes, break-before-make (Arm ARM D8.17
/// "Translation table maintenance"): invalid, TLB invalidated, then the table. Returns the table.
fn split(mem: &mut impl TableMemory, slot: Slot, entry: u64, level: u8, base: u64) -> Result<u64> {
    let next = mem.alloc_table().ok_or(PageTableError::OutOfMemory)?;
    let child_bytes = level_bytes(level + 1);
    let child_kind = if level + 1 == 3 { DESC_TABLE } else { 0 };
    let block_output = entry & OUTPUT_MASK & !(level_bytes(level) - 1);
    for index in 0..TABLE_ENTRIES {
        // Stays inside the block, which is below 2^48.
        let output = block_output + index as u64 * child_bytes;
        mem.write_entry(
            next,
            index,
            output | (entry & ATTR_MASK) | child_kind | DESC_VALID,
        );
    }
    clear(mem, slot, base, level_bytes(level));
    mem.write_entry(slot.table_phys, slot.index, next | DESC_TABLE | DESC_VALID);
    Ok(next)
}

fn table_is_empty(mem: &impl TableMemory, table_phys: u64) -> bool {
    (0..TABLE_ENTRIES).all(|i| mem.read_entry(table_phys, i) & DESC_VALID == 0)
}

/// Frees every table below `table_phys` (at `level`), not the table itself.
fn free_children(mem: &mut impl TableMemory, table_phys: u64, level: u8) {
    if level >= 3 {
        return;
    }
    for i in 0..TABLE_ENTRIES {
        let entry = mem.read_entry(table_phys, i);
        if entry & DESC_VALID != 0 && entry & DESC_TABLE != 0 {
            let child = entry & OUTPUT_MASK;
            free_children(mem, child, level + 1);
            mem.free_table(child);
        }
    }
}
