//! The verdict lines and their tally: `PASS`, `FAIL` and `SKIP` lines, then `done`.

use crate::console::say;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

static CHECKS: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);
static SKIPPED: AtomicU32 = AtomicU32::new(0);

/// One check's verdict line.
pub fn verdict(ok: bool, args: fmt::Arguments) {
    CHECKS.fetch_add(1, Ordering::Relaxed);
    if ok {
        say!("PASS {args}");
    } else {
        FAILED.fetch_add(1, Ordering::Relaxed);
        say!("FAIL {args}");
    }
}

/// A check that could not run here, and why.
pub fn skipped(args: fmt::Arguments) {
    SKIPPED.fetch_add(1, Ordering::Relaxed);
    say!("SKIP {args}");
}

/// The last line.
pub fn done() {
    say!(
        "done checks={} failed={} skipped={}",
        CHECKS.load(Ordering::Relaxed),
        FAILED.load(Ordering::Relaxed),
        SKIPPED.load(Ordering::Relaxed)
    );
}

/// `check!(ok, "fmt", args..)`: a PASS or FAIL line.
macro_rules! check {
    ($ok:expr, $($arg:tt)*) => { $crate::report::verdict($ok, format_args!($($arg)*)) };
}
/// `skip!("fmt", args..)`: a SKIP line.
macro_rules! skip {
    ($($arg:tt)*) => { $crate::report::skipped(format_args!($($arg)*)) };
}
pub(crate) use {check, skip};
