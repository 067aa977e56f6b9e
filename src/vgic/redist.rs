//! One vCPU's redistributor: RD_base (control, identification, power) and SGI_base (its SGIs
//! and PPIs), IHI 0069 12.10-12.11.
#![forbid(unsafe_code)]

use super::{Kick, Result, Vgic, VgicAccessError, IIDR, PIDR2_GICV3, PIDR2_OFFSET, PRIVATE_IRQS};

/// Bytes of one redistributor: RD_base and SGI_base, 64 KiB each (no VLPI frames).
pub const REDIST_FRAME_BYTES: u64 = 0x2_0000;
const SGI_BASE: u64 = 0x1_0000;
const GICR_CTLR: u64 = 0x0000;
const GICR_IIDR: u64 = 0x0004;
const GICR_TYPER: u64 = 0x0008;
const GICR_WAKER: u64 = 0x0014;
const GICR_PROPBASER: u64 = 0x0070;
const GICR_PENDBASER: u64 = 0x0078;
const GICR_INVLPIR: u64 = 0x00a0;
const GICR_INVALLR: u64 = 0x00b0;
const GICR_SYNCR: u64 = 0x00c0;
const TYPER_LAST: u64 = 1 << 4;
const WAKER_PROCESSOR_SLEEP: u64 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u64 = 1 << 2;

impl Vgic {
    fn typer(&self, vcpu: usize) -> u64 {
        let mpidr = self.cfg.vcpu_mpidrs[vcpu];
        let affinity = (mpidr >> 32 & 0xff) << 24 | (mpidr & 0xff_ffff);
        let last = if vcpu + 1 == self.vcpu_count() {
            TYPER_LAST
        } else {
            0
        };
        let plpis = self.has_lpis() as u64; // GICR_TYPER.PLPIS
        affinity << 32 | (vcpu as u64 & 0xffff) << 8 | last | plpis
    }

    /// GICR_CTLR, PROPBASER and PENDBASER (LPI configuration), if `offset` is one of them.
    fn lpi_reg(&mut self, vcpu: usize, offset: u64, width: u8, write: Option<u64>) -> Option<u64> {
        let lpis = self.has_lpis();
        let l = &mut self.lpi;
        match (offset, width) {
            (GICR_CTLR, 4) => {
                if let (Some(v), true) = (write, lpis) {
                    // EnableLPIs cannot be cleared once set (IHI 0069 12.11.2 allows that).
                    l.enabled[vcpu] |= v & 1 != 0;
                }
                Some(l.enabled[vcpu] as u64)
            }
            (GICR_PROPBASER | GICR_PENDBASER, 8) | (0x70 | 0x74 | 0x78 | 0x7c, 4) if lpis => {
                let table = if offset & !7 == GICR_PROPBASER {
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
        match (offset, width_bytes) {
            (GICR_TYPER, 8) => Ok(self.typer(vcpu)),
            (GICR_TYPER, 4) => Ok(self.typer(vcpu) & 0xffff_ffff),
            (o, 4) if o == GICR_TYPER + 4 => Ok(self.typer(vcpu) >> 32),
            (GICR_CTLR, 4) => Ok(0), // no LPIs, RWP never set
            (GICR_IIDR, 4) => Ok(IIDR as u64),
            (GICR_WAKER, 4) => {
                let sleep = if self.asleep[vcpu] {
                    WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP
                } else {
                    0
                };
                Ok(sleep)
            }
            (PIDR2_OFFSET, 4) => Ok(PIDR2_GICV3 as u64),
            // PROPBASER/PENDBASER (8 bytes) and everything else: RAZ until LPIs are offered.
            (o, 4 | 8) if o % width_bytes as u64 == 0 => Ok(0),
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
        match (offset, width_bytes) {
            (GICR_WAKER, 4) => {
                self.asleep[vcpu] = value & WAKER_PROCESSOR_SLEEP != 0;
                Ok(Kick::NONE)
            }
            (o, 4 | 8) if o % width_bytes as u64 == 0 => Ok(Kick::NONE),
            _ => Err(refused),
        }
    }
}
