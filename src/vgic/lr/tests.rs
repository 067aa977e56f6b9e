//! List-register allocation: back-to-back SGIs, interrupts latched while active, full LRs.

use super::super::{Kick, Vgic, VgicConfig};

const GICR_SGI: u64 = 0x1_0000;
const PENDING: u64 = 0b01;
const ACTIVE: u64 = 0b10;

fn vgic(vcpus: usize, lrs: usize) -> Vgic {
    Vgic::new(VgicConfig {
        vcpu_mpidrs: (0..vcpus as u64).collect(),
        spi_count: 64,
        list_register_count: lrs,
        priority_bits: 5,
        lpi_count: 0,
    })
}

/// Enables both groups and makes `intid` group 1, enabled, priority `prio` (for `vcpu` if it
/// is an SGI or PPI).
fn enable(g: &mut Vgic, vcpu: usize, intid: u32, prio: u8) {
    g.dist_write(0, 4, 0x3).unwrap();
    let bit = 1u64 << (intid % 32);
    if intid < 32 {
        let group = g.redist_read(vcpu, GICR_SGI + 0x80, 4).unwrap();
        g.redist_write(vcpu, GICR_SGI + 0x80, 4, group | bit)
            .unwrap();
        g.redist_write(vcpu, GICR_SGI + 0x100, 4, bit).unwrap();
        g.redist_write(vcpu, GICR_SGI + 0x400 + intid as u64, 1, prio as u64)
            .unwrap();
    } else {
        let word = (intid / 32) as u64 * 4;
        let group = g.dist_read(0x80 + word, 4).unwrap();
        g.dist_write(0x80 + word, 4, group | bit).unwrap();
        g.dist_write(0x100 + word, 4, bit).unwrap();
        g.dist_write(0x400 + intid as u64, 1, prio as u64).unwrap();
    }
}

/// ICC_SGI1R_EL1 value sending SGI `intid` to the vCPUs with Aff0 in `targets`.
fn sgi1r(intid: u32, targets: u16) -> u64 {
    (intid as u64) << 24 | targets as u64
}

/// A guest exit of `vcpu`: fold, then load again.
fn exit(g: &mut Vgic, vcpu: usize, lrs: &mut [u64]) -> super::FlushOutcome {
    g.sync(vcpu, lrs);
    g.flush(vcpu, lrs)
}

fn state(lr: u64) -> u64 {
    lr >> 62
}

/// The LRs holding `intid`, as (index, state).
fn holding(lrs: &[u64], intid: u32) -> Vec<(usize, u64)> {
    lrs.iter()
        .enumerate()
        .filter(|(_, lr)| **lr as u32 == intid && state(**lr) != 0)
        .map(|(i, lr)| (i, state(*lr)))
        .collect()
}

/// The guest's virtual CPU interface acknowledges its highest-priority pending-only LR.
fn guest_ack(lrs: &mut [u64]) -> Option<u32> {
    let lr = lrs
        .iter_mut()
        .filter(|lr| state(**lr) == PENDING)
        .min_by_key(|lr| (**lr >> 48 & 0xff, **lr as u32))?;
    *lr = (*lr & !(3 << 62)) | ACTIVE << 62;
    Some(*lr as u32)
}

/// The guest deactivates `intid` (EOI with EOImode 0): the LR loses its active state.
fn guest_deactivate(lrs: &mut [u64], intid: u32) {
    let lr = lrs
        .iter_mut()
        .find(|lr| **lr as u32 == intid && state(**lr) & ACTIVE != 0)
        .expect("deactivating an interrupt that is not active in an LR");
    *lr &= !(ACTIVE << 62);
}

#[test]
fn an_sgi_sent_again_while_the_first_is_active_goes_in_as_pending_and_active() {
    let mut g = vgic(2, 4);
    enable(&mut g, 1, 3, 0xa0);
    let mut lrs = [0u64; 4];
    assert_eq!(g.send_sgi(0, sgi1r(3, 0b10)), Kick::vcpu(1));
    exit(&mut g, 1, &mut lrs);
    assert_eq!(guest_ack(&mut lrs), Some(3));
    assert_eq!(g.send_sgi(0, sgi1r(3, 0b10)), Kick::vcpu(1));
    let out = exit(&mut g, 1, &mut lrs); // the kick
    assert_eq!(holding(&lrs, 3), [(0, PENDING | ACTIVE)]);
    assert!(!out.underflow_irq_needed);
    guest_deactivate(&mut lrs, 3);
    assert_eq!(
        guest_ack(&mut lrs),
        Some(3),
        "taken again with no exit in between"
    );
}

#[test]
fn an_sgi_sent_again_before_the_guest_took_the_first_merges_with_it() {
    let mut g = vgic(2, 4);
    enable(&mut g, 1, 3, 0xa0);
    let mut lrs = [0u64; 4];
    g.send_sgi(0, sgi1r(3, 0b10));
    exit(&mut g, 1, &mut lrs);
    g.send_sgi(0, sgi1r(3, 0b10));
    exit(&mut g, 1, &mut lrs);
    assert_eq!(holding(&lrs, 3), [(0, PENDING)]);
    assert_eq!(guest_ack(&mut lrs), Some(3));
    guest_deactivate(&mut lrs, 3);
    exit(&mut g, 1, &mut lrs);
    assert_eq!(lrs, [0; 4], "one pending state, taken once");
}

#[test]
fn sgis_from_several_sources_while_active_make_one_pending_state() {
    let mut g = vgic(3, 4);
    enable(&mut g, 1, 5, 0x80);
    let mut lrs = [0u64; 4];
    g.send_sgi(0, sgi1r(5, 0b010));
    exit(&mut g, 1, &mut lrs);
    guest_ack(&mut lrs);
    assert_eq!(g.send_sgi(0, sgi1r(5, 0b010)), Kick::vcpu(1));
    assert_eq!(g.send_sgi(2, sgi1r(5, 0b010)), Kick::vcpu(1));
    assert_eq!(
        g.send_sgi(2, 1 << 40 | 5 << 24),
        Kick::vcpu(0).union(Kick::vcpu(1))
    );
    exit(&mut g, 1, &mut lrs);
    assert_eq!(holding(&lrs, 5), [(0, PENDING | ACTIVE)]);
}

#[test]
fn an_sgi_sent_while_the_target_runs_is_loaded_by_the_exit_its_kick_causes() {
    let mut g = vgic(2, 4);
    enable(&mut g, 1, 2, 0xa0);
    let mut lrs = [0u64; 4];
    exit(&mut g, 1, &mut lrs);
    g.send_sgi(0, sgi1r(2, 0b10));
    assert_eq!(g.redist_read(1, GICR_SGI + 0x200, 4).unwrap(), 1 << 2);
    exit(&mut g, 1, &mut lrs);
    assert_eq!(holding(&lrs, 2), [(0, PENDING)]);
}

#[test]
fn a_higher_priority_sgi_evicts_a_lower_pending_interrupt_when_every_lr_is_in_use() {
    let mut g = vgic(2, 4);
    g.dist_write(0xc04, 4, 0xaaaa_aaaa).unwrap(); // SPIs 32..47 edge
    for intid in 40..44 {
        enable(&mut g, 0, intid, 0x80 + (intid as u8 - 40) * 8);
        g.inject_edge(0, intid);
    }
    enable(&mut g, 0, 1, 0x10);
    let mut lrs = [0u64; 4];
    assert!(!exit(&mut g, 0, &mut lrs).underflow_irq_needed);
    g.send_sgi(1, sgi1r(1, 0b1));
    let out = exit(&mut g, 0, &mut lrs);
    let mut held: Vec<u32> = lrs.iter().map(|lr| *lr as u32).collect();
    held.sort_unstable();
    assert_eq!(held, [1, 40, 41, 42], "SPI 43, the lowest priority, waits");
    assert!(out.underflow_irq_needed);
    assert_eq!(
        g.dist_read(0x204, 4).unwrap() & 1 << 11,
        1 << 11,
        "SPI 43 is still pending"
    );
    while let Some(intid) = guest_ack(&mut lrs) {
        guest_deactivate(&mut lrs, intid);
    }
    let out = exit(&mut g, 0, &mut lrs); // the underflow maintenance interrupt
    assert_eq!(holding(&lrs, 43), [(0, PENDING)]);
    assert!(!out.underflow_irq_needed);
}

#[test]
fn every_lr_active_leaves_a_new_sgi_waiting_with_the_underflow_interrupt_requested() {
    let mut g = vgic(2, 2);
    g.dist_write(0xc04, 4, 0xaaaa_aaaa).unwrap();
    enable(&mut g, 0, 40, 0x20);
    enable(&mut g, 0, 41, 0x10);
    enable(&mut g, 0, 6, 0x00);
    g.inject_edge(0, 40);
    g.inject_edge(0, 41);
    let mut lrs = [0u64; 2];
    exit(&mut g, 0, &mut lrs);
    assert_eq!(guest_ack(&mut lrs), Some(41));
    assert_eq!(guest_ack(&mut lrs), Some(40)); // nested: both active
    g.send_sgi(1, sgi1r(6, 0b1));
    let out = exit(&mut g, 0, &mut lrs);
    assert_eq!(holding(&lrs, 40), [(1, ACTIVE)]);
    assert_eq!(holding(&lrs, 41), [(0, ACTIVE)]);
    assert!(
        out.underflow_irq_needed,
        "active interrupts are never evicted"
    );
    guest_deactivate(&mut lrs, 40);
    exit(&mut g, 0, &mut lrs); // one LR valid: the underflow interrupt fires
    assert_eq!(holding(&lrs, 6), [(1, PENDING)]);
}

#[test]
fn an_edge_spi_latched_while_active_is_taken_right_after_deactivation() {
    let mut g = vgic(2, 4);
    g.dist_write(0xc08, 4, 0xaaaa_aaaa).unwrap(); // SPIs 32..47 edge
    enable(&mut g, 0, 40, 0xa0);
    g.inject_edge(0, 40);
    let mut lrs = [0u64; 4];
    exit(&mut g, 0, &mut lrs);
    guest_ack(&mut lrs);
    g.inject_edge(0, 40);
    exit(&mut g, 0, &mut lrs);
    assert_eq!(holding(&lrs, 40), [(0, PENDING | ACTIVE)]);
    guest_deactivate(&mut lrs, 40);
    assert_eq!(guest_ack(&mut lrs), Some(40));
}

#[test]
fn a_ppi_made_pending_by_ispendr_while_active_is_taken_right_after_deactivation() {
    let mut g = vgic(2, 4);
    g.redist_write(1, GICR_SGI + 0xc04, 4, 2 << 8).unwrap(); // PPI 20 edge
    enable(&mut g, 1, 20, 0xa0);
    g.redist_write(1, GICR_SGI + 0x200, 4, 1 << 20).unwrap();
    let mut lrs = [0u64; 4];
    exit(&mut g, 1, &mut lrs);
    guest_ack(&mut lrs);
    g.redist_write(1, GICR_SGI + 0x200, 4, 1 << 20).unwrap();
    exit(&mut g, 1, &mut lrs);
    assert_eq!(holding(&lrs, 20), [(0, PENDING | ACTIVE)]);
}

#[test]
fn a_level_spi_made_pending_by_ispendr_while_active_comes_back_after_completion() {
    let mut g = vgic(2, 4);
    enable(&mut g, 0, 33, 0xa0);
    g.set_spi_level(33, true);
    let mut lrs = [0u64; 4];
    exit(&mut g, 0, &mut lrs);
    guest_ack(&mut lrs);
    exit(&mut g, 0, &mut lrs);
    g.set_spi_level(33, false); // the guest's handler quietened the device
    g.dist_write(0x204, 4, 1 << 1).unwrap(); // and something set it pending by hand
    exit(&mut g, 0, &mut lrs);
    assert_eq!(holding(&lrs, 33), [(0, PENDING | ACTIVE)]);
    guest_deactivate(&mut lrs, 33);
    assert_eq!(guest_ack(&mut lrs), Some(33));
    guest_deactivate(&mut lrs, 33);
    exit(&mut g, 0, &mut lrs); // EOI maintenance: the latch was consumed by the acknowledge
    assert_eq!(lrs, [0; 4]);
}

#[test]
fn active_interrupts_keep_their_lrs_against_pending_ones_of_higher_priority() {
    let mut g = vgic(2, 2);
    g.dist_write(0xc08, 4, 0xaaaa_aaaa).unwrap();
    enable(&mut g, 0, 40, 0xf0);
    g.inject_edge(0, 40);
    let mut lrs = [0u64; 2];
    exit(&mut g, 0, &mut lrs);
    guest_ack(&mut lrs);
    for intid in [41, 42, 43] {
        enable(&mut g, 0, intid, 0x00);
        g.inject_edge(0, intid);
    }
    let out = exit(&mut g, 0, &mut lrs);
    assert_eq!(holding(&lrs, 40), [(0, ACTIVE)]);
    assert_eq!(holding(&lrs, 41), [(1, PENDING)]);
    assert!(out.underflow_irq_needed);
}

#[test]
fn icpendr_and_icenabler_of_the_running_vcpu_retract_an_edge_from_its_lr() {
    let mut g = vgic(2, 4);
    g.dist_write(0xc08, 4, 0xaaaa_aaaa).unwrap();
    enable(&mut g, 0, 40, 0);
    enable(&mut g, 0, 41, 0);
    g.inject_edge(0, 40);
    g.inject_edge(0, 41);
    let mut lrs = [0u64; 4];
    exit(&mut g, 0, &mut lrs);
    g.sync(0, &mut lrs);
    g.dist_write(0x284, 4, 1 << 8).unwrap(); // ICPENDR: 40
    g.dist_write(0x184, 4, 1 << 9).unwrap(); // ICENABLER: 41
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4]);
    assert_eq!(g.dist_read(0x204, 4).unwrap(), 1 << 9, "41 stays pending");
}

#[test]
fn an_spi_rerouted_while_in_an_lr_kicks_its_new_target_when_folded() {
    let mut g = vgic(2, 4);
    enable(&mut g, 0, 40, 0);
    g.inject_edge(0, 40);
    let mut lrs0 = [0u64; 4];
    exit(&mut g, 0, &mut lrs0);
    g.dist_write(0x6000 + 8 * 40, 8, 1).unwrap();
    let mut lrs1 = [0u64; 4];
    exit(&mut g, 1, &mut lrs1);
    assert_eq!(lrs1, [0; 4], "never in two vCPUs' LRs at once");
    assert_eq!(g.sync(0, &mut lrs0), Kick::vcpu(1));
    exit(&mut g, 1, &mut lrs1);
    assert_eq!(holding(&lrs1, 40), [(0, PENDING)]);
}

/// xorshift64: a reproducible stream of choices.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// One vCPU of the ping-pong: its LRs and where its guest is.
#[derive(Default)]
struct Player {
    lrs: [u64; 4],
    /// Handling an IPI (active in an LR).
    handling: bool,
    /// Handling one and not yet replied.
    must_reply: bool,
    /// A kick SGI is pending for its physical CPU.
    kicked: bool,
}

/// Two vCPUs bounce SGI 1 back and forth; the guests take their only exits when they send
/// (a trapped ICC_SGI1R_EL1 write) or are kicked. Every step picks one of the possible moves at
/// random, including sending the reply before the handler's EOI: the reply then comes back
/// while the SGI is still active. No move left means a lost IPI.
#[test]
fn sgi_ping_pong_between_two_vcpus_never_loses_an_ipi() {
    let mut g = vgic(2, 4);
    enable(&mut g, 0, 1, 0xa0);
    enable(&mut g, 1, 1, 0xa0);
    let mut p = [Player::default(), Player::default()];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    g.send_sgi(1, sgi1r(1, 0b01));
    p[0].kicked = true;
    let mut round_trips = 0;
    while round_trips < 100_000 {
        let mut moves = Vec::new();
        for (v, player) in p.iter().enumerate() {
            let can_ack = !player.handling && player.lrs.iter().any(|lr| state(*lr) == PENDING);
            for (possible, kind) in [
                (player.kicked, 0),
                (can_ack, 1),
                (player.must_reply, 2),
                (player.handling && !player.must_reply, 3),
            ] {
                if possible {
                    moves.push((v, kind));
                }
            }
        }
        assert!(
            !moves.is_empty(),
            "IPI lost after {round_trips} round trips"
        );
        let (v, kind) = moves[rng.below(moves.len())];
        let peer = 1 - v;
        match kind {
            0 => {
                p[v].kicked = false;
                exit(&mut g, v, &mut p[v].lrs);
            }
            1 => {
                assert_eq!(guest_ack(&mut p[v].lrs), Some(1));
                p[v].handling = true;
                p[v].must_reply = true;
            }
            2 => {
                g.sync(v, &mut p[v].lrs);
                let k = g.send_sgi(v, sgi1r(1, 1 << peer));
                assert_eq!(k, Kick::vcpu(peer));
                p[peer].kicked = true;
                g.flush(v, &mut p[v].lrs);
                p[v].must_reply = false;
                round_trips += v; // vCPU 1 answering closes a round trip
            }
            _ => {
                guest_deactivate(&mut p[v].lrs, 1);
                p[v].handling = false;
            }
        }
    }
}

#[test]
fn an_lpi_sent_again_while_the_first_is_active_goes_in_as_pending_and_active() {
    let mut g = Vgic::new(VgicConfig {
        vcpu_mpidrs: [0, 1].to_vec(),
        spi_count: 64,
        list_register_count: 4,
        priority_bits: 5,
        lpi_count: 8192,
    });
    g.dist_write(0, 4, 0x3).unwrap();
    g.redist_write(1, 0, 4, 1).unwrap(); // GICR_CTLR.EnableLPIs
    g.route_lpi(8200, 1);
    g.set_lpi_config(8200, 0xa1);
    assert_eq!(g.inject_lpi(8200), Kick::vcpu(1));
    let mut lrs = [0u64; 4];
    exit(&mut g, 1, &mut lrs);
    assert_eq!(guest_ack(&mut lrs), Some(8200));
    g.inject_lpi(8200);
    exit(&mut g, 1, &mut lrs);
    assert_eq!(holding(&lrs, 8200), [(0, PENDING | ACTIVE)]);
    guest_deactivate(&mut lrs, 8200);
    assert_eq!(guest_ack(&mut lrs), Some(8200));
    guest_deactivate(&mut lrs, 8200);
    exit(&mut g, 1, &mut lrs);
    assert_eq!(lrs, [0; 4]);
}

#[test]
fn an_spi_pended_after_idle_exits_is_still_loaded() {
    let mut g = vgic(2, 4);
    enable(&mut g, 0, 50, 0xa0);
    let mut lrs = [0u64; 4];
    for _ in 0..3 {
        exit(&mut g, 0, &mut lrs);
        assert_eq!(
            lrs, [0; 4],
            "nothing pending: the scan clears every SPI's mark"
        );
    }
    g.dist_write(0x200 + 4, 4, 1 << (50 - 32)).unwrap(); // ISPENDR1
    exit(&mut g, 0, &mut lrs);
    assert_eq!(holding(&lrs, 50), [(0, PENDING)]);
}

#[test]
fn a_pending_spi_of_a_disabled_group_is_loaded_once_gicd_ctlr_enables_it() {
    let mut g = vgic(2, 4);
    enable(&mut g, 0, 50, 0xa0);
    g.dist_write(0, 4, 0).unwrap(); // both groups off
    g.dist_write(0x200 + 4, 4, 1 << (50 - 32)).unwrap();
    let mut lrs = [0u64; 4];
    exit(&mut g, 0, &mut lrs);
    assert_eq!(holding(&lrs, 50), []);
    g.dist_write(0, 4, 0x3).unwrap();
    exit(&mut g, 0, &mut lrs);
    assert_eq!(holding(&lrs, 50), [(0, PENDING)]);
}

#[test]
fn an_spi_routed_to_another_vcpu_keeps_its_mark_for_that_vcpu() {
    let mut g = vgic(2, 4);
    enable(&mut g, 0, 50, 0xa0);
    g.dist_write(0x6000 + 8 * 50, 8, 1).unwrap(); // IROUTER: vCPU 1
    g.dist_write(0x200 + 4, 4, 1 << (50 - 32)).unwrap();
    let (mut lrs0, mut lrs1) = ([0u64; 4], [0u64; 4]);
    exit(&mut g, 0, &mut lrs0);
    assert_eq!(holding(&lrs0, 50), []);
    exit(&mut g, 1, &mut lrs1);
    assert_eq!(holding(&lrs1, 50), [(0, PENDING)]);
}
