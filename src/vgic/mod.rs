//! A virtual GICv3 for one guest: emulated distributor and redistributors (every guest access
//! to them traps here) and the list-register bookkeeping that injects virtual interrupts
//! through ICH_LR<n>_EL2.
//!
//! The model is plain data: the caller holds it under one lock, copies the list registers in
//! and out around each guest exit (`sync` then `flush`, see `lr`), reports the timers' outputs
//! (`set_hw_line`) and the groups the vCPU's CPU interface takes (`set_cpu_groups`) in
//! between, deactivates the physical interrupts `take_hw_deactivations` names, and sends a
//! physical SGI to every vCPU named in a returned [`Kick`]. Architecture reference: GICv3/v4
//! specification IHI 0069.
//! The guest sees a GIC with a single security state (GICD_CTLR.DS = 1) and affinity routing.
#![forbid(unsafe_code)]

mod dist;
mod hw;
mod irq;
mod lpi;
mod lr;
mod owned;
mod redist;
mod sgi;
pub mod shadow;

use alloc::vec::Vec;
use core::fmt;
use irq::Irq;

pub use lpi::FIRST_LPI;
pub use lr::FlushOutcome;
pub use owned::{ForeignSpiWrite, SpiSet};
pub use redist::REDIST_FRAME_BYTES;
pub use sgi::SgiRequest;

/// Number of SGIs plus PPIs: the per-vCPU interrupts.
const PRIVATE_IRQS: u32 = 32;
/// The product ID and implementer sluice reports in GICD_IIDR / GICR_IIDR (Arm's JEP106 code,
/// as KVM and Xen do for their virtual GICs).
const IIDR: u32 = 0x0000_043b;
/// PIDR2: architecture revision 3 (GICv3) in bits [7:4].
const PIDR2_GICV3: u32 = 0x3b;

/// Shape of the virtual GIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VgicConfig {
    /// MPIDR of each vCPU.
    pub vcpu_mpidrs: Vec<u64>,
    /// SPIs offered (a multiple of 32; mirrors the host GICD_TYPER).
    pub spi_count: u32,
    /// List registers per CPU.
    pub list_register_count: usize,
    /// Virtual priority bits the CPU interface implements.
    pub priority_bits: u8,
    /// LPIs offered to the guest (0: no LPIs, no ITS).
    pub lpi_count: u32,
}

/// vCPUs whose list registers are stale: their physical CPUs must be interrupted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kick(u64);

impl Kick {
    /// Nobody.
    pub const NONE: Self = Self(0);

    /// Just `vcpu`.
    pub fn vcpu(vcpu: usize) -> Self {
        Self(1u64.checked_shl(vcpu as u32).unwrap_or(0))
    }

    /// Both sets.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The vCPU indices in the set.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..64).filter(move |i| self.0 & (1 << i) != 0)
    }

    /// Whether `vcpu` is in the set.
    pub fn contains(self, vcpu: usize) -> bool {
        vcpu < 64 && self.0 & (1 << vcpu) != 0
    }
}

/// A guest access the vGIC cannot honour (width or alignment not allowed for the register).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VgicAccessError {
    /// Offset in the frame.
    pub offset: u64,
    /// Access width.
    pub width_bytes: u8,
}

impl fmt::Display for VgicAccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-byte access at offset {:#x} not allowed",
            self.width_bytes, self.offset
        )
    }
}

/// Result of a register access.
pub type Result<T> = core::result::Result<T, VgicAccessError>;

/// The virtual GIC.
#[derive(Debug, Clone)]
pub struct Vgic {
    cfg: VgicConfig,
    /// GICD_CTLR enable bits (EnableGrp0, EnableGrp1).
    ctlr: u32,
    spis: Vec<Irq>,
    private: Vec<[Irq; PRIVATE_IRQS as usize]>,
    /// GICR_WAKER.ProcessorSleep per vCPU.
    asleep: Vec<bool>,
    lpi: lpi::LpiState,
    /// Per vCPU: physical interrupts to deactivate on its CPU (see `hw`).
    hw_released: Vec<Vec<u32>>,
    /// The SPIs the guest sees (see `owned`).
    owned: SpiSet,
    /// A write that tried to touch an SPI the guest does not own, not yet reported.
    foreign_write: Option<ForeignSpiWrite>,
    /// Per vCPU: the groups its virtual CPU interface takes (group 0, group 1), see `lr`.
    cpu_groups: Vec<[bool; 2]>,
    /// One bit per SPI that may want a list register: set by every mutable access to the SPI
    /// (`irq_mut`) and by a GICD_CTLR write, cleared by `flush`'s scan when the SPI wants none,
    /// so that an exit scans only SPIs touched since (see `lr`).
    spi_busy: Vec<u64>,
}

impl Vgic {
    /// A reset GIC: everything disabled, group 0, priority 0, SPIs level-sensitive.
    pub fn new(cfg: VgicConfig) -> Self {
        let vcpus = cfg.vcpu_mpidrs.len();
        let spi_count = cfg.spi_count.min(988) / 32 * 32;
        let mut private = [Irq::default(); PRIVATE_IRQS as usize];
        private.iter_mut().take(16).for_each(|sgi| sgi.edge = true);
        Self {
            cfg: VgicConfig { spi_count, ..cfg },
            ctlr: 0,
            spis: alloc::vec![Irq::default(); spi_count as usize],
            private: alloc::vec![private; vcpus],
            asleep: alloc::vec![true; vcpus],
            lpi: lpi::LpiState::new(vcpus),
            hw_released: alloc::vec![Vec::new(); vcpus],
            owned: SpiSet::all(),
            foreign_write: None,
            cpu_groups: alloc::vec![[true; 2]; vcpus],
            spi_busy: alloc::vec![u64::MAX; (spi_count as usize).div_ceil(64)],
        }
    }

    fn vcpu_count(&self) -> usize {
        self.private.len()
    }

    fn irq(&self, vcpu: usize, intid: u32) -> Option<&Irq> {
        match intid {
            0..PRIVATE_IRQS => self.private.get(vcpu)?.get(intid as usize),
            _ => self.spis.get((intid - PRIVATE_IRQS) as usize),
        }
    }

    /// The interrupt, to change: an SPI is marked as maybe wanting a list register.
    fn irq_mut(&mut self, vcpu: usize, intid: u32) -> Option<&mut Irq> {
        match intid {
            0..PRIVATE_IRQS => self.private.get_mut(vcpu)?.get_mut(intid as usize),
            _ => {
                let spi = (intid - PRIVATE_IRQS) as usize;
                if let Some(word) = self.spi_busy.get_mut(spi / 64) {
                    *word |= 1 << (spi % 64);
                }
                self.spis.get_mut(spi)
            }
        }
    }

    /// Every SPI may want a list register again (a group was enabled).
    fn mark_all_spis_busy(&mut self) {
        self.spi_busy.fill(u64::MAX);
    }

    /// The vCPU an interrupt is delivered to, if any: the owner of a private interrupt, or the
    /// vCPU an SPI's IROUTER names (1-of-N routing picks vCPU 0).
    fn target_of(&self, vcpu: usize, intid: u32) -> Option<usize> {
        if intid < PRIVATE_IRQS {
            return Some(vcpu);
        }
        let route = self.irq(vcpu, intid)?.route;
        if route & irq::IROUTER_IRM != 0 {
            return Some(0);
        }
        let wanted = irq::irouter_affinity(route);
        self.cfg
            .vcpu_mpidrs
            .iter()
            .position(|&m| m & crate::gicv3::dist::IROUTER_AFFINITY_MASK == wanted)
    }

    fn kick_for(&self, vcpu: usize, intid: u32) -> Kick {
        self.target_of(vcpu, intid).map_or(Kick::NONE, Kick::vcpu)
    }

    /// Drives a level-sensitive SPI line (emulated devices, passed-through INTx).
    pub fn set_spi_level(&mut self, intid: u32, level: bool) -> Kick {
        if !self.owns_spi(intid) {
            return Kick::NONE;
        }
        let Some(irq) = self.irq_mut(0, intid) else {
            return Kick::NONE;
        };
        let changed = irq.set_line(level);
        if changed {
            self.kick_for(0, intid)
        } else {
            Kick::NONE
        }
    }

    /// Makes PPI or SPI `intid` pending as an edge (a one-off event).
    pub fn inject_edge(&mut self, vcpu: usize, intid: u32) -> Kick {
        if intid >= PRIVATE_IRQS && !self.owns_spi(intid) {
            return Kick::NONE;
        }
        let Some(irq) = self.irq_mut(vcpu, intid) else {
            return Kick::NONE;
        };
        irq.pending_latch = true;
        self.kick_for(vcpu, intid)
    }

    /// Forwards virtual interrupt `virtual_intid` of `vcpu` to physical `physical_intid`:
    /// it is injected with LR.HW so the guest's deactivation deactivates the physical one.
    pub fn link_hw(&mut self, vcpu: usize, virtual_intid: u32, physical_intid: u32) {
        if let Some(irq) = self.irq_mut(vcpu, virtual_intid) {
            irq.hw_intid = Some(physical_intid);
        }
    }

    /// The physical interrupt linked to `intid` fired (it stays active until the guest
    /// deactivates the virtual one, or until the model drops the virtual one: see `hw`).
    pub fn inject_hw(&mut self, vcpu: usize, intid: u32) -> Kick {
        self.inject_edge(vcpu, intid)
    }

    /// ICC_SGI1R_EL1 written by `source_vcpu`: make the SGI pending on every target.
    pub fn send_sgi(&mut self, source_vcpu: usize, icc_sgi1r: u64) -> Kick {
        let request = SgiRequest::decode(icc_sgi1r);
        let targets: Vec<usize> = (0..self.vcpu_count())
            .filter(|&v| request.targets(v, self.cfg.vcpu_mpidrs[v], source_vcpu))
            .collect();
        let mut kick = Kick::NONE;
        for target in targets {
            if let Some(irq) = self.irq_mut(target, request.intid) {
                irq.pending_latch = true;
                kick = kick.union(Kick::vcpu(target));
            }
        }
        kick
    }

    fn priority_mask(&self) -> u8 {
        let bits = self.cfg.priority_bits.clamp(1, 8);
        !((1u16 << (8 - bits)) - 1) as u8
    }
}

#[cfg(test)]
mod tests;
