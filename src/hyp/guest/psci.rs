//! The guest's PSCI and SMCCC calls (HVC conduit), applied to this machine.

use super::{reboot, run, vm::Vm};
use crate::arch::context::GuestFrame;
use crate::hyp::leaf::kick;
use sluice::psci::{self, PsciCall, PsciReturn};

/// Handles the HVC the guest just made; x0..x3 carry the call, x0 the result.
pub fn handle(vm: &'static Vm, vcpu_index: usize, frame: &mut GuestFrame) {
    let call = psci::decode([frame.x[0], frame.x[1], frame.x[2], frame.x[3]]);
    let result: i64 = match call {
        PsciCall::Version => psci::PSCI_VERSION as i64,
        PsciCall::SmcccVersion => psci::SMCCC_VERSION as i64,
        PsciCall::Features { function_id } => psci::features(function_id),
        PsciCall::SmcccArchFeatures { function_id } => psci::smccc_arch_features(function_id),
        PsciCall::MigrateInfoType => psci::MIGRATE_INFO_TYPE_NOT_PRESENT,
        PsciCall::CpuSuspend { .. } => PsciReturn::Success as i64, // standby: wake at once
        PsciCall::CpuOn {
            target_mpidr,
            entry,
            context_id,
        } => cpu_on(vm, target_mpidr, entry, context_id),
        PsciCall::AffinityInfo {
            target_affinity,
            lowest_level,
        } => vm.power.lock().affinity_info(target_affinity, lowest_level),
        PsciCall::CpuOff => {
            vm.power.lock().cpu_off(vcpu_index);
            log::info!("{} off (PSCI CPU_OFF)", vm.vcpu_label(vcpu_index));
            run::wait_for_cpu_on(vm, vcpu_index)
        }
        PsciCall::SystemOff => {
            reboot::power_off(vm);
            run::wait_for_cpu_on(vm, vcpu_index)
        }
        PsciCall::SystemReset | PsciCall::SystemReset2 { .. } => {
            reboot::request(vm, vcpu_index);
            run::wait_for_cpu_on(vm, vcpu_index)
        }
        _ => PsciReturn::NotSupported as i64,
    };
    frame.x[0] = result as u64;
}

fn cpu_on(vm: &Vm, target_mpidr: u64, entry: u64, context_id: u64) -> i64 {
    if !vm.ram.contains_ipa(entry) {
        return PsciReturn::InvalidAddress as i64;
    }
    match vm.power.lock().cpu_on(target_mpidr, entry, context_id) {
        Ok(index) => {
            kick::wake(vm.cpu_mpidrs.get(index).copied());
            PsciReturn::Success as i64
        }
        Err(e) => e as i64,
    }
}
