//! AArch64 translation tables with a 4 KiB granule, built over an abstract frame memory.
//!
//! One builder serves the guest's stage-2 tables (VTTBR_EL2) and sluice's own EL2 stage-1
//! identity map (TTBR0_EL2); the leaf attribute encoding ([`attrs`]) and the table shape
//! ([`layout`]) differ, the walking does not (`walk.rs`, `unmap.rs`).
//!
//! The seam is [`TableMemory`]: the target backs it with identity-mapped heap pages and issues
//! the barriers and TLB maintenance; host tests back it with a hash map.
#![forbid(unsafe_code)]

use core::fmt;

pub mod attrs;
pub mod layout;
mod leaves;
mod unmap;
mod walk;

pub use attrs::{Access, Attributes, Format, MemoryKind, MAIR_EL2};
pub use layout::{
    el2_input_bits, pa_range_bits, tcr_el2, Geometry, Stage2Layout, MAX_ADDRESS_BITS,
};
pub use leaves::Leaves;

/// Bytes in a translation granule, a page, and a table.
pub const PAGE_BYTES: u64 = 4096;
/// Descriptors in one table.
pub const TABLE_ENTRIES: usize = 512;
/// Bit 0 of every descriptor: valid.
const DESC_VALID: u64 = 1 << 0;
/// Bit 1: a table descriptor at levels 0..=2, a page (rather than reserved) at level 3.
const DESC_TABLE: u64 = 1 << 1;
/// Output address (or next-table address), bits [47:12].
const OUTPUT_MASK: u64 = 0x0000_ffff_ffff_f000;

/// Where table frames come from, how descriptors are read and written, and how stale
/// translations are dropped.
///
/// Writes must be visible to the table walker once `write_entry` returns (the target does a
/// `dsb ishst`). Tables are 4 KiB, zeroed, and addressed by physical address.
pub trait TableMemory {
    /// `count` zeroed tables at consecutive physical addresses, the first aligned to
    /// `count * 4 KiB`; returns the first one's address. `count` is a power of two up to 16
    /// (16 only for a concatenated stage-2 root; every other table is allocated alone).
    fn alloc_tables_contiguous(&mut self, count: usize) -> Option<u64>;
    /// Returns tables from `alloc_tables_contiguous` (same `first_phys` and `count`).
    fn free_tables_contiguous(&mut self, first_phys: u64, count: usize);
    /// Entry `index` (0..512) of a table.
    fn read_entry(&self, table_phys: u64, index: usize) -> u64;
    /// Writes entry `index` (0..512) of a table.
    fn write_entry(&mut self, table_phys: u64, index: usize, value: u64);

    /// One zeroed, 4 KiB-aligned table.
    fn alloc_table(&mut self) -> Option<u64> {
        self.alloc_tables_contiguous(1)
    }
    /// Returns a table from `alloc_table`.
    fn free_table(&mut self, table_phys: u64) {
        self.free_tables_contiguous(table_phys, 1)
    }
    /// Called after a valid descriptor covering `[input_addr, input_addr + size_bytes)` was
    /// made invalid, before the builder writes a replacement (break-before-make when a block is
    /// split) or frees a table it pointed to. Tables in use by the MMU must drop cached
    /// translations and walks for that range here (TLBI ...IS by address, then DSB ISH);
    /// tables not yet live need nothing, which is the default.
    fn invalidate_tlb(&mut self, input_addr: u64, size_bytes: u64) {
        let _ = (input_addr, size_bytes);
    }
}

/// Why a table operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageTableError {
    /// Address or size not a multiple of 4 KiB.
    Misaligned,
    /// Input beyond the table's input size, output beyond 48 bits, or an end past 2^64.
    OutOfRange,
    /// No frame for a new table.
    OutOfMemory,
    /// Part of the range is mapped already.
    AlreadyMapped {
        /// First input address found mapped.
        input_addr: u64,
    },
    /// The format cannot encode these attributes (executable device memory; unreadable memory
    /// at EL2 stage 1).
    UnsupportedAttributes,
    /// An input address size outside 25..=48 bits (or, for stage 2, larger than the PA size).
    UnsupportedInputBits(u8),
}

impl fmt::Display for PageTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Misaligned => write!(f, "address or size is not 4 KiB aligned"),
            Self::OutOfRange => write!(f, "address beyond the translation range"),
            Self::OutOfMemory => write!(f, "out of memory for translation tables"),
            Self::AlreadyMapped { input_addr } => write!(f, "{input_addr:#x} is already mapped"),
            Self::UnsupportedAttributes => {
                write!(f, "attributes not expressible in this table format")
            }
            Self::UnsupportedInputBits(bits) => {
                write!(f, "{bits}-bit input addresses are not supported")
            }
        }
    }
}

/// Result of a table operation.
pub type Result<T> = core::result::Result<T, PageTableError>;

/// Lowest input address bit resolved by a lookup at `level` (0..=3): 39, 30, 21, 12.
const fn level_shift(level: u8) -> u32 {
    12 + 9 * (3 - level as u32)
}

/// Bytes covered by one entry at `level`: 512 GiB, 1 GiB, 2 MiB, 4 KiB.
const fn level_bytes(level: u8) -> u64 {
    1 << level_shift(level)
}

/// One set of translation tables: a root (possibly concatenated) and everything below it.
///
/// Not `Clone`: it owns its tables, which go back to the memory through `destroy`.
#[derive(Debug)]
pub struct PageTable {
    root_phys: u64,
    start_level: u8,
    root_tables: usize,
    input_bits: u8,
    format: Format,
    leaves: Leaves,
}

impl PageTable {
    /// Empty tables for `format` translating `input_bits` (25..=48) of input address, shaped by
    /// [`Format::geometry`] (for stage 2, the same shape as [`Stage2Layout`] gives).
    pub fn new(mem: &mut impl TableMemory, format: Format, input_bits: u8) -> Result<Self> {
        let geometry = format.geometry(input_bits)?;
        let root_phys = mem
            .alloc_tables_contiguous(geometry.root_tables)
            .ok_or(PageTableError::OutOfMemory)?;
        Ok(Self {
            root_phys,
            start_level: geometry.start_level,
            root_tables: geometry.root_tables,
            input_bits,
            format,
            leaves: Leaves::Blocks,
        })
    }

    /// The same tables, mapping from now on with `leaves` (blocks when created).
    pub fn with_leaves(self, leaves: Leaves) -> Self {
        Self { leaves, ..self }
    }

    /// Empty stage-2 tables shaped by `layout` (whose `vtcr_el2` goes with them).
    pub fn new_stage2(mem: &mut impl TableMemory, layout: &Stage2Layout) -> Result<Self> {
        Self::new(mem, Format::Stage2, layout.input_bits)
    }

    /// Physical address of the root table, for TTBR0_EL2.BADDR or VTTBR_EL2.BADDR.
    pub fn root_phys(&self) -> u64 {
        self.root_phys
    }

    /// Level of the root table.
    pub fn start_level(&self) -> u8 {
        self.start_level
    }

    /// Concatenated tables at the root.
    pub fn root_tables(&self) -> usize {
        self.root_tables
    }

    /// Bits of input address translated.
    pub fn input_bits(&self) -> u8 {
        self.input_bits
    }

    /// The regime the descriptors are encoded for.
    pub fn format(&self) -> Format {
        self.format
    }
}

#[cfg(test)]
mod tests;
