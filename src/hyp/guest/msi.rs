//! MSI-X for assigned functions through the guest's virtual ITS.
//!
//! Every vector of a function is wired, once, from its real (DeviceID, EventID = vector) to a
//! physical LPI of sluice's. The real MSI-X table always holds sluice's doorbell and EventIDs;
//! only the masks follow the guest. When a physical LPI fires, the guest's own table entry for
//! that vector says which virtual ITS event it meant, the virtual ITS (which only knows the
//! guest's own devices) turns it into a virtual LPI, and the vGIC injects it. Garbage in the
//! guest's table can therefore only ever raise the guest's own LPIs, or nothing.

use super::bus::{AssignedFunction, VirtualBus};
use super::table;
use super::vm::Vm;
use crate::arch::mmio::MmioBase;
use crate::hyp::leaf::fault::guest_fault;
use sluice::gicv3::its::GITS_TRANSLATER;
use sluice::its::vits::ItsEffect;
use sluice::its::{ItsCommand, COMMAND_BYTES};
use sluice::pci::ConfigAccess;
use sluice::vpci::msix::MSIX_ENTRY_BYTES;
use sluice::vpci::VirtualFunction;

/// Writes real MSI-X entry `index`: sluice's doorbell, EventID = index, the guest's mask.
pub fn program_vector(vm: &Vm, function: &VirtualFunction, index: usize) {
    let (Some(its), Some(table), Some(msix)) = (
        &vm.host.its,
        function.msix_table_host_phys(),
        function.msix(),
    ) else {
        return;
    };
    let Some(entry) = msix.entries.get(index) else {
        return;
    };
    let doorbell = its.doorbell();
    // SAFETY: the real MSI-X table of a BAR sluice assigned, inside a host bridge window that
    // the EL2 identity map covers as Device memory; `index` is below the table's size.
    let regs = unsafe { MmioBase::new((table + index as u64 * MSIX_ENTRY_BYTES) as usize) };
    regs.write32(12, 1); // mask while the entry changes
    regs.write32(0, doorbell as u32);
    regs.write32(4, (doorbell >> 32) as u32);
    regs.write32(8, index as u32);
    regs.write32(12, entry.masked as u32);
    super::vpe::routes_changed(vm);
}

/// The guest changed MSI-X enable or function mask: reprogram every vector, then the control.
pub fn program_control(
    vm: &Vm,
    bus: &VirtualBus,
    assigned: &AssignedFunction,
    function: &VirtualFunction,
) {
    let (Some(msix), Some(control)) = (function.msix(), function.msix_control_offset()) else {
        return;
    };
    for index in 0..msix.entries.len() {
        program_vector(vm, function, index);
    }
    let ecam = &bus.hosts[assigned.host_bus].ecam;
    let flags = (msix.enabled as u16) << 15 | (msix.function_masked as u16) << 14;
    let old = ecam.read16(function.host_bdf, control) & !0xc000;
    ecam.write16(function.host_bdf, control, old | flags);
}

/// The guest changed its MSI capability: the real one gets sluice's doorbell, EventID base 0
/// (the function ORs the vector into the data, giving events 0..n), the guest's mask bits
/// and the guest's enable and Multiple Message Enable.
pub fn program_msi(
    vm: &Vm,
    bus: &VirtualBus,
    assigned: &AssignedFunction,
    function: &VirtualFunction,
) {
    let (Some(its), Some(msi), Some((enabled, enabled_log2))) =
        (&vm.host.its, function.msi(), function.msi_control())
    else {
        return;
    };
    let ecam = &bus.hosts[assigned.host_bus].ecam;
    let bdf = function.host_bdf;
    let control = msi.offset + 2;
    let base = ecam.read16(bdf, control) & !(1 | 7 << 4);
    ecam.write16(bdf, control, base); // off while it changes
    let doorbell = its.doorbell();
    ecam.write32(bdf, msi.offset + 4, doorbell as u32);
    let data_offset = if msi.is_64 {
        ecam.write32(bdf, msi.offset + 8, (doorbell >> 32) as u32);
        msi.offset + 12
    } else {
        msi.offset + 8
    };
    ecam.write16(bdf, data_offset, 0);
    if msi.per_vector_mask {
        ecam.write32(bdf, data_offset + 4, function.msi_mask());
    }
    if enabled {
        ecam.write16(bdf, control, base | 1 | (enabled_log2 as u16) << 4);
    }
    super::vpe::routes_changed(vm);
}

/// A physical LPI fired on the CPU of `vm`'s vCPU `vcpu`: deliver it as its owner meant, or
/// drop it. One of another guest's functions (its LPIs start on the boot CPU) goes to that
/// guest, its target vCPU kicked and the LPI moved to that vCPU's CPU.
pub fn deliver(vm: &Vm, vcpu: usize, physical_lpi: u32) {
    let owns = |g: &Vm| {
        g.pci
            .as_ref()
            .is_some_and(|b| b.lpi_owner(physical_lpi).is_some())
    };
    if owns(vm) {
        deliver_owned(vm, vcpu, physical_lpi);
    } else if let Some(owner) = table::guests().iter().find(|g| owns(g)) {
        deliver_owned(owner, NO_VCPU, physical_lpi);
    }
}

/// "No vCPU of this guest runs here": every target gets kicked.
const NO_VCPU: usize = usize::MAX;

fn deliver_owned(vm: &Vm, vcpu: usize, physical_lpi: u32) {
    let (Some(bus), Some(vits)) = (&vm.pci, &vm.vits) else {
        return;
    };
    let Some((assigned, vector)) = bus.lpi_owner(physical_lpi) else {
        return;
    };
    if let (Some(its), Some(device)) = (&vm.host.its, assigned.its_device_id) {
        if its.is_direct(device, vector as u32) {
            // A doorbell: the vLPI waits in the vPE's pending table until its vCPU runs again.
            return;
        }
    }
    let message = {
        let function = assigned.function.lock();
        match function.msix() {
            Some(msix) if msix.enabled => {
                if !msix.vector_live(vector) {
                    return; // masked meanwhile: the device keeps it in its PBA
                }
                Some((msix.entries[vector].address, msix.entries[vector].data))
            }
            _ => function.msi_message(vector as u32),
        }
    };
    let Some((address, data)) = message else {
        return;
    };
    if address != vm.its_guest_frame() + GITS_TRANSLATER as u64 {
        return; // not aimed at the guest's ITS: nowhere to go
    }
    let Some((intid, target)) = vits.lock().translate(assigned.guest_device_id(), data) else {
        return;
    };
    let kick = vm.vgic.lock().inject_lpi(intid);
    vm.kick(vcpu, kick);
    if target != vcpu {
        // Aimed at another vCPU: from now on let the physical LPI arrive on that vCPU's own
        // CPU, which then injects it without a kick.
        if let (Some(its), Some(device), Some(&cpu)) =
            (&vm.host.its, assigned.its_device_id, vm.cpus.get(target))
        {
            its.route_event(device, vector as u32, physical_lpi, cpu);
        }
    }
}

/// Makes every physical LPI of `vm`'s functions arrive on the CPU of its vCPU 0 (they start
/// in the boot CPU's collection, which may be another guest's CPU, and one that stops). Call
/// once that CPU's collection exists (from that CPU) and after devices are given back.
pub fn route_home(vm: &Vm) {
    let (Some(its), Some(bus), Some(&cpu)) = (&vm.host.its, &vm.pci, vm.cpus.first()) else {
        return;
    };
    for a in bus.assigned() {
        if let (Some((first, count)), Some(device)) = (a.msix_lpis(), a.its_device_id) {
            for event in 0..count {
                its.route_event(device, event, first + event, cpu);
            }
        }
    }
}

/// A guest access to its virtual ITS frame.
pub fn its_access(vm: &Vm, vcpu: usize, offset: u64, width: u8, write: Option<u64>) -> Option<u64> {
    let vits = vm.vits.as_ref()?;
    match write {
        None => vits.lock().read(offset, width),
        Some(v) => {
            let run = vits.lock().write(offset, width, v)?;
            if offset == 0 && run {
                check_tables(vm); // GITS_CTLR.Enabled: the tables are fixed from now on
            }
            if run {
                run_commands(vm, vcpu);
            }
            Some(0)
        }
    }
}

/// The guest's Device and Collection tables must lie in its memory, like its command queue.
/// The virtual ITS never reads or writes them, so one that does not is only reported.
fn check_tables(vm: &Vm) {
    let Some(vits) = &vm.vits else { return };
    let tables = vits.lock().tables();
    for (base, bytes) in tables {
        if vm.ram.to_host(base, bytes).is_none() {
            guest_fault(format_args!(
                "vITS: table at IPA {base:#x} ({bytes} bytes) is outside guest memory: ignored"
            ));
        }
    }
}

/// Reads the guest's new commands from its memory and executes them.
fn run_commands(vm: &Vm, vcpu: usize) {
    let Some(vits) = &vm.vits else { return };
    let mut its = vits.lock();
    for address in its.pending_commands() {
        let mut bytes = [0u8; COMMAND_BYTES];
        if !vm.read_guest(address, &mut bytes) {
            guest_fault(format_args!(
                "vITS: command queue entry at IPA {address:#x} is outside guest memory: queue dropped"
            ));
            break;
        }
        let command = ItsCommand::decode(&bytes);
        super::vpe::routes_changed(vm);
        match its.execute(command) {
            Ok(effects) => {
                for effect in effects {
                    apply_effect(vm, vcpu, effect);
                }
            }
            Err(why) => guest_fault(format_args!("vITS: {command:?} refused: {why}")),
        }
    }
    its.advance();
}

fn apply_effect(vm: &Vm, vcpu: usize, effect: ItsEffect) {
    let kick = match effect {
        ItsEffect::Route {
            intid,
            vcpu: target,
        } => {
            let k = vm.vgic.lock().route_lpi(intid, target);
            reload_lpi(vm, intid).union(k)
        }
        ItsEffect::Unroute { intid } => {
            vm.vgic.lock().unroute_lpi(intid);
            sluice::vgic::Kick::NONE
        }
        ItsEffect::Reload { intid } => reload_lpi(vm, intid),
        ItsEffect::Inject { intid, .. } => vm.vgic.lock().inject_lpi(intid),
        ItsEffect::Clear { intid } => {
            vm.vgic.lock().clear_lpi(intid);
            sluice::vgic::Kick::NONE
        }
    };
    vm.kick(vcpu, kick);
}

/// Reloads LPI `intid`'s configuration (GICR_INVLPIR/INVALLR) and kicks its vCPU.
pub fn reload(vm: &Vm, vcpu: usize, intid: u32) {
    let kick = reload_lpi(vm, intid);
    vm.kick(vcpu, kick);
}

/// Reads LPI `intid`'s entry of the guest's property table (bounded by its IDbits and by
/// guest memory) into the vGIC.
fn reload_lpi(vm: &Vm, intid: u32) -> sluice::vgic::Kick {
    super::vpe::config_changed(vm);
    let Some((base, id_bits)) = vm.vgic.lock().lpi_property_table() else {
        return sluice::vgic::Kick::NONE;
    };
    if id_bits < 14 || intid >> id_bits.min(31) != 0 {
        return sluice::vgic::Kick::NONE;
    }
    let mut property = [0u8; 1];
    if !vm.read_guest(
        base + (intid - sluice::vgic::FIRST_LPI) as u64,
        &mut property,
    ) {
        guest_fault(format_args!(
            "vGIC: LPI property table at IPA {base:#x} is outside guest memory"
        ));
        return sluice::vgic::Kick::NONE;
    }
    vm.vgic.lock().set_lpi_config(intid, property[0])
}
