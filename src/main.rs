//! sluice: a Type-1 Arm64 hypervisor whose reason to exist is PCI(e) passthrough.
//!
//! This binary is the EL2 image. Its layers:
//! - `arch` (src/arch/aarch64): the only code with EL2 instructions, system registers and
//!   device pointers: entry (boot/entry.S), vectors and guest entry/exit, GIC, MMU, firmware.
//! - `hyp` (src/hyp): four floors, each importing only those below it: `boot` (boot flow, host
//!   bring-up) over `guest` (the VM, its exit handler and one MMIO dispatcher, reboot) over
//!   `driver` (physical ITS, SMMU, host ECAM: no guest in sight) over `leaf` (console, heap,
//!   fault injection, kicks, fatal stops, statistics).
//! - the `sluice` library: pure, host-tested logic (trap decoding, page tables, vGIC, PL011,
//!   PSCI, device trees, memory carving, image placement).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
#[path = "arch/aarch64/mod.rs"]
mod arch;

#[cfg(target_os = "none")]
mod hyp;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("sluice is a bare-metal EL2 image: build it with scripts/build.sh, run it with scripts/run.sh");
    std::process::exit(2);
}
