use super::*;
use crate::mm::PhysRange;
use std::cell::RefCell;
use std::collections::HashMap;

/// A function model: 4 KiB of registers, BAR size masks (index 6 = ROM), write masks.
#[derive(Clone)]
struct FakeFunction {
    regs: [u32; 1024],
    bar_masks: [u32; 7],
}

#[derive(Default)]
struct FakeBus {
    functions: RefCell<HashMap<Bdf, FakeFunction>>,
}

impl FakeBus {
    fn add(&self, bdf: Bdf, id: u32, class: u32, header: u8, bars: &[(usize, u32, u32)], pin: u8) {
        let mut f = FakeFunction {
            regs: [0; 1024],
            bar_masks: [0; 7],
        };
        f.regs[0] = id;
        f.regs[2] = class;
        f.regs[3] = (header as u32) << 16;
        f.regs[15] = (pin as u32) << 8;
        for &(index, flags, mask) in bars {
            f.bar_masks[index] = mask;
            let offset = if index == 6 { 12 } else { 4 + index };
            f.regs[offset] = flags;
        }
        self.functions.borrow_mut().insert(bdf, f);
    }

    fn reg(&self, bdf: Bdf, offset: u16) -> u32 {
        self.functions.borrow()[&bdf].regs[offset as usize / 4]
    }
}

impl ConfigAccess for FakeBus {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        self.functions
            .borrow()
            .get(&bdf)
            .map_or(u32::MAX, |f| f.regs[offset as usize / 4])
    }

    fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
        let mut functions = self.functions.borrow_mut();
        let Some(f) = functions.get_mut(&bdf) else {
            return;
        };
        let index = offset as usize / 4;
        let bar = match (index, f.regs[3] >> 16 & 0x7f) {
            (4..=9, 0) => Some(index - 4),
            (12, 0) => Some(6),
            _ => None,
        };
        let upper_half_of_64 =
            bar.is_some_and(|b| b > 0 && b < 6 && f.regs[index - 1] & 0x7 == 0x4);
        f.regs[index] = match bar {
            Some(b) if index == 12 => value & (f.bar_masks[b] | 1),
            Some(b) if upper_half_of_64 => value & f.bar_masks[b],
            Some(b) => {
                (value & f.bar_masks[b])
                    | (f.regs[index] & if f.bar_masks[b] & 1 != 0 { 0x3 } else { 0xf })
            }
            // Status (upper half of dword 1) is read-only or write-1-to-clear: writing zeros keeps it.
            None if index == 1 => (f.regs[1] & 0xffff_0000) | (value & 0xffff),
            None => value,
        };
    }
}

const MEM32: PhysRange = PhysRange::new(0x1000_0000, 0x2eff_0000);
const MEM64: PhysRange = PhysRange::new(0x80_0000_0000, 0x80_0000_0000);

fn windows() -> Windows {
    Windows {
        mem32: Some(Window::new(MEM32, MEM32.start)),
        mem64: Some(Window::new(MEM64, MEM64.start)),
    }
}

/// QEMU virt with an e1000e at 00:01.0 and a modern virtio-net at 00:02.0.
fn qemu_like_bus() -> FakeBus {
    let bus = FakeBus::default();
    bus.add(Bdf::new(0, 0, 0), 0x0008_1b36, 0x0600_0000, 0, &[], 0);
    bus.add(
        Bdf::new(0, 1, 0),
        0x10d3_8086,
        0x0200_0000,
        0,
        &[
            (0, 0, 0xfffe_0000),
            (1, 0, 0xfffe_0000),
            (2, 1, 0xffff_ffe1),
            (3, 0, 0xffff_c000),
            (6, 0, 0xfffc_0000),
        ],
        1,
    );
    bus.add(
        Bdf::new(0, 2, 0),
        0x1041_1af4,
        0x0200_0000,
        0,
        &[
            (1, 0, 0xffff_f000),
            (4, 0xc, 0xffff_c000),
            (5, 0, 0xffff_ffff),
        ],
        1,
    );
    bus
}

#[test]
fn every_function_is_found_and_the_host_bridge_is_not_assignable() {
    let bus = qemu_like_bus();
    let found = enumerate(&bus, 0, 255, &mut windows());
    let bdfs: Vec<String> = found.iter().map(|f| f.bdf.to_string()).collect();
    assert_eq!(bdfs, ["00:00.0", "00:01.0", "00:02.0"]);
    assert!(!found[0].is_assignable_endpoint());
    assert!(found[1].is_assignable_endpoint() && found[2].is_assignable_endpoint());
    assert_eq!((found[1].vendor_id, found[1].device_id), (0x8086, 0x10d3));
}

#[test]
fn bars_are_sized_assigned_page_aligned_and_programmed() {
    let bus = qemu_like_bus();
    let found = enumerate(&bus, 0, 255, &mut windows());
    let e1000e = &found[1];
    let sizes: Vec<(u8, u64)> = e1000e
        .bars
        .iter()
        .map(|b| (b.index, b.size_bytes))
        .collect();
    assert_eq!(
        sizes,
        [(0, 0x2_0000), (1, 0x2_0000), (3, 0x4000)],
        "the I/O BAR is not assigned"
    );
    for b in &e1000e.bars {
        assert!(MEM32.contains_span(b.host_phys, b.size_bytes));
        assert_eq!(b.host_phys % b.size_bytes.max(4096), 0);
        assert_eq!(
            bus.reg(e1000e.bdf, 0x10 + 4 * b.index as u16) as u64,
            b.host_phys
        );
    }
    let virtio_bar4 = found[2].bars.iter().find(|b| b.index == 4).unwrap();
    assert_eq!(
        (virtio_bar4.kind, virtio_bar4.prefetchable),
        (BarKind::Memory64, true)
    );
    assert!(MEM64.contains(virtio_bar4.host_phys));
    assert_eq!(
        bus.reg(found[2].bdf, 0x24),
        (virtio_bar4.host_phys >> 32) as u32
    );
    let rom = e1000e.rom.unwrap();
    assert_eq!(rom.size_bytes, 0x4_0000);
    assert_eq!(bus.reg(e1000e.bdf, 0x30) & 1, 0, "ROM decode stays off");
}

#[test]
fn no_two_bars_share_a_page() {
    let bus = qemu_like_bus();
    let found = enumerate(&bus, 0, 255, &mut windows());
    let ranges: Vec<PhysRange> = found
        .iter()
        .flat_map(|f| f.bars.iter().chain(f.rom.iter()))
        .map(|b| PhysRange::new(b.host_phys, b.size_bytes.max(4096)))
        .collect();
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            assert!(!a.overlaps(b), "{a} overlaps {b}");
        }
    }
}

#[test]
fn endpoints_are_left_quiesced_with_msix_off() {
    let bus = qemu_like_bus();
    let nic = Bdf::new(0, 1, 0);
    {
        let mut functions = bus.functions.borrow_mut();
        let f = functions.get_mut(&nic).unwrap();
        f.regs[1] = (regs::STATUS_CAP_LIST as u32) << 16 | 0x7; // decode + master on
        f.regs[0x34 / 4] = 0x50;
        f.regs[0x50 / 4] = (regs::MSIX_FLAGS_ENABLE as u32) << 16 | cap::MSIX as u32;
    }
    enumerate(&bus, 0, 255, &mut windows());
    assert_eq!(bus.reg(nic, 4) & 0xffff, regs::COMMAND_INTX_DISABLE as u32);
    let msix_control = (bus.reg(nic, 0x50) >> 16) as u16;
    assert_eq!(msix_control & regs::MSIX_FLAGS_ENABLE, 0);
    assert_ne!(msix_control & regs::MSIX_FLAGS_MASKALL, 0);
}

#[test]
fn bridges_get_bus_numbers_and_windows_and_intx_is_swizzled() {
    let bus = FakeBus::default();
    bus.add(Bdf::new(0, 3, 0), 0x000c_1b36, 0x0604_0000, 1, &[], 0);
    bus.add(
        Bdf::new(1, 0, 0),
        0x10d3_8086,
        0x0200_0000,
        0,
        &[(0, 0, 0xfffe_0000)],
        2,
    );
    let found = enumerate(&bus, 0, 255, &mut windows());
    assert_eq!(found.len(), 2);
    let bridge = Bdf::new(0, 3, 0);
    assert_eq!(
        bus.reg(bridge, 0x18) & 0xff_ffff,
        0x01_01_00,
        "primary 0, secondary 1, subordinate 1"
    );
    let nic = &found[1];
    assert_eq!(nic.bdf, Bdf::new(1, 0, 0));
    let window = bus.reg(bridge, 0x20);
    let (base, limit) = (
        ((window & 0xfff0) as u64) << 16,
        ((window & 0xfff0_0000) as u64) | 0xf_ffff,
    );
    assert!(base <= nic.bars[0].host_phys && nic.bars[0].host_phys + 0x2_0000 - 1 <= limit);
    assert_eq!(
        nic.root_intx,
        Some((3, 2)),
        "device 0 pin B behind device 3: pin B at the root"
    );
    assert_ne!(bus.reg(bridge, 4) & regs::COMMAND_MEMORY as u32, 0);
}

#[test]
fn a_valid_firmware_assignment_is_kept() {
    let bus = FakeBus::default();
    bus.add(
        Bdf::new(0, 1, 0),
        0x10d3_8086,
        0x0200_0000,
        0,
        &[(0, 0, 0xfffe_0000)],
        1,
    );
    {
        let mut functions = bus.functions.borrow_mut();
        let f = functions.get_mut(&Bdf::new(0, 1, 0)).unwrap();
        f.regs[1] = regs::COMMAND_MEMORY as u32;
        f.regs[4] = 0x2000_0000;
    }
    let found = enumerate(&bus, 0, 255, &mut windows());
    assert_eq!(found[0].bars[0].host_phys, 0x2000_0000);
}

#[test]
fn an_endpoint_firmware_left_mastering_is_quiesced_and_remembered_as_firmware_touched() {
    let bus = qemu_like_bus();
    let nic = Bdf::new(0, 1, 0);
    bus.functions.borrow_mut().get_mut(&nic).unwrap().regs[1] =
        u32::from(regs::COMMAND_MEMORY | regs::COMMAND_MASTER);
    let found = enumerate(&bus, 0, 255, &mut windows());
    assert_eq!(
        found[1].firmware_command,
        regs::COMMAND_MEMORY | regs::COMMAND_MASTER
    );
    assert!(found[1].left_enabled_by_firmware());
    assert_eq!(
        bus.reg(nic, 4) & 0xffff,
        u32::from(regs::COMMAND_INTX_DISABLE)
    );
    assert!(!found[2].left_enabled_by_firmware());
}

#[test]
fn a_host_bridge_left_enabled_is_not_counted_as_a_firmware_touched_endpoint() {
    let bus = qemu_like_bus();
    bus.functions
        .borrow_mut()
        .get_mut(&Bdf::new(0, 0, 0))
        .unwrap()
        .regs[1] = u32::from(regs::COMMAND_MEMORY);
    let found = enumerate(&bus, 0, 255, &mut windows());
    assert!(!found[0].left_enabled_by_firmware());
}

#[test]
fn swizzle_rotates_per_bridge_level() {
    assert_eq!(swizzle(&[], 5, 1), (5, 1));
    assert_eq!(swizzle(&[2], 1, 4), (2, 1));
    assert_eq!(swizzle(&[2, 0], 3, 1), (2, 4));
}
