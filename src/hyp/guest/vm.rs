//! The guest: its RAM, stage-2 tables, emulated devices and vCPU power states.
//!
//! Guest RAM is one block of host RAM, which the guest sees as one or more banks
//! (`sluice::guestmap`). With an SMMU isolating DMA, the banks lie at IPAs laid out for the
//! guest, never all at their host addresses (only the SMMU's translation makes a device's DMA
//! land in them); without one RAM is identity-mapped. Every device the guest sees (GIC distributor and
//! redistributors, ITS, PL011) sits at the host's address but is never mapped, so each access
//! traps and is emulated.

use super::bus::VirtualBus;
use super::dma::{self, DmaView};
use super::uart::{self, mirror::UartMirror};
use crate::hyp::driver::ecam::HostBus;
use crate::hyp::driver::host::Host;
use crate::hyp::leaf::{kick, profile, tables::HeapTables};
use build::{build_pci, build_stage2, build_vgic, plan_guest};
use dt::build_guest_dt;
use load::{load_images, scrub_logged};
pub use regions::{Emulator, MmioRegion};

mod build;
mod dt;
mod load;
mod map;
mod regions;
mod state;
use crate::arch::{cpu, mmu};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use map::{plan_map, ram_list};
use sluice::bootprof::Profile;
use sluice::guestdt;
use sluice::guestmap;
use sluice::its::vits::VirtualIts;
use sluice::loader::{self, GuestLayout};
use sluice::mm::guest_ram::GuestRam;
use sluice::mm::pagetable::Leaves;
use sluice::mm::pagetable::{self, Attributes, PageTable};
use sluice::partition::GuestPlan;
use sluice::platform;
use sluice::psci::{self, VcpuPowerTable};
use sluice::trap::Unemulated;
use sluice::vgic::{Kick, SpiSet, Vgic};
pub use state::RebootState;

/// LPIs the guest's vITS and vGIC offer (INTIDs 8192..65535, 16 ID bits).
const GUEST_LPIS: u32 = 65536 - 8192;
use sluice::vuart::Pl011;
use spin::Mutex;

/// A running guest.
pub struct Vm {
    /// Its VMID (index + 1), which tags its CPU stage 2 and its SMMU streams.
    pub vmid: u16,
    /// Its name (the console prefix).
    pub name: String,
    /// Described by a guest node (else: the single guest of a tree without one).
    pub from_node: bool,
    /// Its kernel, initrd and command line (boot modules, reserved for ever).
    pub images: platform::GuestImages,
    /// The physical CPU (index) that runs each vCPU.
    pub cpus: Vec<usize>,
    /// The affinity (MPIDR) of the physical CPU that runs each vCPU: where kicks go.
    pub cpu_mpidrs: Vec<u64>,
    /// Where its reboot stands.
    pub reboot: RebootState,
    /// Guest RAM: its IPA range and the host RAM behind it.
    pub ram: GuestRam,
    /// Stage-2 translation of the guest.
    pub stage2: Mutex<PageTable>,
    /// Stage-2 translation control value.
    pub vtcr: u64,
    /// The virtual GIC.
    pub vgic: Mutex<Vgic>,
    /// The guest's console UART.
    pub uart: Mutex<Pl011>,
    /// INTID of the guest UART's interrupt.
    pub uart_intid: u32,
    /// The page answering reads of the UART without a trap, when there is heap for it.
    pub uart_mirror: Option<UartMirror>,
    /// vCPU power states (PSCI).
    pub power: Mutex<VcpuPowerTable>,
    /// Trapped guest-physical regions and their emulators.
    pub mmio: Vec<MmioRegion>,
    /// Each vCPU's virtual MPIDR affinity (`psci::vcpu_affinity`), as the guest sees it.
    pub vcpu_mpidrs: Vec<u64>,
    /// Where the kernel, initrd and DT go in guest RAM.
    pub layout: GuestLayout,
    /// Where vCPU 0 starts.
    pub kernel_entry: u64,
    /// The guest DT's address, passed in x0.
    pub dtb_guest_phys: u64,
    /// The host, for interrupts and power.
    pub host: &'static Host,
    /// The guest's virtual PCI bus with the functions passed through to it.
    pub pci: Option<VirtualBus>,
    /// Physical INTx SPIs forwarded to the guest (HW-linked, same INTID).
    pub intx_intids: Vec<u32>,
    /// The guest's virtual ITS (at the host ITS's address), when it has one.
    pub vits: Option<Mutex<VirtualIts>>,
    /// What the SMMU lets the guest's devices reach, when DMA is isolated.
    pub dma: Option<DmaView>,
    /// What an access without syndrome does to the guest (`sluice.unemulated=`).
    pub unemulated: Unemulated,
}

/// Why the guest could not be created.
#[derive(Debug)]
pub enum VmError {
    /// The kernel or its placement.
    Loader(loader::LoaderError),
    /// Stage-2 tables.
    Stage2(pagetable::PageTableError),
    /// Guest DT generation.
    GuestDt(guestdt::GuestDtError),
    /// No guest address map holds the RAM and the virtual PCI host bridge.
    Map(guestmap::MapError),
    /// A malformed `sluice.pci=` option.
    Assignment(String),
    /// The SMMU could not be set up for guest RAM placed for it.
    Dma(dma::DmaError),
    /// A malformed `sluice.unemulated=` or `sluice.stage2=` option.
    Option(String),
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Loader(e) => write!(f, "guest kernel: {e}"),
            Self::Stage2(e) => write!(f, "guest stage-2 tables: {e}"),
            Self::GuestDt(e) => write!(f, "guest device tree: {e}"),
            Self::Map(e) => write!(f, "{e}"),
            Self::Assignment(e) => write!(f, "{e}"),
            Self::Dma(e) => write!(f, "DMA isolation: {e}"),
            Self::Option(e) => write!(f, "{e}"),
        }
    }
}

/// Guest `index` as `plan` has it (its CPUs, RAM -- already reserved --, functions, images),
/// its functions found on the host buses `buses`: builds stage 2, the vGIC, the guest DT, and
/// loads the images. `dma_isolated`: the SMMU is on (`dma::enable`).
pub fn create(
    host: &'static Host,
    index: usize,
    plan: &GuestPlan,
    buses: &'static [HostBus],
    dma_isolated: bool,
) -> Result<Vm, VmError> {
    let vmid = index as u16 + 1;
    let label = match &plan.node {
        Some(_) => alloc::format!("guest {}", plan.name),
        None => String::from("guest"),
    };
    let bootargs = &host.platform.host_bootargs;
    let unemulated = Unemulated::from_bootargs(bootargs).map_err(VmError::Option)?;
    let leaves = Leaves::from_bootargs(bootargs).map_err(VmError::Option)?;
    let cpus = &plan.cpus;
    let host_ram = plan.ram[0];
    let mut pci = build_pci(host, buses, plan)?;
    profile::mark("guest pci");
    let streams = if dma_isolated {
        dma::streams(host, pci.as_ref())
    } else {
        None
    };
    let map = plan_map(host, &label, host_ram, streams.is_some(), pci.as_ref())?;
    if let (Some(bus), Some(layout)) = (&mut pci, map.pci) {
        bus.layout = layout;
    }
    let ram = map.ram;
    let dma = match (&host.smmu, streams) {
        (Some(smmu), Some(streams)) => {
            let doorbell = host.its.as_ref().map(|its| its.doorbell());
            let who = object_label(plan.node.is_some(), &plan.name);
            let view = dma::attach(smmu, &ram, doorbell, vmid, streams, &who);
            Some(view.map_err(VmError::Dma)?)
        }
        _ => None,
    };
    profile::mark("smmu stage 2");
    let vcpu_mpidrs: Vec<u64> = (0..cpus.len()).map(psci::vcpu_affinity).collect();
    let cpu_mpidrs: Vec<u64> = cpus.iter().map(|&c| host.platform.cpus[c].mpidr).collect();
    let layout = plan_guest(&plan.images, ram.first_ipa())?;
    let (stage2, vtcr) = build_stage2(&ram, leaves, &label)?;
    profile::mark("stage 2");
    let uart_intid = host.platform.uart.intid;
    // The guest gets an ITS of its own when the host has one and devices are passed through.
    let vits = match (&host.its, &pci) {
        (Some(_), Some(bus)) => Some(Mutex::new(VirtualIts::new(
            vcpu_mpidrs.len(),
            GUEST_LPIS,
            bus.guest_device_ids(),
        ))),
        _ => None,
    };
    let dtb = build_guest_dt(
        host,
        (&ram, &layout, &plan.images),
        &vcpu_mpidrs,
        pci.as_ref(),
        vits.is_some(),
        0,
    )?;
    profile::mark("dt build");
    if plan.node.is_some() {
        scrub_logged(&label, &ram);
        profile::mark("scrub");
    }
    load_images(&plan.images, &ram, &layout, &dtb);
    let intx_intids: Vec<u32> = pci
        .iter()
        .flat_map(|bus| bus.assigned().filter_map(|a| a.intx_intid))
        .collect();
    let vgic = build_vgic(
        host,
        (&vcpu_mpidrs, cpu_mpidrs[0]),
        &intx_intids,
        if vits.is_some() { GUEST_LPIS } else { 0 },
        SpiSet::of_guest(plan.node.is_some(), uart_intid, &intx_intids),
    );
    let mut mmio = regions::fixed(host, vcpu_mpidrs.len());
    if let (Some(_), Some(frame)) = (&vits, host.its.as_ref().map(|i| i.frame)) {
        mmio.push(MmioRegion {
            range: frame,
            emulator: Emulator::Its,
        });
    }
    if let Some(bus) = &pci {
        mmio.push(MmioRegion {
            range: bus.layout.ecam,
            emulator: Emulator::PciEcam,
        });
        log::info!(
            "{label} PCI: ECAM {}, windows {} and {}",
            bus.layout.ecam,
            bus.layout.mem32,
            bus.layout.mem64
        );
    }
    log::info!(
        "{label}: {} vCPUs, RAM {} MiB in {}, kernel at {:#x}, initrd {}, DT at {:#x}",
        vcpu_mpidrs.len(),
        ram.size_bytes() >> 20,
        ram_list(&ram),
        layout.kernel.start,
        layout
            .initrd
            .map_or(String::from("none"), |r| alloc::format!("{r}")),
        layout.dtb.start
    );
    let vm = Vm {
        vmid,
        name: plan.name.clone(),
        from_node: plan.node.is_some(),
        images: plan.images.clone(),
        cpus: cpus.to_vec(),
        cpu_mpidrs,
        reboot: RebootState::new(),
        ram,
        stage2: Mutex::new(stage2),
        vtcr,
        vgic: Mutex::new(vgic),
        uart: Mutex::new(Pl011::new()),
        uart_intid,
        uart_mirror: UartMirror::new(host.platform.uart.base.start),
        power: Mutex::new(VcpuPowerTable::new(&vcpu_mpidrs)),
        mmio,
        vcpu_mpidrs,
        layout,
        kernel_entry: layout.kernel.start,
        dtb_guest_phys: layout.dtb.start,
        host,
        pci,
        intx_intids,
        vits,
        dma,
        unemulated,
    };
    // The UART's read page goes in with the rest of stage 2, before the guest's first boot.
    uart::mirror::sync(&vm);
    Ok(vm)
}

/// `Vm::object_label` before the `Vm` exists.
fn object_label(from_node: bool, name: &str) -> String {
    if from_node {
        alloc::format!("guest {name}")
    } else {
        String::from("the guest")
    }
}

impl Vm {
    /// How log lines name the guest: "guest" alone when it is the only one of a tree without
    /// guest nodes, "guest NAME" otherwise.
    pub fn label(&self) -> String {
        if self.from_node {
            alloc::format!("guest {}", self.name)
        } else {
            String::from("guest")
        }
    }

    /// How log lines name one of its vCPUs: "vCPU N", prefixed with "guest NAME " when the
    /// guest has a node (the single guest of a tree without one keeps its old lines).
    pub fn vcpu_label(&self, vcpu: usize) -> String {
        if self.from_node {
            alloc::format!("guest {} vCPU {vcpu}", self.name)
        } else {
            alloc::format!("vCPU {vcpu}")
        }
    }

    /// The guest as the object of a log line: "the guest" alone, "guest NAME" with a node.
    pub fn object_label(&self) -> String {
        object_label(self.from_node, &self.name)
    }

    /// The guest's index in the guest table (VMID - 1).
    pub fn index(&self) -> usize {
        usize::from(self.vmid) - 1
    }

    /// Puts the guest back in its first-boot state for boot number `boot`, devices aside
    /// (the reboot takes and gives those): console, vGIC and vITS reset, TLBs dropped, RAM
    /// scrubbed, pristine kernel and initrd and a fresh DT loaded, vCPU 0 pending at the
    /// kernel entry. Every other vCPU must be parked.
    pub fn restart(&self, boot: u32) -> Result<(), VmError> {
        let mut profile = Profile::starting_at(cpu::counter());
        *self.uart.lock() = Pl011::new();
        // Mapped now, as at creation, so that every boot starts with the same tables.
        uart::mark_stale(self);
        uart::mirror::sync(self);
        let lpi_count = if self.vits.is_some() { GUEST_LPIS } else { 0 };
        *self.vgic.lock() = build_vgic(
            self.host,
            (&self.vcpu_mpidrs, self.cpu_mpidrs[0]),
            &self.intx_intids,
            lpi_count,
            SpiSet::of_guest(self.from_node, self.uart_intid, &self.intx_intids),
        );
        if let (Some(vits), Some(bus)) = (&self.vits, &self.pci) {
            *vits.lock() =
                VirtualIts::new(self.vcpu_mpidrs.len(), GUEST_LPIS, bus.guest_device_ids());
        }
        mmu::invalidate_guest_tlbs();
        profile.mark("device reset", cpu::counter());
        scrub_logged(&self.label(), &self.ram);
        profile.mark("scrub", cpu::counter());
        let dtb = build_guest_dt(
            self.host,
            (&self.ram, &self.layout, &self.images),
            &self.vcpu_mpidrs,
            self.pci.as_ref(),
            self.vits.is_some(),
            boot,
        )?;
        profile.mark("dt build", cpu::counter());
        load_images(&self.images, &self.ram, &self.layout, &dtb);
        profile.mark("image loading", cpu::counter());
        log::info!(
            "{}: reboot profile: {}",
            self.label(),
            profile.summary(cpu::counter_hz())
        );
        self.power
            .lock()
            .reboot(self.kernel_entry, self.dtb_guest_phys);
        Ok(())
    }

    /// Installs this guest's stage 2 on the calling CPU.
    pub fn install_stage2(&self) {
        mmu::install_stage2(self.vtcr, self.stage2.lock().root_phys(), self.vmid);
    }

    /// Maps `[guest_phys, +size)` of this guest to host `host_phys` in stage 2.
    pub fn map(
        &self,
        guest_phys: u64,
        host_phys: u64,
        size_bytes: u64,
        attrs: Attributes,
    ) -> Result<(), pagetable::PageTableError> {
        let mut mem = HeapTables::LIVE_STAGE2;
        self.stage2
            .lock()
            .map(&mut mem, guest_phys, host_phys, size_bytes, attrs)
    }

    /// Removes `[guest_phys, +size)` from stage 2 and invalidates the TLBs of every CPU.
    pub fn unmap(&self, guest_phys: u64, size_bytes: u64) -> Result<(), pagetable::PageTableError> {
        let mut mem = HeapTables::LIVE_STAGE2;
        self.stage2.lock().unmap(&mut mem, guest_phys, size_bytes)?;
        mmu::invalidate_stage2_range(guest_phys, size_bytes);
        Ok(())
    }

    /// What stage 2 maps `guest_phys` to now (host address and attributes), for diagnostics.
    pub fn translate(&self, guest_phys: u64) -> Option<(u64, Attributes)> {
        self.stage2
            .lock()
            .translate(&HeapTables::LIVE_STAGE2, guest_phys)
    }

    /// Guest-physical address of the guest's ITS frame (the host ITS's address).
    pub fn its_guest_frame(&self) -> u64 {
        self.host.its.as_ref().map_or(0, |i| i.frame.start)
    }

    /// Copies guest memory at `guest_phys` into `buf`; false (nothing read) unless the whole
    /// range is guest RAM. Guest pointers are never trusted further than that.
    pub fn read_guest(&self, guest_phys: u64, buf: &mut [u8]) -> bool {
        let Some(host_phys) = self.ram.to_host(guest_phys, buf.len() as u64) else {
            return false;
        };
        // SAFETY: the span is this guest's RAM (identity-mapped at EL2 at its host address);
        // reading it races only with the guest, giving stale bytes, never invalid values.
        unsafe {
            core::ptr::copy_nonoverlapping(host_phys as *const u8, buf.as_mut_ptr(), buf.len())
        };
        true
    }

    /// Interrupts the physical CPUs of the vCPUs in `k` (other than `current`), so they exit
    /// and load their list registers again.
    pub fn kick(&self, current: usize, k: Kick) {
        kick::send(&self.cpu_mpidrs, current, k);
    }

    /// Points the SMMU stream of the function in `slot` at the guest's DMA view again or back
    /// to aborting (guest reboot); nothing when DMA is not isolated.
    pub fn set_dma_translated(&self, slot: u8, translated: bool) {
        if let (Some(view), Some(smmu)) = (&self.dma, &self.host.smmu) {
            view.set_slot_translated(smmu, slot, translated);
        }
    }

    /// The emulated region containing `guest_phys`, if any.
    pub fn region(&self, guest_phys: u64) -> Option<&MmioRegion> {
        self.mmio.iter().find(|r| r.range.contains(guest_phys))
    }
}
