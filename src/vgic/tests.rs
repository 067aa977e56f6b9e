use super::*;

const GICR_SGI: u64 = 0x1_0000;

fn vgic() -> Vgic {
    Vgic::new(VgicConfig {
        vcpu_mpidrs: [0x0, 0x1].to_vec(),
        spi_count: 64,
        list_register_count: 4,
        priority_bits: 5,
        lpi_count: 0,
    })
}

fn vgic_with_lpis() -> Vgic {
    Vgic::new(VgicConfig {
        vcpu_mpidrs: [0x0, 0x1].to_vec(),
        spi_count: 64,
        list_register_count: 4,
        priority_bits: 5,
        lpi_count: 8192,
    })
}

#[test]
fn lpis_are_advertised_only_when_offered() {
    let mut g = vgic();
    assert_eq!(g.dist_read(4, 4).unwrap() >> 17 & 1, 0);
    assert_eq!(g.redist_read(0, 8, 8).unwrap() & 1, 0);
    let mut g = vgic_with_lpis();
    assert_eq!(g.dist_read(4, 4).unwrap() >> 17 & 1, 1);
    assert_eq!(g.dist_read(4, 4).unwrap() >> 19 & 0x1f, 15);
    assert_eq!(g.redist_read(1, 8, 8).unwrap() & 1, 1);
}

#[test]
fn a_routed_enabled_lpi_is_injected_into_its_vcpu_only() {
    let mut g = vgic_with_lpis();
    g.dist_write(0, 4, 0x3).unwrap();
    g.redist_write(1, 0x70, 8, 0x4900_0000 | 15).unwrap();
    g.redist_write(1, 0, 4, 1).unwrap();
    assert_eq!(g.lpi_property_table(), Some((0x4900_0000, 16)));
    g.route_lpi(8200, 1);
    assert_eq!(
        g.set_lpi_config(8200, 0xa1),
        Kick::NONE,
        "nothing pending yet"
    );
    assert_eq!(g.inject_lpi(8200), Kick::vcpu(1));
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4]);
    g.flush(1, &mut lrs);
    assert_eq!(lrs[0], 8200 | 0xa0 << 48 | 1 << 60 | 1 << 62);
    lrs[0] = 0; // acknowledged: LPIs have no active state
    g.sync(1, &mut lrs);
    g.flush(1, &mut lrs);
    assert_eq!(lrs, [0; 4], "delivered once");
}

#[test]
fn invlpir_and_invallr_queue_reloads_and_syncr_is_never_busy() {
    let mut g = vgic_with_lpis();
    g.route_lpi(8200, 1);
    g.route_lpi(8201, 0);
    g.redist_write(0, 0xa0, 8, 8201).unwrap();
    g.redist_write(1, 0xb0, 8, 0).unwrap();
    assert_eq!(g.take_lpi_reload_requests(), [8201, 8200]);
    assert!(g.take_lpi_reload_requests().is_empty());
    assert_eq!(g.redist_read(0, 0xc0, 4).unwrap(), 0);
}

#[test]
fn disabled_unrouted_or_redistributor_disabled_lpis_stay_back() {
    let mut g = vgic_with_lpis();
    g.dist_write(0, 4, 0x3).unwrap();
    g.route_lpi(8200, 0);
    g.inject_lpi(8200);
    let mut lrs = [0u64; 4];
    g.set_lpi_config(8200, 0xa1);
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4], "GICR_CTLR.EnableLPIs is off");
    g.redist_write(0, 0, 4, 1).unwrap();
    g.set_lpi_config(8200, 0xa0);
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4], "disabled in the property table");
    g.unroute_lpi(8200);
    assert_eq!(g.inject_lpi(8200), Kick::NONE);
    assert_eq!(g.lpi_count(), 0);
}

/// Enables both groups and makes `intid` group 1, enabled, priority `prio` for vCPU 0.
fn enable(g: &mut Vgic, intid: u32, prio: u8) {
    g.dist_write(0x0, 4, 0x3).unwrap();
    let (word, bit) = ((intid / 32) as u64 * 4, 1u64 << (intid % 32));
    if intid < 32 {
        let group = g.redist_read(0, GICR_SGI + 0x80, 4).unwrap();
        g.redist_write(0, GICR_SGI + 0x80, 4, group | bit).unwrap();
        g.redist_write(0, GICR_SGI + 0x100, 4, bit).unwrap();
        g.redist_write(0, GICR_SGI + 0x400 + intid as u64, 1, prio as u64)
            .unwrap();
    } else {
        let group = g.dist_read(0x80 + word, 4).unwrap();
        g.dist_write(0x80 + word, 4, group | bit).unwrap();
        g.dist_write(0x100 + word, 4, bit).unwrap();
        g.dist_write(0x400 + intid as u64, 1, prio as u64).unwrap();
    }
}

#[test]
fn distributor_identifies_as_gicv3_with_affinity_routing_and_one_security_state() {
    let mut g = vgic();
    assert_eq!(g.dist_read(0xffe8, 4).unwrap() >> 4 & 0xf, 3);
    let ctlr = g.dist_read(0, 4).unwrap();
    assert_eq!(ctlr & (1 << 4 | 1 << 6), 1 << 4 | 1 << 6);
    let typer = g.dist_read(4, 4).unwrap();
    assert_eq!(typer & 0x1f, 2); // (64 SPIs + 32) / 32 - 1
    assert_eq!(typer >> 17 & 1, 0, "no LPIs");
    assert_eq!(typer >> 19 & 0x1f, 9);
}

#[test]
fn redistributor_typer_names_each_vcpu_and_marks_the_last() {
    let mut g = vgic();
    assert_eq!(g.redist_read(0, 8, 8).unwrap(), 0);
    assert_eq!(g.redist_read(1, 8, 8).unwrap(), 1 << 32 | 1 << 8 | 1 << 4);
    assert_eq!(g.redist_read(1, 0xc, 4).unwrap(), 1);
    assert!(g.redist_read(2, 8, 8).is_err());
}

#[test]
fn waking_a_redistributor_clears_children_asleep() {
    let mut g = vgic();
    assert_eq!(g.redist_read(0, 0x14, 4).unwrap(), 0b110);
    g.redist_write(0, 0x14, 4, 0).unwrap();
    assert_eq!(g.redist_read(0, 0x14, 4).unwrap(), 0);
}

#[test]
fn enable_pending_and_priority_registers_round_trip() {
    let mut g = vgic();
    g.dist_write(0x104, 4, 0b10).unwrap(); // enable SPI 33
    assert_eq!(g.dist_read(0x104, 4).unwrap(), 0b10);
    assert_eq!(g.dist_read(0x184, 4).unwrap(), 0b10);
    g.dist_write(0x184, 4, 0b10).unwrap();
    assert_eq!(g.dist_read(0x104, 4).unwrap(), 0);
    g.dist_write(0x420, 4, 0xa0b0_c0ff).unwrap();
    assert_eq!(
        g.dist_read(0x420, 4).unwrap(),
        0xa0b0_c0f8,
        "5 priority bits keep the top 5"
    );
    assert_eq!(g.dist_read(0x421, 1).unwrap(), 0xc0);
}

#[test]
fn sgi_and_ppi_words_of_the_distributor_are_raz_wi() {
    let mut g = vgic();
    g.dist_write(0x100, 4, u32::MAX as u64).unwrap();
    assert_eq!(g.dist_read(0x100, 4).unwrap(), 0);
    assert_eq!(g.redist_read(0, GICR_SGI + 0x100, 4).unwrap(), 0);
}

#[test]
fn irouter_is_64_bit_and_also_takes_32_bit_halves() {
    let mut g = vgic();
    let off = 0x6000 + 8 * 40;
    g.dist_write(off, 8, 0x1).unwrap();
    assert_eq!(g.dist_read(off, 8).unwrap(), 1);
    g.dist_write(off + 4, 4, 0x0).unwrap();
    g.dist_write(off, 4, 1 << 31).unwrap();
    assert_eq!(g.dist_read(off, 8).unwrap(), 1 << 31);
    assert_eq!(
        g.dist_read(0x6000, 8).unwrap(),
        0,
        "SGI/PPI routers do not exist"
    );
}

#[test]
fn bad_widths_and_alignment_are_refused_not_panics() {
    let mut g = vgic();
    assert!(g.dist_read(0x100, 2).is_err());
    assert!(g.dist_write(0x102, 4, 0).is_err());
    assert!(g.dist_read(0x6004, 8).is_err());
    for offset in (0..0x1_0000).step_by(0x3f1) {
        for width in [1, 2, 4, 8, 3] {
            let _ = g.dist_read(offset, width);
            let _ = g.dist_write(offset, width, u64::MAX);
            let _ = g.redist_read(1, offset * 2, width);
            let _ = g.redist_write(1, offset * 2, width, u64::MAX);
        }
    }
}

#[test]
fn flush_orders_by_priority_and_respects_the_lr_count() {
    let mut g = vgic();
    for (intid, prio) in [(40, 0x80), (41, 0x10), (42, 0x40), (43, 0x20), (44, 0x00)] {
        enable(&mut g, intid, prio);
        g.inject_edge(0, intid);
    }
    g.dist_write(0xc08, 4, 0xaaaa_aaaa).unwrap(); // SPIs 32..47 edge
    let mut lrs = [0u64; 4];
    let out = g.flush(0, &mut lrs);
    let intids: Vec<u32> = lrs.iter().map(|lr| *lr as u32).collect();
    assert_eq!(intids, [44, 41, 43, 42]);
    assert!(out.underflow_irq_needed);
    assert_eq!(lrs[0] >> 62, 1);
    assert_eq!(lrs[0] >> 60 & 1, 1, "group 1");
}

#[test]
fn an_interrupt_is_never_in_two_list_registers() {
    let mut g = vgic();
    enable(&mut g, 40, 0);
    g.inject_edge(0, 40);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    g.inject_edge(0, 40);
    g.flush(0, &mut lrs);
    assert_eq!(
        lrs.iter()
            .filter(|lr| **lr as u32 == 40 && **lr >> 62 != 0)
            .count(),
        1
    );
}

#[test]
fn level_interrupt_is_injected_with_eoi_and_comes_back_while_the_line_is_high() {
    let mut g = vgic();
    enable(&mut g, 33, 0xa0);
    g.set_spi_level(33, true);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    assert_eq!(lrs[0] as u32, 33);
    assert_ne!(lrs[0] & 1 << 41, 0, "EOI maintenance requested");
    lrs[0] &= !(3 << 62); // the guest completes it
    g.sync(0, &mut lrs);
    assert_eq!(lrs[0], 0);
    g.flush(0, &mut lrs);
    assert_eq!(lrs[0] as u32, 33, "line still high: pending again");
    g.set_spi_level(33, false);
    g.flush(0, &mut lrs);
    assert_eq!(
        lrs[0], 0,
        "line dropped before the guest took it: retracted"
    );
}

#[test]
fn hw_linked_timer_goes_in_with_the_physical_intid() {
    let mut g = vgic();
    enable(&mut g, 27, 0xa0);
    g.link_hw(0, 27, 27);
    let k = g.inject_hw(0, 27);
    assert!(k.contains(0));
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    assert_eq!(
        lrs[0],
        27 | 27 << 32 | 1 << 61 | 1 << 60 | 0xa0 << 48 | 1 << 62
    );
}

#[test]
fn pending_while_disabled_is_delivered_once_enabled() {
    let mut g = vgic();
    g.dist_write(0, 4, 0x3).unwrap();
    g.inject_edge(0, 40);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4]);
    assert_eq!(g.dist_read(0x204, 4).unwrap(), 1 << 8, "ISPENDR shows it");
    enable(&mut g, 40, 0);
    g.flush(0, &mut lrs);
    assert_eq!(lrs[0] as u32, 40);
}

#[test]
fn sync_reflects_active_state_for_ispactiver_reads() {
    let mut g = vgic();
    enable(&mut g, 40, 0);
    g.inject_edge(0, 40);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    lrs[0] = (lrs[0] & !(3 << 62)) | 2 << 62; // acknowledged: active
    g.sync(0, &mut lrs);
    assert_eq!(g.dist_read(0x304, 4).unwrap(), 1 << 8);
    assert_eq!(g.dist_read(0x204, 4).unwrap(), 0);
}

#[test]
fn icpendr_retracts_a_pending_list_register() {
    let mut g = vgic();
    enable(&mut g, 40, 0);
    g.inject_edge(0, 40);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    g.sync(0, &mut lrs);
    g.dist_write(0x284, 4, 1 << 8).unwrap();
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4]);
}

#[test]
fn sgi_to_a_target_list_pends_on_that_vcpu_and_kicks_it() {
    let mut g = vgic();
    let k = g.send_sgi(0, 5 << 24 | 0b10);
    assert_eq!(k, Kick::vcpu(1));
    assert_eq!(g.redist_read(1, GICR_SGI + 0x200, 4).unwrap(), 1 << 5);
    assert_eq!(g.redist_read(0, GICR_SGI + 0x200, 4).unwrap(), 0);
}

#[test]
fn sgi_with_irm_goes_to_everyone_but_the_sender() {
    let mut g = vgic();
    assert_eq!(g.send_sgi(1, 1 << 40 | 3 << 24), Kick::vcpu(0));
    assert_eq!(g.send_sgi(0, 1 << 48 | 1), Kick::NONE, "Aff3 mismatch");
    assert_eq!(
        g.send_sgi(0, 1 << 44 | 1),
        Kick::NONE,
        "range selector 1 names Aff0 16"
    );
}

#[test]
fn spi_routed_to_vcpu1_is_flushed_there_and_kicks_it() {
    let mut g = vgic();
    enable(&mut g, 40, 0);
    g.dist_write(0x6000 + 8 * 40, 8, 1).unwrap();
    assert_eq!(g.inject_edge(0, 40), Kick::vcpu(1));
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4]);
    g.flush(1, &mut lrs);
    assert_eq!(lrs[0] as u32, 40);
}

#[test]
fn disabled_group_holds_interrupts_back() {
    let mut g = vgic();
    enable(&mut g, 40, 0);
    g.dist_write(0, 4, 0x1).unwrap(); // group 1 off
    g.inject_edge(0, 40);
    let mut lrs = [0u64; 4];
    g.flush(0, &mut lrs);
    assert_eq!(lrs, [0; 4]);
}
