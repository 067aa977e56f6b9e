//! A BAR as the guest sees it: the real size and flags, a guest-chosen address.
#![forbid(unsafe_code)]

use crate::pci::bar::{Bar, BarKind};

/// The guest's view of one memory BAR of an assigned function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualBar {
    /// The real BAR behind it.
    pub host: Bar,
    /// Address the guest programmed (CPU view of the guest, i.e. an IPA).
    pub guest_phys: u64,
}

impl VirtualBar {
    /// A BAR the guest has not programmed yet.
    pub fn new(host: Bar) -> Self {
        Self {
            host,
            guest_phys: 0,
        }
    }

    fn address_mask(&self) -> u64 {
        !(self.host.size_bytes.max(1) - 1)
    }

    /// The dword at `upper` (false: the BAR register, true: the upper half of a 64-bit BAR).
    pub fn read(&self, upper: bool) -> u32 {
        let value = (self.guest_phys & self.address_mask()) | self.host.flag_bits() as u64;
        if upper {
            (value >> 32) as u32
        } else {
            value as u32
        }
    }

    /// The guest writes one dword; size probing is writing all-ones and reading back the mask.
    pub fn write(&mut self, upper: bool, value: u32) {
        let mask = self.address_mask();
        self.guest_phys = if upper {
            (self.guest_phys & 0xffff_ffff) | (value as u64) << 32
        } else {
            (self.guest_phys & !0xffff_ffff) | (value & !0xf) as u64
        } & mask;
        if self.host.kind == BarKind::Memory32 {
            self.guest_phys &= 0xffff_ffff;
        }
    }

    /// Whether the guest's address can be mapped: programmed, not the size-probe pattern.
    pub fn is_placed(&self) -> bool {
        let probe = self.address_mask()
            & if self.host.kind == BarKind::Memory64 {
                u64::MAX
            } else {
                0xffff_ffff
            };
        self.guest_phys != 0 && self.guest_phys != probe
    }

    /// Bytes mapped in stage 2 for it: the size rounded up to whole pages.
    pub fn mapped_bytes(&self) -> u64 {
        self.host.size_bytes.next_multiple_of(4096)
    }
}
