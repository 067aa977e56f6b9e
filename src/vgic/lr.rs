//! Moving interrupts between the model and the list registers (ICH_LR<n>_EL2, IHI 0069
//! 12.5.11): vINTID [31:0], pINTID [44:32] with HW, EOI [41] without HW, Priority [55:48],
//! Group [60], HW [61], State [63:62].
//!
//! The list registers are a cache rebuilt at every guest exit, as KVM does: `sync` folds every
//! LR back into the model and empties it, the exit is handled against the model alone, and
//! `flush` loads the interrupts that most need an LR -- the ones the guest took and has not
//! deactivated first (its EOI must find them in an LR, with the priority and group it took
//! them at), then pending ones by priority, then those a guest made active through ISACTIVER
//! without taking them (only ICACTIVER ends those, so they must not crowd out the timer).
//! `flush` looks at the private interrupts and only at the SPIs marked busy (`spi_busy`: every
//! change to an SPI marks it, and the scan unmarks those that want no LR), so that an exit
//! with nothing pending does not walk up to 988 SPIs.
//! Two things follow that matter:
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

use super::irq::{Irq, Taken};
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

/// Which interrupts get list registers first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// Acknowledged and not yet deactivated: the guest will EOI it, and an EOI that finds no
    /// LR is lost (the interrupt, and a HW-linked one's physical interrupt, active for ever).
    Taken,
    /// Pending and deliverable.
    Pending,
    /// Pending in a group the vCPU's CPU interface does not take now (ICV_IGRPEN<n>_EL1 off):
    /// it goes in only if there is room, so that it cannot keep the group Linux uses out.
    PendingMuted,
    /// Active without the guest having taken it (ISACTIVER), maybe pending as well: the guest
    /// can only clear it through ICACTIVER, so it must not keep a pending interrupt (the
    /// timer's) out of the LRs.
    MadeActive,
}

/// The order in which interrupts get list registers: by class, then by priority (lower value
/// first), then by INTID.
type Rank = (Class, u8, u32);

fn lr_priority(lr: u64) -> u8 {
    ICH_LR_EL2::Priority.read(lr) as u8
}

fn lr_group1(lr: u64) -> bool {
    ICH_LR_EL2::Group.read(lr) != 0
}

/// Where `irq` (INTID `intid`) stands in the queue for list registers, given the groups the
/// CPU interface takes.
fn rank(irq: &Irq, intid: u32, cpu_groups: [bool; 2]) -> Rank {
    match irq.taken {
        Some(taken) if irq.active => (Class::Taken, taken.priority, intid),
        _ if irq.active => (Class::MadeActive, irq.priority, intid),
        _ if cpu_groups[irq.group1 as usize] => (Class::Pending, irq.priority, intid),
        _ => (Class::PendingMuted, irq.priority, intid),
    }
}

impl Vgic {
    /// The groups the virtual CPU interface of `vcpu` takes now (ICH_VMCR_EL2.VENG0/VENG1,
    /// read at each exit): interrupts of the others get list registers last.
    pub fn set_cpu_groups(&mut self, vcpu: usize, group0: bool, group1: bool) {
        if let Some(groups) = self.cpu_groups.get_mut(vcpu) {
            *groups = [group0, group1];
        }
    }

    /// Folds the list registers of `vcpu` back into the model after the guest ran and empties
    /// them: until the next `flush`, the model alone holds the vCPU's interrupt state.
    /// Returns other vCPUs that must be kicked.
    pub fn sync(&mut self, vcpu: usize, lrs: &mut [u64]) -> Kick {
        let mut kick = Kick::NONE;
        for lr in lrs.iter_mut().filter(|lr| **lr != 0) {
            let (intid, state) = (lr_intid(*lr), lr_state(*lr));
            if intid >= FIRST_LPI {
                self.fold_lpi(intid, state);
            } else {
                kick = kick.union(self.fold(vcpu, *lr));
            }
            *lr = 0;
        }
        kick
    }

    fn fold(&mut self, vcpu: usize, lr: u64) -> Kick {
        let (intid, state) = (lr_intid(lr), lr_state(lr));
        let Some(irq) = self.irq_mut(vcpu, intid) else {
            return Kick::NONE;
        };
        irq.in_lr = false;
        let lr_pending = state & LR_STATE_PENDING != 0;
        let at = Taken {
            priority: lr_priority(lr),
            group1: lr_group1(lr),
        };
        irq.fold_active(state & LR_STATE_ACTIVE != 0, lr_pending, at);
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

    /// The rank of every interrupt that should be in a list register of `vcpu` now. Only the
    /// SPIs marked busy are looked at; those that want no LR lose the mark.
    fn wanting_lr(&mut self, vcpu: usize) -> Vec<Rank> {
        let cpu_groups = self.cpu_groups.get(vcpu).copied().unwrap_or([true; 2]);
        let mut wanted: Vec<Rank> = (0..PRIVATE_IRQS)
            .filter_map(|intid| {
                let irq = self.irq(vcpu, intid)?;
                let wants = !irq.in_lr && irq.wants_lr(self.group_enabled(irq.group1));
                wants.then(|| rank(irq, intid, cpu_groups))
            })
            .collect();
        for w in 0..self.spi_busy.len() {
            let mut bits = self.spi_busy[w];
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let intid = PRIVATE_IRQS + (w * 64 + bit) as u32;
                let Some(irq) = self.irq(vcpu, intid) else {
                    self.spi_busy[w] &= !(1 << bit);
                    continue;
                };
                if !irq.wants_lr(self.group_enabled(irq.group1)) {
                    self.spi_busy[w] &= !(1 << bit);
                } else if !irq.in_lr && self.target_of(vcpu, intid) == Some(vcpu) {
                    wanted.push(rank(irq, intid, cpu_groups));
                }
            }
        }
        wanted.extend(self.lpis_wanting_lr(vcpu).map(|(active, priority, intid)| {
            // An LPI is only ever active because the guest took it.
            let class = if active { Class::Taken } else { Class::Pending };
            (class, priority, intid)
        }));
        wanted
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
        irq.loaded_pending = pending;
        let state = if pending { LR_STATE_PENDING } else { 0 }
            | if irq.active { LR_STATE_ACTIVE } else { 0 };
        // A taken interrupt keeps the priority and group it was taken at, whatever IPRIORITYR
        // and IGROUPR say now, or the guest's EOI would not find it.
        let (priority, group1) = irq
            .taken
            .map_or((irq.priority, irq.group1), |t| (t.priority, t.group1));
        let mut lr = lr_fields(intid, priority, state, group1);
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
