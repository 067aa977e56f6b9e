//! The guest's options, from `/chosen/bootargs`: `vcputest.rounds=N` (IPI round trips per
//! pair), `vcputest.cycles=N` (PSCI CPU_OFF/CPU_ON cycles), `vcputest.races=N` (racing
//! CPU_ON pairs), `vcputest.probe=SECS` (instead of the checks: the cross-guest probe for
//! SECS seconds, see `probe`), `vcputest.probespi=INTID` (the other guest's SPI it pokes), `vcputest.bench=N` (instead of
//! the checks: the exit micro-benchmark, N iterations per loop, see `bench`).
//! Other words are ignored (the scripts add `console=ttyAMA0`).
#![forbid(unsafe_code)]

/// Options with their defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// IPI round trips per pair of vCPUs.
    pub rounds: u32,
    /// CPU_OFF / CPU_ON cycles of one secondary.
    pub cycles: u32,
    /// Races of two vCPUs calling CPU_ON on the same target.
    pub races: u32,
    /// Seconds of cross-guest probing (0: the vCPU checks instead).
    pub probe_secs: u32,
    /// Another guest's SPI to poke through the distributor (0: none).
    pub probe_spi: u32,
    /// Iterations of each exit micro-benchmark loop (0: the vCPU checks instead).
    pub bench: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rounds: 100_000,
            cycles: 200,
            races: 50,
            probe_secs: 0,
            probe_spi: 0,
            bench: 0,
        }
    }
}

/// The first `vcputest.` word that could not be understood, if any, next to what could.
pub fn parse(bootargs: &str) -> (Config, Option<&str>) {
    let mut config = Config::default();
    let mut bad = None;
    for word in bootargs.split_ascii_whitespace() {
        let Some(option) = word.strip_prefix("vcputest.") else {
            continue;
        };
        let slot = match option.split_once('=') {
            Some(("rounds", v)) => v.parse().ok().map(|n| config.rounds = n),
            Some(("cycles", v)) => v.parse().ok().map(|n| config.cycles = n),
            Some(("races", v)) => v.parse().ok().map(|n| config.races = n),
            Some(("probe", v)) => v.parse().ok().map(|n| config.probe_secs = n),
            Some(("probespi", v)) => v.parse().ok().map(|n| config.probe_spi = n),
            Some(("bench", v)) => v.parse().ok().map(|n| config.bench = n),
            _ => None,
        };
        if slot.is_none() && bad.is_none() {
            bad = Some(word);
        }
    }
    (config, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_options_give_the_defaults() {
        assert_eq!(parse("console=ttyAMA0"), (Config::default(), None));
        assert_eq!(Config::default().rounds, 100_000);
    }

    #[test]
    fn each_option_sets_its_own_count() {
        let (c, bad) =
            parse("console=ttyAMA0 vcputest.rounds=10 vcputest.cycles=3 vcputest.races=4");
        assert_eq!(
            c,
            Config {
                rounds: 10,
                cycles: 3,
                races: 4,
                probe_secs: 0,
                probe_spi: 0,
                bench: 0,
            }
        );
        assert_eq!(bad, None);
    }

    #[test]
    fn the_probe_options_set_its_duration_and_target_spi() {
        let (c, bad) = parse("vcputest.probe=90 vcputest.probespi=37");
        assert_eq!((c.probe_secs, c.probe_spi, bad), (90, 37, None));
    }

    #[test]
    fn the_bench_option_sets_the_iterations_per_loop() {
        assert_eq!(parse("vcputest.bench=5000").0.bench, 5000);
        assert_eq!(parse("console=ttyAMA0").0.bench, 0);
    }

    #[test]
    fn a_malformed_or_unknown_option_is_named_and_the_rest_still_applies() {
        let (c, bad) = parse("vcputest.rounds=x vcputest.cycles=5 vcputest.bogus=1");
        assert_eq!(bad, Some("vcputest.rounds=x"));
        assert_eq!(c.cycles, 5);
        assert_eq!(parse("vcputest.bogus=1").1, Some("vcputest.bogus=1"));
        assert_eq!(
            parse("vcputest.rounds=99999999999").1,
            Some("vcputest.rounds=99999999999")
        );
    }
}
