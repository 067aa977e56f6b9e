//! GICv3 (Arm IHI 0069): the distributor's group-1 enable, this CPU's redistributor (found by
//! affinity, woken, its SGIs and PPIs put in group 1 and enabled) and the CPU interface
//! through the ICC_* system registers at EL1.

use crate::arch::{self, counter, mrs, msr, us_to_ticks};
use crate::encode;
use crate::platform::{Platform, MAX_CPUS};
use core::sync::atomic::{AtomicU64, Ordering};

/// GICD_CTLR (12.9.4): register write pending, affinity routing, group 1 enable.
const GICD_CTLR: u64 = 0x0000;
const GICD_CTLR_RWP: u32 = 1 << 31;
const GICD_CTLR_ARE: u32 = 1 << 4;
const GICD_CTLR_ENABLE_GRP1: u32 = 1 << 1;
/// GICR_TYPER (12.11.35): affinity in [63:32], Last in bit 4.
const GICR_TYPER: u64 = 0x0008;
const GICR_TYPER_LAST: u64 = 1 << 4;
/// GICR_WAKER (12.11.38).
const GICR_WAKER: u64 = 0x0014;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// SGI_base frame, 64 KiB above RD_base.
const SGI_BASE: u64 = 0x1_0000;
const GICR_IGROUPR0: u64 = SGI_BASE + 0x0080;
const GICR_ISENABLER0: u64 = SGI_BASE + 0x0100;
const GICR_ISPENDR0: u64 = SGI_BASE + 0x0200;
const GICR_ISACTIVER0: u64 = SGI_BASE + 0x0300;
const GICR_IPRIORITYR: u64 = SGI_BASE + 0x0400;
/// Priority of every SGI and PPI (below the PMR of 0xff).
const PRIORITY: u32 = 0xa0a0_a0a0;

/// INTIDs 1020..1023 are special (no interrupt pending).
pub const SPURIOUS_FIRST: u32 = 1020;

static RD_BASE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

fn read32(addr: u64) -> u32 {
    // SAFETY: `addr` is a GIC register from the device tree, mapped as Device memory.
    unsafe { arch::mmio_read32(addr) }
}

fn write32(addr: u64, v: u32) {
    // SAFETY: as in `read32`.
    unsafe { arch::mmio_write32(addr, v) }
}

fn read64(addr: u64) -> u64 {
    // SAFETY: as in `read32`; GICR_TYPER is a 64-bit register.
    unsafe { arch::mmio_read64(addr) }
}

/// Polls `cond` for up to 100 ms.
fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let end = counter() + us_to_ticks(100_000);
    while !cond() {
        if counter() > end {
            return false;
        }
    }
    true
}

/// Enables affinity routing and group 1 at the distributor (CPU 0, once).
pub fn init_distributor(p: &Platform) -> Result<(), &'static str> {
    let ctlr = p.gicd + GICD_CTLR;
    write32(ctlr, read32(ctlr) | GICD_CTLR_ARE | GICD_CTLR_ENABLE_GRP1);
    if !wait_for(|| read32(ctlr) & GICD_CTLR_RWP == 0) {
        return Err("GICD_CTLR.RWP stays set");
    }
    Ok(())
}

/// The redistributor of the CPU with affinity `mpidr`.
fn find_redistributor(p: &Platform, mpidr: u64) -> Option<u64> {
    for region in &p.gicr[..p.gicr_count] {
        let mut rd = region.base;
        while region.contains(rd) {
            let typer = read64(rd + GICR_TYPER);
            if typer >> 32 == encode::typer_affinity(mpidr) {
                return Some(rd);
            }
            if typer & GICR_TYPER_LAST != 0 {
                break;
            }
            rd += p.gicr_stride;
        }
    }
    None
}

/// Wakes this CPU's redistributor, puts SGIs and PPIs in group 1 at one priority, enables
/// `enable_mask` (bit n = INTID n), and turns the CPU interface on.
pub fn init_cpu(
    p: &Platform,
    cpu: usize,
    mpidr: u64,
    enable_mask: u32,
) -> Result<(), &'static str> {
    let rd = find_redistributor(p, mpidr).ok_or("no redistributor with this CPU's affinity")?;
    RD_BASE[cpu].store(rd, Ordering::Relaxed);
    write32(
        rd + GICR_WAKER,
        read32(rd + GICR_WAKER) & !WAKER_PROCESSOR_SLEEP,
    );
    if !wait_for(|| read32(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP == 0) {
        return Err("GICR_WAKER.ChildrenAsleep stays set");
    }
    write32(rd + GICR_IGROUPR0, !0);
    for i in 0..8 {
        write32(rd + GICR_IPRIORITYR + 4 * i, PRIORITY);
    }
    write32(rd + GICR_ISENABLER0, enable_mask);
    msr!("s3_0_c12_c12_5", mrs!("s3_0_c12_c12_5") | 1); // ICC_SRE_EL1.SRE
    msr!("s3_0_c4_c6_0", 0xff); // ICC_PMR_EL1: every priority passes
    msr!("s3_0_c12_c12_3", 0); // ICC_BPR1_EL1
    msr!("s3_0_c12_c12_4", mrs!("s3_0_c12_c12_4") & !2); // ICC_CTLR_EL1.EOImode = 0
    msr!("s3_0_c12_c12_7", 1); // ICC_IGRPEN1_EL1
    Ok(())
}

/// GICR_ISPENDR0 of `cpu`'s redistributor: which SGIs and PPIs are pending.
pub fn ispendr0(cpu: usize) -> u32 {
    read32(RD_BASE[cpu].load(Ordering::Relaxed) + GICR_ISPENDR0)
}

/// GICR_ISACTIVER0 of `cpu`'s redistributor: which SGIs and PPIs are active.
pub fn isactiver0(cpu: usize) -> u32 {
    read32(RD_BASE[cpu].load(Ordering::Relaxed) + GICR_ISACTIVER0)
}

/// Enables SGIs and PPIs `mask` (bit n = INTID n) at `cpu`'s redistributor.
pub fn enable_private(cpu: usize, mask: u32) {
    write32(RD_BASE[cpu].load(Ordering::Relaxed) + GICR_ISENABLER0, mask);
}

/// Reads distributor register `offset`.
pub fn gicd_read32(offset: u64) -> u32 {
    read32(crate::smp::platform().gicd + offset)
}

/// Writes distributor register `offset`.
pub fn gicd_write32(offset: u64, v: u32) {
    write32(crate::smp::platform().gicd + offset, v)
}

/// Writes ICC_SGI1R_EL1 as it is (any routing mode and target list).
pub fn send_sgi1r(value: u64) {
    msr!("s3_0_c12_c11_5", value);
}

/// Acknowledges the highest priority pending group-1 interrupt (ICC_IAR1_EL1).
pub fn ack() -> u32 {
    mrs!("s3_0_c12_c12_0") as u32
}

/// Ends it (ICC_EOIR1_EL1; EOImode 0 also deactivates).
pub fn eoi(iar: u32) {
    msr!("s3_0_c12_c12_1", iar as u64);
}

/// Sends SGI `intid` to the CPU with affinity `mpidr` (ICC_SGI1R_EL1).
pub fn send_sgi(intid: u32, mpidr: u64) {
    msr!("s3_0_c12_c11_5", encode::sgi1r(intid, mpidr));
}
