//! Translation-table frames for the page-table builder: 4 KiB pages, identity mapped, so a
//! table's physical address is also the pointer sluice uses to edit it.

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use sluice::mm::pagetable::TableMemory;

const TABLE_BYTES: usize = 4096;

/// Tables allocated from the heap (which is identity-mapped RAM).
pub struct HeapTables {
    /// Whether the tables are a live stage 2 whose TLB entries must be invalidated when an
    /// entry is broken (block splits use break-before-make).
    pub live_stage2: bool,
    /// Whether a walker that does not snoop the CPU caches reads them (a non-coherent SMMU):
    /// every new table and every written entry is then cleaned to the point of coherency.
    pub noncoherent_walker: bool,
}

impl HeapTables {
    /// For tables nothing walks yet, or the EL2 map built before the MMU is on.
    pub const BUILDING: Self = Self {
        live_stage2: false,
        noncoherent_walker: false,
    };
    /// For the stage 2 of a running guest.
    pub const LIVE_STAGE2: Self = Self {
        live_stage2: true,
        noncoherent_walker: false,
    };
    /// For tables a device walks, coherently or not.
    pub const fn device_walked(coherent: bool) -> Self {
        Self {
            live_stage2: false,
            noncoherent_walker: !coherent,
        }
    }
}

fn table_layout(count: usize) -> Layout {
    // 4 KiB granule tables; a concatenated stage-2 root needs `count` contiguous tables aligned
    // to its whole size.
    let bytes = TABLE_BYTES * count;
    Layout::from_size_align(bytes, bytes.next_power_of_two()).expect("table layout is valid")
}

impl TableMemory for HeapTables {
    fn alloc_tables_contiguous(&mut self, count: usize) -> Option<u64> {
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(table_layout(count)) };
        if !ptr.is_null() && self.noncoherent_walker {
            crate::arch::cpu::clean_dcache_range(ptr as u64, (TABLE_BYTES * count) as u64);
        }
        (!ptr.is_null()).then_some(ptr as u64)
    }

    fn free_tables_contiguous(&mut self, first_phys: u64, count: usize) {
        // SAFETY: `first_phys` came from `alloc_tables_contiguous(count)`, so the layout matches
        // (the builder frees exactly what it allocated, with the same count).
        unsafe { dealloc(first_phys as *mut u8, table_layout(count)) };
    }

    fn read_entry(&self, table_phys: u64, index: usize) -> u64 {
        // SAFETY: `table_phys` is a live table from `alloc_table`; index < 512 (builder invariant).
        unsafe { core::ptr::read_volatile((table_phys as *const u64).add(index % 512)) }
    }

    fn invalidate_tlb(&mut self, input_addr: u64, size_bytes: u64) {
        if self.live_stage2 {
            crate::arch::mmu::invalidate_stage2_range(input_addr, size_bytes);
        }
    }

    fn write_entry(&mut self, table_phys: u64, index: usize, value: u64) {
        // SAFETY: as for `read_entry`; the DSB makes the new descriptor visible to the table
        // walker before any TLB maintenance the caller issues.
        unsafe {
            core::ptr::write_volatile((table_phys as *mut u64).add(index % 512), value);
            core::arch::asm!("dsb ishst", options(nostack));
        }
        if self.noncoherent_walker {
            crate::arch::cpu::clean_dcache_range(table_phys + (index % 512) as u64 * 8, 8);
        }
    }
}
