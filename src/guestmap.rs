//! The guest's physical address map: where its RAM banks and its virtual PCI windows go.
//!
//! Laid out for the guest, not copied from the host, so that any amount of RAM fits:
//! - translated (an SMMU applies the guest's stage 2 to DMA): RAM goes in one bank in the
//!   first room below the hole that holds it all or, when none does, starts at
//!   [`GUEST_RAM_BASE`] and fills upwards, skipping the devices the guest sees at their host
//!   addresses, the host's PCI windows, the host addresses of the hypervisor's own memory (a
//!   device told to DMA there hits an SMMU fault, not guest RAM) and the 32-bit PCI hole
//!   `[LOW_RAM_END, 4 GiB)`; what does not fit below the hole goes above 4 GiB; no bank starts
//!   at its own host address (translated RAM must never work by accident);
//! - identity (no SMMU, devices DMA to host addresses): RAM is where the host's is, and the
//!   virtual PCI windows take what is left, reusing the host's own PCI window addresses (but
//!   never its BARs') when RAM leaves no other room below 4 GiB.
#![forbid(unsafe_code)]

use crate::mm::carve::FreeMemory;
use crate::mm::guest_ram::{GuestRam, RamBank};
use crate::mm::PhysRange;
use crate::vpci::layout::{self, GuestPciLayout, NoRoom};
use alloc::vec::Vec;
use core::fmt;

/// Lowest IPA of translated guest RAM (as on QEMU `virt` and most boards: low addresses are
/// devices).
pub const GUEST_RAM_BASE: u64 = 1 << 30;
/// Translated RAM stops below this and resumes at 4 GiB, leaving the guest's 32-bit PCI window
/// and ECAM a hole below 4 GiB.
pub const LOW_RAM_END: u64 = 3 << 30;
/// Alignment of every translated bank (stage 2 then maps it with 2 MiB blocks at least).
pub const BANK_ALIGN: u64 = 2 << 20;
const FOUR_GIB: u64 = 1 << 32;

/// How guest RAM relates to host RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Guest RAM at its host addresses.
    Identity,
    /// Guest RAM at IPAs chosen for the guest (never all equal to the host addresses).
    Translated,
}

/// What the map is built from.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Host RAM carved for the guest, in the order the guest should see it.
    pub host_ram: &'a [PhysRange],
    /// Identity or translated RAM.
    pub placement: Placement,
    /// Devices the guest sees at their host addresses (GIC, ITS, UART): never RAM or PCI.
    pub devices: &'a [PhysRange],
    /// The host's PCI ECAMs and windows: kept clear where room allows.
    pub host_pci: &'a [PhysRange],
    /// The host's BARs: never under a guest PCI window, so that a guest BAR address cannot
    /// equal a host one even when a window has to reuse the host's window addresses.
    pub host_bars: &'a [PhysRange],
    /// Every host RAM bank: translated guest RAM keeps clear of the part not backing it (the
    /// hypervisor's), identity-mapped guest PCI windows of all of it.
    pub host_memory: &'a [PhysRange],
    /// Guest IPA size (from the CPU's PA range).
    pub ipa_bits: u8,
    /// Whether the guest gets a virtual PCI bus.
    pub with_pci: bool,
}

/// The guest's address map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestMap {
    /// Guest RAM banks.
    pub ram: GuestRam,
    /// The virtual PCI host bridge's ECAM and windows, when the guest has one.
    pub pci: Option<GuestPciLayout>,
    /// A PCI window had to reuse addresses of the host's own windows.
    pub pci_on_host_windows: bool,
}

/// Why no map fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// The IPA space the CPU offers cannot hold the guest's RAM.
    IpaSpace {
        /// Bytes of RAM to place.
        ram_bytes: u64,
        /// Bytes that found a place.
        placed_bytes: u64,
        /// The guest's IPA size.
        ipa_bits: u8,
    },
    /// No room for the virtual PCI host bridge.
    Pci(NoRoom),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IpaSpace {
                ram_bytes,
                placed_bytes,
                ipa_bits,
            } => write!(
                f,
                "guest RAM of {} MiB does not fit in the {ipa_bits}-bit guest address space \
                 the CPU's PA range allows ({} MiB placed); give the guest less RAM",
                ram_bytes >> 20,
                placed_bytes >> 20
            ),
            Self::Pci(e) => write!(f, "{e}"),
        }
    }
}

/// Result of planning a map.
pub type Result<T> = core::result::Result<T, MapError>;

/// Lays out the guest's RAM and virtual PCI host bridge.
pub fn plan(req: &Request) -> Result<GuestMap> {
    let top = 1u64
        .checked_shl(u32::from(req.ipa_bits))
        .unwrap_or(u64::MAX);
    let ram = match req.placement {
        Placement::Identity => identity(req, top)?,
        Placement::Translated => translated(req, top)?,
    };
    let mut avoid = [req.devices, req.host_bars, &ram.ipa_ranges()].concat();
    if req.placement == Placement::Identity {
        avoid.extend_from_slice(req.host_memory);
    }
    let (pci, pci_on_host_windows) = if req.with_pci {
        let choice = layout::choose(&avoid, req.host_pci, req.ipa_bits).map_err(MapError::Pci)?;
        (Some(choice.layout), choice.on_host_windows)
    } else {
        (None, false)
    };
    Ok(GuestMap {
        ram,
        pci,
        pci_on_host_windows,
    })
}

fn ram_bytes(req: &Request) -> u64 {
    req.host_ram.iter().map(|r| r.size_bytes).sum()
}

fn identity(req: &Request, top: u64) -> Result<GuestRam> {
    let fits = |r: &PhysRange| r.end_exclusive().is_some_and(|e| e <= top);
    if !req.host_ram.iter().all(fits) {
        return Err(MapError::IpaSpace {
            ram_bytes: ram_bytes(req),
            placed_bytes: req
                .host_ram
                .iter()
                .filter(|r| fits(r))
                .map(|r| r.size_bytes)
                .sum(),
            ipa_bits: req.ipa_bits,
        });
    }
    Ok(GuestRam::identity(req.host_ram))
}

/// One bank in the first free room below the hole that holds all of the RAM or, failing that,
/// the free IPA space filled from `GUEST_RAM_BASE` up.
fn translated(req: &Request, top: u64) -> Result<GuestRam> {
    let mut hypervisor = FreeMemory::new(req.host_memory);
    for r in req.host_ram {
        hypervisor.reserve(*r);
    }
    let mut avoid = [req.devices, req.host_pci, hypervisor.ranges()].concat();
    avoid.push(PhysRange::new(LOW_RAM_END, FOUR_GIB - LOW_RAM_END));
    let free = free_space(&avoid, GUEST_RAM_BASE, top);
    Ok(match one_low_bank(req, &free) {
        Some(ram) => ram,
        None => fill(req, free)?,
    })
}

/// Guest RAM from one host range as one bank below `LOW_RAM_END`, if a free room holds it.
fn one_low_bank(req: &Request, free: &[PhysRange]) -> Option<GuestRam> {
    let [host] = req.host_ram else {
        return None;
    };
    let room = free
        .iter()
        .map(|r| skip_identity(*r, host.start))
        .find(|r| {
            r.size_bytes >= host.size_bytes && r.end_exclusive().is_some_and(|e| e <= LOW_RAM_END)
        })?;
    Some(GuestRam::from_banks(Vec::from([RamBank {
        ipa: PhysRange::new(room.start, host.size_bytes),
        host_start: host.start,
    }])))
}

/// Places the host ranges, in order, in the `free` IPA space,
/// splitting them where an obstacle interrupts the space, and moving a bank that would start
/// at its own host address one `BANK_ALIGN` up.
fn fill(req: &Request, free: Vec<PhysRange>) -> Result<GuestRam> {
    let mut banks = Vec::new();
    let mut free_iter = free.into_iter();
    let mut space = free_iter.next();
    let mut placed_bytes = 0;
    for host in req.host_ram {
        let (mut host_start, mut left) = (host.start, host.size_bytes);
        while left != 0 {
            let room = space.map(|r| skip_identity(r, host_start));
            let Some(room) = room.filter(|r| r.size_bytes != 0) else {
                space = free_iter.next();
                if space.is_none() {
                    return Err(MapError::IpaSpace {
                        ram_bytes: ram_bytes(req),
                        placed_bytes,
                        ipa_bits: req.ipa_bits,
                    });
                }
                continue;
            };
            let len = left.min(room.size_bytes);
            banks.push(RamBank {
                ipa: PhysRange::new(room.start, len),
                host_start,
            });
            space = Some(PhysRange::new(room.start + len, room.size_bytes - len));
            (host_start, left, placed_bytes) = (host_start + len, left - len, placed_bytes + len);
        }
    }
    Ok(GuestRam::from_banks(banks))
}

/// `room` without its first `BANK_ALIGN` bytes if it starts at `host_start`.
fn skip_identity(room: PhysRange, host_start: u64) -> PhysRange {
    if room.start != host_start {
        return room;
    }
    let skip = room.size_bytes.min(BANK_ALIGN);
    PhysRange::new(room.start + skip, room.size_bytes - skip)
}

/// The `BANK_ALIGN`-aligned pieces of `[from, top)` that no range of `avoid` touches, lowest
/// first.
fn free_space(avoid: &[PhysRange], from: u64, top: u64) -> Vec<PhysRange> {
    let mut blocked: Vec<(u64, u64)> = avoid
        .iter()
        .filter(|r| r.size_bytes != 0)
        .map(|r| {
            let start = r.start & !(BANK_ALIGN - 1);
            let end = r.start.saturating_add(r.size_bytes);
            (
                start,
                end.checked_next_multiple_of(BANK_ALIGN).unwrap_or(u64::MAX),
            )
        })
        .collect();
    blocked.sort_unstable();
    let mut free = Vec::new();
    let mut cursor = from
        .checked_next_multiple_of(BANK_ALIGN)
        .unwrap_or(u64::MAX);
    for (start, end) in blocked {
        if start > cursor {
            free.push(PhysRange::new(
                cursor,
                start.min(top).saturating_sub(cursor),
            ));
        }
        cursor = cursor.max(end);
        if cursor >= top {
            break;
        }
    }
    let end = top & !(BANK_ALIGN - 1);
    if cursor < end {
        free.push(PhysRange::new(cursor, end - cursor));
    }
    free.retain(|r| r.size_bytes != 0);
    free
}

#[cfg(test)]
mod tests;
