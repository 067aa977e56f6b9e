//! The host's ID registers, read by encoding, and the EL2 enables that go with the guest's view
//! of them (`sluice::cpuid`).

use super::cpu::{read_sysreg, write_sysreg};
use sluice::cpuid::{Enables, HostFeatures};
use sluice::trap::SysRegId;

/// Reads `S3_0_C0_C<crm>_<op2>` for each listed (crm, op2); anything else reads 0.
macro_rules! read_id_space {
    ($crm:expr, $op2:expr, $(($c:literal, $o:literal)),* $(,)?) => {
        match ($crm, $op2) {
            $(($c, $o) => {
                let value: u64;
                // SAFETY: reading an ID register at EL2 has no side effect; every encoding of
                // this space is readable (unallocated ones are RAZ).
                unsafe {
                    core::arch::asm!(
                        concat!("mrs {}, S3_0_C0_C", $c, "_", $o),
                        out(reg) value,
                        options(nomem, nostack)
                    )
                };
                value
            })*
            _ => 0,
        }
    };
}

/// This CPU's value of the ID register `reg`: any encoding of the space HCR_EL2.TID3 traps
/// (op0 3, op1 0, CRn 0, CRm 1..=7); 0 for anything else. Unallocated encodings of that space
/// are RAZ on the hardware too (Arm ARM D19, "reserved, RAZ" ID encodings).
pub fn read_host(reg: SysRegId) -> u64 {
    if !sluice::cpuid::is_id_register(reg) {
        return 0;
    }
    read_id_space!(
        reg.crm,
        reg.op2,
        (1, 0),
        (1, 1),
        (1, 2),
        (1, 3),
        (1, 4),
        (1, 5),
        (1, 6),
        (1, 7),
        (2, 0),
        (2, 1),
        (2, 2),
        (2, 3),
        (2, 4),
        (2, 5),
        (2, 6),
        (2, 7),
        (3, 0),
        (3, 1),
        (3, 2),
        (3, 3),
        (3, 4),
        (3, 5),
        (3, 6),
        (3, 7),
        (4, 0),
        (4, 1),
        (4, 2),
        (4, 3),
        (4, 4),
        (4, 5),
        (4, 6),
        (4, 7),
        (5, 0),
        (5, 1),
        (5, 2),
        (5, 3),
        (5, 4),
        (5, 5),
        (5, 6),
        (5, 7),
        (6, 0),
        (6, 1),
        (6, 2),
        (6, 3),
        (6, 4),
        (6, 5),
        (6, 6),
        (6, 7),
        (7, 0),
        (7, 1),
        (7, 2),
        (7, 3),
        (7, 4),
        (7, 5),
        (7, 6),
        (7, 7),
    )
}

/// What sluice enables for its guests on this CPU (the same answer on every call).
pub fn enables() -> Enables {
    let host = HostFeatures {
        pfr1: read_sysreg!("id_aa64pfr1_el1"),
        pfr2: read_sysreg!("S3_0_C0_C4_2"),
        isar2: read_sysreg!("S3_0_C0_C6_2"),
        mmfr1: read_sysreg!("id_aa64mmfr1_el1"),
        smfr0: read_sysreg!("S3_0_C0_C4_5"),
    };
    Enables::for_host(&host, super::cpu::pa_range())
}

/// HCRX_EL2.MSCEn (bit 11): CPY*/SET* (FEAT_MOPS) execute at EL1 and EL0 instead of being
/// UNDEFINED.
const HCRX_MSCEN: u64 = 1 << 11;
/// HCRX_EL2.EnFPM (bit 23): FPMR is accessible (FEAT_FPMR) instead of UNDEFINED.
const HCRX_ENFPM: u64 = 1 << 23;
/// SMCR_EL2.FA64 (bit 31): the full A64 instruction set in Streaming SVE mode.
const SMCR_FA64: u64 = 1 << 31;
/// SMCR_EL2.EZT0 (bit 30): ZT0 (SME2) not trapped.
const SMCR_EZT0: u64 = 1 << 30;
/// SMCR_EL2.LEN: no limit on the streaming vector length.
const SMCR_LEN_MAX: u64 = 0xf;

/// Sets HCRX_EL2 (when the CPU has it) and SMCR_EL2 (when it has SME) to exactly what `e` says
/// sluice enables; every other HCRX_EL2 control stays 0 (no extra traps, nothing else enabled,
/// and the guest is shown nothing that needs one).
pub fn configure(e: &Enables, has_hcrx: bool, has_sme: bool) {
    if has_hcrx {
        let hcrx = if e.mops { HCRX_MSCEN } else { 0 } | if e.fpmr { HCRX_ENFPM } else { 0 };
        write_sysreg!("S3_4_C1_C2_2", hcrx); // HCRX_EL2
    }
    if has_sme {
        let smcr = SMCR_LEN_MAX
            | if e.sme_fa64 { SMCR_FA64 } else { 0 }
            | if e.sme_zt0 { SMCR_EZT0 } else { 0 };
        write_sysreg!("S3_4_C1_C2_6", smcr); // SMCR_EL2
    }
}
