//! Virtual LPIs (IHI 0069, chapter 5): their configuration comes from the guest's property
//! table (read by the hypervisor on INV/INVALL), their routing from the virtual ITS, and they
//! are injected through list registers like any other interrupt (no active state).
#![forbid(unsafe_code)]

use super::{Kick, Vgic};
use crate::gicv3::redist::{GICR_PROPBASER, LPI_CONFIG, PROPBASER_ADDRESS_MASK};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// First LPI INTID.
pub const FIRST_LPI: u32 = 8192;

/// One mapped LPI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lpi {
    /// Enable bit from the guest's property table.
    pub enabled: bool,
    /// Priority from the guest's property table.
    pub priority: u8,
    /// Pending.
    pub pending: bool,
    /// Active in the guest (acknowledged, not yet deactivated).
    pub active: bool,
    /// Held in a list register.
    pub in_lr: bool,
    /// Target vCPU.
    pub vcpu: usize,
}

/// The LPI side of the redistributors.
#[derive(Debug, Clone, Default)]
pub struct LpiState {
    /// Mapped LPIs.
    pub lpis: BTreeMap<u32, Lpi>,
    /// GICR_CTLR.EnableLPIs per vCPU.
    pub enabled: Vec<bool>,
    /// GICR_PROPBASER per vCPU.
    pub propbaser: Vec<u64>,
    /// GICR_PENDBASER per vCPU.
    pub pendbaser: Vec<u64>,
    /// LPIs to reload from the property table (GICR_INVLPIR/INVALLR).
    pub reload_requests: Vec<u32>,
}

impl LpiState {
    /// LPI state for `vcpus` redistributors.
    pub fn new(vcpus: usize) -> Self {
        Self {
            lpis: BTreeMap::new(),
            enabled: alloc::vec![false; vcpus],
            propbaser: alloc::vec![0; vcpus],
            pendbaser: alloc::vec![0; vcpus],
            reload_requests: Vec::new(),
        }
    }
}

impl Vgic {
    /// Whether the guest is offered LPIs.
    pub fn has_lpis(&self) -> bool {
        self.cfg.lpi_count > 0
    }

    /// LPI `intid` now targets `vcpu` (created unconfigured if new).
    pub fn route_lpi(&mut self, intid: u32, vcpu: usize) -> Kick {
        if intid < FIRST_LPI || vcpu >= self.vcpu_count() {
            return Kick::NONE;
        }
        let lpi = self.lpi.lpis.entry(intid).or_default();
        lpi.vcpu = vcpu;
        if lpi.pending {
            Kick::vcpu(vcpu)
        } else {
            Kick::NONE
        }
    }

    /// LPI `intid` is no longer mapped.
    pub fn unroute_lpi(&mut self, intid: u32) {
        self.lpi.lpis.remove(&intid);
    }

    /// Applies a property table entry (priority in bits 7:2, enable in bit 0).
    pub fn set_lpi_config(&mut self, intid: u32, property: u8) -> Kick {
        let mask = self.priority_mask();
        let Some(lpi) = self.lpi.lpis.get_mut(&intid) else {
            return Kick::NONE;
        };
        lpi.enabled = LPI_CONFIG::Enable.is_set(property);
        lpi.priority = property & LPI_CONFIG::Priority::SET.value & mask;
        if lpi.enabled && lpi.pending {
            Kick::vcpu(lpi.vcpu)
        } else {
            Kick::NONE
        }
    }

    /// Makes a mapped LPI pending (a device MSI or an INT command).
    pub fn inject_lpi(&mut self, intid: u32) -> Kick {
        let Some(lpi) = self.lpi.lpis.get_mut(&intid) else {
            return Kick::NONE;
        };
        lpi.pending = true;
        Kick::vcpu(lpi.vcpu)
    }

    /// Clears a mapped LPI's pending state.
    pub fn clear_lpi(&mut self, intid: u32) {
        if let Some(lpi) = self.lpi.lpis.get_mut(&intid) {
            lpi.pending = false;
        }
    }

    /// The guest's LPI property table (PROPBASER of the first redistributor that has LPIs
    /// enabled): guest-physical base and the number of INTID bits it covers.
    pub fn lpi_property_table(&self) -> Option<(u64, u32)> {
        let vcpu = self.lpi.enabled.iter().position(|&e| e)?;
        let propbaser = self.lpi.propbaser[vcpu];
        Some((
            propbaser & PROPBASER_ADDRESS_MASK,
            GICR_PROPBASER::IDbits.read(propbaser) as u32 + 1,
        ))
    }

    /// Mapped LPIs, for statistics.
    pub fn lpi_count(&self) -> usize {
        self.lpi.lpis.len()
    }

    /// Whether `vcpu`'s redistributor takes LPIs now (GICR_CTLR.EnableLPIs and group 1 on).
    pub(super) fn lpis_on(&self, vcpu: usize) -> bool {
        self.lpi.enabled.get(vcpu).copied().unwrap_or(false) && self.group_enabled(true)
    }

    /// (active, priority, intid) of the LPIs that should be in a list register of `vcpu`:
    /// active ones, and pending ones it can take.
    pub(super) fn lpis_wanting_lr(
        &self,
        vcpu: usize,
    ) -> impl Iterator<Item = (bool, u8, u32)> + '_ {
        let on = self.lpis_on(vcpu);
        self.lpi
            .lpis
            .iter()
            .filter(move |(_, l)| {
                l.vcpu == vcpu && !l.in_lr && (l.active || (on && l.enabled && l.pending))
            })
            .map(|(&intid, l)| (l.active, l.priority, intid))
    }
}
