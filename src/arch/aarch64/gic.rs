//! The physical GICv3: distributor and redistributor set-up, the EL2 CPU interface, and the
//! virtual CPU interface controls (list registers) used to inject interrupts into the guest.
//!
//! sluice runs the physical CPU interface with EOImode = 1: acknowledging an interrupt and
//! dropping its priority are separate from deactivating it, so an interrupt forwarded to the
//! guest with LR.HW = 1 stays active until the guest deactivates it.

use super::cpu::{read_sysreg, write_sysreg};
use super::mmio::MmioBase;
use aarch64_cpu::registers::ICH_HCR_EL2;
use core::arch::asm;
use tock_registers::interfaces::ReadWriteable;

// Distributor registers (GICv3 architecture specification, IHI 0069, 12.9).
const GICD_CTLR: usize = 0x0000;
const GICD_TYPER: usize = 0x0004;
const GICD_IGROUPR: usize = 0x0080;
const GICD_ISENABLER: usize = 0x0100;
const GICD_ICENABLER: usize = 0x0180;
const GICD_ICPENDR: usize = 0x0280;
const GICD_ICACTIVER: usize = 0x0380;
const GICD_IPRIORITYR: usize = 0x0400;
const GICD_ICFGR: usize = 0x0c00;
const GICD_IROUTER: usize = 0x6000;
const GICD_CTLR_RWP: u32 = 1 << 31;
const GICD_CTLR_ARE: u32 = 1 << 4;
const GICD_CTLR_ENABLE_GRP1: u32 = 1 << 1;
const GICD_CTLR_ENABLE_GRP0: u32 = 1 << 0;

// Redistributor registers (IHI 0069, 12.10/12.11); SGI_base is the second 64 KiB frame.
const GICR_CTLR: usize = 0x0000;
const GICR_CTLR_ENABLE_LPIS: u32 = 1 << 0;
const GICR_TYPER: usize = 0x0008;
const GICR_PROPBASER: usize = 0x0070;
const GICR_PENDBASER: usize = 0x0078;
const GICR_WAKER: usize = 0x0014;
const GICR_SGI_BASE: usize = 0x1_0000;
const GICR_IGROUPR0: usize = GICR_SGI_BASE + 0x0080;
const GICR_ISENABLER0: usize = GICR_SGI_BASE + 0x0100;
const GICR_ICENABLER0: usize = GICR_SGI_BASE + 0x0180;
const GICR_IPRIORITYR: usize = GICR_SGI_BASE + 0x0400;
const GICR_ICACTIVER0: usize = GICR_SGI_BASE + 0x0380;
const GICR_TYPER_LAST: u64 = 1 << 4;
const GICR_TYPER_VLPIS: u64 = 1 << 1;
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

/// Priority sluice gives every physical interrupt it enables (all equal: no preemption at EL2,
/// which runs with interrupts masked anyway).
const DEFAULT_PRIORITY: u8 = 0xa0;

/// INTIDs 1020..=1023 are special (1023: nothing pending); LPIs start at 8192.
pub const SPECIAL_INTIDS: core::ops::RangeInclusive<u32> = 1020..=1023;

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
        let lines = (self.regs.read32(GICD_TYPER) & 0x1f) + 1;
        (lines * 32).min(1020) - 32
    }

    /// Resets every SPI to group 1, disabled, inactive, not pending, then turns on affinity
    /// routing and both groups.
    pub fn init(&self) {
        self.regs.write32(GICD_CTLR, 0);
        self.wait_for_rwp();
        let spis = self.spi_count();
        for word in 1..=(spis / 32) as usize {
            self.regs.write32(GICD_ICENABLER + 4 * word, u32::MAX);
            self.regs.write32(GICD_ICPENDR + 4 * word, u32::MAX);
            self.regs.write32(GICD_ICACTIVER + 4 * word, u32::MAX);
            self.regs.write32(GICD_IGROUPR + 4 * word, u32::MAX);
        }
        for intid in 32..(32 + spis) as usize {
            self.regs.write8(GICD_IPRIORITYR + intid, DEFAULT_PRIORITY);
        }
        self.wait_for_rwp();
        self.regs.write32(GICD_CTLR, GICD_CTLR_ARE);
        self.wait_for_rwp();
        self.regs.write32(
            GICD_CTLR,
            GICD_CTLR_ARE | GICD_CTLR_ENABLE_GRP1 | GICD_CTLR_ENABLE_GRP0,
        );
        self.wait_for_rwp();
    }

    /// Routes SPI `intid` to the CPU with MPIDR affinity `affinity`, as a level-sensitive
    /// interrupt, and enables it.
    pub fn enable_spi(&self, intid: u32, affinity: u64, edge: bool) {
        let intid = intid as usize;
        let cfg_offset = GICD_ICFGR + 4 * (intid / 16);
        let shift = 2 * (intid % 16) + 1;
        let cfg = self.regs.read32(cfg_offset) & !(1 << shift);
        self.regs
            .write32(cfg_offset, cfg | ((edge as u32) << shift));
        self.regs
            .write64(GICD_IROUTER + 8 * intid, affinity_to_irouter(affinity));
        self.regs
            .write32(GICD_ISENABLER + 4 * (intid / 32), 1 << (intid % 32));
    }

    /// Clears the active state of SPI `intid` (one the guest will never deactivate now).
    pub fn clear_active(&self, intid: u32) {
        let intid = intid as usize;
        self.regs
            .write32(GICD_ICACTIVER + 4 * (intid / 32), 1 << (intid % 32));
    }

    fn wait_for_rwp(&self) {
        while self.regs.read32(GICD_CTLR) & GICD_CTLR_RWP != 0 {
            core::hint::spin_loop();
        }
    }
}

fn affinity_to_irouter(mpidr: u64) -> u64 {
    (mpidr & 0xff_ffff) | ((mpidr >> 32) & 0xff) << 32
}

/// One CPU's redistributor.
pub struct Redistributor {
    regs: MmioBase,
}

impl Redistributor {
    /// Finds the redistributor whose GICR_TYPER affinity equals `mpidr` by walking the frames of
    /// one redistributor region (the region must be mapped).
    pub fn find(region_start: usize, region_bytes: usize, mpidr: u64) -> Option<Self> {
        let wanted = ((mpidr >> 32) & 0xff) << 24 | (mpidr & 0xff_ffff);
        let mut offset = 0;
        while offset < region_bytes {
            // SAFETY: the caller maps the whole region; `offset` stays inside it.
            let frame = unsafe { MmioBase::new(region_start + offset) };
            let typer = frame.read64(GICR_TYPER);
            if typer >> 32 == wanted {
                return Some(Self { regs: frame });
            }
            if typer & GICR_TYPER_LAST != 0 {
                return None;
            }
            offset += if typer & GICR_TYPER_VLPIS != 0 {
                0x4_0000
            } else {
                0x2_0000
            };
        }
        None
    }

    /// Wakes the redistributor and makes all SGIs/PPIs group 1 and disabled.
    pub fn init(&self) {
        let waker = self.regs.read32(GICR_WAKER) & !GICR_WAKER_PROCESSOR_SLEEP;
        self.regs.write32(GICR_WAKER, waker);
        while self.regs.read32(GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP != 0 {
            core::hint::spin_loop();
        }
        self.regs.write32(GICR_ICENABLER0, u32::MAX);
        self.regs.write32(GICR_IGROUPR0, u32::MAX);
        for intid in 0..32 {
            self.regs.write8(GICR_IPRIORITYR + intid, DEFAULT_PRIORITY);
        }
    }

    /// Gives this redistributor the LPI property table (shared by all) and its own pending
    /// table, then enables LPIs (IHI 0069 12.11.2, 12.11.29-30). Tables are inner-shareable,
    /// write-back cacheable heap memory; the pending table is zeroed (PTZ).
    pub fn enable_lpis(&self, prop_phys: u64, id_bits: u32, pend_phys: u64) {
        const INNER_SHAREABLE: u64 = 1 << 10;
        const CACHE_WB_RAWA: u64 = 7 << 7;
        const PENDBASER_PTZ: u64 = 1 << 62;
        self.regs.write64(
            GICR_PROPBASER,
            prop_phys | INNER_SHAREABLE | CACHE_WB_RAWA | (id_bits - 1) as u64,
        );
        self.regs.write64(
            GICR_PENDBASER,
            pend_phys | INNER_SHAREABLE | CACHE_WB_RAWA | PENDBASER_PTZ,
        );
        let ctlr = self.regs.read32(GICR_CTLR);
        self.regs.write32(GICR_CTLR, ctlr | GICR_CTLR_ENABLE_LPIS);
    }

    /// Physical address of this redistributor's RD_base frame.
    pub fn base(&self) -> u64 {
        self.regs.addr() as u64
    }

    /// GICR_TYPER.Processor_Number (an ITS target when GITS_TYPER.PTA is 0).
    pub fn processor_number(&self) -> u64 {
        (self.regs.read64(GICR_TYPER) >> 8) & 0xffff
    }

    /// Enables SGI or PPI `intid` on this CPU.
    pub fn enable_private(&self, intid: u32) {
        self.regs.write32(GICR_ISENABLER0, 1 << (intid % 32));
    }
}

/// Turns on this CPU's system-register interface at EL2 (and lets EL1 use its own, virtual,
/// one), unmasks all priorities and enables group 1 with split EOI/deactivation.
pub fn init_cpu_interface() {
    // ICC_SRE_EL2: SRE | DFB | DIB | Enable (EL1 accesses to ICC_SRE_EL1 do not trap).
    write_sysreg!("S3_4_C12_C9_5", 0xf);
    isb();
    write_sysreg!("S3_0_C4_C6_0", 0xff); // ICC_PMR_EL1: let every priority through
    write_sysreg!("S3_0_C12_C12_3", 0); // ICC_BPR1_EL1
    write_sysreg!("S3_0_C12_C12_4", 1 << 1); // ICC_CTLR_EL1.EOImode = 1
    write_sysreg!("S3_0_C12_C12_7", 1); // ICC_IGRPEN1_EL1
                                        // ICH_HCR_EL2.En: the virtual CPU interface is on.
    write_sysreg!("S3_4_C12_C11_0", 1);
    reset_virtual_interface();
}

/// Empties this CPU's virtual CPU interface as a reset CPU would have it: no list register in
/// use, no active priority, the guest's virtual interface disabled (ICH_VMCR_EL2 = 0).
pub fn reset_virtual_interface() {
    write_sysreg!("S3_4_C12_C11_7", 0);
    for n in 0..list_register_count() {
        write_list_register(n, 0);
    }
    // ICH_VTR_EL2.PREbits + 1 preemption bits: 5 -> one ICH_AP<n>R<x> register, 6 -> two, 7 -> four.
    let pre_bits = ((read_sysreg!("S3_4_C12_C11_1") >> 26) & 0x7) + 1;
    let registers = 1 << pre_bits.saturating_sub(5);
    write_sysreg!("S3_4_C12_C8_0", 0); // ICH_AP0R0_EL2
    write_sysreg!("S3_4_C12_C9_0", 0); // ICH_AP1R0_EL2
    if registers > 1 {
        write_sysreg!("S3_4_C12_C8_1", 0);
        write_sysreg!("S3_4_C12_C9_1", 0);
    }
    if registers > 2 {
        write_sysreg!("S3_4_C12_C8_2", 0);
        write_sysreg!("S3_4_C12_C9_2", 0);
        write_sysreg!("S3_4_C12_C8_3", 0);
        write_sysreg!("S3_4_C12_C9_3", 0);
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
        redist.regs.write32(GICR_ICACTIVER0, 1 << intid);
    }
}

/// Acknowledges the highest-priority pending group 1 interrupt (ICC_IAR1_EL1).
pub fn acknowledge() -> u32 {
    (read_sysreg!("S3_0_C12_C12_0") & 0xff_ffff) as u32
}

/// Drops the running priority of `intid` (ICC_EOIR1_EL1; EOImode = 1, so it stays active).
pub fn end_of_interrupt(intid: u32) {
    write_sysreg!("S3_0_C12_C12_1", intid as u64);
}

/// Deactivates `intid` (ICC_DIR_EL1).
pub fn deactivate(intid: u32) {
    write_sysreg!("S3_0_C12_C11_1", intid as u64);
    isb();
}

/// Sends SGI `intid` to the CPU with affinity `mpidr` (ICC_SGI1R_EL1, affinity routing).
pub fn send_sgi(intid: u32, mpidr: u64) {
    let aff0 = mpidr & 0xf;
    let value = ((mpidr >> 32) & 0xff) << 48
        | ((mpidr >> 16) & 0xff) << 32
        | ((intid as u64) & 0xf) << 24
        | ((mpidr >> 8) & 0xff) << 16
        | 1 << aff0;
    // SAFETY: DSB so that memory the target will read is visible before the interrupt.
    unsafe { asm!("dsb ish", options(nostack)) };
    write_sysreg!("S3_0_C12_C11_5", value);
    isb();
}

/// Number of list registers (ICH_VTR_EL2.ListRegs + 1).
pub fn list_register_count() -> usize {
    ((read_sysreg!("S3_4_C12_C11_1") & 0x1f) + 1) as usize
}

/// Virtual priority bits implemented (ICH_VTR_EL2.PRIbits + 1).
pub fn virtual_priority_bits() -> u8 {
    (((read_sysreg!("S3_4_C12_C11_1") >> 29) & 0x7) + 1) as u8
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

/// Reads ICH_LR<n>_EL2.
pub fn read_list_register(n: usize) -> u64 {
    match n {
        0 => read_sysreg!("S3_4_C12_C12_0"),
        1 => read_sysreg!("S3_4_C12_C12_1"),
        2 => read_sysreg!("S3_4_C12_C12_2"),
        3 => read_sysreg!("S3_4_C12_C12_3"),
        4 => read_sysreg!("S3_4_C12_C12_4"),
        5 => read_sysreg!("S3_4_C12_C12_5"),
        6 => read_sysreg!("S3_4_C12_C12_6"),
        7 => read_sysreg!("S3_4_C12_C12_7"),
        8 => read_sysreg!("S3_4_C12_C13_0"),
        9 => read_sysreg!("S3_4_C12_C13_1"),
        10 => read_sysreg!("S3_4_C12_C13_2"),
        11 => read_sysreg!("S3_4_C12_C13_3"),
        12 => read_sysreg!("S3_4_C12_C13_4"),
        13 => read_sysreg!("S3_4_C12_C13_5"),
        14 => read_sysreg!("S3_4_C12_C13_6"),
        15 => read_sysreg!("S3_4_C12_C13_7"),
        _ => 0,
    }
}

/// Writes ICH_LR<n>_EL2 (n beyond the implemented count is ignored).
pub fn write_list_register(n: usize, value: u64) {
    match n {
        0 => write_sysreg!("S3_4_C12_C12_0", value),
        1 => write_sysreg!("S3_4_C12_C12_1", value),
        2 => write_sysreg!("S3_4_C12_C12_2", value),
        3 => write_sysreg!("S3_4_C12_C12_3", value),
        4 => write_sysreg!("S3_4_C12_C12_4", value),
        5 => write_sysreg!("S3_4_C12_C12_5", value),
        6 => write_sysreg!("S3_4_C12_C12_6", value),
        7 => write_sysreg!("S3_4_C12_C12_7", value),
        8 => write_sysreg!("S3_4_C12_C13_0", value),
        9 => write_sysreg!("S3_4_C12_C13_1", value),
        10 => write_sysreg!("S3_4_C12_C13_2", value),
        11 => write_sysreg!("S3_4_C12_C13_3", value),
        12 => write_sysreg!("S3_4_C12_C13_4", value),
        13 => write_sysreg!("S3_4_C12_C13_5", value),
        14 => write_sysreg!("S3_4_C12_C13_6", value),
        15 => write_sysreg!("S3_4_C12_C13_7", value),
        _ => {}
    }
}

fn isb() {
    // SAFETY: an instruction barrier has no memory effect.
    unsafe { asm!("isb", options(nomem, nostack)) };
}
