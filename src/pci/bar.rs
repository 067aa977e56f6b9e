//! Base address registers: decoding, sizing arithmetic, and handing out host addresses from a
//! host bridge window (PCI Local Bus 3.0, 6.2.5).
#![forbid(unsafe_code)]

use crate::mm::PhysRange;

/// BAR bit 0: I/O space.
pub const BAR_IO: u32 = 1 << 0;
/// BAR bits 2:1 = 0b10: 64-bit memory BAR.
pub const BAR_MEM_TYPE_64: u32 = 0b10 << 1;
/// BAR bit 3: prefetchable.
pub const BAR_PREFETCH: u32 = 1 << 3;
/// Flag bits of a memory BAR.
pub const BAR_MEM_FLAGS: u32 = 0xf;
/// Flag bits of an I/O BAR.
pub const BAR_IO_FLAGS: u32 = 0x3;
/// Expansion ROM BAR: enable bit.
pub const ROM_ENABLE: u32 = 1;
/// Expansion ROM BAR: address bits.
pub const ROM_ADDRESS_MASK: u32 = 0xffff_f800;
/// Number of BARs in a type 0 header.
pub const BAR_COUNT: usize = 6;
/// Granule every BAR is aligned to, so that no two BARs share a stage-2 page.
pub const BAR_MIN_ALIGN: u64 = 4096;

/// What kind of space a BAR decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    /// 32-bit memory.
    Memory32,
    /// 64-bit memory (takes this BAR and the next).
    Memory64,
    /// I/O ports.
    Io,
    /// Expansion ROM.
    Rom,
}

/// A sized BAR of a real function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    /// BAR number (0..5; 6 for the ROM).
    pub index: u8,
    /// What it decodes.
    pub kind: BarKind,
    /// Prefetchable memory.
    pub prefetchable: bool,
    /// Size in bytes (a power of two).
    pub size_bytes: u64,
    /// Host physical address it is assigned to (CPU view).
    pub host_phys: u64,
}

impl Bar {
    /// The low flag bits a guest must read back (type, prefetchable).
    pub fn flag_bits(&self) -> u32 {
        match self.kind {
            BarKind::Memory32 => {
                if self.prefetchable {
                    BAR_PREFETCH
                } else {
                    0
                }
            }
            BarKind::Memory64 => BAR_MEM_TYPE_64 | if self.prefetchable { BAR_PREFETCH } else { 0 },
            BarKind::Io => BAR_IO,
            BarKind::Rom => 0,
        }
    }

    /// The host range it occupies.
    pub fn host_range(&self) -> PhysRange {
        PhysRange::new(self.host_phys, self.size_bytes)
    }
}

/// Size of a BAR from what it reads back after all-ones was written (`low` is the BAR dword,
/// `high` the next one for a 64-bit BAR). None when the BAR is not implemented.
pub fn size_from_probe(low: u32, high: Option<u32>, kind: BarKind) -> Option<u64> {
    let flag_mask = match kind {
        BarKind::Io => BAR_IO_FLAGS,
        BarKind::Rom => !ROM_ADDRESS_MASK,
        _ => BAR_MEM_FLAGS,
    };
    let mut low_mask = low & !flag_mask;
    if kind == BarKind::Io && low_mask != 0 && low_mask >> 16 == 0 {
        low_mask |= 0xffff_0000; // a 16-bit I/O decoder reads its upper half as zero
    }
    let mut mask = low_mask as u64;
    match high {
        Some(h) => mask |= (h as u64) << 32,
        None => mask |= 0xffff_ffff_0000_0000,
    }
    if mask & 0xffff_ffff == 0 && high.is_none_or(|h| h == 0) {
        return None;
    }
    let size = (!mask).wrapping_add(1);
    (size != 0 && size.is_power_of_two()).then_some(size)
}

/// Kind of a BAR from its current low dword.
pub fn kind_of(low: u32) -> BarKind {
    if low & BAR_IO != 0 {
        BarKind::Io
    } else if low & 0b110 == BAR_MEM_TYPE_64 {
        BarKind::Memory64
    } else {
        BarKind::Memory32
    }
}

/// A host bridge memory window that BARs are carved from, bump-allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// CPU addresses of the window.
    pub cpu: PhysRange,
    /// PCI bus address of its start.
    pub pci_base: u64,
    /// First free CPU address.
    next: u64,
}

impl Window {
    /// A window with nothing allocated.
    pub fn new(cpu: PhysRange, pci_base: u64) -> Self {
        Self {
            cpu,
            pci_base,
            next: cpu.start,
        }
    }

    /// Allocates `size` bytes aligned to `align` (both powers of two); returns the CPU address.
    pub fn allocate(&mut self, size: u64, align: u64) -> Option<u64> {
        let start = self
            .next
            .checked_next_multiple_of(align.max(BAR_MIN_ALIGN))?;
        let end = start.checked_add(size.max(BAR_MIN_ALIGN))?;
        if end > self.cpu.end_exclusive()? {
            return None;
        }
        self.next = end;
        Some(start)
    }

    /// Keeps `range` (a firmware assignment) out of later allocations.
    pub fn reserve(&mut self, range: PhysRange) {
        if let Some(end) = range
            .end_exclusive()
            .filter(|&e| e > self.next && self.cpu.contains(range.start))
        {
            self.next = end;
        }
    }

    /// Moves the free pointer up to `align` (bridge windows are 1 MiB granular).
    pub fn align_to(&mut self, align: u64) -> u64 {
        self.next = self
            .next
            .checked_next_multiple_of(align)
            .unwrap_or(self.next)
            .min(self.cpu.end_exclusive().unwrap_or(u64::MAX));
        self.next
    }

    /// The PCI bus address of CPU address `cpu_addr` in this window.
    pub fn bus_address(&self, cpu_addr: u64) -> u64 {
        cpu_addr - self.cpu.start + self.pci_base
    }

    /// The CPU address of bus address `bus_addr`, if it lies in the window.
    pub fn cpu_address(&self, bus_addr: u64, size: u64) -> Option<u64> {
        let cpu = bus_addr
            .checked_sub(self.pci_base)?
            .checked_add(self.cpu.start)?;
        self.cpu.contains_span(cpu, size).then_some(cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_of_a_128k_memory_bar_gives_its_size() {
        assert_eq!(
            size_from_probe(0xfffe_0000, None, BarKind::Memory32),
            Some(128 << 10)
        );
        assert_eq!(
            size_from_probe(0xfffe_0008, None, BarKind::Memory32),
            Some(128 << 10)
        );
    }

    #[test]
    fn probe_of_a_64_bit_bar_uses_both_dwords() {
        assert_eq!(
            size_from_probe(0xffff_c00c, Some(0xffff_ffff), BarKind::Memory64),
            Some(16 << 10)
        );
        assert_eq!(
            size_from_probe(0x0000_000c, Some(0xffff_fffe), BarKind::Memory64),
            Some(8 << 30)
        );
    }

    #[test]
    fn unimplemented_bars_and_odd_masks_have_no_size() {
        assert_eq!(size_from_probe(0, None, BarKind::Memory32), None);
        assert_eq!(size_from_probe(0, Some(0), BarKind::Memory64), None);
        assert_eq!(size_from_probe(0xffff_ff01, None, BarKind::Io), Some(0x100));
        assert_eq!(size_from_probe(0x0000_ffe1, None, BarKind::Io), Some(0x20));
        assert_eq!(
            size_from_probe(0xfffe_f000, None, BarKind::Memory32),
            None,
            "holes in the mask"
        );
    }

    #[test]
    fn rom_probe_ignores_the_enable_bit() {
        assert_eq!(
            size_from_probe(0xffff_0001, None, BarKind::Rom),
            Some(64 << 10)
        );
    }

    #[test]
    fn kinds_and_flags_round_trip() {
        assert_eq!(kind_of(0xc), BarKind::Memory64);
        assert_eq!(kind_of(0x1), BarKind::Io);
        assert_eq!(kind_of(0x8), BarKind::Memory32);
        let bar = Bar {
            index: 2,
            kind: BarKind::Memory64,
            prefetchable: true,
            size_bytes: 0x4000,
            host_phys: 0,
        };
        assert_eq!(bar.flag_bits(), 0xc);
    }

    #[test]
    fn window_allocations_are_aligned_page_granular_and_bounded() {
        let mut w = Window::new(PhysRange::new(0x1000_0000, 0x10_0000), 0x1000_0000);
        assert_eq!(w.allocate(0x100, 0x100), Some(0x1000_0000));
        assert_eq!(
            w.allocate(0x2_0000, 0x2_0000),
            Some(0x1002_0000),
            "small BARs still take a page"
        );
        assert_eq!(w.allocate(0x10_0000, 0x10_0000), None);
        assert_eq!(w.bus_address(0x1002_0000), 0x1002_0000);
        assert_eq!(w.cpu_address(0x1002_0000, 0x2_0000), Some(0x1002_0000));
        assert_eq!(w.cpu_address(0x2000_0000, 4), None);
    }
}
