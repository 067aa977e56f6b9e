//! Trap dispatch by guest-physical region: which emulator owns an address, and the glue that
//! applies an emulator's side effects (kicking other vCPUs, console output, interrupt lines).

use super::driver::host::Host;
use super::leaf::{canary, console, kick as leaf_kick, stats};
use super::vm::Vm;
use alloc::vec::Vec;
use sluice::mm::PhysRange;
use sluice::vgic::{Kick, REDIST_FRAME_BYTES};
use sluice::vuart::PL011_MMIO_SIZE;

/// What emulates a trapped region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulator {
    /// The virtual GIC distributor.
    GicDistributor,
    /// The virtual GIC redistributors, one 128 KiB frame pair per vCPU.
    GicRedistributors,
    /// The guest's PL011 console.
    Uart,
    /// The virtual PCI host bridge's configuration space.
    PciEcam,
    /// The guest's virtual ITS.
    Its,
}

/// One trapped guest-physical region.
#[derive(Clone, Copy, Debug)]
pub struct MmioRegion {
    /// Guest-physical addresses covered.
    pub range: PhysRange,
    /// Who emulates them.
    pub emulator: Emulator,
}

/// GICD is a 64 KiB frame (IHI 0069, 12.8).
const GICD_FRAME_BYTES: u64 = 0x1_0000;

/// The regions every guest has; later issues add ECAM, ITS and MSI-X tables here.
pub fn regions(host: &Host, vcpu_count: usize) -> Vec<MmioRegion> {
    let p = &host.platform;
    Vec::from([
        MmioRegion {
            range: PhysRange::new(p.gic.dist.start, GICD_FRAME_BYTES),
            emulator: Emulator::GicDistributor,
        },
        MmioRegion {
            range: PhysRange::new(
                p.gic.redist_regions[0].start,
                REDIST_FRAME_BYTES * vcpu_count as u64,
            ),
            emulator: Emulator::GicRedistributors,
        },
        MmioRegion {
            range: PhysRange::new(p.uart.base.start, PL011_MMIO_SIZE),
            emulator: Emulator::Uart,
        },
    ])
}

/// A trapped access the emulator refused (bad width or alignment).
#[derive(Debug, Clone, Copy)]
pub struct Refused;

/// Emulates a read (`write == None`) or a write at `offset` inside `region`.
pub fn access(
    vm: &Vm,
    vcpu: usize,
    region: &MmioRegion,
    offset: u64,
    width: u8,
    write: Option<u64>,
) -> Result<u64, Refused> {
    match region.emulator {
        Emulator::GicDistributor => {
            let mut vgic = vm.vgic.lock();
            match write {
                None => vgic.dist_read(offset, width).map_err(|_| Refused),
                Some(v) => vgic
                    .dist_write(offset, width, v)
                    .map(|k| kick(vm, vcpu, k))
                    .map(|_| 0)
                    .map_err(|_| Refused),
            }
        }
        Emulator::GicRedistributors => {
            let target = (offset / REDIST_FRAME_BYTES) as usize;
            let frame_offset = offset % REDIST_FRAME_BYTES;
            let mut vgic = vm.vgic.lock();
            match write {
                None => vgic
                    .redist_read(target, frame_offset, width)
                    .map_err(|_| Refused),
                Some(v) => {
                    let result = vgic
                        .redist_write(target, frame_offset, width, v)
                        .map_err(|_| Refused);
                    let reloads = vgic.take_lpi_reload_requests();
                    drop(vgic);
                    for intid in reloads {
                        super::msi::reload(vm, vcpu, intid);
                    }
                    result.map(|k| kick(vm, vcpu, k)).map(|_| 0)
                }
            }
        }
        Emulator::Uart => Ok(uart_access(vm, vcpu, offset, width, write)),
        Emulator::Its => super::msi::its_access(vm, vcpu, offset, width, write).ok_or(Refused),
        Emulator::PciEcam => match &vm.pci {
            Some(bus) => Ok(super::pci::ecam_access(vm, bus, offset, width, write)),
            None => Err(Refused),
        },
    }
}

fn uart_access(vm: &Vm, vcpu: usize, offset: u64, width: u8, write: Option<u64>) -> u64 {
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
    kick(vm, vcpu, k);
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
        stats::print(vm.vcpu_mpidrs.len());
        canary::check();
    }
    let k = vm.vgic.lock().set_spi_level(vm.uart_intid, level);
    kick(vm, vcpu, k);
}

/// Interrupts the physical CPUs of the vCPUs in `k` (other than `current`), so they exit and
/// load their list registers again.
pub fn kick(vm: &Vm, current: usize, k: Kick) {
    leaf_kick::send(&vm.vcpu_mpidrs, current, k);
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
