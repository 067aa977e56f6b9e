//! PCI(e) configuration space: register offsets (PCI Local Bus 3.0 and PCIe Base 4.0, chapter 7),
//! addressing, and the host-side work sluice does as the hardware domain: enumerating buses
//! through ECAM, sizing and assigning BARs from the host bridge's windows, quiescing devices.
//! Pure logic over a [`ConfigAccess`] seam, so it runs against a model in host tests.
#![forbid(unsafe_code)]

pub mod bar;
pub mod enumerate;
pub mod regs;
pub mod reset;

use core::fmt;

/// Bus, device, function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// Bus number.
    pub bus: u8,
    /// Device number, 0..31.
    pub device: u8,
    /// Function number, 0..7.
    pub function: u8,
}

impl Bdf {
    /// A BDF from its parts (device and function are masked to their widths).
    pub const fn new(bus: u8, device: u8, function: u8) -> Self {
        Self {
            bus,
            device: device & 0x1f,
            function: function & 0x7,
        }
    }

    /// The 16-bit requester ID.
    pub const fn requester_id(&self) -> u16 {
        (self.bus as u16) << 8 | (self.device as u16) << 3 | self.function as u16
    }

    /// Offset of this function's 4 KiB in an ECAM window starting at bus `first_bus`.
    pub fn ecam_offset(&self, first_bus: u8) -> u64 {
        ((self.bus.wrapping_sub(first_bus) as u64) << 20)
            | (self.device as u64) << 15
            | (self.function as u64) << 12
    }
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// Configuration-space access to real functions (ECAM on the target, a model in tests).
/// Offsets are 4-byte aligned; narrower accesses are composed by callers.
pub trait ConfigAccess {
    /// Reads the dword at `offset` (0..4096) of `bdf`; all-ones for an absent function.
    fn read32(&self, bdf: Bdf, offset: u16) -> u32;
    /// Writes the dword at `offset` of `bdf`.
    fn write32(&self, bdf: Bdf, offset: u16, value: u32);

    /// Reads a 16-bit register (offset 2-byte aligned).
    fn read16(&self, bdf: Bdf, offset: u16) -> u16 {
        (self.read32(bdf, offset & !3) >> (8 * (offset & 2))) as u16
    }

    /// Reads a byte register.
    fn read8(&self, bdf: Bdf, offset: u16) -> u8 {
        (self.read32(bdf, offset & !3) >> (8 * (offset & 3))) as u8
    }

    /// Writes a 16-bit register with a read-modify-write of its dword. Callers must not use
    /// this on dwords holding RW1C bits they do not mean to clear (PCI_STATUS shares a dword
    /// with PCI_COMMAND: use [`ConfigAccess::write_command`]).
    fn write16(&self, bdf: Bdf, offset: u16, value: u16) {
        let shift = 8 * (offset & 2);
        let old = self.read32(bdf, offset & !3) & !(0xffff << shift);
        self.write32(bdf, offset & !3, old | (value as u32) << shift);
    }

    /// Writes PCI_COMMAND without touching PCI_STATUS (whose RW1C bits a read-modify-write
    /// would clear).
    fn write_command(&self, bdf: Bdf, command: u16) {
        self.write32(bdf, regs::COMMAND, command as u32);
    }
}
