//! PROD/CONS index arithmetic of the SMMU's circular queues (IHI 0070 3.5.1).
//!
//! A queue of 2^n entries is indexed by n + 1 bits: the low n give the slot and bit n is a
//! wrap flag that flips each time the index passes the end. Equal indexes with equal wrap
//! flags mean empty; equal slots with different wrap flags mean full. Bits above the wrap flag
//! belong to the register (CMDQ_CONS.ERR, EVENTQ_PROD.OVFLG ...) and are not part of the index.
#![forbid(unsafe_code)]

/// Bit 31 of EVENTQ_PROD (OVFLG) and EVENTQ_CONS (OVACKFLG): the SMMU toggles OVFLG when the
/// event queue overflowed; software acknowledges by copying it to OVACKFLG.
pub const EVENTQ_OVERFLOW_FLAG: u32 = 1 << 31;

/// Largest queue sluice can index: IDR1.CMDQS/EVENTQS are at most 19.
const MAX_LOG2_ENTRIES: u8 = 19;

/// Index arithmetic for one queue of `2^log2_entries` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueIndex {
    log2_entries: u8,
}

impl QueueIndex {
    /// A queue of `2^log2_entries` entries; `None` beyond the architectural 2^19.
    pub fn new(log2_entries: u8) -> Option<Self> {
        (log2_entries <= MAX_LOG2_ENTRIES).then_some(Self { log2_entries })
    }

    /// Number of entries.
    pub fn entries(&self) -> u32 {
        1 << self.log2_entries
    }

    fn slot_mask(&self) -> u32 {
        self.entries() - 1
    }

    fn wrap_bit(&self) -> u32 {
        self.entries()
    }

    /// The index (slot and wrap flag) in a PROD or CONS register value.
    pub fn pointer(&self, register: u32) -> u32 {
        register & (self.slot_mask() | self.wrap_bit())
    }

    /// The slot an index points at.
    pub fn slot(&self, index: u32) -> usize {
        (index & self.slot_mask()) as usize
    }

    /// The wrap flag of an index.
    pub fn wrapped(&self, index: u32) -> bool {
        index & self.wrap_bit() != 0
    }

    /// The index after `index`: the next slot, with the wrap flag flipped past the end.
    pub fn advance(&self, index: u32) -> u32 {
        self.pointer(self.pointer(index).wrapping_add(1))
    }

    /// Nothing between `cons` and `prod`.
    pub fn is_empty(&self, prod: u32, cons: u32) -> bool {
        self.pointer(prod) == self.pointer(cons)
    }

    /// Every slot holds an entry not yet consumed.
    pub fn is_full(&self, prod: u32, cons: u32) -> bool {
        self.slot(prod) == self.slot(cons) && self.wrapped(prod) != self.wrapped(cons)
    }

    /// Entries written and not yet consumed.
    pub fn used(&self, prod: u32, cons: u32) -> u32 {
        let (prod, cons) = (self.pointer(prod), self.pointer(cons));
        // Indexes count modulo twice the queue size, so the difference is too.
        prod.wrapping_sub(cons) & (self.slot_mask() | self.wrap_bit())
    }

    /// Slots free for the producer.
    pub fn free(&self, prod: u32, cons: u32) -> u32 {
        self.entries() - self.used(prod, cons)
    }

    /// Whether CONS has moved past `target` as seen from `start`: every entry in
    /// `[start, target]` consumed. Used to wait for a CMD_SYNC written at `target` after the
    /// queue was at `start`.
    pub fn consumed_past(&self, start: u32, target: u32, cons: u32) -> bool {
        let span = self.used(target, start);
        self.used(cons, start) > span
    }
}

/// The event queue overflowed and the overflow has not been acknowledged.
pub fn eventq_overflowed(eventq_prod: u32, eventq_cons: u32) -> bool {
    (eventq_prod ^ eventq_cons) & EVENTQ_OVERFLOW_FLAG != 0
}

/// The EVENTQ_CONS value that consumes up to `index` and acknowledges any overflow seen in
/// `eventq_prod`.
pub fn eventq_cons_value(index: u32, eventq_prod: u32) -> u32 {
    index & !EVENTQ_OVERFLOW_FLAG | eventq_prod & EVENTQ_OVERFLOW_FLAG
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_of_four_wraps_after_four_advances_and_flips_its_wrap_bit() {
        let q = QueueIndex::new(2).unwrap();
        let mut index = 0;
        let mut seen = alloc::vec::Vec::new();
        for _ in 0..9 {
            seen.push((q.slot(index), q.wrapped(index)));
            index = q.advance(index);
        }
        let expected = [
            (0, false),
            (1, false),
            (2, false),
            (3, false),
            (0, true),
            (1, true),
            (2, true),
            (3, true),
            (0, false),
        ];
        assert_eq!(seen, expected);
        assert_eq!(
            q.advance(0b111),
            0b000,
            "wrap bit clears on the second pass"
        );
    }

    #[test]
    fn equal_indexes_are_empty_and_equal_slots_with_other_wrap_are_full() {
        let q = QueueIndex::new(3).unwrap();
        assert!(q.is_empty(5, 5) && !q.is_full(5, 5));
        assert!(q.is_full(5 | 8, 5) && !q.is_empty(5 | 8, 5));
        assert!(q.is_full(5, 5 | 8));
        assert_eq!((q.used(5 | 8, 5), q.free(5 | 8, 5)), (8, 0));
        assert_eq!(
            (q.used(2 | 8, 6), q.free(2 | 8, 6)),
            (4, 4),
            "producer wrapped"
        );
        assert_eq!(q.used(6, 2), 4);
    }

    #[test]
    fn register_bits_above_the_wrap_flag_are_not_part_of_the_index() {
        let q = QueueIndex::new(4).unwrap();
        let cons_with_error = 1 << 24 | 0x13; // CMDQ_CONS.ERR = CERROR_ILL, RD = wrap | 3
        assert_eq!(q.pointer(cons_with_error), 0x13);
        assert_eq!(
            (q.slot(cons_with_error), q.wrapped(cons_with_error)),
            (3, true)
        );
        assert!(q.is_empty(0x13, cons_with_error));
        assert_eq!(q.advance(EVENTQ_OVERFLOW_FLAG | 0x1f), 0);
    }

    #[test]
    fn a_sync_counts_as_consumed_only_once_cons_is_past_it_even_across_the_wrap() {
        let q = QueueIndex::new(2).unwrap();
        // Queue at slot 3 (no wrap); a command at 3 and the CMD_SYNC at slot 0 (wrapped).
        let (start, sync) = (3, 0b100);
        assert!(!q.consumed_past(start, sync, 3));
        assert!(
            !q.consumed_past(start, sync, 0b100),
            "CONS at the sync: not yet done"
        );
        assert!(q.consumed_past(start, sync, 0b101));
    }

    #[test]
    fn single_entry_and_largest_queues_work_and_larger_ones_are_refused() {
        let one = QueueIndex::new(0).unwrap();
        assert_eq!(one.advance(0), 1);
        assert!(one.is_full(1, 0));
        assert_eq!(QueueIndex::new(19).unwrap().entries(), 1 << 19);
        assert_eq!(QueueIndex::new(20), None);
    }

    #[test]
    fn event_queue_overflow_is_acknowledged_by_copying_ovflg() {
        let prod = EVENTQ_OVERFLOW_FLAG | 5;
        assert!(eventq_overflowed(prod, 2));
        let cons = eventq_cons_value(5, prod);
        assert_eq!(cons, EVENTQ_OVERFLOW_FLAG | 5);
        assert!(!eventq_overflowed(prod, cons));
        assert_eq!(eventq_cons_value(EVENTQ_OVERFLOW_FLAG | 3, 0), 3);
    }
}
