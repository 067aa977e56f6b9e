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
use crate::hyp::driver::ecam;
use crate::hyp::driver::host::Host;
use crate::hyp::leaf::{kick, tables::HeapTables};
use load::{host_slice, load_images, scrub};
pub use regions::{Emulator, MmioRegion};

mod load;
mod map;
mod regions;
mod state;
use crate::arch::{cpu, mmu};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use map::{plan_map, ram_list};
use sluice::guestdt::{self, GuestDtConfig};
use sluice::guestmap;
use sluice::its::vits::VirtualIts;
use sluice::loader::{self, GuestImages, GuestLayout, ImageHeader};
use sluice::mm::guest_ram::GuestRam;
use sluice::mm::pagetable::{self, Attributes, PageTable, Stage2Layout};
use sluice::mm::PhysRange;
use sluice::psci::{self, VcpuPowerTable};
use sluice::vgic::{Kick, Vgic, VgicConfig, REDIST_FRAME_BYTES};
use sluice::vpci::layout::GuestPciLayout;
use sluice::vpci::topology::Assignment;
pub use state::RebootState;

/// LPIs the guest's vITS and vGIC offer (INTIDs 8192..65535, 16 ID bits).
const GUEST_LPIS: u32 = 65536 - 8192;
use sluice::vuart::Pl011;
use spin::Mutex;

const ALIGN_2M: u64 = 2 << 20;

/// A running guest.
pub struct Vm {
    /// Its VMID (index + 1), which tags its CPU stage 2 and its SMMU streams.
    pub vmid: u16,
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
}

/// Why the guest could not be created.
#[derive(Debug)]
pub enum VmError {
    /// No RAM left for the guest.
    NoRam(sluice::mm::carve::CarveError),
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
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRam(e) => write!(f, "no RAM left for the guest: {e}"),
            Self::Loader(e) => write!(f, "guest kernel: {e}"),
            Self::Stage2(e) => write!(f, "guest stage-2 tables: {e}"),
            Self::GuestDt(e) => write!(f, "guest device tree: {e}"),
            Self::Map(e) => write!(f, "{e}"),
            Self::Assignment(e) => write!(f, "{e}"),
            Self::Dma(e) => write!(f, "DMA isolation: {e}"),
        }
    }
}

/// Guest `index`, run by the physical CPUs `cpus` (vCPU i on `cpus[i]`): carves its RAM,
/// builds stage 2, the vGIC, the guest DT, and loads the images.
pub fn create(host: &'static Host, index: usize, cpus: &[usize]) -> Result<Vm, VmError> {
    let vmid = index as u16 + 1;
    let host_ram = host
        .free
        .lock()
        .take_largest(ALIGN_2M)
        .map_err(VmError::NoRam)?;
    let mut pci = build_pci(host)?;
    let streams = dma::prepare(host, pci.as_ref());
    let map = plan_map(host, host_ram, streams.is_some(), pci.as_ref())?;
    if let (Some(bus), Some(layout)) = (&mut pci, map.pci) {
        bus.layout = layout;
    }
    let ram = map.ram;
    let dma = match (&host.smmu, streams) {
        (Some(smmu), Some(streams)) => {
            let doorbell = host.its.as_ref().map(|its| its.doorbell());
            Some(dma::attach(smmu, &ram, doorbell, vmid, streams).map_err(VmError::Dma)?)
        }
        _ => None,
    };
    let vcpu_mpidrs: Vec<u64> = (0..cpus.len()).map(psci::vcpu_affinity).collect();
    let cpu_mpidrs: Vec<u64> = cpus.iter().map(|&c| host.platform.cpus[c].mpidr).collect();
    let layout = plan_guest(host, ram.first_ipa())?;
    let (stage2, vtcr) = build_stage2(&ram)?;
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
        &ram,
        &layout,
        &vcpu_mpidrs,
        pci.as_ref(),
        vits.is_some(),
        0,
    )?;
    load_images(host, &ram, &layout, &dtb);
    let intx_intids: Vec<u32> = pci
        .iter()
        .flat_map(|bus| bus.assigned().filter_map(|a| a.intx_intid))
        .collect();
    let vgic = build_vgic(
        host,
        (&vcpu_mpidrs, cpu_mpidrs[0]),
        &intx_intids,
        if vits.is_some() { GUEST_LPIS } else { 0 },
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
            "guest PCI: ECAM {}, windows {} and {}",
            bus.layout.ecam,
            bus.layout.mem32,
            bus.layout.mem64
        );
    }
    log::info!(
        "guest: {} vCPUs, RAM {} MiB in {}, kernel at {:#x}, initrd {}, DT at {:#x}",
        vcpu_mpidrs.len(),
        ram.size_bytes() >> 20,
        ram_list(&ram),
        layout.kernel.start,
        layout
            .initrd
            .map_or(String::from("none"), |r| alloc::format!("{r}")),
        layout.dtb.start
    );
    Ok(Vm {
        vmid,
        cpus: cpus.to_vec(),
        cpu_mpidrs,
        reboot: RebootState::new(),
        ram,
        stage2: Mutex::new(stage2),
        vtcr,
        vgic: Mutex::new(vgic),
        uart: Mutex::new(Pl011::new()),
        uart_intid,
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
    })
}

/// The virtual GIC, with the timers and passed-through INTx lines forwarded with LR.HW so that
/// the guest's deactivation deactivates the physical interrupt; the INTx lines go to vCPU 0,
/// so their SPIs are routed to its physical CPU (`boot_cpu`, an MPIDR).
fn build_vgic(
    host: &Host,
    (vcpu_mpidrs, boot_cpu): (&[u64], u64),
    intx_intids: &[u32],
    lpi_count: u32,
) -> Vgic {
    let mut vgic = Vgic::new(VgicConfig {
        vcpu_mpidrs: vcpu_mpidrs.to_vec(),
        spi_count: host.dist.spi_count(),
        list_register_count: crate::arch::gic::list_register_count(),
        priority_bits: crate::arch::gic::virtual_priority_bits(),
        lpi_count,
    });
    let timer = &host.platform.timer;
    for vcpu in 0..vcpu_mpidrs.len() {
        vgic.link_hw(vcpu, timer.virt.intid, timer.virt.intid);
        vgic.link_hw(vcpu, timer.nonsecure_phys.intid, timer.nonsecure_phys.intid);
    }
    for &intid in intx_intids {
        vgic.link_hw(0, intid, intid);
        host.dist.enable_spi(intid, boot_cpu, false);
    }
    vgic
}

/// Enumerates the host's PCI buses and builds the guest's virtual bus from every endpoint; its
/// address map comes later, with the guest's RAM (`plan_map`).
fn build_pci(host: &Host) -> Result<Option<VirtualBus>, VmError> {
    if host.platform.pci_hosts.is_empty() {
        return Ok(None);
    }
    let buses = ecam::enumerate_hosts(&host.platform.pci_hosts);
    let p = &host.platform;
    let assignment = Assignment::from_bootargs(&p.host_bootargs).map_err(VmError::Assignment)?;
    let bus = VirtualBus::new(
        GuestPciLayout::UNPLACED,
        buses,
        &assignment,
        host.its.as_ref(),
    );
    Ok((bus.assigned().count() > 0).then_some(bus))
}

fn plan_guest(host: &Host, ram: PhysRange) -> Result<GuestLayout, VmError> {
    let kernel = host_slice(host.platform.guest.kernel);
    let header = ImageHeader::parse(kernel).map_err(VmError::Loader)?;
    let images = GuestImages {
        header,
        kernel_bytes: host.platform.guest.kernel.size_bytes,
        initrd_bytes: host.platform.guest.ramdisk.map(|r| r.size_bytes),
    };
    loader::plan(ram, &images).map_err(VmError::Loader)
}

/// Stage 2 with every RAM bank mapped (with the largest blocks both addresses allow).
fn build_stage2(ram: &GuestRam) -> Result<(PageTable, u64), VmError> {
    let layout = Stage2Layout::from_pa_range(cpu::pa_range());
    let mut mem = HeapTables::BUILDING;
    let mut table = PageTable::new_stage2(&mut mem, &layout).map_err(VmError::Stage2)?;
    for bank in ram.banks() {
        table
            .map(
                &mut mem,
                bank.ipa.start,
                bank.host_start,
                bank.ipa.size_bytes,
                Attributes::NORMAL_RWX,
            )
            .map_err(VmError::Stage2)?;
    }
    Ok((table, layout.vtcr_el2()))
}

fn build_guest_dt(
    host: &Host,
    ram: &GuestRam,
    layout: &GuestLayout,
    mpidrs: &[u64],
    pci: Option<&VirtualBus>,
    with_its: bool,
    boot: u32,
) -> Result<Vec<u8>, VmError> {
    let p = &host.platform;
    let gic = guestdt::GuestGic {
        dist: p.gic.dist,
        redist: PhysRange::new(
            p.gic.redist_regions[0].start,
            REDIST_FRAME_BYTES * mpidrs.len() as u64,
        ),
        its: if with_its {
            p.gic.its.first().copied()
        } else {
            None
        },
    };
    let cfg = GuestDtConfig {
        cpus: mpidrs.to_vec(),
        memory: ram.ipa_ranges(),
        gic,
        timer: p.timer,
        uart: Some(guestdt::GuestUart {
            base: p.uart.base,
            intid: p.uart.intid,
            clock_hz: p.uart.clock_hz.unwrap_or(24_000_000),
        }),
        // The guest learns its boot number (0, then one more per reboot).
        bootargs: alloc::format!("{} sluice.boot={boot}", p.guest.bootargs),
        initrd: layout.initrd,
        pci: pci.map(|bus| guestdt::GuestPciHost {
            ecam: bus.layout.ecam,
            mem32: bus.layout.mem32,
            mem64: bus.layout.mem64,
            intx: bus
                .assigned()
                .filter_map(|a| Some((a.slot, a.intx_pin, a.intx_intid?)))
                .collect(),
            msi_map: with_its,
        }),
    };
    guestdt::build(&cfg).map_err(VmError::GuestDt)
}

impl Vm {
    /// Puts the guest back in its first-boot state for boot number `boot`, devices aside
    /// (the reboot takes and gives those): console, vGIC and vITS reset, TLBs dropped, RAM
    /// scrubbed, pristine kernel and initrd and a fresh DT loaded, vCPU 0 pending at the
    /// kernel entry. Every other vCPU must be parked.
    pub fn restart(&self, boot: u32) -> Result<(), VmError> {
        *self.uart.lock() = Pl011::new();
        let lpi_count = if self.vits.is_some() { GUEST_LPIS } else { 0 };
        *self.vgic.lock() = build_vgic(
            self.host,
            (&self.vcpu_mpidrs, self.cpu_mpidrs[0]),
            &self.intx_intids,
            lpi_count,
        );
        if let (Some(vits), Some(bus)) = (&self.vits, &self.pci) {
            *vits.lock() =
                VirtualIts::new(self.vcpu_mpidrs.len(), GUEST_LPIS, bus.guest_device_ids());
        }
        mmu::invalidate_guest_tlbs();
        let started = cpu::counter();
        scrub(&self.ram);
        log::info!(
            "guest RAM scrubbed: {} MiB in {} ms",
            self.ram.size_bytes() >> 20,
            (cpu::counter() - started) * 1000 / cpu::counter_hz().max(1)
        );
        let dtb = build_guest_dt(
            self.host,
            &self.ram,
            &self.layout,
            &self.vcpu_mpidrs,
            self.pci.as_ref(),
            self.vits.is_some(),
            boot,
        )?;
        load_images(self.host, &self.ram, &self.layout, &dtb);
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
    #[allow(dead_code)] // first user: vPCI BAR mapping
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
    #[allow(dead_code)] // first user: vPCI BAR mapping
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
