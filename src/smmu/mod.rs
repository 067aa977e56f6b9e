//! The target-independent half of an SMMUv3 driver (Arm IHI 0070): register layouts and values,
//! feature discovery, Stream Table Entries, commands, queue index arithmetic and event decoding.
//!
//! sluice drives the SMMU with stage 2 only: each assigned PCI function's stream gets an STE
//! whose stage 2 mirrors the guest's CPU stage 2 (same table format, same VTCR_EL2 fields, see
//! [`ste::S2Config::from_vtcr`]); every other stream gets an abort STE. Nothing here touches
//! hardware: the MMIO driver (`hyp::smmu`) writes the words these builders return and hands what
//! it reads back to the decoders.
//!
//! - [`regs`]: register offsets (page 0 and page 1) and the values sluice programs.
//! - [`features`]: what SMMU_IDR0/1/3/5 say, and whether stage-2-only use is possible.
//! - [`ste`]: Stream Table Entries (abort, stage-2 translate).
//! - [`cmd`]: command queue entries and command errors.
//! - [`queue`]: PROD/CONS index arithmetic with the wrap bit.
//! - [`event`]: event queue records and SMMU_GERROR decoding, for one-line logs.
#![forbid(unsafe_code)]

use core::fmt;

pub mod cmd;
pub mod event;
pub mod features;
mod field;
pub mod queue;
pub mod regs;
pub mod ste;

pub use cmd::{Command, CommandError};
pub use event::{Event, EventKind, GlobalErrors};
pub use features::Features;
pub use queue::QueueIndex;
pub use ste::{S2Config, Ste};

/// Why the SMMU cannot be used the way sluice wants, or why a value cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmmuError {
    /// SMMU_IDR0.S2P = 0: no stage-2 translation.
    NoStage2,
    /// SMMU_IDR0.TTF does not include AArch64 translation tables.
    NoAArch64Tables,
    /// SMMU_IDR0.TTENDIAN says translation tables can only be big-endian.
    NoLittleEndianTables,
    /// SMMU_IDR5.GRAN4K = 0: sluice's stage-2 tables use the 4 KiB granule.
    No4KibGranule,
    /// SMMU_IDR0.STALL_MODEL = 0b10: every fault stalls, but sluice terminates faulting DMA.
    StallForced,
    /// The stage-2 output size (VTCR_EL2.PS) is larger than the SMMU's output size (IDR5.OAS).
    OutputSizeTooLarge {
        /// Bits of output address the stage-2 tables may produce.
        ps_bits: u8,
        /// Bits of output address the SMMU supports.
        oas_bits: u8,
    },
    /// A 16-bit VMID given to an SMMU with 8-bit VMIDs (IDR0.VMID16 = 0).
    VmidTooWide(u16),
    /// A VTCR_EL2 value the SMMU's stage 2 cannot mirror (the field named is wrong).
    BadVtcr(&'static str),
    /// A table or queue base that is not aligned as the SMMU requires.
    Misaligned {
        /// Which structure.
        what: &'static str,
        /// Its physical address.
        phys: u64,
        /// Required alignment.
        align_bytes: u64,
    },
    /// A table or queue base beyond the SMMU's output address size.
    AddressTooWide {
        /// Which structure.
        what: &'static str,
        /// Its physical address.
        phys: u64,
    },
    /// A table or queue with more entries than the SMMU supports.
    TooManyEntries {
        /// Which structure.
        what: &'static str,
        /// log2 of the entries asked for.
        log2_entries: u8,
        /// log2 of the most the SMMU takes.
        max_log2_entries: u8,
    },
}

impl fmt::Display for SmmuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoStage2 => write!(f, "SMMU has no stage-2 translation (IDR0.S2P = 0)"),
            Self::NoAArch64Tables => {
                write!(f, "SMMU cannot walk AArch64 translation tables (IDR0.TTF)")
            }
            Self::NoLittleEndianTables => {
                write!(f, "SMMU only walks big-endian translation tables (IDR0.TTENDIAN)")
            }
            Self::No4KibGranule => write!(f, "SMMU has no 4 KiB translation granule (IDR5.GRAN4K = 0)"),
            Self::StallForced => write!(
                f,
                "SMMU forces the stall fault model (IDR0.STALL_MODEL = 0b10); sluice terminates faults"
            ),
            Self::OutputSizeTooLarge { ps_bits, oas_bits } => write!(
                f,
                "stage-2 output size of {ps_bits} bits exceeds the SMMU's {oas_bits}-bit output size (IDR5.OAS)"
            ),
            Self::VmidTooWide(vmid) => {
                write!(f, "VMID {vmid} does not fit the SMMU's 8-bit VMIDs (IDR0.VMID16 = 0)")
            }
            Self::BadVtcr(field) => {
                write!(f, "VTCR_EL2.{field} cannot be mirrored into an SMMU stage-2 STE")
            }
            Self::Misaligned { what, phys, align_bytes } => write!(
                f,
                "SMMU {what} at {phys:#x} is not aligned to {align_bytes:#x} bytes"
            ),
            Self::AddressTooWide { what, phys } => {
                write!(f, "SMMU {what} at {phys:#x} is beyond the SMMU's output address size")
            }
            Self::TooManyEntries { what, log2_entries, max_log2_entries } => write!(
                f,
                "SMMU {what} of 2^{log2_entries} entries exceeds the SMMU's 2^{max_log2_entries}"
            ),
        }
    }
}

/// Result of the SMMU builders and checks.
pub type Result<T> = core::result::Result<T, SmmuError>;

/// Bits of address for an SMMU_IDR5.OAS (or STE.S2PS / VTCR_EL2.PS) encoding; `None` for a
/// reserved encoding. Same table as ID_AA64MMFR0_EL1.PARange (IHI 0070 6.3.6).
pub fn address_size_bits(encoding: u8) -> Option<u8> {
    match encoding {
        0 => Some(32),
        1 => Some(36),
        2 => Some(40),
        3 => Some(42),
        4 => Some(44),
        5 => Some(48),
        6 => Some(52),
        _ => None,
    }
}
