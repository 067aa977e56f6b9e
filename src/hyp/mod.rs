//! The hypervisor proper: everything that runs on the target but is not architecture code.
//!
//! Four floors; each imports only from the floors below it (and from `arch` and the library):
//!
//! ```text
//!   boot/    boot flow: primary and secondary entry, host bring-up (heap, EL2 MMU, GIC, ITS,
//!            SMMU, secondary CPUs), then the guest
//!   guest/   one guest (`Vm`): RAM and stage 2, vGIC, vITS, virtual PCI bus, console, DMA
//!            view, lifecycle (run, PSCI, reboot), the exit handler and the one MMIO dispatcher
//!   driver/  hardware sluice owns for the whole machine, with no guest in sight: physical
//!            ITS, SMMU, host ECAM and enumeration, function reset, the `Host` that holds them
//!   leaf/    services for every floor: console and log, heap and table frames, guest fault
//!            logging and abort injection, kicks, CPU and stack constants, fatal stops, panic
//!            handler, exit statistics, DMA canary
//! ```
//!
//! Boot flow: `boot::primary_main` -> `boot::host::init` (memory, MMU, GIC) -> `boot::guests`
//! (host PCI enumerated, `partition::plan`, then `guest::vm::create` per planned guest: its RAM,
//! stage 2, guest DT, images; `guest::table` says which CPU runs which guest's vCPU) ->
//! `guest::run` (each CPU enters its guest). Trap flow: `vectors.S`
//! -> `guest::vcpu::handle_guest_exit` -> `guest::mmio` (every trapped access) /
//! `guest::psci` (HVC) / vGIC; physical interrupts -> vGIC, `guest::msi` (LPIs),
//! `guest::uart` (console input), the SMMU driver (faulting streams, stopped by `guest::dma`).

pub mod boot;
pub mod driver;
pub mod guest;
pub mod leaf;
