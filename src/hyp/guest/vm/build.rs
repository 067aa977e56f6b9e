//! The parts of a guest that `create` assembles: its vGIC, its virtual PCI bus, the placement
//! of its images and its stage 2.

use super::load::host_slice;
use super::VmError;
use crate::arch::cpu;
use crate::hyp::driver::ecam::HostBus;
use crate::hyp::driver::host::Host;
use crate::hyp::guest::bus::VirtualBus;
use crate::hyp::leaf::heap;
use crate::hyp::leaf::tables::HeapTables;
use sluice::loader::{self, GuestImages, GuestLayout, ImageHeader};
use sluice::mm::guest_ram::GuestRam;
use sluice::mm::pagetable::{Attributes, Leaves, PageTable, PageTableError, Stage2Layout};
use sluice::mm::PhysRange;
use sluice::partition::GuestPlan;
use sluice::platform;
use sluice::vgic::{SpiSet, Vgic, VgicConfig};
use sluice::vpci::layout::GuestPciLayout;
use sluice::vpci::topology::Assignment;

/// The virtual GIC, with the timers and passed-through INTx lines forwarded with LR.HW so that
/// the guest's deactivation deactivates the physical interrupt; the INTx lines go to vCPU 0,
/// so their SPIs are routed to its physical CPU (`boot_cpu`, an MPIDR). Its distributor
/// shows only the SPIs in `owned`.
pub(super) fn build_vgic(
    host: &Host,
    (vcpu_mpidrs, boot_cpu): (&[u64], u64),
    intx_intids: &[u32],
    lpi_count: u32,
    owned: SpiSet,
) -> Vgic {
    let mut vgic = Vgic::new(VgicConfig {
        vcpu_mpidrs: vcpu_mpidrs.to_vec(),
        spi_count: host.dist.spi_count(),
        list_register_count: crate::arch::gic::list_register_count(),
        priority_bits: crate::arch::gic::virtual_priority_bits(),
        lpi_count,
    });
    vgic.restrict_spis(owned);
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

/// The guest's virtual bus with the functions the plan gives it, from the host buses
/// enumerated at boot; its address map comes later, with the guest's RAM (`plan_map`). The
/// single guest keeps `sluice.pci=`'s selection (and its log lines).
pub(super) fn build_pci(
    host: &Host,
    buses: &'static [HostBus],
    plan: &GuestPlan,
) -> Result<Option<VirtualBus>, VmError> {
    if buses.is_empty() {
        return Ok(None);
    }
    let p = &host.platform;
    let (assignment, guest) = match plan.node {
        Some(_) => (Assignment::Only(plan.pci.clone()), Some(plan.name.as_str())),
        None => (
            Assignment::from_bootargs(&p.host_bootargs).map_err(VmError::Assignment)?,
            None,
        ),
    };
    let bus = VirtualBus::new(
        GuestPciLayout::UNPLACED,
        buses,
        &assignment,
        host.its.as_ref(),
        guest,
    );
    Ok((bus.assigned().count() > 0).then_some(bus))
}

pub(super) fn plan_guest(
    images: &platform::GuestImages,
    ram: PhysRange,
) -> Result<GuestLayout, VmError> {
    let kernel = host_slice(images.kernel);
    let header = ImageHeader::parse(kernel).map_err(VmError::Loader)?;
    let images = GuestImages {
        header,
        kernel_bytes: images.kernel.size_bytes,
        initrd_bytes: images.ramdisk.map(|r| r.size_bytes),
    };
    loader::plan(ram, &images).map_err(VmError::Loader)
}

/// Heap a guest's page-granular stage 2 leaves to everything else: a guest uses about 3 MiB
/// of it (`guest boot N: heap in use`), more with many devices or vCPUs.
const HEAP_KEPT_BYTES: u64 = 8 << 20;

/// Stage 2 with every RAM bank mapped, with `leaves` (`sluice.stage2=`): the largest blocks
/// both addresses allow, or 4 KiB pages. Pages whose tables would leave less than
/// `HEAP_KEPT_BYTES` of sluice's heap (for the guest's devices, vITS, routes and reboots)
/// fall back to blocks, said once (`label` names the guest).
pub(super) fn build_stage2(
    ram: &GuestRam,
    leaves: Leaves,
    label: &str,
) -> Result<(PageTable, u64), VmError> {
    let layout = Stage2Layout::from_pa_range(cpu::pa_range());
    let mut mem = HeapTables::BUILDING;
    let map = |mem: &mut HeapTables, leaves| {
        let mut table = PageTable::new_stage2(mem, &layout)?.with_leaves(leaves);
        match ram.map_into(&mut table, mem, Attributes::NORMAL_RWX) {
            Ok(()) => Ok(table),
            Err(e) => {
                table.destroy(mem);
                Err(e)
            }
        }
    };
    let page_tables = Leaves::page_table_bytes(ram.size_bytes());
    let spare = (heap::free_bytes() as u64).saturating_sub(HEAP_KEPT_BYTES);
    let mut chosen = leaves.within(ram.size_bytes(), spare);
    let mut built = map(&mut mem, chosen);
    if chosen == Leaves::Pages && matches!(built, Err(PageTableError::OutOfMemory)) {
        chosen = Leaves::Blocks;
        built = map(&mut mem, chosen);
    }
    match (leaves, chosen) {
        (Leaves::Pages, Leaves::Blocks) => log::warn!(
            "{label} stage 2: {} KiB of 4 KiB-page tables is more than sluice's heap can spare \
             (sluice.stage2=pages): RAM mapped with blocks",
            page_tables >> 10
        ),
        (_, Leaves::Pages) => log::info!(
            "{label} stage 2: RAM mapped with 4 KiB pages (sluice.stage2=pages, {} KiB of tables)",
            page_tables >> 10
        ),
        _ => {}
    }
    Ok((built.map_err(VmError::Stage2)?, layout.vtcr_el2()))
}
