//! Translation-table frames for the page-table builder: 4 KiB pages, identity mapped, so a
//! table's physical address is also the pointer sluice uses to edit it.

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use sluice::mm::pagetable::TableMemory;

const TABLE_BYTES: usize = 4096;

/// Tables allocated from the heap (which is identity-mapped RAM).
pub struct HeapTables;

fn table_layout(count: usize) -> Layout {
    // 4 KiB granule tables; a concatenated stage-2 root needs `count` contiguous tables aligned
    // to its whole size.
    let bytes = TABLE_BYTES * count;
    Layout::from_size_align(bytes, bytes.next_power_of_two()).expect("table layout is valid")
}

impl TableMemory for HeapTables {
    fn alloc_table(&mut self) -> Option<u64> {
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(table_layout(1)) };
        (!ptr.is_null()).then_some(ptr as u64)
    }

    fn free_table(&mut self, table_phys: u64) {
        // SAFETY: `table_phys` came from `alloc_table` with the same layout (the builder only
        // frees tables it allocated).
        unsafe { dealloc(table_phys as *mut u8, table_layout(1)) };
    }

    fn read_entry(&self, table_phys: u64, index: usize) -> u64 {
        // SAFETY: `table_phys` is a live table from `alloc_table`; index < 512 (builder invariant).
        unsafe { core::ptr::read_volatile((table_phys as *const u64).add(index % 512)) }
    }

    fn write_entry(&mut self, table_phys: u64, index: usize, value: u64) {
        // SAFETY: as for `read_entry`; the DSB makes the new descriptor visible to the table
        // walker before any TLB maintenance the caller issues.
        unsafe {
            core::ptr::write_volatile((table_phys as *mut u64).add(index % 512), value);
            core::arch::asm!("dsb ishst", options(nostack));
        }
    }
}
