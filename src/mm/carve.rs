//! Carving host RAM into the hypervisor's heap and guest RAM.
//!
//! Starts from the RAM the device tree describes, removes everything that is already in use
//! (the hypervisor image, the DTB, the boot modules, firmware reservations), then hands out
//! aligned pieces. Pure bookkeeping on [`PhysRange`] values.
#![forbid(unsafe_code)]

use super::PhysRange;
use alloc::vec::Vec;
use core::fmt;

/// Why a piece of memory could not be carved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarveError {
    /// No free range holds `size_bytes` at the requested alignment.
    NoFit {
        /// The size asked for.
        size_bytes: u64,
    },
    /// The alignment is zero or not a power of two.
    BadAlignment(u64),
}

impl fmt::Display for CarveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoFit { size_bytes } => {
                write!(f, "no free RAM range holds {size_bytes:#x} bytes")
            }
            Self::BadAlignment(a) => write!(f, "alignment {a:#x} is not a power of two"),
        }
    }
}

/// Result of a carving operation.
pub type Result<T> = core::result::Result<T, CarveError>;

/// The free part of host RAM, kept sorted and non-overlapping.
#[derive(Debug, Clone, Default)]
pub struct FreeMemory {
    ranges: Vec<PhysRange>,
}

impl FreeMemory {
    /// All of `ram` is free to begin with; overlapping or empty entries are merged or dropped.
    pub fn new(ram: &[PhysRange]) -> Self {
        let mut free = Self::default();
        for r in ram.iter().filter(|r| r.size_bytes != 0) {
            free.insert(*r);
        }
        free
    }

    fn insert(&mut self, range: PhysRange) {
        self.reserve(range); // no double counting of overlaps
        self.ranges.push(range);
        self.ranges.sort_by_key(|r| r.start);
    }

    /// Removes `used` from the free ranges (any part of it that is not free is ignored).
    pub fn reserve(&mut self, used: PhysRange) {
        let used_end = used.start.saturating_add(used.size_bytes);
        let mut kept = Vec::with_capacity(self.ranges.len() + 1);
        for r in self.ranges.drain(..) {
            if !r.overlaps(&used) {
                kept.push(r);
                continue;
            }
            let r_end = r.start.saturating_add(r.size_bytes);
            if r.start < used.start {
                kept.push(PhysRange::new(r.start, used.start - r.start));
            }
            if used_end < r_end {
                kept.push(PhysRange::new(used_end, r_end - used_end));
            }
        }
        self.ranges = kept;
    }

    /// Takes the lowest `size_bytes` piece aligned to `align` (a power of two).
    pub fn take(&mut self, size_bytes: u64, align: u64) -> Result<PhysRange> {
        check_align(align)?;
        let piece = self
            .ranges
            .iter()
            .find_map(|r| aligned_piece(r, align).filter(|p| p.size_bytes >= size_bytes))
            .map(|p| PhysRange::new(p.start, size_bytes))
            .ok_or(CarveError::NoFit { size_bytes })?;
        self.reserve(piece);
        Ok(piece)
    }

    /// Takes the largest aligned piece whose size is a multiple of `align`.
    pub fn take_largest(&mut self, align: u64) -> Result<PhysRange> {
        check_align(align)?;
        let piece = self
            .ranges
            .iter()
            .filter_map(|r| aligned_piece(r, align))
            .max_by_key(|p| p.size_bytes)
            .filter(|p| p.size_bytes != 0)
            .ok_or(CarveError::NoFit { size_bytes: align })?;
        self.reserve(piece);
        Ok(piece)
    }

    /// The free ranges, sorted by address.
    pub fn ranges(&self) -> &[PhysRange] {
        &self.ranges
    }
}

fn check_align(align: u64) -> Result<()> {
    if align.is_power_of_two() {
        Ok(())
    } else {
        Err(CarveError::BadAlignment(align))
    }
}

/// The part of `r` that starts and ends on `align` boundaries, if any.
fn aligned_piece(r: &PhysRange, align: u64) -> Option<PhysRange> {
    let start = r.start.checked_next_multiple_of(align)?;
    let end = r.end_exclusive()? & !(align - 1);
    (end > start).then(|| PhysRange::new(start, end - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn reserving_the_middle_splits_a_range_in_two() {
        let mut free = FreeMemory::new(&[PhysRange::new(0x4000_0000, 64 * MIB)]);
        free.reserve(PhysRange::new(0x4020_0000, MIB));
        assert_eq!(
            free.ranges(),
            &[
                PhysRange::new(0x4000_0000, 2 * MIB),
                PhysRange::new(0x4030_0000, 61 * MIB)
            ]
        );
    }

    #[test]
    fn take_returns_the_lowest_aligned_fit_and_removes_it() {
        let mut free = FreeMemory::new(&[PhysRange::new(0x4000_1000, 8 * MIB)]);
        let heap = free.take(2 * MIB, 2 * MIB).unwrap();
        assert_eq!(heap, PhysRange::new(0x4020_0000, 2 * MIB));
        assert!(free.ranges().iter().all(|r| !r.overlaps(&heap)));
    }

    #[test]
    fn take_largest_picks_the_biggest_gap_between_reservations() {
        let mut free = FreeMemory::new(&[PhysRange::new(0x4000_0000, 1024 * MIB)]);
        free.reserve(PhysRange::new(0x4000_0000, 20 * MIB)); // hypervisor + heap
        free.reserve(PhysRange::new(0x7c00_0000, 64 * MIB)); // boot modules
        let guest = free.take_largest(2 * MIB).unwrap();
        assert_eq!(
            guest,
            PhysRange::new(0x4140_0000, 0x7c00_0000 - 0x4140_0000)
        );
    }

    #[test]
    fn a_request_that_fits_nowhere_is_an_error() {
        let mut free = FreeMemory::new(&[PhysRange::new(0x1000, 0x1000)]);
        assert_eq!(
            free.take(0x2000, 0x1000),
            Err(CarveError::NoFit { size_bytes: 0x2000 })
        );
        assert_eq!(free.take(0x1000, 3), Err(CarveError::BadAlignment(3)));
        assert!(matches!(
            free.take_largest(2 * MIB),
            Err(CarveError::NoFit { .. })
        ));
    }

    #[test]
    fn overlapping_ram_entries_are_merged_not_counted_twice() {
        let free = FreeMemory::new(&[PhysRange::new(0, 0x2000), PhysRange::new(0x1000, 0x2000)]);
        let total: u64 = free.ranges().iter().map(|r| r.size_bytes).sum();
        assert_eq!(total, 0x3000);
    }
}
