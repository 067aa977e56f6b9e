//! The guest's virtual PCI bus: one host bridge, segment 0, bus 0, up to 32 slots, each
//! holding one assigned function as function 0. Config space is emulated per function with a
//! default-deny register table; BARs are virtual and mapped in stage 2 from the guest's
//! address (gfn) to the host BAR (mfn) when the guest turns memory decode on.
#![forbid(unsafe_code)]

pub mod bar;
pub mod caps;
pub mod function;
pub mod layout;
pub mod msix;
pub mod topology;

pub use function::{Action, VirtualFunction};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_msi;
