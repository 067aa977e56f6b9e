//! Interrupt Translation Service: command encoding, the guest's virtual ITS, and physical LPI
//! allocation. Pure logic; the hypervisor moves commands between guest memory, this model and
//! the physical ITS.
#![forbid(unsafe_code)]

pub mod command;
pub mod lpi;
pub mod vits;
pub mod vpe;

pub use command::{ItsCommand, COMMAND_BYTES};
