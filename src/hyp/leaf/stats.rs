//! Exit counters per physical CPU (lock-free: each CPU only increments its own row) and
//! printing. With one guest on every CPU, row `i` is vCPU `i`'s.

use super::console;
use super::cpus::MAX_CPUS;
use core::sync::atomic::{AtomicU64, Ordering};
use sluice::stats::{write_table, ExitReason, EXIT_REASONS};

static COUNTS: [[AtomicU64; EXIT_REASONS]; MAX_CPUS] =
    [const { [const { AtomicU64::new(0) }; EXIT_REASONS] }; MAX_CPUS];

/// Counts one exit on physical CPU `cpu`.
pub fn count(cpu: usize, reason: ExitReason) {
    if let Some(row) = COUNTS.get(cpu) {
        row[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// Prints the exit table of the first `cpus` physical CPUs.
pub fn print(cpus: usize) {
    let snapshot: alloc::vec::Vec<[u64; EXIT_REASONS]> = COUNTS
        .iter()
        .take(cpus)
        .map(|row| core::array::from_fn(|i| row[i].load(Ordering::Relaxed)))
        .collect();
    write_table(&snapshot, console::print_line);
}
