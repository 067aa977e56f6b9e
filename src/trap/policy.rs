//! What happens to a guest whose exit sluice cannot serve: reflected to the guest as the abort
//! or undefined instruction real hardware would give it, or the guest stopped for good (its
//! vCPUs parked, its devices reset, the other guests running on).
//!
//! Stopped, always: an exit sluice never asked for (an exception class it does not trap, an
//! SError or FIQ taken from the guest), a stage-2 fault on the guest's own RAM (always mapped:
//! its stage 2 can no longer be trusted), a reboot that failed. Chosen by `sluice.unemulated=`
//! on sluice's command line: a data access to a trapped address that carries no syndrome
//! (LDP/STP, atomics, writeback: the access cannot be emulated from ESR_EL2 alone). `abort`
//! (the default) reflects a data abort, as Xen does; `stop` stops the guest, as KVM does
//! (its VMM gets no syndrome and gives up).
#![forbid(unsafe_code)]

use alloc::string::String;

/// The `sluice.unemulated=` option: what a data access without syndrome to a trapped address
/// does to the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unemulated {
    /// The guest takes a data abort and goes on (default).
    #[default]
    Abort,
    /// The guest is stopped.
    Stop,
}

impl Unemulated {
    /// The policy sluice's command line `bootargs` asks for; the default without the option.
    pub fn from_bootargs(bootargs: &str) -> Result<Self, String> {
        match crate::bootargs::values(bootargs, "sluice.unemulated").next() {
            None | Some("abort") => Ok(Self::Abort),
            Some("stop") => Ok(Self::Stop),
            Some(other) => Err(alloc::format!(
                "sluice.unemulated: '{other}' is neither abort nor stop"
            )),
        }
    }

    /// Whether an access without syndrome stops the guest: only under `Stop`, and only a data
    /// access of the guest's own (not its page-table walk, nor a cache maintenance
    /// instruction, which real hardware and KVM complete or fault on their own terms) at an
    /// address the hardware reported.
    pub fn stops_guest(
        self,
        guest_phys_valid: bool,
        on_table_walk: bool,
        cache_maintenance: bool,
    ) -> bool {
        self == Self::Stop && guest_phys_valid && !on_table_walk && !cache_maintenance
    }
}

#[cfg(test)]
mod tests {
    use super::Unemulated;

    #[test]
    fn no_option_means_abort() {
        assert_eq!(Unemulated::from_bootargs(""), Ok(Unemulated::Abort));
        assert_eq!(
            Unemulated::from_bootargs("sluice.pci=00:01.0"),
            Ok(Unemulated::Abort)
        );
    }

    #[test]
    fn stop_and_abort_are_read_among_other_words() {
        assert_eq!(
            Unemulated::from_bootargs("sluice.pci=all sluice.unemulated=stop"),
            Ok(Unemulated::Stop)
        );
        assert_eq!(
            Unemulated::from_bootargs("sluice.unemulated=abort"),
            Ok(Unemulated::Abort)
        );
    }

    #[test]
    fn an_unknown_value_is_an_error_that_names_it() {
        let e = Unemulated::from_bootargs("sluice.unemulated=crash").unwrap_err();
        assert!(e.contains("'crash'"), "{e}");
        assert!(Unemulated::from_bootargs("sluice.unemulated=").is_err());
    }

    #[test]
    fn abort_never_stops_the_guest() {
        assert!(!Unemulated::Abort.stops_guest(true, false, false));
    }

    #[test]
    fn stop_stops_only_a_plain_data_access_at_a_known_address() {
        assert!(Unemulated::Stop.stops_guest(true, false, false));
        assert!(!Unemulated::Stop.stops_guest(false, false, false));
        assert!(!Unemulated::Stop.stops_guest(true, true, false));
        assert!(!Unemulated::Stop.stops_guest(true, false, true));
    }
}
