//! Leaf services: what every floor above may call, and which calls nothing of sluice's above
//! it (only `arch` and the library). The console and log, the heap and table frames, guest
//! fault logging and abort injection, kicks, the CPU and stack constants, fatal stops and the
//! panic handler, exit statistics and the DMA canary.

pub mod canary;
pub mod console;
pub mod cpus;
pub mod fault;
pub mod heap;
pub mod kick;
pub mod panic;
pub mod profile;
pub mod stats;
pub mod stop;
pub mod tables;
