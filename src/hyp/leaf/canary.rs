//! A page of hypervisor memory with a known pattern, checked at guest power-off and on the
//! console's statistics escape: the visible proof that a device's stray DMA (for example a NIC
//! ring pointed at this page by a hostile guest) did not reach sluice.

use alloc::alloc::{alloc, Layout};
use spin::Once;

const CANARY_BYTES: usize = 4096;

static CANARY: Once<u64> = Once::new();

/// The byte the canary holds at `offset`: varied, so a partial overwrite shows.
fn pattern(offset: usize) -> u8 {
    (offset as u8).wrapping_mul(37) ^ 0xa5
}

/// Fills one heap page with the pattern and logs its host physical address.
pub fn plant() {
    let layout = Layout::from_size_align(CANARY_BYTES, CANARY_BYTES).expect("page layout");
    // SAFETY: the layout has a non-zero size; the page is never freed (it lives for ever).
    let page = unsafe { alloc(layout) };
    if page.is_null() {
        log::warn!("no heap for the DMA canary");
        return;
    }
    for offset in 0..CANARY_BYTES {
        // SAFETY: `offset` < CANARY_BYTES, inside the page just allocated.
        unsafe { page.add(offset).write_volatile(pattern(offset)) };
    }
    // Cleaned to the point of coherency, so a non-coherent device write cannot hide behind
    // a dirty cache line.
    crate::arch::cpu::clean_dcache_range(page as u64, CANARY_BYTES as u64);
    CANARY.call_once(|| page as u64);
    log::info!(
        "DMA canary: {} KiB of hypervisor heap at {:#x} (host physical)",
        CANARY_BYTES / 1024,
        page as u64
    );
}

/// Logs whether the canary still holds its pattern.
pub fn check() {
    let Some(&page) = CANARY.get() else {
        return;
    };
    // Drop any stale cache lines first, so a device write that went around the cache shows.
    crate::arch::cpu::clean_invalidate_dcache_range(page, CANARY_BYTES as u64);
    let changed: usize = (0..CANARY_BYTES)
        .filter(|&offset| {
            // SAFETY: the canary page is mapped, live for ever, and `offset` is inside it.
            let byte = unsafe { ((page as *const u8).add(offset)).read_volatile() };
            byte != pattern(offset)
        })
        .count();
    if changed == 0 {
        log::info!("DMA canary at {page:#x} intact");
    } else {
        log::error!("DMA canary at {page:#x} CORRUPTED: {changed} bytes changed");
    }
}
