//! The guest's console: its emulated PL011 fed from and drained to sluice's physical console.

use super::vm::Vm;
use crate::hyp::leaf::{canary, console, stats};

/// A guest access to its PL011 at `offset`; the UART's interrupt line follows.
pub fn access(vm: &Vm, vcpu: usize, offset: u64, width: u8, write: Option<u64>) -> u64 {
    let mut uart = vm.uart.lock();
    let value = match write {
        None => uart.read(offset, width) as u64,
        Some(v) => {
            if let Some(byte) = uart.write(offset, width, v as u32) {
                console::guest_output(byte);
            }
            0
        }
    };
    let level = uart.irq_level();
    drop(uart);
    let k = vm.vgic.lock().set_spi_level(vm.uart_intid, level);
    vm.kick(vcpu, k);
    value
}

/// Typing Ctrl-\ on the console prints sluice's exit table instead of reaching the guest.
pub const CONSOLE_ESCAPE_STATS: u8 = 0x1c;

/// Feeds bytes typed on the physical console to the guest's UART.
pub fn console_input(vm: &Vm, vcpu: usize) {
    // Collect first: the console lock is held while draining, and logging needs it.
    let mut bytes = alloc::vec::Vec::new();
    console::take_input(|byte| bytes.push(byte));
    let mut uart = vm.uart.lock();
    let mut dropped = 0;
    let mut stats_requested = false;
    for byte in bytes {
        if byte == CONSOLE_ESCAPE_STATS {
            stats_requested = true;
        } else if !uart.push_rx(byte) {
            dropped += 1;
        }
    }
    let level = uart.irq_level();
    drop(uart);
    if dropped > 0 {
        log::warn!("guest console input overflow: {dropped} bytes dropped");
    }
    if stats_requested {
        stats::print(vm.host.platform.cpus.len());
        canary::check();
    }
    let k = vm.vgic.lock().set_spi_level(vm.uart_intid, level);
    vm.kick(vcpu, k);
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
