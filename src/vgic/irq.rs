//! The state of one interrupt as the guest's GIC sees it.
#![forbid(unsafe_code)]

/// IROUTER.Interrupt_Routing_Mode: 1-of-N.
pub const IROUTER_IRM: u64 = 1 << 31;

/// The affinity an IROUTER value names, in MPIDR layout (Aff3 in [39:32]).
pub fn irouter_affinity(route: u64) -> u64 {
    route & 0xff_00ff_ffff
}

/// One interrupt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Irq {
    /// GICD/GICR_ISENABLER.
    pub enabled: bool,
    /// Edge pending, software-set pending (ISPENDR), or a pending state waiting for an LR.
    pub pending_latch: bool,
    /// The input line (level-sensitive sources).
    pub line: bool,
    /// Active in the guest.
    pub active: bool,
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
    /// Currently held in a list register.
    pub in_lr: bool,
}

impl Irq {
    /// Pending from the guest's point of view.
    pub fn pending(&self) -> bool {
        self.pending_latch || (!self.edge && self.line)
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

    /// Can be put in a list register now.
    pub fn deliverable(&self, group_enabled: bool) -> bool {
        self.enabled && self.pending() && !self.active && !self.in_lr && group_enabled
    }
}
