//! Faults a guest causes: logged at a bounded rate, and reflected to the guest as a synchronous
//! exception at its EL1 vector.

use crate::arch::context::GuestFrame;
use crate::arch::cpu::{self, read_sysreg};
use sluice::ratelimit::{RateLimiter, Verdict};
use sluice::trap::{self, InjectKind};
use spin::Mutex;

/// Guest-caused faults may log at most this many lines per second (a hostile guest must not
/// flood the console).
const GUEST_FAULT_LINES_PER_SECOND: u32 = 20;
static GUEST_FAULT_LIMIT: Mutex<Option<RateLimiter>> = Mutex::new(None);

/// Logs a fault the guest caused, rate-limited.
pub fn guest_fault(args: core::fmt::Arguments) {
    let mut limiter = GUEST_FAULT_LIMIT.lock();
    let limiter = limiter
        .get_or_insert_with(|| RateLimiter::new(cpu::counter_hz(), GUEST_FAULT_LINES_PER_SECOND));
    match limiter.check(cpu::counter()) {
        Verdict::Log { suppressed: 0 } => log::warn!("{args}"),
        Verdict::Log { suppressed } => log::warn!("{args} ({suppressed} similar lines suppressed)"),
        Verdict::Suppress => {}
    }
}

/// Makes the guest take a synchronous exception at its EL1 vector.
pub fn inject(frame: &mut GuestFrame, kind: InjectKind) {
    let state = trap::GuestExceptionState {
        pc: frame.pc,
        pstate: frame.pstate,
        vbar_el1: read_sysreg!("vbar_el1"),
        sctlr_el1: read_sysreg!("sctlr_el1"),
    };
    let injection = trap::inject_abort(&state, kind);
    cpu::write_sysreg!("elr_el1", injection.elr_el1);
    cpu::write_sysreg!("spsr_el1", injection.spsr_el1);
    cpu::write_sysreg!("esr_el1", injection.esr_el1);
    if let Some(far) = injection.far_el1 {
        cpu::write_sysreg!("far_el1", far);
    }
    frame.pc = injection.new_pc;
    frame.pstate = injection.new_pstate;
}
