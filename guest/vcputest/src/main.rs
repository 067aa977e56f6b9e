//! sluice-vcputest: a bare-metal guest kernel that checks a virtual CPU precisely. Booted as an
//! arm64 Image (x0 = device tree), by sluice as its guest or natively by QEMU `-kernel` (then
//! at EL2: it drops itself to EL1 so both runs see the same EL1). It prints one line per check
//! on the PL011 (`vcputest: PASS ...`, `vcputest: FAIL ...`, `vcputest: SKIP ...`), a last
//! line `vcputest: done checks=N failed=M skipped=K`, and powers off with PSCI SYSTEM_OFF.
//!
//! Checks: IPI ping-pong between every pair of vCPUs (`ipi`), the virtual timer's level as the
//! GIC sees it (`timer`), PSCI CPU_ON/CPU_OFF/AFFINITY_INFO semantics (`psci`), and every
//! feature the ID registers advertise, executed (`idregs`). With `vcputest.probe=SECS` it runs
//! the cross-guest probe instead (`probe`), with `vcputest.bench=N` the exit micro-benchmark
//! (`bench`).
//!
//! Layout: pure logic (`dt`, `platform`, `bootargs`, `features`, `encode`) is target-independent and
//! tested on the host with `cargo test`; the rest only exists in the aarch64 build
//! (`target_os = "none"`): `boot` (entry, EL2 drop, vectors), `arch` (system registers, PSCI,
//! MMU), `console`, `gic`, `smp` (secondary CPUs and their mailboxes) and the checks.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
// On the host only the tests use the pure modules.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

mod bootargs;
mod dt;
mod encode;
mod features;
mod platform;

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
mod bench;
#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod exception;
#[cfg(target_os = "none")]
mod gic;
#[cfg(target_os = "none")]
mod idregs;
#[cfg(target_os = "none")]
mod ipi;
#[cfg(target_os = "none")]
mod probe;
#[cfg(target_os = "none")]
mod psci_check;
#[cfg(target_os = "none")]
mod report;
#[cfg(target_os = "none")]
mod run;
#[cfg(target_os = "none")]
mod smp;
#[cfg(target_os = "none")]
mod timer;

#[cfg(target_os = "none")]
use run::irq_enable_mask;

/// On the host there is nothing to run: the program is a guest kernel.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("vcputest is a guest kernel; build it with scripts/mkvcputest.sh");
    std::process::exit(2);
}
