//! A page of RAM that answers the guest's reads of its PL011 without a trap.
//!
//! Linux's console reads FR before every byte it writes (`pl011_console_putchar`), so half of
//! the boot console's exits were FR reads. While no received byte waits, no register read has
//! a side effect, so stage 2 maps this page read-only (Device) at the UART's address, holding
//! what every register reads (`Pl011::read_image`): reads cost the guest nothing, writes fault
//! on it (stage-2 Permission faults, their IPA found with AT, `vcpu::decode_exit`) and are
//! emulated as before. While input waits the page is unmapped, so reads trap again and a DR
//! read takes a byte. The model changes only in exits and in console input; each marks the
//! page stale, and `sync` brings it in line before a vCPU enters the guest, so a vCPU never
//! sees the UART older than its own last access, and an interrupt the guest takes was raised
//! after the page stopped answering (the interrupt reaches the guest only through an entry).
//! Unaligned reads, which the model answers with 0, see the register's bytes here.

use super::super::vm::Vm;
use crate::arch::cpu;
use core::sync::atomic::{AtomicBool, Ordering};
use sluice::mm::pagetable::{Access, Attributes, MemoryKind};
use sluice::vuart::{IMAGE_REGISTERS, PL011_MMIO_SIZE};

/// How stage 2 maps the page: the guest reads it as the device it expects, and cannot write.
const PAGE_ATTRIBUTES: Attributes = Attributes::new(MemoryKind::Device, Access::R);

/// The page and its state, one per guest.
pub struct UartMirror {
    /// Guest-physical address of the UART's frame.
    ipa: u64,
    /// Host address of the page (sluice's heap, identity-mapped at EL2).
    page: u64,
    /// The model may have changed since the page was brought in line.
    stale: AtomicBool,
    /// Stage 2 maps the page; changed under the UART's lock only.
    mapped: AtomicBool,
}

impl UartMirror {
    /// A zeroed page for the UART frame at `ipa`, not mapped yet; None without heap for it
    /// (the guest's UART then traps on every access, as it always could).
    pub fn new(ipa: u64) -> Option<Self> {
        let layout = core::alloc::Layout::from_size_align(PL011_MMIO_SIZE as usize, 4096).ok()?;
        // SAFETY: a non-zero-sized layout; the page is never freed (a guest lives for ever).
        let page = unsafe { alloc::alloc::alloc_zeroed(layout) };
        (!page.is_null()).then(|| Self {
            ipa,
            page: page as u64,
            stale: AtomicBool::new(true),
            mapped: AtomicBool::new(false),
        })
    }

    /// Whether `ipa` is in the UART's frame.
    pub fn covers(&self, ipa: u64) -> bool {
        (self.ipa..self.ipa + PL011_MMIO_SIZE).contains(&ipa)
    }

    /// The model changed (or may have): `sync` must look again.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    fn write_image(&self, image: &[(u64, u32); IMAGE_REGISTERS]) {
        for &(offset, value) in image {
            let word = (self.page + offset) as *mut u32;
            // SAFETY: `offset` is an aligned register offset inside the page this mirror owns;
            // the guest only reads it, and a 32-bit aligned store is single-copy atomic.
            unsafe { word.write_volatile(value) };
        }
        // The guest reads the page as Device memory, which bypasses the caches.
        cpu::clean_dcache_range(self.page, PL011_MMIO_SIZE);
    }
}

/// Brings the guest's UART page in line with its model, if anything changed: image written
/// and page mapped while no input waits, unmapped (TLBs of the guest's CPUs invalidated)
/// while it does. Called before a vCPU enters the guest; costs one atomic swap otherwise.
pub fn sync(vm: &Vm) {
    let Some(mirror) = &vm.uart_mirror else {
        return;
    };
    if !mirror.stale.swap(false, Ordering::AcqRel) {
        return;
    }
    let uart = vm.uart.lock();
    let mapped = mirror.mapped.load(Ordering::Relaxed);
    match uart.read_image() {
        Some(image) => {
            mirror.write_image(&image);
            if !mapped {
                let page = PL011_MMIO_SIZE;
                match vm.map(mirror.ipa, mirror.page, page, PAGE_ATTRIBUTES) {
                    Ok(()) => mirror.mapped.store(true, Ordering::Relaxed),
                    // Left unmapped, every access traps: slower, never wrong.
                    Err(e) => log::warn!("{}: UART read page not mapped: {e}", vm.label()),
                }
            }
        }
        None if mapped => {
            match vm.unmap(mirror.ipa, PL011_MMIO_SIZE) {
                Ok(()) => mirror.mapped.store(false, Ordering::Relaxed),
                // Only the guest's own input is held up (its DR reads see the page).
                Err(e) => log::warn!("{}: UART read page not unmapped: {e}", vm.label()),
            }
        }
        None => {}
    }
}
