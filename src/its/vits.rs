//! The guest's virtual ITS: its registers, and the commands it reads from the guest's queue,
//! checked and executed against sluice's own tables (the guest's ITT and table memory is never
//! trusted or used). A guest can only map events of devices it owns, to LPIs in range, in
//! collections that name its vCPUs.
#![forbid(unsafe_code)]

use super::command::{ItsCommand, COMMAND_BYTES};
use super::lpi::FIRST_LPI;
use crate::gicv3::its::{
    self as gits, GITS_BASER, GITS_CBASER, GITS_CTLR, GITS_CWRITER, GITS_TYPER,
};
use crate::gicv3::PIDR2;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use tock_registers::fields::FieldValue;

/// Bytes of the ITS register frames.
pub const ITS_FRAME_BYTES: u64 = gits::GITS_FRAME_BYTES as u64;
/// EventIDs per device the virtual ITS accepts (MAPD size field beyond this is refused).
pub const MAX_EVENT_BITS: u8 = 11;
/// DeviceID bits and LPI INTID bits the virtual ITS advertises.
const DEVICE_ID_BITS: u64 = 16;
const INTID_BITS: u64 = 16;
/// GITS_IIDR and GITS_PIDR2, as the vGIC reports them (Arm implementer, GICv3).
const IIDR: u64 = 0x43b;
const PIDR2_GICV3: u64 = 0x3b;
/// GITS_BASER1, the Collection table; BASER2..7 are unimplemented (RAZ/WI).
const GITS_BASER1: usize = GITS_BASER + 8;
const GITS_BASER2: usize = GITS_BASER + 16;

/// GITS_BASER0: a flat Device table (Type 1, 8-byte entries). Guests size and allocate it, as
/// on hardware; the virtual ITS never reads it (its tables are its own), but an OS needs it
/// to accept DeviceIDs (Linux refuses DeviceID 0 without one).
fn baser0_read_only() -> FieldValue<u64, GITS_BASER::Register> {
    GITS_BASER::Type::Devices + GITS_BASER::Entry_Size.val(7)
}

/// GITS_BASER1: a flat Collection table (Type 4, 8-byte entries). The virtual ITS keeps its
/// collections itself (GITS_TYPER.HCC covers every vCPU's), but guests written against KVM's
/// ITS provision one and check what they read back.
fn baser1_read_only() -> FieldValue<u64, GITS_BASER::Register> {
    GITS_BASER::Type::Collections + GITS_BASER::Entry_Size.val(7)
}

/// Bytes of one page of a GITS_BASER table, by its Page_Size field (4, 16 or 64 KiB).
fn baser_page_bytes(baser: u64) -> u64 {
    match GITS_BASER::Page_Size.read(baser) {
        0 => 4 << 10,
        1 => 16 << 10,
        _ => 64 << 10,
    }
}

/// Guest-writable GITS_BASER0/1 fields: Valid, caches, PA, shareability, page size, size.
fn baser0_writable() -> u64 {
    (GITS_BASER::Valid::SET
        + GITS_BASER::InnerCache::SET
        + GITS_BASER::OuterCache::SET
        + GITS_BASER::Physical_Address::SET
        + GITS_BASER::Shareability::SET
        + GITS_BASER::Page_Size::SET
        + GITS_BASER::Size::SET)
        .mask()
}

/// Guest-writable GITS_CBASER fields: Valid, PA, size (caches and shareability read as 0).
fn cbaser_writable() -> u64 {
    (GITS_CBASER::Valid::SET + GITS_CBASER::Physical_Address::SET + GITS_CBASER::Size::SET).mask()
}

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
    baser1: u64,
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
            baser1: 0,
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
        (GITS_TYPER::Physical::SET
            + GITS_TYPER::ITT_entry_size.val(7)
            + GITS_TYPER::ID_bits.val(INTID_BITS - 1)
            + GITS_TYPER::Devbits.val(DEVICE_ID_BITS - 1)
            + GITS_TYPER::HCC.val(self.vcpus.min(255) as u64))
        .value
    }

    /// A guest read of the ITS frame.
    pub fn read(&self, offset: u64, width: u8) -> Option<u64> {
        let value = match offset as usize & !7 {
            GITS_TYPER => self.typer(),
            GITS_CBASER => self.cbaser,
            GITS_CWRITER => self.cwriter,
            gits::GITS_CREADR => self.creadr,
            GITS_BASER => baser0_read_only().modify(self.baser0),
            GITS_BASER1 => baser1_read_only().modify(self.baser1),
            GITS_BASER2..=gits::GITS_BASER_LAST => 0, // BASER2..7: unimplemented
            _ => match (offset as usize, width) {
                (GITS_CTLR, 4) => {
                    let ctlr = GITS_CTLR::Enabled.val(self.enabled as u32)
                        + GITS_CTLR::Quiescent.val(!self.enabled as u32);
                    ctlr.value as u64
                }
                (gits::GITS_IIDR, 4) => IIDR,
                (PIDR2, 4) => PIDR2_GICV3,
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
        match offset as usize & !7 {
            GITS_CBASER if !self.enabled => {
                self.cbaser = merge(self.cbaser)? & cbaser_writable();
                self.creadr = 0;
            }
            GITS_BASER if !self.enabled => self.baser0 = merge(self.baser0)? & baser0_writable(),
            GITS_BASER1 if !self.enabled => self.baser1 = merge(self.baser1)? & baser0_writable(),
            GITS_CWRITER => {
                self.cwriter = merge(self.cwriter)? & gits::CWRITER_OFFSET_MASK;
                return Some(self.enabled);
            }
            GITS_CTLR if width == 4 && offset as usize == GITS_CTLR => {
                self.enabled = GITS_CTLR::Enabled.is_set(value as u32);
                return Some(self.enabled);
            }
            _ if matches!(width, 4 | 8) => {}
            _ => return None,
        }
        Some(false)
    }

    /// The command queue: (guest-physical base, bytes), if valid.
    pub fn queue(&self) -> Option<(u64, u64)> {
        GITS_CBASER::Valid.is_set(self.cbaser).then(|| {
            (
                self.cbaser & gits::CBASER_ADDRESS_MASK,
                (GITS_CBASER::Size.read(self.cbaser) + 1) * gits::CBASER_PAGE_BYTES,
            )
        })
    }

    /// The guest's Device and Collection tables that are Valid: (guest-physical base, bytes),
    /// for the hypervisor to check against guest memory (the virtual ITS never uses them).
    /// With 64 KiB pages, BASER bits [15:12] hold address bits [51:48] (12.19.1).
    pub fn tables(&self) -> Vec<(u64, u64)> {
        [self.baser0, self.baser1]
            .into_iter()
            .filter(|&b| GITS_BASER::Valid.is_set(b))
            .map(|b| {
                let page = baser_page_bytes(b);
                let mut base = b & gits::BASER_ADDRESS_MASK;
                if page == 64 << 10 {
                    base = (base & !0xffff) | (b >> 12 & 0xf) << 48;
                }
                (base, (GITS_BASER::Size.read(b) + 1) * page)
            })
            .collect()
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
