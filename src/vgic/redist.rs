//! One vCPU's redistributor: RD_base (control, identification, power) and SGI_base (its SGIs
//! and PPIs), IHI 0069 12.10-12.11.
#![forbid(unsafe_code)]

use super::{Kick, Result, Vgic, VgicAccessError, IIDR, PIDR2_GICV3, PRIVATE_IRQS};
use crate::gicv3::redist::{
    self as gicr, GICR_CTLR, GICR_IIDR, GICR_INVALLR, GICR_INVLPIR, GICR_PENDBASER, GICR_PROPBASER,
    GICR_SYNCR, GICR_TYPER, GICR_WAKER,
};
use crate::gicv3::{mpidr_to_affinity32, PIDR2};

/// Bytes of one redistributor: RD_base and SGI_base, 64 KiB each (no VLPI frames).
pub const REDIST_FRAME_BYTES: u64 = gicr::GICR_STRIDE_V3 as u64;
const SGI_BASE: u64 = gicr::GICR_SGI_BASE as u64;
/// The upper words of the 64-bit registers, for 32-bit accesses.
const TYPER_HIGH: usize = GICR_TYPER + 4;
const PROPBASER_HIGH: usize = GICR_PROPBASER + 4;
const PENDBASER_HIGH: usize = GICR_PENDBASER + 4;

impl Vgic {
    fn typer(&self, vcpu: usize) -> u64 {
        let affinity = mpidr_to_affinity32(self.cfg.vcpu_mpidrs[vcpu]);
        let last = vcpu + 1 == self.vcpu_count();
        (GICR_TYPER::Affinity_Value.val(affinity)
            + GICR_TYPER::Processor_Number.val(vcpu as u64)
            + GICR_TYPER::Last.val(last as u64)
            + GICR_TYPER::PLPIS.val(self.has_lpis() as u64))
        .value
    }

    /// GICR_CTLR, PROPBASER and PENDBASER (LPI configuration), if `offset` is one of them.
    fn lpi_reg(&mut self, vcpu: usize, offset: u64, width: u8, write: Option<u64>) -> Option<u64> {
        let lpis = self.has_lpis();
        let l = &mut self.lpi;
        match (offset as usize, width) {
            (GICR_CTLR, 4) => {
                if let (Some(v), true) = (write, lpis) {
                    // EnableLPIs cannot be cleared once set (IHI 0069 12.11.2 allows that).
                    l.enabled[vcpu] |= GICR_CTLR::EnableLPIs.is_set(v as u32);
                }
                Some(l.enabled[vcpu] as u64)
            }
            (GICR_PROPBASER | GICR_PENDBASER, 8)
            | (GICR_PROPBASER | PROPBASER_HIGH | GICR_PENDBASER | PENDBASER_HIGH, 4)
                if lpis =>
            {
                let table = if offset as usize & !7 == GICR_PROPBASER {
                    &mut l.propbaser
                } else {
                    &mut l.pendbaser
                };
                let shift = 8 * (offset & 4);
                let mask = if width == 8 {
                    u64::MAX
                } else {
                    0xffff_ffff << shift
                };
                if let Some(v) = write {
                    if !l.enabled[vcpu] {
                        table[vcpu] = (table[vcpu] & !mask) | (v << shift & mask);
                    }
                }
                Some((table[vcpu] & mask) >> shift)
            }
            // Direct LPI invalidation (IHI 0069 12.11.18-20): reloads are queued for the
            // hypervisor, which reads the guest's property table; SYNCR is never busy.
            (GICR_INVLPIR, 8) | (GICR_INVLPIR, 4) if lpis => {
                if let Some(v) = write {
                    l.reload_requests.push(v as u32);
                }
                Some(0)
            }
            (GICR_INVALLR, 8) | (GICR_INVALLR, 4) if lpis => {
                if write.is_some() {
                    let mine = l
                        .lpis
                        .iter()
                        .filter(|(_, lpi)| lpi.vcpu == vcpu)
                        .map(|(&i, _)| i);
                    let mine: alloc::vec::Vec<u32> = mine.collect();
                    l.reload_requests.extend(mine);
                }
                Some(0)
            }
            (GICR_SYNCR, 4) => Some(0),
            _ => None,
        }
    }

    /// LPIs whose configuration the guest asked to reload through GICR_INVLPIR/INVALLR.
    pub fn take_lpi_reload_requests(&mut self) -> alloc::vec::Vec<u32> {
        core::mem::take(&mut self.lpi.reload_requests)
    }

    /// A guest read of `vcpu`'s redistributor at `offset` (0..128 KiB).
    pub fn redist_read(&mut self, vcpu: usize, offset: u64, width_bytes: u8) -> Result<u64> {
        let refused = VgicAccessError {
            offset,
            width_bytes,
        };
        if vcpu >= self.vcpu_count() {
            return Err(refused);
        }
        if offset >= SGI_BASE {
            let result = self.irq_reg_read(vcpu, offset - SGI_BASE, width_bytes, 0..PRIVATE_IRQS);
            return result.unwrap_or(if width_bytes == 4 {
                Ok(0)
            } else {
                Err(refused)
            });
        }
        if let Some(value) = self.lpi_reg(vcpu, offset, width_bytes, None) {
            return Ok(value);
        }
        match (offset as usize, width_bytes) {
            (GICR_TYPER, 8) => Ok(self.typer(vcpu)),
            (GICR_TYPER, 4) => Ok(self.typer(vcpu) & 0xffff_ffff),
            (TYPER_HIGH, 4) => Ok(self.typer(vcpu) >> 32),
            (GICR_CTLR, 4) => Ok(0), // no LPIs, RWP never set
            (GICR_IIDR, 4) => Ok(IIDR as u64),
            (GICR_WAKER, 4) => {
                let asleep = self.asleep[vcpu] as u32;
                let waker =
                    GICR_WAKER::ProcessorSleep.val(asleep) + GICR_WAKER::ChildrenAsleep.val(asleep);
                Ok(waker.value as u64)
            }
            (PIDR2, 4) => Ok(PIDR2_GICV3 as u64),
            // PROPBASER/PENDBASER (8 bytes) and everything else: RAZ until LPIs are offered.
            (o, 4 | 8) if o % width_bytes as usize == 0 => Ok(0),
            _ => Err(refused),
        }
    }

    /// A guest write to `vcpu`'s redistributor.
    pub fn redist_write(
        &mut self,
        vcpu: usize,
        offset: u64,
        width_bytes: u8,
        value: u64,
    ) -> Result<Kick> {
        let refused = VgicAccessError {
            offset,
            width_bytes,
        };
        if vcpu >= self.vcpu_count() {
            return Err(refused);
        }
        if offset >= SGI_BASE {
            let result =
                self.irq_reg_write(vcpu, offset - SGI_BASE, width_bytes, value, 0..PRIVATE_IRQS);
            return result.unwrap_or(if width_bytes == 4 {
                Ok(Kick::NONE)
            } else {
                Err(refused)
            });
        }
        if self
            .lpi_reg(vcpu, offset, width_bytes, Some(value))
            .is_some()
        {
            return Ok(Kick::vcpu(vcpu));
        }
        match (offset as usize, width_bytes) {
            (GICR_WAKER, 4) => {
                self.asleep[vcpu] = GICR_WAKER::ProcessorSleep.is_set(value as u32);
                Ok(Kick::NONE)
            }
            (o, 4 | 8) if o % width_bytes as usize == 0 => Ok(Kick::NONE),
            _ => Err(refused),
        }
    }
}
