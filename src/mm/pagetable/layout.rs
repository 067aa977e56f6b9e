//! Table shapes (start level, concatenated roots) and the control-register values that go with
//! them: VTCR_EL2 for stage 2, TCR_EL2 and MAIR_EL2 for EL2 stage 1.
//!
//! Rules followed (Arm ARM D8.2 "Translation table walk", with the 4 KiB granule, no FEAT_LPA2,
//! no FEAT_TTST; pseudocode AArch64.S2InvalidSL / AArch64.S2InconsistentSL):
//! - T0SZ is 16..=39, so the input is 25..=48 bits.
//! - Stage 1 starts at the level that resolves the top input bit with a single table.
//! - Stage 2 may start one level lower and resolve up to 4 extra bits at its first level by
//!   concatenating up to 16 tables: level 2 takes 25..=34-bit IPAs, level 1 31..=43, level 0
//!   40..=48, and level 0 is only valid if the PA size is at least 44 bits. The IPA must not be
//!   larger than the PA size.
//!
//! sluice picks the lowest valid start level (fewest walk steps, as Linux/KVM does): a 40-bit IPA
//! starts at level 1 with 2 concatenated tables, a 42-bit one at level 1 with 8, 32-bit at level
//! 2 with 4, 36-bit at level 1 with one table, 44 and 48-bit at level 0.
#![forbid(unsafe_code)]

use super::{level_shift, Format, PageTableError, Result, TABLE_ENTRIES};

/// Largest input or output address size sluice uses (52-bit needs FEAT_LPA2 descriptors).
pub const MAX_ADDRESS_BITS: u8 = 48;
/// Smallest input size: T0SZ at most 39 without FEAT_TTST.
pub const MIN_INPUT_BITS: u8 = 25;
/// At most 16 tables can be concatenated at the initial stage 2 lookup.
pub const MAX_CONCATENATED_TABLES: usize = 16;
/// ID_AA64MMFR0_EL1.PARange / VTCR_EL2.PS / TCR_EL2.PS encoding of 48 bits.
const PA_RANGE_48_BITS: u8 = 0b101;

/// Bits of physical address for an ID_AA64MMFR0_EL1.PARange value (reserved values read as the
/// largest defined size, 52 bits; callers cap it).
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

/// Where the walk starts and how many tables the root spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Level of the root table (0..=2).
    pub start_level: u8,
    /// Concatenated tables at the root (1 for stage 1; a power of two up to 16 for stage 2).
    pub root_tables: usize,
}

impl Format {
    /// The shape of tables translating `input_bits` of input address, or
    /// `UnsupportedInputBits` outside 25..=48.
    pub fn geometry(self, input_bits: u8) -> Result<Geometry> {
        if !(MIN_INPUT_BITS..=MAX_ADDRESS_BITS).contains(&input_bits) {
            return Err(PageTableError::UnsupportedInputBits(input_bits));
        }
        // Deepest start level whose first lookup covers the input with one table (stage 1) or
        // with at most 16 concatenated tables (stage 2: 4 extra bits).
        let extra_bits = match self {
            Format::El2Stage1 => 0,
            Format::Stage2 => 4,
        };
        let start_level = (0..=2u8)
            .rev()
            .find(|&level| u32::from(input_bits) <= level_shift(level) + 9 + extra_bits)
            .unwrap_or(0);
        let root_bits = u32::from(input_bits) - level_shift(start_level);
        let root_entries = 1usize << root_bits;
        Ok(Geometry {
            start_level,
            root_tables: root_entries.div_ceil(TABLE_ENTRIES),
        })
    }
}

/// Translation table shape for a guest's stage 2, with its VTCR_EL2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage2Layout {
    /// IPA size in bits (25..=48).
    pub input_bits: u8,
    /// Level of the root table.
    pub start_level: u8,
    /// Concatenated tables at the root; VTTBR_EL2.BADDR must be aligned to
    /// `root_tables * 4 KiB`.
    pub root_tables: usize,
    /// VTCR_EL2.PS: the CPU's PARange, capped at 48 bits.
    pub ps: u8,
}

impl Stage2Layout {
    /// The largest IPA space the CPU supports (its PA size, capped at 48 bits).
    pub fn from_pa_range(pa_range: u8) -> Self {
        let pa_bits = pa_range_bits(pa_range).min(MAX_ADDRESS_BITS);
        match Self::with_ipa_bits(pa_range, pa_bits) {
            Ok(layout) => layout,
            Err(_) => unreachable!("every PA size (32..=48 bits) is a valid stage 2 IPA size"),
        }
    }

    /// An IPA space holding `[0, end)` on a CPU with `pa_range`: 39 bits when that is enough
    /// and the PA size allows it, the largest space (`from_pa_range`) otherwise. 39 bits is
    /// the largest a walk from level 1 through a single root table translates: one level
    /// fewer than from level 0, and no concatenated root (which QEMU 10's SMMU model walks
    /// wrongly: it always reads the first of the tables).
    pub fn covering(pa_range: u8, end: u64) -> Self {
        const ONE_LEVEL_1_TABLE: u8 = 39;
        let needed = 64 - end.saturating_sub(1).leading_zeros() as u8;
        if needed > ONE_LEVEL_1_TABLE {
            return Self::from_pa_range(pa_range);
        }
        Self::with_ipa_bits(pa_range, ONE_LEVEL_1_TABLE)
            .unwrap_or_else(|_| Self::from_pa_range(pa_range))
    }

    /// A `ipa_bits` IPA space on a CPU with `pa_range`: `UnsupportedInputBits` if it is outside
    /// 25..=48 bits or larger than the PA size.
    pub fn with_ipa_bits(pa_range: u8, ipa_bits: u8) -> Result<Self> {
        let pa_bits = pa_range_bits(pa_range).min(MAX_ADDRESS_BITS);
        if ipa_bits > pa_bits {
            return Err(PageTableError::UnsupportedInputBits(ipa_bits));
        }
        let geometry = Format::Stage2.geometry(ipa_bits)?;
        // Level 0 needs a PA size of at least 44 bits (S2InvalidSL); geometry() only picks level 0
        // for IPAs of 44 bits or more, and the IPA is no larger than the PA.
        debug_assert!(geometry.start_level > 0 || pa_bits >= 44);
        Ok(Self {
            input_bits: ipa_bits,
            start_level: geometry.start_level,
            root_tables: geometry.root_tables,
            ps: pa_range.min(PA_RANGE_48_BITS),
        })
    }

    /// VTCR_EL2: T0SZ, SL0, inner/outer write-back write-allocate walks, inner shareable, 4 KiB
    /// granule, PS, 8-bit VMID, RES1 bit 31 (Arm ARM D19 VTCR_EL2).
    pub fn vtcr_el2(&self) -> u64 {
        let t0sz = 64 - u64::from(self.input_bits);
        // SL0 with TG0 = 4 KiB: 0b00 level 2, 0b01 level 1, 0b10 level 0.
        let sl0 = 2 - u64::from(self.start_level.min(2));
        t0sz << TCR_T0SZ_SHIFT
            | sl0 << VTCR_SL0_SHIFT
            | TCR_WALK_ATTRIBUTES
            | u64::from(self.ps) << TCR_PS_SHIFT
            | VTCR_RES1
    }
}

/// T0SZ, bits [5:0] (same place in TCR_EL2 and VTCR_EL2).
const TCR_T0SZ_SHIFT: u32 = 0;
/// VTCR_EL2.SL0, bits [7:6].
const VTCR_SL0_SHIFT: u32 = 6;
/// IRGN0 [9:8] = 0b01 and ORGN0 [11:10] = 0b01 (write-back read/write-allocate), SH0 [13:12] =
/// 0b11 (inner shareable), TG0 [15:14] = 0b00 (4 KiB): identical in TCR_EL2 and VTCR_EL2.
const TCR_WALK_ATTRIBUTES: u64 = 0b01 << 8 | 0b01 << 10 | 0b11 << 12;
/// PS, bits [18:16] in both TCR_EL2 (E2H = 0) and VTCR_EL2.
const TCR_PS_SHIFT: u32 = 16;
/// VTCR_EL2 bit 31 is RES1.
const VTCR_RES1: u64 = 1 << 31;
/// TCR_EL2 (E2H = 0) bits 31 and 23 are RES1.
const TCR_EL2_RES1: u64 = 1 << 31 | 1 << 23;

/// Input size of sluice's EL2 identity map: the PA size, capped at 48 bits. Give this to
/// `PageTable::new(.., Format::El2Stage1, ..)` so the tables match `tcr_el2`.
pub fn el2_input_bits(pa_range: u8) -> u8 {
    pa_range_bits(pa_range).min(MAX_ADDRESS_BITS)
}

/// TCR_EL2 (HCR_EL2.E2H = 0) for the identity map of `el2_input_bits(pa_range)` bits: T0SZ,
/// write-back inner/outer walks, inner shareable, 4 KiB granule, PS, RES1 bits 23 and 31,
/// top byte used (TBI = 0).
pub fn tcr_el2(pa_range: u8) -> u64 {
    let t0sz = 64 - u64::from(el2_input_bits(pa_range));
    let ps = u64::from(pa_range.min(PA_RANGE_48_BITS));
    t0sz << TCR_T0SZ_SHIFT | TCR_WALK_ATTRIBUTES | ps << TCR_PS_SHIFT | TCR_EL2_RES1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_covering_layout_walks_from_one_level_1_table_when_39_bits_hold_the_range() {
        // The demo guest's DMA view: RAM up to 0xb5a0_0000, a 44-bit PA CPU.
        let l = Stage2Layout::covering(4, 0xb5a0_0000);
        assert_eq!((l.input_bits, l.start_level, l.root_tables), (39, 1, 1));
        assert_eq!(Stage2Layout::covering(4, 0x1000), l);
        assert_eq!(Stage2Layout::covering(4, 1 << 39), l);
        // More than 39 bits, or a PA size below 39 bits: the largest space there is.
        let largest = Stage2Layout::from_pa_range(4);
        assert_eq!(Stage2Layout::covering(4, (1 << 39) + 1), largest);
        assert_eq!(
            Stage2Layout::covering(1, 0x1000),
            Stage2Layout::from_pa_range(1)
        );
        assert_eq!(
            Stage2Layout::covering(5, u64::MAX),
            Stage2Layout::from_pa_range(5)
        );
    }

    #[test]
    fn each_parange_gets_the_ipa_size_start_level_and_root_tables_of_the_arm_arm() {
        // (PARange, IPA bits, start level, concatenated root tables, VTCR_EL2 T0SZ | SL0 << 6)
        let expected = [
            (0, 32, 2, 4, 32),
            (1, 36, 1, 1, 28 | 1 << 6),
            (2, 40, 1, 2, 24 | 1 << 6),
            (3, 42, 1, 8, 22 | 1 << 6),
            (4, 44, 0, 1, 20 | 2 << 6),
            (5, 48, 0, 1, 16 | 2 << 6),
            (6, 48, 0, 1, 16 | 2 << 6),
        ];
        for (pa_range, bits, level, tables, low) in expected {
            let l = Stage2Layout::from_pa_range(pa_range);
            assert_eq!(
                (l.input_bits, l.start_level, l.root_tables),
                (bits, level, tables),
                "PARange {pa_range}"
            );
            assert_eq!(l.vtcr_el2() & 0xff, low, "PARange {pa_range}");
            assert_eq!(u64::from(l.ps), (l.vtcr_el2() >> 16) & 0b111);
        }
    }

    #[test]
    fn level_0_is_only_used_when_the_pa_size_is_at_least_44_bits() {
        for pa_range in 0..16 {
            let l = Stage2Layout::from_pa_range(pa_range);
            assert!(l.start_level > 0 || pa_range_bits(pa_range) >= 44);
            assert!((1..=MAX_CONCATENATED_TABLES).contains(&l.root_tables));
            assert!(l.root_tables.is_power_of_two());
        }
    }

    #[test]
    fn vtcr_el2_for_a_40_bit_pa_has_every_field_in_place() {
        assert_eq!(
            Stage2Layout::from_pa_range(2).vtcr_el2(),
            24 | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 16 | 1 << 31
        );
    }

    #[test]
    fn every_stage2_ipa_size_obeys_the_inconsistent_sl_bounds() {
        for bits in MIN_INPUT_BITS..=MAX_ADDRESS_BITS {
            let g = Format::Stage2.geometry(bits).unwrap();
            let levels = 3 - u32::from(g.start_level);
            let min = levels * 9 + 13;
            assert!((min..=min + 12).contains(&u32::from(bits)), "{bits} bits");
            let root_bits = u32::from(bits) - level_shift(g.start_level);
            assert_eq!(g.root_tables, (1usize << root_bits).div_ceil(512));
        }
    }

    #[test]
    fn a_smaller_ipa_than_the_pa_can_be_chosen_but_not_a_larger_one() {
        let l = Stage2Layout::with_ipa_bits(5, 40).unwrap();
        assert_eq!((l.start_level, l.root_tables, l.ps), (1, 2, 5));
        assert_eq!(
            Stage2Layout::with_ipa_bits(2, 44),
            Err(PageTableError::UnsupportedInputBits(44))
        );
        assert_eq!(
            Stage2Layout::with_ipa_bits(5, 24),
            Err(PageTableError::UnsupportedInputBits(24))
        );
    }

    #[test]
    fn el2_stage1_never_concatenates_and_starts_where_the_top_bit_is_resolved() {
        let shape = |bits| Format::El2Stage1.geometry(bits).unwrap();
        assert_eq!(
            shape(48),
            Geometry {
                start_level: 0,
                root_tables: 1
            }
        );
        assert_eq!(
            shape(40),
            Geometry {
                start_level: 0,
                root_tables: 1
            }
        );
        assert_eq!(
            shape(39),
            Geometry {
                start_level: 1,
                root_tables: 1
            }
        );
        assert_eq!(
            shape(32),
            Geometry {
                start_level: 1,
                root_tables: 1
            }
        );
        assert_eq!(
            shape(30),
            Geometry {
                start_level: 2,
                root_tables: 1
            }
        );
        assert_eq!(
            Format::El2Stage1.geometry(49),
            Err(PageTableError::UnsupportedInputBits(49))
        );
    }

    #[test]
    fn tcr_el2_sets_res1_bits_and_the_pa_size() {
        assert_eq!(
            tcr_el2(5),
            16 | 1 << 8 | 1 << 10 | 3 << 12 | 5 << 16 | 1 << 23 | 1 << 31
        );
        assert_eq!(tcr_el2(6) & 0x7_003f, 16 | 5 << 16);
        assert_eq!(tcr_el2(0) & 0x7_003f, 32);
    }
}
