//! Register values computed from plain numbers, so they can be checked on the host: the SGI
//! register, the redistributor affinity match, the stage-1 block descriptors, and the
//! per-round figure the IPI check prints.
#![forbid(unsafe_code)]

use crate::platform::Range;

/// ICC_SGI1R_EL1 for SGI `intid` to the one CPU with MPIDR affinity `mpidr` (GICv3 12.2.23:
/// Aff3 [55:48], RS [47:44], Aff2 [39:32], INTID [27:24], Aff1 [23:16], TargetList [15:0],
/// where RS selects the group of 16 Aff0 values and TargetList the one within it).
pub fn sgi1r(intid: u32, mpidr: u64) -> u64 {
    let aff0 = mpidr & 0xff;
    ((mpidr >> 32) & 0xff) << 48
        | (aff0 >> 4) << 44
        | ((mpidr >> 16) & 0xff) << 32
        | ((intid as u64) & 0xf) << 24
        | ((mpidr >> 8) & 0xff) << 16
        | 1 << (aff0 & 0xf)
}

/// ICC_SGI1R_EL1 for SGI `intid` to every PE but the sender (IRM = 1).
pub fn sgi1r_all_others(intid: u32) -> u64 {
    1 << 40 | ((intid as u64) & 0xf) << 24
}

/// ICC_SGI1R_EL1 for SGI `intid` to every Aff0 of `target_list` (RS 0) at Aff3.Aff2.Aff1 0.
pub fn sgi1r_list(intid: u32, target_list: u16) -> u64 {
    ((intid as u64) & 0xf) << 24 | target_list as u64
}

/// MPIDR affinity packed as GICR_TYPER[63:32] holds it (Aff3.Aff2.Aff1.Aff0).
pub fn typer_affinity(mpidr: u64) -> u64 {
    (mpidr & 0xff_ffff) | ((mpidr >> 8) & 0xff00_0000)
}

/// Level-1 block descriptor fields (VMSAv8-64, 4 KiB granule, D8.3).
const BLOCK: u64 = 0b01;
const ATTR_NORMAL: u64 = 1 << 2; // AttrIndx 1 (MAIR attr1, Normal WB)
const SH_INNER: u64 = 3 << 8;
const AF: u64 = 1 << 10;
const PXN_UXN: u64 = 3 << 53;
/// Bytes one level-1 entry maps.
pub const BLOCK_BYTES: u64 = 1 << 30;

/// Entry `index` of the identity map: Normal cacheable if it overlaps `ram`, else
/// Device-nGnRnE (AttrIndx 0) and never executable.
pub fn l1_block(index: usize, ram: Range) -> u64 {
    let base = (index as u64) * BLOCK_BYTES;
    let ram_end = ram.base.saturating_add(ram.size_bytes);
    let is_ram = base < ram_end && base.saturating_add(BLOCK_BYTES) > ram.base;
    base | BLOCK
        | AF
        | if is_ram {
            ATTR_NORMAL | SH_INNER
        } else {
            PXN_UXN
        }
}

/// Hundredths of a microsecond per round: `ticks` of a `hz` counter over `rounds` rounds.
pub fn centi_us_per_round(ticks: u64, hz: u64, rounds: u64) -> u64 {
    let centi_us = (ticks as u128 * 100_000_000) / hz.max(1) as u128;
    (centi_us / rounds.max(1) as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgi_to_cpu_1_sets_bit_1_of_the_target_list() {
        assert_eq!(sgi1r(2, 1), 2 << 24 | 1 << 1);
    }

    #[test]
    fn irm_and_target_list_forms_put_the_intid_in_bits_27_to_24() {
        assert_eq!(sgi1r_all_others(5), 1 << 40 | 5 << 24);
        assert_eq!(sgi1r_list(3, 0xfffe), 3 << 24 | 0xfffe);
    }

    #[test]
    fn aff0_beyond_15_selects_a_range_with_rs() {
        // Aff0 = 0x13: RS 1, bit 3.
        assert_eq!(sgi1r(0, 0x13), 1 << 44 | 1 << 3);
    }

    #[test]
    fn higher_affinity_levels_go_to_their_own_fields() {
        let mpidr = 0x04_0003_0200; // Aff3 4, Aff2 3, Aff1 2, Aff0 0
        assert_eq!(sgi1r(1, mpidr), 4 << 48 | 3 << 32 | 1 << 24 | 2 << 16 | 1);
        assert_eq!(typer_affinity(mpidr), 0x0403_0200);
    }

    #[test]
    fn only_blocks_overlapping_ram_are_normal_memory() {
        let ram = Range {
            base: 0x4880_0000,
            size_bytes: 0x3780_0000,
        };
        assert_eq!(l1_block(0, ram), AF | BLOCK | PXN_UXN);
        assert_eq!(
            l1_block(1, ram),
            0x4000_0000 | AF | BLOCK | ATTR_NORMAL | SH_INNER
        );
        assert_eq!(l1_block(2, ram) & ATTR_NORMAL, 0);
        let big = Range {
            base: 0x4000_0000,
            size_bytes: 0x8000_0000,
        };
        assert_ne!(l1_block(2, big) & ATTR_NORMAL, 0);
        assert_eq!(l1_block(3, big) & ATTR_NORMAL, 0);
    }

    #[test]
    fn per_round_figure_keeps_two_decimals_and_survives_zero_rounds() {
        // 1 GHz counter, 2,837,500 ticks for 100 rounds: 28.37 us per round.
        assert_eq!(centi_us_per_round(2_837_500, 1_000_000_000, 100), 2837);
        assert_eq!(centi_us_per_round(5, 0, 0), 500_000_000);
    }
}
