//! The guest's vCPUs and their PSCI power states: what CPU_ON, CPU_OFF and AFFINITY_INFO
//! read and change. Plain data; the caller wraps it in a lock.
#![forbid(unsafe_code)]

use super::PsciReturn;
use alloc::vec::Vec;

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

/// AFFINITY_INFO: the CPU is on (PSCI 1.1, AFFINITY_INFO).
pub const AFFINITY_ON: i64 = 0;
/// AFFINITY_INFO: the CPU is off.
pub const AFFINITY_OFF: i64 = 1;
/// AFFINITY_INFO: a CPU_ON for it is still in progress.
pub const AFFINITY_ON_PENDING: i64 = 2;

/// The affinity fields of an MPIDR (Aff3 in [39:32], Aff2..Aff0 in [23:0]). PSCI's
/// `target_cpu` must have every other bit zero (PSCI 1.1, CPU_ON).
pub const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;

/// The virtual MPIDR affinity of a guest's vCPU `index`, whatever physical CPU runs it: Aff0
/// counts 0..15 and Aff1 takes the rest, so that a GICv3 SGI target list (16 Aff0 bits per
/// Aff1..Aff3 group) reaches every vCPU. On a machine whose CPUs are numbered that way (QEMU
/// virt) a guest owning every CPU sees the physical affinities.
pub fn vcpu_affinity(index: usize) -> u64 {
    let index = index as u64;
    ((index / 16 % 256) << 8) | (index % 16) | ((index / 4096 % 256) << 16)
}

/// The guest's vCPUs, identified by MPIDR, and their power states.
#[derive(Debug, Clone)]
pub struct VcpuPowerTable {
    mpidrs: Vec<u64>,
    states: Vec<PowerState>,
}

impl VcpuPowerTable {
    /// vCPU `i` has MPIDR `mpidrs[i]` (only its affinity fields count). vCPU 0 starts on (it
    /// boots the kernel), every other vCPU off.
    pub fn new(mpidrs: &[u64]) -> Self {
        let mut table = Self {
            mpidrs: mpidrs.iter().map(|m| m & MPIDR_AFFINITY_MASK).collect(),
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

    /// Guest reboot: every vCPU off, then vCPU 0 pending a start at `entry` with x0 =
    /// `context_id` (the kernel entry and the guest DT), claimed by its CPU as for CPU_ON.
    pub fn reboot(&mut self, entry: u64, context_id: u64) {
        self.reset_all();
        if let Some(first) = self.states.first_mut() {
            *first = PowerState::OnPending { entry, context_id };
        }
    }

    /// The vCPU whose MPIDR is `target`; INVALID_PARAMETERS for an unknown CPU or non-affinity
    /// bits set.
    fn index_of(&self, target: u64) -> Result<usize, PsciReturn> {
        if target & !MPIDR_AFFINITY_MASK != 0 {
            return Err(PsciReturn::InvalidParameters);
        }
        self.mpidrs
            .iter()
            .position(|&m| m == target)
            .ok_or(PsciReturn::InvalidParameters)
    }

    /// Number of vCPUs.
    pub fn len(&self) -> usize {
        self.mpidrs.len()
    }

    /// No vCPUs at all.
    pub fn is_empty(&self) -> bool {
        self.mpidrs.is_empty()
    }

    /// CPU_ON: marks the target pending and returns its vCPU index to wake. The caller checks
    /// `entry` against guest RAM first (INVALID_ADDRESS).
    pub fn cpu_on(
        &mut self,
        target_mpidr: u64,
        entry: u64,
        context_id: u64,
    ) -> Result<usize, PsciReturn> {
        let index = self.index_of(target_mpidr)?;
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

    /// Whether `vcpu` has a CPU_ON waiting for `take_pending`.
    pub fn start_pending(&self, vcpu: usize) -> bool {
        matches!(self.states.get(vcpu), Some(PowerState::OnPending { .. }))
    }

    /// CPU_OFF from `vcpu` itself (an out-of-range index is ignored).
    pub fn cpu_off(&mut self, vcpu: usize) {
        if let Some(s) = self.states.get_mut(vcpu) {
            *s = PowerState::Off;
        }
    }

    /// AFFINITY_INFO for level 0 (higher levels: INVALID_PARAMETERS, which PSCI 1.0 onwards
    /// allows: only level 0 is mandatory).
    pub fn affinity_info(&self, target_affinity: u64, lowest_level: u64) -> i64 {
        if lowest_level != 0 {
            return PsciReturn::InvalidParameters.code();
        }
        match self.index_of(target_affinity).map(|i| self.states[i]) {
            Ok(PowerState::On) => AFFINITY_ON,
            Ok(PowerState::Off) => AFFINITY_OFF,
            Ok(PowerState::OnPending { .. }) => AFFINITY_ON_PENDING,
            Err(e) => e.code(),
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
    fn cpu_on_goes_pending_then_on_and_refuses_twice() {
        let mut t = VcpuPowerTable::new(&[0x0, 0x1]);
        assert_eq!(t.affinity_info(1, 0), AFFINITY_OFF);
        assert_eq!(t.cpu_on(1, 0x4000_0000, 7), Ok(1));
        assert_eq!(t.cpu_on(1, 0x4000_0000, 7), Err(PsciReturn::OnPending));
        assert_eq!(t.affinity_info(1, 0), AFFINITY_ON_PENDING);
        assert!(t.start_pending(1) && !t.start_pending(0) && !t.start_pending(9));
        assert_eq!(t.take_pending(1), Some((0x4000_0000, 7)));
        assert!(!t.start_pending(1));
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

    #[test]
    fn reboot_leaves_only_vcpu_0_pending_at_the_kernel_entry() {
        let mut t = VcpuPowerTable::new(&[0, 1, 2]);
        t.cpu_on(1, 0x4008_0000, 7).unwrap();
        assert!(t.take_pending(1).is_some());
        t.reboot(0x4020_0000, 0x4800_0000);
        assert_eq!(t.state(1), Some(PowerState::Off));
        assert_eq!(t.state(2), Some(PowerState::Off));
        assert_eq!(t.take_pending(0), Some((0x4020_0000, 0x4800_0000)));
        assert_eq!(t.state(0), Some(PowerState::On));
        assert_eq!(
            t.cpu_on(1, 0x4008_0000, 0),
            Ok(1),
            "secondaries start again by CPU_ON"
        );
    }

    #[test]
    fn target_mpidrs_with_bits_outside_the_affinity_fields_are_invalid() {
        let mut t = VcpuPowerTable::new(&[0x8000_0000, 0x8000_0001]); // RES1 bit 31 as read
        assert_eq!(
            t.cpu_on(0x8000_0001, 0, 0),
            Err(PsciReturn::InvalidParameters)
        );
        assert_eq!(t.affinity_info(1 << 40, 0), -2);
        assert_eq!(t.cpu_on(0x1, 0x4000_0000, 0), Ok(1));
    }

    #[test]
    fn aff3_and_aff1_select_the_right_vcpu() {
        let mut t = VcpuPowerTable::new(&[0x0, 0x100, 0x1_0000_0000]);
        assert_eq!(t.len(), 3);
        assert_eq!(t.cpu_on(0x1_0000_0000, 8, 9), Ok(2));
        assert_eq!(t.affinity_info(0x100, 0), AFFINITY_OFF);
        assert_eq!(t.take_pending(2), Some((8, 9)));
    }

    #[test]
    fn out_of_range_vcpu_indices_are_ignored() {
        let mut t = VcpuPowerTable::new(&[0x0]);
        t.cpu_off(7);
        assert_eq!(t.take_pending(7), None);
        assert_eq!(t.state(7), None);
        assert!(VcpuPowerTable::new(&[]).is_empty());
    }

    #[test]
    fn two_cpu_on_calls_racing_for_one_target_start_it_once() {
        let mut t = VcpuPowerTable::new(&[0, 1, 2]);
        assert_eq!(t.cpu_on(2, 0x4000_0000, 1), Ok(2));
        assert_eq!(t.cpu_on(2, 0x5000_0000, 2), Err(PsciReturn::OnPending));
        assert_eq!(
            t.take_pending(2),
            Some((0x4000_0000, 1)),
            "the first caller's entry"
        );
        assert_eq!(t.cpu_on(2, 0x5000_0000, 2), Err(PsciReturn::AlreadyOn));
    }

    #[test]
    fn a_system_reset_drops_a_cpu_on_still_pending_from_the_old_boot() {
        let mut t = VcpuPowerTable::new(&[0, 1]);
        t.cpu_on(1, 0x4008_0000, 7).unwrap();
        t.reboot(0x4020_0000, 0x4800_0000);
        assert_eq!(
            t.take_pending(1),
            None,
            "the old boot's start is not claimed"
        );
        assert_eq!(t.affinity_info(1, 0), AFFINITY_OFF);
    }

    #[test]
    fn a_cpu_off_then_cpu_on_cycle_can_repeat_for_ever() {
        let mut t = VcpuPowerTable::new(&[0, 1]);
        for round in 0..1000u64 {
            assert_eq!(t.cpu_on(1, 0x4000_0000 + round, round), Ok(1));
            assert_eq!(t.take_pending(1), Some((0x4000_0000 + round, round)));
            assert_eq!(t.affinity_info(1, 0), AFFINITY_ON);
            t.cpu_off(1);
            assert_eq!(t.affinity_info(1, 0), AFFINITY_OFF);
        }
    }

    /// Random interleavings of every call, as several vCPUs make them concurrently (each
    /// call is atomic under the caller's lock): the answers always agree with a simple model.
    #[test]
    fn random_interleavings_of_cpu_on_cpu_off_and_reset_keep_the_states_consistent() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut t = VcpuPowerTable::new(&[0, 1, 2, 3]);
        let mut model = [
            PowerState::On,
            PowerState::Off,
            PowerState::Off,
            PowerState::Off,
        ];
        for _ in 0..100_000 {
            let target = (next() % 4) as usize;
            match next() % 5 {
                0 | 1 => {
                    let expect = match model[target] {
                        PowerState::Off => Ok(target),
                        PowerState::On => Err(PsciReturn::AlreadyOn),
                        PowerState::OnPending { .. } => Err(PsciReturn::OnPending),
                    };
                    assert_eq!(t.cpu_on(target as u64, 0x1000, target as u64), expect);
                    if expect.is_ok() {
                        model[target] = PowerState::OnPending {
                            entry: 0x1000,
                            context_id: target as u64,
                        };
                    }
                }
                2 => {
                    let claimed = t.take_pending(target);
                    assert_eq!(
                        claimed.is_some(),
                        matches!(model[target], PowerState::OnPending { .. })
                    );
                    if claimed.is_some() {
                        model[target] = PowerState::On;
                    }
                }
                3 if model[target] == PowerState::On => {
                    t.cpu_off(target);
                    model[target] = PowerState::Off;
                }
                3 => {}
                _ if next() % 16 == 0 => {
                    t.reboot(0x2000, 0x3000);
                    model = [PowerState::Off; 4];
                    model[0] = PowerState::OnPending {
                        entry: 0x2000,
                        context_id: 0x3000,
                    };
                }
                _ => {}
            }
            for (i, state) in model.iter().enumerate() {
                assert_eq!(t.state(i), Some(*state));
                let affinity = match state {
                    PowerState::On => AFFINITY_ON,
                    PowerState::Off => AFFINITY_OFF,
                    PowerState::OnPending { .. } => AFFINITY_ON_PENDING,
                };
                assert_eq!(t.affinity_info(i as u64, 0), affinity);
            }
        }
    }

    #[test]
    fn vcpu_affinities_count_aff0_to_15_then_move_to_aff1() {
        assert_eq!(vcpu_affinity(0), 0);
        assert_eq!(vcpu_affinity(15), 15);
        assert_eq!(vcpu_affinity(16), 0x100);
        assert_eq!(vcpu_affinity(33), 0x201);
        assert_eq!(vcpu_affinity(4096), 0x1_0000);
    }

    #[test]
    fn vcpu_affinities_are_distinct_and_inside_the_affinity_fields() {
        let all: Vec<u64> = (0..5000).map(vcpu_affinity).collect();
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a & !MPIDR_AFFINITY_MASK, 0);
            assert!(!all[..i].contains(a), "vCPU {i} repeats {a:#x}");
        }
    }
}
