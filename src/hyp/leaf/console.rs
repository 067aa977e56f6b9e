//! The hypervisor console: sluice's log and every guest's console output share one physical
//! UART, through the console multiplexer (`sluice::conmux`) once the guests exist.
//!
//! Every sluice line starts with [`PREFIX`] and begins on a fresh line even when a guest is in
//! the middle of one, so the streams stay apart on the serial output; with several guests each
//! guest line carries the guest's name, and typed input goes to one guest at a time.

use crate::arch::uart::Pl011;
use core::fmt::{self, Write};
use sluice::conmux::{ConsoleMux, InputEffect, Output};
use spin::Mutex;

/// What starts every line sluice prints.
pub const PREFIX: &str = "[sluice] ";

struct Console {
    uart: Option<Pl011>,
    /// Before the guests exist only sluice writes, and its lines always end.
    mux: Option<ConsoleMux>,
}

static CONSOLE: Mutex<Console> = Mutex::new(Console {
    uart: None,
    mux: None,
});

impl Console {
    fn put(&mut self, byte: u8) {
        if let Some(uart) = &self.uart {
            if byte == b'\n' {
                uart.put_byte(b'\r');
            }
            uart.put_byte(byte);
        }
    }

    /// Writes the multiplexer's bytes as they are (it adds its own CR LFs).
    fn put_raw(&self, out: &Output) {
        if let Some(uart) = &self.uart {
            out.as_bytes().iter().for_each(|&b| uart.put_byte(b));
        }
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

/// Hands the console to the multiplexer of the guests (installed once they exist).
pub fn install_mux(mux: ConsoleMux) {
    CONSOLE.lock().mux = Some(mux);
}

/// Prints one sluice line: prefix, message, newline.
pub fn print_line(args: fmt::Arguments) {
    let mut console = CONSOLE.lock();
    if let Some(out) = console.mux.as_mut().map(|m| m.before_sluice_line()) {
        console.put_raw(&out);
    }
    let _ = console.write_str(PREFIX);
    let _ = console.write_fmt(args);
    console.put(b'\n');
}

/// Forwards one byte guest `guest` wrote to its UART (the guest's driver sends its own CRs).
pub fn guest_output(guest: usize, byte: u8) {
    let mut console = CONSOLE.lock();
    if let Some(out) = console.mux.as_mut().map(|m| m.output(guest, byte)) {
        console.put_raw(&out);
    }
}

/// Drains bytes typed on the physical console through the multiplexer: one effect per byte
/// (which guest gets what, and what sluice must do).
pub fn take_input(mut sink: impl FnMut(InputEffect)) {
    let mut console = CONSOLE.lock();
    let Console { uart, mux } = &mut *console;
    if let (Some(uart), Some(mux)) = (uart, mux) {
        while let Some(byte) = uart.get_byte() {
            sink(mux.input(byte));
        }
    }
}

/// Applies `change` to the multiplexer (a guest rebooted, stopped, a focus announcement was
/// printed) and writes what it returns.
pub fn with_mux(change: impl FnOnce(&mut ConsoleMux) -> Output) {
    let mut console = CONSOLE.lock();
    if let Some(out) = console.mux.as_mut().map(change) {
        console.put_raw(&out);
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
