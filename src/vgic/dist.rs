//! The interrupt registers shared by GICD and GICR SGI_base (same layout, IHI 0069 12.9/12.11),
//! and the GICD frame itself.
#![forbid(unsafe_code)]

use super::irq::Irq;
use super::{Kick, Result, Vgic, VgicAccessError, IIDR, PIDR2_GICV3, PRIVATE_IRQS};
use crate::gicv3::dist::{self as gicd, GICD_CTLR, GICD_IROUTER, GICD_TYPER};
use crate::gicv3::PIDR2;
use core::ops::Range;
use tock_registers::fields::FieldValue;

/// The GICD_IROUTER array, as guest offsets.
const IROUTER: Range<u64> = gicd::GICD_IROUTER as u64..gicd::GICD_IROUTER_END as u64;
/// GICD_TYPER.IDbits without LPIs: 10 interrupt ID bits.
const TYPER_ID_BITS: u32 = 9;
/// GICD_TYPER.IDbits with LPIs: 16 interrupt ID bits.
const TYPER_LPI_ID_BITS: u32 = 15;

/// The GICD_CTLR bits the guest controls: the two group enables.
fn ctlr_writable() -> FieldValue<u32, GICD_CTLR::Register> {
    GICD_CTLR::EnableGrp0::SET + GICD_CTLR::EnableGrp1::SET
}

/// Which bit array an offset falls in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BitReg {
    Group,
    SetEnable,
    ClearEnable,
    SetPending,
    ClearPending,
    SetActive,
    ClearActive,
}

/// Offsets of the one-bit-per-INTID arrays, the same in GICD and GICR SGI_base.
fn bit_register(offset: u64) -> Option<(BitReg, u64)> {
    use gicd::*;
    let reg = match offset as usize {
        GICD_IGROUPR..GICD_ISENABLER => BitReg::Group,
        GICD_ISENABLER..GICD_ICENABLER => BitReg::SetEnable,
        GICD_ICENABLER..GICD_ISPENDR => BitReg::ClearEnable,
        GICD_ISPENDR..GICD_ICPENDR => BitReg::SetPending,
        GICD_ICPENDR..GICD_ISACTIVER => BitReg::ClearPending,
        GICD_ISACTIVER..GICD_ICACTIVER => BitReg::SetActive,
        GICD_ICACTIVER..GICD_IPRIORITYR => BitReg::ClearActive,
        _ => return None,
    };
    Some((reg, (offset & 0x7f) / 4))
}

fn read_bit(reg: BitReg, irq: &Irq) -> bool {
    match reg {
        BitReg::Group => irq.group1,
        BitReg::SetEnable | BitReg::ClearEnable => irq.enabled,
        BitReg::SetPending | BitReg::ClearPending => irq.pending(),
        BitReg::SetActive | BitReg::ClearActive => irq.active,
    }
}

/// Applies one bit of a bit-array register. Returns whether a HW-linked interrupt let go of
/// the physical interrupt sluice held active for it, which must now be deactivated.
fn write_bit(reg: BitReg, irq: &mut Irq, set: bool) -> bool {
    match reg {
        BitReg::Group => irq.group1 = set,
        _ if !set => {}
        BitReg::SetEnable => irq.enabled = true,
        BitReg::ClearEnable => irq.enabled = false,
        _ if irq.hw_intid.is_some() => return write_hw_bit(reg, irq),
        BitReg::SetPending => irq.pending_latch = true,
        // Clearing pending also clears a level source's latch; the line itself stays.
        BitReg::ClearPending => irq.pending_latch = false,
        BitReg::SetActive => irq.active = true,
        BitReg::ClearActive => irq.deactivate(),
    }
    false
}

/// Pending and active bits of a HW-linked interrupt: those states stand for the physical
/// interrupt, so the guest can give them up but not make them up (ISPENDR and ISACTIVER are
/// ignored). While the interrupt sits in a list register of its running vCPU, the guest is
/// already taking it: the write loses that race, as it could on hardware.
fn write_hw_bit(reg: BitReg, irq: &mut Irq) -> bool {
    if irq.in_lr {
        return false;
    }
    match reg {
        BitReg::ClearPending if irq.pending_latch && !irq.active => {
            irq.pending_latch = false;
            true
        }
        BitReg::ClearActive if irq.active => {
            irq.deactivate();
            !irq.pending_latch
        }
        _ => false,
    }
}

fn refuse(offset: u64, width_bytes: u8) -> VgicAccessError {
    VgicAccessError {
        offset,
        width_bytes,
    }
}

impl Vgic {
    /// Reads an interrupt register for the INTIDs in `valid` (others read as zero), or `None`
    /// if `offset` is not an interrupt register.
    pub(super) fn irq_reg_read(
        &self,
        vcpu: usize,
        offset: u64,
        width: u8,
        valid: Range<u32>,
    ) -> Option<Result<u64>> {
        let word_ok = width == 4 && offset.is_multiple_of(4);
        if let Some((reg, word)) = bit_register(offset) {
            if !word_ok {
                return Some(Err(refuse(offset, width)));
            }
            let value = (0..32u32)
                .filter(|b| self.shows(&valid, word as u32 * 32 + b))
                .filter(|&b| {
                    self.irq(vcpu, word as u32 * 32 + b)
                        .is_some_and(|i| read_bit(reg, i))
                })
                .fold(0u64, |acc, b| acc | 1 << b);
            return Some(Ok(value));
        }
        match offset as usize {
            gicd::GICD_IPRIORITYR..gicd::GICD_ITARGETSR if width == 1 || word_ok => {
                let first = (offset as usize - gicd::GICD_IPRIORITYR) as u32;
                let bytes = (0..width as u32).map(|i| {
                    let intid = first + i;
                    let p = if self.shows(&valid, intid) {
                        self.irq(vcpu, intid).map_or(0, |irq| irq.priority)
                    } else {
                        0
                    };
                    (p as u64) << (8 * i)
                });
                Some(Ok(bytes.fold(0, |a, b| a | b)))
            }
            gicd::GICD_ICFGR..gicd::GICD_IGRPMODR if word_ok => {
                let first = ((offset as usize - gicd::GICD_ICFGR) / 4) as u32 * 16;
                let value = (0..16u32)
                    .filter(|i| self.shows(&valid, first + i))
                    .filter(|&i| self.irq(vcpu, first + i).is_some_and(|irq| irq.edge))
                    .fold(0u64, |acc, i| acc | 2 << (2 * i));
                Some(Ok(value))
            }
            // IGRPMODR, NSACR: RAZ/WI with one security state
            gicd::GICD_IGRPMODR..gicd::GICD_SGIR if word_ok => Some(Ok(0)),
            gicd::GICD_IPRIORITYR..gicd::GICD_ITARGETSR | gicd::GICD_ICFGR..gicd::GICD_SGIR => {
                Some(Err(refuse(offset, width)))
            }
            _ => None,
        }
    }

    /// Writes an interrupt register; returns the vCPUs to kick, or `None` if not one.
    pub(super) fn irq_reg_write(
        &mut self,
        vcpu: usize,
        offset: u64,
        width: u8,
        value: u64,
        valid: Range<u32>,
    ) -> Option<Result<Kick>> {
        let word_ok = width == 4 && offset.is_multiple_of(4);
        let mut kick = Kick::NONE;
        if let Some((reg, word)) = bit_register(offset) {
            if !word_ok {
                return Some(Err(refuse(offset, width)));
            }
            self.note_foreign(reg, word as u32 * 32, value, &valid);
            let shown = self.shown_mask(&valid, word as u32 * 32, 32);
            for b in (0..32u32).filter(|b| shown & (1 << b) != 0) {
                let intid = word as u32 * 32 + b;
                let set = value & (1 << b) != 0;
                let Some(irq) = self.irq_mut(vcpu, intid) else {
                    continue;
                };
                let physical = irq.hw_intid;
                if let (true, Some(physical)) = (write_bit(reg, irq, set), physical) {
                    let owner = self.target_of(vcpu, intid).unwrap_or(0);
                    self.release_hw(owner, physical);
                }
                if set || reg == BitReg::Group {
                    kick = kick.union(self.kick_for(vcpu, intid));
                }
            }
            return Some(Ok(kick));
        }
        let mask = self.priority_mask();
        match offset as usize {
            gicd::GICD_IPRIORITYR..gicd::GICD_ITARGETSR if width == 1 || word_ok => {
                let first = (offset as usize - gicd::GICD_IPRIORITYR) as u32;
                let shown = self.shown_mask(&valid, first, width as u32);
                for i in (0..width as u32).filter(|i| shown & (1 << i) != 0) {
                    if let Some(irq) = self.irq_mut(vcpu, first + i) {
                        irq.priority = (value >> (8 * i)) as u8 & mask;
                        // Its LR, if any, carries the priority: reload it (a masked one left
                        // in the LR of an idle vCPU would never be taken).
                        kick = kick.union(self.kick_for(vcpu, first + i));
                    }
                }
                Some(Ok(kick))
            }
            gicd::GICD_ICFGR..gicd::GICD_IGRPMODR if word_ok => {
                let first = ((offset as usize - gicd::GICD_ICFGR) / 4) as u32 * 16;
                // SGIs are always edge-triggered; their ICFGR bits are read-only.
                let shown = self.shown_mask(&valid, first, 16);
                for i in (0..16u32).filter(|i| shown & (1 << i) != 0 && first + i >= 16) {
                    if let Some(irq) = self.irq_mut(vcpu, first + i) {
                        irq.edge = value & (2 << (2 * i)) != 0;
                        kick = kick.union(self.kick_for(vcpu, first + i));
                    }
                }
                Some(Ok(kick))
            }
            gicd::GICD_IGRPMODR..gicd::GICD_SGIR if word_ok => Some(Ok(Kick::NONE)),
            gicd::GICD_IPRIORITYR..gicd::GICD_ITARGETSR | gicd::GICD_ICFGR..gicd::GICD_SGIR => {
                Some(Err(refuse(offset, width)))
            }
            _ => None,
        }
    }

    pub(super) fn spi_range(&self) -> Range<u32> {
        PRIVATE_IRQS..PRIVATE_IRQS + self.cfg.spi_count
    }

    /// A guest read of the distributor frame.
    pub fn dist_read(&mut self, offset: u64, width_bytes: u8) -> Result<u64> {
        let spis = self.spi_range();
        if let Some(result) = self.irq_reg_read(0, offset, width_bytes, spis) {
            return result;
        }
        if IROUTER.contains(&offset) {
            return self.irouter_read(offset, width_bytes);
        }
        if width_bytes != 4 || !offset.is_multiple_of(4) {
            return Err(refuse(offset, width_bytes));
        }
        Ok(match offset as usize {
            gicd::GICD_CTLR => {
                let fixed = GICD_CTLR::ARE::SET + GICD_CTLR::DS::SET;
                fixed.modify(self.ctlr) as u64
            }
            gicd::GICD_TYPER => self.dist_typer() as u64,
            gicd::GICD_IIDR => IIDR as u64,
            PIDR2 => PIDR2_GICV3 as u64,
            _ => 0, // TYPER2, STATUSR, SGIR, ITARGETSR, other IDs: RAZ
        })
    }

    /// A guest write to the distributor frame.
    pub fn dist_write(&mut self, offset: u64, width_bytes: u8, value: u64) -> Result<Kick> {
        let spis = self.spi_range();
        if let Some(result) = self.irq_reg_write(0, offset, width_bytes, value, spis) {
            return result;
        }
        if IROUTER.contains(&offset) {
            return self.irouter_write(offset, width_bytes, value);
        }
        if width_bytes != 4 || !offset.is_multiple_of(4) {
            return Err(refuse(offset, width_bytes));
        }
        if offset as usize == gicd::GICD_CTLR {
            self.ctlr = value as u32 & ctlr_writable().mask();
            self.mark_all_spis_busy();
            return Ok(self.all_vcpus());
        }
        Ok(Kick::NONE) // everything else is read-only or write-ignored
    }

    /// GICD_TYPER: SPI lines, vCPUs (legacy CPUNumber), and LPI support.
    fn dist_typer(&self) -> u32 {
        let lines = self.owned.spis_needed(self.cfg.spi_count) / 32;
        let cpus = (self.vcpu_count().saturating_sub(1)).min(7) as u32;
        let ids = if self.has_lpis() {
            GICD_TYPER::LPIS::SET + GICD_TYPER::IDbits.val(TYPER_LPI_ID_BITS)
        } else {
            GICD_TYPER::IDbits.val(TYPER_ID_BITS)
        };
        (GICD_TYPER::ITLinesNumber.val(lines) + GICD_TYPER::CPUNumber.val(cpus) + ids).value
    }

    fn all_vcpus(&self) -> Kick {
        (0..self.vcpu_count()).fold(Kick::NONE, |k, v| k.union(Kick::vcpu(v)))
    }

    fn irouter_intid(&self, offset: u64) -> Option<u32> {
        let intid = ((offset - IROUTER.start) / 8) as u32;
        (self.spi_range().contains(&intid) && self.owned.contains(intid)).then_some(intid)
    }

    fn irouter_read(&self, offset: u64, width: u8) -> Result<u64> {
        let route = self
            .irouter_intid(offset & !7)
            .and_then(|i| self.irq(0, i))
            .map_or(0, |irq| irq.route);
        match (width, offset % 8) {
            (8, 0) => Ok(route),
            (4, 0) => Ok(route & 0xffff_ffff),
            (4, 4) => Ok(route >> 32),
            _ => Err(refuse(offset, width)),
        }
    }

    fn irouter_write(&mut self, offset: u64, width: u8, value: u64) -> Result<Kick> {
        let writable = GICD_IROUTER::Aff3::SET
            + GICD_IROUTER::IRM::SET
            + GICD_IROUTER::Aff2::SET
            + GICD_IROUTER::Aff1::SET
            + GICD_IROUTER::Aff0::SET;
        let Some(intid) = self.irouter_intid(offset & !7) else {
            let intid = ((offset - IROUTER.start) / 8) as u32;
            if value != 0 && self.spi_range().contains(&intid) {
                self.record_foreign("GICD_IROUTER", intid, 1);
            }
            return Ok(Kick::NONE);
        };
        let old = self.irq(0, intid).map_or(0, |irq| irq.route);
        let new = match (width, offset % 8) {
            (8, 0) => value,
            (4, 0) => (old & !0xffff_ffff) | (value & 0xffff_ffff),
            (4, 4) => (old & 0xffff_ffff) | (value << 32),
            _ => return Err(refuse(offset, width)),
        } & writable.mask();
        let before = self.kick_for(0, intid);
        if let Some(irq) = self.irq_mut(0, intid) {
            irq.route = new;
        }
        Ok(before.union(self.kick_for(0, intid)))
    }

    /// Whether a group is enabled in GICD_CTLR.
    pub(super) fn group_enabled(&self, group1: bool) -> bool {
        let enable = if group1 {
            GICD_CTLR::EnableGrp1
        } else {
            GICD_CTLR::EnableGrp0
        };
        enable.is_set(self.ctlr)
    }
}
