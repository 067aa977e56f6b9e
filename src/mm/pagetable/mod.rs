//! AArch64 translation tables with a 4 KiB granule, built over an abstract frame memory.
//!
//! One builder serves the guest's stage-2 tables (VTTBR_EL2) and sluice's own EL2 stage-1
//! identity map (TTBR0_EL2); only the leaf attribute encoding differs (Arm ARM D8.3
//! "Translation table descriptor formats", D8.5 "Memory region attributes").
#![forbid(unsafe_code)]

use core::fmt;

/// Bytes in a translation granule and in a table.
pub const PAGE_BYTES: u64 = 4096;
const ENTRIES: usize = 512;
const DESC_VALID: u64 = 1 << 0;
const DESC_TABLE: u64 = 1 << 1; // at levels 0-2; at level 3 the same bit marks a page
const OUTPUT_MASK: u64 = 0x0000_ffff_ffff_f000;
/// Attribute bits kept when a block is split: lower [11:2] and upper [63:50].
const ATTR_MASK: u64 = 0xfffc_0000_0000_0ffc;
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 0b11 << 8;
const XN: u64 = 1 << 54;

/// Where table frames come from and how they are read and written.
pub trait TableMemory {
    /// A zeroed, 4 KiB-aligned table; its physical address.
    fn alloc_table(&mut self) -> Option<u64>;
    /// Returns a table from `alloc_table`.
    fn free_table(&mut self, table_phys: u64);
    /// Entry `index` (0..512) of a table.
    fn read_entry(&self, table_phys: u64, index: usize) -> u64;
    /// Writes entry `index` of a table.
    fn write_entry(&mut self, table_phys: u64, index: usize, value: u64);
}

/// Cacheability of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// Normal memory, write-back cacheable, inner shareable.
    Normal,
    /// Device-nGnRE.
    Device,
}

/// What a mapping allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes {
    /// Memory type.
    pub kind: MemoryKind,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
}

impl Attributes {
    /// RAM: readable, writable, executable.
    pub const NORMAL_RWX: Self = Self {
        kind: MemoryKind::Normal,
        write: true,
        execute: true,
    };
    /// RAM without execute.
    pub const NORMAL_RW: Self = Self {
        kind: MemoryKind::Normal,
        write: true,
        execute: false,
    };
    /// Device registers.
    pub const DEVICE_RW: Self = Self {
        kind: MemoryKind::Device,
        write: true,
        execute: false,
    };
}

/// Which translation regime the tables are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A guest's stage 2.
    Stage2,
    /// sluice's EL2 stage 1 (non-VHE, one VA range).
    El2Stage1,
}

/// MAIR_EL2: index 0 normal write-back read/write-allocate, index 1 Device-nGnRE.
pub const MAIR_EL2: u64 = 0xff | (0x04 << 8);
const MAIR_INDEX_NORMAL: u64 = 0;
const MAIR_INDEX_DEVICE: u64 = 1;
/// Stage-2 MemAttr[5:2]: normal, outer and inner write-back.
const S2_MEMATTR_NORMAL_WB: u64 = 0b1111 << 2;
/// Stage-2 MemAttr[5:2]: Device-nGnRE.
const S2_MEMATTR_DEVICE_NGNRE: u64 = 0b0001 << 2;
const S2AP_READ: u64 = 1 << 6;
const S2AP_WRITE: u64 = 1 << 7;
const EL2_AP_READ_ONLY: u64 = 1 << 7;

impl Format {
    fn leaf_attributes(self, attrs: Attributes) -> u64 {
        let common = AF | if attrs.execute { 0 } else { XN };
        match self {
            Format::Stage2 => {
                let memattr = match attrs.kind {
                    MemoryKind::Normal => S2_MEMATTR_NORMAL_WB | SH_INNER,
                    MemoryKind::Device => S2_MEMATTR_DEVICE_NGNRE,
                };
                common | memattr | S2AP_READ | if attrs.write { S2AP_WRITE } else { 0 }
            }
            Format::El2Stage1 => {
                let index = match attrs.kind {
                    MemoryKind::Normal => MAIR_INDEX_NORMAL << 2 | SH_INNER,
                    MemoryKind::Device => MAIR_INDEX_DEVICE << 2,
                };
                common | index | if attrs.write { 0 } else { EL2_AP_READ_ONLY }
            }
        }
    }

    fn decode_attributes(self, desc: u64) -> Attributes {
        let execute = desc & XN == 0;
        match self {
            Format::Stage2 => Attributes {
                kind: if desc & (0xf << 2) == S2_MEMATTR_NORMAL_WB {
                    MemoryKind::Normal
                } else {
                    MemoryKind::Device
                },
                write: desc & S2AP_WRITE != 0,
                execute,
            },
            Format::El2Stage1 => Attributes {
                kind: if (desc >> 2) & 7 == MAIR_INDEX_NORMAL {
                    MemoryKind::Normal
                } else {
                    MemoryKind::Device
                },
                write: desc & EL2_AP_READ_ONLY == 0,
                execute,
            },
        }
    }
}

/// Why a table operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageTableError {
    /// Address or size not a multiple of 4 KiB.
    Misaligned,
    /// Input beyond the table's input size or output beyond 48 bits.
    OutOfRange,
    /// No frame for a new table.
    OutOfMemory,
    /// Part of the range is mapped already.
    AlreadyMapped {
        /// First input address found mapped.
        input_addr: u64,
    },
}

impl fmt::Display for PageTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Misaligned => write!(f, "address or size is not 4 KiB aligned"),
            Self::OutOfRange => write!(f, "address beyond the translation range"),
            Self::OutOfMemory => write!(f, "out of memory for translation tables"),
            Self::AlreadyMapped { input_addr } => write!(f, "{input_addr:#x} is already mapped"),
        }
    }
}

/// Result of a table operation.
pub type Result<T> = core::result::Result<T, PageTableError>;

/// Bits of physical address for each ID_AA64MMFR0_EL1.PARange value.
pub fn pa_range_bits(pa_range: u8) -> u8 {
    match pa_range {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        5 => 48,
        _ => 52,
    }
}

/// Translation table shape for a guest's stage 2 on a CPU with a given PARange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage2Layout {
    /// IPA size in bits (at most 48).
    pub input_bits: u8,
    /// Level of the root table.
    pub start_level: u8,
    /// VTCR_EL2.PS.
    pub ps: u8,
}

impl Stage2Layout {
    /// The largest IPA space the CPU supports, capped at 48 bits (no 52-bit descriptors).
    /// Start level 0 is used from 40 bits up and level 1 below (Arm ARM D8.2.6, VTCR_EL2.SL0
    /// rules for the 4 KiB granule), so the root is always a single table.
    pub fn from_pa_range(pa_range: u8) -> Self {
        let ps = pa_range.min(5);
        let input_bits = pa_range_bits(ps);
        let start_level = if input_bits >= 40 { 0 } else { 1 };
        Self {
            input_bits,
            start_level,
            ps,
        }
    }

    /// VTCR_EL2: T0SZ, SL0, write-back inner/outer, inner shareable, 4 KiB granule, PS, RES1.
    pub fn vtcr_el2(&self) -> u64 {
        let t0sz = 64 - self.input_bits as u64;
        let sl0 = 2 - self.start_level as u64;
        t0sz | sl0 << 6 | 0b01 << 8 | 0b01 << 10 | 0b11 << 12 | (self.ps as u64) << 16 | 1 << 31
    }
}

/// TCR_EL2 for an identity map covering `pa_range`: write-back, inner shareable, 4 KiB, RES1.
pub fn tcr_el2(pa_range: u8) -> u64 {
    let ps = pa_range.min(5);
    let t0sz = 64 - pa_range_bits(ps) as u64;
    t0sz | 0b01 << 8 | 0b01 << 10 | 0b11 << 12 | (ps as u64) << 16 | 1 << 23 | 1 << 31
}

/// Bytes covered by one entry at `level`.
const fn level_bytes(level: u8) -> u64 {
    PAGE_BYTES << (9 * (3 - level as u32))
}

fn index_at(addr: u64, level: u8) -> usize {
    ((addr >> (12 + 9 * (3 - level as u32))) as usize) % ENTRIES
}

/// One set of translation tables.
#[derive(Debug)]
pub struct PageTable {
    root_phys: u64,
    start_level: u8,
    input_bits: u8,
    format: Format,
}

mod walk;

#[cfg(test)]
mod tests;
