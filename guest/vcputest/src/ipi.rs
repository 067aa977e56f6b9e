//! IPI ping-pong: for every pair (a, b) of vCPUs, a sends SGI_PING to b, b's interrupt handler
//! answers with SGI_PONG, a waits for the answer (1 s of counter time at most) before the next
//! round. A lost SGI is a round without an answer: reported with which half was lost, and
//! the pair stops there.

use crate::arch::{self, counter, counter_hz};
use crate::encode;
use crate::exception::{PARTNER, PINGS, PONGS};
use crate::report::check;
use crate::smp::{self, platform, Command, SGI_PING};
use crate::{bootargs::Config, gic};
use core::sync::atomic::Ordering;

/// Runs on CPU `me`: `rounds` round trips with `partner`; [completed, lost round or -1, ticks
/// taken by the completed rounds].
pub fn ping_pong(me: usize, partner: usize, rounds: u32) -> [i64; 3] {
    let p = platform();
    PARTNER[partner].store(p.mpidrs[me], Ordering::Relaxed);
    let base = PONGS[me].load(Ordering::Acquire);
    let timeout = counter_hz();
    arch::irq_unmask();
    let start = counter();
    let (mut done, mut lost, mut last_answer) = (0i64, -1i64, start);
    for round in 0..rounds as u64 {
        gic::send_sgi(SGI_PING, p.mpidrs[partner]);
        let end = counter() + timeout;
        while PONGS[me].load(Ordering::Acquire) < base + round + 1 {
            if counter() > end {
                lost = round as i64;
                break;
            }
        }
        if lost >= 0 {
            break;
        }
        done += 1;
        last_answer = counter();
    }
    let ticks = last_answer - start;
    arch::irq_mask();
    [done, lost, ticks as i64]
}

fn pair(a: usize, b: usize, rounds: u32) {
    let pings_before = PINGS[b].load(Ordering::Relaxed);
    let pongs_before = PONGS[a].load(Ordering::Relaxed);
    let result = if a == 0 {
        Some(ping_pong(0, b, rounds))
    } else {
        smp::post(a, Command::PingPong, b as u64, rounds as u64);
        smp::wait_done(a, 600 * counter_hz())
    };
    let Some([done, lost, ticks]) = result else {
        smp::reset_mailbox(a);
        return check!(
            false,
            "ipi {a}<->{b} rounds={rounds}: cpu{a} did not finish in 600 s"
        );
    };
    let cu = encode::centi_us_per_round(ticks as u64, counter_hz(), done as u64);
    if lost < 0 {
        return check!(
            done == rounds as i64,
            "ipi {a}<->{b} rounds={rounds} lost=0 us_per_round={}.{:02}",
            cu / 100,
            cu % 100
        );
    }
    // One more second for a late answer, then say which half went missing.
    let end = counter() + counter_hz();
    while counter() < end && PONGS[a].load(Ordering::Relaxed) == pongs_before + done as u64 {}
    let answered = PINGS[b].load(Ordering::Relaxed) - pings_before;
    // Where the lost SGI sits now: still pending somewhere (not delivered) or nowhere (dropped).
    let (pend_a, act_a) = (gic::ispendr0(a), gic::isactiver0(a));
    let (pend_b, act_b) = (gic::ispendr0(b), gic::isactiver0(b));
    let pongs = PONGS[a].load(Ordering::Relaxed) - pongs_before;
    check!(
        false,
        "ipi {a}<->{b} rounds={rounds} lost=1 at_round={lost} pings_answered_by_cpu{b}={answered} pongs_seen_by_cpu{a}={pongs} ({} lost; pair stopped) cpu{a}_ispendr0={pend_a:#x} cpu{a}_isactiver0={act_a:#x} cpu{b}_ispendr0={pend_b:#x} cpu{b}_isactiver0={act_b:#x} us_per_round={}.{:02}",
        if answered as i64 > lost { "pong" } else { "ping" },
        cu / 100,
        cu % 100
    );
}

/// Every pair of online vCPUs.
pub fn check_all(cfg: &Config) {
    let n = platform().cpu_count;
    if n < 2 {
        return crate::report::skip!("ipi: one vCPU only");
    }
    for a in 0..n {
        for b in a + 1..n {
            pair(a, b, cfg.rounds);
        }
    }
}
