//! The writes of `guestfuzz cfgfuzz` (`sluice.cfgfuzz=N`): a burst of random config writes
//! with nothing read first and nothing put back, aimed so that the real config space of every
//! host function can be compared before and after (scripts/tests/config_fuzz.py):
//! - 14 in 16 go to the guest's first function (00:00.0 on its bus), anywhere in its 4 KiB:
//!   header, capabilities, unclaimed and extended registers alike;
//! - 1 in 16 to function 1..7 of any slot (functions the guest does not have);
//! - 1 in 16 to function 0 of a slot with no device.
//!
//! Widths are 8, 16 and 32 bits, equally often, naturally aligned (what busybox `devmem`
//! made of the shell loop this replaces); values are random bits, often the edge cases.
#![forbid(unsafe_code)]

use crate::pcidev::Bdf;
use crate::policy::Width;
use crate::rng::Rng;

/// Bytes of one function's config space in an ECAM window (PCIe 4.0, 7.2.2).
pub const FUNCTION_BYTES: u64 = 4096;
/// Slots on one bus and functions in one slot (PCIe 4.0, 7.2.2).
const SLOTS: u64 = 32;
const FUNCTIONS_PER_SLOT: u64 = 8;
/// ECAM bytes of one bus: every write lands in the first bus of the window.
pub const BUS_BYTES: u64 = SLOTS * FUNCTIONS_PER_SLOT * FUNCTION_BYTES;

/// Which kind of function a write goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aim {
    /// The guest's first function, where sluice emulates or forwards every register.
    FirstFunction,
    /// Function 1..7 of some slot: no device (the guest's functions are single-function).
    OtherFunction,
    /// Function 0 of a slot that holds no device.
    AbsentSlot,
}

/// The guest's bus as the burst sees it: where its first function is, which slots hold one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bus {
    /// ECAM offset of the first function (00:00.0 when the guest has none).
    first_function: u64,
    /// Bit `s` set: slot `s` of bus 0 holds a function.
    occupied_slots: u32,
}

impl Bus {
    /// The bus holding `functions` (only those on bus 0 count: the guest has no other bus).
    pub fn new(functions: impl IntoIterator<Item = Bdf>) -> Self {
        let mut bus = Self::default();
        let mut first: Option<Bdf> = None;
        for bdf in functions.into_iter().filter(|f| f.bus == 0) {
            bus.occupied_slots |= 1 << (bdf.device % SLOTS as u8);
            if first.is_none_or(|f| bdf.ecam_offset() < f.ecam_offset()) {
                first = Some(bdf);
            }
        }
        bus.first_function = first.map_or(0, |f| f.ecam_offset());
        bus
    }

    /// How many slots hold a function.
    pub fn occupied(&self) -> u32 {
        self.occupied_slots.count_ones()
    }

    /// The `index`-th slot with no function, if there are that many.
    fn free_slot(&self, index: u64) -> Option<u64> {
        (0..SLOTS)
            .filter(|s| self.occupied_slots & (1 << s) == 0)
            .nth(index as usize)
    }
}

/// One write of the burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CfgWrite {
    /// What kind of function it goes to.
    pub aim: Aim,
    /// Offset in the ECAM window (function and register), inside the first bus.
    pub ecam_offset: u64,
    /// Byte, Half or Word.
    pub width: Width,
    /// The value, already cut to the width.
    pub value: u64,
}

/// Draws the next write of the burst on `bus`.
pub fn next_write(rng: &mut Rng, bus: &Bus) -> CfgWrite {
    let width = [Width::Byte, Width::Half, Width::Word][rng.below(3) as usize];
    let register = rng.below(FUNCTION_BYTES) & !(width.alignment() - 1);
    let (aim, function) = aim(rng, bus);
    CfgWrite {
        aim,
        ecam_offset: function + register,
        width,
        value: rng.interesting_value() & width.mask(),
    }
}

/// The kind of function and its ECAM offset.
fn aim(rng: &mut Rng, bus: &Bus) -> (Aim, u64) {
    let slot_offset = |slot: u64| slot * FUNCTIONS_PER_SLOT * FUNCTION_BYTES;
    match rng.below(16) {
        1 => {
            let free = SLOTS - bus.occupied() as u64;
            if let Some(slot) = bus.free_slot(rng.below(free)) {
                return (Aim::AbsentSlot, slot_offset(slot));
            }
            other_function(rng)
        }
        0 => other_function(rng),
        _ => (Aim::FirstFunction, bus.first_function),
    }
}

fn other_function(rng: &mut Rng) -> (Aim, u64) {
    let slot = rng.below(SLOTS);
    let function = 1 + rng.below(FUNCTIONS_PER_SLOT - 1);
    let offset = (slot * FUNCTIONS_PER_SLOT + function) * FUNCTION_BYTES;
    (Aim::OtherFunction, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bdf(device: u8, function: u8) -> Bdf {
        Bdf {
            bus: 0,
            device,
            function,
        }
    }

    fn burst(bus: &Bus, seed: u64, count: usize) -> Vec<CfgWrite> {
        let mut rng = Rng::new(seed);
        (0..count).map(|_| next_write(&mut rng, bus)).collect()
    }

    #[test]
    fn the_same_seed_replays_the_same_burst() {
        let bus = Bus::new([bdf(0, 0), bdf(1, 0)]);
        assert_eq!(burst(&bus, 9, 500), burst(&bus, 9, 500));
        assert_ne!(burst(&bus, 9, 50), burst(&bus, 10, 50));
    }

    #[test]
    fn writes_are_aligned_sub_dword_and_cut_to_their_width() {
        let bus = Bus::new([bdf(0, 0)]);
        for w in burst(&bus, 1, 5000) {
            assert!(matches!(w.width, Width::Byte | Width::Half | Width::Word));
            assert_eq!(w.ecam_offset % w.width.bytes(), 0);
            assert_eq!(w.value & !w.width.mask(), 0);
            assert!(w.ecam_offset + w.width.bytes() <= BUS_BYTES);
        }
    }

    #[test]
    fn most_writes_hit_the_first_function_anywhere_in_its_four_kib() {
        let bus = Bus::new([bdf(1, 0), bdf(0, 0)]);
        let writes = burst(&bus, 2, 16_000);
        let first: Vec<_> = writes
            .iter()
            .filter(|w| w.aim == Aim::FirstFunction)
            .collect();
        assert!(first.len() > 13_000 && first.len() < 15_000);
        assert!(first.iter().all(|w| w.ecam_offset < FUNCTION_BYTES));
        assert!(first.iter().any(|w| w.ecam_offset >= 0x100)); // extended space
        assert!(first.iter().any(|w| w.ecam_offset < 0x40)); // the header
    }

    #[test]
    fn absent_slots_skip_every_slot_with_a_function() {
        let bus = Bus::new([bdf(0, 0), bdf(1, 0), bdf(5, 0)]);
        let absent: Vec<_> = burst(&bus, 3, 16_000)
            .into_iter()
            .filter(|w| w.aim == Aim::AbsentSlot)
            .collect();
        assert!(absent.len() > 700);
        for w in &absent {
            let (slot, function) = (w.ecam_offset >> 15, w.ecam_offset >> 12 & 7);
            assert!(![0, 1, 5].contains(&slot) && function == 0, "{w:?}");
        }
        assert!(absent.iter().any(|w| w.ecam_offset >> 15 == 31));
    }

    #[test]
    fn other_functions_are_never_function_zero() {
        let bus = Bus::new([bdf(0, 0)]);
        let other: Vec<_> = burst(&bus, 4, 16_000)
            .into_iter()
            .filter(|w| w.aim == Aim::OtherFunction)
            .collect();
        assert!(other.len() > 700);
        assert!(other.iter().all(|w| w.ecam_offset >> 12 & 7 != 0));
    }

    #[test]
    fn a_full_bus_sends_the_absent_slot_share_to_other_functions() {
        let bus = Bus::new((0..32).map(|d| bdf(d, 0)));
        assert_eq!(bus.occupied(), 32);
        let writes = burst(&bus, 5, 4000);
        assert!(writes.iter().all(|w| w.aim != Aim::AbsentSlot));
    }

    #[test]
    fn the_first_function_is_the_lowest_address_on_bus_zero() {
        let other_bus = Bdf {
            bus: 1,
            device: 0,
            function: 0,
        };
        let bus = Bus::new([bdf(3, 0), other_bus, bdf(2, 1)]);
        assert_eq!(bus.first_function, bdf(2, 1).ecam_offset());
        assert_eq!(bus.occupied(), 2);
        assert_eq!(Bus::new([]).first_function, 0);
    }
}
