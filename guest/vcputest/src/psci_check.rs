//! PSCI 1.x as the guest sees it (Arm DEN 0022): CPU_ON of every secondary, ALREADY_ON for a
//! CPU that is on, AFFINITY_INFO agreeing (ON / OFF / ON_PENDING) at each step, CPU_OFF and
//! CPU_ON cycles, two vCPUs racing CPU_ON on one target (one SUCCESS, the other ALREADY_ON or
//! ON_PENDING), and the error codes for an unknown MPIDR and an entry outside RAM.

use crate::arch::{counter, counter_hz, psci, psci_call, ticks_to_us, us_to_ticks};
use crate::platform::Conduit;
use crate::report::{check, skip};
use crate::smp::{self, platform, Command, BAD_START, CONTEXT_SEEN, ONLINE_GEN};
use core::sync::atomic::Ordering;

/// An MPIDR no CPU has (Aff2.Aff1.Aff0 = fe.fe.fe).
const BAD_MPIDR: u64 = 0x00fe_fefe;

fn entry() -> u64 {
    crate::boot::vt_secondary_entry as *const () as u64
}

fn cpu_on(cpu: usize) -> i64 {
    psci_call(psci::CPU_ON, platform().mpidrs[cpu], entry(), cpu as u64)
}

fn affinity(mpidr: u64) -> i64 {
    psci_call(psci::AFFINITY_INFO, mpidr, 0, 0)
}

fn gen(cpu: usize) -> u32 {
    ONLINE_GEN[cpu].load(Ordering::Acquire)
}

/// Waits up to 1 s for `cpu` to come up after generation `before`.
fn wait_online(cpu: usize, before: u32) -> bool {
    let end = counter() + counter_hz();
    while gen(cpu) == before {
        if counter() > end {
            return false;
        }
    }
    true
}

/// Tells `cpu` to CPU_OFF and waits up to 1 s for AFFINITY_INFO to say OFF; the answers seen
/// on the way must be ON or OFF only.
fn turn_off(cpu: usize) -> Result<(), i64> {
    let mpidr = platform().mpidrs[cpu];
    smp::post(cpu, Command::CpuOff, 0, 0);
    let end = counter() + counter_hz();
    loop {
        match affinity(mpidr) {
            psci::AFF_OFF => return Ok(()),
            psci::AFF_ON if counter() < end => {}
            other => return Err(other),
        }
    }
}

/// Turns `cpu` on and waits for it: Err(what went wrong).
fn turn_on(cpu: usize) -> Result<(), &'static str> {
    let before = gen(cpu);
    if cpu_on(cpu) != psci::SUCCESS {
        return Err("CPU_ON did not return SUCCESS");
    }
    wait_online(cpu, before)
        .then_some(())
        .ok_or("did not come up within 1 s")
}

fn version() {
    let v = psci_call(psci::VERSION, 0, 0, 0);
    check!(
        v >= 0x2,
        "psci version {}.{} (0.2 or later)",
        v >> 16,
        v & 0xffff
    );
}

fn initial_affinity() {
    let p = platform();
    let answers = p.mpidrs[..p.cpu_count].iter().map(|&m| affinity(m));
    let ok = answers
        .enumerate()
        .all(|(i, a)| a == if i == 0 { psci::AFF_ON } else { psci::AFF_OFF });
    check!(
        ok,
        "psci affinity_info at boot: cpu0 ON, the other {} OFF",
        p.cpu_count - 1
    );
}

fn start_secondary(cpu: usize) {
    let before = gen(cpu);
    let ret = cpu_on(cpu);
    let right_after = affinity(platform().mpidrs[cpu]);
    let online = wait_online(cpu, before);
    let context = CONTEXT_SEEN[cpu].load(Ordering::Relaxed);
    let bad_start = BAD_START[cpu].load(Ordering::Relaxed);
    let after = affinity(platform().mpidrs[cpu]);
    // After a successful CPU_ON the target is ON_PENDING or ON; QEMU's built-in PSCI (smc)
    // still says OFF until the target runs (it has no ON_PENDING state): a firmware quirk,
    // named in the line, that a hypervisor may not copy.
    let off_quirk = right_after == psci::AFF_OFF && platform().conduit == Conduit::Smc;
    check!(
        ret == psci::SUCCESS
            && (matches!(right_after, psci::AFF_ON | psci::AFF_ON_PENDING) || off_quirk)
            && online
            && context == cpu as u64
            && bad_start == 0
            && after == psci::AFF_ON,
        "psci cpu_on cpu{cpu}: ret={ret} affinity_right_after={right_after}{} online={online} context_id={context} bad_start={bad_start:#x} affinity_after={after}",
        if off_quirk { " (OFF: firmware quirk, smc)" } else { "" }
    );
}

fn already_on_and_bad_mpidr() {
    let p = platform();
    let own = cpu_on(0);
    let other = if p.cpu_count > 1 {
        cpu_on(1)
    } else {
        psci::ALREADY_ON
    };
    check!(
        own == psci::ALREADY_ON && other == psci::ALREADY_ON,
        "psci cpu_on of an on cpu: self={own} cpu1={other} (ALREADY_ON={})",
        psci::ALREADY_ON
    );
    let on = psci_call(psci::CPU_ON, BAD_MPIDR, entry(), 0);
    let aff = affinity(BAD_MPIDR);
    check!(
        on == psci::INVALID_PARAMETERS && aff == psci::INVALID_PARAMETERS,
        "psci bad mpidr {BAD_MPIDR:#x}: cpu_on={on} affinity_info={aff} (INVALID_PARAMETERS={})",
        psci::INVALID_PARAMETERS
    );
}

/// Brings every secondary up, checking each step.
pub fn bring_up() {
    version();
    initial_affinity();
    for cpu in 1..platform().cpu_count {
        start_secondary(cpu);
    }
    already_on_and_bad_mpidr();
}

/// CPU_OFF then CPU_ON of the last CPU, `cycles` times.
pub fn off_on_cycles(cycles: u32) {
    let cpu = platform().cpu_count - 1;
    if cpu == 0 {
        return skip!("psci cpu_off/cpu_on cycles: one vCPU only");
    }
    let start = counter();
    let mut done = 0;
    let mut error = "";
    let mut affinity_seen = 0;
    while done < cycles {
        if let Err(a) = turn_off(cpu) {
            (error, affinity_seen) = ("affinity_info never said OFF after CPU_OFF", a);
            break;
        }
        if let Err(e) = turn_on(cpu) {
            error = e;
            break;
        }
        done += 1;
    }
    let us = ticks_to_us(counter() - start) / done.max(1) as u64;
    check!(
        done == cycles,
        "psci cpu_off/cpu_on cpu{cpu} cycles={done}/{cycles} us_per_cycle={us}{}{error}{}",
        if error.is_empty() { "" } else { " stopped: " },
        if affinity_seen != 0 {
            " (last affinity_info answer below)"
        } else {
            ""
        }
    );
    if affinity_seen != 0 {
        check!(
            false,
            "psci affinity_info while cpu{cpu} turned off answered {affinity_seen}"
        );
    }
}

/// One race; Ok(code of the loser) or Err(description).
fn race_once(target: usize) -> Result<i64, (i64, i64)> {
    let mpidr = platform().mpidrs[target];
    let before = gen(target);
    let go = counter() + us_to_ticks(2_000);
    smp::post(1, Command::RaceCpuOn, mpidr, go);
    while counter() < go {}
    let mine = cpu_on(target);
    let theirs = smp::wait_done(1, counter_hz()).map_or(i64::MIN, |r| r[0]);
    let online = wait_online(target, before);
    let codes = (mine, theirs);
    let loser = match codes {
        (psci::SUCCESS, other) | (other, psci::SUCCESS) => other,
        _ => return Err(codes),
    };
    match loser {
        psci::ALREADY_ON | psci::ON_PENDING if online => Ok(loser),
        _ => Err(codes),
    }
}

/// CPU 0 and CPU 1 call CPU_ON on the last CPU at the same counter value, `races` times.
pub fn racing_cpu_on(races: u32) {
    let n = platform().cpu_count;
    if n < 3 {
        return skip!("psci racing cpu_on: needs 3 vCPUs, have {n}");
    }
    let target = n - 1;
    let (mut already_on, mut on_pending, mut bad) = (0, 0, None);
    for race in 0..races {
        if turn_off(target).is_err() {
            bad = Some((1, 1));
            break;
        }
        match race_once(target) {
            Ok(psci::ALREADY_ON) => already_on += 1,
            Ok(_) => on_pending += 1,
            Err((psci::SUCCESS, psci::SUCCESS)) if platform().conduit == Conduit::Smc => {
                // Let the twice-started target settle before anything else uses it.
                let end = counter() + us_to_ticks(100_000);
                while counter() < end {}
                return skip!("psci racing cpu_on: firmware (smc) let both callers succeed at race {race} (QEMU's built-in PSCI never marks the target ON_PENDING); before that: loser_already_on={already_on} loser_on_pending={on_pending}");
            }
            Err(codes) => {
                bad = Some(codes);
                break;
            }
        }
    }
    check!(
        bad.is_none(),
        "psci racing cpu_on cpu0+cpu1 -> cpu{target} races={races} one_success_each=yes loser_already_on={already_on} loser_on_pending={on_pending}{}",
        bad.map_or(Default::default(), |_| " FIRST BAD RACE BELOW")
    );
    if let Some((a, b)) = bad {
        check!(
            false,
            "psci racing cpu_on: cpu0 got {a}, cpu1 got {b} (want one 0 and one -4 or -5)"
        );
    }
}

/// CPU_ON with an entry point outside RAM. A hypervisor knows its guest's RAM and must answer
/// INVALID_ADDRESS; firmware may not know (PSCI 1.1 5.6: "known by the implementation to be
/// invalid"), so SUCCESS through SMC is a skip, and that CPU is lost (run this last).
pub fn bad_entry() {
    let p = platform();
    let cpu = p.cpu_count - 1;
    if cpu == 0 {
        return skip!("psci bad entry: one vCPU only");
    }
    if turn_off(cpu).is_err() {
        return check!(false, "psci bad entry: cpu{cpu} would not turn off first");
    }
    let bad = p.ram.base + p.ram.size_bytes;
    let ret = psci_call(psci::CPU_ON, p.mpidrs[cpu], bad, cpu as u64);
    if ret == psci::SUCCESS && p.conduit == Conduit::Smc {
        return skip!("psci cpu_on entry={bad:#x} outside RAM: firmware (smc) accepted it (SUCCESS; PSCI lets an implementation that does not know the address is invalid do so); cpu{cpu} is lost");
    }
    let back = if ret == psci::SUCCESS {
        "n/a"
    } else if turn_on(cpu).is_ok() {
        "yes"
    } else {
        "no"
    };
    check!(
        ret == psci::INVALID_ADDRESS && back == "yes",
        "psci cpu_on entry={bad:#x} outside RAM: ret={ret} (INVALID_ADDRESS={}) cpu{cpu}_back_on={back}",
        psci::INVALID_ADDRESS
    );
}
