//! sluice: a Type-1 Arm64 hypervisor whose reason to exist is PCI(e) passthrough.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod board;
pub mod bootargs;
pub mod bootprof;
pub mod conmux;
pub mod cpuid;
pub mod gicv3;
pub mod guestdt;
pub mod guestmap;
pub mod its;
pub mod loader;
pub mod mm;
pub mod partition;
pub mod pci;
pub mod platform;
pub mod psci;
pub mod ratelimit;
pub mod smmu;
pub mod stats;
pub mod trap;
pub mod vgic;
pub mod vpci;
pub mod vuart;
