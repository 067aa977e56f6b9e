//! Stopping for good: a fatal boot or reboot error, the machine powered off, a CPU halted.
//!
//! The host firmware's conduit is recorded here as soon as the DT has been read, so that a fatal
//! error before the host is up can still power the machine off.

use super::{console, kick};
use crate::arch::firmware;
use core::sync::atomic::{AtomicBool, Ordering};
use sluice::psci;

/// The host firmware's conduit as soon as the DT has been read (before `Host` exists, a
/// fatal error still needs it to power off). SMC until then.
static FIRMWARE_USES_HVC: AtomicBool = AtomicBool::new(false);

/// Records how the host firmware is called.
pub fn set_firmware_conduit(method: sluice::platform::Conduit) {
    FIRMWARE_USES_HVC.store(method == sluice::platform::Conduit::Hvc, Ordering::Relaxed);
}

fn firmware_conduit() -> firmware::Conduit {
    if FIRMWARE_USES_HVC.load(Ordering::Relaxed) {
        firmware::Conduit::Hvc
    } else {
        firmware::Conduit::Smc
    }
}

/// Powers the machine off through host PSCI; stops the CPU if the firmware returns.
pub fn power_off_or_halt() -> ! {
    let _ = firmware::call(firmware_conduit(), psci::HOST_SYSTEM_OFF, 0, 0, 0);
    halt()
}

/// An error sluice cannot go on after, with a console: one line, then power off (or stop, if
/// even that fails).
pub fn fatal(args: core::fmt::Arguments) -> ! {
    console::print_line(format_args!("FATAL: {args}"));
    power_off_or_halt()
}

/// Stops this CPU for good.
pub fn halt() -> ! {
    loop {
        kick::sleep_while(|| true);
    }
}
