//! sluice-guestfuzz: a hostile guest. A static aarch64 Linux program with no libc that, for a
//! bounded time, makes random accesses of every width to what sluice emulates for its guest
//! (GICD, GICR, ITS, UART, PCI config space through ECAM, MSI-X table and PBA pages) and to
//! addresses its device tree does not describe, counts the aborts sluice injects (delivered
//! as SIGBUS, skipped by its own handler), puts its own interrupt controller and devices back
//! after every write, and prints one summary line.
//!
//! Layout: pure logic (`rng`, `text`, `dt`, `pcidev`, `policy`, `cfgplan`) is
//! target-independent and tested on the host with `cargo test`; `sys` (syscalls), `access`
//! (the load/store instructions and the fault handler), `discover` (DT and sysfs), `fuzz` (the
//! loop) and `cfgfuzz` (the config burst) only exist in the aarch64 guest build
//! (`target_os = "none"`: no OS below us but Linux's ABI).
//!
//! Usage in the guest (needs /dev/mem and `iomem=relaxed`):
//! - `guestfuzz SECONDS [SEED|random [trace]]`: the fuzzer above;
//! - `guestfuzz cfgfuzz COUNT [SEED|random [trace]]`: COUNT random config writes and nothing
//!   else, the burst of the demo init's `sluice.cfgfuzz=N` (see `cfgplan`);
//! - `guestfuzz pair ADDR`: one LDP at ADDR, an access without syndrome (see `pair`).
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
// On the host only the tests use the pure modules.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

mod cfgplan;
mod dt;
mod pcidev;
mod policy;
mod rng;
mod text;

#[cfg(target_os = "none")]
mod access;
#[cfg(target_os = "none")]
mod cfgfuzz;
#[cfg(target_os = "none")]
mod discover;
#[cfg(target_os = "none")]
mod fuzz;
#[cfg(target_os = "none")]
mod pair;
#[cfg(target_os = "none")]
mod rt;
#[cfg(target_os = "none")]
mod sys;

/// On the host there is nothing to fuzz: the program only runs inside the aarch64 guest.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("guestfuzz runs inside the aarch64 guest; build it with scripts/mkfuzzinitramfs.sh");
    std::process::exit(2);
}
