//! Memory management: address ranges and translation-table building.

pub mod range;

pub use range::PhysRange;
pub mod carve;
pub mod guest_ram;
pub mod pagetable;
pub mod zero;
