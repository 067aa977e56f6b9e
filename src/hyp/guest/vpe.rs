//! GICv4.0 for a guest: each vCPU's vPE is resident on its physical CPU while the vCPU runs,
//! and every MSI/MSI-X vector of the guest's functions goes straight to the virtual LPI the
//! guest's vITS maps it to, whenever it can -- no exit, no list register.
//!
//! Nothing here trusts the guest more than the list-register path does: the vITS still checks
//! and owns every mapping (only the guest's own devices, LPIs and vCPUs), the real MSI-X table
//! still holds sluice's doorbell and EventIDs, and the only guest memory the GIC reads is the
//! guest's LPI property table, checked to lie in its RAM. Changes (vITS commands, MSI-X and MSI
//! writes, invalidations) only mark the guest stale; the routes are recomputed on the next
//! guest entry, where no lock is held.

use super::vm::Vm;
use crate::arch::cpu;
use crate::hyp::driver::its::PhysicalIts;
use crate::hyp::leaf::fault::guest_fault;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sluice::gicv3::its::GITS_TRANSLATER;
use sluice::its::vpe::{self as plan, Event, Route};
use sluice::vpci::VirtualFunction;
use spin::Mutex;

/// Guests (one bit per index) whose routes must be recomputed before their next entry.
static ROUTES_STALE: AtomicU64 = AtomicU64::new(0);
/// Guests whose vPEs must reload their virtual LPI configuration.
static CONFIG_STALE: AtomicU64 = AtomicU64::new(0);
/// One recomputation at a time, so the last one applied read the latest guest state.
static SYNC: Mutex<()> = Mutex::new(());

fn bit(vm: &Vm) -> u64 {
    1 << (vm.index() % 64)
}

fn direct_its(vm: &Vm) -> Option<&PhysicalIts> {
    vm.host.its.as_ref().filter(|its| its.gicv4())
}

/// The guest changed what one of its vectors means (vITS command, MSI-X entry, MSI).
pub fn routes_changed(vm: &Vm) {
    if direct_its(vm).is_some() {
        ROUTES_STALE.fetch_or(bit(vm), Ordering::AcqRel);
    }
}

/// The guest changed its LPI property table and asked for it to be reloaded.
pub fn config_changed(vm: &Vm) {
    if direct_its(vm).is_some() {
        CONFIG_STALE.fetch_or(bit(vm), Ordering::AcqRel);
    }
}

/// Last thing before `vm`'s vCPU `vcpu` enters the guest, on its own CPU: its vPE becomes
/// resident once the guest has LPIs on, and stale routes and configuration are brought up to
/// date.
pub fn enter(vm: &Vm, vcpu: usize) {
    let (Some(its), Some(&cpu)) = (direct_its(vm), vm.cpus.get(vcpu)) else {
        return;
    };
    if !its.vpe_resident(cpu) && make_resident(vm, its, cpu) {
        ROUTES_STALE.fetch_or(bit(vm), Ordering::AcqRel);
    }
    if ROUTES_STALE.fetch_and(!bit(vm), Ordering::AcqRel) & bit(vm) != 0 {
        sync_routes(vm, its);
    }
    if CONFIG_STALE.fetch_and(!bit(vm), Ordering::AcqRel) & bit(vm) != 0 {
        for &cpu in &vm.cpus {
            its.invalidate_vpe(cpu);
        }
    }
}

/// The vCPU running on this CPU stops (CPU_OFF, or parked): its vPE leaves the redistributor;
/// interrupts for it wait in its pending table. `forget` (guest reboot or stop): the table is
/// cleared and the vPE unmapped.
pub fn leave(vm: &Vm, forget: bool) {
    if let Some(its) = direct_its(vm) {
        its.make_non_resident(cpu::cpu_index(), forget);
    }
}

fn make_resident(vm: &Vm, its: &PhysicalIts, cpu: usize) -> bool {
    let Some((base, id_bits)) = vm.vgic.lock().lpi_property_table() else {
        return false;
    };
    let bytes = plan::property_table_bytes(id_bits);
    let Some(host_table) = vm.ram.to_host(base, bytes) else {
        guest_fault(format_args!(
            "GICv4: LPI property table at IPA {base:#x} ({bytes} bytes) is outside guest memory: no direct injection"
        ));
        return false;
    };
    plan::vpropbaser(host_table, id_bits).is_some_and(|v| its.make_resident(cpu, v))
}

/// The message the guest gave `vector`: its MSI-X entry (masked or not: the real mask
/// follows the guest's), or its MSI message.
fn message_of(function: &VirtualFunction, vector: usize) -> Option<(u64, u32)> {
    match function.msix() {
        Some(msix) if msix.enabled => msix.entries.get(vector).map(|e| (e.address, e.data)),
        _ => function.msi_message(vector as u32),
    }
}

/// Points every vector of the guest's functions where the guest's vITS says, or back at
/// sluice's physical LPI when it cannot go straight to a vPE.
fn sync_routes(vm: &Vm, its: &PhysicalIts) {
    let (Some(bus), Some(vits)) = (&vm.pci, &vm.vits) else {
        return;
    };
    let _one_at_a_time = SYNC.lock();
    let doorbell = vm.its_guest_frame() + GITS_TRANSLATER as u64;
    let vpe_of = |vcpu: usize| {
        vm.cpus
            .get(vcpu)
            .filter(|&&cpu| its.vpe_mapped(cpu))
            .map(|&cpu| cpu as u16)
    };
    for a in bus.assigned() {
        let (Some((first, count)), Some(device)) = (a.msix_lpis(), a.its_device_id) else {
            continue;
        };
        let messages: Vec<_> = {
            let function = a.function.lock();
            (0..count as usize)
                .map(|v| message_of(&function, v))
                .collect()
        };
        for (vector, message) in messages.into_iter().enumerate() {
            let aimed = message.is_some_and(|(address, _)| address == doorbell);
            let translated = message
                .filter(|_| aimed)
                .and_then(|(_, data)| vits.lock().translate(a.guest_device_id(), data));
            let target = match plan::desired_route(aimed, translated, vpe_of, 0) {
                Route::Virtual { vintid, vpe } => Some((vintid, vpe)),
                Route::Physical { .. } => None,
            };
            let event = vector as u32;
            let ev = Event {
                device,
                event,
                lpi: first + event,
            };
            its.set_route(ev, target);
        }
    }
}
