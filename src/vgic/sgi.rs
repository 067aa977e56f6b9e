//! ICC_SGI1R_EL1 decoding (IHI 0069, 12.2.22).
#![forbid(unsafe_code)]

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
        let field = |shift: u32, bits: u32| (value >> shift) & ((1 << bits) - 1);
        Self {
            intid: field(24, 4) as u32,
            to_all_others: field(40, 1) != 0,
            affinity: field(48, 8) << 32 | field(32, 8) << 16 | field(16, 8) << 8,
            range_selector: field(44, 4) as u8,
            target_list: field(0, 16) as u16,
        }
    }

    /// Whether vCPU `vcpu` with `mpidr` receives it when `source` sends it.
    pub fn targets(&self, vcpu: usize, mpidr: u64, source: usize) -> bool {
        if self.to_all_others {
            return vcpu != source;
        }
        if mpidr & 0xff_00ff_ff00 != self.affinity {
            return false;
        }
        let aff0 = (mpidr & 0xff) as u32;
        let base = self.range_selector as u32 * 16;
        aff0 >= base && aff0 < base + 16 && self.target_list & (1 << (aff0 - base)) != 0
    }
}
