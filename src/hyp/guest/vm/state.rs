//! A guest's reboot and stop bookkeeping, one per guest (`reboot` reads and changes it).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize};

/// Where a guest's reboot stands: whether one is in progress, how many vCPUs have parked for
/// it, and how many times the guest has booted.
pub struct RebootState {
    /// A reboot is in progress: every vCPU of the guest must park.
    pub requested: AtomicBool,
    /// vCPUs parked so far (the rebooting one excluded).
    pub parked: AtomicUsize,
    /// Guest boots so far: 0 is the first boot.
    pub boot: AtomicU32,
    /// The guest is off for good (SYSTEM_OFF, or stopped after a fatal error).
    pub stopped: AtomicBool,
}

impl RebootState {
    /// No reboot, first boot.
    pub const fn new() -> Self {
        Self {
            requested: AtomicBool::new(false),
            parked: AtomicUsize::new(0),
            boot: AtomicU32::new(0),
            stopped: AtomicBool::new(false),
        }
    }
}
