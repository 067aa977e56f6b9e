use super::super::{Kick, Vgic, VgicConfig};
use super::*;

const GICD_ISENABLER: u64 = 0x100;
const GICD_ICENABLER: u64 = 0x180;
const GICD_ISPENDR: u64 = 0x200;
const GICD_ISACTIVER: u64 = 0x300;
const GICD_IPRIORITYR: u64 = 0x400;
const GICD_ICFGR: u64 = 0xc00;
const GICD_IGROUPR: u64 = 0x80;
const GICD_IROUTER: u64 = 0x6000;

/// A guest owning SPIs 33 (its UART) and 36 (an INTx line) of a host with 256 SPIs.
fn guest() -> Vgic {
    let mut g = Vgic::new(VgicConfig {
        vcpu_mpidrs: [0x0].to_vec(),
        spi_count: 256,
        list_register_count: 4,
        priority_bits: 5,
        lpi_count: 0,
    });
    g.restrict_spis(SpiSet::for_guest(33, &[36]));
    g.dist_write(0, 4, 0x3).unwrap();
    g
}

#[test]
fn a_guest_set_holds_its_uart_and_intx_lines_only() {
    let set = SpiSet::for_guest(33, &[36, 37]);
    assert!(set.contains(33) && set.contains(36) && set.contains(37));
    assert!(!set.contains(32) && !set.contains(35) && !set.contains(38));
    assert!(!set.contains(1020), "special INTIDs are never SPIs");
}

#[test]
fn the_single_guest_keeps_every_spi_and_a_described_guest_only_its_own() {
    assert_eq!(SpiSet::of_guest(false, 33, &[36]), SpiSet::all());
    assert_eq!(SpiSet::of_guest(true, 33, &[36]), SpiSet::only([33, 36]));
}

#[test]
fn sgis_ppis_and_special_intids_are_never_in_a_set() {
    let set = SpiSet::only([3, 27, 1020, 5000, 40]);
    assert!(!set.contains(3) && !set.contains(27) && !set.contains(1020));
    assert!(set.contains(40));
    assert!(!SpiSet::all().contains(16));
}

#[test]
fn lines_needed_cover_the_highest_owned_spi_and_no_more_than_the_host_has() {
    assert_eq!(SpiSet::for_guest(33, &[36]).spis_needed(256), 32);
    assert_eq!(SpiSet::only([64]).spis_needed(256), 64);
    assert_eq!(SpiSet::only([200]).spis_needed(64), 64);
    assert_eq!(SpiSet::only([]).spis_needed(256), 0);
    assert_eq!(SpiSet::all().spis_needed(256), 256);
}

#[test]
fn typer_shows_only_the_lines_the_guest_needs() {
    let mut g = guest();
    assert_eq!(g.dist_read(4, 4).unwrap() & 0x1f, 1, "INTIDs up to 63");
    let mut single = Vgic::new(VgicConfig {
        vcpu_mpidrs: [0x0].to_vec(),
        spi_count: 256,
        list_register_count: 4,
        priority_bits: 5,
        lpi_count: 0,
    });
    assert_eq!(
        single.dist_read(4, 4).unwrap() & 0x1f,
        8,
        "the single guest: every line"
    );
}

#[test]
fn another_guests_spi_is_raz_wi_in_every_bit_array_and_reported_once() {
    let mut g = guest();
    for reg in [GICD_ISENABLER, GICD_ISPENDR, GICD_ISACTIVER] {
        assert_eq!(g.dist_write(reg + 4, 4, 1 << 5).unwrap(), Kick::NONE);
        let seen = g.take_foreign_spi_write().expect("the attempt is reported");
        assert_eq!((seen.intid, seen.count), (37, 1));
        assert_eq!(g.dist_read(reg + 4, 4).unwrap(), 0);
    }
    assert_eq!(g.take_foreign_spi_write(), None);
}

#[test]
fn owned_spis_still_work_next_to_hidden_ones() {
    let mut g = guest();
    g.dist_write(GICD_ISENABLER + 4, 4, 0xffff_ffff).unwrap();
    assert_eq!(g.dist_read(GICD_ISENABLER + 4, 4).unwrap(), 1 << 1 | 1 << 4);
    let seen = g.take_foreign_spi_write().unwrap();
    assert_eq!(
        (seen.intid, seen.count, seen.register),
        (32, 30, "GICD_ISENABLER")
    );
    g.dist_write(GICD_ISPENDR + 4, 4, 1 << 4).unwrap();
    assert_eq!(g.dist_read(GICD_ISPENDR + 4, 4).unwrap(), 1 << 4);
}

#[test]
fn clearing_grouping_or_prioritising_every_line_is_start_up_and_not_reported() {
    let mut g = guest();
    g.dist_write(GICD_ICENABLER + 4, 4, 0xffff_ffff).unwrap();
    g.dist_write(GICD_IGROUPR + 4, 4, 0xffff_ffff).unwrap();
    g.dist_write(GICD_IPRIORITYR + 32, 4, 0xa0a0_a0a0).unwrap();
    g.dist_write(GICD_IPRIORITYR + 36, 4, 0xa0a0_a0a0).unwrap();
    g.dist_write(GICD_ICFGR + 8, 4, 0xaaaa_aaaa).unwrap();
    g.dist_write(GICD_IROUTER + 8 * 37, 8, 0).unwrap();
    assert_eq!(g.take_foreign_spi_write(), None);
    assert_eq!(g.dist_read(GICD_IGROUPR + 4, 4).unwrap(), 1 << 1 | 1 << 4);
    assert_eq!(
        g.dist_read(GICD_IPRIORITYR + 36, 4).unwrap(),
        0xa0,
        "36 only"
    );
    assert_eq!(
        g.dist_read(GICD_ICFGR + 8, 4).unwrap(),
        2 << 2 | 2 << 8,
        "33 and 36"
    );
}

#[test]
fn routing_another_guests_spi_is_ignored_and_reported() {
    let mut g = guest();
    g.dist_write(GICD_IROUTER + 8 * 37, 8, 1).unwrap();
    assert_eq!(g.dist_read(GICD_IROUTER + 8 * 37, 8).unwrap(), 0);
    let seen = g.take_foreign_spi_write().unwrap();
    assert_eq!((seen.intid, seen.register), (37, "GICD_IROUTER"));
    g.dist_write(GICD_IROUTER + 8 * 36, 8, 1).unwrap();
    assert_eq!(g.dist_read(GICD_IROUTER + 8 * 36, 8).unwrap(), 1);
}

#[test]
fn spis_beyond_the_shown_lines_are_reported_too() {
    let mut g = guest();
    g.dist_write(GICD_ISENABLER + 4 * 4, 4, 1).unwrap();
    assert_eq!(g.take_foreign_spi_write().map(|s| s.intid), Some(128));
}

#[test]
fn another_guests_line_cannot_be_raised_through_this_vgic() {
    let mut g = guest();
    g.dist_write(GICD_ISENABLER + 4, 4, 1 << 1).unwrap();
    assert_eq!(g.set_spi_level(37, true), Kick::NONE);
    assert_eq!(g.inject_edge(0, 37), Kick::NONE);
    assert_eq!(g.set_spi_level(33, true), Kick::vcpu(0));
}

#[test]
fn sgis_of_a_one_vcpu_guest_to_every_other_pe_or_to_aff0_1_reach_nobody() {
    let mut g = guest();
    for intid in 0..16u64 {
        assert_eq!(g.send_sgi(0, 1 << 40 | intid << 24), Kick::NONE, "IRM=1");
        assert_eq!(g.send_sgi(0, intid << 24 | 1 << 1), Kick::NONE, "Aff0 1");
        assert_eq!(
            g.send_sgi(0, intid << 24 | 0xfffe),
            Kick::NONE,
            "every Aff0 but 0"
        );
    }
    assert_eq!(g.send_sgi(0, 9 << 24 | 1), Kick::vcpu(0), "itself");
}
