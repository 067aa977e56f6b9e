//! The fuzzer's pseudo-random numbers: SplitMix64, so that one printed seed replays a run
//! exactly (`sluice.guestfuzz_seed=N`), and the interesting values a register fuzzer wants.
#![forbid(unsafe_code)]

/// A seeded SplitMix64 generator (Steele, Lea, Flood: "Fast splittable pseudorandom number
/// generators", 2014): one u64 of state, full period, good enough for choosing accesses.
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator that replays the same sequence for the same seed.
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

    /// A number in `0..bound` (0 when `bound` is 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A value to write: mostly random bits, often the edge cases that decoders get wrong
    /// (zero, all ones, one bit, small numbers, the sign bit of the width).
    pub fn interesting_value(&mut self) -> u64 {
        match self.below(8) {
            0 => 0,
            1 => u64::MAX,
            2 => 1 << self.below(64),
            3 => self.below(16),
            4 => !(1 << self.below(64)),
            5 => 0x8000_0000 | self.below(0x100),
            _ => self.next_u64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_replays_the_same_sequence() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn different_seeds_give_different_sequences() {
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn below_stays_in_range_and_zero_bound_gives_zero() {
        let mut r = Rng::new(7);
        assert!((0..1000).all(|_| r.below(13) < 13));
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn interesting_values_include_the_edges() {
        let mut r = Rng::new(3);
        let values: [u64; 400] = core::array::from_fn(|_| r.interesting_value());
        assert!(values.contains(&0));
        assert!(values.contains(&u64::MAX));
    }
}
