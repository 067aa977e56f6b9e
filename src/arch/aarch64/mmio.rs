//! The one place that dereferences device addresses.

/// A device register block at a fixed, identity-mapped physical address.
#[derive(Clone, Copy, Debug)]
pub struct MmioBase(usize);

impl MmioBase {
    /// # Safety
    /// `base` must be the address of a device register block, mapped as Device memory (or the
    /// MMU off), valid for every offset the caller later reads or writes.
    pub const unsafe fn new(base: usize) -> Self {
        Self(base)
    }

    /// The base address.
    pub fn addr(&self) -> usize {
        self.0
    }

    /// Reads a 16-bit register.
    pub fn read16(&self, offset: usize) -> u16 {
        // SAFETY: as for `read32`.
        unsafe { core::ptr::read_volatile((self.0 + offset) as *const u16) }
    }

    /// Writes a 16-bit register.
    pub fn write16(&self, offset: usize, value: u16) {
        // SAFETY: as for `read32`.
        unsafe { core::ptr::write_volatile((self.0 + offset) as *mut u16, value) }
    }

    /// Reads a 32-bit register.
    pub fn read32(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract makes base + offset a mapped device register.
        unsafe { core::ptr::read_volatile((self.0 + offset) as *const u32) }
    }

    /// Writes a 32-bit register.
    pub fn write32(&self, offset: usize, value: u32) {
        // SAFETY: as for `read32`.
        unsafe { core::ptr::write_volatile((self.0 + offset) as *mut u32, value) }
    }

    /// Reads a 64-bit register.
    pub fn read64(&self, offset: usize) -> u64 {
        // SAFETY: as for `read32`.
        unsafe { core::ptr::read_volatile((self.0 + offset) as *const u64) }
    }

    /// Writes a 64-bit register.
    pub fn write64(&self, offset: usize, value: u64) {
        // SAFETY: as for `read32`.
        unsafe { core::ptr::write_volatile((self.0 + offset) as *mut u64, value) }
    }

    /// Reads a byte register.
    pub fn read8(&self, offset: usize) -> u8 {
        // SAFETY: as for `read32`.
        unsafe { core::ptr::read_volatile((self.0 + offset) as *const u8) }
    }

    /// Writes a byte register.
    pub fn write8(&self, offset: usize, value: u8) {
        // SAFETY: as for `read32`.
        unsafe { core::ptr::write_volatile((self.0 + offset) as *mut u8, value) }
    }
}
