#![allow(dead_code)] // each fuzz target uses only part of the shared support
//! What every fuzz target (`tests/fuzz_*.rs`) shares: a small deterministic PRNG and a driver
//! that runs a target's cases until its time (or case) budget is spent, prints how many it ran
//! and with which seed, and says how to replay a case that panicked or hung.
//!
//! Environment (read once per target):
//! - `SLUICE_FUZZ_SECS`: seconds per target, fractions allowed (default 2).
//! - `SLUICE_FUZZ_SEED`: base seed, decimal or `0x` hex (default [`DEFAULT_SEED`]).
//! - `SLUICE_FUZZ_ITERS`: stop after this many cases even with time left (default: no limit).
//! - `SLUICE_FUZZ_CASE`: run only the case with this seed (the replay line prints it).
//! - `SLUICE_FUZZ_HANG_SECS`: a single case running longer than this is a hang (default 20).
//! - `SLUICE_FUZZ_TRACE`: set, print every case's seed before running it (for a crash that
//!   kills the process, such as a stack overflow, where no replay line can be printed).
//!
//! Each case draws from its own generator, seeded from the base seed and its index, so one
//! failing case replays alone whatever ran before it.

use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The base seed when `SLUICE_FUZZ_SEED` is not set: fixed, so CI runs are reproducible.
pub const DEFAULT_SEED: u64 = 0x51_u64 << 56 | 0x1ce_f022;

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and good enough to pick fuzz inputs;
/// every state is valid, so any seed works.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole output follows from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A value in `0..n` (`n` > 0; the modulo bias is irrelevant for fuzzing).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "fuzz support: below(0)");
        self.next_u64() % n
    }

    /// A value in `0..n` as an index.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True once in `n` draws on average.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// A fair coin.
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 != 0
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// Random bytes into `bytes`.
    pub fn fill(&mut self, bytes: &mut [u8]) {
        for b in bytes {
            *b = self.next_u64() as u8;
        }
    }

    /// A 64-bit value biased towards the edges parsers and decoders get wrong: zero, all-ones,
    /// single bits, powers of two minus one, and otherwise anything.
    pub fn edgy_u64(&mut self) -> u64 {
        match self.below(6) {
            0 => self.pick(&[0, 1, u64::MAX, u64::MAX - 1, u32::MAX as u64, 1 << 63]),
            1 => 1u64 << self.below(64),
            2 => (1u64 << self.below(64)) - 1,
            3 => self.next_u64() & 0xffff,
            _ => self.next_u64(),
        }
    }
}

/// How long to run and with which seed, from the environment.
#[derive(Debug, Clone, Copy)]
struct Settings {
    duration: Duration,
    seed: u64,
    max_cases: Option<u64>,
    replay: Option<u64>,
    hang: Duration,
    trace: bool,
}

fn parse_u64(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// An environment variable parsed by `parse`; a value that does not parse is a usage error,
/// not something to silently replace by the default.
fn env<T>(name: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    let text = std::env::var(name).ok()?;
    Some(parse(&text).unwrap_or_else(|| panic!("fuzz support: {name}={text:?} does not parse")))
}

fn seconds(text: &str) -> Option<Duration> {
    let secs: f64 = text.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

impl Settings {
    fn from_env() -> Self {
        Self {
            duration: env("SLUICE_FUZZ_SECS", seconds).unwrap_or(Duration::from_secs(2)),
            seed: env("SLUICE_FUZZ_SEED", parse_u64).unwrap_or(DEFAULT_SEED),
            max_cases: env("SLUICE_FUZZ_ITERS", parse_u64),
            replay: env("SLUICE_FUZZ_CASE", parse_u64),
            hang: env("SLUICE_FUZZ_HANG_SECS", seconds).unwrap_or(Duration::from_secs(20)),
            trace: std::env::var_os("SLUICE_FUZZ_TRACE").is_some(),
        }
    }
}

/// The seed of case number `index` under base seed `seed`.
fn case_seed(seed: u64, index: u64) -> u64 {
    Rng::new(seed ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03)).next_u64()
}

/// Straight to the process's stderr: the test harness captures `eprintln!`, and these lines
/// (the summary, a replay hint before the process dies of a hang) must be seen.
fn report(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Watches the case loop from another thread: a case that runs for longer than the hang limit
/// is an infinite loop (or close enough), and the only way out of one is to end the process.
struct Watchdog {
    started_case: Arc<AtomicU64>,
    case_seed: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(target: &'static str, hang: Duration) -> Self {
        let started_case = Arc::new(AtomicU64::new(0));
        let case_seed = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (started, seed, stop) = (started_case.clone(), case_seed.clone(), done.clone());
        let thread = thread::spawn(move || {
            let (mut seen, mut since) = (u64::MAX, Instant::now());
            while !stop.load(Ordering::Relaxed) {
                let now = started.load(Ordering::Relaxed);
                if now != seen {
                    (seen, since) = (now, Instant::now());
                } else if since.elapsed() > hang {
                    let seed = seed.load(Ordering::Relaxed);
                    report(format_args!(
                        "fuzz {target}: HANG: case seed {seed:#x} ran for more than {hang:?}; \
                         replay: SLUICE_FUZZ_CASE={seed:#x} cargo test --test fuzz_{target}"
                    ));
                    std::process::exit(3);
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        Self {
            started_case,
            case_seed,
            done,
            thread: Some(thread),
        }
    }

    fn begin(&self, index: u64, seed: u64) {
        self.case_seed.store(seed, Ordering::Relaxed);
        self.started_case.store(index, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `case` with fresh generators until the budget is spent. A panicking case is reported
/// with the line that replays it, then the panic goes on to fail the test.
pub fn run(target: &'static str, mut case: impl FnMut(&mut Rng)) {
    let settings = Settings::from_env();
    if let Some(seed) = settings.replay {
        report(format_args!("fuzz {target}: replaying case seed {seed:#x}"));
        case(&mut Rng::new(seed));
        return;
    }
    let watchdog = Watchdog::start(target, settings.hang);
    let started = Instant::now();
    let mut cases = 0u64;
    while started.elapsed() < settings.duration && settings.max_cases.is_none_or(|m| cases < m) {
        let seed = case_seed(settings.seed, cases);
        watchdog.begin(cases, seed);
        if settings.trace {
            report(format_args!("fuzz {target}: case {cases} seed {seed:#x}"));
        }
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| case(&mut Rng::new(seed))));
        if let Err(why) = outcome {
            report(format_args!(
                "fuzz {target}: FAILED at case {cases} (base seed {:#x}); replay: \
                 SLUICE_FUZZ_CASE={seed:#x} cargo test --test fuzz_{target}",
                settings.seed
            ));
            panic::resume_unwind(why);
        }
        cases += 1;
    }
    drop(watchdog);
    report(format_args!(
        "fuzz {target}: {cases} cases in {:.1} s, base seed {:#x}, no panic",
        started.elapsed().as_secs_f64(),
        settings.seed
    ));
}
