//! Which SPIs a guest owns: those wired to something it has (its virtual UART, the INTx
//! lines of its PCI functions). Its distributor shows only these: every other SPI reads as
//! zero and ignores writes, and a write that would enable, pend, activate or route one is
//! reported (`Vgic::take_foreign_spi_write`) so that the hypervisor can log the attempt.
//!
//! The single guest of a tree without guest nodes keeps every SPI the host has, as before
//! there were several guests.
#![forbid(unsafe_code)]

use super::dist::BitReg;
use super::{Vgic, PRIVATE_IRQS};
use alloc::vec::Vec;
use core::ops::Range;

/// A set of SPI INTIDs (32..1019).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpiSet {
    /// One bit per INTID, INTID 32 at bit 0 of word 0.
    words: Vec<u32>,
    /// Every SPI, however many the host has.
    all: bool,
}

/// The last SPI INTID (1019; 1020..1023 are special).
const LAST_SPI: u32 = 1019;

impl SpiSet {
    /// Every SPI (the single guest).
    pub fn all() -> Self {
        Self {
            words: Vec::new(),
            all: true,
        }
    }

    /// Exactly `intids`; INTIDs that are not SPIs are left out.
    pub fn only(intids: impl IntoIterator<Item = u32>) -> Self {
        let mut set = Self {
            words: Vec::new(),
            all: false,
        };
        for intid in intids
            .into_iter()
            .filter(|i| (PRIVATE_IRQS..=LAST_SPI).contains(i))
        {
            let bit = (intid - PRIVATE_IRQS) as usize;
            if set.words.len() <= bit / 32 {
                set.words.resize(bit / 32 + 1, 0);
            }
            set.words[bit / 32] |= 1 << (bit % 32);
        }
        set
    }

    /// The SPIs of a guest described by a guest node: its UART's line and the INTx lines of
    /// its PCI functions.
    pub fn for_guest(uart_intid: u32, intx_intids: &[u32]) -> Self {
        Self::only(core::iter::once(uart_intid).chain(intx_intids.iter().copied()))
    }

    /// What a guest owns: with guest nodes, [`Self::for_guest`]; the single guest of a tree
    /// without them keeps every SPI (`described_by_node` false).
    pub fn of_guest(described_by_node: bool, uart_intid: u32, intx_intids: &[u32]) -> Self {
        if described_by_node {
            Self::for_guest(uart_intid, intx_intids)
        } else {
            Self::all()
        }
    }

    /// Whether SPI `intid` is in the set (never for SGIs and PPIs).
    pub fn contains(&self, intid: u32) -> bool {
        if !(PRIVATE_IRQS..=LAST_SPI).contains(&intid) {
            return false;
        }
        if self.all {
            return true;
        }
        let bit = (intid - PRIVATE_IRQS) as usize;
        self.words
            .get(bit / 32)
            .is_some_and(|w| w & (1 << (bit % 32)) != 0)
    }

    /// SPIs (a multiple of 32) a distributor needs to show every one in the set, at most
    /// `host_spis`: what GICD_TYPER.ITLinesNumber covers.
    pub fn spis_needed(&self, host_spis: u32) -> u32 {
        if self.all {
            return host_spis;
        }
        let last_word = self.words.iter().rposition(|&w| w != 0);
        let needed = last_word.map_or(0, |w| (w as u32 + 1) * 32);
        needed.min(host_spis)
    }
}

/// A guest write that would have enabled, made pending, activated or routed SPIs it does not
/// own (and which was ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignSpiWrite {
    /// The first such SPI of the write.
    pub intid: u32,
    /// The register written (GICD_ISENABLER, ...).
    pub register: &'static str,
    /// SPIs the write named that the guest does not own.
    pub count: u32,
}

/// The ownership checks of the distributor's registers (`dist`).
impl Vgic {
    /// Whether the guest sees interrupt `intid` of an access whose register covers `valid`:
    /// its private interrupts, and of the SPIs only those it owns.
    pub(super) fn shows(&self, valid: &Range<u32>, intid: u32) -> bool {
        valid.contains(&intid) && (intid < PRIVATE_IRQS || self.owned.contains(intid))
    }

    /// Of the `count` (at most 32) interrupts from `first`, those the guest sees, one bit each.
    pub(super) fn shown_mask(&self, valid: &Range<u32>, first: u32, count: u32) -> u32 {
        (0..count.min(32))
            .filter(|&i| self.shows(valid, first + i))
            .fold(0, |mask, i| mask | 1 << i)
    }

    /// A write of `value` to the bit-array word whose first INTID is `first`: remembers an
    /// attempt to enable, pend or activate SPIs the guest does not own (clearing them, or
    /// setting their group, is what a guest's start-up does to every line: not reported).
    pub(super) fn note_foreign(&mut self, reg: BitReg, first: u32, value: u64, valid: &Range<u32>) {
        let register = match reg {
            BitReg::SetEnable => "GICD_ISENABLER",
            BitReg::SetPending => "GICD_ISPENDR",
            BitReg::SetActive => "GICD_ISACTIVER",
            _ => return,
        };
        let foreign = (0..32u32).filter(|&b| {
            let intid = first + b;
            value & (1 << b) != 0 && intid >= PRIVATE_IRQS && valid.contains(&intid)
        });
        let foreign = foreign.filter(|&b| !self.owned.contains(first + b));
        let mut count = 0;
        let mut lowest = None;
        for b in foreign {
            lowest.get_or_insert(first + b);
            count += 1;
        }
        if let Some(intid) = lowest {
            self.record_foreign(register, intid, count);
        }
    }

    pub(super) fn record_foreign(&mut self, register: &'static str, intid: u32, count: u32) {
        if self.foreign_write.is_none() {
            self.foreign_write = Some(ForeignSpiWrite {
                intid,
                register,
                count,
            });
        }
    }

    /// The first write since the last call that tried to enable, pend, activate or route an
    /// SPI the guest does not own (it was ignored): for the hypervisor to log.
    pub fn take_foreign_spi_write(&mut self) -> Option<ForeignSpiWrite> {
        self.foreign_write.take()
    }

    /// Shows the guest only the SPIs in `owned` (others: RAZ/WI), and GICD_TYPER only as many
    /// lines as they need.
    pub fn restrict_spis(&mut self, owned: SpiSet) {
        self.owned = owned;
    }

    /// Whether the guest owns SPI `intid`.
    pub fn owns_spi(&self, intid: u32) -> bool {
        self.spi_range().contains(&intid) && self.owned.contains(intid)
    }
}

#[cfg(test)]
mod tests;
