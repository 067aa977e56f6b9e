//! Guest reboot (PSCI SYSTEM_RESET): the guest restarts, the machine does not.
//!
//! The vCPU that asked stops every other vCPU (each parks on its own physical CPU after
//! cleaning its CPU's guest state), takes every device away from the guest through the
//! de-assign hook and resets it, scrubs guest RAM, reloads the pristine kernel and initrd with
//! a fresh guest DT, resets the vGIC, vITS and vUART, gives the devices back as if newly
//! assigned, and lets vCPU 0 start at the kernel entry again. Heap and LPI use are logged at
//! every boot: they must not grow from one boot to the next.

use super::vm::Vm;
use super::{bus, dma, msi, table, vpci};
use crate::arch::{cpu, gic};
use crate::hyp::driver::reset::reset_function;
use crate::hyp::leaf::{canary, console, heap, kick, stats, stop};
use core::sync::atomic::{AtomicUsize, Ordering};

/// Guests stopped for good so far: the machine powers off when it reaches the guest count.
static STOPPED: AtomicUsize = AtomicUsize::new(0);

/// How long the rebooting vCPU waits for the others to park before it kicks them again.
const PARK_TIMEOUT_MS: u64 = 2000;
/// Slow-to-park warnings logged per reboot at most.
const MAX_PARK_WARNINGS: u32 = 5;

/// The guest's boot number (0 for the first boot).
pub fn boot_number(vm: &Vm) -> u32 {
    vm.reboot.boot.load(Ordering::Acquire)
}

/// SYSTEM_RESET from `vcpu`: reboots the guest. The caller's CPU then waits to be its vCPU
/// again (`run::wait_for_cpu_on`).
pub fn request(vm: &'static Vm, vcpu: usize) {
    if vm.reboot.requested.swap(true, Ordering::AcqRel) {
        park(vm); // another vCPU is already rebooting the guest
        return;
    }
    // The guest's unfinished line goes out before sluice's.
    console::with_mux(|mux| mux.restart(vm.index()));
    log::info!(
        "{} requested a reset (PSCI SYSTEM_RESET) on vCPU {vcpu}: rebooting the guest",
        vm.label()
    );
    stop_other_vcpus(vm);
    clean_this_cpu(vm);
    let reset_slots = take_devices(vm);
    let boot = vm.reboot.boot.load(Ordering::Acquire) + 1;
    if let Err(e) = vm.restart(boot) {
        // The guest alone is lost (the only one: the machine powers off with it).
        log::info!("{} stopped: reboot failed: {e}", vm.label());
        finish_stop(vm); // its devices are taken already
    }
    give_devices(vm, reset_slots);
    log_usage(vm, boot);
    // The reboot is over before the parked vCPUs are let go: one that saw the new boot number
    // while the request still stood would park again, for a boot that never comes, and miss
    // its CPU_ON.
    vm.reboot.parked.store(0, Ordering::Release);
    vm.reboot.requested.store(false, Ordering::Release);
    vm.reboot.boot.store(boot, Ordering::Release);
    kick::wake(vm.cpu_mpidrs.iter().copied());
}

/// PSCI SYSTEM_OFF from the vCPU on this CPU. The only guest of a tree without guest nodes powers the
/// machine off, as it always did; with several guests, the guest stops (`stop`) and the
/// machine powers off with the last one. Returns only if a reboot of the guest was in
/// progress (the caller then waits to be its vCPU again).
pub fn power_off(vm: &'static Vm) {
    if table::guests().len() == 1 {
        stats::print(vm.host.platform.cpus.len());
        canary::check();
        log::info!("guest powered off (PSCI SYSTEM_OFF)");
        stop::power_off_or_halt()
    }
    stop(vm, format_args!("powered off (PSCI SYSTEM_OFF)"));
}

/// Stops `vm` for good, from the vCPU on this CPU, saying `why`: its other vCPUs park for ever, its
/// devices are quiesced and reset (never given back), its console stops; the others run on.
/// Returns only if a reboot of the guest was in progress (this vCPU parked for it).
pub fn stop(vm: &'static Vm, why: core::fmt::Arguments) {
    if vm.reboot.requested.swap(true, Ordering::AcqRel) {
        park(vm);
        return;
    }
    log::info!("{} {why}", vm.label());
    stop_other_vcpus(vm);
    clean_this_cpu(vm);
    let _ = take_devices(vm);
    finish_stop(vm);
}

/// Stops `vm` before any of its vCPUs ran (at boot, on the boot CPU), saying
/// "stopped: `why`": its devices taken and reset, its vCPUs halted as soon as their CPUs
/// look at it (`run::run_vcpu`). Powers the machine off if it was the last guest.
pub fn stop_unstarted(vm: &Vm, why: core::fmt::Arguments) {
    vm.reboot.requested.store(true, Ordering::Release);
    log::info!("{} stopped: {why}", vm.label());
    let _ = take_devices(vm);
    record_stop(vm);
}

/// The guest's vCPUs are parked (the request stays, so they park for ever) and its devices
/// taken: records the stop (`record_stop`), and halts this CPU.
fn finish_stop(vm: &Vm) -> ! {
    record_stop(vm);
    stop::halt()
}

/// Records the stop of `vm`, moves console input and the machine's interrupts to a running
/// guest, and powers the machine off if no guest runs any more.
fn record_stop(vm: &Vm) {
    vm.reboot.stopped.store(true, Ordering::Release);
    let mut announcement = None;
    console::with_mux(|mux| {
        let (out, moved) = mux.stop(vm.index());
        announcement = moved;
        out
    });
    if let Some(announcement) = announcement {
        log::info!("{announcement}");
        console::with_mux(|mux| mux.resume());
    }
    let guests = table::guests();
    if STOPPED.fetch_add(1, Ordering::AcqRel) + 1 >= guests.len() {
        stats::print(vm.host.platform.cpus.len());
        canary::check();
        log::info!("every guest is off: powering the machine off");
        stop::power_off_or_halt()
    }
    // Typing must reach a guest that still runs, and the SMMU's faults must be served
    // (whoever's device makes them): their interrupts go to its CPU, this one halts.
    if let Some(running) = guests
        .iter()
        .find(|g| !g.reboot.stopped.load(Ordering::Acquire))
    {
        let uart = vm.host.platform.uart.intid;
        vm.host.dist.enable_spi(uart, running.cpu_mpidrs[0], false);
        dma::route_interrupts(vm.host, running.cpu_mpidrs[0]);
    }
}

/// Whether `vm` is stopped for good.
pub fn stopped(vm: &Vm) -> bool {
    vm.reboot.stopped.load(Ordering::Acquire)
}

/// Whether a reboot of `vm` is in progress (each of its vCPUs must `park`).
pub fn requested(vm: &Vm) -> bool {
    vm.reboot.requested.load(Ordering::Acquire)
}

/// Logs what the guest's boot `boot` costs sluice: constant from boot to boot, or something
/// leaks.
pub fn log_usage(vm: &Vm, boot: u32) {
    let lpis = vm
        .host
        .its
        .as_ref()
        .map_or(0, |its| its.lpis.lock().in_use());
    log::info!(
        "{} boot {boot}: heap in use {} KiB, physical LPIs in use {lpis}",
        vm.label(),
        heap::allocated_bytes() / 1024
    );
}

/// Stops this vCPU for the reboot in progress: cleans its CPU, reports it parked, and returns
/// once the guest has been rebooted (the caller then waits for its vCPU to be started).
pub fn park(vm: &Vm) {
    clean_this_cpu(vm);
    let boot = vm.reboot.boot.load(Ordering::Acquire);
    vm.reboot.parked.fetch_add(1, Ordering::AcqRel);
    kick::sleep_while(|| vm.reboot.boot.load(Ordering::Acquire) == boot);
}

/// Kicks every other vCPU (those not on this CPU) out of the guest and waits until all of them have parked. It never
/// goes on without one: a vCPU still running the old guest while its RAM is scrubbed and
/// reloaded would run the new guest's memory as the old one (and a vCPU that parked late
/// would wait for a boot that already happened, and miss its CPU_ON). A vCPU that is slow to
/// stop is kicked again and named every `PARK_TIMEOUT_MS`.
fn stop_other_vcpus(vm: &Vm) {
    let others = vm.vcpu_mpidrs.len() - 1;
    let mut rounds = 0u32;
    loop {
        // Out of the guest, or out of `wait_for_cpu_on` for the vCPUs that are off (`wake`
        // leaves this CPU, the rebooting vCPU's, out).
        kick::wake(vm.cpu_mpidrs.iter().copied());
        if cpu::spin_while(PARK_TIMEOUT_MS, || {
            vm.reboot.parked.load(Ordering::Acquire) < others
        }) {
            return;
        }
        rounds += 1;
        if rounds <= MAX_PARK_WARNINGS {
            log::warn!(
                "reboot: only {} of {others} other vCPUs stopped after {} ms; kicking them again",
                vm.reboot.parked.load(Ordering::Acquire),
                PARK_TIMEOUT_MS * rounds as u64
            );
        }
    }
}

/// Leaves nothing of the old guest in this CPU: timers off, their interrupts inactive, the
/// virtual CPU interface empty, EL1 back to its reset configuration.
fn clean_this_cpu(vm: &Vm) {
    super::vpe::leave(vm, true);
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
/// unwired from the ITS, then reset and its BARs restored. Returns the slots (one bit each)
/// whose function was reset.
fn take_devices(vm: &Vm) -> u64 {
    let Some(bus) = &vm.pci else {
        return 0;
    };
    let mut reset_slots = 0u64;
    for assigned in bus.assigned() {
        vpci::deassign(vm, bus, assigned.slot);
        // INTx lines of the old guest may still be active: nothing will deactivate them now.
        if let Some(intid) = assigned.intx_intid {
            vm.host.dist.clear_active(intid);
        }
        vm.set_dma_translated(assigned.slot, false);
        let ecam = &bus.hosts[assigned.host_bus].ecam;
        let bdf = assigned.function.lock().host_bdf;
        if let (Some(its), Some((first, _)), Some(device)) =
            (&vm.host.its, assigned.msix_lpis(), assigned.its_device_id)
        {
            its.unmap_device(device);
            its.lpis.lock().free(first);
            assigned.set_msix_lpis(None);
        }
        if reset_function(ecam, &bus.hosts[assigned.host_bus].functions, bdf) {
            reset_slots |= 1 << assigned.slot;
        }
    }
    // Nothing is mapped now: give back what the old guest's BAR bookkeeping grew to.
    bus.mapped.lock().shrink_to_fit();
    reset_slots
}

/// Gives every device back as if newly assigned: fresh config space view, vectors wired to
/// new physical LPIs, DMA translated by the guest's stage 2 again.
/// A function that could not be reset stays taken (its slot reads as empty): what the old
/// boot left in it -- queues, ring addresses, DMA in flight -- must not meet the new guest.
fn give_devices(vm: &Vm, reset_slots: u64) {
    let Some(bus) = &vm.pci else {
        return;
    };
    for assigned in bus.assigned() {
        if reset_slots & 1 << assigned.slot == 0 {
            log::warn!(
                "pci {}: not given back to the guest: it could not be reset, so its state is unknown",
                assigned.function.lock().host_bdf
            );
            continue;
        }
        let host_bus = &bus.hosts[assigned.host_bus];
        let bdf = assigned.function.lock().host_bdf;
        let Some(host_function) = host_bus.functions.iter().find(|f| f.bdf == bdf) else {
            continue;
        };
        let (function, lpis) = bus::fresh_function(
            vm.host.its.as_ref(),
            assigned.its_device_id,
            host_function,
            &host_bus.ecam,
        );
        assigned.set_msix_lpis(lpis);
        *assigned.function.lock() = function;
        vm.set_dma_translated(assigned.slot, true);
    }
    msi::route_home(vm);
}
