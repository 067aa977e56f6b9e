//! The guest's one MMIO dispatcher: every trapped data abort with a syndrome comes here, finds
//! who emulates the address -- a fixed region of `Vm::mmio` (GICD, GICR, vITS, virtual ECAM,
//! PL011), else an assigned function's MSI-X table or PBA page -- and completes the access or
//! injects an abort.

use super::bus::VirtualBus;
use super::vm::{Emulator, MmioRegion, Vm};
use super::{msi, uart, vpci};
use crate::arch::context::GuestFrame;
use crate::arch::cpu::read_sysreg;
use crate::arch::mmio::MmioBase;
use crate::hyp::leaf::fault::{guest_fault, inject};
use crate::hyp::leaf::stats;
use sluice::stats::ExitReason;
use sluice::trap::{self, InjectKind, MmioAccess};
use sluice::vgic::REDIST_FRAME_BYTES;
use sluice::vpci::function::MsixAccess;

/// A trapped access the emulator refused (bad width or alignment).
#[derive(Debug, Clone, Copy)]
pub struct Refused;

/// Completes the trapped access `access` of vCPU `vcpu`: the read value goes to the guest's
/// register and the PC moves on, or the guest takes a data abort.
pub fn handle(vm: &Vm, vcpu: usize, frame: &mut GuestFrame, access: &MmioAccess, esr: u64) {
    let value = access.is_write.then(|| frame.reg(access.register));
    let (region, result) = dispatch(vm, vcpu, access.guest_phys, access.width_bytes, value);
    stats::count(
        crate::arch::cpu::cpu_index(),
        mmio_reason(region.map(|r| r.emulator), result.is_ok()),
    );
    match result {
        Ok(value) => {
            if !access.is_write {
                frame.set_reg(access.register, access.read_result(value));
            }
            frame.pc = trap::next_pc(frame.pc, esr);
        }
        Err(Refused) => {
            guest_fault(format_args!(
                "{}: guest {} of {} bytes at IPA {:#x} ({}) not allowed: data abort injected (pc {:#x})",
                vm.vcpu_label(vcpu),
                if access.is_write { "write" } else { "read" },
                access.width_bytes,
                access.guest_phys,
                region.map_or("no device", |_| "refused by emulator"),
                frame.pc
            ));
            inject(
                frame,
                InjectKind::DataAbort {
                    far: read_sysreg!("far_el2"),
                    is_write: access.is_write,
                },
            );
        }
    }
}

/// Finds who emulates `guest_phys` and performs the access there: (the fixed region it is in,
/// if any; the value read, or why not).
fn dispatch(
    vm: &Vm,
    vcpu: usize,
    guest_phys: u64,
    width: u8,
    write: Option<u64>,
) -> (Option<&MmioRegion>, Result<u64, Refused>) {
    let region = vm.region(guest_phys);
    let result = match region {
        Some(r) => emulate(vm, vcpu, r, guest_phys - r.range.start, width, write),
        // Not a fixed device: maybe the MSI-X table or PBA page of an assigned function.
        None => vm
            .pci
            .as_ref()
            .and_then(|bus| msix_access(vm, bus, guest_phys, width, write))
            .ok_or(Refused),
    };
    (region, result)
}

/// The accounting class of an MMIO exit, from who handled it.
fn mmio_reason(emulator: Option<Emulator>, handled: bool) -> ExitReason {
    match (emulator, handled) {
        (_, false) => ExitReason::MmioUnhandled,
        (Some(Emulator::GicDistributor), _) => ExitReason::MmioGicd,
        (Some(Emulator::GicRedistributors), _) => ExitReason::MmioGicr,
        (Some(Emulator::Its), _) => ExitReason::MmioIts,
        (Some(Emulator::PciEcam), _) => ExitReason::MmioEcam,
        (Some(Emulator::Uart), _) => ExitReason::MmioUart,
        (None, true) => ExitReason::MmioMsix,
    }
}

/// Emulates a read (`write == None`) or a write at `offset` inside the fixed `region`.
fn emulate(
    vm: &Vm,
    vcpu: usize,
    region: &MmioRegion,
    offset: u64,
    width: u8,
    write: Option<u64>,
) -> Result<u64, Refused> {
    match region.emulator {
        Emulator::GicDistributor => gicd_access(vm, vcpu, offset, width, write),
        Emulator::GicRedistributors => gicr_access(vm, vcpu, offset, width, write),
        Emulator::Uart => Ok(uart::access(vm, vcpu, offset, width, write)),
        Emulator::Its => msi::its_access(vm, vcpu, offset, width, write).ok_or(Refused),
        Emulator::PciEcam => match &vm.pci {
            Some(bus) => Ok(vpci::ecam_access(vm, bus, offset, width, write)),
            None => Err(Refused),
        },
    }
}

fn gicd_access(
    vm: &Vm,
    vcpu: usize,
    offset: u64,
    width: u8,
    write: Option<u64>,
) -> Result<u64, Refused> {
    let mut vgic = vm.vgic.lock();
    let Some(v) = write else {
        return vgic.dist_read(offset, width).map_err(|_| Refused);
    };
    let result = vgic.dist_write(offset, width, v);
    let foreign = vgic.take_foreign_spi_write();
    drop(vgic);
    if let Some(f) = foreign {
        guest_fault(format_args!(
            "{} vCPU {vcpu}: {} write refused: SPI {} is not the guest's ({} such SPIs in the write, ignored)",
            vm.label(),
            f.register,
            f.intid,
            f.count
        ));
    }
    result
        .map(|k| vm.kick(vcpu, k))
        .map(|_| 0)
        .map_err(|_| Refused)
}

fn gicr_access(
    vm: &Vm,
    vcpu: usize,
    offset: u64,
    width: u8,
    write: Option<u64>,
) -> Result<u64, Refused> {
    let target = (offset / REDIST_FRAME_BYTES) as usize;
    let frame_offset = offset % REDIST_FRAME_BYTES;
    let mut vgic = vm.vgic.lock();
    let Some(v) = write else {
        return vgic
            .redist_read(target, frame_offset, width)
            .map_err(|_| Refused);
    };
    let result = vgic
        .redist_write(target, frame_offset, width, v)
        .map_err(|_| Refused);
    let reloads = vgic.take_lpi_reload_requests();
    drop(vgic);
    for intid in reloads {
        msi::reload(vm, vcpu, intid);
    }
    result.map(|k| vm.kick(vcpu, k)).map(|_| 0)
}

/// A trapped access that may be in an assigned function's MSI-X table or PBA pages.
fn msix_access(
    vm: &Vm,
    bus: &VirtualBus,
    guest_phys: u64,
    width: u8,
    write: Option<u64>,
) -> Option<u64> {
    for assigned in bus.assigned() {
        let mut function = assigned.function.lock();
        match function.msix_access(guest_phys, width, write) {
            MsixAccess::NotTrapped => continue,
            MsixAccess::Table { value, changed } => {
                if let Some(index) = changed {
                    msi::program_vector(vm, &function, index);
                }
                return Some(value);
            }
            MsixAccess::Forward { host_phys } => return forward(host_phys, width, write),
            MsixAccess::Refused => return None,
        }
    }
    None
}

/// Performs exactly the guest's access on the real BAR; `None` (the guest gets an abort) when
/// the device answers it with an abort.
fn forward(host_phys: u64, width: u8, write: Option<u64>) -> Option<u64> {
    // SAFETY: `host_phys` is in a page of an assigned function's BAR (`msix_access` checked
    // it), identity-mapped as Device memory; the access keeps the guest's width.
    let regs = unsafe { MmioBase::new(host_phys as usize) };
    match write {
        None => regs.try_read(0, width),
        Some(v) => regs.try_write(0, width, v).then_some(0),
    }
}
