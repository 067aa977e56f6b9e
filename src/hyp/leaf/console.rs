//! The hypervisor console: sluice's log and the guest's console output share one physical UART.
//!
//! Every sluice line starts with [`PREFIX`] and begins on a fresh line even when the guest is in
//! the middle of one, so the two streams stay apart on the serial output.

use crate::arch::uart::Pl011;
use core::fmt::{self, Write};
use spin::Mutex;

/// What starts every line sluice prints.
pub const PREFIX: &str = "[sluice] ";

struct Console {
    uart: Option<Pl011>,
    at_line_start: bool,
}

static CONSOLE: Mutex<Console> = Mutex::new(Console {
    uart: None,
    at_line_start: true,
});

impl Console {
    fn put(&mut self, byte: u8) {
        if let Some(uart) = &self.uart {
            if byte == b'\n' {
                uart.put_byte(b'\r');
            }
            uart.put_byte(byte);
        }
        self.at_line_start = byte == b'\n';
    }
}

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(|b| self.put(b));
        Ok(())
    }
}

/// Starts the console on `uart` (the one the host DT's stdout-path names).
pub fn init(uart: Pl011) {
    CONSOLE.lock().uart = Some(uart);
}

/// Prints one sluice line: prefix, message, newline.
pub fn print_line(args: fmt::Arguments) {
    let mut console = CONSOLE.lock();
    if !console.at_line_start {
        console.put(b'\n');
    }
    let _ = console.write_str(PREFIX);
    let _ = console.write_fmt(args);
    console.put(b'\n');
}

/// Forwards one byte the guest wrote to its UART.
pub fn guest_output(byte: u8) {
    let mut console = CONSOLE.lock();
    if byte == b'\n' {
        // The guest's driver sends its own CR; only line tracking is needed here.
        if let Some(uart) = &console.uart {
            uart.put_byte(b'\n');
        }
        console.at_line_start = true;
    } else {
        if let Some(uart) = &console.uart {
            uart.put_byte(byte);
        }
        console.at_line_start = false;
    }
}

/// Drains bytes typed on the physical console.
pub fn take_input(mut sink: impl FnMut(u8)) {
    let console = CONSOLE.lock();
    if let Some(uart) = &console.uart {
        while let Some(byte) = uart.get_byte() {
            sink(byte);
        }
    }
}

/// Turns on the physical UART's receive interrupt.
pub fn enable_input_interrupt() {
    if let Some(uart) = &CONSOLE.lock().uart {
        uart.enable_rx_interrupt();
    }
}

/// Breaks the console lock after a panic on another CPU, so the panic message gets out.
pub fn force_unlock() {
    // SAFETY: only called from the panic path, after which the lock holder never runs again
    // on this CPU; interleaved output is acceptable there, a deadlock is not.
    unsafe { CONSOLE.force_unlock() };
}

/// The `log` back end: levels map to a word after the prefix (info lines carry none).
struct Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        match record.level() {
            log::Level::Info => print_line(*record.args()),
            level => print_line(format_args!("{}: {}", level.as_str(), record.args())),
        }
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Installs the logger at `level`.
pub fn init_log(level: log::LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
