//! Walking the tables: mapping with the largest blocks, and translating.
#![forbid(unsafe_code)]

use super::{
    level_bytes, level_shift, Attributes, Leaves, PageTable, PageTableError, Result, TableMemory,
    DESC_TABLE, DESC_VALID, MAX_ADDRESS_BITS, OUTPUT_MASK, PAGE_BYTES, TABLE_ENTRIES,
};

/// Where a walk for one address ended.
pub(super) enum WalkEnd {
    /// At a block or page descriptor.
    Leaf {
        /// The descriptor.
        desc: u64,
        /// Its level.
        level: u8,
    },
    /// At an invalid descriptor: nothing in the `level_bytes(level)` around the address is mapped.
    Hole {
        /// Level of the invalid descriptor.
        level: u8,
    },
}

impl PageTable {
    /// The table and index holding the descriptor for `addr` at `level`, given the table at that
    /// level (the root may span `root_tables` consecutive tables).
    pub(super) fn slot(&self, table_phys: u64, level: u8, addr: u64) -> (u64, usize) {
        let index = (addr >> level_shift(level)) as usize;
        if level == self.start_level {
            // addr < 2^input_bits, so index < root_tables * 512 and the offset stays in the root.
            let table_offset = (index / TABLE_ENTRIES) as u64 * PAGE_BYTES;
            (table_phys + table_offset, index % TABLE_ENTRIES)
        } else {
            (table_phys, index % TABLE_ENTRIES)
        }
    }

    /// Checks that `[input_addr, input_addr + size_bytes)` is 4 KiB aligned and inside the input
    /// range; returns its end.
    pub(super) fn check_input(&self, input_addr: u64, size_bytes: u64) -> Result<u64> {
        if !(input_addr | size_bytes).is_multiple_of(PAGE_BYTES) {
            return Err(PageTableError::Misaligned);
        }
        let end = input_addr
            .checked_add(size_bytes)
            .ok_or(PageTableError::OutOfRange)?;
        if end > 1u64 << self.input_bits {
            return Err(PageTableError::OutOfRange);
        }
        Ok(end)
    }

    /// Maps `[input_addr, input_addr + size_bytes)` to `[output_phys, output_phys + size_bytes)`
    /// with 1 GiB and 2 MiB blocks wherever both addresses are aligned to them and 4 KiB pages
    /// elsewhere (pages only under `Leaves::Pages`). Changes nothing and returns
    /// `AlreadyMapped` if any part is mapped already; on `OutOfMemory`, undoes what it did
    /// before returning.
    pub fn map(
        &mut self,
        mem: &mut impl TableMemory,
        input_addr: u64,
        output_phys: u64,
        size_bytes: u64,
        attrs: Attributes,
    ) -> Result<()> {
        let leaf_attrs = self.format.leaf_attributes(attrs)?;
        let end = self.check_input(input_addr, size_bytes)?;
        check_output(output_phys, size_bytes)?;
        if let Some(mapped) = self.first_mapped(mem, input_addr, end) {
            return Err(PageTableError::AlreadyMapped { input_addr: mapped });
        }
        // Both ends were checked above, so these sums cannot overflow.
        let mut done = 0;
        // The level-3 table the last page went into, and the 2 MiB of input it covers: the
        // next pages there are written without a walk from the root (a GiB of RAM in pages
        // is 262,144 of them).
        let mut last_table: Option<(u64, u64)> = None;
        while done < size_bytes {
            let (input, output) = (input_addr + done, output_phys + done);
            let level = self.leaf_level(input, output, size_bytes - done);
            let region = input >> level_shift(2);
            if let Some((_, table)) = last_table.filter(|&(r, _)| level == 3 && r == region) {
                // The range was found unmapped above: the entry is free.
                let (t, i) = self.slot(table, 3, input);
                mem.write_entry(t, i, output | leaf_attrs | DESC_TABLE | DESC_VALID);
                done += PAGE_BYTES;
                continue;
            }
            match self.set_leaf(mem, input, output | leaf_attrs, level) {
                Ok(table) => last_table = (level == 3).then_some((region, table)),
                Err(e) => {
                    // Out of memory part-way down: also drop the tables this step created.
                    let undo = match e {
                        PageTableError::OutOfMemory => done + level_bytes(level),
                        _ => done,
                    };
                    let _ = self.unmap(mem, input_addr, undo);
                    return Err(e);
                }
            }
            done += level_bytes(level);
        }
        Ok(())
    }

    /// Level 1 or 2 when both addresses are aligned to its block size and enough is left,
    /// otherwise level 3. Blocks at the start level are allowed only from level 1 down (the 4 KiB
    /// granule has no level 0 blocks); none with `Leaves::Pages`.
    fn leaf_level(&self, input: u64, output: u64, remaining_bytes: u64) -> u8 {
        if self.leaves == Leaves::Pages {
            return 3;
        }
        (self.start_level.max(1)..3)
            .find(|&level| {
                let block = level_bytes(level);
                input.is_multiple_of(block)
                    && output.is_multiple_of(block)
                    && remaining_bytes >= block
            })
            .unwrap_or(3)
    }

    /// Writes one block or page descriptor (`leaf` is output address | attributes), creating
    /// tables on the way down; returns the table it went into.
    fn set_leaf(
        &mut self,
        mem: &mut impl TableMemory,
        input: u64,
        leaf: u64,
        level: u8,
    ) -> Result<u64> {
        let mut table = self.root_phys;
        for l in self.start_level..level {
            let (t, i) = self.slot(table, l, input);
            let entry = mem.read_entry(t, i);
            table = if entry & DESC_VALID == 0 {
                let next = mem.alloc_table().ok_or(PageTableError::OutOfMemory)?;
                mem.write_entry(t, i, next | DESC_TABLE | DESC_VALID);
                next
            } else if entry & DESC_TABLE != 0 {
                entry & OUTPUT_MASK
            } else {
                return Err(PageTableError::AlreadyMapped { input_addr: input });
            };
        }
        let (t, i) = self.slot(table, level, input);
        if mem.read_entry(t, i) & DESC_VALID != 0 {
            return Err(PageTableError::AlreadyMapped { input_addr: input });
        }
        let kind = if level == 3 { DESC_TABLE } else { 0 };
        mem.write_entry(t, i, leaf | kind | DESC_VALID);
        Ok(table)
    }

    /// The first mapped address in `[start, end)`, skipping whole holes at a time.
    fn first_mapped(&self, mem: &impl TableMemory, start: u64, end: u64) -> Option<u64> {
        let mut addr = start;
        while addr < end {
            match self.walk(mem, addr) {
                WalkEnd::Leaf { .. } => return Some(addr),
                WalkEnd::Hole { level } => {
                    addr = (addr | (level_bytes(level) - 1)).checked_add(1)?
                }
            }
        }
        None
    }

    /// Walks from the root for `addr`, which must be below `2^input_bits`.
    pub(super) fn walk(&self, mem: &impl TableMemory, addr: u64) -> WalkEnd {
        let mut table = self.root_phys;
        let mut level = self.start_level;
        loop {
            let (t, i) = self.slot(table, level, addr);
            let entry = mem.read_entry(t, i);
            let is_table_or_page = entry & DESC_TABLE != 0;
            if entry & DESC_VALID == 0 || (level == 3 && !is_table_or_page) {
                return WalkEnd::Hole { level };
            }
            if level == 3 || !is_table_or_page {
                return WalkEnd::Leaf { desc: entry, level };
            }
            table = entry & OUTPUT_MASK;
            level += 1;
        }
    }

    /// The block or page descriptor for `input_addr` and its level, if mapped.
    pub fn leaf_descriptor(&self, mem: &impl TableMemory, input_addr: u64) -> Option<(u64, u8)> {
        if input_addr >> self.input_bits != 0 {
            return None;
        }
        match self.walk(mem, input_addr) {
            WalkEnd::Leaf { desc, level } => Some((desc, level)),
            WalkEnd::Hole { .. } => None,
        }
    }

    /// Where `input_addr` translates to, and with what attributes; `None` if unmapped or out
    /// of range.
    pub fn translate(&self, mem: &impl TableMemory, input_addr: u64) -> Option<(u64, Attributes)> {
        let (desc, level) = self.leaf_descriptor(mem, input_addr)?;
        let offset_mask = level_bytes(level) - 1;
        let output = (desc & OUTPUT_MASK & !offset_mask) | (input_addr & offset_mask);
        Some((output, self.format.decode_attributes(desc)))
    }
}

/// Checks that `[output_phys, output_phys + size_bytes)` is aligned and below 2^48.
fn check_output(output_phys: u64, size_bytes: u64) -> Result<()> {
    if !output_phys.is_multiple_of(PAGE_BYTES) {
        return Err(PageTableError::Misaligned);
    }
    let end = output_phys
        .checked_add(size_bytes)
        .ok_or(PageTableError::OutOfRange)?;
    if end > 1u64 << MAX_ADDRESS_BITS {
        return Err(PageTableError::OutOfRange);
    }
    Ok(())
}
