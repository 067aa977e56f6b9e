//! The guest's virtual ITS: its registers, and the commands it reads from the guest's queue,
//! checked and executed against sluice's own tables (the guest's ITT and table memory is never
//! trusted or used). A guest can only map events of devices it owns, to LPIs in range, in
//! collections that name its vCPUs.
#![forbid(unsafe_code)]

use super::command::{ItsCommand, COMMAND_BYTES};
use super::lpi::FIRST_LPI;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

const GITS_CTLR: u64 = 0x0000;
const GITS_IIDR: u64 = 0x0004;
const GITS_TYPER: u64 = 0x0008;
const GITS_CBASER: u64 = 0x0080;
const GITS_CWRITER: u64 = 0x0088;
const GITS_CREADR: u64 = 0x0090;
const GITS_BASER_FIRST: u64 = 0x0100;
const GITS_BASER_LAST: u64 = 0x0138;
const GITS_PIDR2: u64 = 0xffe8;
/// Offset of GITS_TRANSLATER (second 64 KiB frame).
pub const GITS_TRANSLATER: u64 = 0x1_0040;
/// Bytes of the ITS register frames.
pub const ITS_FRAME_BYTES: u64 = 0x2_0000;
/// EventIDs per device the virtual ITS accepts (MAPD size field beyond this is refused).
pub const MAX_EVENT_BITS: u8 = 11;
/// DeviceID bits and LPI INTID bits the virtual ITS advertises.
const DEVICE_ID_BITS: u64 = 16;
const INTID_BITS: u64 = 16;
const CBASER_VALID: u64 = 1 << 63;
/// GITS_BASER0: a flat Device table (Type 1, 8-byte entries). Guests size and allocate it, as
/// on hardware; the virtual ITS never reads it (its tables are its own), but an OS needs it
/// to accept DeviceIDs (Linux refuses DeviceID 0 without one).
const BASER0_DEVICE_RO: u64 = 1 << 56 | 7 << 48;
/// Guest-writable GITS_BASER0 fields: Valid, caches, PA, shareability, page size, size.
const BASER0_WRITABLE: u64 =
    1 << 63 | 7 << 59 | 7 << 53 | 0x0000_ffff_ffff_f000 | 3 << 10 | 3 << 8 | 0xff;

/// What an accepted command asks of the vGIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItsEffect {
    /// LPI `intid` now targets `vcpu` (MAPTI, MOVI, MAPC remaps).
    Route {
        /// LPI.
        intid: u32,
        /// Target vCPU.
        vcpu: usize,
    },
    /// LPI `intid` is no longer mapped (DISCARD, MAPD unmap): drop its pending state.
    Unroute {
        /// LPI.
        intid: u32,
    },
    /// Reload LPI `intid`'s priority and enable from the guest's property table (INV).
    Reload {
        /// LPI.
        intid: u32,
    },
    /// Make LPI `intid` pending on `vcpu` (INT).
    Inject {
        /// LPI.
        intid: u32,
        /// Target vCPU.
        vcpu: usize,
    },
    /// Clear LPI `intid`'s pending state (CLEAR).
    Clear {
        /// LPI.
        intid: u32,
    },
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItsRefusal {
    /// The DeviceID is not one of the guest's devices.
    NotOwned(u32),
    /// An EventID, LPI or collection out of range.
    OutOfRange(&'static str),
    /// The device, event or collection is not mapped.
    NotMapped(&'static str),
    /// An opcode the virtual ITS does not implement.
    Unsupported(u8),
}

impl core::fmt::Display for ItsRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotOwned(d) => write!(f, "device {d:#x} is not the guest's"),
            Self::OutOfRange(what) => write!(f, "{what} out of range"),
            Self::NotMapped(what) => write!(f, "{what} not mapped"),
            Self::Unsupported(op) => write!(f, "opcode {op:#x} not supported"),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Device {
    event_bits: u8,
    /// EventID -> (LPI, collection).
    events: BTreeMap<u32, (u32, u16)>,
}

/// The virtual ITS of one guest.
#[derive(Debug, Clone)]
pub struct VirtualIts {
    enabled: bool,
    cbaser: u64,
    cwriter: u64,
    creadr: u64,
    baser0: u64,
    vcpus: usize,
    lpi_count: u32,
    owned: Vec<u32>,
    devices: BTreeMap<u32, Device>,
    /// Collection -> vCPU.
    collections: BTreeMap<u16, usize>,
}

impl VirtualIts {
    /// An ITS for `vcpus` vCPUs, LPIs `FIRST_LPI..FIRST_LPI + lpi_count`, translating only the
    /// DeviceIDs in `owned`.
    pub fn new(vcpus: usize, lpi_count: u32, owned: Vec<u32>) -> Self {
        Self {
            enabled: false,
            cbaser: 0,
            cwriter: 0,
            creadr: 0,
            baser0: 0,
            vcpus,
            lpi_count,
            owned,
            devices: BTreeMap::new(),
            collections: BTreeMap::new(),
        }
    }

    fn typer(&self) -> u64 {
        // Physical LPIs, 8-byte ITT entries, IDbits/Devbits as advertised, collections held by
        // the ITS itself (HCC = one per vCPU) so the guest provisions no tables.
        1 | 7 << 4
            | (INTID_BITS - 1) << 8
            | (DEVICE_ID_BITS - 1) << 13
            | (self.vcpus.min(255) as u64) << 24
    }

    /// A guest read of the ITS frame.
    pub fn read(&self, offset: u64, width: u8) -> Option<u64> {
        let value = match offset & !7 {
            GITS_TYPER => self.typer(),
            GITS_CBASER => self.cbaser,
            GITS_CWRITER => self.cwriter,
            GITS_CREADR => self.creadr,
            GITS_BASER_FIRST => self.baser0 | BASER0_DEVICE_RO,
            0x0108..=GITS_BASER_LAST => 0, // BASER1..7: unimplemented
            _ => match (offset, width) {
                (GITS_CTLR, 4) => self.enabled as u64 | (!self.enabled as u64) << 31,
                (GITS_IIDR, 4) => 0x43b,
                (GITS_PIDR2, 4) => 0x3b,
                (_, 4 | 8) => 0,
                _ => return None,
            },
        };
        match (width, offset & 7) {
            (8, 0) => Some(value),
            (4, 0) => Some(value & 0xffff_ffff),
            (4, 4) => Some(value >> 32),
            _ => None,
        }
    }

    /// A guest write; returns true when CWRITER moved and commands should be processed.
    pub fn write(&mut self, offset: u64, width: u8, value: u64) -> Option<bool> {
        let merge = |old: u64| match (width, offset & 7) {
            (8, 0) => Some(value),
            (4, 0) => Some((old & !0xffff_ffff) | (value & 0xffff_ffff)),
            (4, 4) => Some((old & 0xffff_ffff) | value << 32),
            _ => None,
        };
        match offset & !7 {
            GITS_CBASER if !self.enabled => {
                self.cbaser = merge(self.cbaser)? & (CBASER_VALID | 0x000f_ffff_ffff_f000 | 0xff);
                self.creadr = 0;
            }
            GITS_BASER_FIRST if !self.enabled => {
                self.baser0 = merge(self.baser0)? & BASER0_WRITABLE
            }
            GITS_CWRITER => {
                self.cwriter = merge(self.cwriter)? & 0xf_ffe0;
                return Some(self.enabled);
            }
            GITS_CTLR if width == 4 && offset == GITS_CTLR => {
                self.enabled = value & 1 != 0;
                return Some(self.enabled);
            }
            _ if matches!(width, 4 | 8) => {}
            _ => return None,
        }
        Some(false)
    }

    /// The command queue: (guest-physical base, bytes), if valid.
    pub fn queue(&self) -> Option<(u64, u64)> {
        (self.cbaser & CBASER_VALID != 0).then(|| {
            (
                self.cbaser & 0x000f_ffff_ffff_f000,
                ((self.cbaser & 0xff) + 1) * 4096,
            )
        })
    }

    /// Guest addresses of the commands to run now (each `COMMAND_BYTES` long), in order; the
    /// caller reads each and calls `execute`, then `advance`.
    pub fn pending_commands(&self) -> Vec<u64> {
        let Some((base, size)) = self.queue() else {
            return Vec::new();
        };
        let mut at = self.creadr % size;
        let end = self.cwriter % size;
        let mut out = Vec::new();
        while at != end && out.len() < (size / COMMAND_BYTES as u64) as usize {
            out.push(base + at);
            at = (at + COMMAND_BYTES as u64) % size;
        }
        out
    }

    /// Marks every pending command consumed.
    pub fn advance(&mut self) {
        if let Some((_, size)) = self.queue() {
            self.creadr = self.cwriter % size;
        }
    }

    fn check_owned(&self, device: u32) -> Result<(), ItsRefusal> {
        self.owned
            .contains(&device)
            .then_some(())
            .ok_or(ItsRefusal::NotOwned(device))
    }

    fn event(&self, device: u32, event: u32) -> Result<(u32, u16), ItsRefusal> {
        self.check_owned(device)?;
        let d = self
            .devices
            .get(&device)
            .ok_or(ItsRefusal::NotMapped("device"))?;
        d.events
            .get(&event)
            .copied()
            .ok_or(ItsRefusal::NotMapped("event"))
    }

    fn vcpu_of(&self, collection: u16) -> Result<usize, ItsRefusal> {
        self.collections
            .get(&collection)
            .copied()
            .ok_or(ItsRefusal::NotMapped("collection"))
    }

    /// Where an event of a guest device lands: (LPI, vCPU).
    pub fn translate(&self, device: u32, event: u32) -> Option<(u32, usize)> {
        let (intid, collection) = self.event(device, event).ok()?;
        Some((intid, self.vcpu_of(collection).ok()?))
    }
}

mod exec;

#[cfg(test)]
mod tests;
