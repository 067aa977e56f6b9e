//! DMA isolation: the SMMU translates each assigned function's DMA with the guest's DMA view,
//! a stage-2 table that mirrors the guest's RAM mapping plus the ITS doorbell page.
//!
//! The guest's CPU stage 2 is not shared with the SMMU on purpose: the CPU's must leave the ITS
//! frame unmapped (the guest's ITS is emulated there), while devices must reach the real
//! doorbell for their MSIs. BARs are not in the DMA view (no peer-to-peer DMA between
//! assigned devices), so mapping or unmapping a BAR never changes what a device can reach.

use super::bus::VirtualBus;
use crate::arch::cpu;
use crate::hyp::driver::ecam::HostBus;
use crate::hyp::driver::host::Host;
use crate::hyp::driver::smmu::{Smmu, SmmuSetupError, FAULTS_BEFORE_STOP};
use crate::hyp::leaf::tables::HeapTables;
use alloc::vec::Vec;
use core::fmt;
use sluice::mm::guest_ram::GuestRam;
use sluice::mm::pagetable::{self, Attributes, PageTable, Stage2Layout};
use sluice::platform::{IdMapping, Trigger};
use sluice::smmu::{address_size_bits, S2Config, SmmuError};

const PAGE: u64 = 4096;

/// An assigned function's stream: (virtual slot, StreamID).
pub type Stream = (u8, u32);

/// The guest's DMA view, installed in the SMMU for every assigned function.
pub struct DmaView {
    /// The mirror stage 2: held so its tables live as long as the guest (the SMMU walks
    /// them; nothing edits them after `attach`).
    #[allow(dead_code)]
    pub table: PageTable,
    /// What the streams' STEs hold.
    pub s2: S2Config,
    /// The assigned functions' streams.
    pub streams: Vec<Stream>,
    /// The guest's VMID, which tags what the SMMU caches for these streams.
    pub vmid: u16,
}

/// Why DMA isolation could not be set up after guest RAM was placed for it.
#[derive(Debug)]
pub enum DmaError {
    /// Building the mirror table.
    Table(pagetable::PageTableError),
    /// The SMMU cannot walk that table.
    Smmu(SmmuError),
    /// Programming the SMMU.
    Setup(SmmuSetupError),
}

impl fmt::Display for DmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Table(e) => write!(f, "DMA stage-2 table: {e}"),
            Self::Smmu(e) => write!(f, "SMMU stage 2: {e}"),
            Self::Setup(e) => write!(f, "SMMU: {e}"),
        }
    }
}

/// The StreamID the SMMU gives requester `rid` behind host bus `host`, if it translates it.
fn stream_of(smmu: &Smmu, host: &HostBus, rid: u16) -> Option<u32> {
    match host.host.iommu_stream(rid) {
        IdMapping::Mapped { phandle, id } if Some(phandle) == smmu.phandle => Some(id),
        _ => None,
    }
}

/// Turns the SMMU on (once, for every guest) with every stream of the host buses `hosts`
/// aborting. False when DMA cannot be isolated: no usable SMMU.
pub fn enable(host: &Host, hosts: &[HostBus]) -> bool {
    let Some(smmu) = host.smmu.as_ref() else {
        return false;
    };
    let max_sid = hosts
        .iter()
        .flat_map(|h| h.functions.iter().map(move |f| (h, f.bdf.requester_id())))
        .filter_map(|(h, rid)| stream_of(smmu, h, rid))
        .max()
        .unwrap_or(0);
    if let Err(e) = smmu.enable(max_sid) {
        log::error!("smmu {}: {e}", smmu.frame);
        return false;
    }
    route_interrupts(host, cpu::mpidr_affinity());
    true
}

/// Routes the SMMU's interrupts (event queue, global errors) to the CPU with affinity
/// `mpidr`. One CPU serves every guest's faults (the events name the stream; the stream names
/// its owner): it must be a CPU that runs a guest, since a parked or halted CPU never takes
/// an interrupt. The boot flow picks the first guest's first CPU, a stopping guest hands them
/// on to a guest that still runs (`reboot`).
pub fn route_interrupts(host: &Host, mpidr: u64) {
    if let Some(smmu) = host.smmu.as_ref() {
        for irq in &smmu.irqs {
            host.dist
                .enable_spi(irq.intid, mpidr, irq.trigger == Trigger::Edge);
        }
    }
}

/// Each assigned function's StreamID, the SMMU being on (`enable`). `None` when the guest's
/// DMA cannot be isolated: a function whose requester ID the host's `iommu-map` does not
/// translate.
pub fn streams(host: &Host, bus: Option<&VirtualBus>) -> Option<Vec<Stream>> {
    let smmu = host.smmu.as_ref()?;
    let mut streams = Vec::new();
    for a in bus.iter().flat_map(|b| b.assigned()) {
        let bdf = a.function.lock().host_bdf;
        let Some(sid) = stream_of(smmu, &bus?.hosts[a.host_bus], bdf.requester_id()) else {
            log::warn!("pci {bdf}: no SMMU stream for its requester ID");
            return None;
        };
        streams.push((a.slot, sid));
    }
    Some(streams)
}

/// Builds the guest's DMA view and points every stream at it; `who` names the guest in the
/// log ("the guest", "guest NAME").
pub fn attach(
    smmu: &Smmu,
    ram: &GuestRam,
    doorbell: Option<u64>,
    vmid: u16,
    streams: Vec<Stream>,
    who: &str,
) -> Result<DmaView, DmaError> {
    // Only as large an IPA space as the view needs: the SMMU's walks start deeper (QEMU's
    // model also looks its IOTLB up once per level from the first).
    let doorbell_end = doorbell.map_or(0, |d| (d & !(PAGE - 1)) + PAGE);
    let ram_end = ram
        .banks()
        .iter()
        .map(|b| b.ipa.end_exclusive().unwrap_or(u64::MAX));
    let ram_end = ram_end.max().unwrap_or(0);
    let layout = Stage2Layout::covering(shared_pa_range(smmu), ram_end.max(doorbell_end));
    let mut mem = HeapTables::device_walked(smmu.coherent);
    let mut table = PageTable::new_stage2(&mut mem, &layout).map_err(DmaError::Table)?;
    ram.map_into(&mut table, &mut mem, Attributes::NORMAL_RW)
        .map_err(DmaError::Table)?;
    if let Some(doorbell) = doorbell {
        // Identity: devices are programmed with the doorbell's physical address.
        let page = doorbell & !(PAGE - 1);
        table
            .map(&mut mem, page, page, PAGE, Attributes::DEVICE_RW)
            .map_err(DmaError::Table)?;
    }
    let s2 = S2Config::from_vtcr(layout.vtcr_el2(), table.root_phys(), vmid, &smmu.features)
        .map_err(DmaError::Smmu)?;
    for &(slot, sid) in &streams {
        smmu.attach(sid, &s2).map_err(DmaError::Setup)?;
        log::info!("smmu: stream {sid:#x} (guest slot {slot}) translated by {who}'s stage 2");
    }
    Ok(DmaView {
        table,
        s2,
        streams,
        vmid,
    })
}

/// The largest PA size both the CPU and the SMMU handle (ID_AA64MMFR0.PARange encoding).
fn shared_pa_range(smmu: &Smmu) -> u8 {
    let cpu_range = cpu::pa_range();
    (0..=cpu_range)
        .rev()
        .find(|&e| address_size_bits(e).is_some_and(|b| b <= smmu.features.output_address_bits))
        .unwrap_or(0)
}

impl DmaView {
    /// The StreamID of the function in guest slot `slot`, if it has one.
    fn stream_of(&self, slot: u8) -> Option<u32> {
        self.streams
            .iter()
            .find(|&&(s, _)| s == slot)
            .map(|&(_, sid)| sid)
    }
}

impl DmaView {
    /// Points the stream of the function in `slot` at this DMA view again (`attach`) or back
    /// to aborting (guest reboot).
    pub fn set_slot_translated(&self, smmu: &Smmu, slot: u8, translated: bool) {
        let Some(sid) = self.stream_of(slot) else {
            return;
        };
        let done = if translated {
            smmu.attach(sid, &self.s2)
        } else {
            smmu.detach(sid, self.vmid)
        };
        if let Err(e) = done {
            log::error!("smmu: stream {sid:#x}: {e}");
        }
    }
}

/// Stops the device behind `sid` if it is one of this view's (it keeps faulting): bus
/// mastering off until the guest restarts; `who` names the guest in the log ("the guest",
/// "guest NAME"). A stream sluice did not attach has nothing to stop: it aborts anyway.
/// Whichever CPU runs it: the view and the bus are the owner's, under their own locks.
pub fn stop_faulting_stream(view: &DmaView, bus: &VirtualBus, sid: u32, who: &str) {
    if let Some(&(slot, _)) = view.streams.iter().find(|&&(_, s)| s == sid) {
        super::bus::revoke_bus_master(
            bus,
            slot,
            format_args!("of {who} made {FAULTS_BEFORE_STOP} DMA faults (SMMU stream {sid:#x})"),
        );
    }
}
