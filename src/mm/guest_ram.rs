//! Where a guest sees its RAM (its IPA range) and where that RAM really is (host physical).
//!
//! With an SMMU translating the guest's DMA, guest RAM is deliberately *not* identity-mapped:
//! a device programmed with a guest address only reaches the right memory because the SMMU
//! applies the guest's stage 2, so a missing or wrong SMMU setting shows up at once instead of
//! working by accident. Without an SMMU, guest RAM stays identity-mapped so that devices, which
//! then DMA with untranslated addresses, still hit the guest's memory.
#![forbid(unsafe_code)]

use super::PhysRange;

/// A guest's RAM: one contiguous block of host RAM seen at one IPA range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestRam {
    /// The guest-physical (IPA) range the guest is told about.
    pub ipa: PhysRange,
    /// The host-physical address backing `ipa.start`.
    pub host_start: u64,
}

impl GuestRam {
    /// RAM the guest sees at its host address.
    pub fn identity(host: PhysRange) -> Self {
        Self {
            ipa: host,
            host_start: host.start,
        }
    }

    /// RAM seen at `ipa_start` instead of its host address.
    pub fn at(host: PhysRange, ipa_start: u64) -> Self {
        Self {
            ipa: PhysRange::new(ipa_start, host.size_bytes),
            host_start: host.start,
        }
    }

    /// Whether IPA and host addresses coincide.
    pub fn is_identity(&self) -> bool {
        self.ipa.start == self.host_start
    }

    /// The backing host range.
    pub fn host(&self) -> PhysRange {
        PhysRange::new(self.host_start, self.ipa.size_bytes)
    }

    /// Host address of `[ipa, ipa + len)`, if the whole span is guest RAM.
    pub fn to_host(&self, ipa: u64, len: u64) -> Option<u64> {
        self.ipa
            .contains_span(ipa, len)
            .then(|| ipa - self.ipa.start + self.host_start)
    }
}

/// An IPA for guest RAM backed by `host` that differs from `host.start`: the highest
/// `align`-aligned place in the host memory bank holding it or, failing that, the bank's start.
/// The range always lies inside a host memory bank, so it never collides with the device
/// addresses a guest is given (those avoid host RAM). The top of the bank comes first because
/// the hypervisor's own image and heap sit low in RAM: an IPA range above them keeps the
/// hypervisor's host addresses out of the guest's IPA space, so a device told to DMA to one of
/// them hits an SMMU fault rather than, harmlessly but confusingly, guest RAM.
/// `None` when the bank is exactly as large as `host` (no other place fits).
pub fn choose_translated_ipa(host: PhysRange, banks: &[PhysRange], align: u64) -> Option<u64> {
    let bank = banks
        .iter()
        .find(|b| b.contains_span(host.start, host.size_bytes))?;
    let bank_end = bank.end_exclusive()?;
    let lowest = bank.start.checked_next_multiple_of(align)?;
    let highest = bank_end.checked_sub(host.size_bytes)? / align * align;
    [highest, lowest].into_iter().find(|&ipa| {
        ipa != host.start && ipa >= bank.start && bank.contains_span(ipa, host.size_bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const BANK: PhysRange = PhysRange::new(0x4000_0000, 1024 * MIB);

    #[test]
    fn translated_ram_ends_at_the_top_of_its_bank() {
        let host = PhysRange::new(0x4400_0000, 800 * MIB);
        assert_eq!(
            choose_translated_ipa(host, &[BANK], 2 * MIB),
            Some(0x4e00_0000)
        );
    }

    #[test]
    fn ram_at_the_top_of_its_bank_moves_to_its_start() {
        let host = PhysRange::new(0x6000_0000, 512 * MIB);
        assert_eq!(
            choose_translated_ipa(host, &[BANK], 2 * MIB),
            Some(0x4000_0000)
        );
    }

    #[test]
    fn ram_filling_its_bank_has_no_other_place() {
        assert_eq!(choose_translated_ipa(BANK, &[BANK], 2 * MIB), None);
    }

    #[test]
    fn ram_outside_every_bank_has_no_place() {
        let host = PhysRange::new(0x1_0000_0000, 2 * MIB);
        assert_eq!(choose_translated_ipa(host, &[BANK], 2 * MIB), None);
    }

    #[test]
    fn unaligned_bank_edges_are_aligned_inwards() {
        let bank = PhysRange::new(0x4010_0000, 1022 * MIB);
        let top = PhysRange::new(0x7be0_0000, 64 * MIB);
        assert_eq!(
            choose_translated_ipa(top, &[bank], 2 * MIB),
            Some(0x4020_0000)
        );
        let middle = PhysRange::new(0x4800_0000, 64 * MIB);
        assert_eq!(
            choose_translated_ipa(middle, &[bank], 2 * MIB),
            Some(0x7be0_0000)
        );
    }

    #[test]
    fn host_addresses_follow_the_offset() {
        let ram = GuestRam::at(PhysRange::new(0x4400_0000, 64 * MIB), 0x4000_0000);
        assert!(!ram.is_identity());
        assert_eq!(ram.to_host(0x4000_1000, 8), Some(0x4400_1000));
        assert_eq!(ram.to_host(0x43ff_fff8, 8), Some(0x47ff_fff8));
        assert_eq!(ram.to_host(0x43ff_fffc, 8), None, "span runs past the end");
        assert_eq!(ram.to_host(0x3fff_f000, 8), None);
        assert_eq!(ram.host(), PhysRange::new(0x4400_0000, 64 * MIB));
    }

    #[test]
    fn identity_ram_maps_to_itself() {
        let ram = GuestRam::identity(PhysRange::new(0x4400_0000, 64 * MIB));
        assert!(ram.is_identity());
        assert_eq!(ram.to_host(0x4400_0000, 4096), Some(0x4400_0000));
    }
}
