//! The one place that dereferences device addresses.

/// What a fallible accessor in `fallible.S` returns: the value read (x0) and whether the
/// device answered with an abort (x1).
#[repr(C)]
struct Fallible {
    value: u64,
    failed: u64,
}

extern "C" {
    fn fallible_read8(addr: usize) -> Fallible;
    fn fallible_read16(addr: usize) -> Fallible;
    fn fallible_read32(addr: usize) -> Fallible;
    fn fallible_read64(addr: usize) -> Fallible;
    fn fallible_write8(addr: usize, value: u64) -> Fallible;
    fn fallible_write16(addr: usize, value: u64) -> Fallible;
    fn fallible_write32(addr: usize, value: u64) -> Fallible;
    fn fallible_write64(addr: usize, value: u64) -> Fallible;
}

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

    /// Writes a byte register.
    pub fn write8(&self, offset: usize, value: u8) {
        // SAFETY: as for `read32`.
        unsafe { core::ptr::write_volatile((self.0 + offset) as *mut u8, value) }
    }

    /// Reads `width` (1, 2, 4 or 8) bytes at `offset` on a guest's behalf; `None` when the
    /// device answered with an abort (the EL2 fixup in `fallible.S` turns it into a failure
    /// instead of a hypervisor panic).
    pub fn try_read(&self, offset: usize, width: u8) -> Option<u64> {
        let addr = self.0 + offset;
        // SAFETY: `new`'s contract makes `addr` a mapped device register; the accessor is one
        // load whose abort, if any, is fixed up and reported in `failed`.
        let r = unsafe {
            match width {
                1 => fallible_read8(addr),
                2 => fallible_read16(addr),
                8 => fallible_read64(addr),
                _ => fallible_read32(addr),
            }
        };
        (r.failed == 0).then_some(r.value)
    }

    /// Writes `width` bytes of `value` at `offset` on a guest's behalf; false when the device
    /// answered with an abort.
    pub fn try_write(&self, offset: usize, width: u8, value: u64) -> bool {
        let addr = self.0 + offset;
        // SAFETY: as for `try_read`: one store to a mapped device register, aborts fixed up.
        let r = unsafe {
            match width {
                1 => fallible_write8(addr, value),
                2 => fallible_write16(addr, value),
                8 => fallible_write64(addr, value),
                _ => fallible_write32(addr, value),
            }
        };
        r.failed == 0
    }
}
