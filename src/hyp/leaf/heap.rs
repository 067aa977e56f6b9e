//! sluice's heap: a buddy allocator over a range carved from host RAM at boot.

use buddy_system_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// Hands `[start, start + size_bytes)` to the allocator.
///
/// # Safety
/// The range must be identity-mapped RAM used by nothing else, ever.
pub unsafe fn init(start: usize, size_bytes: usize) {
    // SAFETY: the caller guarantees the range is free, mapped, and exclusively the heap's.
    unsafe { HEAP.lock().init(start, size_bytes) };
}

/// Bytes currently allocated (for the exit statistics and leak checks).
pub fn allocated_bytes() -> usize {
    HEAP.lock().stats_alloc_actual()
}

/// Bytes the heap could still hand out (fragmentation aside).
pub fn free_bytes() -> usize {
    let heap = HEAP.lock();
    heap.stats_total_bytes() - heap.stats_alloc_actual()
}

/// Adds `[start, start + size_bytes)` to the heap.
///
/// # Safety
/// As for [`init`].
pub unsafe fn add(start: usize, size_bytes: usize) {
    // SAFETY: the caller guarantees the range is free, mapped, and exclusively the heap's.
    unsafe { HEAP.lock().add_to_heap(start, start + size_bytes) };
}
