//! EL1 exceptions: IRQs (SGIs of the IPI check and mailbox kicks, the virtual timer), and
//! synchronous exceptions, which are expected only while a probe runs (an UNDEF or a trap of
//! the probed instruction: recorded, the instruction skipped) and fatal otherwise.

use crate::arch::{self, cntv_ctl, counter, mrs, msr, psci, psci_call};
use crate::console::say;
use crate::platform::MAX_CPUS;
use crate::smp::{self, SGI_KICK, SGI_PING, SGI_PONG};
use crate::{gic, report};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const ZERO64: AtomicU64 = AtomicU64::new(0);

/// Pings each CPU has answered.
pub static PINGS: [AtomicU64; MAX_CPUS] = [ZERO64; MAX_CPUS];
/// Answers each CPU has received.
pub static PONGS: [AtomicU64; MAX_CPUS] = [ZERO64; MAX_CPUS];
/// The MPIDR each CPU answers its pings to.
pub static PARTNER: [AtomicU64; MAX_CPUS] = [ZERO64; MAX_CPUS];
/// Virtual timer interrupts taken (any CPU) and the counter value at the last one.
pub static TIMER_FIRED: AtomicU64 = AtomicU64::new(0);
/// Counter value when the last virtual timer interrupt was taken.
pub static TIMER_AT: AtomicU64 = AtomicU64::new(0);
/// Interrupts nobody expected, and the last one's INTID.
pub static OTHER_IRQS: AtomicU64 = AtomicU64::new(0);
/// INTID of the last unexpected interrupt.
pub static OTHER_LAST: AtomicU64 = AtomicU64::new(0);

/// SGIs taken by CPU 0, per INTID (the cross-guest probe counts what reaches it).
pub static SGIS_TAKEN: [AtomicU64; 16] = [ZERO64; 16];

static PROBING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
static PROBE_ESR: [AtomicU64; MAX_CPUS] = [ZERO64; MAX_CPUS];

/// Vector slot of a synchronous exception from the current EL with SP_ELx.
const SLOT_SYNC: u64 = 4;
/// Vector slot of an IRQ from the current EL with SP_ELx.
const SLOT_IRQ: u64 = 5;

/// Runs `f` with synchronous exceptions caught: the ESR of the first one, if any (the faulting
/// instruction is skipped).
pub fn probe(f: impl FnOnce()) -> Option<u64> {
    let cpu = arch::cpu_index();
    PROBE_ESR[cpu].store(0, Ordering::Relaxed);
    PROBING[cpu].store(true, Ordering::Relaxed);
    f();
    PROBING[cpu].store(false, Ordering::Relaxed);
    let esr = PROBE_ESR[cpu].load(Ordering::Relaxed);
    (esr != 0).then_some(esr & !(1 << 63))
}

fn irq(cpu: usize, vtimer: u32) {
    loop {
        let iar = gic::ack();
        let intid = iar & 0xff_ffff;
        if intid >= gic::SPURIOUS_FIRST {
            break;
        }
        if cpu == 0 && intid < 16 {
            SGIS_TAKEN[intid as usize].fetch_add(1, Ordering::Relaxed);
        }
        match intid {
            SGI_KICK => {}
            SGI_PING => {
                PINGS[cpu].fetch_add(1, Ordering::Relaxed);
                gic::send_sgi(SGI_PONG, PARTNER[cpu].load(Ordering::Relaxed));
            }
            SGI_PONG => {
                PONGS[cpu].fetch_add(1, Ordering::Release);
            }
            i if i == vtimer => {
                // Quieten the level-sensitive source before EOI, as a driver does.
                msr!("cntv_ctl_el0", mrs!("cntv_ctl_el0") | cntv_ctl::IMASK);
                TIMER_AT.store(counter(), Ordering::Relaxed);
                TIMER_FIRED.fetch_add(1, Ordering::Release);
            }
            other => {
                OTHER_IRQS.fetch_add(1, Ordering::Relaxed);
                OTHER_LAST.store(other as u64, Ordering::Relaxed);
            }
        }
        gic::eoi(iar);
    }
}

/// Prints what went wrong, the tally, and powers the machine off.
pub fn fatal(args: core::fmt::Arguments) -> ! {
    report::verdict(
        false,
        format_args!("fatal cpu={} {args}", arch::cpu_index()),
    );
    report::done();
    psci_call(psci::SYSTEM_OFF, 0, 0, 0);
    loop {
        arch::wfi();
    }
}

#[no_mangle]
extern "C" fn vt_exception(slot: u64) {
    let cpu = arch::cpu_index();
    match slot {
        SLOT_IRQ => irq(cpu, smp::platform().vtimer_intid),
        SLOT_SYNC if cpu < MAX_CPUS && PROBING[cpu].load(Ordering::Relaxed) => {
            if PROBE_ESR[cpu].load(Ordering::Relaxed) == 0 {
                PROBE_ESR[cpu].store(mrs!("esr_el1") | 1 << 63, Ordering::Relaxed);
            }
            msr!("elr_el1", mrs!("elr_el1") + 4);
        }
        _ => {
            let (esr, elr, far) = (mrs!("esr_el1"), mrs!("elr_el1"), mrs!("far_el1"));
            say!("unexpected exception slot={slot} esr={esr:#x} elr={elr:#x} far={far:#x}");
            fatal(format_args!(
                "unexpected exception slot={slot} esr={esr:#x}"
            ))
        }
    }
}
