//! Kicks: an SGI that makes another physical CPU leave its guest and look at the vGIC again.

use crate::arch::gic;
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

/// Interrupts the CPU with affinity `mpidr`, whatever it runs.
pub fn cpu(mpidr: u64) {
    gic::send_sgi(KICK_SGI, mpidr);
}
