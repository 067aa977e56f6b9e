//! PCI passthrough glue: the guest's
//! virtual bus (one lock per function), and applying what a guest config access implies
//! (stage-2 BAR mappings, checked first).

use super::driver::ecam::{Ecam, HostBus};
use super::driver::its::PhysicalIts;
use super::leaf::fault::guest_fault;
use super::vm::Vm;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sluice::mm::pagetable::Attributes;
use sluice::mm::PhysRange;
use sluice::pci::enumerate::HostFunction;
use sluice::pci::Bdf;
use sluice::platform::{IdMapping, PciHost};
use sluice::vpci::layout::GuestPciLayout;
use sluice::vpci::topology::{self, Assignment, EcamTarget, SLOTS};
use sluice::vpci::{Action, VirtualFunction};
use spin::Mutex;

/// Offset of the first extended capability header (PCIe Base 4.0, 7.6).
const EXTENDED_CAPABILITY_HEADER: u16 = 0x100;

/// A function the guest owns, in its slot on the virtual bus.
pub struct AssignedFunction {
    /// Virtual slot (device number on guest bus 0).
    pub slot: u8,
    /// Which host bus it is on (index into `Vm::pci_hosts`).
    pub host_bus: usize,
    /// GIC INTID of its INTx, if it has one.
    pub intx_intid: Option<u32>,
    /// Its interrupt pin (1..4), 0 for none.
    pub intx_pin: u8,
    /// The DeviceID its MSIs carry to the physical ITS (the host's `msi-map`), if any.
    pub its_device_id: Option<u32>,
    /// Physical LPIs wired to its MSI/MSI-X vectors, packed by `pack_lpis` (0: none). Atomic
    /// because a guest reboot rewires them while interrupts may be looked up.
    msix_lpis: AtomicU64,
    /// Its emulated config space; the lock serialises config accesses and teardown.
    pub function: Mutex<VirtualFunction>,
}

/// The guest's virtual PCI bus.
pub struct VirtualBus {
    /// Where it lives in the guest.
    pub layout: GuestPciLayout,
    /// The host buses its functions come from.
    pub hosts: Vec<HostBus>,
    /// Assigned functions by slot.
    pub slots: Vec<Option<AssignedFunction>>,
    /// BAR ranges mapped in stage 2 now, to refuse overlaps: (range, slot, bar). Taken after
    /// a function's lock, never before.
    pub mapped: Mutex<Vec<(PhysRange, u8, u8)>>,
}

impl VirtualBus {
    /// Assigns the selected endpoints of every host bus, in order, to slots 0, 1, ...
    pub fn new(
        layout: GuestPciLayout,
        hosts: Vec<HostBus>,
        assignment: &Assignment,
        its: Option<&PhysicalIts>,
    ) -> Self {
        let mut slots: Vec<Option<AssignedFunction>> = (0..SLOTS).map(|_| None).collect();
        let mut next = 0usize;
        for (host_bus, bus) in hosts.iter().enumerate() {
            for f in bus.functions.iter().filter(|f| f.is_assignable_endpoint()) {
                if !assignment.includes(f.bdf) {
                    log::info!(
                        "pci {} not assigned (sluice.pci): the guest does not see it",
                        f.bdf
                    );
                    continue;
                }
                if next >= SLOTS {
                    log::warn!(
                        "pci {}: no free slot on the guest's bus (32 used); not assigned",
                        f.bdf
                    );
                    continue;
                }
                let intx_intid = f
                    .root_intx
                    .and_then(|(device, pin)| bus.host.intx_intid(device, pin));
                log::info!("pci {} assigned to the guest as 00:{:02x}.0", f.bdf, next);
                let its_device_id = its_device_id(&bus.host, f.bdf);
                let (function, msix_lpis) = fresh_function(its, its_device_id, f, &bus.ecam);
                slots[next] = Some(AssignedFunction {
                    slot: next as u8,
                    host_bus,
                    intx_intid,
                    intx_pin: f.interrupt_pin,
                    its_device_id,
                    msix_lpis: AtomicU64::new(pack_lpis(msix_lpis)),
                    function: Mutex::new(function),
                });
                next += 1;
            }
        }
        Self {
            layout,
            hosts,
            slots,
            mapped: Mutex::new(Vec::new()),
        }
    }

    /// Every assigned function.
    pub fn assigned(&self) -> impl Iterator<Item = &AssignedFunction> {
        self.slots.iter().flatten()
    }

    /// The function and MSI-X vector a physical LPI belongs to.
    pub fn lpi_owner(&self, lpi: u32) -> Option<(&AssignedFunction, usize)> {
        self.assigned().find_map(|a| {
            let (first, count) = a.msix_lpis()?;
            (lpi >= first && lpi - first < count).then(|| (a, (lpi - first) as usize))
        })
    }

    /// DeviceIDs of the guest's functions on its virtual ITS.
    pub fn guest_device_ids(&self) -> Vec<u32> {
        self.assigned()
            .map(AssignedFunction::guest_device_id)
            .collect()
    }
}

/// (first LPI, count) in one word: LPI INTIDs are never 0, so 0 means none.
fn pack_lpis(lpis: Option<(u32, u32)>) -> u64 {
    lpis.map_or(0, |(first, count)| {
        u64::from(first) << 32 | u64::from(count)
    })
}

impl AssignedFunction {
    /// Physical LPIs wired to its MSI/MSI-X vectors: (first, count).
    pub fn msix_lpis(&self) -> Option<(u32, u32)> {
        let packed = self.msix_lpis.load(Ordering::Acquire);
        (packed != 0).then_some(((packed >> 32) as u32, packed as u32))
    }

    /// Records a new wiring (guest reboot).
    pub fn set_msix_lpis(&self, lpis: Option<(u32, u32)>) {
        self.msix_lpis.store(pack_lpis(lpis), Ordering::Release);
    }

    /// The DeviceID the guest's ITS knows this function by: its requester ID on the virtual
    /// bus (the guest DT's msi-map is the identity).
    pub fn guest_device_id(&self) -> u32 {
        (self.slot as u32) << 3
    }
}

/// The DeviceID the physical ITS sees for `bdf`'s MSIs: its requester ID through the host
/// bridge's `msi-map` (identity without one). None when the map leaves it out: its MSIs reach
/// no ITS, so it gets INTx only. (sluice drives the first ITS; a map naming another one is
/// taken as naming it.)
fn its_device_id(host: &PciHost, bdf: Bdf) -> Option<u32> {
    match host.msi_device_id(bdf.requester_id()) {
        IdMapping::Mapped { id, .. } | IdMapping::Identity(id) => Some(id),
        IdMapping::Unmapped => {
            log::warn!("pci {bdf}: the host msi-map leaves it out: no MSI, INTx only");
            None
        }
    }
}

/// A function's config space as a newly assigned guest sees it, with its MSI/MSI-X vectors
/// wired to physical LPIs of their own when it has an ITS DeviceID: (view, wired LPIs).
pub fn fresh_function(
    its: Option<&PhysicalIts>,
    its_device_id: Option<u32>,
    host: &HostFunction,
    ecam: &Ecam,
) -> (VirtualFunction, Option<(u32, u32)>) {
    let mut function = VirtualFunction::new(host, ecam);
    let lpis = its
        .zip(its_device_id)
        .and_then(|(its, device)| wire_msix(its, device, host, &mut function, ecam));
    (function, lpis)
}

/// Offers MSI-X to the guest and wires every vector to a physical LPI of its own, as events
/// 0.. of `device` (the function's DeviceID at the ITS).
fn wire_msix(
    its: &PhysicalIts,
    device: u32,
    host: &HostFunction,
    function: &mut VirtualFunction,
    ecam: &Ecam,
) -> Option<(u32, u32)> {
    function.offer_msix(ecam);
    function.offer_msi();
    let msix = function.msix().map_or(0, |t| t.entries.len() as u32);
    let count = msix.max(function.msi_vectors());
    if count == 0 {
        return None;
    }
    let Some(first) = its.lpis.lock().allocate(count) else {
        log::warn!(
            "pci {}: no physical LPIs left for {count} MSI/MSI-X vectors; INTx only",
            host.bdf
        );
        return None;
    };
    its.map_device(device, first, count);
    log::info!(
        "pci {}: {count} MSI/MSI-X vectors -> LPIs {first}..{}",
        host.bdf,
        first + count - 1
    );
    Some((first, count))
}

/// De-assign hook: takes `slot`'s function away from the guest while holding its lock, so no
/// config access can race the teardown: BARs unmapped (TLBs invalidated), the device
/// quiesced, and the slot reading as empty from then on.
#[allow(dead_code)] // first user: guest reboot (issue 6)
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
        "pci {} taken from the guest (slot {slot})",
        function.host_bdf
    );
}

/// Turns bus mastering off for the function in `slot` until the guest restarts (it keeps
/// faulting in the SMMU); the guest's own view of its command register is left alone.
pub fn revoke_bus_master(bus: &VirtualBus, slot: u8, reason: core::fmt::Arguments) {
    let Some(assigned) = bus.slots.get(slot as usize).and_then(Option::as_ref) else {
        return;
    };
    let ecam = &bus.hosts[assigned.host_bus].ecam;
    let mut function = assigned.function.lock();
    if function.is_bus_master_revoked() {
        return;
    }
    function.revoke_bus_master(ecam);
    log::warn!(
        "pci {} (guest 00:{slot:02x}.0) {reason}: bus mastering turned off until the guest restarts",
        function.host_bdf
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
        Action::MsixControl => super::msi::program_control(vm, bus, assigned, function),
        Action::MsixVector { index } => super::msi::program_vector(vm, function, index),
        Action::MsiControl => super::msi::program_msi(vm, bus, assigned, function),
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
