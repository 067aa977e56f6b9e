//! Physical or intermediate-physical address ranges, as plain values.

use core::fmt;

/// A half-open range of addresses `[start, start + size_bytes)`.
///
/// The address space (host physical, guest IPA) is given by the name of the field that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PhysRange {
    /// First address in the range.
    pub start: u64,
    /// Length of the range in bytes.
    pub size_bytes: u64,
}

impl PhysRange {
    /// A range starting at `start` spanning `size_bytes`.
    pub const fn new(start: u64, size_bytes: u64) -> Self {
        Self { start, size_bytes }
    }

    /// First address past the range, or `None` if it would not fit in 64 bits.
    pub const fn end_exclusive(&self) -> Option<u64> {
        self.start.checked_add(self.size_bytes)
    }

    /// Whether `addr` lies inside the range.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr - self.start < self.size_bytes
    }

    /// Whether `[addr, addr + len)` lies entirely inside the range.
    pub fn contains_span(&self, addr: u64, len: u64) -> bool {
        self.contains(addr)
            && (addr - self.start)
                .checked_add(len)
                .is_some_and(|e| e <= self.size_bytes)
    }

    /// Whether the two ranges share at least one address.
    pub fn overlaps(&self, other: &PhysRange) -> bool {
        let a_end = self.start.saturating_add(self.size_bytes);
        let b_end = other.start.saturating_add(other.size_bytes);
        self.size_bytes != 0 && other.size_bytes != 0 && self.start < b_end && other.start < a_end
    }

    /// Offset of `addr` from the start of the range, if inside.
    pub fn offset_of(&self, addr: u64) -> Option<u64> {
        self.contains(addr).then(|| addr - self.start)
    }
}

impl fmt::Display for PhysRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#x}..{:#x}",
            self.start,
            self.start.saturating_add(self.size_bytes)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_is_half_open() {
        let r = PhysRange::new(0x1000, 0x1000);
        assert!(
            r.contains(0x1000) && r.contains(0x1fff) && !r.contains(0x2000) && !r.contains(0xfff)
        );
    }

    #[test]
    fn span_past_the_end_is_not_contained() {
        let r = PhysRange::new(0x1000, 0x1000);
        assert!(r.contains_span(0x1ffc, 4));
        assert!(!r.contains_span(0x1ffc, 8));
        assert!(!r.contains_span(0x1ffc, u64::MAX));
    }

    #[test]
    fn adjacent_ranges_do_not_overlap() {
        let a = PhysRange::new(0x1000, 0x1000);
        assert!(!a.overlaps(&PhysRange::new(0x2000, 0x10)));
        assert!(a.overlaps(&PhysRange::new(0x1fff, 0x10)));
        assert!(!a.overlaps(&PhysRange::new(0x1800, 0)));
    }

    #[test]
    fn end_exclusive_reports_overflow() {
        assert_eq!(PhysRange::new(u64::MAX, 2).end_exclusive(), None);
    }
}
