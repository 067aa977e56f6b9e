use super::*;
use std::cell::RefCell;
use std::collections::HashMap;

const DEV: Bdf = Bdf::new(1, 0, 0);
const BRIDGE: Bdf = Bdf::new(0, 2, 0);

/// Config space of a few functions; writes land as written.
#[derive(Default)]
struct Space(RefCell<HashMap<Bdf, [u32; 1024]>>);

impl Space {
    /// A function with the given capabilities at 0x40, 0x50, ...: (id, dword 1 of the cap).
    fn with(caps: &[(u8, u32)]) -> Self {
        let space = Self::default();
        let mut regs = [0u32; 1024];
        regs[0] = 0x10d3_8086;
        if !caps.is_empty() {
            regs[1] = (regs::STATUS_CAP_LIST as u32) << 16;
            regs[0x34 / 4] = 0x40;
        }
        for (i, &(id, dword1)) in caps.iter().enumerate() {
            let offset = 0x40 + 0x10 * i;
            let next = if i + 1 < caps.len() { offset + 0x10 } else { 0 };
            regs[offset / 4] = (next as u32) << 8 | id as u32;
            regs[offset / 4 + 1] = dword1;
        }
        space.0.borrow_mut().insert(DEV, regs);
        space.0.borrow_mut().insert(BRIDGE, [0; 1024]);
        space
    }

    fn reg(&self, bdf: Bdf, offset: u16) -> u32 {
        self.0.borrow()[&bdf][offset as usize / 4]
    }
}

impl ConfigAccess for Space {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        self.0
            .borrow()
            .get(&bdf)
            .map_or(u32::MAX, |r| r[offset as usize / 4])
    }

    fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
        if let Some(r) = self.0.borrow_mut().get_mut(&bdf) {
            r[offset as usize / 4] = value;
        }
    }
}

#[test]
fn flr_is_preferred_when_the_device_capabilities_offer_it() {
    let space = Space::with(&[(cap::PM, 0), (cap::EXP, DEVCAP_FLR)]);
    let method = choose(&space, DEV, Some(BRIDGE));
    assert_eq!(method, Some(ResetMethod::Flr { exp_cap: 0x50 }));
    start(&space, DEV, method.unwrap());
    assert_eq!(space.reg(DEV, 0x58) & 0xffff, DEVCTL_BCR_FLR as u32);
    assert_eq!(first_wait_ms(method.unwrap()), FLR_WAIT_MS);
    assert_eq!(finish(&space, DEV, method.unwrap()), 0);
}

#[test]
fn a_function_alone_behind_a_bridge_gets_a_bus_reset_without_flr() {
    let space = Space::with(&[(cap::EXP, 0)]);
    let method = choose(&space, DEV, Some(BRIDGE)).unwrap();
    assert_eq!(method, ResetMethod::BusReset { bridge: BRIDGE });
    start(&space, DEV, method);
    assert_eq!(
        space.reg(BRIDGE, 0x3c) >> 16,
        regs::BRIDGE_CTL_BUS_RESET as u32
    );
    assert_eq!(finish(&space, DEV, method), BUS_RESET_WAIT_MS);
    assert_eq!(space.reg(BRIDGE, 0x3c) >> 16, 0);
}

#[test]
fn a_power_cycle_is_used_only_when_it_resets_the_function() {
    let space = Space::with(&[(cap::PM, 0)]);
    let method = choose(&space, DEV, None).unwrap();
    assert_eq!(method, ResetMethod::PowerCycle { pm_cap: 0x40 });
    start(&space, DEV, method);
    assert_eq!(space.reg(DEV, 0x44) & 3, PM_STATE_D3HOT as u32);
    assert_eq!(finish(&space, DEV, method), D3HOT_WAIT_MS);
    assert_eq!(space.reg(DEV, 0x44) & 3, 0, "back in D0");

    let no_soft_reset = Space::with(&[(cap::PM, PM_CTRL_NO_SOFT_RESET as u32)]);
    assert_eq!(choose(&no_soft_reset, DEV, None), None);
    assert_eq!(choose(&Space::with(&[]), DEV, None), None);
}

#[test]
fn pending_transactions_are_read_from_the_device_status() {
    let space = Space::with(&[(cap::EXP, DEVCAP_FLR)]);
    let method = choose(&space, DEV, None).unwrap();
    assert!(!transactions_pending(&space, DEV, method));
    space.write32(DEV, 0x48, (DEVSTA_TRPND as u32) << 16);
    assert!(transactions_pending(&space, DEV, method));
}

#[test]
fn the_assignment_survives_a_reset_and_the_function_stays_quiesced() {
    let space = Space::with(&[]);
    for (i, value) in [0x1000_0000u32, 0, 0x1002_000c, 0x80, 0, 0]
        .iter()
        .enumerate()
    {
        space.write32(DEV, 0x10 + 4 * i as u16, *value);
    }
    space.write32(DEV, 0x30, 0x1004_0000);
    let saved = save_header(&space, DEV);
    for offset in (0x10..0x34).step_by(4) {
        space.write32(DEV, offset, 0);
    }
    space.write32(DEV, 0x04, 0x6);
    restore_header(&space, DEV, &saved);
    assert_eq!(space.reg(DEV, 0x10), 0x1000_0000);
    assert_eq!(space.reg(DEV, 0x18), 0x1002_000c);
    assert_eq!(space.reg(DEV, 0x1c), 0x80);
    assert_eq!(space.reg(DEV, 0x30), 0x1004_0000);
    assert_eq!(space.reg(DEV, 0x04), regs::COMMAND_INTX_DISABLE as u32);
}

fn function(bdf: Bdf, is_bridge: bool) -> HostFunction {
    HostFunction {
        bdf,
        vendor_id: 0x8086,
        device_id: 0x10d3,
        class_revision: 0,
        is_bridge,
        bars: Vec::new(),
        rom: None,
        interrupt_pin: 0,
        root_intx: None,
        firmware_command: 0,
    }
}

#[test]
fn only_a_function_alone_on_a_secondary_bus_has_a_lone_bridge() {
    let space = Space::with(&[]);
    space.write32(BRIDGE, regs::PRIMARY_BUS, 0x0001_0100); // primary 0, secondary 1, sub 1
    let bridge = function(BRIDGE, true);
    let alone = [bridge.clone(), function(DEV, false)];
    assert_eq!(lone_bridge_above(&space, &alone, DEV), Some(BRIDGE));
    let crowded = [
        bridge,
        function(DEV, false),
        function(Bdf::new(1, 0, 1), false),
    ];
    assert_eq!(lone_bridge_above(&space, &crowded, DEV), None);
    let root = Bdf::new(0, 1, 0);
    assert_eq!(
        lone_bridge_above(&space, &[function(root, false)], root),
        None
    );
}

/// A virtio-net as QEMU builds it: PM with No_Soft_Reset, then vendor capabilities; the
/// common configuration structure (cfg_type 1) lies at 0x1000 in BAR 4, 0x38 bytes long.
fn virtio_space() -> Space {
    let space = Space::with(&[
        (cap::PM, PM_CTRL_NO_SOFT_RESET as u32),
        (cap::VENDOR, 0), // ISR structure in BAR 0
        (cap::VENDOR, 4), // common structure in BAR 4
    ]);
    space.write32(DEV, regs::VENDOR_ID, 0x1041_1af4);
    // cfg_type is byte 3 of the capability's first dword, after its length.
    space.write32(DEV, 0x50, space.reg(DEV, 0x50) | 3 << 24 | 0x10 << 16);
    space.write32(DEV, 0x60, space.reg(DEV, 0x60) | 1 << 24 | 0x10 << 16);
    space.write32(DEV, 0x60 + VIRTIO_CAP_OFFSET, 0x1000);
    space.write32(DEV, 0x60 + VIRTIO_CAP_LENGTH, 0x38);
    space
}

fn memory_bar(index: u8, host_phys: u64, size_bytes: u64) -> crate::pci::bar::Bar {
    crate::pci::bar::Bar {
        index,
        kind: crate::pci::bar::BarKind::Memory64,
        prefetchable: true,
        size_bytes,
        host_phys,
    }
}

#[test]
fn a_virtio_device_without_a_pci_reset_gets_its_own_status_reset() {
    let space = virtio_space();
    let method = choose(&space, DEV, None).unwrap();
    assert_eq!(
        method,
        ResetMethod::Virtio {
            bar: 4,
            offset: 0x1000
        }
    );
    assert_eq!(first_wait_ms(method), 0);
    let before = space.reg(DEV, regs::COMMAND);
    start(&space, DEV, method);
    assert_eq!(finish(&space, DEV, method), 0);
    assert_eq!(space.reg(DEV, regs::COMMAND), before, "no config write");

    let mut virtio = function(DEV, false);
    virtio.bars = vec![
        memory_bar(1, 0x1000_0000, 0x1000),
        memory_bar(4, 0x8000_0000, 0x4000),
    ];
    assert_eq!(virtio_status_address(&virtio, method), Some(0x8000_1014));
}

#[test]
fn the_virtio_reset_needs_a_virtio_vendor_a_common_structure_and_a_bar_holding_it() {
    let space = virtio_space();
    space.write32(DEV, regs::VENDOR_ID, 0x10d3_8086);
    assert_eq!(choose(&space, DEV, None), None, "not a virtio vendor ID");

    let space = virtio_space();
    space.write32(DEV, 0x60 + VIRTIO_CAP_LENGTH, 0x10);
    assert_eq!(
        choose(&space, DEV, None),
        None,
        "too short to hold device_status"
    );

    let method = ResetMethod::Virtio {
        bar: 4,
        offset: 0x3ff0,
    };
    let mut virtio = function(DEV, false);
    virtio.bars = vec![memory_bar(4, 0x8000_0000, 0x4000)];
    assert_eq!(
        virtio_status_address(&virtio, method),
        None,
        "outside the BAR"
    );
    let far = ResetMethod::Virtio {
        bar: 4,
        offset: u32::MAX,
    };
    assert_eq!(virtio_status_address(&virtio, far), None);
    let other = ResetMethod::Virtio { bar: 2, offset: 0 };
    assert_eq!(virtio_status_address(&virtio, other), None, "no such BAR");
    let flr = ResetMethod::Flr { exp_cap: 0x40 };
    assert_eq!(virtio_status_address(&virtio, flr), None);
}

#[test]
fn a_power_cycle_that_resets_is_still_preferred_over_the_virtio_reset() {
    let space = virtio_space();
    space.write32(DEV, 0x44, 0);
    assert_eq!(
        choose(&space, DEV, None),
        Some(ResetMethod::PowerCycle { pm_cap: 0x40 })
    );
}
