//! How large a stage-2 leaf may be: the largest blocks both addresses allow (what hardware
//! wants), or 4 KiB pages only (what an emulated CPU under QEMU's TCG wants).
//!
//! QEMU's TCG caches a two-stage translation with the larger of its stage-1 and stage-2 page
//! sizes, and invalidating one page inside a cached entry larger than a page empties that
//! translation regime's whole TLB. With guest RAM in 2 MiB blocks every entry the guest caches
//! is "large", so each single-page TLBI of a Linux guest (tens of thousands while it boots:
//! text patching, vmalloc, page-table updates) throws away all of its TLB. With 4 KiB stage-2
//! pages the guest's TLBIs stay single-page, at the cost of 2 MiB of tables per GiB of RAM.
#![forbid(unsafe_code)]

use alloc::string::String;

/// The largest leaf a table maps with (`PageTable::with_leaves`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Leaves {
    /// 1 GiB and 2 MiB blocks wherever both addresses are aligned (the default).
    #[default]
    Blocks,
    /// 4 KiB pages only.
    Pages,
}

impl Leaves {
    /// The `sluice.stage2=blocks|pages` option of sluice's command line `bootargs` (the last
    /// one given counts); `Blocks` without it.
    pub fn from_bootargs(bootargs: &str) -> Result<Self, String> {
        match crate::bootargs::values(bootargs, "sluice.stage2").next_back() {
            None | Some("blocks") => Ok(Self::Blocks),
            Some("pages") => Ok(Self::Pages),
            Some(other) => Err(alloc::format!(
                "sluice.stage2: '{other}' is neither blocks nor pages"
            )),
        }
    }

    /// What to map `ram_bytes` with when `spare_bytes` of table memory may go to it: `self`,
    /// unless pages would need more than that (then blocks).
    pub fn within(self, ram_bytes: u64, spare_bytes: u64) -> Self {
        match self {
            Self::Pages if Self::page_table_bytes(ram_bytes) > spare_bytes => Self::Blocks,
            other => other,
        }
    }

    /// Bytes of level-3 and level-2 tables that mapping `ram_bytes` with 4 KiB pages takes.
    pub fn page_table_bytes(ram_bytes: u64) -> u64 {
        const PAGE: u64 = 4096;
        let level3 = ram_bytes.div_ceil(2 << 20);
        let level2 = ram_bytes.div_ceil(1 << 30);
        (level3 + level2) * PAGE
    }
}

#[cfg(test)]
mod tests {
    use super::Leaves;

    #[test]
    fn blocks_without_the_option_and_the_last_one_counts() {
        assert_eq!(Leaves::from_bootargs(""), Ok(Leaves::Blocks));
        assert_eq!(
            Leaves::from_bootargs("sluice.pci=00:01.0"),
            Ok(Leaves::Blocks)
        );
        assert_eq!(
            Leaves::from_bootargs("sluice.stage2=pages sluice.pci=all"),
            Ok(Leaves::Pages)
        );
        assert_eq!(
            Leaves::from_bootargs("sluice.stage2=pages sluice.stage2=blocks"),
            Ok(Leaves::Blocks)
        );
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        let err = Leaves::from_bootargs("sluice.stage2=huge").unwrap_err();
        assert!(
            err.contains("'huge'") && err.contains("blocks nor pages"),
            "{err}"
        );
        assert!(Leaves::from_bootargs("sluice.stage2=").is_err());
    }

    #[test]
    fn pages_give_way_to_blocks_only_when_their_tables_do_not_fit() {
        let gib = 1u64 << 30;
        assert_eq!(Leaves::Pages.within(gib, 4 << 20), Leaves::Pages);
        assert_eq!(Leaves::Pages.within(8 * gib, 16 << 20), Leaves::Blocks);
        assert_eq!(Leaves::Pages.within(8 * gib, 17 << 20), Leaves::Pages);
        assert_eq!(Leaves::Blocks.within(gib, 0), Leaves::Blocks);
    }

    #[test]
    fn pages_cost_a_table_per_2_mib_and_one_per_gib() {
        assert_eq!(Leaves::page_table_bytes(1 << 30), (512 + 1) * 4096);
        assert_eq!(Leaves::page_table_bytes(858 << 20), (429 + 1) * 4096);
        assert_eq!(Leaves::page_table_bytes(0), 0);
    }
}
