//! Drivers of the hardware sluice owns for the whole machine: the physical ITS, the SMMU, the
//! host bridges' ECAM and their functions' reset, gathered in `Host`. They know nothing of
//! guests: no `Vm` in sight; what a guest's policy needs from them is passed in as plain
//! values, and what they find (a faulting stream) is returned as values. Only `leaf`, `arch`
//! and the library below.

pub mod ecam;
pub mod host;
pub mod its;
pub mod reset;
pub mod smmu;
pub mod vpe;
