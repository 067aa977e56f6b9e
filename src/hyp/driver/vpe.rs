//! GICv4.0 on the physical side (IHI 0069 5.4, 12.11.38-39): one vPE per physical CPU that runs
//! a vCPU, mapped to that CPU's redistributor (VMAPP) with a virtual pending table sluice
//! owns, made resident there (GICR_VPROPBASER/VPENDBASER) while the vCPU runs; and the events
//! of assigned functions the physical ITS delivers straight to a vPE (VMAPTI) instead of to
//! sluice's own LPIs. The choices are `sluice::its::vpe`'s; this file only applies them.

use super::its::PhysicalIts;
use crate::arch::mmio::MmioBase;
use alloc::collections::BTreeMap;
use sluice::gicv3::redist::{GICR_VPENDBASER, GICR_VPROPBASER};
use sluice::its::vpe::{
    self, Event, Route, Step, VirtualCommand, VpeAction, VpeState, VPT_ALIGN, VPT_BYTES,
};
use sluice::its::ItsCommand;
use spin::Mutex;

const MAX_CPUS: usize = crate::hyp::leaf::cpus::MAX_CPUS;
/// How long a redistributor may take to finish parsing a pending table (Dirty) before sluice
/// calls it broken.
const DIRTY_TIMEOUT_MS: u64 = 100;

/// The vPE of one physical CPU.
#[derive(Debug, Clone, Copy, Default)]
struct VpeSlot {
    /// Its redistributor as VMAPP wants it (None: the CPU is not up or has no VLPIS).
    target: Option<u64>,
    /// Its redistributor's RD_base.
    rd_base: u64,
    /// Its virtual pending table (heap, zeroed, allocated once at CPU bring-up).
    vpt: u64,
    /// Mapped, resident.
    state: VpeState,
}

/// GICv4.0 state of the physical ITS (no vPE yet by default).
#[derive(Default)]
pub struct Gicv4 {
    slots: Mutex<[VpeSlot; MAX_CPUS]>,
    /// Events delivered straight to a vPE now: (DeviceID, EventID) -> route. Every other event
    /// of an assigned function goes to its physical LPI.
    routes: Mutex<BTreeMap<(u32, u32), Route>>,
}

impl Gicv4 {
    /// CPU `cpu` is up with its redistributor at `rd_base` (`target` as MAPC names it): gives
    /// its vPE a pending table. Called once per CPU, before any guest runs there.
    pub fn add_cpu(&self, cpu: usize, target: u64, rd_base: u64) {
        let mut slots = self.slots.lock();
        let Some(slot) = slots.get_mut(cpu) else {
            return;
        };
        if slot.vpt == 0 {
            slot.vpt = super::its::alloc_table(VPT_BYTES, VPT_ALIGN);
        }
        slot.target = Some(target);
        slot.rd_base = rd_base;
    }
}

/// The VLPI frame of the redistributor at `rd_base`.
fn vlpi_regs(rd_base: u64) -> MmioBase {
    // SAFETY: `rd_base` is a redistributor found by walking the DT's redistributor regions,
    // which the EL2 map covers as Device memory; it has VLPIS, so its VLPI frame exists.
    unsafe { MmioBase::new(rd_base as usize) }
}

impl PhysicalIts {
    /// Whether GICv4 direct injection is in use.
    pub fn gicv4(&self) -> bool {
        self.v4.is_some()
    }

    /// Whether CPU `cpu`'s vPE is mapped (a guest event may be routed to it).
    pub fn vpe_mapped(&self, cpu: usize) -> bool {
        self.v4
            .as_ref()
            .is_some_and(|v4| v4.slots.lock().get(cpu).is_some_and(|s| s.state.mapped))
    }

    /// Whether CPU `cpu`'s vPE is resident.
    pub fn vpe_resident(&self, cpu: usize) -> bool {
        self.v4
            .as_ref()
            .is_some_and(|v4| v4.slots.lock().get(cpu).is_some_and(|s| s.state.resident))
    }

    /// Makes CPU `cpu`'s vPE resident on its redistributor with the guest's property table
    /// `vpropbaser` (already checked to lie in guest RAM), mapping it first if needed. Returns
    /// whether it is resident now.
    pub fn make_resident(&self, cpu: usize, vpropbaser: u64) -> bool {
        let Some(v4) = &self.v4 else { return false };
        let mut slots = v4.slots.lock();
        let Some(slot) = slots.get_mut(cpu) else {
            return false;
        };
        if slot.target.is_none() {
            return false;
        }
        for action in slot.state.enter() {
            self.apply(cpu, slot, action, vpropbaser);
        }
        true
    }

    /// Makes CPU `cpu`'s vPE non-resident (its pending virtual LPIs stay in its table, new
    /// ones ring their doorbell). `forget`: the guest is gone or restarts, so its pending
    /// table is cleared and the vPE unmapped.
    pub fn make_non_resident(&self, cpu: usize, forget: bool) {
        let Some(v4) = &self.v4 else { return };
        let mut slots = v4.slots.lock();
        let Some(slot) = slots.get_mut(cpu) else {
            return;
        };
        for action in slot.state.leave(forget) {
            self.apply(cpu, slot, action, 0);
        }
    }

    /// Takes one step of CPU `cpu`'s vPE (`vpropbaser`: for MakeResident).
    fn apply(&self, cpu: usize, slot: &VpeSlot, action: VpeAction, vpropbaser: u64) {
        let vpe = cpu as u16;
        let regs = vlpi_regs(slot.rd_base);
        let vmapp = |valid| {
            [
                Step::Virtual(VirtualCommand::Vmapp {
                    vpe,
                    target: slot.target.unwrap_or(0),
                    vpt_addr: slot.vpt,
                    valid,
                }),
                Step::Virtual(VirtualCommand::Vsync { vpe }),
            ]
        };
        match action {
            VpeAction::Map => self.submit_steps(&vmapp(true)),
            VpeAction::Unmap => self.submit_steps(&vmapp(false)),
            VpeAction::MakeResident => {
                regs.write64(GICR_VPROPBASER, vpropbaser);
                regs.write64(GICR_VPENDBASER, vpe::vpendbaser(slot.vpt, true));
            }
            VpeAction::MakeNonResident => {
                regs.write64(GICR_VPENDBASER, vpe::vpendbaser(slot.vpt, false));
                let clean = crate::arch::cpu::spin_while(DIRTY_TIMEOUT_MS, || {
                    GICR_VPENDBASER::Dirty.is_set(regs.read64(GICR_VPENDBASER))
                });
                if !clean {
                    log::error!(
                        "GICv4: CPU {cpu}'s vPE still Dirty {DIRTY_TIMEOUT_MS} ms after leaving"
                    );
                }
            }
            VpeAction::ClearTable if slot.vpt != 0 => {
                // SAFETY: sluice's own table, `VPT_BYTES` long; no redistributor uses it now
                // (the vPE is neither resident nor mapped: `VpeState::leave` orders it last).
                unsafe { core::ptr::write_bytes(slot.vpt as *mut u8, 0, VPT_BYTES) };
                crate::arch::cpu::clean_dcache_range(slot.vpt, VPT_BYTES as u64);
            }
            VpeAction::ClearTable => {}
        }
    }

    /// Points event `ev` at virtual LPI `vintid` of vPE `vpe`, or (None) back at its physical
    /// LPI, issuing only the commands the change needs.
    pub fn set_route(&self, ev: Event, target: Option<(u32, u16)>) {
        let Some(v4) = &self.v4 else { return };
        let collection = self.collection_of(ev.lpi);
        let physical = Route::Physical { collection };
        let to = target.map_or(physical, |(vintid, vpe)| Route::Virtual { vintid, vpe });
        let mut routes = v4.routes.lock();
        let from = routes
            .get(&(ev.device, ev.event))
            .copied()
            .unwrap_or(physical);
        let steps = vpe::reroute(ev, from, to);
        if steps.is_empty() {
            return;
        }
        match to {
            Route::Virtual { .. } => routes.insert((ev.device, ev.event), to),
            Route::Physical { .. } => routes.remove(&(ev.device, ev.event)),
        };
        drop(routes);
        self.submit_steps(&steps);
        if let Route::Physical { collection } = to {
            let target = self.target_of(collection as usize);
            self.submit_steps(&[Step::Physical(ItsCommand::Sync { target })]);
        }
    }

    /// Whether event `event` of `device` goes straight to a vPE now (its physical LPI is then
    /// only its doorbell).
    pub fn is_direct(&self, device: u32, event: u32) -> bool {
        self.v4
            .as_ref()
            .is_some_and(|v4| v4.routes.lock().contains_key(&(device, event)))
    }

    /// Has CPU `cpu`'s vPE reload its virtual LPI configuration (the guest changed its
    /// property table and said so with INV, INVALL or GICR_INVLPIR/INVALLR).
    pub fn invalidate_vpe(&self, cpu: usize) {
        if self.vpe_mapped(cpu) {
            let vpe = cpu as u16;
            self.submit_steps(&[
                Step::Virtual(VirtualCommand::Vinvall { vpe }),
                Step::Virtual(VirtualCommand::Vsync { vpe }),
            ]);
        }
    }

    /// `device` is unmapped: none of its events is routed to a vPE any more.
    pub(super) fn forget_device_routes(&self, device: u32) {
        if let Some(v4) = &self.v4 {
            let mut routes = v4.routes.lock();
            routes.retain(|&(d, _), _| d != device);
            if routes.is_empty() {
                // An emptied BTreeMap keeps its root node: give it back, so that the heap in
                // use after a guest's reboot is what it was at its first boot.
                *routes = BTreeMap::new();
            }
        }
    }

    fn submit_steps(&self, steps: &[Step]) {
        self.submit_encoded(steps.iter().map(Step::encode));
    }
}
