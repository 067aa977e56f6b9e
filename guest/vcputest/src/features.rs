//! Which ID register field advertises which feature, and which instruction proves it (Arm ARM
//! D23.2, the AArch64 ID registers). The table is data: `idregs` reads the registers, runs the
//! probe of every advertised feature and reports a hidden one as skipped.
#![forbid(unsafe_code)]

/// The ID registers the guest reads (and prints once, raw).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdReg {
    /// MIDR_EL1.
    Midr,
    /// ID_AA64PFR0_EL1.
    Pfr0,
    /// ID_AA64PFR1_EL1.
    Pfr1,
    /// ID_AA64PFR2_EL1.
    Pfr2,
    /// ID_AA64ZFR0_EL1.
    Zfr0,
    /// ID_AA64SMFR0_EL1.
    Smfr0,
    /// ID_AA64FPFR0_EL1.
    Fpfr0,
    /// ID_AA64DFR0_EL1.
    Dfr0,
    /// ID_AA64DFR1_EL1.
    Dfr1,
    /// ID_AA64ISAR0_EL1.
    Isar0,
    /// ID_AA64ISAR1_EL1.
    Isar1,
    /// ID_AA64ISAR2_EL1.
    Isar2,
    /// ID_AA64ISAR3_EL1.
    Isar3,
    /// ID_AA64MMFR0_EL1.
    Mmfr0,
    /// ID_AA64MMFR1_EL1.
    Mmfr1,
    /// ID_AA64MMFR2_EL1.
    Mmfr2,
    /// ID_AA64MMFR3_EL1.
    Mmfr3,
}

/// Every register of `IdReg`, in printing order.
pub const ID_REGS: [IdReg; 17] = [
    IdReg::Midr,
    IdReg::Pfr0,
    IdReg::Pfr1,
    IdReg::Pfr2,
    IdReg::Zfr0,
    IdReg::Smfr0,
    IdReg::Fpfr0,
    IdReg::Dfr0,
    IdReg::Dfr1,
    IdReg::Isar0,
    IdReg::Isar1,
    IdReg::Isar2,
    IdReg::Isar3,
    IdReg::Mmfr0,
    IdReg::Mmfr1,
    IdReg::Mmfr2,
    IdReg::Mmfr3,
];

impl IdReg {
    /// The architectural name.
    pub fn name(self) -> &'static str {
        match self {
            IdReg::Midr => "MIDR_EL1",
            IdReg::Pfr0 => "ID_AA64PFR0_EL1",
            IdReg::Pfr1 => "ID_AA64PFR1_EL1",
            IdReg::Pfr2 => "ID_AA64PFR2_EL1",
            IdReg::Zfr0 => "ID_AA64ZFR0_EL1",
            IdReg::Smfr0 => "ID_AA64SMFR0_EL1",
            IdReg::Fpfr0 => "ID_AA64FPFR0_EL1",
            IdReg::Dfr0 => "ID_AA64DFR0_EL1",
            IdReg::Dfr1 => "ID_AA64DFR1_EL1",
            IdReg::Isar0 => "ID_AA64ISAR0_EL1",
            IdReg::Isar1 => "ID_AA64ISAR1_EL1",
            IdReg::Isar2 => "ID_AA64ISAR2_EL1",
            IdReg::Isar3 => "ID_AA64ISAR3_EL1",
            IdReg::Mmfr0 => "ID_AA64MMFR0_EL1",
            IdReg::Mmfr1 => "ID_AA64MMFR1_EL1",
            IdReg::Mmfr2 => "ID_AA64MMFR2_EL1",
            IdReg::Mmfr3 => "ID_AA64MMFR3_EL1",
        }
    }
}

/// How a field's value says "present" (Arm ARM D23.1.3, the ID scheme).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Unsigned: present when the value is at least `min`.
    AtLeast(u8),
    /// Signed (FP, AdvSIMD): 0xf means absent; present when the signed value is at least `min`.
    Signed(i8),
    /// PMUVer: 0 absent, 0xf an IMPLEMENTATION DEFINED PMU (no PMUv3 registers), else present.
    PmuVer,
}

/// The instruction (or register access) that shows a feature works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `fmov d0, xzr`.
    Fp,
    /// `fadd h0, h1, h2`.
    Fp16,
    /// `add v0.4s, v1.4s, v2.4s`.
    AdvSimd,
    /// `rdvl x0, #1`.
    Sve,
    /// `rdsvl x0, #1`, then `smstart` and `smstop`.
    Sme,
    /// `pacia` then `autia` give the pointer back.
    PauthAddr,
    /// `pacga`.
    PauthGeneric,
    /// SCTLR_EL1.BT1 can be set and read back.
    Bti,
    /// `irg x0, x1`.
    MteInsn,
    /// `mrs GCR_EL1`.
    MteRegs,
    /// A `cpyfp`/`cpyfm`/`cpyfe` triple copies 8 bytes.
    Mops,
    /// `mrs FPMR`.
    Fpmr,
    /// `mrs RNDR`.
    Rndr,
    /// `mrs PMCR_EL0`.
    Pmu,
    /// `mrs MDSCR_EL1`.
    Debug,
    /// `ldadd` adds in memory.
    Lse,
    /// `crc32b` gives the known CRC.
    Crc32,
    /// `aese`.
    Aes,
    /// `sha1h`.
    Sha1,
    /// `sha256h2`.
    Sha256,
    /// `sha512h`.
    Sha512,
    /// `eor3`.
    Sha3,
    /// `sm3ss1`.
    Sm3,
    /// `sdot`.
    DotProd,
    /// `fmlal`.
    Fhm,
    /// `cfinv`.
    FlagM,
    /// `dc cvap`.
    Dpb,
    /// `fjcvtzs`.
    Jscvt,
    /// `fcmla`.
    Fcma,
    /// `ldapr`.
    Lrcpc,
    /// `frint32z`.
    FrintTs,
    /// `sb`.
    Sb,
    /// `bfdot`.
    Bf16,
    /// `smmla`.
    I8mm,
    /// `abs x0, x1` (CSSC).
    Cssc,
    /// `msr dit, #1`.
    Dit,
    /// `msr ssbs, #1`.
    Ssbs,
}

impl Probe {
    /// What the probe executes, for the report line.
    pub fn instruction(self) -> &'static str {
        match self {
            Probe::Fp => "fmov",
            Probe::Fp16 => "fadd-h",
            Probe::AdvSimd => "add-v4s",
            Probe::Sve => "rdvl",
            Probe::Sme => "rdsvl+smstart+smstop",
            Probe::PauthAddr => "pacia+autia",
            Probe::PauthGeneric => "pacga",
            Probe::Bti => "sctlr.bt1+bti",
            Probe::MteInsn => "irg",
            Probe::MteRegs => "mrs-gcr_el1",
            Probe::Mops => "cpyfp+cpyfm+cpyfe",
            Probe::Fpmr => "mrs-fpmr",
            Probe::Rndr => "mrs-rndr",
            Probe::Pmu => "mrs-pmcr_el0",
            Probe::Debug => "mrs-mdscr_el1",
            Probe::Lse => "ldadd",
            Probe::Crc32 => "crc32b",
            Probe::Aes => "aese",
            Probe::Sha1 => "sha1h",
            Probe::Sha256 => "sha256h2",
            Probe::Sha512 => "sha512h",
            Probe::Sha3 => "eor3",
            Probe::Sm3 => "sm3ss1",
            Probe::DotProd => "sdot",
            Probe::Fhm => "fmlal",
            Probe::FlagM => "cfinv",
            Probe::Dpb => "dc-cvap",
            Probe::Jscvt => "fjcvtzs",
            Probe::Fcma => "fcmla",
            Probe::Lrcpc => "ldapr",
            Probe::FrintTs => "frint32z",
            Probe::Sb => "sb",
            Probe::Bf16 => "bfdot",
            Probe::I8mm => "smmla",
            Probe::Cssc => "abs",
            Probe::Dit => "msr-dit",
            Probe::Ssbs => "msr-ssbs",
        }
    }
}

/// One feature: the field that advertises it and the probe that uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feature {
    /// Short name for the report.
    pub name: &'static str,
    /// Register holding the field.
    pub reg: IdReg,
    /// Field name (Arm ARM).
    pub field: &'static str,
    /// Lowest bit of the 4-bit field.
    pub shift: u8,
    /// How to read it.
    pub scheme: Scheme,
    /// The instruction that must not UNDEF when the field says present.
    pub probe: Probe,
}

const fn f(
    name: &'static str,
    reg: IdReg,
    field: &'static str,
    shift: u8,
    scheme: Scheme,
    probe: Probe,
) -> Feature {
    Feature {
        name,
        reg,
        field,
        shift,
        scheme,
        probe,
    }
}

use IdReg::*;
use Scheme::*;

/// Every feature checked, in report order.
pub const FEATURES: &[Feature] = &[
    f("fp", Pfr0, "FP", 16, Signed(0), Probe::Fp),
    f("fp16", Pfr0, "FP", 16, Signed(1), Probe::Fp16),
    f("advsimd", Pfr0, "AdvSIMD", 20, Signed(0), Probe::AdvSimd),
    f("sve", Pfr0, "SVE", 32, AtLeast(1), Probe::Sve),
    f("dit", Pfr0, "DIT", 48, AtLeast(1), Probe::Dit),
    f("bti", Pfr1, "BT", 0, AtLeast(1), Probe::Bti),
    f("ssbs", Pfr1, "SSBS", 4, AtLeast(2), Probe::Ssbs),
    f("mte", Pfr1, "MTE", 8, AtLeast(1), Probe::MteInsn),
    f("mte2", Pfr1, "MTE", 8, AtLeast(2), Probe::MteRegs),
    f("sme", Pfr1, "SME", 24, AtLeast(1), Probe::Sme),
    f("fpmr", Pfr2, "FPMR", 32, AtLeast(1), Probe::Fpmr),
    f("debug", Dfr0, "DebugVer", 0, AtLeast(6), Probe::Debug),
    f("pmu", Dfr0, "PMUVer", 8, PmuVer, Probe::Pmu),
    f("aes", Isar0, "AES", 4, AtLeast(1), Probe::Aes),
    f("sha1", Isar0, "SHA1", 8, AtLeast(1), Probe::Sha1),
    f("sha256", Isar0, "SHA2", 12, AtLeast(1), Probe::Sha256),
    f("sha512", Isar0, "SHA2", 12, AtLeast(2), Probe::Sha512),
    f("crc32", Isar0, "CRC32", 16, AtLeast(1), Probe::Crc32),
    f("lse", Isar0, "Atomic", 20, AtLeast(2), Probe::Lse),
    f("sha3", Isar0, "SHA3", 32, AtLeast(1), Probe::Sha3),
    f("sm3", Isar0, "SM3", 36, AtLeast(1), Probe::Sm3),
    f("dotprod", Isar0, "DP", 44, AtLeast(1), Probe::DotProd),
    f("fhm", Isar0, "FHM", 48, AtLeast(1), Probe::Fhm),
    f("flagm", Isar0, "TS", 52, AtLeast(1), Probe::FlagM),
    f("rndr", Isar0, "RNDR", 60, AtLeast(1), Probe::Rndr),
    f("dpb", Isar1, "DPB", 0, AtLeast(1), Probe::Dpb),
    f("pauth-apa", Isar1, "APA", 4, AtLeast(1), Probe::PauthAddr),
    f("pauth-api", Isar1, "API", 8, AtLeast(1), Probe::PauthAddr),
    f("jscvt", Isar1, "JSCVT", 12, AtLeast(1), Probe::Jscvt),
    f("fcma", Isar1, "FCMA", 16, AtLeast(1), Probe::Fcma),
    f("lrcpc", Isar1, "LRCPC", 20, AtLeast(1), Probe::Lrcpc),
    f(
        "pauth-gpa",
        Isar1,
        "GPA",
        24,
        AtLeast(1),
        Probe::PauthGeneric,
    ),
    f(
        "pauth-gpi",
        Isar1,
        "GPI",
        28,
        AtLeast(1),
        Probe::PauthGeneric,
    ),
    f("frintts", Isar1, "FRINTTS", 32, AtLeast(1), Probe::FrintTs),
    f("sb", Isar1, "SB", 36, AtLeast(1), Probe::Sb),
    f("bf16", Isar1, "BF16", 44, AtLeast(1), Probe::Bf16),
    f("i8mm", Isar1, "I8MM", 52, AtLeast(1), Probe::I8mm),
    f(
        "pauth-gpa3",
        Isar2,
        "GPA3",
        8,
        AtLeast(1),
        Probe::PauthGeneric,
    ),
    f(
        "pauth-apa3",
        Isar2,
        "APA3",
        12,
        AtLeast(1),
        Probe::PauthAddr,
    ),
    f("mops", Isar2, "MOPS", 16, AtLeast(1), Probe::Mops),
    f("cssc", Isar2, "CSSC", 52, AtLeast(1), Probe::Cssc),
];

impl Feature {
    /// The raw 4-bit field of `reg_value`.
    pub fn field_value(&self, reg_value: u64) -> u8 {
        ((reg_value >> self.shift) & 0xf) as u8
    }

    /// True if `reg_value` advertises the feature.
    pub fn advertised(&self, reg_value: u64) -> bool {
        let v = self.field_value(reg_value);
        match self.scheme {
            AtLeast(min) => v >= min,
            Signed(min) => (((v << 4) as i8) >> 4) >= min,
            PmuVer => v != 0 && v != 0xf,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(name: &str) -> Feature {
        *FEATURES.iter().find(|f| f.name == name).unwrap()
    }

    #[test]
    fn signed_fp_fields_read_0xf_as_absent_and_1_as_half_precision() {
        let (fp, fp16) = (feature("fp"), feature("fp16"));
        assert!(fp.advertised(0x0 << 16) && !fp16.advertised(0x0 << 16));
        assert!(fp.advertised(0x1 << 16) && fp16.advertised(0x1 << 16));
        assert!(!fp.advertised(0xf << 16) && !fp16.advertised(0xf << 16));
    }

    #[test]
    fn pmuver_zero_and_imp_def_are_not_a_pmuv3() {
        let pmu = feature("pmu");
        assert!(!pmu.advertised(0x0 << 8));
        assert!(!pmu.advertised(0xf << 8));
        assert!(pmu.advertised(0x6 << 8));
    }

    #[test]
    fn graded_fields_need_their_minimum_level() {
        assert!(!feature("lse").advertised(1 << 20));
        assert!(feature("lse").advertised(2 << 20));
        assert!(feature("mte").advertised(1 << 8) && !feature("mte2").advertised(1 << 8));
        assert!(feature("sha256").advertised(1 << 12) && !feature("sha512").advertised(1 << 12));
        assert_eq!(feature("rndr").field_value(1 << 60), 1);
    }

    #[test]
    fn every_feature_names_a_field_inside_its_register() {
        for f in FEATURES {
            assert!(f.shift <= 60 && f.shift % 4 == 0, "{}", f.name);
            assert!(ID_REGS.contains(&f.reg), "{}", f.name);
            assert!(!f.probe.instruction().contains(' '), "{}", f.name);
        }
    }
}
