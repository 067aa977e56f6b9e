//! The cross-guest probe (`vcputest.probe=SECS`), for a guest that shares the machine with
//! another guest: it pokes the other guest's SPI (`vcputest.probespi=INTID`) through its own
//! distributor, then for SECS seconds sends SGIs 0-7 to every PE but itself (IRM = 1) and to
//! target lists naming Aff0 1 (the other guest's physical CPU in the two-guest demo) and every
//! Aff0 but its own. None may come back to it, and the other guest must see none (the test
//! checks its IPI counts); a control SGI to itself must arrive.

use crate::arch::{self, counter, counter_hz, us_to_ticks};
use crate::bootargs::Config;
use crate::console::say;
use crate::exception::{self, SGIS_TAKEN};
use crate::report::check;
use crate::{encode, gic};
use core::sync::atomic::Ordering;

/// Distributor registers (IHI 0069 12.9).
const GICD_TYPER: u64 = 0x0004;
const GICD_ISENABLER: u64 = 0x0100;
const GICD_ISPENDR: u64 = 0x0200;
const GICD_IROUTER: u64 = 0x6000;
/// The SGI of the control: not one the probe floods with.
const SGI_CONTROL: u32 = 9;

/// Runs the whole probe on CPU 0.
pub fn run(cfg: &Config) {
    let typer = gic::gicd_read32(GICD_TYPER);
    say!(
        "info probe GICD_TYPER={typer:#x} (SPIs up to INTID {})",
        ((typer & 0x1f) + 1) * 32 - 1
    );
    if cfg.probe_spi >= 32 {
        poke_spi(cfg.probe_spi);
    }
    gic::enable_private(0, 0xffff);
    flood(cfg.probe_secs);
    control();
}

/// Enables, pends and routes SPI `spi` through the distributor: every write must be ignored
/// (no abort, nothing reads back).
fn poke_spi(spi: u32) {
    let word = u64::from(spi / 32) * 4;
    let bit = 1u32 << (spi % 32);
    let irouter = GICD_IROUTER + 8 * u64::from(spi);
    let fault = exception::probe(|| {
        gic::gicd_write32(GICD_ISENABLER + word, bit);
        gic::gicd_write32(GICD_ISPENDR + word, bit);
        gic::gicd_write32(irouter, 1);
    });
    let enabled = gic::gicd_read32(GICD_ISENABLER + word) & bit != 0;
    let pending = gic::gicd_read32(GICD_ISPENDR + word) & bit != 0;
    let route = gic::gicd_read32(irouter);
    check!(
        fault.is_none() && !enabled && !pending && route == 0,
        "probe gicd spi {spi}: ISENABLER, ISPENDR and IROUTER writes ignored (abort={} enabled={enabled} pending={pending} route={route:#x})",
        fault.is_some()
    );
}

fn taken() -> u64 {
    SGIS_TAKEN.iter().map(|c| c.load(Ordering::Relaxed)).sum()
}

/// Busy-waits `us` microseconds.
fn pause(us: u64) {
    let end = counter() + us_to_ticks(us);
    while counter() < end {}
}

/// SGIs to everybody but itself for `secs` seconds; none may reach this vCPU.
fn flood(secs: u32) {
    say!("info probe sgi flood for {secs} s");
    let before = taken();
    arch::irq_unmask();
    let end = counter() + u64::from(secs) * counter_hz();
    let mut sent = 0u64;
    while counter() < end {
        for intid in 0..8 {
            gic::send_sgi1r(encode::sgi1r_all_others(intid));
            gic::send_sgi1r(encode::sgi1r_list(intid, 1 << 1));
            gic::send_sgi1r(encode::sgi1r_list(intid, 0xfffe));
            sent += 3;
        }
        pause(1000);
    }
    pause(10_000); // anything in flight lands
    arch::irq_mask();
    let got = taken() - before;
    let pending = gic::ispendr0(0) & 0xffff;
    check!(
        sent > 0 && got == 0 && pending == 0,
        "probe sgi sent={sent} (SGIs 0-7: IRM=1, target list Aff0 1, target list every Aff0 but 0) taken_here={got} pending_here={pending:#x}"
    );
}

/// An SGI to itself arrives: the flood's silence is not a dead CPU interface.
fn control() {
    let before = SGIS_TAKEN[SGI_CONTROL as usize].load(Ordering::Relaxed);
    arch::irq_unmask();
    gic::send_sgi(SGI_CONTROL, arch::mpidr());
    let end = counter() + us_to_ticks(100_000);
    while counter() < end && SGIS_TAKEN[SGI_CONTROL as usize].load(Ordering::Relaxed) == before {}
    arch::irq_mask();
    let arrived = SGIS_TAKEN[SGI_CONTROL as usize].load(Ordering::Relaxed) - before;
    check!(
        arrived == 1,
        "probe sgi control: SGI {SGI_CONTROL} to itself arrived {arrived} time(s)"
    );
}
