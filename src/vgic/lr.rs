//! Moving interrupts between the model and the list registers (ICH_LR<n>_EL2, IHI 0069
//! 12.5.11): vINTID [31:0], pINTID [44:32] with HW, EOI [41] without HW, Priority [55:48],
//! Group [60], HW [61], State [63:62].
//!
//! The list registers are a cache rebuilt at every guest exit, as KVM does: `sync` folds every
//! LR back into the model and empties it, the exit is handled against the model alone, and
//! `flush` loads the interrupts that most need an LR -- active ones first (the guest must find
//! them to deactivate them), then pending ones by priority. Two things follow that matter:
//! - an interrupt that arrives again while the guest still handles the previous one (an SGI
//!   pinged back before the handler's EOI) goes in as pending *and* active in the same LR, so
//!   the guest takes it the moment it deactivates the first, with no exit in between;
//! - when every LR is in use, a higher-priority interrupt evicts a lower pending one (whose
//!   pending state returns to the model), and whatever did not fit asks for the underflow
//!   maintenance interrupt, which brings the vCPU back here once LRs have freed up.
//!
//! A HW-linked interrupt is never pending and active at once in an LR: its pending state comes
//! from a physical interrupt, which cannot fire again before the guest deactivated it.
#![forbid(unsafe_code)]

use super::{Kick, Vgic, FIRST_LPI, PRIVATE_IRQS};
use crate::gicv3::cpuif::ICH_LR_EL2;
use alloc::vec::Vec;
use tock_registers::fields::FieldValue;

/// ICH_LR_EL2.State bits, as `lr_state` returns them: pending and active are separate bits.
const LR_STATE_PENDING: u64 = ICH_LR_EL2::State::Value::Pending as u64;
const LR_STATE_ACTIVE: u64 = ICH_LR_EL2::State::Value::Active as u64;

fn lr_state(lr: u64) -> u64 {
    ICH_LR_EL2::State.read(lr)
}

fn lr_intid(lr: u64) -> u32 {
    ICH_LR_EL2::vINTID.read(lr) as u32
}

/// The fields every LR sluice builds has: vINTID, priority, state and group.
fn lr_fields(
    intid: u32,
    priority: u8,
    state: u64,
    group1: bool,
) -> FieldValue<u64, ICH_LR_EL2::Register> {
    ICH_LR_EL2::vINTID.val(intid as u64)
        + ICH_LR_EL2::Priority.val(priority as u64)
        + ICH_LR_EL2::State.val(state)
        + ICH_LR_EL2::Group.val(group1 as u64)
}

/// What the caller must do after a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushOutcome {
    /// More interrupts wait than list registers hold: ask for the underflow maintenance
    /// interrupt (ICH_HCR_EL2.UIE) so they go in as soon as registers free up.
    pub underflow_irq_needed: bool,
    /// Other vCPUs that must load their list registers again (an SPI rerouted while it sat
    /// in this vCPU's LRs).
    pub kick: Kick,
}

/// The order in which interrupts get list registers: active before pending-only, then by
/// priority (lower value first), then by INTID.
type Rank = (bool, u8, u32);

fn rank(active: bool, priority: u8, intid: u32) -> Rank {
    (!active, priority, intid)
}

impl Vgic {
    /// Folds the list registers of `vcpu` back into the model after the guest ran and empties
    /// them: until the next `flush`, the model alone holds the vCPU's interrupt state.
    /// Returns other vCPUs that must be kicked.
    pub fn sync(&mut self, vcpu: usize, lrs: &mut [u64]) -> Kick {
        let mut kick = Kick::NONE;
        for lr in lrs.iter_mut().filter(|lr| **lr != 0) {
            let (intid, state) = (lr_intid(*lr), lr_state(*lr));
            *lr = 0;
            if intid >= FIRST_LPI {
                self.fold_lpi(intid, state);
            } else {
                kick = kick.union(self.fold(vcpu, intid, state));
            }
        }
        kick
    }

    fn fold(&mut self, vcpu: usize, intid: u32, state: u64) -> Kick {
        let Some(irq) = self.irq_mut(vcpu, intid) else {
            return Kick::NONE;
        };
        irq.in_lr = false;
        irq.active = state & LR_STATE_ACTIVE != 0;
        let lr_pending = state & LR_STATE_PENDING != 0;
        if irq.edge || irq.hw_intid.is_some() {
            // The LR carried the pending state `load` took from the latch: give it back (an
            // edge that arrived meanwhile merges with it, as on hardware).
            irq.pending_latch |= lr_pending;
        } else if !lr_pending {
            // A level interrupt the guest acknowledged: a software-set pending state is
            // consumed; it stays pending only while its line is high.
            irq.pending_latch = false;
        }
        let irq = *irq;
        match self.target_of(vcpu, intid) {
            Some(target) if target != vcpu && irq.wants_lr(self.group_enabled(irq.group1)) => {
                Kick::vcpu(target)
            }
            _ => Kick::NONE,
        }
    }

    fn fold_lpi(&mut self, intid: u32, state: u64) {
        if let Some(lpi) = self.lpi.lpis.get_mut(&intid) {
            lpi.in_lr = false;
            lpi.active = state & LR_STATE_ACTIVE != 0;
            lpi.pending |= state & LR_STATE_PENDING != 0;
        }
    }

    /// Loads the list registers of `vcpu` (emptied by `sync`; anything left in them is folded
    /// first) with the interrupts that need them most.
    pub fn flush(&mut self, vcpu: usize, lrs: &mut [u64]) -> FlushOutcome {
        let kick = self.sync(vcpu, lrs);
        let mut wanted = self.wanting_lr(vcpu);
        wanted.sort_unstable();
        let mut queued = wanted.into_iter();
        for lr in lrs.iter_mut() {
            let Some((_, _, intid)) = queued.next() else {
                break;
            };
            *lr = self.load(vcpu, intid);
        }
        FlushOutcome {
            underflow_irq_needed: queued.next().is_some(),
            kick,
        }
    }

    /// The rank of every interrupt that should be in a list register of `vcpu` now.
    fn wanting_lr(&self, vcpu: usize) -> Vec<Rank> {
        let spis = (PRIVATE_IRQS..PRIVATE_IRQS + self.cfg.spi_count)
            .filter(|&i| self.target_of(vcpu, i) == Some(vcpu));
        (0..PRIVATE_IRQS)
            .chain(spis)
            .filter_map(|intid| {
                let irq = self.irq(vcpu, intid)?;
                (!irq.in_lr && irq.wants_lr(self.group_enabled(irq.group1))).then_some(rank(
                    irq.active,
                    irq.priority,
                    intid,
                ))
            })
            .chain(self.lpis_wanting_lr(vcpu).map(|(a, p, i)| rank(a, p, i)))
            .collect()
    }

    /// Builds the LR for `intid` and marks it as held in an LR; a pending state that only
    /// the LR carries from now on (edge, HW) leaves the model.
    fn load(&mut self, vcpu: usize, intid: u32) -> u64 {
        if intid >= FIRST_LPI {
            return self.load_lpi(vcpu, intid);
        }
        let Some(group_enabled) = self.irq(vcpu, intid).map(|i| self.group_enabled(i.group1))
        else {
            return 0;
        };
        let Some(irq) = self.irq_mut(vcpu, intid) else {
            return 0;
        };
        irq.in_lr = true;
        let hw = irq.hw_intid.is_some();
        let pending =
            irq.enabled && group_enabled && irq.deliverable_pending() && !(hw && irq.active);
        if pending && (irq.edge || hw) {
            irq.pending_latch = false;
        }
        let state = if pending { LR_STATE_PENDING } else { 0 }
            | if irq.active { LR_STATE_ACTIVE } else { 0 };
        let mut lr = lr_fields(intid, irq.priority, state, irq.group1);
        match irq.hw_intid {
            Some(physical) => lr += ICH_LR_EL2::HW::SET + ICH_LR_EL2::pINTID.val(physical as u64),
            // Re-sample the line when the guest completes it.
            None if !irq.edge => lr += ICH_LR_EL2::EOI::SET,
            None => {}
        }
        lr.value
    }

    /// An LPI's LR: group 1, no EOI maintenance (LPIs are edge-like).
    fn load_lpi(&mut self, vcpu: usize, intid: u32) -> u64 {
        let on = self.lpis_on(vcpu);
        let Some(lpi) = self.lpi.lpis.get_mut(&intid) else {
            return 0;
        };
        lpi.in_lr = true;
        let pending = on && lpi.enabled && lpi.pending;
        if pending {
            lpi.pending = false;
        }
        let state = if pending { LR_STATE_PENDING } else { 0 }
            | if lpi.active { LR_STATE_ACTIVE } else { 0 };
        lr_fields(intid, lpi.priority, state, true).value
    }
}

#[cfg(test)]
mod tests;
