//! PSCI and SMCCC calls named for exit accounting: a small closed set, so a guest that calls
//! thousands of distinct function IDs still fills only a fixed table (everything sluice does
//! not know lands in [`CallFunction::Other`]).
#![forbid(unsafe_code)]

use super::{decode, PsciCall};

/// The function a guest HVC or SMC asked for (SMC32 and SMC64 forms share one entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFunction {
    /// PSCI_VERSION.
    PsciVersion,
    /// CPU_SUSPEND.
    CpuSuspend,
    /// CPU_OFF.
    CpuOff,
    /// CPU_ON.
    CpuOn,
    /// AFFINITY_INFO.
    AffinityInfo,
    /// MIGRATE_INFO_TYPE.
    MigrateInfoType,
    /// SYSTEM_OFF.
    SystemOff,
    /// SYSTEM_RESET.
    SystemReset,
    /// SYSTEM_RESET2.
    SystemReset2,
    /// PSCI_FEATURES.
    PsciFeatures,
    /// SMCCC_VERSION.
    SmcccVersion,
    /// SMCCC_ARCH_FEATURES.
    SmcccArchFeatures,
    /// SMCCC_ARCH_WORKAROUND_1.
    ArchWorkaround1,
    /// SMCCC_ARCH_WORKAROUND_2.
    ArchWorkaround2,
    /// SMCCC_ARCH_WORKAROUND_3.
    ArchWorkaround3,
    /// Any function ID sluice does not implement (vendor, SiP, trusted OS, unallocated).
    Other,
}

/// Number of [`CallFunction`] values.
pub const CALL_FUNCTIONS: usize = 16;

impl CallFunction {
    /// Every function, in table order; `Other` last.
    pub const ALL: [CallFunction; CALL_FUNCTIONS] = [
        Self::PsciVersion,
        Self::CpuSuspend,
        Self::CpuOff,
        Self::CpuOn,
        Self::AffinityInfo,
        Self::MigrateInfoType,
        Self::SystemOff,
        Self::SystemReset,
        Self::SystemReset2,
        Self::PsciFeatures,
        Self::SmcccVersion,
        Self::SmcccArchFeatures,
        Self::ArchWorkaround1,
        Self::ArchWorkaround2,
        Self::ArchWorkaround3,
        Self::Other,
    ];

    /// The function named by `function_id` (w0 of the call, SMCCC 1.1 section 2.5). Uses the
    /// same decoder that serves the call, so accounting and handling cannot disagree.
    pub fn from_id(function_id: u32) -> Self {
        match decode([u64::from(function_id), 0, 0, 0]) {
            PsciCall::Version => Self::PsciVersion,
            PsciCall::CpuSuspend { .. } => Self::CpuSuspend,
            PsciCall::CpuOff => Self::CpuOff,
            PsciCall::CpuOn { .. } => Self::CpuOn,
            PsciCall::AffinityInfo { .. } => Self::AffinityInfo,
            PsciCall::MigrateInfoType => Self::MigrateInfoType,
            PsciCall::SystemOff => Self::SystemOff,
            PsciCall::SystemReset => Self::SystemReset,
            PsciCall::SystemReset2 { .. } => Self::SystemReset2,
            PsciCall::Features { .. } => Self::PsciFeatures,
            PsciCall::SmcccVersion => Self::SmcccVersion,
            PsciCall::SmcccArchFeatures { .. } => Self::SmcccArchFeatures,
            PsciCall::SmcccArchWorkaround1 => Self::ArchWorkaround1,
            PsciCall::SmcccArchWorkaround2 { .. } => Self::ArchWorkaround2,
            PsciCall::SmcccArchWorkaround3 => Self::ArchWorkaround3,
            PsciCall::Unknown { .. } => Self::Other,
        }
    }

    /// Position in [`Self::ALL`].
    pub fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|&f| f == self)
            .unwrap_or(CALL_FUNCTIONS - 1)
    }

    /// Short name for the exit table: the spec's name, lower case, without the
    /// PSCI_/SMCCC_ prefix where the name stays unambiguous.
    pub fn name(self) -> &'static str {
        match self {
            Self::PsciVersion => "psci_version",
            Self::CpuSuspend => "cpu_suspend",
            Self::CpuOff => "cpu_off",
            Self::CpuOn => "cpu_on",
            Self::AffinityInfo => "affinity_info",
            Self::MigrateInfoType => "migrate_info_type",
            Self::SystemOff => "system_off",
            Self::SystemReset => "system_reset",
            Self::SystemReset2 => "system_reset2",
            Self::PsciFeatures => "psci_features",
            Self::SmcccVersion => "smccc_version",
            Self::SmcccArchFeatures => "arch_features",
            Self::ArchWorkaround1 => "arch_workaround_1",
            Self::ArchWorkaround2 => "arch_workaround_2",
            Self::ArchWorkaround3 => "arch_workaround_3",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_calling_conventions_of_a_function_share_one_entry() {
        assert_eq!(CallFunction::from_id(0x8400_0003), CallFunction::CpuOn);
        assert_eq!(CallFunction::from_id(0xc400_0003), CallFunction::CpuOn);
        assert_eq!(CallFunction::from_id(0x8400_0001), CallFunction::CpuSuspend);
        assert_eq!(CallFunction::from_id(0xc400_0001), CallFunction::CpuSuspend);
    }

    #[test]
    fn the_functions_linux_calls_at_boot_and_power_off_have_names() {
        let named = [
            (0x8400_0000, "psci_version"),
            (0x8400_000a, "psci_features"),
            (0x8000_0000, "smccc_version"),
            (0x8000_0001, "arch_features"),
            (0x8400_0008, "system_off"),
            (0x8000_8000, "arch_workaround_1"),
        ];
        for (id, name) in named {
            assert_eq!(CallFunction::from_id(id).name(), name, "function {id:#x}");
        }
    }

    #[test]
    fn unknown_vendor_and_trusted_os_ids_fall_into_other() {
        for id in [
            0x8200_0000,
            0xc300_0042,
            0xb200_0000,
            0xffff_ffff,
            0,
            0x8400_00ff,
        ] {
            assert_eq!(CallFunction::from_id(id), CallFunction::Other, "{id:#x}");
        }
    }

    #[test]
    fn every_function_has_a_distinct_index_and_name_and_other_is_last() {
        let mut names = std::collections::HashSet::new();
        for (n, f) in CallFunction::ALL.iter().enumerate() {
            assert_eq!(f.index(), n);
            assert!(names.insert(f.name()));
        }
        assert_eq!(CallFunction::Other.index(), CALL_FUNCTIONS - 1);
    }
}
