use super::*;

const OURS: u32 = 0x0008;

fn its() -> VirtualIts {
    let mut its = VirtualIts::new(2, 8192, Vec::from([OURS, 0x0010]));
    its.execute(ItsCommand::Mapc {
        collection: 0,
        target: 0,
        valid: true,
    })
    .unwrap();
    its.execute(ItsCommand::Mapc {
        collection: 1,
        target: 1,
        valid: true,
    })
    .unwrap();
    its.execute(ItsCommand::Mapd {
        device: OURS,
        event_bits: 5,
        itt_addr: 0,
        valid: true,
    })
    .unwrap();
    its
}

#[test]
fn mapti_then_translate_gives_the_lpi_and_the_collections_vcpu() {
    let mut its = its();
    let fx = its
        .execute(ItsCommand::Mapti {
            device: OURS,
            event: 3,
            intid: 8200,
            collection: 1,
        })
        .unwrap();
    assert_eq!(
        fx,
        [ItsEffect::Route {
            intid: 8200,
            vcpu: 1
        }]
    );
    assert_eq!(its.translate(OURS, 3), Some((8200, 1)));
    assert_eq!(its.translate(OURS, 4), None);
}

#[test]
fn commands_for_a_device_the_guest_does_not_own_are_refused() {
    let mut its = its();
    let not_ours = 0x0100;
    assert_eq!(
        its.execute(ItsCommand::Mapd {
            device: not_ours,
            event_bits: 5,
            itt_addr: 0,
            valid: true
        }),
        Err(ItsRefusal::NotOwned(not_ours))
    );
    assert_eq!(
        its.execute(ItsCommand::Int {
            device: not_ours,
            event: 0
        }),
        Err(ItsRefusal::NotOwned(not_ours))
    );
    assert_eq!(its.translate(not_ours, 0), None);
}

#[test]
fn out_of_range_events_lpis_collections_and_targets_are_refused() {
    let mut its = its();
    let refuse = |its: &mut VirtualIts, c| its.execute(c).unwrap_err();
    assert_eq!(
        refuse(
            &mut its,
            ItsCommand::Mapti {
                device: OURS,
                event: 32,
                intid: 8200,
                collection: 0
            }
        ),
        ItsRefusal::OutOfRange("EventID")
    );
    assert_eq!(
        refuse(
            &mut its,
            ItsCommand::Mapti {
                device: OURS,
                event: 1,
                intid: 100,
                collection: 0
            }
        ),
        ItsRefusal::OutOfRange("LPI")
    );
    assert_eq!(
        refuse(
            &mut its,
            ItsCommand::Mapti {
                device: OURS,
                event: 1,
                intid: 8192 + 8192,
                collection: 0
            }
        ),
        ItsRefusal::OutOfRange("LPI")
    );
    assert_eq!(
        refuse(
            &mut its,
            ItsCommand::Mapti {
                device: OURS,
                event: 1,
                intid: 8200,
                collection: 7
            }
        ),
        ItsRefusal::OutOfRange("collection")
    );
    assert_eq!(
        refuse(
            &mut its,
            ItsCommand::Mapc {
                collection: 0,
                target: 5,
                valid: true
            }
        ),
        ItsRefusal::OutOfRange("target processor")
    );
    assert_eq!(
        refuse(
            &mut its,
            ItsCommand::Mapd {
                device: OURS,
                event_bits: 32,
                itt_addr: 0,
                valid: true
            }
        ),
        ItsRefusal::OutOfRange("EventID size")
    );
    assert_eq!(
        refuse(&mut its, ItsCommand::Unknown { opcode: 0x22 }),
        ItsRefusal::Unsupported(0x22)
    );
}

#[test]
fn int_injects_movi_reroutes_discard_and_unmap_unroute() {
    let mut its = its();
    its.execute(ItsCommand::Mapti {
        device: OURS,
        event: 1,
        intid: 8201,
        collection: 0,
    })
    .unwrap();
    assert_eq!(
        its.execute(ItsCommand::Int {
            device: OURS,
            event: 1
        })
        .unwrap(),
        [ItsEffect::Inject {
            intid: 8201,
            vcpu: 0
        }]
    );
    assert_eq!(
        its.execute(ItsCommand::Movi {
            device: OURS,
            event: 1,
            collection: 1
        })
        .unwrap(),
        [ItsEffect::Route {
            intid: 8201,
            vcpu: 1
        }]
    );
    assert_eq!(
        its.execute(ItsCommand::Discard {
            device: OURS,
            event: 1
        })
        .unwrap(),
        [ItsEffect::Unroute { intid: 8201 }]
    );
    assert_eq!(
        its.execute(ItsCommand::Inv {
            device: OURS,
            event: 1
        }),
        Err(ItsRefusal::NotMapped("event"))
    );
    its.execute(ItsCommand::Mapti {
        device: OURS,
        event: 2,
        intid: 8202,
        collection: 0,
    })
    .unwrap();
    let fx = its
        .execute(ItsCommand::Mapd {
            device: OURS,
            event_bits: 0,
            itt_addr: 0,
            valid: false,
        })
        .unwrap();
    assert_eq!(fx, [ItsEffect::Unroute { intid: 8202 }]);
}

#[test]
fn movall_and_invall_cover_every_lpi_of_the_collection() {
    let mut its = its();
    its.execute(ItsCommand::Mapti {
        device: OURS,
        event: 1,
        intid: 8201,
        collection: 0,
    })
    .unwrap();
    its.execute(ItsCommand::Mapti {
        device: OURS,
        event: 2,
        intid: 8202,
        collection: 0,
    })
    .unwrap();
    assert_eq!(
        its.execute(ItsCommand::Invall { collection: 0 })
            .unwrap()
            .len(),
        2
    );
    let fx = its.execute(ItsCommand::Movall { from: 0, to: 1 }).unwrap();
    assert_eq!(
        fx,
        [
            ItsEffect::Route {
                intid: 8201,
                vcpu: 1
            },
            ItsEffect::Route {
                intid: 8202,
                vcpu: 1
            }
        ]
    );
    assert_eq!(its.translate(OURS, 2), Some((8202, 1)));
}

#[test]
fn registers_advertise_physical_lpis_and_collections_and_no_tables() {
    let mut its = its();
    let typer = its.read(0x8, 8).unwrap();
    assert_eq!(typer & 1, 1);
    assert_eq!(typer >> 24 & 0xff, 2, "HCC: one collection per vCPU");
    assert_eq!(
        its.read(0x100, 8).unwrap() >> 56 & 7,
        1,
        "BASER0 is a device table"
    );
    assert_eq!(
        its.read(0x108, 8).unwrap() >> 56 & 7,
        4,
        "BASER1 is a collection table"
    );
    assert_eq!(its.read(0x110, 8), Some(0), "no other tables");
    its.write(0x100, 8, 1 << 63 | 0x4900_0000 | 1 << 62 | 0x1f);
    assert_eq!(
        its.read(0x100, 8).unwrap(),
        1 << 63 | 0x4900_0000 | 1 << 56 | 7 << 48 | 0x1f,
        "flat only"
    );
    assert_eq!(its.read(0x0, 4), Some(1 << 31), "disabled and quiescent");
    its.write(0x80, 8, 1 << 63 | 0x4800_0000 | 1);
    assert_eq!(its.queue(), Some((0x4800_0000, 8192)));
    assert_eq!(its.write(0x0, 4, 1), Some(true));
    its.write(0x80, 8, 0);
    assert_eq!(
        its.queue(),
        Some((0x4800_0000, 8192)),
        "CBASER is read-only while enabled"
    );
}

#[test]
fn pending_commands_walk_the_ring_from_creadr_to_cwriter_and_wrap() {
    let mut its = its();
    its.write(0x80, 8, 1 << 63 | 0x4800_0000);
    its.write(0x0, 4, 1);
    its.write(0x88, 8, 0xfe0);
    its.advance();
    its.write(0x88, 8, 0x40);
    assert_eq!(
        its.pending_commands(),
        [0x4800_0fe0, 0x4800_0000, 0x4800_0020]
    );
    its.advance();
    assert_eq!(its.read(0x90, 8), Some(0x40));
    assert!(its.pending_commands().is_empty());
}

#[test]
fn odd_widths_and_offsets_do_not_panic() {
    let mut its = its();
    for offset in (0..0x2_0000).step_by(0x7f3) {
        for width in [1, 2, 3, 4, 8] {
            let _ = its.read(offset, width);
            let _ = its.write(offset, width, u64::MAX);
        }
    }
}

#[test]
fn a_refused_mapd_leaves_the_device_and_its_events_mapped() {
    let mut its = its();
    its.execute(ItsCommand::Mapti {
        device: OURS,
        event: 3,
        intid: 8200,
        collection: 1,
    })
    .unwrap();
    let too_big = ItsCommand::Mapd {
        device: OURS,
        event_bits: MAX_EVENT_BITS + 1,
        itt_addr: 0,
        valid: true,
    };
    assert_eq!(
        its.execute(too_big),
        Err(ItsRefusal::OutOfRange("EventID size"))
    );
    assert_eq!(
        its.translate(OURS, 3),
        Some((8200, 1)),
        "the vGIC was told nothing, so nothing may change"
    );
}

#[test]
fn tables_keep_64k_and_16k_pages_and_report_their_extent() {
    let mut its = its();
    // Device table: 64 KiB pages, 2 pages, address bits [51:48] = 1 in BASER bits [15:12].
    its.write(0x100, 8, 1 << 63 | 2 << 8 | 0x4901_0000 | 1 << 12 | 1);
    // Collection table: 16 KiB pages, 1 page.
    its.write(0x108, 8, 1 << 63 | 1 << 8 | 0x4902_4000);
    let baser0 = its.read(0x100, 8).unwrap();
    assert_eq!(baser0 >> 8 & 3, 2, "64 KiB pages read back");
    assert_eq!(
        its.read(0x108, 8).unwrap() >> 8 & 3,
        1,
        "16 KiB pages read back"
    );
    assert_eq!(
        its.tables(),
        [(1 << 48 | 0x4901_0000, 128 << 10), (0x4902_4000, 16 << 10)]
    );
    its.write(0x108, 8, 0);
    assert_eq!(its.tables().len(), 1, "an invalid table is no table");
}

#[test]
fn tables_cannot_move_while_the_its_is_enabled() {
    let mut its = its();
    its.write(0x108, 8, 1 << 63 | 0x4902_0000);
    its.write(0x0, 4, 1);
    its.write(0x108, 8, 1 << 63 | 0x5000_0000);
    assert_eq!(its.tables(), [(0x4902_0000, 4096)]);
}
