//! Boot flow: from the assembly stub to the first guest instruction.
//!
//! Primary CPU: console and log from the host DT, heap, EL2 MMU, physical GIC, the VM (guest RAM,
//! stage 2, guest DT, images), then the secondary CPUs through host PSCI, then vCPU 0.
//! Secondary CPUs: MMU (entry.S), GIC, traps, then wait for the guest's PSCI CPU_ON.

use crate::arch::{cpu, uart};
use crate::hyp::guest::{reboot, run, table};
use crate::hyp::leaf::{canary, console, heap, profile, stop};
use sluice::board::{self, MsiSupport};
use sluice::platform::{self, Platform};

mod guests;
mod host;

/// A static arena that lets the heap work before host RAM has been carved.
const BOOT_HEAP_BYTES: usize = 1 << 20;
#[repr(align(4096))]
#[allow(dead_code)] // only its address is used
struct BootHeap([u8; BOOT_HEAP_BYTES]);
static mut BOOT_HEAP: BootHeap = BootHeap([0; BOOT_HEAP_BYTES]);

/// Entered from `boot/entry.S` on the boot CPU with the MMU off.
#[no_mangle]
extern "C" fn primary_main(dtb_phys: usize, load_phys: usize, current_el: u64) -> ! {
    let boot_counter = cpu::counter();
    // SAFETY: the arena is in .bss, zeroed by entry.S and used by nothing but the heap.
    unsafe { heap::init(core::ptr::addr_of_mut!(BOOT_HEAP) as usize, BOOT_HEAP_BYTES) };
    profile::start(boot_counter);
    let dtb = match read_dtb(dtb_phys) {
        Some(dtb) => dtb,
        None => stop::halt(), // no DT, so no UART to complain on
    };
    let platform = match platform::parse(dtb) {
        Ok(p) => p,
        Err(e) => fatal_without_platform(dtb, format_args!("bad host device tree: {e}")),
    };
    profile::mark("dt");
    // SAFETY: the DT names this PL011 as the console; nothing else drives it.
    console::init(unsafe { uart::Pl011::new(platform.uart.base.start as usize) });
    console::init_log(log::LevelFilter::Info);
    stop::set_firmware_conduit(platform.psci.method);
    // Before any GIC system register or EL2 translation is touched.
    let shape = board::check(&cpu::board_features(current_el), &platform)
        .unwrap_or_else(|missing| stop::fatal(format_args!("cannot run on this board: {missing}")));
    banner(&platform);
    log::info!("{shape}");
    if let Some(reason) = MsiSupport::of(&platform).unavailable_reason() {
        log::warn!("{reason}");
    }
    profile::mark("console");
    let host = host::init(platform, dtb_phys as u64, load_phys as u64)
        .unwrap_or_else(|e| stop::fatal(format_args!("{e}")));
    canary::plant();
    guests::create(host);
    host::start_secondaries(host);
    profile::mark("secondaries");
    // A guest whose first vCPU has no CPU can never run: stopped before anything starts
    // (a missing later vCPU is the guest's to cope with, as on hardware: its CPU_ON never
    // completes).
    for vm in table::guests() {
        if !host::cpu_is_up(vm.cpus[0]) {
            reboot::stop_unstarted(
                vm,
                format_args!("its vCPU 0 has no CPU (CPU {} did not start)", vm.cpus[0]),
            );
        }
    }
    host::release_guests(host);
    let elapsed_us = (cpu::counter() - boot_counter) * 1_000_000 / cpu::counter_hz().max(1);
    let Some((vm, vcpu)) = table::current() else {
        stop::halt()
    };
    // Before the usage line: the profile's own heap must not count as the guest's boot 0.
    profile::finish();
    for vm in table::guests() {
        reboot::log_usage(vm, reboot::boot_number(vm));
    }
    log::info!(
        "entry to guest: {elapsed_us} us; starting vCPU 0 at {:#x}",
        vm.kernel_entry
    );
    run::run_vcpu(vm, vcpu)
}

/// Entered from `boot/entry.S` on a secondary CPU, MMU already on.
#[no_mangle]
extern "C" fn secondary_main(cpu_index: usize) -> ! {
    cpu::set_cpu_index(cpu_index);
    let host = host::get();
    let redist = host::init_this_cpu(host, cpu_index);
    if let Some(its) = &host.its {
        its.map_cpu_collection(cpu_index, redist.processor_number(), redist.base(), false);
    }
    host::secondary_up(cpu_index);
    match table::job_of(cpu_index) {
        Some((vm, vcpu)) => run::run_vcpu(vm, vcpu),
        None => stop::halt(),
    }
}

fn read_dtb(dtb_phys: usize) -> Option<&'static [u8]> {
    if dtb_phys == 0 || dtb_phys % 8 != 0 {
        return None;
    }
    // SAFETY: the boot protocol puts a DTB at x0; its header (magic + size) is read first and
    // the slice spans exactly the size the header gives.
    let header = unsafe { core::slice::from_raw_parts(dtb_phys as *const u8, 8) };
    if header[..4] != [0xd0, 0x0d, 0xfe, 0xed] {
        return None;
    }
    let size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    // SAFETY: as above; the firmware reserved the whole blob.
    Some(unsafe { core::slice::from_raw_parts(dtb_phys as *const u8, size) })
}

fn banner(platform: &Platform) {
    log::info!(
        "sluice {} (PCI passthrough hypervisor) at EL2",
        env!("CARGO_PKG_VERSION")
    );
    let ram: u64 = platform.memory.iter().map(|r| r.size_bytes).sum();
    log::info!(
        "platform: {} CPUs, {} MiB RAM, GICv3 dist {} ITS {}, console {} (SPI {}), PSCI via {:?}",
        platform.cpus.len(),
        ram >> 20,
        platform.gic.dist,
        platform.gic.its.len(),
        platform.uart.base,
        platform.uart.intid,
        platform.psci.method
    );
}

/// A boot error found before the console is known: try the DT's stdout UART directly.
fn fatal_without_platform(dtb: &[u8], args: core::fmt::Arguments) -> ! {
    if let Some(base) = platform::console_base(dtb) {
        // SAFETY: the DT names this PL011 as stdout; nothing else drives it yet.
        console::init(unsafe { uart::Pl011::new(base as usize) });
        console::print_line(format_args!("FATAL: {args}"));
    }
    stop::power_off_or_halt()
}
