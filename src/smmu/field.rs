//! A named bit field of a register or descriptor word, so that register layouts read as tables of
//! (name, lsb, width) taken from the spec and no call site shifts by hand.
#![forbid(unsafe_code)]

/// `width` bits starting at bit `lsb` of a 64-bit word (32-bit registers use the low half).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    lsb: u32,
    width: u32,
}

impl Field {
    /// Bits `[lsb + width - 1 : lsb]`.
    pub(crate) const fn new(lsb: u32, width: u32) -> Self {
        assert!(
            width >= 1 && lsb + width <= 64,
            "field outside a 64-bit word"
        );
        Self { lsb, width }
    }

    /// A single bit.
    pub(crate) const fn bit(lsb: u32) -> Self {
        Self::new(lsb, 1)
    }

    /// Bits `[msb:lsb]` as the spec writes them.
    pub(crate) const fn bits(msb: u32, lsb: u32) -> Self {
        Self::new(lsb, msb - lsb + 1)
    }

    /// The field's bits in place.
    pub(crate) const fn mask(self) -> u64 {
        (u64::MAX >> (64 - self.width)) << self.lsb
    }

    /// The field's value, shifted down.
    pub(crate) const fn get(self, word: u64) -> u64 {
        (word & self.mask()) >> self.lsb
    }

    /// Whether any bit of the field is set.
    pub(crate) const fn is_set(self, word: u64) -> bool {
        word & self.mask() != 0
    }

    /// `value` moved into place. Bits that do not fit are dropped: callers range-check values
    /// that come from outside sluice before building a word.
    pub(crate) const fn put(self, value: u64) -> u64 {
        (value << self.lsb) & self.mask()
    }

    /// An address field that holds address bits `[msb:lsb]` at the same positions (STRTAB_BASE,
    /// S2TTB, queue bases): the address with every other bit cleared.
    pub(crate) const fn put_in_place(self, address: u64) -> u64 {
        address & self.mask()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_reads_and_writes_only_its_own_bits() {
        let f = Field::bits(7, 4);
        assert_eq!(f.mask(), 0xf0);
        assert_eq!(
            f.put(0x1f),
            0xf0,
            "a value too wide is truncated to the field"
        );
        assert_eq!(f.get(0xabcd), 0xc);
        assert!(Field::bit(63).is_set(1 << 63));
        assert_eq!(Field::new(0, 64).mask(), u64::MAX);
        assert_eq!(
            Field::bits(51, 6).put_in_place(0xffff_ffff_ffff_ffff),
            0x000f_ffff_ffff_ffc0
        );
    }
}
