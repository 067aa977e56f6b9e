//! The two kinds of guest access sluice emulates instruction by instruction: a load/store to
//! an unmapped guest-physical address, and an MSR/MRS to a trapped system register.
#![forbid(unsafe_code)]

use core::fmt;

/// A guest load or store to an address that stage 2 does not map, fully described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioAccess {
    /// Guest-physical address accessed: (HPFAR_EL2.FIPA << 12) | FAR_EL2[11:0].
    pub guest_phys: u64,
    /// 1, 2, 4 or 8 (ISS.SAS).
    pub width_bytes: u8,
    /// Store (true) or load (ISS.WnR).
    pub is_write: bool,
    /// General-purpose register transferred, 0..=30; 31 is XZR/WZR (reads 0, writes ignored).
    pub register: u8,
    /// A load that sign-extends (ISS.SSE).
    pub sign_extend: bool,
    /// The register is an X register; otherwise W, whose upper half a load zeroes (ISS.SF).
    pub register_is_64bit: bool,
    /// Why stage 2 faulted.
    pub fault: super::FaultKind,
}

/// The mask of an access `width_bytes` wide, or None for 8 bytes (and for widths the
/// architecture cannot produce, which are taken as the whole register).
fn width_mask(width_bytes: u8) -> Option<u64> {
    match width_bytes {
        1 => Some(0xff),
        2 => Some(0xffff),
        4 => Some(0xffff_ffff),
        _ => None,
    }
}

impl MmioAccess {
    /// The value to write back to the guest's register for a load that returned `value`:
    /// truncated to the access width, sign-extended if the instruction asks for it, then
    /// limited to 32 bits for a W register (a write to Wn zeroes bits [63:32] of Xn).
    pub fn read_result(&self, value: u64) -> u64 {
        let loaded = match width_mask(self.width_bytes) {
            Some(mask) => {
                let v = value & mask;
                let sign_bit = (mask >> 1) + 1;
                if self.sign_extend && v & sign_bit != 0 {
                    v | !mask
                } else {
                    v
                }
            }
            None => value,
        };
        if self.register_is_64bit {
            loaded
        } else {
            loaded & 0xffff_ffff
        }
    }

    /// The value a store puts on the bus, from the full content of its source register
    /// (`register_value`, 0 for XZR): the low `width_bytes` bytes.
    pub fn write_value(&self, register_value: u64) -> u64 {
        width_mask(self.width_bytes).map_or(register_value, |mask| register_value & mask)
    }
}

/// A system register named by its encoding (op0, op1, CRn, CRm, op2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SysRegId {
    /// op0.
    pub op0: u8,
    /// op1.
    pub op1: u8,
    /// CRn.
    pub crn: u8,
    /// CRm.
    pub crm: u8,
    /// op2.
    pub op2: u8,
}

impl SysRegId {
    /// The register `S<op0>_<op1>_C<crn>_C<crm>_<op2>`.
    pub const fn new(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> Self {
        Self {
            op0,
            op1,
            crn,
            crm,
            op2,
        }
    }

    /// The ID register space HCR_EL2.TID3 traps (Arm ARM D19 HCR_EL2.TID3): op0 = 3, op1 = 0,
    /// CRn = 0, CRm = 1..=7 (the AArch64 and AArch32 feature ID registers, MVFR0-2, and the
    /// unallocated encodings between them). `sluice::cpuid` answers reads of it.
    pub const fn is_id_space(&self) -> bool {
        self.op0 == 3 && self.op1 == 0 && self.crn == 0 && self.crm >= 1 && self.crm <= 7
    }

    /// The RAS error record registers HCR_EL2.TERR traps (Arm ARM D19 HCR_EL2.TERR, FEAT_RAS):
    /// ERRIDR_EL1 and ERRSELR_EL1 (CRn 5, CRm 3), ERXFR/CTLR/STATUS/ADDR and the ERXPFG*
    /// registers (CRm 4), ERXMISC0-3 (CRm 5).
    pub const fn is_error_record(&self) -> bool {
        self.op0 == 3
            && self.op1 == 0
            && self.crn == 5
            && match self.crm {
                3 => self.op2 <= 1,
                4 => self.op2 <= 6,
                5 => self.op2 <= 3,
                _ => false,
            }
    }

    /// ICC_SGI1R_EL1 (GICv3, IHI 0069): generate a Group 1 SGI; trapped by HCR_EL2.IMO.
    pub const ICC_SGI1R_EL1: Self = Self::new(3, 0, 12, 11, 5);
    /// ICC_ASGI1R_EL1 (GICv3): generate a Group 1 SGI for the other Security state.
    pub const ICC_ASGI1R_EL1: Self = Self::new(3, 0, 12, 11, 6);
    /// ICC_SGI0R_EL1 (GICv3): generate a Group 0 SGI.
    pub const ICC_SGI0R_EL1: Self = Self::new(3, 0, 12, 11, 7);
    /// CNTP_TVAL_EL0 (Arm ARM, Generic Timer registers): EL1 physical timer value.
    pub const CNTP_TVAL_EL0: Self = Self::new(3, 3, 14, 2, 0);
    /// CNTP_CTL_EL0: EL1 physical timer control.
    pub const CNTP_CTL_EL0: Self = Self::new(3, 3, 14, 2, 1);
    /// CNTP_CVAL_EL0: EL1 physical timer compare value.
    pub const CNTP_CVAL_EL0: Self = Self::new(3, 3, 14, 2, 2);
    /// CNTPCT_EL0: physical count.
    pub const CNTPCT_EL0: Self = Self::new(3, 3, 14, 0, 1);
}

/// The generic assembler name, as in a disassembly: `S3_0_C12_C11_5`.
impl fmt::Display for SysRegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "S{}_{}_C{}_C{}_{}",
            self.op0, self.op1, self.crn, self.crm, self.op2
        )
    }
}

/// A trapped MSR or MRS (EC 0x18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysRegAccess {
    /// Which register.
    pub reg: SysRegId,
    /// The general-purpose register transferred (Rt; 31 = XZR).
    pub register: u8,
    /// MRS (read) rather than MSR.
    pub is_read: bool,
}

impl SysRegAccess {
    /// The register's encoding.
    pub fn id(&self) -> SysRegId {
        self.reg
    }
}

#[cfg(test)]
mod tests {
    use super::super::FaultKind;
    use super::*;

    fn load(width_bytes: u8, sign_extend: bool, register_is_64bit: bool) -> MmioAccess {
        MmioAccess {
            guest_phys: 0,
            width_bytes,
            is_write: false,
            register: 0,
            sign_extend,
            register_is_64bit,
            fault: FaultKind::Translation { level: 3 },
        }
    }

    #[test]
    fn sign_extending_byte_load_into_w_register_keeps_32_bits() {
        assert_eq!(load(1, true, false).read_result(0x80), 0xffff_ff80);
        assert_eq!(load(1, true, true).read_result(0x80), 0xffff_ffff_ffff_ff80);
        assert_eq!(load(1, false, false).read_result(0x1ff), 0xff);
    }

    #[test]
    fn ldrsw_sign_extends_a_word_into_an_x_register() {
        assert_eq!(
            load(4, true, true).read_result(0x8000_0000),
            0xffff_ffff_8000_0000
        );
        assert_eq!(load(4, true, true).read_result(0x7fff_ffff), 0x7fff_ffff);
        assert_eq!(
            load(2, true, true).read_result(0x1_8000),
            0xffff_ffff_ffff_8000
        );
    }

    #[test]
    fn a_word_load_into_w_zeroes_the_upper_half_and_a_doubleword_keeps_everything() {
        assert_eq!(load(4, false, false).read_result(u64::MAX), 0xffff_ffff);
        assert_eq!(load(8, false, true).read_result(u64::MAX), u64::MAX);
    }

    #[test]
    fn impossible_widths_do_not_panic() {
        assert_eq!(load(0, true, true).read_result(5), 5);
        assert_eq!(load(16, true, false).read_result(u64::MAX), 0xffff_ffff);
        assert_eq!(load(3, false, true).write_value(7), 7);
    }

    #[test]
    fn a_store_puts_only_the_low_bytes_of_its_register_on_the_bus() {
        assert_eq!(load(1, false, false).write_value(0x1234), 0x34);
        assert_eq!(load(2, false, false).write_value(0x12_3456), 0x3456);
        assert_eq!(load(8, false, true).write_value(u64::MAX), u64::MAX);
    }

    #[test]
    fn the_id_space_is_crm_1_to_7_of_crn_0_and_excludes_midr_and_gic_registers() {
        assert!(SysRegId::new(3, 0, 0, 4, 1).is_id_space()); // ID_AA64PFR1_EL1
        assert!(SysRegId::new(3, 0, 0, 7, 7).is_id_space());
        assert!(!SysRegId::new(3, 0, 0, 0, 0).is_id_space()); // MIDR_EL1
        assert!(!SysRegId::new(3, 0, 0, 8, 0).is_id_space());
        assert!(!SysRegId::ICC_SGI1R_EL1.is_id_space());
    }

    #[test]
    fn error_record_registers_are_crn_5_crm_3_to_5_but_not_esr_or_afsr() {
        assert!(SysRegId::new(3, 0, 5, 3, 0).is_error_record()); // ERRIDR_EL1
        assert!(SysRegId::new(3, 0, 5, 4, 6).is_error_record()); // ERXPFGCDN_EL1
        assert!(SysRegId::new(3, 0, 5, 5, 3).is_error_record()); // ERXMISC3_EL1
        assert!(!SysRegId::new(3, 0, 5, 2, 0).is_error_record()); // ESR_EL1
        assert!(!SysRegId::new(3, 0, 5, 1, 0).is_error_record()); // AFSR0_EL1
        assert!(!SysRegId::new(3, 4, 5, 3, 0).is_error_record());
    }

    #[test]
    fn sysreg_names_print_in_generic_form() {
        assert_eq!(
            alloc::format!("{}", SysRegId::ICC_SGI1R_EL1),
            "S3_0_C12_C11_5"
        );
    }
}
