//! The EL1 virtual timer as the GIC sees it: it fires when CVAL passes; once it is pending
//! (IRQs masked at the CPU, so it stays pending) and then disabled, masked (IMASK) or moved
//! into the future, GICR_ISPENDR0 must stop showing it and no interrupt may be taken when IRQs
//! are unmasked; enabled again it fires again (Arm ARM D12.2.4: the timer output is a level).
//! Each quieting is three lines: pending seen while masked, quiet afterwards, fires again.

use crate::arch::{self, cntv_ctl, counter, mrs, msr, ticks_to_us, us_to_ticks};
use crate::exception::{TIMER_AT, TIMER_FIRED};
use crate::gic;
use crate::report::check;
use crate::smp::platform;
use core::sync::atomic::Ordering;

/// Unmasks IRQs until the timer fires once more or `us` pass; true if it fired.
fn fires_within(us: u64) -> bool {
    let before = TIMER_FIRED.load(Ordering::Acquire);
    let end = counter() + us_to_ticks(us);
    arch::irq_unmask();
    while TIMER_FIRED.load(Ordering::Acquire) == before && counter() < end {}
    arch::irq_mask();
    TIMER_FIRED.load(Ordering::Acquire) != before
}

fn pending_in_gicr(bit: u32) -> bool {
    gic::ispendr0(0) & bit != 0
}

/// The ways to quieten a pending timer.
#[derive(Clone, Copy)]
enum Quiet {
    Disable,
    Imask,
    FutureCval,
}

impl Quiet {
    fn name(self) -> &'static str {
        match self {
            Quiet::Disable => "disable",
            Quiet::Imask => "imask",
            Quiet::FutureCval => "cval-future",
        }
    }

    fn apply(self) {
        match self {
            Quiet::Disable => msr!("cntv_ctl_el0", 0),
            Quiet::Imask => msr!("cntv_ctl_el0", cntv_ctl::ENABLE | cntv_ctl::IMASK),
            Quiet::FutureCval => msr!("cntv_cval_el0", counter() + us_to_ticks(10_000_000)),
        }
    }
}

fn fires_when_cval_passes() {
    let cval = counter() + us_to_ticks(10_000);
    msr!("cntv_cval_el0", cval);
    msr!("cntv_ctl_el0", cntv_ctl::ENABLE);
    let fired = fires_within(1_000_000);
    let at = TIMER_AT.load(Ordering::Relaxed);
    let late_us = ticks_to_us(at.saturating_sub(cval));
    check!(
        fired && at >= cval,
        "timer fires when CVAL passes: fired={fired} early={} late_us={late_us}",
        at < cval
    );
}

/// Arms the timer in the past with IRQs masked: its condition is met (ISTATUS) and the GIC
/// must show it pending. True if GICR_ISPENDR0 showed it within 100 ms.
fn pending_while_masked(how: Quiet, bit: u32) -> bool {
    arch::irq_mask();
    msr!("cntv_cval_el0", counter());
    msr!("cntv_ctl_el0", cntv_ctl::ENABLE);
    let start = counter();
    let end = start + us_to_ticks(100_000);
    while !pending_in_gicr(bit) && counter() < end {}
    let (seen, us) = (pending_in_gicr(bit), ticks_to_us(counter() - start));
    let istatus = mrs!("cntv_ctl_el0") & cntv_ctl::ISTATUS != 0;
    check!(
        seen && istatus,
        "timer pending in GICR_ISPENDR0 with IRQs masked (before {}): istatus={istatus} seen={seen} after_us={us}",
        how.name()
    );
    seen
}

/// Pending with IRQs masked, quietened by `how`: it must leave GICR_ISPENDR0 and no interrupt
/// may be taken once IRQs are unmasked; re-armed, it must fire again.
fn quiet_then_refire(how: Quiet) {
    let bit = 1u32 << platform().vtimer_intid;
    let before = TIMER_FIRED.load(Ordering::Acquire);
    let was_pending = pending_while_masked(how, bit);
    how.apply();
    let start = counter();
    let cleared_at_once = !pending_in_gicr(bit);
    let end = start + us_to_ticks(1_000);
    while pending_in_gicr(bit) && counter() < end {}
    let clear_us = ticks_to_us(counter() - start);
    let still_pending = pending_in_gicr(bit);
    let taken = fires_within(20_000) || TIMER_FIRED.load(Ordering::Acquire) != before;
    check!(
        !still_pending && !taken,
        "timer quiet after {}: was_pending={was_pending} ispendr0_clear_at_once={cleared_at_once} ispendr0_clear_within_1ms={} clear_us={} irq_taken={taken}",
        how.name(),
        !still_pending,
        if still_pending { 1000 } else { clear_us }
    );
    msr!("cntv_cval_el0", counter());
    msr!("cntv_ctl_el0", cntv_ctl::ENABLE);
    let fired = fires_within(1_000_000);
    check!(
        fired,
        "timer fires again after {}: fired={fired}",
        how.name()
    );
}

/// The timer checks, on CPU 0 (IRQs masked on entry and exit).
pub fn check_all() {
    fires_when_cval_passes();
    for how in [Quiet::Disable, Quiet::Imask, Quiet::FutureCval] {
        quiet_then_refire(how);
    }
    msr!("cntv_ctl_el0", 0);
}
