//! Guest reboot (PSCI SYSTEM_RESET): the guest restarts, the machine does not.
//!
//! The vCPU that asked stops every other vCPU (each parks on its own physical CPU after
//! cleaning its CPU's guest state), takes every device away from the guest through the
//! de-assign hook and resets it, scrubs guest RAM, reloads the pristine kernel and initrd with
//! a fresh guest DT, resets the vGIC, vITS and vUART, gives the devices back as if newly
//! assigned, and lets vCPU 0 start at the kernel entry again. Heap and LPI use are logged at
//! every boot: they must not grow from one boot to the next.

use super::vm::Vm;
use super::{dma, heap, pci, vcpu};
use crate::arch::{cpu, gic};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use sluice::pci::enumerate::HostFunction;
use sluice::pci::reset::{self, ResetMethod};
use sluice::pci::{Bdf, ConfigAccess};

/// A reboot is in progress: every vCPU must park.
static REQUESTED: AtomicBool = AtomicBool::new(false);
/// vCPUs parked so far (the rebooting one excluded).
static PARKED: AtomicUsize = AtomicUsize::new(0);
/// Guest boots so far: 0 is the first boot.
static BOOT: AtomicU32 = AtomicU32::new(0);
/// How long the rebooting vCPU waits for the others to park before going on without them.
const PARK_TIMEOUT_MS: u64 = 2000;

/// The guest's boot number (0 for the first boot).
pub fn boot_number() -> u32 {
    BOOT.load(Ordering::Acquire)
}

/// SYSTEM_RESET from `vcpu`: reboots the guest, then this CPU waits to be its vCPU again.
pub fn request(vm: &'static Vm, vcpu: usize) -> ! {
    if REQUESTED.swap(true, Ordering::AcqRel) {
        park(vm); // another vCPU is already rebooting the guest
        vcpu::wait_for_cpu_on(vm, vcpu)
    }
    log::info!("guest requested a reset (PSCI SYSTEM_RESET) on vCPU {vcpu}: rebooting the guest");
    stop_other_vcpus(vm, vcpu);
    clean_this_cpu(vm);
    take_devices(vm);
    let boot = BOOT.load(Ordering::Acquire) + 1;
    if let Err(e) = vm.restart(boot) {
        super::boot::fatal(format_args!("guest reboot failed: {e}"));
    }
    give_devices(vm);
    BOOT.store(boot, Ordering::Release);
    log_usage(vm);
    PARKED.store(0, Ordering::Release);
    REQUESTED.store(false, Ordering::Release);
    cpu::send_event();
    vcpu::wait_for_cpu_on(vm, vcpu)
}

/// Whether a reboot is in progress (every vCPU must `park`).
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Acquire)
}

/// Logs what the guest's boot costs sluice: constant from boot to boot, or something leaks.
pub fn log_usage(vm: &Vm) {
    let lpis = vm
        .host
        .its
        .as_ref()
        .map_or(0, |its| its.lpis.lock().in_use());
    log::info!(
        "guest boot {}: heap in use {} KiB, physical LPIs in use {lpis}",
        boot_number(),
        heap::allocated_bytes() / 1024
    );
}

/// Stops this vCPU for the reboot in progress: cleans its CPU, reports it parked, and returns
/// once the guest has been rebooted (the caller then waits for its vCPU to be started).
pub fn park(vm: &Vm) {
    clean_this_cpu(vm);
    let boot = BOOT.load(Ordering::Acquire);
    PARKED.fetch_add(1, Ordering::AcqRel);
    while BOOT.load(Ordering::Acquire) == boot {
        cpu::wait_for_event();
    }
}

/// Kicks every other vCPU out of the guest and waits until all of them have parked.
fn stop_other_vcpus(vm: &Vm, current: usize) {
    let others = vm.vcpu_mpidrs.len() - 1;
    for (index, &mpidr) in vm.vcpu_mpidrs.iter().enumerate() {
        if index != current {
            gic::send_sgi(super::host::KICK_SGI, mpidr);
        }
    }
    cpu::send_event(); // vCPUs that are off wait in `wait_for_cpu_on`
    if !cpu::spin_while(PARK_TIMEOUT_MS, || PARKED.load(Ordering::Acquire) < others) {
        log::warn!(
            "reboot: only {} of {others} other vCPUs stopped; going on",
            PARKED.load(Ordering::Acquire)
        );
    }
}

/// Leaves nothing of the old guest in this CPU: timers off, their interrupts inactive, the
/// virtual CPU interface empty, EL1 back to its reset configuration.
fn clean_this_cpu(vm: &Vm) {
    cpu::stop_el1_timers();
    let timer = &vm.host.platform.timer;
    gic::clear_active_private(
        &vm.host.platform.gic.redist_regions,
        &[timer.virt.intid, timer.nonsecure_phys.intid],
    );
    gic::reset_virtual_interface();
    cpu::reset_el1_state();
}

/// De-assigns every device: quiesced, BARs unmapped, DMA stopped in the SMMU, interrupts
/// unwired from the ITS, then reset and its BARs restored.
fn take_devices(vm: &Vm) {
    let Some(bus) = &vm.pci else {
        return;
    };
    for assigned in bus.assigned() {
        pci::deassign(vm, bus, assigned.slot);
        // INTx lines of the old guest may still be active: nothing will deactivate them now.
        if let Some(intid) = assigned.intx_intid {
            vm.host.dist.clear_active(intid);
        }
        dma::set_slot_translated(vm, assigned.slot, false);
        let ecam = &bus.hosts[assigned.host_bus].ecam;
        let bdf = assigned.function.lock().host_bdf;
        if let (Some(its), Some((first, _)), Some(device)) =
            (&vm.host.its, assigned.msix_lpis(), assigned.its_device_id)
        {
            its.unmap_device(device);
            its.lpis.lock().free(first);
            assigned.set_msix_lpis(None);
        }
        reset_function(ecam, &bus.hosts[assigned.host_bus].functions, bdf);
    }
    // Nothing is mapped now: give back what the old guest's BAR bookkeeping grew to.
    bus.mapped.lock().shrink_to_fit();
}

/// Resets one function with the best method it has, keeping sluice's BAR assignment.
fn reset_function(cfg: &impl ConfigAccess, functions: &[HostFunction], bdf: Bdf) {
    let lone_bridge = reset::lone_bridge_above(cfg, functions, bdf);
    let Some(method) = reset::choose(cfg, bdf, lone_bridge) else {
        log::warn!("pci {bdf}: no reset method (no FLR, bus reset or D3hot reset); only quiesced");
        return;
    };
    let saved = reset::save_header(cfg, bdf);
    if matches!(method, ResetMethod::Flr { .. }) {
        cpu::spin_while(100, || reset::transactions_pending(cfg, bdf, method));
    }
    reset::start(cfg, bdf, method);
    cpu::delay_ms(reset::first_wait_ms(method));
    cpu::delay_ms(reset::finish(cfg, bdf, method));
    reset::restore_header(cfg, bdf, &saved);
    log::info!("pci {bdf} reset ({method})");
}

/// Gives every device back as if newly assigned: fresh config space view, vectors wired to
/// new physical LPIs, DMA translated by the guest's stage 2 again.
fn give_devices(vm: &Vm) {
    let Some(bus) = &vm.pci else {
        return;
    };
    for assigned in bus.assigned() {
        let host_bus = &bus.hosts[assigned.host_bus];
        let bdf = assigned.function.lock().host_bdf;
        let Some(host_function) = host_bus.functions.iter().find(|f| f.bdf == bdf) else {
            continue;
        };
        let (function, lpis) = pci::fresh_function(
            vm.host.its.as_ref(),
            assigned.its_device_id,
            host_function,
            &host_bus.ecam,
        );
        assigned.set_msix_lpis(lpis);
        *assigned.function.lock() = function;
        dma::set_slot_translated(vm, assigned.slot, true);
    }
}
