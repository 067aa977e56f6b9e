//! HW-linked interrupts (LR.HW = 1): a physical interrupt sluice acknowledged but left active
//! (EOImode = 1) stands behind the virtual one, and the guest's deactivation of the virtual
//! interrupt deactivates it. The invariant kept here: the physical interrupt is active exactly
//! while the virtual one is pending or active (in the model or in a list register). Whenever
//! the model drops the virtual interrupt without the guest deactivating it, the physical one
//! is queued for deactivation on the CPU of the vCPU that owns it.
//!
//! The timers' interrupts are level-sensitive: their line is the timer output, sampled at each
//! exit. Once it is low, a pending state the guest has not taken yet is stale and goes (as a
//! level interrupt's pending state follows its line on hardware); an active one stays until
//! the guest deactivates it.
#![forbid(unsafe_code)]

use super::Vgic;
use alloc::vec::Vec;

impl Vgic {
    /// The output of the level source behind HW-linked interrupt `intid` of `vcpu` (a timer:
    /// ENABLE && ISTATUS && !IMASK), sampled on that vCPU's CPU between `sync` and `flush`.
    /// Interrupts that are not HW-linked are left alone.
    pub fn set_hw_line(&mut self, vcpu: usize, intid: u32, level: bool) {
        let Some(irq) = self.irq_mut(vcpu, intid) else {
            return;
        };
        let Some(physical) = irq.hw_intid else {
            return;
        };
        if irq.set_hw_line(level) {
            self.release_hw(vcpu, physical);
        }
    }

    /// Queues physical `intid` for deactivation on the CPU of `vcpu`.
    pub(super) fn release_hw(&mut self, vcpu: usize, physical: u32) {
        if let Some(queue) = self.hw_released.get_mut(vcpu) {
            if !queue.contains(&physical) {
                queue.push(physical);
            }
        }
    }

    /// Physical interrupts the CPU of `vcpu` must deactivate now: the virtual interrupts
    /// they stood behind were dropped before the guest took them.
    pub fn take_hw_deactivations(&mut self, vcpu: usize) -> Vec<u32> {
        self.hw_released
            .get_mut(vcpu)
            .map(core::mem::take)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod hostile;
#[cfg(test)]
mod tests;
