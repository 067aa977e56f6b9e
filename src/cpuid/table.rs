//! The policy: for every allocated register of the ID space, what the guest sees of each field.
//!
//! Field layouts: Arm ARM (DDI 0487) D19.2 / D19.3, the register descriptions of each ID
//! register. Why each feature is kept or hidden:
//! - Kept: RAS (ESB, DISR through VDISR_EL2 as HCR_EL2.AMO is set), with HCR_EL2.TERR trapping
//!   the error record registers, which the guest sees as none (RAZ/WI).
//! - Kept because nothing at EL2 stands in their way: the instruction sets (crypto, atomics,
//!   FP/AdvSIMD, SVE with CPTR_EL2.TZ clear and ZCR_EL2.LEN at the maximum, PAuth with
//!   HCR_EL2.API/APK set, BTI, ...), the stage 1 MMU features, debug and the PMU (MDCR_EL2 gives
//!   the guest every counter and traps no debug register), the AArch32 EL0 registers.
//! - Kept only when sluice turned them on: MOPS (HCRX_EL2.MSCEn), FPMR and FP8 (HCRX_EL2.EnFPM),
//!   SME2's ZT0 (SMCR_EL2.EZT0), SME's FA64 (SMCR_EL2.FA64).
//! - Capped: EL1 at 1 (AArch64 only: HCR_EL2.RW is set and the guest has no EL2 to run an
//!   AArch32 EL1); PARange at the guest's IPA size; ECV at 1 (CNTPOFF is EL2's); HAFDBS at 2 (HAFT
//!   needs TCR2_EL1).
//! - Hidden: everything EL2 owns or only an EL2 would use (EL2, SEL2, NV, VH, VMIDBits, XNX,
//!   TWED, HCX, FWB, EVT, FGT, stage 2 PIE/POE); MTE (stage 2 does not map guest RAM as Tagged
//!   and HCR_EL2.ATA is clear); GCS, NMI (the vGIC has no NMIs), TME, LS64, 128-bit system
//!   registers, TCR2/SCTLR2 and what needs them (S1PIE, S1POE, AIE, D128, DF2), MPAM, AMU, RME,
//!   SPE, TRBE, BRBE, trace, RNDR_trap, and the IMPLEMENTATION DEFINED AFR registers.
#![forbid(unsafe_code)]

use super::{FieldRule, Needs, Rule, Sign};
use crate::trap::SysRegId;

/// One allocated ID register.
#[derive(Debug, Clone, Copy)]
pub struct RegSpec {
    /// Its name in the Arm ARM.
    pub name: &'static str,
    /// CRm of `S3_0_C0_C<crm>_<op2>`.
    pub crm: u8,
    /// op2.
    pub op2: u8,
    /// Fields no rule names keep the host's value (registers that only describe instruction
    /// set variants); otherwise they read as 0.
    pub keep_unlisted: bool,
    /// Rules for named fields.
    pub fields: &'static [FieldRule],
}

const fn f(name: &'static str, shift: u8, rule: Rule) -> FieldRule {
    FieldRule {
        name,
        shift,
        sign: Sign::Unsigned,
        rule,
    }
}

const fn signed(name: &'static str, shift: u8, rule: Rule) -> FieldRule {
    FieldRule {
        name,
        shift,
        sign: Sign::Signed,
        rule,
    }
}

use Rule::{Hide, Keep, KeepIf, Max};

const fn reg(name: &'static str, crm: u8, op2: u8, fields: &'static [FieldRule]) -> RegSpec {
    RegSpec {
        name,
        crm,
        op2,
        keep_unlisted: false,
        fields,
    }
}

const fn described(name: &'static str, crm: u8, op2: u8, fields: &'static [FieldRule]) -> RegSpec {
    RegSpec {
        name,
        crm,
        op2,
        keep_unlisted: true,
        fields,
    }
}

const AA64PFR0: &[FieldRule] = &[
    f("EL0", 0, Keep),
    f("EL1", 4, Max(1)),
    f("EL2", 8, Hide),
    f("EL3", 12, Keep),
    signed("FP", 16, Keep),
    signed("AdvSIMD", 20, Keep),
    f("GIC", 24, Keep),
    f("RAS", 28, Keep),
    f("SVE", 32, Keep),
    f("SEL2", 36, Hide),
    f("MPAM", 40, Hide),
    f("AMU", 44, Hide),
    f("DIT", 48, Keep),
    f("RME", 52, Hide),
    f("CSV2", 56, Keep),
    f("CSV3", 60, Keep),
];

const AA64PFR1: &[FieldRule] = &[
    f("BT", 0, Keep),
    f("SSBS", 4, Keep),
    f("MTE", 8, Hide),
    f("RAS_frac", 12, Keep),
    f("MPAM_frac", 16, Hide),
    f("SME", 24, Rule::Sme),
    f("RNDR_trap", 28, Hide),
    f("CSV2_frac", 32, Keep),
    f("NMI", 36, Hide),
    f("MTE_frac", 40, Hide),
    f("GCS", 44, Hide),
    f("THE", 48, Hide),
    f("MTEX", 52, Hide),
    f("DF2", 56, Hide),
    f("PFAR", 60, Hide),
];

const AA64PFR2: &[FieldRule] = &[f("FPMR", 32, KeepIf(Needs::Fpmr))];

/// The top nibble holds FA64 (bit 63) and LUTv2 (bit 60): hidden together without FA64.
const AA64SMFR0: &[FieldRule] = &[f("FA64", 60, KeepIf(Needs::SmeFa64))];

/// F8CVT/F8FMA (bits 63, 62), F8DP4/F8DP2/F8MM8/F8MM4 (bits 28..31), F8E5M2/F8E4M3 (bits 1, 0):
/// all need FPMR.
const AA64FPFR0: &[FieldRule] = &[
    f("F8E4M3/F8E5M2", 0, KeepIf(Needs::Fpmr)),
    f("F8MM4/F8MM8/F8DP2/F8DP4", 28, KeepIf(Needs::Fpmr)),
    f("F8FMA/F8CVT", 60, KeepIf(Needs::Fpmr)),
];

const AA64DFR0: &[FieldRule] = &[
    f("DebugVer", 0, Keep),
    f("TraceVer", 4, Hide),
    f("PMUVer", 8, Keep),
    f("BRPs", 12, Keep),
    f("PMSS", 16, Hide),
    f("WRPs", 20, Keep),
    f("SEBEP", 24, Hide),
    f("CTX_CMPs", 28, Keep),
    f("PMSVer", 32, Hide),
    signed("DoubleLock", 36, Keep),
    f("TraceFilt", 40, Hide),
    f("TraceBuffer", 44, Hide),
    signed("MTPMU", 48, Keep),
    f("BRBE", 52, Hide),
    f("ExtTrcBuff", 56, Hide),
    f("HPMN0", 60, Keep),
];

const AA64ISAR0: &[FieldRule] = &[
    f("AES", 4, Keep),
    f("SHA1", 8, Keep),
    f("SHA2", 12, Keep),
    f("CRC32", 16, Keep),
    f("Atomic", 20, Keep),
    f("TME", 24, Hide),
    f("RDM", 28, Keep),
    f("SHA3", 32, Keep),
    f("SM3", 36, Keep),
    f("SM4", 40, Keep),
    f("DP", 44, Keep),
    f("FHM", 48, Keep),
    f("TS", 52, Keep),
    f("TLB", 56, Keep),
    f("RNDR", 60, Keep),
];

const AA64ISAR1: &[FieldRule] = &[
    f("DPB", 0, Keep),
    f("APA", 4, Keep),
    f("API", 8, Keep),
    f("JSCVT", 12, Keep),
    f("FCMA", 16, Keep),
    f("LRCPC", 20, Keep),
    f("GPA", 24, Keep),
    f("GPI", 28, Keep),
    f("FRINTTS", 32, Keep),
    f("SB", 36, Keep),
    f("SPECRES", 40, Keep),
    f("BF16", 44, Keep),
    f("DGH", 48, Keep),
    f("I8MM", 52, Keep),
    f("XS", 56, Keep),
    f("LS64", 60, Hide),
];

const AA64ISAR2: &[FieldRule] = &[
    f("WFxT", 0, Keep),
    f("RPRES", 4, Keep),
    f("GPA3", 8, Keep),
    f("APA3", 12, Keep),
    f("MOPS", 16, KeepIf(Needs::Mops)),
    f("BC", 20, Keep),
    f("PAC_frac", 24, Keep),
    f("CLRBHB", 28, Keep),
    f("SYSREG_128", 32, Hide),
    f("SYSINSTR_128", 36, Hide),
    f("PRFMSLC", 40, Keep),
    f("RPRFM", 48, Keep),
    f("CSSC", 52, Keep),
    f("LUT", 56, Keep),
    f("ATS1A", 60, Keep),
];

const AA64ISAR3: &[FieldRule] = &[f("FAMINMAX", 4, Keep), f("TLBIW", 8, Keep)];

const AA64MMFR0: &[FieldRule] = &[
    f("PARange", 0, Rule::IpaRange),
    f("ASIDBits", 4, Keep),
    f("BigEnd", 8, Keep),
    f("SNSMem", 12, Keep),
    f("BigEndEL0", 16, Keep),
    f("TGran16", 20, Keep),
    signed("TGran64", 24, Keep),
    signed("TGran4", 28, Keep),
    f("TGran16_2", 32, Keep),
    f("TGran64_2", 36, Keep),
    f("TGran4_2", 40, Keep),
    f("ExS", 44, Keep),
    f("FGT", 56, Hide),
    f("ECV", 60, Max(1)),
];

const AA64MMFR1: &[FieldRule] = &[
    f("HAFDBS", 0, Max(2)),
    f("VMIDBits", 4, Hide),
    f("VH", 8, Hide),
    f("HPDS", 12, Keep),
    f("LO", 16, Keep),
    f("PAN", 20, Keep),
    f("SpecSEI", 24, Keep),
    f("XNX", 28, Hide),
    f("TWED", 32, Hide),
    f("ETS", 36, Keep),
    f("HCX", 40, Hide),
    f("AFP", 44, Keep),
    f("nTLBPA", 48, Keep),
    f("TIDCP1", 52, Keep),
    f("CMOW", 56, Keep),
    f("ECBHB", 60, Keep),
];

const AA64MMFR2: &[FieldRule] = &[
    f("CnP", 0, Keep),
    f("UAO", 4, Keep),
    f("LSM", 8, Keep),
    f("IESB", 12, Keep),
    f("VARange", 16, Keep),
    f("CCIDX", 20, Keep),
    f("NV", 24, Hide),
    f("ST", 28, Keep),
    f("AT", 32, Keep),
    f("IDS", 36, Keep),
    f("FWB", 40, Hide),
    f("TTL", 48, Keep),
    f("BBM", 52, Keep),
    f("EVT", 56, Hide),
    f("E0PD", 60, Keep),
];

const ID_PFR0: &[FieldRule] = &[f("AMU", 20, Hide)];
const ID_PFR1: &[FieldRule] = &[f("Virtualization", 12, Hide), f("Virt_frac", 24, Hide)];
const ID_DFR0: &[FieldRule] = &[
    f("CopTrc", 12, Hide),
    f("MMapTrc", 16, Hide),
    f("TraceFilt", 28, Hide),
];

/// Every allocated encoding of the space HCR_EL2.TID3 traps.
pub const REGISTERS: &[RegSpec] = &[
    described("ID_PFR0_EL1", 1, 0, ID_PFR0),
    described("ID_PFR1_EL1", 1, 1, ID_PFR1),
    described("ID_DFR0_EL1", 1, 2, ID_DFR0),
    reg("ID_AFR0_EL1", 1, 3, &[]),
    described("ID_MMFR0_EL1", 1, 4, &[]),
    described("ID_MMFR1_EL1", 1, 5, &[]),
    described("ID_MMFR2_EL1", 1, 6, &[]),
    described("ID_MMFR3_EL1", 1, 7, &[]),
    described("ID_ISAR0_EL1", 2, 0, &[]),
    described("ID_ISAR1_EL1", 2, 1, &[]),
    described("ID_ISAR2_EL1", 2, 2, &[]),
    described("ID_ISAR3_EL1", 2, 3, &[]),
    described("ID_ISAR4_EL1", 2, 4, &[]),
    described("ID_ISAR5_EL1", 2, 5, &[]),
    described("ID_MMFR4_EL1", 2, 6, &[]),
    described("ID_ISAR6_EL1", 2, 7, &[]),
    described("MVFR0_EL1", 3, 0, &[]),
    described("MVFR1_EL1", 3, 1, &[]),
    described("MVFR2_EL1", 3, 2, &[]),
    described("ID_PFR2_EL1", 3, 4, &[]),
    reg("ID_DFR1_EL1", 3, 5, &[]),
    described("ID_MMFR5_EL1", 3, 6, &[]),
    reg("ID_AA64PFR0_EL1", 4, 0, AA64PFR0),
    reg("ID_AA64PFR1_EL1", 4, 1, AA64PFR1),
    reg("ID_AA64PFR2_EL1", 4, 2, AA64PFR2),
    described("ID_AA64ZFR0_EL1", 4, 4, &[]),
    described("ID_AA64SMFR0_EL1", 4, 5, AA64SMFR0),
    reg("ID_AA64FPFR0_EL1", 4, 7, AA64FPFR0),
    reg("ID_AA64DFR0_EL1", 5, 0, AA64DFR0),
    reg("ID_AA64DFR1_EL1", 5, 1, &[]),
    reg("ID_AA64DFR2_EL1", 5, 2, &[]),
    reg("ID_AA64AFR0_EL1", 5, 4, &[]),
    reg("ID_AA64AFR1_EL1", 5, 5, &[]),
    reg("ID_AA64ISAR0_EL1", 6, 0, AA64ISAR0),
    reg("ID_AA64ISAR1_EL1", 6, 1, AA64ISAR1),
    reg("ID_AA64ISAR2_EL1", 6, 2, AA64ISAR2),
    reg("ID_AA64ISAR3_EL1", 6, 3, AA64ISAR3),
    reg("ID_AA64MMFR0_EL1", 7, 0, AA64MMFR0),
    reg("ID_AA64MMFR1_EL1", 7, 1, AA64MMFR1),
    reg("ID_AA64MMFR2_EL1", 7, 2, AA64MMFR2),
    reg("ID_AA64MMFR3_EL1", 7, 3, &[]),
    reg("ID_AA64MMFR4_EL1", 7, 4, &[]),
];

/// The policy of `reg`, or None if it is not an allocated register of the ID space.
pub fn lookup(reg: SysRegId) -> Option<&'static RegSpec> {
    if !super::is_id_register(reg) {
        return None;
    }
    REGISTERS
        .iter()
        .find(|spec| spec.crm == reg.crm && spec.op2 == reg.op2)
}
