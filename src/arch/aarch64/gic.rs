//! The physical GICv3: distributor and redistributor set-up, the EL2 CPU interface, and the
//! virtual CPU interface controls (list registers) used to inject interrupts into the guest.
//!
//! sluice runs the physical CPU interface with EOImode = 1: acknowledging an interrupt and
//! dropping its priority are separate from deactivating it, so an interrupt forwarded to the
//! guest with LR.HW = 1 stays active until the guest deactivates it.

use super::cpu::{read_sysreg, write_sysreg};
use super::mmio::MmioBase;
use aarch64_cpu::registers::{
    ICC_SRE_EL2, ICH_AP0R0_EL2, ICH_AP0R1_EL2, ICH_AP0R2_EL2, ICH_AP0R3_EL2, ICH_AP1R0_EL2,
    ICH_AP1R1_EL2, ICH_AP1R2_EL2, ICH_AP1R3_EL2, ICH_HCR_EL2, ICH_LR0_EL2, ICH_LR10_EL2,
    ICH_LR11_EL2, ICH_LR12_EL2, ICH_LR13_EL2, ICH_LR14_EL2, ICH_LR15_EL2, ICH_LR1_EL2, ICH_LR2_EL2,
    ICH_LR3_EL2, ICH_LR4_EL2, ICH_LR5_EL2, ICH_LR6_EL2, ICH_LR7_EL2, ICH_LR8_EL2, ICH_LR9_EL2,
    ICH_VMCR_EL2, ICH_VTR_EL2,
};
use core::arch::asm;
use sluice::gicv3::dist::{self as gicd, GICD_CTLR, GICD_TYPER};
use sluice::gicv3::redist::{
    self as gicr, lpi_takeover, LpiTakeover, GICR_CTLR, GICR_PENDBASER, GICR_PROPBASER, GICR_TYPER,
    GICR_WAKER,
};
use sluice::gicv3::{cpuif, mpidr_to_affinity32};
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

/// Priority sluice gives every physical interrupt it enables (all equal: no preemption at EL2,
/// which runs with interrupts masked anyway).
const DEFAULT_PRIORITY: u8 = 0xa0;
/// How long clearing EnableLPIs may take to complete (RWP); longer is a broken GIC.
const LPI_DISABLE_TIMEOUT_MS: u64 = 100;

/// INTIDs 1020..=1023 are special (1023: nothing pending); LPIs start at 8192.
pub const SPECIAL_INTIDS: core::ops::RangeInclusive<u32> = 1020..=1023;

/// One GIC system register that `aarch64-cpu` does not name (or names read-only), accessed by
/// its assembler name and typed with the fields of `sluice::gicv3::cpuif` (`()` for a register
/// that is one plain value).
macro_rules! gic_sysreg {
    ($(#[$doc:meta])* $reg:ident, $asm:literal, $fields:ty, $($access:ident)+) => {
        $(#[$doc])*
        struct $reg;
        $(gic_sysreg!(@$access $reg, $asm, $fields);)+
    };
    (@read $reg:ident, $asm:literal, $fields:ty) => {
        impl Readable for $reg {
            type T = u64;
            type R = $fields;
            fn get(&self) -> u64 {
                read_sysreg!($asm)
            }
        }
    };
    (@write $reg:ident, $asm:literal, $fields:ty) => {
        impl Writeable for $reg {
            type T = u64;
            type R = $fields;
            fn set(&self, value: u64) {
                write_sysreg!($asm, value)
            }
        }
    };
}

gic_sysreg!(/// ICC_PMR_EL1, priority mask (IHI 0069 12.2.15).
    IccPmrEl1, "ICC_PMR_EL1", (), write);
gic_sysreg!(/// ICC_BPR1_EL1, group 1 binary point (12.2.3).
    IccBpr1El1, "ICC_BPR1_EL1", (), write);
gic_sysreg!(/// ICC_CTLR_EL1 (12.2.6); `aarch64-cpu` has it read-only, with ExtRange alone.
    IccCtlrEl1, "ICC_CTLR_EL1", cpuif::ICC_CTLR_EL1::Register, read write);
gic_sysreg!(/// ICC_IGRPEN1_EL1, group 1 enable (12.2.13).
    IccIgrpen1El1, "ICC_IGRPEN1_EL1", (), write);
gic_sysreg!(/// ICC_IAR1_EL1, acknowledge (12.2.11).
    IccIar1El1, "ICC_IAR1_EL1", cpuif::ICC_IAR1_EL1::Register, read);
gic_sysreg!(/// ICC_HPPIR1_EL1, highest pending interrupt, not acknowledged (12.2.12).
    IccHppir1El1, "ICC_HPPIR1_EL1", cpuif::ICC_HPPIR1_EL1::Register, read);
gic_sysreg!(/// ICC_EOIR1_EL1, priority drop (12.2.9).
    IccEoir1El1, "ICC_EOIR1_EL1", (), write);
gic_sysreg!(/// ICC_DIR_EL1, deactivation (12.2.7).
    IccDirEl1, "ICC_DIR_EL1", (), write);
gic_sysreg!(/// ICC_SGI1R_EL1, group 1 SGI generation (12.2.23).
    IccSgi1rEl1, "ICC_SGI1R_EL1", cpuif::ICC_SGI1R_EL1::Register, write);

/// The physical distributor.
pub struct Distributor {
    regs: MmioBase,
}

impl Distributor {
    /// # Safety
    /// `regs` must map the GICD frame; only one `Distributor` may program it.
    pub const unsafe fn new(regs: MmioBase) -> Self {
        Self { regs }
    }

    /// Number of SPIs the distributor implements (GICD_TYPER.ITLinesNumber).
    pub fn spi_count(&self) -> u32 {
        let typer = self.regs.read32(gicd::GICD_TYPER);
        let lines = GICD_TYPER::ITLinesNumber.read(typer) + 1;
        (lines * 32).min(1020) - 32
    }

    /// Resets every SPI to group 1, disabled, inactive, not pending, then turns on affinity
    /// routing and both groups.
    pub fn init(&self) {
        self.regs.write32(gicd::GICD_CTLR, 0);
        self.wait_for_rwp();
        let spis = self.spi_count();
        for word in 1..=(spis / 32) as usize {
            self.regs.write32(gicd::GICD_ICENABLER + 4 * word, u32::MAX);
            self.regs.write32(gicd::GICD_ICPENDR + 4 * word, u32::MAX);
            self.regs.write32(gicd::GICD_ICACTIVER + 4 * word, u32::MAX);
            self.regs.write32(gicd::GICD_IGROUPR + 4 * word, u32::MAX);
        }
        for intid in 32..(32 + spis) as usize {
            self.regs
                .write8(gicd::GICD_IPRIORITYR + intid, DEFAULT_PRIORITY);
        }
        self.wait_for_rwp();
        let are = GICD_CTLR::ARE::SET;
        self.regs.write32(gicd::GICD_CTLR, are.value);
        self.wait_for_rwp();
        let enabled = are + GICD_CTLR::EnableGrp1::SET + GICD_CTLR::EnableGrp0::SET;
        self.regs.write32(gicd::GICD_CTLR, enabled.value);
        self.wait_for_rwp();
    }

    /// Routes SPI `intid` to the CPU with MPIDR affinity `affinity`, as a level-sensitive
    /// interrupt, and enables it.
    pub fn enable_spi(&self, intid: u32, affinity: u64, edge: bool) {
        let intid = intid as usize;
        let (cfg_offset, shift) = gicd::icfgr_edge_bit(intid);
        let cfg = self.regs.read32(cfg_offset) & !(1 << shift);
        self.regs
            .write32(cfg_offset, cfg | ((edge as u32) << shift));
        self.regs.write64(
            gicd::GICD_IROUTER + 8 * intid,
            gicd::irouter_for_mpidr(affinity),
        );
        let (enable, bit) = gicd::bit_array(gicd::GICD_ISENABLER, intid);
        self.regs.write32(enable, 1 << bit);
    }

    /// Clears the active state of SPI `intid` (one the guest will never deactivate now).
    pub fn clear_active(&self, intid: u32) {
        let (clear, bit) = gicd::bit_array(gicd::GICD_ICACTIVER, intid as usize);
        self.regs.write32(clear, 1 << bit);
    }

    fn wait_for_rwp(&self) {
        while GICD_CTLR::RWP.is_set(self.regs.read32(gicd::GICD_CTLR)) {
            core::hint::spin_loop();
        }
    }
}

/// One CPU's redistributor.
pub struct Redistributor {
    regs: MmioBase,
}

impl Redistributor {
    /// Finds the redistributor whose GICR_TYPER affinity equals `mpidr` by walking the frames of
    /// one redistributor region (the region must be mapped).
    pub fn find(region_start: usize, region_bytes: usize, mpidr: u64) -> Option<Self> {
        let wanted = mpidr_to_affinity32(mpidr);
        let mut offset = 0;
        while offset < region_bytes {
            // SAFETY: the caller maps the whole region; `offset` stays inside it.
            let frame = unsafe { MmioBase::new(region_start + offset) };
            let typer = frame.read64(gicr::GICR_TYPER);
            if GICR_TYPER::Affinity_Value.read(typer) == wanted {
                return Some(Self { regs: frame });
            }
            if GICR_TYPER::Last.is_set(typer) {
                return None;
            }
            offset += gicr::stride_bytes(typer);
        }
        None
    }

    /// Wakes the redistributor and makes all SGIs/PPIs group 1 and disabled.
    pub fn init(&self) {
        let waker = self.regs.read32(gicr::GICR_WAKER);
        let awake = GICR_WAKER::ProcessorSleep::CLEAR.modify(waker);
        self.regs.write32(gicr::GICR_WAKER, awake);
        while GICR_WAKER::ChildrenAsleep.is_set(self.regs.read32(gicr::GICR_WAKER)) {
            core::hint::spin_loop();
        }
        self.regs.write32(gicr::GICR_ICENABLER0, u32::MAX);
        self.regs.write32(gicr::GICR_IGROUPR0, u32::MAX);
        for intid in 0..32 {
            self.regs
                .write8(gicr::GICR_IPRIORITYR + intid, DEFAULT_PRIORITY);
        }
    }

    /// Gives this redistributor the LPI property table (shared by all) and its own pending
    /// table, then enables LPIs (IHI 0069 12.11.2, 12.11.29-30). Tables are inner-shareable,
    /// write-back cacheable heap memory; the pending table is zeroed (PTZ).
    /// LPIs that firmware left enabled are turned off first when GICR_CTLR.CES allows it
    /// (`lpi_takeover`); otherwise nothing is written and the reason is returned.
    pub fn enable_lpis(
        &self,
        prop_phys: u64,
        id_bits: u32,
        pend_phys: u64,
    ) -> Result<(), &'static str> {
        let ctlr = self.regs.read32(gicr::GICR_CTLR);
        match lpi_takeover(ctlr) {
            LpiTakeover::Fresh => {}
            LpiTakeover::Stuck => {
                return Err(
                    "LPIs left enabled by firmware and GICR_CTLR.CES = 0 (cannot be turned off)",
                )
            }
            LpiTakeover::DisableFirst => {
                self.regs
                    .write32(gicr::GICR_CTLR, GICR_CTLR::EnableLPIs::CLEAR.modify(ctlr));
                let off = super::cpu::spin_while(LPI_DISABLE_TIMEOUT_MS, || {
                    GICR_CTLR::RWP.is_set(self.regs.read32(gicr::GICR_CTLR))
                });
                if !off {
                    return Err(
                        "LPIs left enabled by firmware did not turn off (GICR_CTLR.RWP stuck)",
                    );
                }
                log::info!(
                    "redistributor {:#x}: LPIs left enabled by firmware turned off",
                    self.base()
                );
            }
        }
        let propbaser = GICR_PROPBASER::Physical_Address.val(prop_phys >> 12)
            + GICR_PROPBASER::Shareability::InnerShareable
            + GICR_PROPBASER::InnerCache::NormalWaRaWb
            + GICR_PROPBASER::IDbits.val((id_bits - 1) as u64);
        self.regs.write64(gicr::GICR_PROPBASER, propbaser.value);
        let pendbaser = GICR_PENDBASER::Physical_Address.val(pend_phys >> 16)
            + GICR_PENDBASER::Shareability::InnerShareable
            + GICR_PENDBASER::InnerCache::NormalWaRaWb
            + GICR_PENDBASER::PTZ::SET;
        self.regs.write64(gicr::GICR_PENDBASER, pendbaser.value);
        let ctlr = self.regs.read32(gicr::GICR_CTLR);
        self.regs
            .write32(gicr::GICR_CTLR, GICR_CTLR::EnableLPIs::SET.modify(ctlr));
        Ok(())
    }

    /// Physical address of this redistributor's RD_base frame.
    pub fn base(&self) -> u64 {
        self.regs.addr() as u64
    }

    /// GICR_TYPER.Processor_Number (an ITS target when GITS_TYPER.PTA is 0).
    pub fn processor_number(&self) -> u64 {
        GICR_TYPER::Processor_Number.read(self.regs.read64(gicr::GICR_TYPER))
    }

    /// Gives SGI/PPI `intid` the highest priority (0), above every other interrupt's
    /// `DEFAULT_PRIORITY`.
    pub fn make_private_urgent(&self, intid: u32) {
        self.regs
            .write8(gicr::GICR_IPRIORITYR + (intid % 32) as usize, 0);
    }

    /// Enables SGI or PPI `intid` on this CPU.
    pub fn enable_private(&self, intid: u32) {
        self.regs.write32(gicr::GICR_ISENABLER0, 1 << (intid % 32));
    }
}

/// Turns on this CPU's system-register interface at EL2 (and lets EL1 use its own, virtual,
/// one), unmasks all priorities and enables group 1 with split EOI/deactivation.
pub fn init_cpu_interface() {
    use aarch64_cpu::registers::ICC_SRE_EL2 as SRE;
    // EL1 accesses to ICC_SRE_EL1 do not trap (Enable); no IRQ/FIQ bypass.
    ICC_SRE_EL2.write(SRE::SRE::SET + SRE::DFB::SET + SRE::DIB::SET + SRE::ENABLE::SET);
    isb();
    IccPmrEl1.set(0xff); // let every priority through
    IccBpr1El1.set(0);
    IccCtlrEl1.write(cpuif::ICC_CTLR_EL1::EOImode::SET);
    IccIgrpen1El1.set(1);
    // The virtual CPU interface is on; every other control off.
    ICH_HCR_EL2.write(ICH_HCR_EL2::En::SET);
    reset_virtual_interface();
}

/// Which interrupt groups the guest's virtual CPU interface takes now (ICV_IGRPEN0_EL1 and
/// ICV_IGRPEN1_EL1, as ICH_VMCR_EL2 holds them while the guest is out): (group 0, group 1).
pub fn virtual_group_enables() -> (bool, bool) {
    let vmcr = ICH_VMCR_EL2.get();
    (
        cpuif::ICH_VMCR_EL2::VENG0.is_set(vmcr),
        cpuif::ICH_VMCR_EL2::VENG1.is_set(vmcr),
    )
}

/// Empties this CPU's virtual CPU interface as a reset CPU would have it: no list register in
/// use, no active priority, the guest's virtual interface disabled (ICH_VMCR_EL2 = 0).
pub fn reset_virtual_interface() {
    ICH_VMCR_EL2.set(0);
    for n in 0..list_register_count() {
        write_list_register(n, 0);
    }
    let registers = cpuif::active_priority_registers(ICH_VTR_EL2.read(ICH_VTR_EL2::PREbits));
    ICH_AP0R0_EL2.set(0);
    ICH_AP1R0_EL2.set(0);
    if registers > 1 {
        ICH_AP0R1_EL2.set(0);
        ICH_AP1R1_EL2.set(0);
    }
    if registers > 2 {
        ICH_AP0R2_EL2.set(0);
        ICH_AP1R2_EL2.set(0);
        ICH_AP0R3_EL2.set(0);
        ICH_AP1R3_EL2.set(0);
    }
    isb();
}

/// Clears the active state of this CPU's PPIs or SGIs `intids` in its redistributor (found in
/// `redist_regions`): an interrupt forwarded with LR.HW that the guest will never deactivate.
pub fn clear_active_private(redist_regions: &[sluice::mm::PhysRange], intids: &[u32]) {
    let mpidr = super::cpu::mpidr_affinity();
    let Some(redist) = redist_regions
        .iter()
        .find_map(|r| Redistributor::find(r.start as usize, r.size_bytes as usize, mpidr))
    else {
        return;
    };
    for &intid in intids.iter().filter(|&&i| i < 32) {
        redist.regs.write32(gicr::GICR_ICACTIVER0, 1 << intid);
    }
}

/// Acknowledges the highest-priority pending group 1 interrupt (ICC_IAR1_EL1).
pub fn acknowledge() -> u32 {
    IccIar1El1.read(cpuif::ICC_IAR1_EL1::INTID) as u32
}

/// The INTID `acknowledge` would return now (ICC_HPPIR1_EL1), left pending.
pub fn highest_pending() -> u32 {
    IccHppir1El1.read(cpuif::ICC_HPPIR1_EL1::INTID) as u32
}

/// Drops the running priority of `intid` (ICC_EOIR1_EL1; EOImode = 1, so it stays active).
pub fn end_of_interrupt(intid: u32) {
    IccEoir1El1.set(intid as u64);
}

/// Deactivates `intid` (ICC_DIR_EL1).
pub fn deactivate(intid: u32) {
    IccDirEl1.set(intid as u64);
    isb();
}

/// Sends SGI `intid` to the CPU with affinity `mpidr` (ICC_SGI1R_EL1, affinity routing).
pub fn send_sgi(intid: u32, mpidr: u64) {
    // SAFETY: DSB so that memory the target will read is visible before the interrupt.
    unsafe { asm!("dsb ish", options(nostack)) };
    IccSgi1rEl1.set(cpuif::sgi1r_for_mpidr(intid, mpidr));
    isb();
}

/// Number of list registers (ICH_VTR_EL2.ListRegs + 1).
pub fn list_register_count() -> usize {
    (ICH_VTR_EL2.read(ICH_VTR_EL2::ListRegs) + 1) as usize
}

/// Virtual priority bits implemented (ICH_VTR_EL2.PRIbits + 1).
pub fn virtual_priority_bits() -> u8 {
    (ICH_VTR_EL2.read(ICH_VTR_EL2::PRIbits) + 1) as u8
}

/// Sets or clears ICH_HCR_EL2.UIE (maintenance interrupt while at most one LR is in use).
/// The maintenance interrupt is level-sensitive: the exit handler clears UIE first thing, or
/// the interrupt would stay asserted while it works with empty LRs.
pub fn set_underflow_interrupt(enabled: bool) {
    let uie = if enabled {
        ICH_HCR_EL2::UIE::SET
    } else {
        ICH_HCR_EL2::UIE::CLEAR
    };
    ICH_HCR_EL2.modify(uie);
}

/// Reads ICH_LR<n>_EL2 (0 beyond the sixteen the architecture allows).
pub fn read_list_register(n: usize) -> u64 {
    match n {
        0 => ICH_LR0_EL2.get(),
        1 => ICH_LR1_EL2.get(),
        2 => ICH_LR2_EL2.get(),
        3 => ICH_LR3_EL2.get(),
        4 => ICH_LR4_EL2.get(),
        5 => ICH_LR5_EL2.get(),
        6 => ICH_LR6_EL2.get(),
        7 => ICH_LR7_EL2.get(),
        8 => ICH_LR8_EL2.get(),
        9 => ICH_LR9_EL2.get(),
        10 => ICH_LR10_EL2.get(),
        11 => ICH_LR11_EL2.get(),
        12 => ICH_LR12_EL2.get(),
        13 => ICH_LR13_EL2.get(),
        14 => ICH_LR14_EL2.get(),
        15 => ICH_LR15_EL2.get(),
        _ => 0,
    }
}

/// Writes ICH_LR<n>_EL2 (n beyond the implemented count is ignored).
pub fn write_list_register(n: usize, value: u64) {
    match n {
        0 => ICH_LR0_EL2.set(value),
        1 => ICH_LR1_EL2.set(value),
        2 => ICH_LR2_EL2.set(value),
        3 => ICH_LR3_EL2.set(value),
        4 => ICH_LR4_EL2.set(value),
        5 => ICH_LR5_EL2.set(value),
        6 => ICH_LR6_EL2.set(value),
        7 => ICH_LR7_EL2.set(value),
        8 => ICH_LR8_EL2.set(value),
        9 => ICH_LR9_EL2.set(value),
        10 => ICH_LR10_EL2.set(value),
        11 => ICH_LR11_EL2.set(value),
        12 => ICH_LR12_EL2.set(value),
        13 => ICH_LR13_EL2.set(value),
        14 => ICH_LR14_EL2.set(value),
        15 => ICH_LR15_EL2.set(value),
        _ => {}
    }
}

fn isb() {
    // SAFETY: an instruction barrier has no memory effect.
    unsafe { asm!("isb", options(nomem, nostack)) };
}
