//! Leaf attributes: what callers ask for, and how each regime encodes it in a block or page
//! descriptor (Arm ARM D8.3 "Translation table descriptor formats", D8.4 "Memory access control",
//! D8.6 "Memory region attributes").
#![forbid(unsafe_code)]

use super::{PageTableError, Result};

/// Cacheability of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// Normal memory, inner and outer write-back cacheable, inner shareable.
    Normal,
    /// Device-nGnRE (never executable).
    Device,
}

/// What accesses a mapping allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Data reads.
    pub read: bool,
    /// Data writes.
    pub write: bool,
    /// Instruction fetches.
    pub execute: bool,
}

impl Access {
    /// Read, write and execute.
    pub const RWX: Self = Self::new(true, true, true);
    /// Read and write.
    pub const RW: Self = Self::new(true, true, false);
    /// Read and execute.
    pub const RX: Self = Self::new(true, false, true);
    /// Read only.
    pub const R: Self = Self::new(true, false, false);

    /// Access from its three permissions.
    pub const fn new(read: bool, write: bool, execute: bool) -> Self {
        Self {
            read,
            write,
            execute,
        }
    }
}

/// Memory type and permissions of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes {
    /// Memory type.
    pub kind: MemoryKind,
    /// Permissions.
    pub access: Access,
}

impl Attributes {
    /// RAM: readable, writable, executable.
    pub const NORMAL_RWX: Self = Self::new(MemoryKind::Normal, Access::RWX);
    /// RAM without execute.
    pub const NORMAL_RW: Self = Self::new(MemoryKind::Normal, Access::RW);
    /// Code: read and execute.
    pub const NORMAL_RX: Self = Self::new(MemoryKind::Normal, Access::RX);
    /// Read-only data.
    pub const NORMAL_R: Self = Self::new(MemoryKind::Normal, Access::R);
    /// Device registers.
    pub const DEVICE_RW: Self = Self::new(MemoryKind::Device, Access::RW);

    /// Attributes from a kind and an access.
    pub const fn new(kind: MemoryKind, access: Access) -> Self {
        Self { kind, access }
    }
}

/// Which translation regime the tables are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A guest's stage 2 (VTTBR_EL2).
    Stage2,
    /// sluice's own EL2 stage 1 (TTBR0_EL2, HCR_EL2.E2H = 0, one VA range).
    El2Stage1,
}

/// MAIR_EL2 attribute index of normal write-back memory.
pub const MAIR_INDEX_NORMAL: u8 = 0;
/// MAIR_EL2 attribute index of Device-nGnRE.
pub const MAIR_INDEX_DEVICE: u8 = 1;
/// MAIR_EL2: Attr0 = 0xff (normal, inner/outer write-back non-transient, read/write-allocate),
/// Attr1 = 0x04 (Device-nGnRE); the other six unused (Device-nGnRnE). Arm ARM D19 MAIR_EL2.
pub const MAIR_EL2: u64 = 0xff << (8 * MAIR_INDEX_NORMAL) | 0x04 << (8 * MAIR_INDEX_DEVICE);

/// Lower attributes, bits [11:2], plus the upper attributes, bits [63:50]: what a block passes
/// on to the pages or smaller blocks it is split into.
pub(super) const ATTR_MASK: u64 = 0xfffc_0000_0000_0ffc;
/// Access flag, bit 10; set so that the first access does not fault.
const AF: u64 = 1 << 10;
/// SH[1:0] = 0b11, inner shareable (bits [9:8]).
const SH_INNER: u64 = 0b11 << 8;
/// XN, bit 54 (stage 2: XN[1] with XN[0] = 0, "not executable at EL1 or EL0" without FEAT_XNX).
const XN: u64 = 1 << 54;
/// Stage 2 MemAttr[3:0], bits [5:2].
const S2_MEMATTR_MASK: u64 = 0b1111 << 2;
/// Stage 2 MemAttr 0b1111: normal, outer write-back, inner write-back (HCR_EL2.FWB = 0).
const S2_MEMATTR_NORMAL_WB: u64 = 0b1111 << 2;
/// Stage 2 MemAttr 0b0001: Device-nGnRE.
const S2_MEMATTR_DEVICE_NGNRE: u64 = 0b0001 << 2;
/// S2AP[0], bit 6: reads allowed.
const S2AP_READ: u64 = 1 << 6;
/// S2AP[1], bit 7: writes allowed.
const S2AP_WRITE: u64 = 1 << 7;
/// Stage 1 AttrIndx[2:0], bits [4:2].
const ATTR_INDEX_SHIFT: u32 = 2;
/// AP[1], bit 6: RES1 in a regime with one Exception level (as Linux's nVHE hyp tables do).
const AP1_RES1: u64 = 1 << 6;
/// AP[2], bit 7: read-only.
const AP2_READ_ONLY: u64 = 1 << 7;

impl Format {
    /// Block/page descriptor bits other than the output address and the descriptor type.
    ///
    /// Device memory is never executable (speculative fetches from device regions are not
    /// something to allow), and EL2 stage 1 has no way to say "not readable".
    pub(super) fn leaf_attributes(self, attrs: Attributes) -> Result<u64> {
        let Access {
            read,
            write,
            execute,
        } = attrs.access;
        if attrs.kind == MemoryKind::Device && execute {
            return Err(PageTableError::UnsupportedAttributes);
        }
        let common = AF | if execute { 0 } else { XN };
        let memory = match (self, attrs.kind) {
            (Format::Stage2, MemoryKind::Normal) => S2_MEMATTR_NORMAL_WB | SH_INNER,
            (Format::Stage2, MemoryKind::Device) => S2_MEMATTR_DEVICE_NGNRE,
            (Format::El2Stage1, MemoryKind::Normal) => {
                u64::from(MAIR_INDEX_NORMAL) << ATTR_INDEX_SHIFT | SH_INNER
            }
            (Format::El2Stage1, MemoryKind::Device) => {
                u64::from(MAIR_INDEX_DEVICE) << ATTR_INDEX_SHIFT
            }
        };
        let permissions = match self {
            Format::Stage2 => {
                (if read { S2AP_READ } else { 0 }) | if write { S2AP_WRITE } else { 0 }
            }
            Format::El2Stage1 if !read => return Err(PageTableError::UnsupportedAttributes),
            Format::El2Stage1 => AP1_RES1 | if write { 0 } else { AP2_READ_ONLY },
        };
        Ok(common | memory | permissions)
    }

    /// The attributes a block or page descriptor written by `leaf_attributes` stands for.
    pub(super) fn decode_attributes(self, desc: u64) -> Attributes {
        let execute = desc & XN == 0;
        match self {
            Format::Stage2 => Attributes {
                kind: if desc & S2_MEMATTR_MASK == S2_MEMATTR_NORMAL_WB {
                    MemoryKind::Normal
                } else {
                    MemoryKind::Device
                },
                access: Access::new(desc & S2AP_READ != 0, desc & S2AP_WRITE != 0, execute),
            },
            Format::El2Stage1 => Attributes {
                kind: if (desc >> ATTR_INDEX_SHIFT) & 0b111 == u64::from(MAIR_INDEX_NORMAL) {
                    MemoryKind::Normal
                } else {
                    MemoryKind::Device
                },
                access: Access::new(true, desc & AP2_READ_ONLY == 0, execute),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage2_normal_rwx_is_memattr_1111_s2ap_11_inner_shareable_with_af() {
        let bits = Format::Stage2.leaf_attributes(Attributes::NORMAL_RWX);
        assert_eq!(bits, Ok(0b1111 << 2 | 0b11 << 6 | 0b11 << 8 | 1 << 10));
    }

    #[test]
    fn stage2_device_is_memattr_0001_not_shareable_and_never_executable() {
        let bits = Format::Stage2.leaf_attributes(Attributes::DEVICE_RW);
        assert_eq!(bits, Ok(0b0001 << 2 | 0b11 << 6 | 1 << 10 | 1 << 54));
        let exec = Attributes::new(MemoryKind::Device, Access::RWX);
        assert_eq!(
            Format::Stage2.leaf_attributes(exec),
            Err(PageTableError::UnsupportedAttributes)
        );
    }

    #[test]
    fn stage2_can_express_write_only_and_no_access() {
        let w = Attributes::new(MemoryKind::Normal, Access::new(false, true, false));
        let bits = Format::Stage2.leaf_attributes(w).unwrap();
        assert_eq!(bits & (0b11 << 6), 0b10 << 6);
        assert_eq!(Format::Stage2.decode_attributes(bits), w);
        let none = Attributes::new(MemoryKind::Normal, Access::new(false, false, false));
        let bits = Format::Stage2.leaf_attributes(none).unwrap();
        assert_eq!(bits & (0b11 << 6), 0);
    }

    #[test]
    fn el2_normal_read_only_sets_ap_11_and_attr_index_0() {
        let bits = Format::El2Stage1.leaf_attributes(Attributes::NORMAL_R);
        assert_eq!(bits, Ok(0b11 << 6 | 0b11 << 8 | 1 << 10 | 1 << 54));
    }

    #[test]
    fn el2_device_uses_attr_index_1_and_xn() {
        let bits = Format::El2Stage1.leaf_attributes(Attributes::DEVICE_RW);
        assert_eq!(bits, Ok(1 << 2 | 0b01 << 6 | 1 << 10 | 1 << 54));
    }

    #[test]
    fn el2_stage1_cannot_express_unreadable_memory() {
        let w = Attributes::new(MemoryKind::Normal, Access::new(false, true, false));
        assert_eq!(
            Format::El2Stage1.leaf_attributes(w),
            Err(PageTableError::UnsupportedAttributes)
        );
    }

    #[test]
    fn every_expressible_attribute_decodes_to_itself_in_both_formats() {
        for format in [Format::Stage2, Format::El2Stage1] {
            for kind in [MemoryKind::Normal, MemoryKind::Device] {
                for bits in 0..8u8 {
                    let access = Access::new(bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
                    let attrs = Attributes::new(kind, access);
                    if let Ok(desc) = format.leaf_attributes(attrs) {
                        assert_eq!(format.decode_attributes(desc), attrs, "{format:?}");
                        assert_eq!(desc & !ATTR_MASK, 0, "attributes stay in their fields");
                    }
                }
            }
        }
    }

    #[test]
    fn mair_el2_holds_normal_wb_at_index_0_and_device_ngnre_at_index_1() {
        assert_eq!(MAIR_EL2, 0x04ff);
    }
}
