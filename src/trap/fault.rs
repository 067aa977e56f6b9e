//! The fault status code (DFSC/IFSC) of an abort, decoded.
//!
//! Arm ARM (DDI 0487) D24.2 ESR_EL2, "ISS encoding for an exception from a Data Abort", field
//! DFSC (the IFSC of an Instruction Abort uses the same encodings). Levels -1 come from
//! FEAT_LPA2's 52-bit tables.
#![forbid(unsafe_code)]

/// Translation table level a fault happened at: -1 (FEAT_LPA2) to 3.
pub type Level = i8;

/// What kind of fault an abort reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Output address larger than the configured size (DFSC 0b0000LL, 0b101001).
    AddressSize {
        /// Table level.
        level: Level,
    },
    /// No valid descriptor at `level` (DFSC 0b0001LL, 0b101011).
    Translation {
        /// Table level.
        level: Level,
    },
    /// Access flag clear (DFSC 0b0010LL).
    AccessFlag {
        /// Table level.
        level: Level,
    },
    /// Mapped without the needed permission (DFSC 0b0011LL).
    Permission {
        /// Table level.
        level: Level,
    },
    /// Synchronous external abort on the access itself (DFSC 0b010000).
    SyncExternal,
    /// Synchronous external abort while walking the tables (DFSC 0b0101LL, 0b010011).
    SyncExternalOnWalk {
        /// Table level.
        level: Level,
    },
    /// Alignment fault (DFSC 0b100001).
    Alignment,
    /// TLB conflict abort (DFSC 0b110000).
    TlbConflict,
    /// Any other status code (parity/ECC, tag check, granule protection, IMPDEF...).
    Other(u8),
}

/// Table level encoded in the low two bits of a status code.
fn level_of(fsc: u8) -> Level {
    (fsc & 0b11) as Level
}

impl FaultKind {
    /// Decodes a 6-bit DFSC/IFSC.
    pub fn from_status(fsc: u8) -> Self {
        let fsc = fsc & 0x3f;
        match fsc {
            0x00..=0x03 => Self::AddressSize {
                level: level_of(fsc),
            },
            0x29 => Self::AddressSize { level: -1 },
            0x04..=0x07 => Self::Translation {
                level: level_of(fsc),
            },
            0x2b => Self::Translation { level: -1 },
            0x08..=0x0b => Self::AccessFlag {
                level: level_of(fsc),
            },
            0x0c..=0x0f => Self::Permission {
                level: level_of(fsc),
            },
            0x10 => Self::SyncExternal,
            0x13 => Self::SyncExternalOnWalk { level: -1 },
            0x14..=0x17 => Self::SyncExternalOnWalk {
                level: level_of(fsc),
            },
            0x21 => Self::Alignment,
            0x30 => Self::TlbConflict,
            other => Self::Other(other),
        }
    }

    /// Whether HPFAR_EL2 holds the faulting IPA for a stage-2 abort of this kind that did not
    /// happen on a stage-1 table walk. Arm ARM D24.2 HPFAR_EL2: valid for Translation, Access
    /// flag and Address size faults at stage 2 (and for any fault on a stage-1 walk); UNKNOWN
    /// otherwise, notably for Permission faults and external aborts.
    pub fn reports_ipa(self) -> bool {
        matches!(
            self,
            Self::Translation { .. } | Self::AccessFlag { .. } | Self::AddressSize { .. }
        )
    }

    /// A synchronous external abort, on the access or on the walk.
    pub fn is_external(self) -> bool {
        matches!(self, Self::SyncExternal | Self::SyncExternalOnWalk { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_decode_with_their_levels() {
        assert_eq!(
            FaultKind::from_status(0x07),
            FaultKind::Translation { level: 3 }
        );
        assert_eq!(
            FaultKind::from_status(0x2b),
            FaultKind::Translation { level: -1 }
        );
        assert_eq!(
            FaultKind::from_status(0x09),
            FaultKind::AccessFlag { level: 1 }
        );
        assert_eq!(
            FaultKind::from_status(0x0f),
            FaultKind::Permission { level: 3 }
        );
        assert_eq!(
            FaultKind::from_status(0x02),
            FaultKind::AddressSize { level: 2 }
        );
        assert_eq!(FaultKind::from_status(0x10), FaultKind::SyncExternal);
        assert_eq!(
            FaultKind::from_status(0x15),
            FaultKind::SyncExternalOnWalk { level: 1 }
        );
        assert_eq!(FaultKind::from_status(0x21), FaultKind::Alignment);
        assert_eq!(FaultKind::from_status(0x30), FaultKind::TlbConflict);
        assert_eq!(FaultKind::from_status(0x18), FaultKind::Other(0x18));
    }

    #[test]
    fn only_translation_access_flag_and_address_size_faults_report_an_ipa() {
        assert!(FaultKind::Translation { level: 3 }.reports_ipa());
        assert!(FaultKind::AccessFlag { level: 3 }.reports_ipa());
        assert!(FaultKind::AddressSize { level: 0 }.reports_ipa());
        assert!(!FaultKind::Permission { level: 3 }.reports_ipa());
        assert!(!FaultKind::SyncExternal.reports_ipa());
        assert!(FaultKind::SyncExternalOnWalk { level: 0 }.is_external());
    }
}
