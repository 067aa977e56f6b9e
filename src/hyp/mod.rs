//! The hypervisor proper: everything that runs on the target but is not architecture code.
//!
//! Boot flow: `boot` (primary and secondary entry) -> `host` (memory, MMU, GIC) -> `vm`
//! (guest RAM, stage 2, guest DT, images) -> `vcpu` (enter guest). Trap flow: `vectors.S` ->
//! `vcpu::handle_guest_exit` -> `devices` (MMIO by region) / `psci_glue` (HVC) / vGIC.

pub mod boot;
pub mod devices;
pub mod dma;
pub mod driver;
pub mod host;
pub mod leaf;
pub mod msi;
pub mod pci;
pub mod psci_glue;
pub mod reboot;
pub mod vcpu;
pub mod vm;
