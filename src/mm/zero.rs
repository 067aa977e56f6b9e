//! Zeroing large ranges of RAM quickly: a loop over whole aligned blocks (pair stores: under
//! TCG they beat DC ZVA, a helper call per block), plain stores for the unaligned
//! head and tail. Pure planning here; the instructions are in `arch`.
#![forbid(unsafe_code)]

/// How to zero `[start, start + len)`: plain stores over `head` and `tail`, the block loop
/// over `blocks` (each `(start, len)`; any may be empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZeroPlan {
    /// Unaligned bytes before the first whole block.
    pub head: (u64, u64),
    /// Whole, aligned blocks.
    pub blocks: (u64, u64),
    /// Bytes after the last whole block.
    pub tail: (u64, u64),
}

impl ZeroPlan {
    /// The plan for `[start, start + len)` with blocks of `block_bytes` (a power of two; None
    /// or anything else: stores alone). A range that wraps the address space is cut at
    /// its end.
    pub fn new(start: u64, len: u64, block_bytes: Option<u64>) -> Self {
        let end = start.saturating_add(len);
        let stores_only = Self {
            head: (start, end - start),
            blocks: (end, 0),
            tail: (end, 0),
        };
        let Some(block) = block_bytes.filter(|b| b.is_power_of_two()) else {
            return stores_only;
        };
        let Some(first) = start.checked_next_multiple_of(block) else {
            return stores_only;
        };
        let last = end & !(block - 1);
        if first >= last {
            return stores_only;
        }
        Self {
            head: (start, first - start),
            blocks: (first, last - first),
            tail: (last, end - last),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aligned_range_is_all_blocks() {
        let p = ZeroPlan::new(0x4000_0000, 1 << 20, Some(64));
        assert_eq!(p.head, (0x4000_0000, 0));
        assert_eq!(p.blocks, (0x4000_0000, 1 << 20));
        assert_eq!(p.tail, (0x4010_0000, 0));
    }

    #[test]
    fn unaligned_ends_are_stored_and_the_middle_is_blocks() {
        let p = ZeroPlan::new(0x1010, 0x200, Some(0x100));
        assert_eq!(p.head, (0x1010, 0xf0));
        assert_eq!(p.blocks, (0x1100, 0x100));
        assert_eq!(p.tail, (0x1200, 0x10));
    }

    #[test]
    fn a_range_smaller_than_a_block_is_stored() {
        let p = ZeroPlan::new(0x1010, 0x20, Some(64));
        assert_eq!(p.head, (0x1010, 0x20));
        assert_eq!(p.blocks.1 + p.tail.1, 0);
    }

    #[test]
    fn without_dc_zva_or_with_a_bad_block_size_everything_is_stored() {
        for block in [None, Some(0), Some(48)] {
            let p = ZeroPlan::new(0x1000, 0x1000, block);
            assert_eq!(p.head, (0x1000, 0x1000));
            assert_eq!(p.blocks.1 + p.tail.1, 0);
        }
    }

    #[test]
    fn a_range_at_the_top_of_the_address_space_does_not_overflow() {
        let p = ZeroPlan::new(u64::MAX - 0x10, 0x100, Some(64));
        assert_eq!(p.head, (u64::MAX - 0x10, 0x10));
        assert_eq!(p.blocks.1 + p.tail.1, 0);
    }
}
