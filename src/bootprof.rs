//! Boot profile: how long each phase of sluice's start (or of a guest's reboot) took, from
//! counter readings (CNTPCT_EL0 at EL2, ticks of CNTFRQ_EL0 Hz), printed as one log line so
//! that the time before the guest's first instruction is explained phase by phase.
//!
//! A phase ends at each `mark`; the time since the previous mark (or the start) is added to
//! the phase of that name, so a phase that recurs (one per guest) is summed into one figure
//! and keeps the place of its first occurrence.
#![forbid(unsafe_code)]

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// Phases recorded so far, in order of first appearance, with their summed ticks.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    last_ticks: u64,
    started_ticks: u64,
    phases: Vec<(&'static str, u64)>,
}

impl Profile {
    /// A profile whose first phase starts at counter value `started_ticks`.
    pub fn starting_at(started_ticks: u64) -> Self {
        Self {
            last_ticks: started_ticks,
            started_ticks,
            phases: Vec::new(),
        }
    }

    /// Ends phase `name` at counter value `now_ticks`: the ticks since the previous mark go to
    /// it. A counter that went backwards (it must not) counts as no time.
    pub fn mark(&mut self, name: &'static str, now_ticks: u64) {
        let ticks = now_ticks.saturating_sub(self.last_ticks);
        self.last_ticks = self.last_ticks.max(now_ticks);
        match self.phases.iter_mut().find(|(n, _)| *n == name) {
            Some((_, sum)) => *sum = sum.saturating_add(ticks),
            None => self.phases.push((name, ticks)),
        }
    }

    /// Microseconds of phase `name` at `counter_hz`; None if it was never marked.
    pub fn phase_us(&self, name: &str, counter_hz: u64) -> Option<u64> {
        self.phases
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, ticks)| ticks_to_us(ticks, counter_hz))
    }

    /// Microseconds from the start to the last mark.
    pub fn total_us(&self, counter_hz: u64) -> u64 {
        ticks_to_us(self.last_ticks - self.started_ticks, counter_hz)
    }

    /// "PHASE N us, PHASE N us, ...; total N us" at `counter_hz` ("total N us" alone when
    /// nothing was marked).
    pub fn summary(&self, counter_hz: u64) -> String {
        let mut line = String::new();
        for &(name, ticks) in &self.phases {
            let _ = write!(line, "{name} {} us, ", ticks_to_us(ticks, counter_hz));
        }
        if let Some(stripped) = line.strip_suffix(", ") {
            line.truncate(stripped.len());
            line.push_str("; ");
        }
        let _ = write!(line, "total {} us", self.total_us(counter_hz));
        line
    }
}

/// Counter ticks as microseconds at `counter_hz` (a zero frequency reads as 1 Hz, never a
/// division by zero); 128-bit so that a long uptime does not overflow.
pub fn ticks_to_us(ticks: u64, counter_hz: u64) -> u64 {
    let us = u128::from(ticks) * 1_000_000 / u128::from(counter_hz.max(1));
    u64::try_from(us).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mark_takes_the_time_since_the_previous_one() {
        let mut p = Profile::starting_at(1000);
        p.mark("dt", 1100);
        p.mark("heap", 1400);
        assert_eq!(p.phase_us("dt", 1_000_000), Some(100));
        assert_eq!(p.phase_us("heap", 1_000_000), Some(300));
        assert_eq!(p.total_us(1_000_000), 400);
    }

    #[test]
    fn a_recurring_phase_is_summed_in_its_first_place() {
        let mut p = Profile::starting_at(0);
        p.mark("stage 2", 10);
        p.mark("scrub", 30);
        p.mark("stage 2", 35);
        assert_eq!(
            p.summary(1_000_000),
            "stage 2 15 us, scrub 20 us; total 35 us"
        );
    }

    #[test]
    fn ticks_convert_at_the_counter_frequency() {
        assert_eq!(ticks_to_us(62_500_000, 62_500_000), 1_000_000);
        assert_eq!(ticks_to_us(625, 62_500_000), 10);
        assert_eq!(ticks_to_us(u64::MAX, 1), u64::MAX);
    }

    #[test]
    fn a_zero_frequency_or_a_backward_counter_does_not_panic() {
        let mut p = Profile::starting_at(100);
        p.mark("a", 50);
        p.mark("b", 150);
        assert_eq!(p.phase_us("a", 0), Some(0));
        assert_eq!(p.phase_us("b", 0), Some(50_000_000));
    }

    #[test]
    fn an_empty_profile_reports_only_its_total() {
        assert_eq!(Profile::starting_at(7).summary(1000), "total 0 us");
        assert_eq!(Profile::starting_at(7).phase_us("dt", 1000), None);
    }
}
