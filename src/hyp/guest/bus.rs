//! The guest's virtual PCI bus: which host functions it owns, in which slots, with their
//! emulated config space (one lock per function) and the physical LPIs wired to their MSI and
//! MSI-X vectors. Data and wiring only: what a guest config access does is `vpci`'s.

use crate::hyp::driver::ecam::{Ecam, HostBus};
use crate::hyp::driver::its::PhysicalIts;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sluice::mm::PhysRange;
use sluice::pci::enumerate::HostFunction;
use sluice::pci::Bdf;
use sluice::platform::{IdMapping, PciHost};
use sluice::vpci::layout::GuestPciLayout;
use sluice::vpci::topology::{Assignment, SLOTS};
use sluice::vpci::VirtualFunction;
use spin::Mutex;

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
    /// The host buses its functions come from (every guest's, enumerated once at boot).
    pub hosts: &'static [HostBus],
    /// Assigned functions by slot.
    pub slots: Vec<Option<AssignedFunction>>,
    /// BAR ranges mapped in stage 2 now, to refuse overlaps: (range, slot, bar). Taken after
    /// a function's lock, never before.
    pub mapped: Mutex<Vec<(PhysRange, u8, u8)>>,
}

impl VirtualBus {
    /// Assigns the selected endpoints of every host bus, in order, to slots 0, 1, ...
    /// `guest`: the guest's name when guests are described in the tree (the functions
    /// `assignment` leaves out are other guests', not worth a line each); `None` for the
    /// single guest, whose left-out functions `sluice.pci=` excluded.
    pub fn new(
        layout: GuestPciLayout,
        hosts: &'static [HostBus],
        assignment: &Assignment,
        its: Option<&PhysicalIts>,
        guest: Option<&str>,
    ) -> Self {
        let mut slots: Vec<Option<AssignedFunction>> = (0..SLOTS).map(|_| None).collect();
        let mut next = 0usize;
        for (host_bus, bus) in hosts.iter().enumerate() {
            for f in bus.functions.iter().filter(|f| f.is_assignable_endpoint()) {
                if !assignment.includes(f.bdf) {
                    if guest.is_some() {
                        continue;
                    }
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
                match guest {
                    Some(name) => {
                        log::info!(
                            "pci {} assigned to guest {name} as 00:{:02x}.0",
                            f.bdf,
                            next
                        )
                    }
                    None => log::info!("pci {} assigned to the guest as 00:{:02x}.0", f.bdf, next),
                }
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
