//! The exit micro-benchmark (`vcputest.bench=N`): tight loops of N trapped operations timed
//! with the virtual counter, one line each:
//! `exit bench: NAME iters=N ticks_per_iter=T ns_per_iter=NS` (T with two decimals). The
//! operations: a PSCI_VERSION call (`hvc`, or `smc` natively: the conduit the DT names) and a
//! 32-bit read of the emulated PCI ECAM (`ecam read`, the vendor/device word of 00:00.0); an
//! empty loop (`empty`) gives the loop's own cost. Under a hypervisor each is one exit. Each
//! loop runs `ROUNDS` times and the fastest round is reported (a shared, loaded host only ever
//! makes a round slower), with the slowest next to it.

use crate::arch::{self, counter, counter_hz, psci, psci_call};
use crate::console::say;
use crate::platform::Platform;

/// Runs every loop with `iters` iterations (at least one).
pub fn run(p: &Platform, iters: u32) {
    let iters = iters.max(1);
    say!("info exit bench iters={iters} counter_hz={}", counter_hz());
    report("empty", iters, time(iters, || {}));
    report(
        "psci_version",
        iters,
        time(iters, || {
            psci_call(psci::VERSION, 0, 0, 0);
        }),
    );
    if p.ecam == 0 {
        say!("exit bench: ecam read skipped (no pci-host-ecam-generic node)");
        return;
    }
    let ecam = p.ecam;
    report(
        "ecam read",
        iters,
        time(iters, || {
            // SAFETY: the ECAM base from the DT, inside the identity map's device range; the
            // first word of function 00:00.0's configuration space is always readable.
            core::hint::black_box(unsafe { arch::mmio_read32(ecam) });
        }),
    );
}

/// Rounds of each loop.
const ROUNDS: usize = 5;

/// Counter ticks of the fastest and the slowest of `ROUNDS` rounds of `iters` calls of `f`.
fn time(iters: u32, mut f: impl FnMut()) -> (u64, u64) {
    let (mut best, mut worst) = (u64::MAX, 0);
    for _ in 0..ROUNDS {
        let start = counter();
        for _ in 0..iters {
            f();
        }
        let ticks = counter() - start;
        best = best.min(ticks);
        worst = worst.max(ticks);
    }
    (best, worst)
}

fn report(name: &str, iters: u32, (best, worst): (u64, u64)) {
    let iters = u64::from(iters);
    let centi = best.saturating_mul(100) / iters;
    let ns = |ticks: u64| ticks.saturating_mul(1_000_000_000) / counter_hz() / iters;
    say!(
        "exit bench: {name} iters={iters} ticks_per_iter={}.{:02} ns_per_iter={} worst_ns_per_iter={}",
        centi / 100,
        centi % 100,
        ns(best),
        ns(worst)
    );
}
