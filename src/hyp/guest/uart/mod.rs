//! The guest's console: its emulated PL011 fed from and drained to sluice's physical console.

pub mod mirror;

use super::table;
use super::vm::{Emulator, Vm};
use crate::arch::context::GuestFrame;
use crate::arch::cpu;
use crate::hyp::leaf::{canary, console, stats};
use alloc::vec::Vec;
use sluice::conmux::Command;
use sluice::stats::ExitReason;
use sluice::trap::{self, MmioAccess};
use sluice::vuart::QuickAccess;

/// The short path of a synchronous exit, taken before the exit machinery: a read of the
/// emulated UART's FR (trapped only while the read page is unmapped, `mirror`) or a
/// transmitting write of its DR (the guest's boot console: one exit per byte printed) is
/// completed here with the UART's lock alone. Neither changes the UART's interrupt line, so
/// the vGIC and the list registers, untouched, stay right. True when the exit (`access`,
/// syndrome `esr`) was completed; false (nothing done) for any other.
pub fn quick_exit(vm: &Vm, frame: &mut GuestFrame, access: &MmioAccess, esr: u64) -> bool {
    let Some(region) = vm
        .region(access.guest_phys)
        .filter(|r| r.emulator == Emulator::Uart)
    else {
        return false;
    };
    let offset = access.guest_phys - region.range.start;
    let write = access.is_write.then(|| frame.reg(access.register) as u32);
    let mut uart = vm.uart.lock();
    match uart.quick_access(offset, write) {
        None => return false,
        Some(QuickAccess::Read(value)) => {
            frame.set_reg(access.register, access.read_result(u64::from(value)))
        }
        // Under the UART's lock, as `access` does: the guest's bytes reach the console in
        // the order its vCPUs wrote them.
        Some(QuickAccess::Transmit(Some(byte))) => console::guest_output(vm.index(), byte),
        Some(QuickAccess::Transmit(None)) => {}
    }
    drop(uart);
    frame.pc = trap::next_pc(frame.pc, esr);
    stats::count(cpu::cpu_index(), ExitReason::MmioUart);
    true
}

/// A guest access to its PL011 at `offset`; the UART's interrupt line follows.
pub fn access(vm: &Vm, vcpu: usize, offset: u64, width: u8, write: Option<u64>) -> u64 {
    let mut uart = vm.uart.lock();
    let value = match write {
        None => uart.read(offset, width) as u64,
        Some(v) => {
            if let Some(byte) = uart.write(offset, width, v as u32) {
                console::guest_output(vm.index(), byte);
            }
            0
        }
    };
    let level = uart.irq_level();
    drop(uart);
    mark_stale(vm);
    let k = vm.vgic.lock().set_spi_level(vm.uart_intid, level);
    vm.kick(vcpu, k);
    value
}

/// The guest's UART model changed: its read page is brought in line before the next entry.
pub fn mark_stale(vm: &Vm) {
    if let Some(m) = &vm.uart_mirror {
        m.mark_stale();
    }
}

/// "No vCPU of this guest runs here" (`Vm::kick` then interrupts every target).
const NO_VCPU: usize = usize::MAX;

/// Feeds bytes typed on the physical console to the guest that has the input focus (this CPU
/// runs `vm`'s vCPU `vcpu`, whichever guest that is); Ctrl-\ prints sluice's exit table, and
/// a focus move is announced.
pub fn console_input(vm: &Vm, vcpu: usize) {
    // Collect first: the console lock is held while draining, and logging needs it.
    let mut effects = Vec::new();
    console::take_input(|effect| effects.push(effect));
    let guests = table::guests();
    let mut touched = alloc::vec![false; guests.len()];
    let mut dropped = 0;
    for effect in &effects {
        let Some((guest, bytes)) = effect.delivery() else {
            continue;
        };
        let Some(target) = guests.get(guest) else {
            continue;
        };
        let mut uart = target.uart.lock();
        dropped += bytes.iter().filter(|&&b| !uart.push_rx(b)).count();
        drop(uart);
        mark_stale(target);
        touched[guest] = true;
    }
    if dropped > 0 {
        log::warn!("guest console input overflow: {dropped} bytes dropped");
    }
    for command in effects.iter().filter_map(|e| e.command) {
        match command {
            Command::ShowExitTable => {
                stats::print(vm.host.platform.cpus.len());
                canary::check();
            }
            Command::FocusMoved(announcement) => log::info!("{announcement}"),
        }
        console::with_mux(|mux| mux.resume());
    }
    for (target, _) in guests.iter().zip(&touched).filter(|(_, &t)| t) {
        let level = target.uart.lock().irq_level();
        let k = target.vgic.lock().set_spi_level(target.uart_intid, level);
        let current = if core::ptr::eq(*target, vm) {
            vcpu
        } else {
            NO_VCPU
        };
        target.kick(current, k);
    }
}

/// Routes the physical console's interrupt to this CPU and turns on its receive interrupt, so
/// typing reaches the guest.
pub fn console_enable(vm: &Vm) {
    vm.host.dist.enable_spi(
        vm.host.platform.uart.intid,
        crate::arch::cpu::mpidr_affinity(),
        false,
    );
    console::enable_input_interrupt();
}
