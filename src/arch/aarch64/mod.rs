//! The AArch64 EL2 boundary: everything that needs EL2 instructions or system registers.
//!
//! Generic hypervisor code calls these small, audited functions; nothing above this module
//! issues `mrs`/`msr`, TLB or cache maintenance, or touches device registers directly.

core::arch::global_asm!(include_str!("../../../boot/entry.S"));
core::arch::global_asm!(include_str!("vectors.S"));
core::arch::global_asm!(include_str!("fallible.S"));

pub mod context;
pub mod cpu;
pub mod firmware;
pub mod gic;
pub mod idregs;
pub mod mmio;
pub mod mmu;
pub mod uart;
