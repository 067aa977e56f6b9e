//! What the exit path remembers about one CPU's list registers between exits, so that it reads
//! and writes only the registers that can hold something (each ICH_* access is costly, a
//! helper call under TCG): the set of LRs that may be non-zero (`live`) and the underflow
//! interrupt's last setting (ICH_HCR_EL2.UIE).
//!
//! Invariant: every list register outside `live` holds 0. Only sluice makes an LR non-zero
//! (the hardware and the guest only move a loaded one towards invalid), so an exit may take
//! the others as 0 without reading them, and need not write a 0 over a 0.

/// One CPU's list-register shadow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LrShadow {
    /// Bit n set: ICH_LR<n>_EL2 may be non-zero.
    pub live: u16,
    /// ICH_HCR_EL2.UIE as last written (true when unknown: then it is cleared once).
    pub underflow: bool,
}

impl LrShadow {
    /// Nothing known yet (boot, or a state sluice did not write): every LR is read once.
    pub const UNKNOWN: Self = LrShadow {
        live: u16::MAX,
        underflow: true,
    };

    /// Packed for an atomic per-CPU slot.
    pub const fn to_bits(self) -> u32 {
        self.live as u32 | (self.underflow as u32) << 16
    }

    /// The inverse of `to_bits`.
    pub fn from_bits(bits: u32) -> Self {
        LrShadow {
            live: bits as u16,
            underflow: bits & 1 << 16 != 0,
        }
    }

    /// The registers to write for `values` (index n is ICH_LR<n>_EL2): those that change,
    /// that is every non-zero value and every live register; `live` becomes the non-zero ones.
    pub fn store(&mut self, values: &[u64]) -> u16 {
        let nonzero = nonzero_mask(values);
        let writes = nonzero | self.live & mask_of(values.len());
        self.live = nonzero;
        writes
    }

    /// True if ICH_HCR_EL2.UIE must be written to become `enabled` (and records it).
    pub fn set_underflow(&mut self, enabled: bool) -> bool {
        let changed = self.underflow != enabled;
        self.underflow = enabled;
        changed
    }
}

/// Bits 0..count.
fn mask_of(count: usize) -> u16 {
    if count >= 16 {
        u16::MAX
    } else {
        (1u16 << count) - 1
    }
}

fn nonzero_mask(values: &[u64]) -> u16 {
    values
        .iter()
        .take(16)
        .enumerate()
        .filter(|(_, v)| **v != 0)
        .fold(0, |m, (n, _)| m | 1 << n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_shadow_reads_every_register_and_clears_the_underflow_interrupt_once() {
        let mut s = LrShadow::UNKNOWN;
        assert_eq!(s.live & 0xf, 0xf);
        assert!(s.set_underflow(false));
        assert!(!s.set_underflow(false));
        assert!(s.set_underflow(true));
    }

    #[test]
    fn storing_empty_registers_over_empty_ones_writes_nothing() {
        let mut s = LrShadow::UNKNOWN;
        assert_eq!(s.store(&[0; 4]), 0xf, "unknown registers are zeroed once");
        assert_eq!(s.live, 0);
        assert_eq!(s.store(&[0; 4]), 0);
    }

    #[test]
    fn a_loaded_register_is_live_until_a_zero_is_written_over_it() {
        let mut s = LrShadow {
            live: 0,
            underflow: false,
        };
        assert_eq!(s.store(&[0, 7, 0, 0]), 0b0010);
        assert_eq!(s.live, 0b0010);
        assert_eq!(s.store(&[5, 0, 0, 0]), 0b0011, "LR1 emptied, LR0 loaded");
        assert_eq!(s.live, 0b0001);
        assert_eq!(s.store(&[0; 4]), 0b0001);
        assert_eq!(s.live, 0);
    }

    #[test]
    fn only_implemented_registers_are_written() {
        let mut s = LrShadow::UNKNOWN;
        assert_eq!(s.store(&[0; 2]), 0b11);
        let mut s = LrShadow::UNKNOWN;
        assert_eq!(s.store(&[0; 16]), u16::MAX);
    }

    #[test]
    fn the_shadow_survives_its_packing() {
        for s in [
            LrShadow::UNKNOWN,
            LrShadow {
                live: 0x8001,
                underflow: false,
            },
            LrShadow {
                live: 0,
                underflow: true,
            },
        ] {
            assert_eq!(LrShadow::from_bits(s.to_bits()), s);
        }
    }
}
