//! PSCI (Arm DEN 0022) and SMCCC (Arm DEN 0028) calls from the guest, decoded, plus the
//! vCPU power-state table that gives CPU_ON / CPU_OFF / AFFINITY_INFO their meaning.
#![forbid(unsafe_code)]

use alloc::vec::Vec;

/// PSCI version sluice implements: 1.1.
pub const PSCI_VERSION: u32 = 0x0001_0001;
/// SMCCC version sluice implements: 1.1.
pub const SMCCC_VERSION: u32 = 0x0001_0001;
/// MIGRATE_INFO_TYPE answer: no Trusted OS that needs migration.
pub const MIGRATE_INFO_TYPE_NOT_PRESENT: i64 = 2;

/// Function IDs (PSCI 1.1, table 5.1; SMC64 where both exist).
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
}

/// CPU_ON (SMC64) as sluice calls it on the host firmware.
pub const HOST_CPU_ON: u32 = id::CPU_ON_64;
/// SYSTEM_OFF as sluice calls it on the host firmware.
pub const HOST_SYSTEM_OFF: u32 = id::SYSTEM_OFF;
/// SYSTEM_RESET as sluice calls it on the host firmware.
pub const HOST_SYSTEM_RESET: u32 = id::SYSTEM_RESET;

/// PSCI return codes (PSCI 1.1, table 5.2).
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
    /// SMCCC_ARCH_WORKAROUND_1 or _2.
    SmcccArchWorkaround,
    /// Anything else.
    Unknown {
        /// The function ID in w0.
        function_id: u32,
    },
}

/// Decodes a call from x0..x3. SMC32 calls see only the low 32 bits of their arguments.
pub fn decode(regs: [u64; 4]) -> PsciCall {
    let function_id = regs[0] as u32;
    let is_smc64 = function_id & 0x4000_0000 != 0;
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
        id::SMCCC_ARCH_WORKAROUND_1 | id::SMCCC_ARCH_WORKAROUND_2 => PsciCall::SmcccArchWorkaround,
        function_id => PsciCall::Unknown { function_id },
    }
}

/// PSCI_FEATURES: 0 for what a guest can call, NOT_SUPPORTED otherwise. CPU_SUSPEND reports
/// the original power-state format (bit 1 clear) with no OS-initiated mode.
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
        | id::SMCCC_VERSION => PsciReturn::Success as i64,
        _ => PsciReturn::NotSupported as i64,
    }
}

/// SMCCC_ARCH_FEATURES: sluice implements none of the optional architectural workarounds; it
/// says so rather than claiming a mitigation it does not apply.
pub fn smccc_arch_features(function_id: u32) -> i64 {
    match function_id {
        id::SMCCC_VERSION | id::SMCCC_ARCH_FEATURES => PsciReturn::Success as i64,
        _ => PsciReturn::NotSupported as i64,
    }
}

/// Power state of one vCPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    /// Not running.
    Off,
    /// CPU_ON accepted; its CPU has not claimed the start yet.
    OnPending {
        /// Where it starts.
        entry: u64,
        /// Its x0.
        context_id: u64,
    },
    /// Running.
    On,
}

/// AFFINITY_INFO answers.
const AFFINITY_ON: i64 = 0;
const AFFINITY_OFF: i64 = 1;
const AFFINITY_ON_PENDING: i64 = 2;

/// The guest's vCPUs, identified by MPIDR, and their power states.
#[derive(Debug, Clone)]
pub struct VcpuPowerTable {
    mpidrs: Vec<u64>,
    states: Vec<PowerState>,
}

impl VcpuPowerTable {
    /// vCPU 0 starts on (it boots the kernel), every other vCPU off.
    pub fn new(mpidrs: &[u64]) -> Self {
        let mut table = Self {
            mpidrs: mpidrs.to_vec(),
            states: Vec::new(),
        };
        table.reset_all();
        table
    }

    /// Back to the boot state (guest reboot).
    pub fn reset_all(&mut self) {
        self.states = (0..self.mpidrs.len())
            .map(|i| {
                if i == 0 {
                    PowerState::On
                } else {
                    PowerState::Off
                }
            })
            .collect();
    }

    fn index_of(&self, mpidr: u64) -> Option<usize> {
        self.mpidrs
            .iter()
            .position(|&m| m == mpidr & 0xff_00ff_ffff)
    }

    /// CPU_ON: marks the target pending and returns its vCPU index to wake.
    pub fn cpu_on(
        &mut self,
        target_mpidr: u64,
        entry: u64,
        context_id: u64,
    ) -> Result<usize, PsciReturn> {
        let index = self
            .index_of(target_mpidr)
            .ok_or(PsciReturn::InvalidParameters)?;
        match self.states[index] {
            PowerState::On => Err(PsciReturn::AlreadyOn),
            PowerState::OnPending { .. } => Err(PsciReturn::OnPending),
            PowerState::Off => {
                self.states[index] = PowerState::OnPending { entry, context_id };
                Ok(index)
            }
        }
    }

    /// The woken vCPU claims its start: it becomes On and learns where to begin.
    pub fn take_pending(&mut self, vcpu: usize) -> Option<(u64, u64)> {
        match self.states.get(vcpu).copied() {
            Some(PowerState::OnPending { entry, context_id }) => {
                self.states[vcpu] = PowerState::On;
                Some((entry, context_id))
            }
            _ => None,
        }
    }

    /// CPU_OFF from `vcpu` itself.
    pub fn cpu_off(&mut self, vcpu: usize) {
        if let Some(s) = self.states.get_mut(vcpu) {
            *s = PowerState::Off;
        }
    }

    /// AFFINITY_INFO for level 0 (higher levels: INVALID_PARAMETERS, as PSCI 1.1 allows).
    pub fn affinity_info(&self, target_affinity: u64, lowest_level: u64) -> i64 {
        if lowest_level != 0 {
            return PsciReturn::InvalidParameters as i64;
        }
        match self.index_of(target_affinity).map(|i| self.states[i]) {
            Some(PowerState::On) => AFFINITY_ON,
            Some(PowerState::Off) => AFFINITY_OFF,
            Some(PowerState::OnPending { .. }) => AFFINITY_ON_PENDING,
            None => PsciReturn::InvalidParameters as i64,
        }
    }

    /// The state of `vcpu`.
    pub fn state(&self, vcpu: usize) -> Option<PowerState> {
        self.states.get(vcpu).copied()
    }
}

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
            PsciCall::SmcccArchWorkaround
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
    fn cpu_on_goes_pending_then_on_and_refuses_twice() {
        let mut t = VcpuPowerTable::new(&[0x0, 0x1]);
        assert_eq!(t.affinity_info(1, 0), AFFINITY_OFF);
        assert_eq!(t.cpu_on(1, 0x4000_0000, 7), Ok(1));
        assert_eq!(t.cpu_on(1, 0x4000_0000, 7), Err(PsciReturn::OnPending));
        assert_eq!(t.affinity_info(1, 0), AFFINITY_ON_PENDING);
        assert_eq!(t.take_pending(1), Some((0x4000_0000, 7)));
        assert_eq!(t.take_pending(1), None);
        assert_eq!(t.cpu_on(1, 0, 0), Err(PsciReturn::AlreadyOn));
        assert_eq!(t.affinity_info(1, 0), AFFINITY_ON);
    }

    #[test]
    fn unknown_mpidr_and_higher_affinity_levels_are_invalid_parameters() {
        let mut t = VcpuPowerTable::new(&[0x0, 0x1]);
        assert_eq!(t.cpu_on(0x100, 0, 0), Err(PsciReturn::InvalidParameters));
        assert_eq!(t.affinity_info(0x100, 0), -2);
        assert_eq!(t.affinity_info(0, 1), -2);
    }

    #[test]
    fn cpu_off_then_reset_returns_to_the_boot_state() {
        let mut t = VcpuPowerTable::new(&[0x0, 0x1]);
        t.cpu_on(1, 0, 0).unwrap();
        t.take_pending(1);
        t.cpu_off(0);
        assert_eq!(t.state(0), Some(PowerState::Off));
        t.reset_all();
        assert_eq!(
            (t.state(0), t.state(1)),
            (Some(PowerState::On), Some(PowerState::Off))
        );
    }
}
