//! sluice's own boot profile (`sluice::bootprof`): the boot CPU marks the end of each phase of
//! its start, and the line is printed just before the first guest instruction.

use crate::arch::cpu;
use sluice::bootprof::Profile;
use spin::Mutex;

static BOOT: Mutex<Option<Profile>> = Mutex::new(None);

/// Starts the boot profile at counter value `started_ticks` (sluice's first instruction).
pub fn start(started_ticks: u64) {
    *BOOT.lock() = Some(Profile::starting_at(started_ticks));
}

/// Ends boot phase `name` now; nothing when the profile was not started or is done.
pub fn mark(name: &'static str) {
    if let Some(profile) = BOOT.lock().as_mut() {
        profile.mark(name, cpu::counter());
    }
}

/// Ends the boot profile and logs it; later marks (a guest's reboot) are not recorded.
pub fn finish() {
    if let Some(profile) = BOOT.lock().take() {
        log::info!("boot profile: {}", profile.summary(cpu::counter_hz()));
    }
}
