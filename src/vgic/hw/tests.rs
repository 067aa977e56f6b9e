//! The timers' HW-linked interrupts as levels, and the physical interrupt behind them.

use super::super::{Vgic, VgicConfig};

const GICR_SGI: u64 = 0x1_0000;
const ISPENDR0: u64 = GICR_SGI + 0x200;
const ICPENDR0: u64 = GICR_SGI + 0x280;
const ISACTIVER0: u64 = GICR_SGI + 0x300;
const ICACTIVER0: u64 = GICR_SGI + 0x380;
const VTIMER: u32 = 27;
const PENDING: u64 = 0b01;
const ACTIVE: u64 = 0b10;

/// Two vCPUs whose virtual and physical timers (27, 30) are HW-linked, enabled, group 1.
pub(super) fn vgic() -> Vgic {
    let mut g = Vgic::new(VgicConfig {
        vcpu_mpidrs: [0, 1].to_vec(),
        spi_count: 64,
        list_register_count: 4,
        priority_bits: 5,
        lpi_count: 0,
    });
    g.dist_write(0, 4, 0x3).unwrap();
    for vcpu in 0..2 {
        for intid in [27, 30] {
            g.link_hw(vcpu, intid, intid);
            g.redist_write(vcpu, GICR_SGI + 0x80, 4, 1 << 27 | 1 << 30)
                .unwrap();
            g.redist_write(vcpu, GICR_SGI + 0x100, 4, 1 << intid)
                .unwrap();
            g.redist_write(vcpu, GICR_SGI + 0x400 + intid as u64, 1, 0xa0)
                .unwrap();
        }
    }
    g
}

fn bit(g: &mut Vgic, vcpu: usize, register: u64, intid: u32) -> bool {
    g.redist_read(vcpu, register, 4).unwrap() & 1 << intid != 0
}

/// The timer's output goes high and the physical interrupt fires (sluice acknowledges it and
/// keeps it active for the guest).
fn fire(g: &mut Vgic, vcpu: usize) {
    g.set_hw_line(vcpu, VTIMER, true);
    g.inject_hw(vcpu, VTIMER);
}

/// A guest exit with the timer output sampled at `line`.
fn exit(g: &mut Vgic, vcpu: usize, lrs: &mut [u64], line: bool) {
    g.sync(vcpu, lrs);
    g.set_hw_line(vcpu, VTIMER, line);
    g.flush(vcpu, lrs);
}

fn state(lr: u64) -> u64 {
    lr >> 62
}

#[test]
fn a_latched_timer_interrupt_goes_when_the_timer_output_drops() {
    let mut g = vgic();
    fire(&mut g, 0);
    assert!(bit(&mut g, 0, ISPENDR0, VTIMER));
    g.set_hw_line(0, VTIMER, false); // disabled, masked or pushed into the future
    assert!(!bit(&mut g, 0, ISPENDR0, VTIMER));
    assert!(!bit(&mut g, 0, ICPENDR0, VTIMER));
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4]);
    assert_eq!(g.take_hw_deactivations(0), [VTIMER]);
    assert!(g.take_hw_deactivations(0).is_empty(), "taken once");
}

#[test]
fn a_timer_interrupt_pending_in_an_lr_is_retracted_when_the_output_drops() {
    let mut g = vgic();
    fire(&mut g, 0);
    let mut lrs = [0u64; 4];
    exit(&mut g, 0, &mut lrs, true);
    assert_eq!(
        lrs[0],
        27 | 27 << 32 | 1 << 61 | 1 << 60 | 0xa0 << 48 | 1 << 62
    );
    exit(&mut g, 0, &mut lrs, false);
    assert_eq!(lrs, [0; 4]);
    assert!(!bit(&mut g, 0, ISPENDR0, VTIMER));
    assert_eq!(g.take_hw_deactivations(0), [VTIMER]);
}

#[test]
fn an_active_timer_interrupt_stays_in_its_lr_when_the_output_drops() {
    let mut g = vgic();
    fire(&mut g, 0);
    let mut lrs = [0u64; 4];
    exit(&mut g, 0, &mut lrs, true);
    lrs[0] = (lrs[0] & !(3 << 62)) | ACTIVE << 62; // the guest acknowledged it
    exit(&mut g, 0, &mut lrs, false);
    assert_eq!(state(lrs[0]), ACTIVE);
    assert_ne!(
        lrs[0] & 1 << 61,
        0,
        "still HW: its deactivation frees the physical one"
    );
    assert!(!bit(&mut g, 0, ISPENDR0, VTIMER));
    assert!(bit(&mut g, 0, ISACTIVER0, VTIMER));
    assert!(g.take_hw_deactivations(0).is_empty());
    lrs[0] &= !(3 << 62); // the guest deactivates it: the hardware deactivates the physical
    exit(&mut g, 0, &mut lrs, false);
    assert_eq!(lrs, [0; 4]);
    assert!(!bit(&mut g, 0, ISACTIVER0, VTIMER));
    assert!(g.take_hw_deactivations(0).is_empty());
}

#[test]
fn an_active_timer_interrupt_with_its_output_high_reads_pending_but_is_never_pending_in_the_lr() {
    let mut g = vgic();
    fire(&mut g, 0);
    let mut lrs = [0u64; 4];
    exit(&mut g, 0, &mut lrs, true);
    lrs[0] = (lrs[0] & !(3 << 62)) | ACTIVE << 62;
    exit(&mut g, 0, &mut lrs, true);
    assert!(bit(&mut g, 0, ISPENDR0, VTIMER), "a level still high");
    assert!(bit(&mut g, 0, ISACTIVER0, VTIMER));
    assert_eq!(state(lrs[0]), ACTIVE);
}

#[test]
fn a_re_raised_timer_output_goes_in_only_once_the_physical_interrupt_fires() {
    let mut g = vgic();
    fire(&mut g, 0);
    g.set_hw_line(0, VTIMER, false);
    g.take_hw_deactivations(0);
    g.set_hw_line(0, VTIMER, true);
    assert!(bit(&mut g, 0, ISPENDR0, VTIMER));
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4], "the physical interrupt is not active yet");
    g.inject_hw(0, VTIMER);
    exit(&mut g, 0, &mut lrs, true);
    assert_eq!(state(lrs[0]), PENDING);
}

#[test]
fn icpendr_on_a_latched_timer_interrupt_releases_the_physical_one() {
    let mut g = vgic();
    fire(&mut g, 1);
    g.redist_write(1, ICPENDR0, 4, 1 << VTIMER).unwrap();
    assert!(g.take_hw_deactivations(0).is_empty());
    assert_eq!(g.take_hw_deactivations(1), [VTIMER]);
    g.set_hw_line(1, VTIMER, false);
    assert!(!bit(&mut g, 1, ISPENDR0, VTIMER));
}

#[test]
fn ispendr_and_isactiver_cannot_make_up_a_timer_interrupt() {
    let mut g = vgic();
    g.redist_write(0, ISPENDR0, 4, 1 << VTIMER).unwrap();
    g.redist_write(0, GICR_SGI + 0x300, 4, 1 << VTIMER).unwrap();
    assert!(!bit(&mut g, 0, ISPENDR0, VTIMER));
    assert!(!bit(&mut g, 0, ISACTIVER0, VTIMER));
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4]);
}

#[test]
fn icactiver_on_an_active_timer_interrupt_releases_the_physical_one() {
    let mut g = vgic();
    fire(&mut g, 0);
    let mut lrs = [0u64; 4];
    exit(&mut g, 0, &mut lrs, true);
    lrs[0] = (lrs[0] & !(3 << 62)) | ACTIVE << 62;
    g.sync(0, &mut lrs);
    g.redist_write(0, ICACTIVER0, 4, 1 << VTIMER).unwrap();
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4]);
    assert_eq!(g.take_hw_deactivations(0), [VTIMER]);
}

#[test]
fn a_clear_from_another_vcpu_loses_the_race_with_the_lr_of_a_running_vcpu() {
    let mut g = vgic();
    fire(&mut g, 1);
    let mut lrs = [0u64; 4];
    exit(&mut g, 1, &mut lrs, true);
    g.redist_write(1, ICPENDR0, 4, 1 << VTIMER).unwrap(); // written by vCPU 0
    assert!(g.take_hw_deactivations(1).is_empty());
    exit(&mut g, 1, &mut lrs, true);
    assert_eq!(state(lrs[0]), PENDING);
}

#[test]
fn line_samples_leave_interrupts_that_are_not_hw_linked_alone() {
    let mut g = vgic();
    g.redist_write(0, GICR_SGI + 0x100, 4, 1 << 20).unwrap();
    g.set_hw_line(0, 20, true);
    assert!(!bit(&mut g, 0, ISPENDR0, 20));
    g.set_hw_line(5, VTIMER, false); // no such vCPU: ignored
}

/// xorshift64: a reproducible stream of choices.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The timer, the physical GIC and the guest move at random; after every exit the physical
/// interrupt must be active exactly while the virtual one is pending or active, no stale
/// pending state may survive a low output, and GICR_ISPENDR0 must follow the output.
#[test]
fn the_physical_timer_interrupt_stays_active_exactly_while_the_guest_owns_the_virtual_one() {
    let mut g = vgic();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut line, mut physical_active) = (false, false);
    let mut lrs = [0u64; 4];
    for step in 0..100_000 {
        match rng.below(5) {
            0 => line = !line, // the guest programs its timer (no exit)
            1 if line && !physical_active => {
                physical_active = true; // fires; sluice acknowledges it at the next exit
                g.sync(0, &mut lrs);
                g.set_hw_line(0, VTIMER, line);
                g.inject_hw(0, VTIMER);
                g.flush(0, &mut lrs);
            }
            2 => {
                if let Some(lr) = lrs.iter_mut().find(|lr| state(**lr) == PENDING) {
                    *lr = (*lr & !(3 << 62)) | ACTIVE << 62;
                }
            }
            3 => {
                if let Some(lr) = lrs.iter_mut().find(|lr| state(**lr) == ACTIVE) {
                    *lr &= !(3 << 62);
                    physical_active = false; // LR.HW: deactivated with the virtual one
                }
            }
            _ => {
                g.sync(0, &mut lrs);
                g.set_hw_line(0, VTIMER, line);
                assert_eq!(bit(&mut g, 0, ISPENDR0, VTIMER), line, "step {step}");
                g.flush(0, &mut lrs);
                if !g.take_hw_deactivations(0).is_empty() {
                    physical_active = false;
                }
                let in_lr = lrs.iter().find(|lr| state(**lr) != 0);
                assert_eq!(in_lr.is_some(), physical_active, "step {step}");
                if let Some(lr) = in_lr {
                    assert!(line || state(*lr) == ACTIVE, "stale pending, step {step}");
                }
            }
        }
    }
}
