//! The PL011 console (PrimeCell UART PL011 TRM, 3.3): polled transmit only, one line at a
//! time under a lock so the CPUs' lines never interleave.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Data register.
const UARTDR: usize = 0x000;
/// Flag register.
const UARTFR: usize = 0x018;
/// UARTFR: transmit FIFO full.
const FR_TXFF: u32 = 1 << 5;

static BASE: AtomicUsize = AtomicUsize::new(0);
static LOCK: AtomicBool = AtomicBool::new(false);

/// Points the console at the PL011 the DT's stdout-path names.
pub fn init(base: u64) {
    BASE.store(base as usize, Ordering::Relaxed);
}

struct Uart(usize);

impl Uart {
    fn put(&self, byte: u8) {
        // SAFETY: `self.0` is the PL011 from the device tree, mapped as Device memory (or
        // reached with the MMU off); UARTFR and UARTDR are 32-bit registers.
        unsafe {
            while crate::arch::mmio_read32((self.0 + UARTFR) as u64) & FR_TXFF != 0 {}
            crate::arch::mmio_write32((self.0 + UARTDR) as u64, byte as u32);
        }
    }
}

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
        Ok(())
    }
}

/// Prints `vcputest: ` + `args` + newline, atomically with respect to other CPUs.
pub fn line(args: fmt::Arguments) {
    let base = BASE.load(Ordering::Relaxed);
    if base == 0 {
        return;
    }
    while LOCK
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    let _ = Uart(base).write_fmt(format_args!("vcputest: {args}\n"));
    LOCK.store(false, Ordering::Release);
}

/// Prints one `vcputest: ` line.
macro_rules! say {
    ($($arg:tt)*) => { $crate::console::line(format_args!($($arg)*)) };
}
pub(crate) use say;
