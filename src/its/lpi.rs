//! Physical LPI allocation: each assigned function gets a contiguous block, returned on
//! de-assignment, so LPI usage after a guest reboot equals usage after the first boot.
#![forbid(unsafe_code)]

use alloc::vec::Vec;

/// First LPI INTID.
pub const FIRST_LPI: u32 = 8192;

/// Blocks of LPI INTIDs in `[FIRST_LPI, FIRST_LPI + count)`.
#[derive(Debug, Clone)]
pub struct LpiAllocator {
    count: u32,
    /// Allocated blocks: (first, length), sorted.
    used: Vec<(u32, u32)>,
}

impl LpiAllocator {
    /// An allocator over `count` LPIs.
    pub fn new(count: u32) -> Self {
        Self {
            count,
            used: Vec::new(),
        }
    }

    /// The lowest free block of `len` LPIs.
    pub fn allocate(&mut self, len: u32) -> Option<u32> {
        if len == 0 {
            return None;
        }
        let mut candidate = FIRST_LPI;
        for &(first, used_len) in &self.used {
            if candidate.checked_add(len)? <= first {
                break;
            }
            candidate = first + used_len;
        }
        if candidate.checked_add(len)? > FIRST_LPI.checked_add(self.count)? {
            return None;
        }
        let at = self.used.partition_point(|&(f, _)| f < candidate);
        self.used.insert(at, (candidate, len));
        Some(candidate)
    }

    /// Returns a block from `allocate`.
    pub fn free(&mut self, first: u32) {
        self.used.retain(|&(f, _)| f != first);
    }

    /// LPIs in use.
    pub fn in_use(&self) -> u32 {
        self.used.iter().map(|&(_, l)| l).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_contiguous_disjoint_and_reused_after_free() {
        let mut a = LpiAllocator::new(64);
        assert_eq!(a.allocate(5), Some(8192));
        assert_eq!(a.allocate(3), Some(8197));
        a.free(8192);
        assert_eq!(a.allocate(4), Some(8192));
        assert_eq!(a.allocate(2), Some(8200));
        assert_eq!(a.in_use(), 9);
    }

    #[test]
    fn exhaustion_and_empty_requests_give_none() {
        let mut a = LpiAllocator::new(8);
        assert_eq!(a.allocate(9), None);
        assert_eq!(a.allocate(0), None);
        assert_eq!(a.allocate(8), Some(8192));
        assert_eq!(a.allocate(1), None);
    }
}
