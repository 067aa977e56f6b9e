//! Kicks: an SGI that makes another physical CPU leave its guest and look at the vGIC again,
//! or ends its sleep in `sleep_while` (a CPU waiting for its vCPU's CPU_ON, a reboot, the
//! end of the boot).

use crate::arch::{cpu, gic};
use sluice::vgic::Kick;

/// SGI sluice sends to another physical CPU to make its vCPU look at new interrupts.
pub const KICK_SGI: u32 = 0;

/// Interrupts the physical CPUs of the vCPUs in `k` (other than `current`); vCPU `i` runs on
/// the CPU whose affinity is `vcpu_mpidrs[i]`.
pub fn send(vcpu_mpidrs: &[u64], current: usize, k: Kick) {
    for target in k.iter().filter(|&t| t != current) {
        if let Some(&mpidr) = vcpu_mpidrs.get(target) {
            gic::send_sgi(KICK_SGI, mpidr);
        }
    }
}

/// Wakes the CPUs with affinities `mpidrs` (this one left out) from `sleep_while`, and any
/// CPU in WFE.
pub fn wake(mpidrs: impl IntoIterator<Item = u64>) {
    cpu::send_event();
    let me = cpu::mpidr_affinity();
    for mpidr in mpidrs.into_iter().filter(|&m| m != me) {
        gic::send_sgi(KICK_SGI, mpidr);
    }
}

/// Sleeps this CPU while `busy()` holds; `wake` ends the sleep for `busy` to be asked again.
///
/// WFI, not WFE: QEMU's TCG runs WFE as a yield, so a CPU that waited with WFE kept a host
/// core busy for as long as it waited (a guest's second vCPU until its CPU_ON, most of the
/// demo's early boot, slowing the first one). Kicks already pending are taken before `busy`
/// is asked, so one sent after that still ends the WFI. Any other pending interrupt is the exit
/// path's to take (the vCPU that runs here next): it is left pending, and the CPU waits with
/// WFE, which a pending interrupt masked at EL2 does not end.
pub fn sleep_while(mut busy: impl FnMut() -> bool) {
    loop {
        // The kick has the highest priority (`make_private_urgent`), so the acknowledge
        // returns it and no other interrupt.
        while gic::highest_pending() == KICK_SGI {
            let intid = gic::acknowledge();
            gic::end_of_interrupt(intid);
            gic::deactivate(intid);
        }
        if !busy() {
            return;
        }
        if gic::SPECIAL_INTIDS.contains(&gic::highest_pending()) {
            cpu::wait_for_interrupt();
        } else {
            cpu::wait_for_event();
        }
    }
}
