//! Host bring-up: the memory map (sluice's image, heap and the boot modules, all kept away
//! from guests), the EL2 MMU, the physical GIC, ITS and SMMU gathered in `Host`, and the
//! secondary CPUs.

use crate::arch::{cpu, firmware, gic, mmio::MmioBase, mmu};
use crate::hyp::driver::host::Host;
use crate::hyp::driver::its::{self, PhysicalIts};
use crate::hyp::driver::smmu::Smmu;
use crate::hyp::leaf::kick::{self, KICK_SGI};
use crate::hyp::leaf::{cpus, heap, profile, stop, tables::HeapTables};
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use sluice::mm::carve::FreeMemory;
use sluice::mm::pagetable::{self, Attributes, PageTable};
use sluice::mm::PhysRange;
use sluice::platform::{PciSpace, Platform};
use sluice::psci;
use spin::Once;

/// Bytes of host RAM given to sluice's heap (stage-2 tables, guest DT, device state).
const HEAP_BYTES: u64 = 32 << 20;
const ALIGN_2M: u64 = 2 << 20;

/// Why the host could not be brought up.
#[derive(Debug)]
pub enum HostError {
    /// No room for the heap.
    Heap(sluice::mm::carve::CarveError),
    /// The EL2 identity map could not be built.
    PageTable(pagetable::PageTableError),
    /// The boot CPU is not in the DT's /cpus.
    BootCpuMissing(u64),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Heap(e) => write!(f, "cannot carve the hypervisor heap: {e}"),
            Self::PageTable(e) => write!(f, "cannot build the EL2 page tables: {e}"),
            Self::BootCpuMissing(m) => write!(
                f,
                "boot CPU (MPIDR {m:#x}) is not listed in the device tree /cpus"
            ),
        }
    }
}

static HOST: Once<Host> = Once::new();

/// The host, once `init` has run.
pub fn get() -> &'static Host {
    HOST.get()
        .expect("host initialised before secondary CPUs start")
}

extern "C" {
    static __image_start: u8;
    static __image_end: u8;
}

/// Carves memory, turns on the EL2 MMU and the physical GIC on the boot CPU.
pub fn init(
    mut platform: Platform,
    dtb_phys: u64,
    load_phys: u64,
) -> Result<&'static Host, HostError> {
    let image_bytes =
        core::ptr::addr_of!(__image_end) as u64 - core::ptr::addr_of!(__image_start) as u64;
    let image = PhysRange::new(load_phys, image_bytes);
    cpus::check_stack_layout();
    if platform.cpus.len() > cpus::MAX_CPUS {
        log::warn!(
            "{} CPUs in the device tree; using the first {}",
            platform.cpus.len(),
            cpus::MAX_CPUS
        );
        platform.cpus.truncate(cpus::MAX_CPUS);
    }
    let mut free = FreeMemory::new(&platform.memory);
    for used in used_ranges(&platform, dtb_phys, image) {
        free.reserve(used);
    }
    let heap_range = free.take(HEAP_BYTES, ALIGN_2M).map_err(HostError::Heap)?;
    // SAFETY: carved from free RAM above: no image, module, DTB or reservation overlaps it.
    unsafe { heap::add(heap_range.start as usize, heap_range.size_bytes as usize) };
    log::info!("hypervisor image {image}, heap {heap_range}");
    profile::mark("heap");
    enable_identity_map(&platform)?;
    profile::mark("el2 mmu");
    let boot_mpidr = cpu::mpidr_affinity();
    let boot_index = platform
        .cpus
        .iter()
        .position(|c| c.mpidr == boot_mpidr)
        .ok_or(HostError::BootCpuMissing(boot_mpidr))?;
    if boot_index != 0 {
        log::warn!("boot CPU is /cpus entry {boot_index}; vCPU numbering follows the DT");
    }
    let conduit = match platform.psci.method {
        sluice::platform::Conduit::Smc => firmware::Conduit::Smc,
        sluice::platform::Conduit::Hvc => firmware::Conduit::Hvc,
    };
    // SAFETY: the DT's GICD frame, identity-mapped as Device memory by `enable_identity_map`.
    let dist = unsafe { gic::Distributor::new(MmioBase::new(platform.gic.dist.start as usize)) };
    dist.init();
    let its = platform
        .gic
        .its
        .first()
        .map(|frame| PhysicalIts::init(*frame));
    profile::mark("gic");
    let smmu = probe_smmu(&platform);
    profile::mark("smmu probe");
    let host = HOST.call_once(|| Host {
        platform,
        conduit,
        free: spin::Mutex::new(free),
        dist,
        its,
        smmu,
    });
    cpu::set_cpu_index(boot_index);
    mark_up(boot_index);
    let redist = init_this_cpu(host, boot_index);
    if let Some(its) = &host.its {
        its.map_cpu_collection(boot_index, redist.processor_number(), redist.base(), true);
    }
    profile::mark("gic");
    Ok(host)
}

/// The SMMU every PCI host's `iommu-map` points at, stopped and set to abort all DMA until the
/// guest's devices are attached. None (DMA not isolated) when there is none, when some host
/// bridge's DMA bypasses it, or when it cannot do what sluice needs.
fn probe_smmu(platform: &Platform) -> Option<Smmu> {
    let node = platform.smmus.first()?;
    let translated = |h: &sluice::platform::PciHost| {
        !h.iommu_map.is_empty()
            && h.iommu_map
                .entries
                .iter()
                .all(|m| Some(m.phandle) == node.phandle)
    };
    if let Some(h) = platform.pci_hosts.iter().find(|h| !translated(h)) {
        log::warn!(
            "smmu {}: {} has no iommu-map to it; not used",
            node.regs,
            h.node_path
        );
        return None;
    }
    match Smmu::probe(node) {
        Ok(smmu) => Some(smmu),
        Err(e) => {
            log::warn!("smmu {}: cannot isolate DMA: {e}", node.regs);
            None
        }
    }
}

/// Memory that must never be handed out: firmware reservations, the DTB, the image, the
/// boot modules (sluice keeps them as pristine copies of the guest's images).
fn used_ranges(platform: &Platform, dtb_phys: u64, image: PhysRange) -> Vec<PhysRange> {
    let mut used = platform.reserved.clone();
    used.push(PhysRange::new(dtb_phys, platform.dtb_size_bytes));
    used.push(image);
    // Every guest's kernel and initrd: sluice reloads the pristine images at each reboot.
    used.extend(platform.boot_modules());
    used
}

/// Identity-maps RAM (normal, cacheable) and every device sluice drives or traps for (device
/// memory), then turns on the MMU.
fn enable_identity_map(platform: &Platform) -> Result<(), HostError> {
    let pa_range = cpu::pa_range();
    let mut mem = HeapTables::BUILDING;
    let input_bits = pagetable::el2_input_bits(pa_range);
    let mut table = PageTable::new(&mut mem, pagetable::Format::El2Stage1, input_bits)
        .map_err(HostError::PageTable)?;
    for ram in &platform.memory {
        table
            .map(
                &mut mem,
                ram.start,
                ram.start,
                ram.size_bytes,
                Attributes::NORMAL_RWX,
            )
            .map_err(HostError::PageTable)?;
    }
    for device in device_ranges(platform) {
        let page = PhysRange::new(
            device.start & !0xfff,
            (device.size_bytes + (device.start & 0xfff)).next_multiple_of(0x1000),
        );
        table
            .map(
                &mut mem,
                page.start,
                page.start,
                page.size_bytes,
                Attributes::DEVICE_RW,
            )
            .map_err(HostError::PageTable)?;
    }
    mmu::enable_el2_mmu(
        pagetable::MAIR_EL2,
        pagetable::tcr_el2(pa_range),
        table.root_phys(),
    );
    core::mem::forget(table); // lives for ever
    Ok(())
}

fn device_ranges(platform: &Platform) -> Vec<PhysRange> {
    let mut devices = Vec::from([platform.gic.dist, platform.uart.base]);
    devices.extend(platform.gic.redist_regions.iter().copied());
    devices.extend(platform.gic.its.iter().copied());
    devices.extend(platform.pci_hosts.iter().map(|p| p.ecam));
    devices.extend(platform.smmus.iter().map(|s| s.regs));
    // The host bridges' memory windows: sluice touches the MSI-X tables and PBAs of the BARs
    // it assigns there.
    devices.extend(
        platform
            .pci_hosts
            .iter()
            .flat_map(|p| &p.windows)
            .filter(|w| w.space != PciSpace::Io)
            .map(|w| w.cpu),
    );
    devices
}

/// Per-CPU GIC bring-up: redistributor, CPU interface, the PPIs/SGIs sluice uses; then the
/// EL2 guest controls.
pub fn init_this_cpu(host: &Host, cpu_index: usize) -> gic::Redistributor {
    let mpidr = cpu::mpidr_affinity();
    let redist = host
        .platform
        .gic
        .redist_regions
        .iter()
        .find_map(|r| gic::Redistributor::find(r.start as usize, r.size_bytes as usize, mpidr))
        .unwrap_or_else(|| {
            stop::fatal(format_args!(
                "no GIC redistributor for CPU {cpu_index} (MPIDR {mpidr:#x})"
            ))
        });
    redist.init();
    gic::init_cpu_interface();
    let timer = &host.platform.timer;
    for intid in [
        KICK_SGI,
        host.platform.gic.maintenance_intid,
        timer.virt.intid,
        timer.nonsecure_phys.intid,
    ] {
        redist.enable_private(intid);
    }
    // `kick::sleep_while` takes a kick only while it is the highest-priority pending interrupt.
    redist.make_private_urgent(KICK_SGI);
    if let Some(its) = &host.its {
        if let Err(why) = redist.enable_lpis(
            its.prop_table,
            its::LPI_ID_BITS,
            PhysicalIts::new_pending_table(),
        ) {
            stop::fatal(format_args!(
                "CPU {cpu_index}: cannot take over the GIC redistributor's LPIs: {why}"
            ));
        }
    }
    cpu::configure_guest_traps();
    redist
}

/// Secondary CPUs that have finished `init_this_cpu`.
static SECONDARIES_UP: AtomicUsize = AtomicUsize::new(0);
/// Which CPUs (by index, at most 64) are up: the boot CPU, and each secondary once it is.
static CPUS_UP: AtomicU64 = AtomicU64::new(0);
/// The boot CPU has checked which guests can run: secondary CPUs wait for it before they
/// enter their guests.
static GUESTS_RELEASED: AtomicBool = AtomicBool::new(false);
/// How long the boot CPU waits for the others to come up.
const SECONDARY_TIMEOUT_MS: u64 = 1000;

/// A secondary CPU reports its GIC and traps set up, then waits until the boot CPU lets the
/// guests run (`release_guests`).
pub fn secondary_up(cpu_index: usize) {
    mark_up(cpu_index);
    SECONDARIES_UP.fetch_add(1, Ordering::Release);
    kick::sleep_while(|| !GUESTS_RELEASED.load(Ordering::Acquire));
}

fn cpu_bit(cpu_index: usize) -> u64 {
    1u64.checked_shl(cpu_index as u32).unwrap_or(0)
}

fn mark_up(cpu_index: usize) {
    CPUS_UP.fetch_or(cpu_bit(cpu_index), Ordering::AcqRel);
}

/// Whether CPU `cpu_index` came up (the boot CPU always has).
pub fn cpu_is_up(cpu_index: usize) -> bool {
    CPUS_UP.load(Ordering::Acquire) & cpu_bit(cpu_index) != 0
}

/// Lets the secondary CPUs enter their guests.
pub fn release_guests(host: &Host) {
    GUESTS_RELEASED.store(true, Ordering::Release);
    kick::wake(host.platform.cpus.iter().map(|c| c.mpidr));
}

/// Starts every other CPU of the DT at `secondary_entry` through host PSCI CPU_ON, and waits
/// (bounded) until they have set themselves up, so the guest starts on a finished machine.
pub fn start_secondaries(host: &Host) {
    let started = start_secondary_cpus(host);
    cpu::spin_while(SECONDARY_TIMEOUT_MS, || {
        SECONDARIES_UP.load(Ordering::Acquire) < started
    });
    let up = SECONDARIES_UP.load(Ordering::Acquire);
    if up < started {
        log::warn!(
            "only {up} of {started} secondary CPUs came up within {SECONDARY_TIMEOUT_MS} ms"
        );
    }
}

/// CPU_ON for every other CPU; returns how many the firmware accepted.
fn start_secondary_cpus(host: &Host) -> usize {
    extern "C" {
        fn secondary_entry();
    }
    let entry = secondary_entry as *const () as u64;
    let boot_mpidr = cpu::mpidr_affinity();
    let mut started = 0;
    for (index, c) in host
        .platform
        .cpus
        .iter()
        .enumerate()
        .filter(|(_, c)| c.mpidr != boot_mpidr)
    {
        let ret = firmware::call(
            host.conduit,
            psci::HOST_CPU_ON,
            c.mpidr,
            entry,
            index as u64,
        ) as i64;
        if ret != 0 {
            log::warn!(
                "host PSCI CPU_ON for CPU {index} (MPIDR {:#x}) failed: {ret}",
                c.mpidr
            );
        } else {
            started += 1;
        }
    }
    started
}
