//! The machine sluice owns after boot: what the host DT described and the drivers of the
//! hardware shared by every guest. Guests hold a `&'static Host`; nothing here knows of them.

use super::its::PhysicalIts;
use super::smmu::Smmu;
use crate::arch::{firmware, gic};
use sluice::mm::carve::FreeMemory;
use sluice::platform::Platform;

/// The host machine as sluice sees it after boot.
pub struct Host {
    /// Everything the host DT said.
    pub platform: Platform,
    /// How to call the host firmware.
    pub conduit: firmware::Conduit,
    /// RAM that nothing uses yet: guests are carved from it.
    pub free: spin::Mutex<FreeMemory>,
    /// The physical distributor.
    pub dist: gic::Distributor,
    /// The physical ITS, when the GIC has one (MSIs of assigned devices land there).
    pub its: Option<PhysicalIts>,
    /// The SMMU that translates the PCI hosts' DMA, when there is one sluice can use.
    pub smmu: Option<Smmu>,
}
