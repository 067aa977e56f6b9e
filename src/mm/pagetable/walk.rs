//! Building, splitting and walking the tables.
#![forbid(unsafe_code)]

use super::*;

impl PageTable {
    /// Empty tables for `format` translating `input_bits` of input address.
    pub fn new(mem: &mut impl TableMemory, format: Format, input_bits: u8) -> Result<Self> {
        let start_level = match input_bits {
            40..=48 => 0,
            31..=39 => 1,
            _ => return Err(PageTableError::OutOfRange),
        };
        let root_phys = mem.alloc_table().ok_or(PageTableError::OutOfMemory)?;
        Ok(Self {
            root_phys,
            start_level,
            input_bits,
            format,
        })
    }

    /// Empty stage-2 tables shaped by `layout`.
    pub fn new_stage2(mem: &mut impl TableMemory, layout: &Stage2Layout) -> Result<Self> {
        let mut table = Self::new(mem, Format::Stage2, layout.input_bits)?;
        table.start_level = layout.start_level;
        Ok(table)
    }

    /// Physical address of the root table (for TTBR0_EL2 / VTTBR_EL2).
    pub fn root_phys(&self) -> u64 {
        self.root_phys
    }

    fn check(&self, input: u64, output: u64, size_bytes: u64) -> Result<()> {
        if !(input | output | size_bytes).is_multiple_of(PAGE_BYTES) {
            return Err(PageTableError::Misaligned);
        }
        let input_end = input
            .checked_add(size_bytes)
            .ok_or(PageTableError::OutOfRange)?;
        let output_end = output
            .checked_add(size_bytes)
            .ok_or(PageTableError::OutOfRange)?;
        if input_end > 1u64 << self.input_bits || output_end > 1u64 << 48 {
            return Err(PageTableError::OutOfRange);
        }
        Ok(())
    }

    /// Maps `[input, input + size)` to `[output, output + size)` with the largest blocks the
    /// alignment allows. Fails without changing anything if any part is already mapped.
    pub fn map(
        &mut self,
        mem: &mut impl TableMemory,
        input: u64,
        output: u64,
        size_bytes: u64,
        attrs: Attributes,
    ) -> Result<()> {
        self.check(input, output, size_bytes)?;
        if let Some(mapped) = self.first_mapped(mem, input, size_bytes) {
            return Err(PageTableError::AlreadyMapped { input_addr: mapped });
        }
        let leaf_attrs = self.format.leaf_attributes(attrs);
        let mut done = 0;
        while done < size_bytes {
            let (va, pa) = (input + done, output + done);
            let level = self.leaf_level(va, pa, size_bytes - done);
            if let Err(e) = self.set_leaf(mem, va, pa, level, leaf_attrs) {
                let _ = self.unmap(mem, input, done);
                return Err(e);
            }
            done += level_bytes(level);
        }
        Ok(())
    }

    /// Level 1 or 2 blocks when aligned and big enough, otherwise level 3 pages.
    fn leaf_level(&self, va: u64, pa: u64, remaining: u64) -> u8 {
        (self.start_level.max(1)..3)
            .find(|&l| {
                let b = level_bytes(l);
                va.is_multiple_of(b) && pa.is_multiple_of(b) && remaining >= b
            })
            .unwrap_or(3)
    }

    fn set_leaf(
        &mut self,
        mem: &mut impl TableMemory,
        va: u64,
        pa: u64,
        level: u8,
        attrs: u64,
    ) -> Result<()> {
        let mut table = self.root_phys;
        for l in self.start_level..level {
            let index = index_at(va, l);
            let entry = mem.read_entry(table, index);
            table = if entry & DESC_VALID == 0 {
                let next = mem.alloc_table().ok_or(PageTableError::OutOfMemory)?;
                mem.write_entry(table, index, next | DESC_TABLE | DESC_VALID);
                next
            } else {
                entry & OUTPUT_MASK
            };
        }
        let kind = if level == 3 { DESC_TABLE } else { 0 };
        mem.write_entry(table, index_at(va, level), pa | attrs | kind | DESC_VALID);
        Ok(())
    }

    /// The first mapped address in `[input, input + size)`, if any.
    fn first_mapped(&self, mem: &impl TableMemory, input: u64, size_bytes: u64) -> Option<u64> {
        let mut addr = input;
        let end = input + size_bytes;
        while addr < end {
            match self.lookup(mem, addr) {
                Some(_) => return Some(addr),
                None => addr = (addr | (self.hole_bytes(mem, addr) - 1)) + 1,
            }
        }
        None
    }

    /// Size of the unmapped hole that contains `addr` at the level where the walk stopped.
    fn hole_bytes(&self, mem: &impl TableMemory, addr: u64) -> u64 {
        let mut table = self.root_phys;
        for level in self.start_level..=3 {
            let entry = mem.read_entry(table, index_at(addr, level));
            if entry & DESC_VALID == 0 || level == 3 {
                return level_bytes(level);
            }
            table = entry & OUTPUT_MASK;
        }
        PAGE_BYTES
    }

    /// The leaf descriptor and its level for `addr`.
    pub(super) fn lookup(&self, mem: &impl TableMemory, addr: u64) -> Option<(u64, u8)> {
        if addr >> self.input_bits != 0 {
            return None;
        }
        let mut table = self.root_phys;
        for level in self.start_level..=3 {
            let entry = mem.read_entry(table, index_at(addr, level));
            if entry & DESC_VALID == 0 {
                return None;
            }
            if level == 3 || entry & DESC_TABLE == 0 {
                return Some((entry, level));
            }
            table = entry & OUTPUT_MASK;
        }
        None
    }

    /// Where `input` translates to, and with what attributes.
    pub fn translate(&self, mem: &impl TableMemory, input: u64) -> Option<(u64, Attributes)> {
        let (entry, level) = self.lookup(mem, input)?;
        let offset = input & (level_bytes(level) - 1);
        Some((
            (entry & OUTPUT_MASK & !(level_bytes(level) - 1)) + offset,
            self.format.decode_attributes(entry),
        ))
    }

    /// Removes every mapping in `[input, input + size)`, splitting blocks that straddle its
    /// ends and freeing tables that become empty. Unmapped parts are skipped.
    pub fn unmap(&mut self, mem: &mut impl TableMemory, input: u64, size_bytes: u64) -> Result<()> {
        self.check(input, 0, size_bytes)?;
        let end = input + size_bytes;
        self.unmap_in(mem, self.root_phys, self.start_level, input, end)?;
        Ok(())
    }

    /// Unmaps `[start, end)` inside `table` (which covers the addresses around them at `level`);
    /// returns whether the table is now empty.
    fn unmap_in(
        &mut self,
        mem: &mut impl TableMemory,
        table: u64,
        level: u8,
        start: u64,
        end: u64,
    ) -> Result<bool> {
        let size = level_bytes(level);
        let mut addr = start;
        while addr < end {
            let entry_base = addr & !(size - 1);
            let entry_end = entry_base.saturating_add(size).min(end);
            let index = index_at(addr, level);
            let entry = mem.read_entry(table, index);
            if entry & DESC_VALID != 0 {
                let covers_all = addr == entry_base && entry_end == entry_base + size;
                let is_table = level < 3 && entry & DESC_TABLE != 0;
                if covers_all && !is_table {
                    mem.write_entry(table, index, 0);
                } else {
                    let next = if is_table {
                        entry & OUTPUT_MASK
                    } else {
                        self.split(mem, entry, level)?
                    };
                    if !is_table {
                        mem.write_entry(table, index, next | DESC_TABLE | DESC_VALID);
                    }
                    if self.unmap_in(mem, next, level + 1, addr, entry_end)? {
                        mem.write_entry(table, index, 0);
                        mem.free_table(next);
                    }
                }
            }
            addr = entry_end;
        }
        Ok((0..ENTRIES).all(|i| mem.read_entry(table, i) & DESC_VALID == 0))
    }

    /// A new table at `level + 1` that maps exactly what the block `entry` mapped.
    fn split(&mut self, mem: &mut impl TableMemory, entry: u64, level: u8) -> Result<u64> {
        let next = mem.alloc_table().ok_or(PageTableError::OutOfMemory)?;
        let child_bytes = level_bytes(level + 1);
        let kind = if level + 1 == 3 { DESC_TABLE } else { 0 };
        let base = entry & OUTPUT_MASK & !(level_bytes(level) - 1);
        for i in 0..ENTRIES {
            let pa = base + i as u64 * child_bytes;
            mem.write_entry(next, i, pa | (entry & ATTR_MASK) | kind | DESC_VALID);
        }
        Ok(next)
    }

    /// Frees every table.
    pub fn destroy(self, mem: &mut impl TableMemory) {
        free_tree(mem, self.root_phys, self.start_level);
    }
}

fn free_tree(mem: &mut impl TableMemory, table: u64, level: u8) {
    if level < 3 {
        for i in 0..ENTRIES {
            let entry = mem.read_entry(table, i);
            if entry & DESC_VALID != 0 && entry & DESC_TABLE != 0 {
                free_tree(mem, entry & OUTPUT_MASK, level + 1);
            }
        }
    }
    mem.free_table(table);
}
