//! Per-vCPU exit counters (lock-free: each vCPU only increments its own row) and printing.

use super::console;
use super::cpus::MAX_CPUS;
use core::sync::atomic::{AtomicU64, Ordering};
use sluice::stats::{write_table, ExitReason, EXIT_REASONS};

static COUNTS: [[AtomicU64; EXIT_REASONS]; MAX_CPUS] =
    [const { [const { AtomicU64::new(0) }; EXIT_REASONS] }; MAX_CPUS];

/// Counts one exit of `vcpu`.
pub fn count(vcpu: usize, reason: ExitReason) {
    if let Some(row) = COUNTS.get(vcpu) {
        row[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// Prints the exit table for `vcpus` vCPUs.
pub fn print(vcpus: usize) {
    let snapshot: alloc::vec::Vec<[u64; EXIT_REASONS]> = COUNTS
        .iter()
        .take(vcpus)
        .map(|row| core::array::from_fn(|i| row[i].load(Ordering::Relaxed)))
        .collect();
    write_table(&snapshot, console::print_line);
}
