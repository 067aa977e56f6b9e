//! The CPU a guest sees: its ID registers, computed from the host's.
//!
//! HCR_EL2.TID3 traps every guest read of the "ID group 3" space: op0 = 3, op1 = 0, CRn = 0,
//! CRm = 1..=7, op2 = 0..=7 (Arm ARM D19 HCR_EL2.TID3; the AArch64 and AArch32 feature ID
//! registers, MVFR0-2, and the unallocated encodings of that space). sluice answers each read
//! from the host's value of the same register through a per-register, per-field policy
//! ([`table`]), so that every feature the guest is shown works under sluice's EL2 controls, and
//! every feature that does not (or that sluice has not enabled) is hidden.
//!
//! Field arithmetic follows the Arm ARM's "Principles of the ID scheme for fields in ID
//! registers" (D19.1.3): 4-bit fields, unsigned ones where a larger value adds to a smaller
//! one (0 = not implemented), signed ones where 0xF (-1) means not implemented and 0 is the
//! base feature (FP, AdvSIMD, TGran4, TGran64, DoubleLock, ...). A field a table does not
//! name reads as 0 in an AArch64 register (default deny: a future feature stays hidden until
//! someone decides it works); unallocated registers read as zero (RAZ).
#![forbid(unsafe_code)]

mod table;

use crate::trap::SysRegId;

/// What sluice turns on at EL2 for the guest, which decides whether the features that need it
/// are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enables {
    /// HCRX_EL2.MSCEn is set: FEAT_MOPS (CPY*, SET*) is usable at EL0 and EL1.
    pub mops: bool,
    /// HCRX_EL2.EnFPM is set: FPMR (FEAT_FPMR) and the FP8 instructions are usable.
    pub fpmr: bool,
    /// SMCR_EL2.FA64 is set: streaming mode runs the full A64 set when the CPU can.
    pub sme_fa64: bool,
    /// SMCR_EL2.EZT0 is set: ZT0 (SME2) is usable.
    pub sme_zt0: bool,
    /// ID_AA64MMFR0_EL1.PARange encoding of the guest's IPA space (its stage 2 input size).
    pub ipa_pa_range: u8,
}

/// Host ID register values [`Enables::for_host`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostFeatures {
    /// ID_AA64PFR1_EL1.
    pub pfr1: u64,
    /// ID_AA64PFR2_EL1.
    pub pfr2: u64,
    /// ID_AA64ISAR2_EL1.
    pub isar2: u64,
    /// ID_AA64MMFR1_EL1.
    pub mmfr1: u64,
    /// ID_AA64SMFR0_EL1.
    pub smfr0: u64,
}

/// ID_AA64MMFR1_EL1.HCX: HCRX_EL2 is implemented.
const MMFR1_HCX_SHIFT: u32 = 40;
/// ID_AA64ISAR2_EL1.MOPS.
const ISAR2_MOPS_SHIFT: u32 = 16;
/// ID_AA64PFR2_EL1.FPMR.
const PFR2_FPMR_SHIFT: u32 = 32;
/// ID_AA64PFR1_EL1.SME: 1 = FEAT_SME, 2 = FEAT_SME2 (ZT0).
const PFR1_SME_SHIFT: u32 = 24;
/// ID_AA64SMFR0_EL1.FA64 (a 1-bit field, bit 63).
const SMFR0_FA64_BIT: u32 = 63;

/// Largest PARange encoding sluice's stage 2 takes as input: 48 bits (no FEAT_LPA2 tables).
pub const MAX_IPA_PA_RANGE: u8 = 0b101;

/// The unsigned 4-bit field of `value` at `shift`.
pub fn field(value: u64, shift: u32) -> u8 {
    ((value >> shift) & 0xf) as u8
}

impl Enables {
    /// What sluice enables on a CPU with these ID registers and a stage 2 translating
    /// `ipa_pa_range` (a PARange encoding): every enable the hardware offers for a feature the
    /// policy keeps. The arch code sets exactly these bits.
    pub fn for_host(host: &HostFeatures, ipa_pa_range: u8) -> Self {
        let hcrx = field(host.mmfr1, MMFR1_HCX_SHIFT) != 0;
        let sme = field(host.pfr1, PFR1_SME_SHIFT);
        Self {
            mops: hcrx && field(host.isar2, ISAR2_MOPS_SHIFT) != 0,
            fpmr: hcrx && field(host.pfr2, PFR2_FPMR_SHIFT) != 0,
            sme_fa64: sme != 0 && host.smfr0 >> SMFR0_FA64_BIT & 1 != 0,
            sme_zt0: sme >= 2,
            ipa_pa_range: ipa_pa_range.min(MAX_IPA_PA_RANGE),
        }
    }
}

/// ID_AA64DFR0_EL1.PMUVer.
const DFR0_PMUVER_SHIFT: u32 = 8;
/// PMUVer of FEAT_PMUv3p1 and FEAT_PMUv3p5; 0xF is an IMPLEMENTATION DEFINED PMU.
const PMUV3P1: u8 = 4;
const PMUV3P5: u8 = 6;
/// MDCR_EL2.HPMN, bits [4:0]: counters below it belong to EL1 and EL0.
const MDCR_HPMN_MASK: u64 = 0x1f;
/// MDCR_EL2.HPMD, bit 17 (FEAT_PMUv3p1): no event counting at EL2.
const MDCR_HPMD: u64 = 1 << 17;
/// MDCR_EL2.HCCD, bit 23 (FEAT_PMUv3p5): no cycle counting at EL2.
const MDCR_HCCD: u64 = 1 << 23;

/// MDCR_EL2 for a guest on a CPU with `pmcr_counters` event counters (PMCR_EL0.N) and this
/// ID_AA64DFR0_EL1: every counter the guest's (HPMN = N), no debug or PMU register trapped
/// (the guest is shown debug and the PMU), and, where the PMU can, nothing counted while
/// sluice runs, so the guest's counters see the guest alone.
pub fn mdcr_el2(pmcr_counters: u8, dfr0: u64) -> u64 {
    let pmu = field(dfr0, DFR0_PMUVER_SHIFT);
    let mut mdcr = u64::from(pmcr_counters) & MDCR_HPMN_MASK;
    if (PMUV3P1..0xf).contains(&pmu) {
        mdcr |= MDCR_HPMD;
    }
    if (PMUV3P5..0xf).contains(&pmu) {
        mdcr |= MDCR_HCCD;
    }
    mdcr
}

/// True for every encoding HCR_EL2.TID3 traps: op0 = 3, op1 = 0, CRn = 0, CRm = 1..=7
/// ([`SysRegId::is_id_space`]).
pub fn is_id_register(reg: SysRegId) -> bool {
    reg.is_id_space() && reg.op2 <= 7
}

/// The register's name, or None for an unallocated encoding of the ID space.
pub fn name(reg: SysRegId) -> Option<&'static str> {
    table::lookup(reg).map(|spec| spec.name)
}

/// The value the guest reads from ID register `reg` when the host's is `host` (0 for anything
/// outside the ID space or unallocated: RAZ).
pub fn guest_value(reg: SysRegId, host: u64, enables: &Enables) -> u64 {
    if !is_id_register(reg) {
        return 0;
    }
    let Some(spec) = table::lookup(reg) else {
        return 0;
    };
    let mut value = if spec.keep_unlisted { host } else { 0 };
    for rule in spec.fields {
        let shift = u32::from(rule.shift);
        let guest = rule.apply(field(host, shift), enables);
        value = (value & !(0xf << shift)) | (u64::from(guest) << shift);
    }
    value
}

/// Whether a field counts up from 0 or from 0xF (-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// 0 = not implemented; larger values add features.
    Unsigned,
    /// 0xF (-1) = not implemented, 0 = the base feature, 1..=7 add features.
    Signed,
}

/// A feature sluice must turn on for the guest before it may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// HCRX_EL2.MSCEn.
    Mops,
    /// HCRX_EL2.EnFPM.
    Fpmr,
    /// SMCR_EL2.FA64.
    SmeFa64,
}

/// What the guest sees of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The host's value.
    Keep,
    /// Not implemented: 0, or 0xF for a signed field.
    Hide,
    /// The host's value, but at most this (compared with the field's sign).
    Max(u8),
    /// The host's value if sluice enabled what the feature needs, else hidden.
    KeepIf(Needs),
    /// SME: at most FEAT_SME2 when sluice enabled ZT0, else at most FEAT_SME.
    Sme,
    /// PARange: at most the guest's IPA size.
    IpaRange,
}

/// One field of a register: where, how it counts, and its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRule {
    /// The field's name in the Arm ARM.
    pub name: &'static str,
    /// Its lowest bit.
    pub shift: u8,
    /// Signed or unsigned.
    pub sign: Sign,
    /// What the guest sees.
    pub rule: Rule,
}

/// The field as a signed value if signed, else as is, for comparisons.
fn ordered(value: u8, sign: Sign) -> i8 {
    match sign {
        Sign::Unsigned => value as i8,
        Sign::Signed if value >= 8 => value as i8 - 16,
        Sign::Signed => value as i8,
    }
}

impl FieldRule {
    fn hidden(&self) -> u8 {
        match self.sign {
            Sign::Unsigned => 0,
            Sign::Signed => 0xf,
        }
    }

    fn at_most(&self, host: u8, max: u8) -> u8 {
        if ordered(host, self.sign) <= ordered(max, self.sign) {
            host
        } else {
            max
        }
    }

    /// The guest's value of this field when the host's is `host`.
    pub fn apply(&self, host: u8, enables: &Enables) -> u8 {
        match self.rule {
            Rule::Keep => host,
            Rule::Hide => self.hidden(),
            Rule::Max(max) => self.at_most(host, max),
            Rule::KeepIf(needs) => {
                let enabled = match needs {
                    Needs::Mops => enables.mops,
                    Needs::Fpmr => enables.fpmr,
                    Needs::SmeFa64 => enables.sme_fa64,
                };
                if enabled {
                    host
                } else {
                    self.hidden()
                }
            }
            Rule::Sme => self.at_most(host, if enables.sme_zt0 { 2 } else { 1 }),
            Rule::IpaRange => self.at_most(host, enables.ipa_pa_range),
        }
    }
}

#[cfg(test)]
mod tests;
