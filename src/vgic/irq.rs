//! The state of one interrupt as the guest's GIC sees it.
#![forbid(unsafe_code)]

use crate::gicv3::dist::{GICD_IROUTER, IROUTER_AFFINITY_MASK};

/// IROUTER.Interrupt_Routing_Mode: 1-of-N.
pub const IROUTER_IRM: u64 = GICD_IROUTER::IRM::SET.value;

/// The affinity an IROUTER value names, in MPIDR layout (Aff3 in [39:32]).
pub fn irouter_affinity(route: u64) -> u64 {
    route & IROUTER_AFFINITY_MASK
}

/// How the guest took an interrupt: the list register's priority and group when it was
/// acknowledged. Its EOI only deactivates an LR with that same priority (masked to the group
/// priority) and group (IHI 0069's VirtualWriteEOIR pseudocode): an LR rebuilt with another one
/// would stay active for ever, and a HW-linked one with its physical interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// The priority it was acknowledged at.
    pub priority: u8,
    /// Group 1 (otherwise group 0).
    pub group1: bool,
}

/// One interrupt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Irq {
    /// GICD/GICR_ISENABLER.
    pub enabled: bool,
    /// A pending state held by the model: an edge, a software-set pending state (ISPENDR), or,
    /// for a HW-linked interrupt, the physical interrupt that fired and that sluice keeps
    /// active for the guest. While the interrupt sits in a list register as pending, the LR
    /// holds that state instead (except for level interrupts, whose latch is consumed when the
    /// guest acknowledges them).
    pub pending_latch: bool,
    /// The input line (level-sensitive sources; for a HW-linked timer, its sampled output).
    pub line: bool,
    /// Active in the guest.
    pub active: bool,
    /// Set while the guest has acknowledged the interrupt and not yet deactivated it: the
    /// priority and group it took it at, which its virtual CPU interface holds in its active
    /// priority registers (see [`Taken`]). `None` for an active state made up by ISACTIVER.
    pub taken: Option<Taken>,
    /// The last `flush` loaded it into a list register as pending.
    pub loaded_pending: bool,
    /// Priority (upper bits significant).
    pub priority: u8,
    /// Group 1 (otherwise group 0).
    pub group1: bool,
    /// Edge-triggered (ICFGR).
    pub edge: bool,
    /// IROUTER (SPIs only).
    pub route: u64,
    /// The physical INTID this one is forwarded from, if HW-linked.
    pub hw_intid: Option<u32>,
    /// Currently held in a list register of the vCPU it was flushed to.
    pub in_lr: bool,
}

impl Irq {
    /// Pending from the guest's point of view (GICD_ISPENDR / GICR_ISPENDR0).
    pub fn pending(&self) -> bool {
        self.pending_latch || (!self.edge && self.line)
    }

    /// A pending state that may go into a list register. A HW-linked interrupt goes in only
    /// once its physical interrupt fired (`pending_latch`): its line alone is no licence, as
    /// the physical interrupt must be active when the guest deactivates the virtual one.
    pub fn deliverable_pending(&self) -> bool {
        match self.hw_intid {
            Some(_) => self.pending_latch,
            None => self.pending(),
        }
    }

    /// Updates the input line; a rising edge latches pending for edge-triggered interrupts.
    /// Returns whether the line changed.
    pub fn set_line(&mut self, level: bool) -> bool {
        if self.line == level {
            return false;
        }
        self.line = level;
        if level && self.edge {
            self.pending_latch = true;
        }
        true
    }

    /// The output of the source behind a HW-linked level interrupt (a timer) was sampled:
    /// once it is low, a pending state the guest has not taken yet is stale and is dropped.
    /// Returns whether the physical interrupt, which sluice held active for the guest, must
    /// now be deactivated.
    pub fn set_hw_line(&mut self, level: bool) -> bool {
        self.line = level;
        if level || self.hw_intid.is_none() || !self.pending_latch || self.active {
            return false;
        }
        self.pending_latch = false;
        true
    }

    /// Takes back the active state of the list register it was in (pending in it or not, with
    /// the priority and group `at` it carried) and works out whether the guest took it.
    pub fn fold_active(&mut self, active: bool, lr_pending: bool, at: Taken) {
        let acknowledged = self.loaded_pending && !lr_pending;
        self.loaded_pending = false;
        self.active = active;
        self.taken = match (active, self.taken) {
            (false, _) => None,
            (true, Some(taken)) => Some(taken),
            // Its pending state went and it is active: the guest acknowledged it.
            (true, None) => acknowledged.then_some(at),
        };
    }

    /// Leaves the active state (ICACTIVER, or the guest's deactivation).
    pub fn deactivate(&mut self) {
        self.active = false;
        self.taken = None;
    }

    /// Whether the interrupt has to be in a list register of the vCPU it targets: active (the
    /// guest must be able to deactivate it), or pending, enabled and in an enabled group.
    pub fn wants_lr(&self, group_enabled: bool) -> bool {
        self.active || (self.enabled && group_enabled && self.deliverable_pending())
    }
}
