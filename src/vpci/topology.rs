//! The virtual bus: which slot holds which assigned function, and guest ECAM decoding
//! (PCIe Base 4.0, 7.2.2: bus [27:20], device [19:15], function [14:12], register [11:0]).
#![forbid(unsafe_code)]

/// Slots on the virtual bus 0.
pub const SLOTS: usize = 32;
/// Bytes of guest ECAM: one bus.
pub const GUEST_ECAM_BYTES: u64 = 1 << 20;

/// Where a guest ECAM access lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcamTarget {
    /// Function 0 of `slot`, register `offset`.
    Slot {
        /// Device number on bus 0.
        slot: u8,
        /// Register offset, 0..4096.
        offset: u16,
    },
    /// Any other function or bus: nothing there (reads all-ones, writes vanish).
    Nothing,
}

/// Decodes an offset into the guest's ECAM window.
pub fn decode(ecam_offset: u64) -> EcamTarget {
    let bus = ecam_offset >> 20;
    let slot = (ecam_offset >> 15) & 0x1f;
    let function = (ecam_offset >> 12) & 0x7;
    if bus != 0 || function != 0 {
        return EcamTarget::Nothing;
    }
    EcamTarget::Slot {
        slot: slot as u8,
        offset: (ecam_offset & 0xfff) as u16,
    }
}

/// Splits an access wider than a config register (an 8-byte LDR/STR) into naturally aligned
/// pieces of at most 4 bytes: (offset, width, shift into the value).
pub fn split_access(offset: u64, width_bytes: u8) -> impl Iterator<Item = (u64, u8, u32)> {
    let pieces = if width_bytes == 8 { 2 } else { 1 };
    let width = width_bytes.min(4);
    (0..pieces).map(move |i| (offset + 4 * i, width, 32 * i as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_zero_of_each_slot_on_bus_zero_is_addressable() {
        assert_eq!(decode(0x0), EcamTarget::Slot { slot: 0, offset: 0 });
        assert_eq!(
            decode(3 << 15 | 0x44),
            EcamTarget::Slot {
                slot: 3,
                offset: 0x44
            }
        );
        assert_eq!(
            decode(31 << 15 | 0xffc),
            EcamTarget::Slot {
                slot: 31,
                offset: 0xffc
            }
        );
    }

    #[test]
    fn other_functions_and_buses_are_nothing() {
        assert_eq!(decode(1 << 12), EcamTarget::Nothing);
        assert_eq!(decode(1 << 20), EcamTarget::Nothing);
        assert_eq!(decode(u64::MAX), EcamTarget::Nothing);
    }

    #[test]
    fn an_eight_byte_access_is_split_in_two_dwords() {
        let pieces: Vec<_> = split_access(0x10, 8).collect();
        assert_eq!(pieces, [(0x10, 4, 0), (0x14, 4, 32)]);
        assert_eq!(split_access(0x3d, 1).collect::<Vec<_>>(), [(0x3d, 1, 0)]);
    }
}

/// Which host functions the guest gets, from the host command line's `sluice.pci=` option:
/// `all` (the default: every endpoint), `none`, or a comma-separated list of `bus:dev.fn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// Every endpoint.
    All,
    /// None: the guest has no PCI bus.
    None,
    /// Only these functions.
    Only(alloc::vec::Vec<crate::pci::Bdf>),
}

impl Assignment {
    /// Reads `sluice.pci=` from a command line; a malformed value is an error naming it.
    pub fn from_bootargs(bootargs: &str) -> Result<Self, alloc::string::String> {
        let Some(value) = crate::bootargs::values(bootargs, "sluice.pci").next() else {
            return Ok(Self::All);
        };
        match value {
            "all" => Ok(Self::All),
            "none" => Ok(Self::None),
            list => list
                .split(',')
                .map(|b| {
                    parse_bdf(b).ok_or_else(|| {
                        alloc::format!("sluice.pci: '{b}' is not bus:device.function")
                    })
                })
                .collect::<Result<_, _>>()
                .map(Self::Only),
        }
    }

    /// Whether `bdf` goes to the guest.
    pub fn includes(&self, bdf: crate::pci::Bdf) -> bool {
        match self {
            Self::All => true,
            Self::None => false,
            Self::Only(list) => list.contains(&bdf),
        }
    }
}

fn parse_bdf(text: &str) -> Option<crate::pci::Bdf> {
    let (bus, rest) = text.split_once(':')?;
    let (device, function) = rest.split_once('.')?;
    let bus = u8::from_str_radix(bus, 16).ok()?;
    let device = u8::from_str_radix(device, 16).ok().filter(|&d| d < 32)?;
    let function = function.parse::<u8>().ok().filter(|&f| f < 8)?;
    Some(crate::pci::Bdf::new(bus, device, function))
}

#[cfg(test)]
mod assignment_tests {
    use super::*;
    use crate::pci::Bdf;

    #[test]
    fn default_is_every_endpoint_and_none_is_nothing() {
        assert_eq!(
            Assignment::from_bootargs("console=ttyAMA0"),
            Ok(Assignment::All)
        );
        assert_eq!(
            Assignment::from_bootargs("sluice.pci=none"),
            Ok(Assignment::None)
        );
        assert!(!Assignment::None.includes(Bdf::new(0, 1, 0)));
    }

    #[test]
    fn a_list_selects_exactly_those_functions() {
        let a = Assignment::from_bootargs("x sluice.pci=00:02.0,01:00.0 y").unwrap();
        assert!(a.includes(Bdf::new(0, 2, 0)) && a.includes(Bdf::new(1, 0, 0)));
        assert!(!a.includes(Bdf::new(0, 1, 0)));
    }

    #[test]
    fn malformed_entries_are_errors() {
        assert!(Assignment::from_bootargs("sluice.pci=00:20.0").is_err());
        assert!(Assignment::from_bootargs("sluice.pci=zz")
            .unwrap_err()
            .contains("'zz'"));
        assert!(Assignment::from_bootargs("sluice.pci=00:01.8").is_err());
    }
}
