//! PSCI (Arm DEN 0022, v1.1) and SMCCC (Arm DEN 0028, v1.1) calls from the guest, decoded,
//! plus the vCPU power-state table that gives CPU_ON / CPU_OFF / AFFINITY_INFO their meaning.
//!
//! What a guest is offered: PSCI_VERSION, PSCI_FEATURES, CPU_ON, CPU_OFF, CPU_SUSPEND
//! (standby semantics: the caller returns at once), AFFINITY_INFO (level 0), SYSTEM_OFF,
//! SYSTEM_RESET, MIGRATE_INFO_TYPE, and SMCCC_VERSION / SMCCC_ARCH_FEATURES. The Spectre
//! workarounds (SMCCC_ARCH_WORKAROUND_1/2/3) answer NOT_SUPPORTED: sluice does not apply them
//! on the guest's behalf and must not claim it does.
#![forbid(unsafe_code)]

/// PSCI version sluice implements: 1.1.
pub const PSCI_VERSION: u32 = 0x0001_0001;
/// SMCCC version sluice implements: 1.1.
pub const SMCCC_VERSION: u32 = 0x0001_0001;
/// MIGRATE_INFO_TYPE answer: no Trusted OS that needs migration.
pub const MIGRATE_INFO_TYPE_NOT_PRESENT: i64 = 2;

/// Function IDs (PSCI 1.1 function prototypes; SMCCC 1.1 Arm architecture calls): SMC32
/// `0x84..`, SMC64 `0xc4..`.
mod id {
    pub const VERSION: u32 = 0x8400_0000;
    pub const CPU_SUSPEND_32: u32 = 0x8400_0001;
    pub const CPU_SUSPEND_64: u32 = 0xc400_0001;
    pub const CPU_OFF: u32 = 0x8400_0002;
    pub const CPU_ON_32: u32 = 0x8400_0003;
    pub const CPU_ON_64: u32 = 0xc400_0003;
    pub const AFFINITY_INFO_32: u32 = 0x8400_0004;
    pub const AFFINITY_INFO_64: u32 = 0xc400_0004;
    pub const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
    pub const SYSTEM_OFF: u32 = 0x8400_0008;
    pub const SYSTEM_RESET: u32 = 0x8400_0009;
    pub const FEATURES: u32 = 0x8400_000a;
    pub const SYSTEM_RESET2_32: u32 = 0x8400_0012;
    pub const SYSTEM_RESET2_64: u32 = 0xc400_0012;
    pub const SMCCC_VERSION: u32 = 0x8000_0000;
    pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
    pub const SMCCC_ARCH_WORKAROUND_1: u32 = 0x8000_8000;
    pub const SMCCC_ARCH_WORKAROUND_2: u32 = 0x8000_7fff;
    pub const SMCCC_ARCH_WORKAROUND_3: u32 = 0x8000_3fff;
    /// Bit 30 of a function ID: the SMC64/HVC64 calling convention.
    pub const SMC64_BIT: u32 = 1 << 30;
}

/// CPU_ON (SMC64) as sluice calls it on the host firmware.
pub const HOST_CPU_ON: u32 = id::CPU_ON_64;
/// SYSTEM_OFF as sluice calls it on the host firmware.
pub const HOST_SYSTEM_OFF: u32 = id::SYSTEM_OFF;
/// SYSTEM_RESET as sluice calls it on the host firmware.
pub const HOST_SYSTEM_RESET: u32 = id::SYSTEM_RESET;

/// PSCI return codes (PSCI 1.1, "Return error codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i64)]
pub enum PsciReturn {
    /// Success.
    Success = 0,
    /// Function not implemented.
    NotSupported = -1,
    /// Bad argument.
    InvalidParameters = -2,
    /// Refused.
    Denied = -3,
    /// CPU_ON of a CPU that is on.
    AlreadyOn = -4,
    /// CPU_ON of a CPU whose earlier CPU_ON has not completed.
    OnPending = -5,
    /// Internal failure.
    InternalFailure = -6,
    /// Target not present.
    NotPresent = -7,
    /// Disabled.
    Disabled = -8,
    /// Entry point outside the caller's memory.
    InvalidAddress = -9,
}

impl PsciReturn {
    /// The value returned to the guest in x0.
    pub fn code(self) -> i64 {
        self as i64
    }
}

impl From<PsciReturn> for i64 {
    fn from(r: PsciReturn) -> i64 {
        r.code()
    }
}

/// A guest PSCI/SMCCC call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsciCall {
    /// PSCI_VERSION.
    Version,
    /// CPU_SUSPEND.
    CpuSuspend {
        /// Requested power state.
        power_state: u64,
        /// Resume address for power-down states.
        entry: u64,
        /// x0 at resume.
        context_id: u64,
    },
    /// CPU_OFF.
    CpuOff,
    /// CPU_ON.
    CpuOn {
        /// MPIDR of the CPU to start.
        target_mpidr: u64,
        /// Where it starts.
        entry: u64,
        /// Its x0.
        context_id: u64,
    },
    /// AFFINITY_INFO.
    AffinityInfo {
        /// MPIDR of the CPU asked about.
        target_affinity: u64,
        /// Affinity level (only 0 is supported).
        lowest_level: u64,
    },
    /// MIGRATE_INFO_TYPE.
    MigrateInfoType,
    /// SYSTEM_OFF.
    SystemOff,
    /// SYSTEM_RESET.
    SystemReset,
    /// SYSTEM_RESET2.
    SystemReset2 {
        /// Reset type.
        reset_type: u64,
        /// Cookie.
        cookie: u64,
    },
    /// PSCI_FEATURES.
    Features {
        /// The function asked about.
        function_id: u32,
    },
    /// SMCCC_VERSION.
    SmcccVersion,
    /// SMCCC_ARCH_FEATURES.
    SmcccArchFeatures {
        /// The function asked about.
        function_id: u32,
    },
    /// SMCCC_ARCH_WORKAROUND_1 (Spectre v2 branch predictor invalidation).
    SmcccArchWorkaround1,
    /// SMCCC_ARCH_WORKAROUND_2 (Spectre v4 speculative store bypass).
    SmcccArchWorkaround2 {
        /// Enable (non-zero) or disable the mitigation for the caller.
        enable: u64,
    },
    /// SMCCC_ARCH_WORKAROUND_3 (Spectre-BHB).
    SmcccArchWorkaround3,
    /// Anything else.
    Unknown {
        /// The function ID in w0.
        function_id: u32,
    },
}

/// Decodes a call from x0..x3. The function ID is w0 (SMCCC 1.1); SMC32 calls see
/// only the low 32 bits of their arguments.
pub fn decode(regs: [u64; 4]) -> PsciCall {
    let function_id = regs[0] as u32;
    let is_smc64 = function_id & id::SMC64_BIT != 0;
    let arg = |n: usize| {
        if is_smc64 {
            regs[n]
        } else {
            regs[n] & 0xffff_ffff
        }
    };
    match function_id {
        id::VERSION => PsciCall::Version,
        id::CPU_SUSPEND_32 | id::CPU_SUSPEND_64 => PsciCall::CpuSuspend {
            power_state: arg(1),
            entry: arg(2),
            context_id: arg(3),
        },
        id::CPU_OFF => PsciCall::CpuOff,
        id::CPU_ON_32 | id::CPU_ON_64 => PsciCall::CpuOn {
            target_mpidr: arg(1),
            entry: arg(2),
            context_id: arg(3),
        },
        id::AFFINITY_INFO_32 | id::AFFINITY_INFO_64 => PsciCall::AffinityInfo {
            target_affinity: arg(1),
            lowest_level: arg(2),
        },
        id::MIGRATE_INFO_TYPE => PsciCall::MigrateInfoType,
        id::SYSTEM_OFF => PsciCall::SystemOff,
        id::SYSTEM_RESET => PsciCall::SystemReset,
        id::SYSTEM_RESET2_32 | id::SYSTEM_RESET2_64 => PsciCall::SystemReset2 {
            reset_type: arg(1),
            cookie: arg(2),
        },
        id::FEATURES => PsciCall::Features {
            function_id: regs[1] as u32,
        },
        id::SMCCC_VERSION => PsciCall::SmcccVersion,
        id::SMCCC_ARCH_FEATURES => PsciCall::SmcccArchFeatures {
            function_id: regs[1] as u32,
        },
        id::SMCCC_ARCH_WORKAROUND_1 => PsciCall::SmcccArchWorkaround1,
        id::SMCCC_ARCH_WORKAROUND_2 => PsciCall::SmcccArchWorkaround2 { enable: arg(1) },
        id::SMCCC_ARCH_WORKAROUND_3 => PsciCall::SmcccArchWorkaround3,
        function_id => PsciCall::Unknown { function_id },
    }
}

/// PSCI_FEATURES (PSCI 1.1): 0 for what a guest can call, NOT_SUPPORTED
/// otherwise. For CPU_SUSPEND 0 also means the original power-state format (bit 1 clear) and
/// no OS-initiated mode (bit 0 clear). SMCCC_VERSION is listed because that is how a caller
/// discovers SMCCC 1.1 (SMCCC 1.1, SMCCC_VERSION); Linux asks exactly this.
pub fn features(function_id: u32) -> i64 {
    match function_id {
        id::VERSION
        | id::CPU_SUSPEND_32
        | id::CPU_SUSPEND_64
        | id::CPU_OFF
        | id::CPU_ON_32
        | id::CPU_ON_64
        | id::AFFINITY_INFO_32
        | id::AFFINITY_INFO_64
        | id::MIGRATE_INFO_TYPE
        | id::SYSTEM_OFF
        | id::SYSTEM_RESET
        | id::FEATURES
        | id::SMCCC_VERSION => PsciReturn::Success.code(),
        _ => PsciReturn::NotSupported.code(),
    }
}

/// SMCCC_ARCH_FEATURES (SMCCC 1.1): sluice implements none of the optional
/// architectural workarounds; it says so rather than claiming a mitigation it does not apply.
pub fn smccc_arch_features(function_id: u32) -> i64 {
    match function_id {
        id::SMCCC_VERSION | id::SMCCC_ARCH_FEATURES => PsciReturn::Success.code(),
        _ => PsciReturn::NotSupported.code(),
    }
}

mod function;
mod power;
pub use function::{CallFunction, CALL_FUNCTIONS};
pub use power::{
    vcpu_affinity, PowerState, VcpuPowerTable, AFFINITY_OFF, AFFINITY_ON, AFFINITY_ON_PENDING,
    MPIDR_AFFINITY_MASK,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_on_64_keeps_full_width_arguments_and_cpu_on_32_truncates_them() {
        let call = decode([0xc400_0003, 0x1, 0x1_4000_0000, 0xdead_beef_0000_0001]);
        assert_eq!(
            call,
            PsciCall::CpuOn {
                target_mpidr: 1,
                entry: 0x1_4000_0000,
                context_id: 0xdead_beef_0000_0001
            }
        );
        let call = decode([0x8400_0003, 0x1, 0x1_4000_0000, 0]);
        assert_eq!(
            call,
            PsciCall::CpuOn {
                target_mpidr: 1,
                entry: 0x4000_0000,
                context_id: 0
            }
        );
    }

    #[test]
    fn every_guest_visible_function_decodes() {
        assert_eq!(decode([0x8400_0000, 0, 0, 0]), PsciCall::Version);
        assert_eq!(decode([0x8400_0008, 0, 0, 0]), PsciCall::SystemOff);
        assert_eq!(decode([0x8400_0009, 0, 0, 0]), PsciCall::SystemReset);
        assert_eq!(decode([0x8400_0002, 0, 0, 0]), PsciCall::CpuOff);
        assert_eq!(
            decode([0x8400_000a, 0xc400_0003, 0, 0]),
            PsciCall::Features {
                function_id: 0xc400_0003
            }
        );
        assert_eq!(decode([0x8000_0000, 0, 0, 0]), PsciCall::SmcccVersion);
        assert_eq!(
            decode([0x8000_8000, 0, 0, 0]),
            PsciCall::SmcccArchWorkaround1
        );
        assert_eq!(
            decode([0x8000_7fff, 1, 0, 0]),
            PsciCall::SmcccArchWorkaround2 { enable: 1 }
        );
        assert_eq!(
            decode([0x8000_3fff, 0, 0, 0]),
            PsciCall::SmcccArchWorkaround3
        );
        assert_eq!(
            decode([0x8400_00ff, 0, 0, 0]),
            PsciCall::Unknown {
                function_id: 0x8400_00ff
            }
        );
    }

    #[test]
    fn features_are_offered_only_for_implemented_functions() {
        assert_eq!(features(0xc400_0003), 0);
        assert_eq!(features(0x8400_0009), 0);
        assert_eq!(features(0x8400_0012), -1);
        assert_eq!(smccc_arch_features(0x8000_8000), -1);
    }

    #[test]
    fn return_codes_have_the_values_psci_assigns() {
        let codes = [
            PsciReturn::Success,
            PsciReturn::NotSupported,
            PsciReturn::InvalidParameters,
            PsciReturn::Denied,
            PsciReturn::AlreadyOn,
            PsciReturn::OnPending,
            PsciReturn::InternalFailure,
            PsciReturn::NotPresent,
            PsciReturn::Disabled,
            PsciReturn::InvalidAddress,
        ];
        assert_eq!(
            codes.map(i64::from),
            [0, -1, -2, -3, -4, -5, -6, -7, -8, -9]
        );
        assert_eq!(PSCI_VERSION, 0x1_0001);
        assert_eq!(SMCCC_VERSION, 0x1_0001);
    }

    #[test]
    fn smc32_affinity_info_sees_only_the_low_words_and_smc64_suspend_all_of_them() {
        assert_eq!(
            decode([
                0xffff_ffff_8400_0004,
                0xffff_ffff_0000_0101,
                0x1_0000_0000,
                0
            ]),
            PsciCall::AffinityInfo {
                target_affinity: 0x101,
                lowest_level: 0
            }
        );
        assert_eq!(
            decode([0xc400_0001, 0x1_0000_0000, 2, 3]),
            PsciCall::CpuSuspend {
                power_state: 0x1_0000_0000,
                entry: 2,
                context_id: 3
            }
        );
        assert_eq!(
            decode([0x8400_000a, 0xffff_ffff_8400_0008, 0, 0]),
            PsciCall::Features {
                function_id: 0x8400_0008
            }
        );
    }

    #[test]
    fn both_calling_conventions_are_offered_and_the_workarounds_are_not() {
        for id in [
            0x8400_0001,
            0xc400_0001,
            0x8400_0003,
            0x8400_0004,
            0xc400_0004,
        ] {
            assert_eq!(features(id), 0, "{id:#x}");
        }
        assert_eq!(features(0x8400_000a), 0);
        assert_eq!(features(0x8400_0006), 0);
        assert_eq!(features(0x8000_0000), 0); // SMCCC_VERSION discovery
        assert_eq!(features(0x8400_0005), -1); // MIGRATE
        for id in [0x8000_8000, 0x8000_7fff, 0x8000_3fff] {
            assert_eq!(smccc_arch_features(id), -1);
        }
        assert_eq!(smccc_arch_features(0x8000_0001), 0);
    }
}
