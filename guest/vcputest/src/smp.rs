//! Secondary CPUs: their start (PSCI CPU_ON lands in `vt_secondary_main`), their idle loop and
//! the mailbox through which CPU 0 hands them work, plus the per-CPU counters the interrupt
//! handler keeps.

use crate::arch::{self, counter, psci, psci_call};
use crate::platform::{Platform, MAX_CPUS};
use crate::{gic, ipi};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

/// SGI that only wakes a CPU to read its mailbox.
pub const SGI_KICK: u32 = 0;
/// SGI of the IPI check: "answer me".
pub const SGI_PING: u32 = 1;
/// SGI of the IPI check: the answer.
pub const SGI_PONG: u32 = 2;

/// A value written once by CPU 0 before any other CPU starts, read by all afterwards.
pub struct Once<T>(UnsafeCell<Option<T>>, AtomicBool);

// SAFETY: the value is written once before `ready` is published (Release) and only read after
// `ready` is seen (Acquire); nothing writes it afterwards.
unsafe impl<T: Sync> Sync for Once<T> {}

impl<T> Once<T> {
    /// Empty.
    pub const fn new() -> Self {
        Once(UnsafeCell::new(None), AtomicBool::new(false))
    }
    /// Stores the value (CPU 0, once, before the secondaries start).
    pub fn set(&self, v: T) {
        if !self.1.load(Ordering::Acquire) {
            // SAFETY: not yet published, so no reader exists; only CPU 0 calls `set`.
            unsafe { *self.0.get() = Some(v) };
            self.1.store(true, Ordering::Release);
        }
    }
    /// The value, once set.
    pub fn get(&self) -> Option<&T> {
        if self.1.load(Ordering::Acquire) {
            // SAFETY: published and never written again.
            unsafe { (*self.0.get()).as_ref() }
        } else {
            None
        }
    }
}

/// The machine, as CPU 0 read it from the device tree.
pub static PLATFORM: Once<Platform<'static>> = Once::new();

/// The machine (CPU 0 sets it before anything can ask).
pub fn platform() -> &'static Platform<'static> {
    PLATFORM
        .get()
        .expect("the platform is set before any CPU asks for it")
}

const ZERO32: AtomicU32 = AtomicU32::new(0);
const ZERO64: AtomicU64 = AtomicU64::new(0);

/// Incremented by a secondary each time it comes up through CPU_ON.
pub static ONLINE_GEN: [AtomicU32; MAX_CPUS] = [ZERO32; MAX_CPUS];
/// The context id (x0) each secondary last started with.
pub static CONTEXT_SEEN: [AtomicU64; MAX_CPUS] = [ZERO64; MAX_CPUS];
/// Set when a secondary's own MPIDR is not the one the DT gives its index, or its GIC failed.
pub static BAD_START: [AtomicU64; MAX_CPUS] = [ZERO64; MAX_CPUS];

/// Work CPU 0 hands to a secondary.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Command {
    /// Call PSCI CPU_OFF (a return is a failure, reported in `result`).
    CpuOff = 1,
    /// Ping-pong with CPU `arg0` for `arg1` rounds (see `ipi`).
    PingPong = 2,
    /// At counter value `arg1`, call CPU_ON on MPIDR `arg0`.
    RaceCpuOn = 3,
}

const IDLE: u32 = 0;
const POSTED: u32 = 1;
const DONE: u32 = 2;

/// One CPU's mailbox.
pub struct Mailbox {
    state: AtomicU32,
    command: AtomicU32,
    arg: [AtomicU64; 2],
    result: [AtomicI64; 3],
}

const MAILBOX: Mailbox = Mailbox {
    state: AtomicU32::new(IDLE),
    command: AtomicU32::new(0),
    arg: [ZERO64; 2],
    result: [const { AtomicI64::new(0) }; 3],
};

static MAILBOXES: [Mailbox; MAX_CPUS] = [MAILBOX; MAX_CPUS];

/// Posts `command` to `cpu` and kicks it.
pub fn post(cpu: usize, command: Command, arg0: u64, arg1: u64) {
    let m = &MAILBOXES[cpu];
    m.command.store(command as u32, Ordering::Relaxed);
    m.arg[0].store(arg0, Ordering::Relaxed);
    m.arg[1].store(arg1, Ordering::Relaxed);
    m.state.store(POSTED, Ordering::Release);
    gic::send_sgi(SGI_KICK, platform().mpidrs[cpu]);
}

/// Waits up to `timeout_ticks` for `cpu` to finish its command; its results.
pub fn wait_done(cpu: usize, timeout_ticks: u64) -> Option<[i64; 3]> {
    let m = &MAILBOXES[cpu];
    let end = counter().saturating_add(timeout_ticks);
    while m.state.load(Ordering::Acquire) != DONE {
        if counter() > end {
            return None;
        }
        core::hint::spin_loop();
    }
    m.state.store(IDLE, Ordering::Relaxed);
    Some([0, 1, 2].map(|i| m.result[i].load(Ordering::Relaxed)))
}

/// Forgets a command a CPU never finished (it went off, or timed out).
pub fn reset_mailbox(cpu: usize) {
    MAILBOXES[cpu].state.store(IDLE, Ordering::Relaxed);
}

fn run(cpu: usize, m: &Mailbox) {
    let (a0, a1) = (
        m.arg[0].load(Ordering::Relaxed),
        m.arg[1].load(Ordering::Relaxed),
    );
    let results = match m.command.load(Ordering::Relaxed) {
        c if c == Command::CpuOff as u32 => {
            m.state.store(IDLE, Ordering::Relaxed);
            let r = psci_call(psci::CPU_OFF, 0, 0, 0);
            [r, 0, 0]
        }
        c if c == Command::PingPong as u32 => ipi::ping_pong(cpu, a0 as usize, a1 as u32),
        c if c == Command::RaceCpuOn as u32 => {
            while counter() < a1 {}
            let entry = crate::boot::vt_secondary_entry as *const () as u64;
            let target = platform().cpu_index(a0).unwrap_or(0) as u64;
            [psci_call(psci::CPU_ON, a0, entry, target), 0, 0]
        }
        _ => [i64::MIN, 0, 0],
    };
    for (slot, r) in m.result.iter().zip(results) {
        slot.store(r, Ordering::Relaxed);
    }
    m.state.store(DONE, Ordering::Release);
}

/// Sleeps until kicked and runs what the mailbox holds, forever. IRQs are masked around the
/// check so a kick between the check and WFI still wakes WFI.
fn idle(cpu: usize) -> ! {
    let m = &MAILBOXES[cpu];
    loop {
        arch::irq_mask();
        if m.state.load(Ordering::Acquire) == POSTED {
            arch::irq_unmask();
            run(cpu, m);
            continue;
        }
        arch::wfi();
        arch::irq_unmask();
    }
}

/// The Rust entry of a secondary started by PSCI CPU_ON with x0 = `context`.
#[no_mangle]
extern "C" fn vt_secondary_main(context: u64, _entry_el: u64) -> ! {
    let p = platform();
    let cpu = context as usize;
    if cpu == 0 || cpu >= p.cpu_count || arch::cpu_index() != cpu {
        // A context id that is not ours: nothing sane to do but stay still.
        loop {
            arch::wfi();
        }
    }
    arch::mmu_on();
    arch::enable_fp();
    CONTEXT_SEEN[cpu].store(context, Ordering::Relaxed);
    let mpidr = arch::mpidr();
    if mpidr != p.mpidrs[cpu] {
        BAD_START[cpu].store(mpidr | 1 << 63, Ordering::Relaxed);
    }
    if gic::init_cpu(p, cpu, mpidr, crate::irq_enable_mask(p)).is_err() {
        BAD_START[cpu].store(1 << 62, Ordering::Relaxed);
    }
    ONLINE_GEN[cpu].fetch_add(1, Ordering::Release);
    idle(cpu)
}
