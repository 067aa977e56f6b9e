//! ICC_SGI1R_EL1 decoding (IHI 0069, 12.2.22).
#![forbid(unsafe_code)]

use crate::gicv3::cpuif::ICC_SGI1R_EL1;
use crate::gicv3::dist::IROUTER_AFFINITY_MASK;

/// A decoded SGI generation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SgiRequest {
    /// SGI number, 0..15.
    pub intid: u32,
    /// Interrupt_Routing_Mode: all PEs but the sender.
    pub to_all_others: bool,
    /// Aff3.Aff2.Aff1 of the targets, in MPIDR layout.
    pub affinity: u64,
    /// Range selector: targets are Aff0 = rs * 16 + bit.
    pub range_selector: u8,
    /// One bit per Aff0 within the range.
    pub target_list: u16,
}

impl SgiRequest {
    /// Decodes the register value.
    pub fn decode(value: u64) -> Self {
        use ICC_SGI1R_EL1::*;
        Self {
            intid: INTID.read(value) as u32,
            to_all_others: IRM.is_set(value),
            affinity: Aff3.read(value) << 32 | Aff2.read(value) << 16 | Aff1.read(value) << 8,
            range_selector: RS.read(value) as u8,
            target_list: TargetList.read(value) as u16,
        }
    }

    /// Whether vCPU `vcpu` with `mpidr` receives it when `source` sends it.
    pub fn targets(&self, vcpu: usize, mpidr: u64, source: usize) -> bool {
        if self.to_all_others {
            return vcpu != source;
        }
        // Aff3.Aff2.Aff1 of the MPIDR: the IROUTER affinity without Aff0.
        if mpidr & IROUTER_AFFINITY_MASK & !0xff != self.affinity {
            return false;
        }
        let aff0 = (mpidr & 0xff) as u32;
        let base = self.range_selector as u32 * 16;
        aff0 >= base && aff0 < base + 16 && self.target_list & (1 << (aff0 - base)) != 0
    }
}
