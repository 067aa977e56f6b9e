//! The guest's ECAM window: a guest config access to an assigned function, and applying what
//! it implies (stage-2 BAR mappings, checked first; MSI and MSI-X reprogramming), plus the
//! de-assign hook that takes a function back.

use super::bus::{AssignedFunction, VirtualBus};
use super::msi;
use super::vm::Vm;
use crate::hyp::leaf::fault::guest_fault;
use alloc::vec::Vec;
use sluice::mm::pagetable::Attributes;
use sluice::mm::PhysRange;
use sluice::vpci::topology::{self, EcamTarget};
use sluice::vpci::{Action, VirtualFunction};

/// Offset of the first extended capability header (PCIe Base 4.0, 7.6).
const EXTENDED_CAPABILITY_HEADER: u16 = 0x100;

/// De-assign hook: takes `slot`'s function away from the guest while holding its lock, so no
/// config access can race the teardown: BARs unmapped (TLBs invalidated), the device
/// quiesced, and the slot reading as empty from then on.
pub fn deassign(vm: &Vm, bus: &VirtualBus, slot: u8) {
    let Some(assigned) = bus.slots.get(slot as usize).and_then(Option::as_ref) else {
        return;
    };
    let ecam = &bus.hosts[assigned.host_bus].ecam;
    let mut function = assigned.function.lock();
    let actions = function.teardown(ecam);
    for action in actions {
        apply(vm, bus, assigned, &mut function, action, true);
    }
    log::info!(
        "pci {} taken from {} (slot {slot})",
        function.host_bdf,
        vm.object_label()
    );
}

/// Removes from stage 2 every piece of BAR `bar` of `slot` that is mapped now, and forgets it.
fn unmap_recorded(vm: &Vm, bus: &VirtualBus, slot: u8, bar: u8) {
    let pieces: Vec<PhysRange> = {
        let mut mapped = bus.mapped.lock();
        let pieces = mapped
            .iter()
            .filter(|&&(_, s, b)| (s, b) == (slot, bar))
            .map(|&(r, _, _)| r)
            .collect();
        mapped.retain(|&(_, s, b)| (s, b) != (slot, bar));
        pieces
    };
    for piece in pieces {
        if let Err(e) = vm.unmap(piece.start, piece.size_bytes) {
            log::error!("vpci 00:{slot:02x}.0 bar {bar}: unmap of {piece} failed: {e}");
        }
    }
}

/// A guest access to its ECAM window.
pub fn ecam_access(vm: &Vm, bus: &VirtualBus, offset: u64, width: u8, write: Option<u64>) -> u64 {
    let mut result = 0u64;
    for (piece_offset, piece_width, shift) in topology::split_access(offset, width) {
        let piece = write.map(|v| (v >> shift) as u32);
        let value = match topology::decode(piece_offset) {
            EcamTarget::Slot { slot, offset } => {
                match bus.slots.get(slot as usize).and_then(Option::as_ref) {
                    Some(assigned) => {
                        function_access(vm, bus, assigned, offset, piece_width, piece)
                    }
                    None => u32::MAX,
                }
            }
            EcamTarget::Nothing => u32::MAX,
        };
        let mask = if piece_width >= 4 {
            u32::MAX as u64
        } else {
            (1u64 << (8 * piece_width)) - 1
        };
        result |= (value as u64 & mask) << shift;
    }
    result
}

fn function_access(
    vm: &Vm,
    bus: &VirtualBus,
    assigned: &AssignedFunction,
    offset: u16,
    width: u8,
    write: Option<u32>,
) -> u32 {
    let ecam = &bus.hosts[assigned.host_bus].ecam;
    let mut function = assigned.function.lock();
    let (value, actions) = match write {
        None => {
            let (value, unclaimed) = function.read(ecam, offset, width);
            (value, unclaimed.into_iter().collect())
        }
        Some(v) => (0, function.write(ecam, offset, width, v)),
    };
    for action in actions {
        apply(vm, bus, assigned, &mut function, action, write.is_some());
    }
    value
}

fn apply(
    vm: &Vm,
    bus: &VirtualBus,
    assigned: &AssignedFunction,
    function: &mut VirtualFunction,
    action: Action,
    is_write: bool,
) {
    let slot = assigned.slot;
    match action {
        // Reading the first extended capability header is how every OS looks for extended
        // capabilities; that it reads 0 (none) is the policy, not a fault.
        Action::Unclaimed {
            offset: EXTENDED_CAPABILITY_HEADER,
        } if !is_write => {
            log::debug!("vpci 00:{slot:02x}.0: extended capabilities hidden")
        }
        Action::Unclaimed { offset } => guest_fault(format_args!(
            "vpci 00:{slot:02x}.0: guest {} of unclaimed config register {offset:#x}: {}",
            if is_write { "write" } else { "read" },
            if is_write { "dropped" } else { "reads 0" }
        )),
        // Only what was really mapped is unmapped: the pieces recorded for this BAR, never the
        // range the guest's BAR register claims (which may hold anything, guest RAM included,
        // when no piece of it was ever mapped).
        Action::Unmap { bar, .. } => unmap_recorded(vm, bus, slot, bar),
        Action::MsixControl => msi::program_control(vm, bus, assigned, function),
        Action::MsixVector { index } => msi::program_vector(vm, function, index),
        Action::MsiControl => msi::program_msi(vm, bus, assigned, function),
        Action::Map {
            bar,
            guest_phys,
            host_phys,
            size_bytes,
        } => {
            let range = PhysRange::new(guest_phys, size_bytes);
            let others: Vec<PhysRange> = bus
                .mapped
                .lock()
                .iter()
                .filter(|&&(_, s, b)| (s, b) != (slot, bar))
                .map(|&(r, _, _)| r)
                .collect();
            if let Err(why) = bus.layout.check_bar(range, host_phys, &others) {
                guest_fault(format_args!(
                    "vpci 00:{slot:02x}.0 bar {bar}: guest address {range} refused ({why}); left unmapped"
                ));
                unmap_recorded(vm, bus, slot, bar); // pieces of it mapped before this one
                function.mark_unmapped(bar);
                return;
            }
            match vm.map(guest_phys, host_phys, size_bytes, Attributes::DEVICE_RW) {
                Ok(()) => {
                    bus.mapped.lock().push((range, slot, bar));
                    log::info!(
                        "vpci 00:{slot:02x}.0 bar {bar} {guest_phys:#x} -> {host_phys:#x} {} KiB",
                        size_bytes >> 10
                    );
                }
                Err(e) => {
                    log::warn!(
                        "vpci 00:{slot:02x}.0 bar {bar}: cannot map {range}: {e}; left unmapped"
                    );
                    unmap_recorded(vm, bus, slot, bar);
                    function.mark_unmapped(bar);
                }
            }
        }
    }
}
