//! Putting the guest's images in its RAM, and wiping that RAM between boots. The only code that
//! writes guest RAM, always through its host address.

use crate::arch::cpu;
use crate::hyp::leaf::profile;
use sluice::bootprof::ticks_to_us;
use sluice::loader::GuestLayout;
use sluice::mm::guest_ram::GuestRam;
use sluice::mm::PhysRange;
use sluice::platform::GuestImages;

/// Copies the pristine kernel and initrd, and the guest DT, into guest RAM, then cleans them to
/// the point of coherency: the guest starts with its MMU and caches off.
pub(super) fn load_images(images: &GuestImages, ram: &GuestRam, layout: &GuestLayout, dtb: &[u8]) {
    let mut copies = alloc::vec![(layout.kernel.start, host_slice(images.kernel))];
    if let (Some(dst), Some(src)) = (layout.initrd, images.ramdisk) {
        copies.push((dst.start, host_slice(src)));
    }
    copies.push((layout.dtb.start, dtb));
    let spans: alloc::vec::Vec<(u64, u64)> = copies
        .iter()
        .map(|&(guest_phys, bytes)| (copy_to_guest(ram, guest_phys, bytes), bytes.len() as u64))
        .collect();
    profile::mark("image copy");
    for (host_phys, len) in spans {
        cpu::clean_dcache_range(host_phys, len);
    }
    profile::mark("cache clean");
}

/// Zeroes all of guest RAM (nothing of the old guest survives a reboot), then cleans it to
/// the point of coherency for a guest that starts with its caches off; logs how long each
/// half took. `label` names the guest in the line (`Vm::label`).
pub(super) fn scrub_logged(label: &str, ram: &GuestRam) {
    let started = cpu::counter();
    for bank in ram.banks() {
        let host = bank.host();
        // SAFETY: host RAM carved for this bank alone, mapped at EL2 as Normal memory; every
        // vCPU is parked and every device quiesced, so nothing else writes it.
        unsafe { cpu::zero_range(host.start, host.size_bytes) };
    }
    let zeroed = cpu::counter();
    for bank in ram.banks() {
        cpu::clean_dcache_range(bank.host().start, bank.host().size_bytes);
    }
    let hz = cpu::counter_hz();
    log::info!(
        "{label} RAM scrubbed: {} MiB in {} ms (zeroing {} ms, cache clean {} ms)",
        ram.size_bytes() >> 20,
        ticks_to_us(cpu::counter() - started, hz) / 1000,
        ticks_to_us(zeroed - started, hz) / 1000,
        ticks_to_us(cpu::counter() - zeroed, hz) / 1000
    );
}

/// Copies `bytes` to guest RAM at `guest_phys`; returns the host address written.
fn copy_to_guest(ram: &GuestRam, guest_phys: u64, bytes: &[u8]) -> u64 {
    let Some(host_phys) = ram.to_host(guest_phys, bytes.len() as u64) else {
        // The loader placed everything inside guest RAM; reaching this is a sluice bug.
        panic!(
            "guest image at {guest_phys:#x} outside guest RAM bank {}",
            ram.first_ipa()
        );
    };
    // SAFETY: `host_phys` is the host RAM behind the guest span, carved for this VM only
    // (identity-mapped at EL2), and the guest is not yet running.
    unsafe { cpu::copy_ram(host_phys, bytes.as_ptr() as u64, bytes.len() as u64) };
    host_phys
}

/// A boot module the firmware loaded, as a byte slice.
pub(super) fn host_slice(range: PhysRange) -> &'static [u8] {
    // SAFETY: boot modules are reserved at boot (never carved) and identity-mapped as RAM.
    unsafe { core::slice::from_raw_parts(range.start as *const u8, range.size_bytes as usize) }
}
