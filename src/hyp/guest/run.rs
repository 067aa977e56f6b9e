//! Running vCPUs: vCPU 0 starts at the kernel entry, the others wait on their own physical CPU
//! for the guest's PSCI CPU_ON (and park while the guest reboots). vCPU `i` is pinned to
//! physical CPU `vm.cpus[i]` and sees the MPIDR `vm.vcpu_mpidrs[i]`.

use super::uart;
use super::vm::Vm;
use super::{msi, reboot, vpe};
use crate::arch::context::{enter_guest, GuestFrame};
use crate::arch::cpu;
use crate::hyp::leaf::cpus::stack_top;
use crate::hyp::leaf::kick;
use crate::hyp::leaf::stop::halt;

/// PSTATE for a vCPU's first instruction: EL1h, DAIF masked (arm64 boot protocol).
const PSTATE_EL1H_MASKED: u64 = 0x3c5;

/// Runs vCPU `vcpu` of `vm` on this CPU: vCPU 0 boots the kernel, the others wait for CPU_ON.
pub fn run_vcpu(vm: &'static Vm, vcpu: usize) -> ! {
    if reboot::stopped(vm) {
        halt() // stopped at boot (`reboot::stop_unstarted`)
    }
    vm.install_stage2();
    cpu::set_virtual_mpidr(vm.vcpu_mpidrs[vcpu]);
    if vcpu != 0 {
        wait_for_cpu_on(vm, vcpu)
    }
    // vCPU 0 starts at the kernel entry with the guest DT in x0.
    uart::console_enable(vm);
    msi::route_home(vm);
    let _ = vm.power.lock().take_pending(vcpu);
    start(vm, vm.kernel_entry, vm.dtb_guest_phys)
}

/// Parks this CPU until its vCPU is turned on, then enters the guest at the requested entry.
pub fn wait_for_cpu_on(vm: &'static Vm, index: usize) -> ! {
    vpe::leave(vm, false);
    loop {
        if reboot::requested(vm) {
            reboot::park(vm);
        }
        // The lock guard must be gone before `start`, which never returns: a guard kept in
        // the `if let` would hold the power table for ever.
        let pending = vm.power.lock().take_pending(index);
        if let Some((entry, context_id)) = pending {
            vpe::enter(vm, index);
            start(vm, entry, context_id);
        }
        kick::sleep_while(|| !reboot::requested(vm) && !vm.power.lock().start_pending(index));
    }
}

fn start(vm: &Vm, entry: u64, x0: u64) -> ! {
    // A vCPU (re)starts as from reset: MMU and caches off, whatever a previous life left.
    cpu::reset_el1_state();
    uart::mirror::sync(vm);
    let frame = GuestFrame::starting_at(entry, PSTATE_EL1H_MASKED, x0);
    enter_guest(&frame, stack_top(cpu::cpu_index()))
}
