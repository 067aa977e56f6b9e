//! Where a guest sees its RAM (IPA ranges) and where that RAM really is (host physical): a
//! small set of banks, each one IPA range backed by one contiguous host range.
//!
//! With an SMMU translating the guest's DMA, guest RAM is deliberately *not* identity-mapped:
//! a device programmed with a guest address only reaches the right memory because the SMMU
//! applies the guest's stage 2, so a missing or wrong SMMU setting shows up at once instead of
//! working by accident. Without an SMMU, guest RAM stays identity-mapped so that devices, which
//! then DMA with untranslated addresses, still hit the guest's memory. Either way the guest's
//! RAM may come in several banks (around the 32-bit PCI hole, above 4 GiB).
#![forbid(unsafe_code)]

use super::pagetable::{Attributes, PageTable, PageTableError, TableMemory};
use super::PhysRange;
use alloc::vec::Vec;

/// One piece of guest RAM: an IPA range and the host address behind its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamBank {
    /// The guest-physical (IPA) range the guest is told about.
    pub ipa: PhysRange,
    /// The host-physical address backing `ipa.start`.
    pub host_start: u64,
}

impl RamBank {
    /// The backing host range.
    pub fn host(&self) -> PhysRange {
        PhysRange::new(self.host_start, self.ipa.size_bytes)
    }

    /// Whether IPA and host addresses coincide.
    pub fn is_identity(&self) -> bool {
        self.ipa.start == self.host_start
    }
}

/// A guest's RAM: banks sorted by IPA, none overlapping another in IPA or in host space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestRam {
    banks: Vec<RamBank>,
}

impl GuestRam {
    /// RAM the guest sees at its host addresses, one bank per host range.
    pub fn identity(host: &[PhysRange]) -> Self {
        Self::from_banks(
            host.iter()
                .map(|&h| RamBank {
                    ipa: h,
                    host_start: h.start,
                })
                .collect(),
        )
    }

    /// RAM made of `banks`, which the caller has checked do not overlap; empty ones are
    /// dropped and the rest sorted by IPA.
    pub fn from_banks(mut banks: Vec<RamBank>) -> Self {
        banks.retain(|b| b.ipa.size_bytes != 0);
        banks.sort_by_key(|b| b.ipa.start);
        Self { banks }
    }

    /// The banks, lowest IPA first.
    pub fn banks(&self) -> &[RamBank] {
        &self.banks
    }

    /// Maps every bank into the stage-2 `table` (IPA to host, with the largest blocks both
    /// addresses allow): the CPU's stage 2 and the SMMU's DMA view are built the same way.
    pub fn map_into(
        &self,
        table: &mut PageTable,
        mem: &mut impl TableMemory,
        attrs: Attributes,
    ) -> Result<(), PageTableError> {
        self.banks.iter().try_for_each(|bank| {
            table.map(
                mem,
                bank.ipa.start,
                bank.host_start,
                bank.ipa.size_bytes,
                attrs,
            )
        })
    }

    /// The IPA range of the lowest bank (where the kernel, initrd and DT go); empty if none.
    pub fn first_ipa(&self) -> PhysRange {
        self.banks.first().map_or(PhysRange::default(), |b| b.ipa)
    }

    /// The IPA ranges, lowest first (the guest DT's memory nodes).
    pub fn ipa_ranges(&self) -> Vec<PhysRange> {
        self.banks.iter().map(|b| b.ipa).collect()
    }

    /// Bytes of RAM in all banks.
    pub fn size_bytes(&self) -> u64 {
        self.banks.iter().map(|b| b.ipa.size_bytes).sum()
    }

    /// Whether every bank is seen at its host address.
    pub fn is_identity(&self) -> bool {
        self.banks.iter().all(RamBank::is_identity)
    }

    /// Whether `ipa` is guest RAM (any bank).
    pub fn contains_ipa(&self, ipa: u64) -> bool {
        self.banks.iter().any(|b| b.ipa.contains(ipa))
    }

    /// Host address of `[ipa, ipa + len)`, if the whole span lies in one bank (a span across
    /// two banks is not contiguous in host memory, so it is refused).
    pub fn to_host(&self, ipa: u64, len: u64) -> Option<u64> {
        self.banks
            .iter()
            .find(|b| b.ipa.contains_span(ipa, len))
            .map(|b| ipa - b.ipa.start + b.host_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn split() -> GuestRam {
        GuestRam::from_banks(Vec::from([
            RamBank {
                ipa: PhysRange::new(4 * GIB, GIB),
                host_start: 0x8140_0000,
            },
            RamBank {
                ipa: PhysRange::new(GIB, 2 * GIB),
                host_start: 0x4140_0000,
            },
            RamBank {
                ipa: PhysRange::new(6 * GIB, 0),
                host_start: 0,
            },
        ]))
    }

    #[test]
    fn banks_are_sorted_by_ipa_and_empty_ones_dropped() {
        let ram = split();
        assert_eq!(
            ram.ipa_ranges(),
            [PhysRange::new(GIB, 2 * GIB), PhysRange::new(4 * GIB, GIB)]
        );
        assert_eq!(ram.first_ipa(), PhysRange::new(GIB, 2 * GIB));
        assert_eq!(ram.size_bytes(), 3 * GIB);
        assert!(!ram.is_identity());
    }

    #[test]
    fn host_addresses_follow_each_banks_offset() {
        let ram = split();
        assert_eq!(ram.to_host(GIB + 0x1000, 8), Some(0x4140_1000));
        assert_eq!(ram.to_host(4 * GIB + 0x1000, 8), Some(0x8140_1000));
        assert_eq!(ram.to_host(3 * GIB - 8, 8), Some(0x4140_0000 + 2 * GIB - 8));
        assert_eq!(ram.to_host(3 * GIB - 4, 8), None, "span runs past the bank");
        assert_eq!(ram.to_host(3 * GIB, 8), None, "the hole is not RAM");
        assert_eq!(ram.to_host(GIB - 8, 8), None);
    }

    #[test]
    fn every_bank_contains_its_addresses_and_holes_do_not() {
        let ram = split();
        assert!(ram.contains_ipa(GIB) && ram.contains_ipa(3 * GIB - 1));
        assert!(ram.contains_ipa(4 * GIB) && ram.contains_ipa(5 * GIB - 1));
        assert!(!ram.contains_ipa(3 * GIB) && !ram.contains_ipa(5 * GIB));
    }

    #[test]
    fn identity_ram_maps_to_itself() {
        let ram = GuestRam::identity(&[PhysRange::new(0x4400_0000, 64 * MIB)]);
        assert!(ram.is_identity());
        assert_eq!(ram.to_host(0x4400_0000, 4096), Some(0x4400_0000));
        assert_eq!(ram.banks()[0].host(), PhysRange::new(0x4400_0000, 64 * MIB));
    }

    #[test]
    fn no_banks_means_no_ram() {
        let ram = GuestRam::from_banks(Vec::new());
        assert_eq!(ram.first_ipa().size_bytes, 0);
        assert!(!ram.contains_ipa(0) && ram.to_host(0, 1).is_none());
    }
}
