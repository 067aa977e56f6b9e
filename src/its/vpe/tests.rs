use super::*;

fn dw(bytes: &[u8; COMMAND_BYTES], n: usize) -> u64 {
    u64::from_le_bytes(bytes[8 * n..8 * n + 8].try_into().unwrap())
}

const EV: Event = Event {
    device: 0x10,
    event: 2,
    lpi: 8194,
};

#[test]
fn vmapp_puts_vpe_target_table_and_size_where_the_spec_does() {
    let c = VirtualCommand::Vmapp {
        vpe: 1,
        target: 1,
        vpt_addr: 0x4123_0000,
        valid: true,
    }
    .encode();
    assert_eq!(dw(&c, 0), 0x29);
    assert_eq!(dw(&c, 1), 1 << 32);
    assert_eq!(dw(&c, 2), 1 << 63 | 1 << 16);
    assert_eq!(dw(&c, 3), 0x4123_0000 | 15, "VPT_size = 16 bits - 1");
}

#[test]
fn vmapti_carries_device_event_vpe_vintid_and_doorbell() {
    let c = VirtualCommand::Vmapti {
        device: 8,
        event: 3,
        vintid: 8200,
        vpe: 2,
        doorbell: 8195,
    }
    .encode();
    assert_eq!(dw(&c, 0), 8 << 32 | 0x2a);
    assert_eq!(dw(&c, 1), 2 << 32 | 3);
    assert_eq!(dw(&c, 2), 8195 << 32 | 8200);
    assert_eq!(dw(&c, 3), 0);
}

#[test]
fn vmovi_sets_d_and_the_doorbell_and_vsync_vinvall_name_the_vpe() {
    let c = VirtualCommand::Vmovi {
        device: 8,
        event: 3,
        vpe: 1,
        doorbell: 8195,
    }
    .encode();
    assert_eq!(dw(&c, 0), 8 << 32 | 0x21);
    assert_eq!(dw(&c, 2), 8195 << 32 | 1);
    let s = VirtualCommand::Vsync { vpe: 3 }.encode();
    assert_eq!((dw(&s, 0), dw(&s, 1)), (0x25, 3 << 32));
    let i = VirtualCommand::Vinvall { vpe: 3 }.encode();
    assert_eq!((dw(&i, 0), dw(&i, 1)), (0x2d, 3 << 32));
}

#[test]
fn the_same_route_needs_no_command() {
    let r = Route::Virtual {
        vintid: 8200,
        vpe: 1,
    };
    assert!(reroute(EV, r, r).is_empty());
    let p = Route::Physical { collection: 0 };
    assert!(reroute(EV, p, p).is_empty());
}

#[test]
fn physical_to_virtual_discards_then_vmaptis_with_the_lpi_as_doorbell() {
    let steps = reroute(
        EV,
        Route::Physical { collection: 0 },
        Route::Virtual {
            vintid: 8200,
            vpe: 1,
        },
    );
    assert_eq!(
        steps,
        [
            Step::Physical(ItsCommand::Discard {
                device: 0x10,
                event: 2
            }),
            Step::Virtual(VirtualCommand::Vmapti {
                device: 0x10,
                event: 2,
                vintid: 8200,
                vpe: 1,
                doorbell: 8194
            }),
            Step::Virtual(VirtualCommand::Vsync { vpe: 1 }),
        ]
    );
}

#[test]
fn a_vcpu_change_alone_is_a_vmovi() {
    let steps = reroute(
        EV,
        Route::Virtual {
            vintid: 8200,
            vpe: 0,
        },
        Route::Virtual {
            vintid: 8200,
            vpe: 1,
        },
    );
    assert!(matches!(
        steps[0],
        Step::Virtual(VirtualCommand::Vmovi {
            vpe: 1,
            doorbell: 8194,
            ..
        })
    ));
    assert_eq!(steps.len(), 2);
}

#[test]
fn a_new_virtual_lpi_is_discard_and_vmapti() {
    let steps = reroute(
        EV,
        Route::Virtual {
            vintid: 8200,
            vpe: 0,
        },
        Route::Virtual {
            vintid: 8201,
            vpe: 0,
        },
    );
    assert!(matches!(
        steps[0],
        Step::Physical(ItsCommand::Discard { .. })
    ));
    assert!(matches!(
        steps[1],
        Step::Virtual(VirtualCommand::Vmapti { vintid: 8201, .. })
    ));
}

#[test]
fn virtual_back_to_physical_maps_sluices_lpi_again() {
    let steps = reroute(
        EV,
        Route::Virtual {
            vintid: 8200,
            vpe: 0,
        },
        Route::Physical { collection: 1 },
    );
    assert_eq!(
        steps[1],
        Step::Physical(ItsCommand::Mapti {
            device: 0x10,
            event: 2,
            intid: 8194,
            collection: 1
        })
    );
}

#[test]
fn physical_collection_change_is_a_movi() {
    let steps = reroute(
        EV,
        Route::Physical { collection: 0 },
        Route::Physical { collection: 1 },
    );
    assert!(matches!(
        steps[..],
        [Step::Physical(ItsCommand::Movi { collection: 1, .. })]
    ));
}

#[test]
fn only_translated_aimed_in_range_events_with_a_mapped_vpe_go_virtual() {
    let vpe = |v: usize| (v < 2).then_some(v as u16 + 4);
    let phys = Route::Physical { collection: 3 };
    assert_eq!(
        desired_route(true, Some((8200, 1)), vpe, 3),
        Route::Virtual {
            vintid: 8200,
            vpe: 5
        }
    );
    assert_eq!(desired_route(false, Some((8200, 1)), vpe, 3), phys);
    assert_eq!(desired_route(true, None, vpe, 3), phys);
    assert_eq!(desired_route(true, Some((8200, 2)), vpe, 3), phys, "no vPE");
    assert_eq!(desired_route(true, Some((65536, 0)), vpe, 3), phys);
    assert_eq!(desired_route(true, Some((100, 0)), vpe, 3), phys);
}

#[test]
fn vpropbaser_clamps_id_bits_and_refuses_tables_without_lpis() {
    let v = vpropbaser(0x4800_0000, 16).unwrap();
    assert_eq!(v & 0x1f, 15);
    assert_eq!(v & 0x000f_ffff_ffff_f000, 0x4800_0000);
    assert_eq!(vpropbaser(0x4800_0000, 32).unwrap() & 0x1f, 15);
    assert_eq!(vpropbaser(0x4800_0000, 14).unwrap() & 0x1f, 13);
    assert_eq!(vpropbaser(0x4800_0000, 13), None);
    assert_eq!(property_table_bytes(16), 65536 - 8192);
    assert_eq!(property_table_bytes(40), 65536 - 8192);
    assert_eq!(property_table_bytes(14), 8192);
}

#[test]
fn vpendbaser_valid_and_address_sit_in_place() {
    let v = vpendbaser(0x4801_0000, true);
    assert_eq!(v >> 63, 1);
    assert_eq!(v & 0x000f_ffff_ffff_0000, 0x4801_0000);
    assert_eq!(vpendbaser(0x4801_0000, false) >> 63, 0);
    assert_eq!(VPT_BYTES, 8192);
}

#[test]
fn entering_maps_once_and_makes_resident_once() {
    let mut vpe = VpeState::default();
    assert_eq!(vpe.enter(), [VpeAction::Map, VpeAction::MakeResident]);
    assert!(vpe.enter().is_empty(), "already resident");
    assert_eq!(vpe.leave(false), [VpeAction::MakeNonResident]);
    assert_eq!(
        vpe.enter(),
        [VpeAction::MakeResident],
        "still mapped after CPU_OFF"
    );
}

#[test]
fn cpu_off_keeps_the_pending_table_and_the_mapping() {
    let mut vpe = VpeState::default();
    vpe.enter();
    assert_eq!(vpe.leave(false), [VpeAction::MakeNonResident]);
    assert_eq!(
        vpe,
        VpeState {
            mapped: true,
            resident: false
        }
    );
    assert!(vpe.leave(false).is_empty(), "leaving twice does nothing");
}

#[test]
fn reboot_leaves_then_unmaps_then_clears_and_the_next_boot_maps_again() {
    let mut vpe = VpeState::default();
    vpe.enter();
    assert_eq!(
        vpe.leave(true),
        [
            VpeAction::MakeNonResident,
            VpeAction::Unmap,
            VpeAction::ClearTable
        ]
    );
    assert_eq!(vpe, VpeState::default());
    assert_eq!(vpe.leave(true), [VpeAction::ClearTable], "a vPE never used");
    assert_eq!(vpe.enter(), [VpeAction::Map, VpeAction::MakeResident]);
}
