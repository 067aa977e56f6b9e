//! Where the virtual host bridge lives in the guest's physical address space: its ECAM and
//! its two memory windows, placed where nothing else is, and never on the host's own PCI
//! windows (so a guest BAR address can never equal the host's by accident).
#![forbid(unsafe_code)]

use super::topology::GUEST_ECAM_BYTES;
use crate::mm::PhysRange;
use core::fmt;

/// Size of the guest's 32-bit memory window.
pub const GUEST_MEM32_BYTES: u64 = 256 << 20;
/// Size of the guest's 64-bit prefetchable window.
pub const GUEST_MEM64_BYTES: u64 = 64 << 30;
/// Lowest address considered for the 32-bit pieces (keeps BARs away from address 0).
const LOW_FLOOR: u64 = 16 << 20;

/// The guest's PCI address map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestPciLayout {
    /// Configuration space, one bus.
    pub ecam: PhysRange,
    /// 32-bit non-prefetchable window.
    pub mem32: PhysRange,
    /// 64-bit prefetchable window.
    pub mem64: PhysRange,
}

/// No room for a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRoom(pub &'static str);

impl fmt::Display for NoRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no free guest address range for the virtual PCI {}",
            self.0
        )
    }
}

fn first_free(avoid: &[PhysRange], size: u64, from: u64, below: u64) -> Option<PhysRange> {
    let mut start = from.checked_next_multiple_of(size)?;
    while start.checked_add(size)? <= below {
        let candidate = PhysRange::new(start, size);
        match avoid
            .iter()
            .filter(|r| r.overlaps(&candidate))
            .map(|r| r.start.saturating_add(r.size_bytes))
            .max()
        {
            None => return Some(candidate),
            Some(end) => start = end.checked_next_multiple_of(size)?,
        }
    }
    None
}

fn last_free(avoid: &[PhysRange], size: u64, top: u64) -> Option<PhysRange> {
    let mut start = top.checked_sub(size)? & !(size - 1);
    loop {
        let candidate = PhysRange::new(start, size);
        match avoid
            .iter()
            .filter(|r| r.overlaps(&candidate))
            .map(|r| r.start)
            .min()
        {
            None => return Some(candidate),
            Some(low) => start = low.checked_sub(size)? & !(size - 1),
        }
    }
}

/// Where the windows went, and whether one had to reuse addresses of the host's own windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The guest's PCI address map.
    pub layout: GuestPciLayout,
    /// Some window lies on `prefer_avoid` (nothing else was free).
    pub on_host_windows: bool,
}

/// Places ECAM and the 32-bit window below 4 GiB and the 64-bit window as high as the guest's
/// `ipa_bits` allow, all clear of `avoid` (guest RAM, emulated devices) and, wherever room
/// remains, of `prefer_avoid` (the host's PCI windows and ECAM: a guest BAR address then never
/// equals a host one by accident). A window overlaps `prefer_avoid` only when nothing else
/// fits, as when identity-mapped guest RAM fills the 32-bit space around the host's window.
pub fn choose(
    avoid: &[PhysRange],
    prefer_avoid: &[PhysRange],
    ipa_bits: u8,
) -> Result<Choice, NoRoom> {
    const FOUR_GIB: u64 = 1 << 32;
    let mut on_host_windows = false;
    let mut place = |extra: &[PhysRange], find: &dyn Fn(&[PhysRange]) -> Option<PhysRange>| {
        let mut all = avoid.to_vec();
        all.extend_from_slice(extra);
        let strict = [all.as_slice(), prefer_avoid].concat();
        find(&strict).or_else(|| {
            let found = find(&all);
            on_host_windows |= found.is_some();
            found
        })
    };
    let mem32 = place(&[], &|a| {
        first_free(a, GUEST_MEM32_BYTES, LOW_FLOOR, FOUR_GIB)
    })
    .ok_or(NoRoom("32-bit window"))?;
    let ecam = place(&[mem32], &|a| {
        first_free(a, GUEST_ECAM_BYTES, LOW_FLOOR, FOUR_GIB)
    })
    .ok_or(NoRoom("ECAM"))?;
    let top = 1u64.checked_shl(ipa_bits as u32).unwrap_or(u64::MAX);
    let mem64 = place(&[mem32, ecam], &|a| {
        last_free(a, GUEST_MEM64_BYTES, top).filter(|r| r.start >= FOUR_GIB)
    })
    .ok_or(NoRoom("64-bit window"))?;
    Ok(Choice {
        layout: GuestPciLayout { ecam, mem32, mem64 },
        on_host_windows,
    })
}

impl GuestPciLayout {
    /// No windows at all (every BAR refused): a bus's map before it is placed.
    pub const UNPLACED: Self = Self {
        ecam: PhysRange::new(0, 0),
        mem32: PhysRange::new(0, 0),
        mem64: PhysRange::new(0, 0),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU virt with 1 GiB: devices, host PCI windows and ECAMs, RAM.
    fn qemu_avoid() -> [PhysRange; 6] {
        [
            PhysRange::new(0x800_0000, 0x100_0000),         // GIC, UART
            PhysRange::new(0x1000_0000, 0x2eff_0000),       // host 32-bit window
            PhysRange::new(0x3eff_0000, 0x1_0000),          // host I/O window
            PhysRange::new(0x4000_0000, 0x4000_0000),       // RAM
            PhysRange::new(0x40_1000_0000, 0x1000_0000),    // host ECAM
            PhysRange::new(0x80_0000_0000, 0x80_0000_0000), // host 64-bit window
        ]
    }

    fn split(all: [PhysRange; 6]) -> (Vec<PhysRange>, Vec<PhysRange>) {
        let (host_pci, rest): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|r| r.start == 0x1000_0000 || r.start >= 0x40_0000_0000);
        (rest, host_pci)
    }

    #[test]
    fn windows_avoid_ram_devices_and_the_host_windows() {
        let (avoid, host_pci) = split(qemu_avoid());
        let choice = choose(&avoid, &host_pci, 40).unwrap();
        let l = choice.layout;
        assert!(!choice.on_host_windows);
        for r in qemu_avoid() {
            for w in [l.ecam, l.mem32, l.mem64] {
                assert!(!w.overlaps(&r), "{w} overlaps {r}");
            }
        }
        assert!(!l.ecam.overlaps(&l.mem32));
        assert!(l.mem32.end_exclusive().unwrap() <= 1 << 32);
        assert_eq!(l.mem32.start % GUEST_MEM32_BYTES, 0);
        assert!(l.mem64.end_exclusive().unwrap() <= 1 << 40);
        assert_eq!(l.mem64, PhysRange::new(0x70_0000_0000, GUEST_MEM64_BYTES));
    }

    #[test]
    fn identity_ram_filling_the_32_bit_space_pushes_the_window_onto_the_hosts() {
        let (mut avoid, host_pci) = split(qemu_avoid());
        avoid.push(PhysRange::new(0x4000_0000, 0x2_0000_0000)); // 8 GiB of RAM from 1 GiB
        let choice = choose(&avoid, &host_pci, 40).unwrap();
        assert!(choice.on_host_windows);
        let l = choice.layout;
        assert_eq!(l.mem32, PhysRange::new(0x1000_0000, GUEST_MEM32_BYTES));
        for w in [l.ecam, l.mem32, l.mem64] {
            assert!(
                avoid.iter().all(|r| !w.overlaps(r)),
                "{w} on RAM or a device"
            );
        }
        assert!(!l.ecam.overlaps(&l.mem32));
        assert!(
            host_pci.iter().all(|r| !l.mem64.overlaps(r)),
            "the 64-bit window still had room of its own"
        );
    }

    #[test]
    fn no_room_is_an_error() {
        let everything = [PhysRange::new(0, u64::MAX)];
        assert_eq!(choose(&everything, &[], 48), Err(NoRoom("32-bit window")));
        let low = [PhysRange::new(0, 1 << 32)];
        assert_eq!(choose(&[], &low, 31), Err(NoRoom("64-bit window")));
    }

    #[test]
    fn the_unplaced_map_refuses_every_bar() {
        assert_eq!(
            GuestPciLayout::UNPLACED.check_bar(PhysRange::new(0x8000_0000, 0x1000), 0, &[]),
            Err(Refusal::OutsideWindows)
        );
    }
}

/// Why a guest BAR address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The guest page offset differs from the host BAR's (stage 2 maps whole pages).
    PageOffset,
    /// Not inside one of the guest's PCI windows (so it could cover RAM or a device).
    OutsideWindows,
    /// Overlaps another mapped BAR.
    OverlapsBar,
    /// The range wraps around the address space.
    Wraps,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PageOffset => "page offset differs from the host BAR's",
            Self::OutsideWindows => "outside the guest's PCI windows",
            Self::OverlapsBar => "overlaps another BAR",
            Self::Wraps => "wraps around the address space",
        })
    }
}

impl GuestPciLayout {
    /// Whether the guest may have a BAR at `range` backed by `host_phys`, given the ranges of
    /// the other BARs mapped now. Guest RAM and emulated devices lie outside the windows by
    /// construction (`choose`), so staying inside a window keeps clear of them.
    pub fn check_bar(
        &self,
        range: PhysRange,
        host_phys: u64,
        others: &[PhysRange],
    ) -> Result<(), Refusal> {
        if range.start % 4096 != host_phys % 4096 {
            return Err(Refusal::PageOffset);
        }
        let last = range
            .end_exclusive()
            .and_then(|e| e.checked_sub(1))
            .ok_or(Refusal::Wraps)?;
        let inside = |w: PhysRange| w.contains(range.start) && w.contains(last);
        if !inside(self.mem32) && !inside(self.mem64) {
            return Err(Refusal::OutsideWindows);
        }
        if others.iter().any(|o| o.overlaps(&range)) {
            return Err(Refusal::OverlapsBar);
        }
        Ok(())
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::*;

    fn layout() -> GuestPciLayout {
        GuestPciLayout {
            ecam: PhysRange::new(0x100_0000, GUEST_ECAM_BYTES),
            mem32: PhysRange::new(0x8000_0000, GUEST_MEM32_BYTES),
            mem64: PhysRange::new(0x70_0000_0000, GUEST_MEM64_BYTES),
        }
    }

    #[test]
    fn a_bar_inside_a_window_at_the_host_page_offset_is_accepted() {
        assert_eq!(
            layout().check_bar(PhysRange::new(0x8000_0000, 0x2_0000), 0x1000_0000, &[]),
            Ok(())
        );
        assert_eq!(
            layout().check_bar(PhysRange::new(0x70_0000_4000, 0x4000), 0x80_0000_0000, &[]),
            Ok(())
        );
    }

    #[test]
    fn a_bar_over_guest_ram_or_a_device_is_outside_the_windows() {
        let ram = PhysRange::new(0x4820_0000, 0x2_0000);
        assert_eq!(
            layout().check_bar(ram, 0x1000_0000, &[]),
            Err(Refusal::OutsideWindows)
        );
        let gicd = PhysRange::new(0x800_0000, 0x1000);
        assert_eq!(
            layout().check_bar(gicd, 0x1000_0000, &[]),
            Err(Refusal::OutsideWindows)
        );
        let straddling = PhysRange::new(0x8fff_f000, 0x2000);
        assert_eq!(
            layout().check_bar(straddling, 0x1000_0000, &[]),
            Err(Refusal::OutsideWindows)
        );
    }

    #[test]
    fn a_bar_over_another_bar_or_at_a_different_page_offset_is_refused() {
        let other = [PhysRange::new(0x8001_0000, 0x1000)];
        assert_eq!(
            layout().check_bar(PhysRange::new(0x8000_0000, 0x2_0000), 0x1000_0000, &other),
            Err(Refusal::OverlapsBar)
        );
        assert_eq!(
            layout().check_bar(PhysRange::new(0x8000_0800, 0x100), 0x1000_0000, &[]),
            Err(Refusal::PageOffset)
        );
        assert_eq!(
            layout().check_bar(PhysRange::new(u64::MAX - 0xfff, 0x2000), 0, &[]),
            Err(Refusal::Wraps)
        );
    }
}
