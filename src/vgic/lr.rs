//! Moving interrupts between the model and the list registers (ICH_LR<n>_EL2, IHI 0069
//! 12.5.11): vINTID [31:0], pINTID [44:32] with HW, EOI [41] without HW, Priority [55:48],
//! Group [60], HW [61], State [63:62].
#![forbid(unsafe_code)]

use super::{Vgic, FIRST_LPI, PRIVATE_IRQS};
use alloc::vec::Vec;

const LR_STATE_SHIFT: u32 = 62;
const LR_STATE_PENDING: u64 = 0b01;
const LR_STATE_ACTIVE: u64 = 0b10;
const LR_HW: u64 = 1 << 61;
const LR_GROUP1: u64 = 1 << 60;
const LR_EOI: u64 = 1 << 41;
const LR_PRIORITY_SHIFT: u32 = 48;
const LR_PINTID_SHIFT: u32 = 32;

fn lr_state(lr: u64) -> u64 {
    lr >> LR_STATE_SHIFT
}

fn lr_intid(lr: u64) -> u32 {
    lr as u32
}

/// What the caller must do after a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushOutcome {
    /// More interrupts wait than list registers hold: ask for the underflow maintenance
    /// interrupt (ICH_HCR_EL2.UIE) so they go in as soon as registers free up.
    pub underflow_irq_needed: bool,
}

impl Vgic {
    /// An LPI's LR: group 1, pending, no EOI maintenance (LPIs are edge, with no active state).
    fn load_lpi(&mut self, intid: u32) -> u64 {
        let Some(lpi) = self.lpi.lpis.get_mut(&intid) else {
            return 0;
        };
        lpi.in_lr = true;
        lpi.pending = false;
        intid as u64
            | (lpi.priority as u64) << LR_PRIORITY_SHIFT
            | LR_STATE_PENDING << LR_STATE_SHIFT
            | LR_GROUP1
    }

    /// Folds the list registers of `vcpu` back into the model after the guest ran, and clears
    /// those the guest finished with.
    pub fn sync(&mut self, vcpu: usize, lrs: &mut [u64]) {
        for lr in lrs.iter_mut() {
            let state = lr_state(*lr);
            let intid = lr_intid(*lr);
            if *lr == 0 {
                continue;
            }
            if intid >= FIRST_LPI {
                if let Some(lpi) = self.lpi.lpis.get_mut(&intid) {
                    lpi.in_lr = state != 0;
                }
            } else if let Some(irq) = self.irq_mut(vcpu, intid) {
                irq.in_lr = state != 0;
                irq.active = state & LR_STATE_ACTIVE != 0;
                if state & LR_STATE_PENDING == 0 && !irq.edge && irq.hw_intid.is_none() {
                    // A level interrupt the guest acknowledged or completed: a software-set
                    // pending state is consumed; it stays pending only while its line is high,
                    // which `pending()` derives from the line.
                    irq.pending_latch = false;
                }
            }
            if state == 0 {
                *lr = 0;
            }
        }
    }

    /// Fills free list registers of `vcpu` with its highest-priority deliverable interrupts,
    /// after dropping list-register state the guest changed through GICD/GICR registers.
    pub fn flush(&mut self, vcpu: usize, lrs: &mut [u64]) -> FlushOutcome {
        self.reconcile(vcpu, lrs);
        let mut waiting = self.deliverable(vcpu);
        waiting.sort_by_key(|&(priority, intid)| (priority, intid));
        let mut queued = waiting.into_iter();
        for lr in lrs.iter_mut().filter(|lr| lr_state(**lr) == 0) {
            let Some((_, intid)) = queued.next() else {
                break;
            };
            *lr = self.load(vcpu, intid);
        }
        FlushOutcome {
            underflow_irq_needed: queued.next().is_some(),
        }
    }

    /// Drops a pending-only LR whose interrupt the guest cleared or disabled, and the active
    /// bit of a software LR the guest deactivated through ICACTIVER.
    fn reconcile(&mut self, vcpu: usize, lrs: &mut [u64]) {
        for lr in lrs
            .iter_mut()
            .filter(|lr| lr_state(**lr) != 0 && **lr & LR_HW == 0)
        {
            let intid = lr_intid(*lr);
            let Some(irq) = self.irq_mut(vcpu, intid) else {
                continue;
            };
            let state = lr_state(*lr);
            let mut new_state = state;
            if state & LR_STATE_PENDING != 0 && (!irq.enabled || !irq.pending()) {
                new_state &= !LR_STATE_PENDING;
                irq.pending_latch |= irq.edge && irq.enabled; // an edge disabled in flight stays latched
            }
            if state & LR_STATE_ACTIVE != 0 && !irq.active {
                new_state &= !LR_STATE_ACTIVE;
            }
            if new_state == 0 {
                irq.in_lr = false;
                *lr = 0;
            } else {
                *lr = (*lr & !(0b11 << LR_STATE_SHIFT)) | new_state << LR_STATE_SHIFT;
            }
        }
    }

    /// (priority, intid) of every interrupt that could be delivered to `vcpu` now.
    fn deliverable(&self, vcpu: usize) -> Vec<(u8, u32)> {
        let spis = (PRIVATE_IRQS..PRIVATE_IRQS + self.cfg.spi_count)
            .filter(|&i| self.target_of(vcpu, i) == Some(vcpu));
        (0..PRIVATE_IRQS)
            .chain(spis)
            .filter_map(|intid| {
                let irq = self.irq(vcpu, intid)?;
                irq.deliverable(self.group_enabled(irq.group1))
                    .then_some((irq.priority, intid))
            })
            .chain(self.deliverable_lpis(vcpu))
            .collect()
    }

    /// Builds the LR for `intid` and marks it as held in an LR.
    fn load(&mut self, vcpu: usize, intid: u32) -> u64 {
        if intid >= FIRST_LPI {
            return self.load_lpi(intid);
        }
        let Some(irq) = self.irq_mut(vcpu, intid) else {
            return 0;
        };
        irq.in_lr = true;
        let mut lr = intid as u64
            | (irq.priority as u64) << LR_PRIORITY_SHIFT
            | LR_STATE_PENDING << LR_STATE_SHIFT
            | if irq.group1 { LR_GROUP1 } else { 0 };
        match irq.hw_intid {
            Some(physical) => lr |= LR_HW | (physical as u64 & 0x1fff) << LR_PINTID_SHIFT,
            None if !irq.edge => lr |= LR_EOI, // re-sample the line when the guest completes it
            None => {}
        }
        // The LR now carries the pending state of edges and HW interrupts.
        if irq.edge || irq.hw_intid.is_some() {
            irq.pending_latch = false;
        }
        lr
    }
}
