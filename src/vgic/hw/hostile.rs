//! The guest's timer against a guest that writes its own GIC registers at random (what
//! `guest_fuzz` does, issue 11): whatever it wrote, once it has put its timer's configuration
//! back and finished its handlers, every timer tick must reach it again. The guest's virtual
//! CPU interface is modelled as the architecture describes it (IHI 0069's VirtualReadIAR1 and
//! VirtualWriteEOIR1 pseudocode): acknowledging sets an active priority bit, and an EOI drops
//! the highest one and deactivates the LR only if its priority and group match; an EOI that
//! finds no LR is lost.

use super::super::{Kick, Vgic};
use super::tests::vgic;

const GICR_SGI: u64 = 0x1_0000;
const IGROUPR0: u64 = GICR_SGI + 0x080;
const ISENABLER0: u64 = GICR_SGI + 0x100;
const ICENABLER0: u64 = GICR_SGI + 0x180;
const ISPENDR0: u64 = GICR_SGI + 0x200;
const ICPENDR0: u64 = GICR_SGI + 0x280;
const ISACTIVER0: u64 = GICR_SGI + 0x300;
const ICACTIVER0: u64 = GICR_SGI + 0x380;
const IPRIORITYR: u64 = GICR_SGI + 0x400;
const ICFGR1: u64 = GICR_SGI + 0xc04;
const VTIMER: u32 = 27;
const PENDING: u64 = 0b01;
const ACTIVE: u64 = 0b10;
/// Linux's ICC_PMR_EL1 and default interrupt priority.
const PMR: u8 = 0xf0;
const LINUX_PRIORITY: u8 = 0xa0;

fn state(lr: u64) -> u64 {
    lr >> 62
}

fn priority(lr: u64) -> u8 {
    (lr >> 48) as u8
}

/// Priority groups with 5 priority bits (QEMU's virtual CPU interface): one active priority
/// bit per 8 priority values.
fn group_priority(priority: u8) -> u32 {
    (priority >> 3) as u32
}

/// One vCPU: its list registers, its virtual CPU interface, the timer behind it.
#[derive(Default, Clone)]
struct Cpu {
    lrs: [u64; 4],
    /// ICH_AP1R0_EL2: one bit per active group priority.
    active_priorities: u32,
    /// INTIDs acknowledged and not yet EOIed, innermost last.
    handling: Vec<u32>,
    /// A kick SGI or maintenance interrupt is pending for its physical CPU: it will exit.
    exit_due: bool,
    /// The timer output (ENABLE && ISTATUS && !IMASK).
    line: bool,
    /// The physical PPI 27 is active (acknowledged by sluice, not yet deactivated).
    physical_active: bool,
}

impl Cpu {
    /// VirtualReadIAR1: the highest-priority pending-only group 1 LR above PMR and the running
    /// priority is acknowledged.
    fn ack(&mut self) -> Option<u32> {
        let running = self.active_priorities.trailing_zeros();
        let lr = self
            .lrs
            .iter_mut()
            .filter(|lr| state(**lr) == PENDING && **lr & 1 << 60 != 0)
            .filter(|lr| priority(**lr) < PMR && group_priority(priority(**lr)) < running)
            .min_by_key(|lr| (priority(**lr), **lr as u32))?;
        *lr = (*lr & !(3 << 62)) | ACTIVE << 62;
        let (intid, prio) = (*lr as u32, priority(*lr));
        self.active_priorities |= 1 << group_priority(prio);
        self.handling.push(intid);
        Some(intid)
    }

    /// VirtualWriteEOIR1 with EOImode 0 for the innermost interrupt being handled.
    fn eoi(&mut self) {
        let Some(intid) = self.handling.pop() else {
            return;
        };
        if self.active_priorities == 0 {
            return;
        }
        let dropped = self.active_priorities.trailing_zeros();
        self.active_priorities &= !(1 << dropped);
        let Some(lr) = self
            .lrs
            .iter_mut()
            .find(|lr| **lr as u32 == intid && state(**lr) & ACTIVE != 0)
        else {
            return; // EOIcount: lost
        };
        if *lr & 1 << 60 == 0 || group_priority(priority(*lr)) != dropped {
            return;
        }
        *lr &= !(ACTIVE << 62);
        if *lr & 1 << 61 != 0 {
            self.physical_active = false; // LR.HW deactivates the physical interrupt
        }
        if *lr & 1 << 41 != 0 {
            self.exit_due = true; // EOI maintenance interrupt
        }
    }
}

/// Two vCPUs and sluice's exit path, as `vcpu.rs` runs it.
struct Machine {
    g: Vgic,
    cpus: [Cpu; 2],
}

impl Machine {
    fn new() -> Self {
        Self {
            g: vgic(),
            cpus: [Cpu::default(), Cpu::default()],
        }
    }

    fn kick(&mut self, kick: Kick) {
        for v in kick.iter() {
            self.cpus[v].exit_due = true;
        }
    }

    /// One exit of `vcpu`: fold, sample the timer, handle (`during`), load, deactivate.
    fn exit(&mut self, vcpu: usize, during: impl FnOnce(&mut Self) -> Kick) {
        let mut lrs = self.cpus[vcpu].lrs;
        let k = self.g.sync(vcpu, &mut lrs);
        self.kick(k);
        let line = self.cpus[vcpu].line;
        self.g.set_hw_line(vcpu, VTIMER, line);
        self.g.set_cpu_groups(vcpu, false, true); // Linux: group 1 only
        let k = during(self);
        self.kick(k);
        let outcome = self.g.flush(vcpu, &mut lrs);
        self.kick(outcome.kick);
        let cpu = &mut self.cpus[vcpu];
        cpu.lrs = lrs;
        cpu.exit_due =
            outcome.underflow_irq_needed && lrs.iter().filter(|lr| state(**lr) != 0).count() <= 1;
        for intid in self.g.take_hw_deactivations(vcpu) {
            assert_eq!(intid, VTIMER);
            cpu.physical_active = false;
        }
        let irq = self.g.private[vcpu][VTIMER as usize];
        let in_lr = lrs.iter().any(|lr| *lr as u32 == VTIMER && state(*lr) != 0);
        assert_eq!(
            self.cpus[vcpu].physical_active,
            in_lr || irq.pending_latch || irq.active,
            "vCPU {vcpu}: physical active exactly while the guest owns the virtual one"
        );
    }

    /// The physical timer PPI of `vcpu` fires if its output is high and it is not active.
    fn fire(&mut self, vcpu: usize) -> bool {
        let cpu = &mut self.cpus[vcpu];
        if !cpu.line || cpu.physical_active {
            return false;
        }
        cpu.physical_active = true;
        self.exit(vcpu, |m| m.g.inject_hw(vcpu, VTIMER));
        true
    }

    /// `writer` writes `value` to `register` of `target`'s redistributor (a trapped store).
    fn write(&mut self, writer: usize, target: usize, register: u64, width: u8, value: u64) {
        self.exit(writer, |m| {
            m.g.redist_write(target, register, width, value)
                .unwrap_or(Kick::NONE)
        });
    }

    /// Whatever is due happens by itself: kicked or maintained vCPUs exit, timers fire, the
    /// guest takes what it can and finishes its handlers.
    fn settle(&mut self) {
        for _ in 0..8 {
            for v in 0..2 {
                if self.cpus[v].exit_due {
                    self.exit(v, |_| Kick::NONE);
                }
                self.fire(v);
                while self.cpus[v].ack().is_some() {}
                while !self.cpus[v].handling.is_empty() {
                    self.cpus[v].eoi();
                }
            }
        }
    }
}

/// A random register write of the kind the fuzzer makes, to a vCPU's SGI_base frame.
fn random_write(m: &mut Machine, rng: &mut super::tests::Rng) {
    let (writer, target) = (rng.below(2) as usize, rng.below(2) as usize);
    let value = rng.below(u64::MAX) | rng.below(2) << 63;
    let (register, width) = match rng.below(9) {
        0 => (IGROUPR0, 4),
        1 => (ISENABLER0, 4),
        2 => (ICENABLER0, 4),
        3 => (ISPENDR0, 4),
        4 => (ICPENDR0, 4),
        5 => (ISACTIVER0, 4),
        6 => (ICACTIVER0, 4),
        7 => (IPRIORITYR + VTIMER as u64 - rng.below(4), 1),
        _ => (ICFGR1, 4),
    };
    let value = if register == ISPENDR0 {
        value & !0xffff // no IPIs: the fuzzer never raises SGIs
    } else {
        value
    };
    m.write(writer, target, register, width, value);
}

/// The guest puts its timer back as Linux set it up: group 1, enabled, level, priority 0xa0,
/// both groups on.
fn restore_timer(m: &mut Machine, vcpu: usize) {
    let group = m.g.redist_read(vcpu, IGROUPR0, 4).unwrap();
    m.write(vcpu, vcpu, IGROUPR0, 4, group | 1 << VTIMER);
    m.write(vcpu, vcpu, ISENABLER0, 4, 1 << VTIMER);
    m.write(
        vcpu,
        vcpu,
        IPRIORITYR + VTIMER as u64,
        1,
        LINUX_PRIORITY as u64,
    );
    let cfg = m.g.redist_read(vcpu, ICFGR1, 4).unwrap();
    m.write(vcpu, vcpu, ICFGR1, 4, cfg & !(2 << (2 * (VTIMER - 16))));
    m.exit(vcpu, |m| m.g.dist_write(0, 4, 0x3).unwrap());
}

/// Ticks keep coming: with its output high, the timer of `vcpu` is taken by the guest, which
/// then moves its timer on (output low) until the next tick.
fn assert_ticks(m: &mut Machine, vcpu: usize, what: &str) {
    for tick in 0..4 {
        m.cpus[vcpu].line = true;
        let mut taken = false;
        for _ in 0..8 {
            if m.cpus[vcpu].exit_due {
                m.exit(vcpu, |_| Kick::NONE);
            }
            m.fire(vcpu);
            while let Some(intid) = m.cpus[vcpu].ack() {
                taken |= intid == VTIMER;
                if intid == VTIMER {
                    m.cpus[vcpu].line = false; // the handler programs the next tick
                }
                m.cpus[vcpu].eoi();
            }
            if taken {
                break;
            }
        }
        assert!(
            taken,
            "{what}: vCPU {vcpu} missed tick {tick}: {:x?} lrs {:x?} apr {:#x} handling {:?} phys {}",
            m.g.private[vcpu][VTIMER as usize],
            m.cpus[vcpu].lrs,
            m.cpus[vcpu].active_priorities,
            m.cpus[vcpu].handling,
            m.cpus[vcpu].physical_active
        );
    }
}

#[test]
fn a_priority_written_from_the_other_vcpu_reaches_the_lr_of_an_idle_vcpu() {
    let mut m = Machine::new();
    m.cpus[0].line = true;
    m.write(1, 0, IPRIORITYR + VTIMER as u64, 1, 0xf8); // below PMR
    assert!(m.fire(0));
    assert_eq!(priority(m.cpus[0].lrs[0]), 0xf8);
    assert_eq!(m.cpus[0].ack(), None, "masked by PMR");
    m.write(1, 0, IPRIORITYR + VTIMER as u64, 1, 0xa0);
    assert!(
        m.cpus[0].exit_due,
        "vCPU 0 idles in WFI: only a kick brings it out"
    );
    assert_ticks(&mut m, 0, "after the priority came back");
}

#[test]
fn a_taken_timer_interrupt_keeps_its_lr_against_interrupts_made_active_by_isactiver() {
    let mut m = Machine::new();
    for intid in [1, 2, 3, 4, 5] {
        m.write(0, 0, IPRIORITYR + intid, 1, 0x80);
    }
    m.cpus[0].line = true;
    m.fire(0);
    assert_eq!(m.cpus[0].ack(), Some(VTIMER));
    m.write(1, 0, ISACTIVER0, 4, 0b11_1110); // five SGIs of better rank
    m.exit(0, |_| Kick::NONE); // the kick
    m.cpus[0].eoi();
    assert!(!m.cpus[0].physical_active, "the EOI found its LR");
    m.exit(0, |_| Kick::NONE);
    assert!(!m.g.redist_read(0, ISACTIVER0, 4).unwrap() & 1 << VTIMER != 0);
    assert_ticks(&mut m, 0, "with five SGIs left active by ISACTIVER");
}

#[test]
fn a_taken_timer_interrupt_keeps_the_priority_and_group_it_was_taken_at() {
    let mut m = Machine::new();
    m.cpus[1].line = true;
    m.fire(1);
    assert_eq!(m.cpus[1].ack(), Some(VTIMER));
    m.write(0, 1, IPRIORITYR + VTIMER as u64, 1, 0x10);
    let group = m.g.redist_read(1, IGROUPR0, 4).unwrap();
    m.write(0, 1, IGROUPR0, 4, group & !(1 << VTIMER));
    m.exit(1, |_| Kick::NONE);
    assert_eq!(priority(m.cpus[1].lrs[0]), LINUX_PRIORITY);
    assert_ne!(m.cpus[1].lrs[0] & 1 << 60, 0, "still group 1");
    m.cpus[1].line = false;
    m.cpus[1].eoi();
    assert!(!m.cpus[1].physical_active, "the EOI deactivated it");
    restore_timer(&mut m, 1);
    assert_ticks(
        &mut m,
        1,
        "after the priority and group changed under the handler",
    );
}

#[test]
fn interrupts_made_active_by_isactiver_do_not_keep_a_pending_timer_out_of_the_lrs() {
    let mut m = Machine::new();
    m.write(0, 0, ISACTIVER0, 4, 0x7fff_fffe & !(1 << VTIMER));
    assert_ticks(&mut m, 0, "with 29 interrupts left active by ISACTIVER");
}

/// Thousands of random writes to both redistributors, while the timers tick and the guest
/// takes and completes interrupts; then each vCPU puts its timer back as Linux set it up,
/// finishes its handlers, and its ticks must come again. The physical interrupt must never
/// be active while the model holds the virtual one neither pending nor active.
#[test]
fn no_sequence_of_gic_writes_loses_the_timer() {
    for seed in 1..=40u64 {
        let mut rng = super::tests::Rng(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x2545_f491));
        let mut m = Machine::new();
        for _ in 0..2_000 {
            let v = rng.below(2) as usize;
            match rng.below(6) {
                0 | 1 => random_write(&mut m, &mut rng),
                2 => m.cpus[v].line = rng.below(2) == 0,
                3 => _ = m.fire(v),
                4 => _ = m.cpus[v].ack(),
                _ if rng.below(2) == 0 => m.cpus[v].eoi(),
                _ if m.cpus[v].exit_due => m.exit(v, |_| Kick::NONE),
                _ => {}
            }
        }
        for v in 0..2 {
            restore_timer(&mut m, v);
        }
        m.settle();
        for v in 0..2 {
            assert_ticks(&mut m, v, &format!("seed {seed}"));
        }
    }
}
