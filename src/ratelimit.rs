//! Rate limiting for log lines a guest can cause: a hostile guest must not be able to flood
//! the console or slow the hypervisor down with its own faults.
#![forbid(unsafe_code)]

/// What to do with one more event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; `suppressed` events were dropped since the last logged one.
    Log {
        /// Events dropped before this one.
        suppressed: u64,
    },
    /// Drop it.
    Suppress,
}

/// At most `burst` events per window of `window_ticks` (counter ticks).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    window_ticks: u64,
    burst: u32,
    window_start: u64,
    in_window: u32,
    suppressed: u64,
}

impl RateLimiter {
    /// A limiter allowing `burst` events per `window_ticks`.
    pub const fn new(window_ticks: u64, burst: u32) -> Self {
        Self {
            window_ticks,
            burst,
            window_start: 0,
            in_window: 0,
            suppressed: 0,
        }
    }

    /// Decides about an event at time `now` (a monotonic counter).
    pub fn check(&mut self, now: u64) -> Verdict {
        if now.saturating_sub(self.window_start) >= self.window_ticks || now < self.window_start {
            self.window_start = now;
            self.in_window = 0;
        }
        if self.in_window >= self.burst {
            self.suppressed = self.suppressed.saturating_add(1);
            return Verdict::Suppress;
        }
        self.in_window += 1;
        let suppressed = core::mem::take(&mut self.suppressed);
        Verdict::Log { suppressed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_then_the_rest_of_the_window_is_suppressed() {
        let mut r = RateLimiter::new(100, 3);
        let verdicts: Vec<Verdict> = (0..5).map(|t| r.check(t)).collect();
        assert_eq!(verdicts[..3], [Verdict::Log { suppressed: 0 }; 3]);
        assert_eq!(verdicts[3..], [Verdict::Suppress; 2]);
    }

    #[test]
    fn the_next_window_reports_how_many_were_dropped() {
        let mut r = RateLimiter::new(100, 1);
        r.check(0);
        r.check(1);
        r.check(2);
        assert_eq!(r.check(150), Verdict::Log { suppressed: 2 });
        assert_eq!(r.check(151), Verdict::Suppress);
    }

    #[test]
    fn a_counter_that_goes_backwards_starts_a_new_window() {
        let mut r = RateLimiter::new(100, 1);
        r.check(1000);
        assert_eq!(r.check(10), Verdict::Log { suppressed: 0 });
    }
}
