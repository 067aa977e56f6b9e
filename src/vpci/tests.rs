use super::function::{Action, VirtualFunction};
use crate::pci::bar::{Bar, BarKind};
use crate::pci::enumerate::HostFunction;
use crate::pci::regs;
use crate::pci::{Bdf, ConfigAccess};
use std::cell::RefCell;

/// One real function's registers, with a log of every dword written.
pub(super) struct FakeFunction {
    pub(super) regs: RefCell<[u32; 1024]>,
    pub(super) writes: RefCell<Vec<(u16, u32)>>,
}

pub(super) const BDF: Bdf = Bdf::new(0, 1, 0);

impl ConfigAccess for FakeFunction {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        if bdf == BDF {
            self.regs.borrow()[offset as usize / 4]
        } else {
            u32::MAX
        }
    }
    fn write32(&self, _bdf: Bdf, offset: u16, value: u32) {
        self.writes.borrow_mut().push((offset, value));
        self.regs.borrow_mut()[offset as usize / 4] = value;
    }
}

/// An e1000e-like function: BAR0 128 KiB, BAR3 16 KiB, BAR4/5 a 64-bit prefetchable 16 KiB;
/// capabilities PM (0x40) -> VPD (0x50) -> MSI-X (0x60) -> PCIe (0x70); multi-function.
pub(super) fn device() -> (FakeFunction, VirtualFunction) {
    let mut r = [0u32; 1024];
    r[0] = 0x10d3_8086;
    r[1] = (regs::STATUS_CAP_LIST as u32) << 16;
    r[2] = 0x0200_0000;
    r[3] = 0x0080_0000; // multi-function header
    r[0x2c / 4] = 0x0000_8086;
    r[0x34 / 4] = 0x40;
    r[0x3c / 4] = 0x0100; // INTA
    r[0x40 / 4] = 0x5001;
    r[0x44 / 4] = 0x0000_0003; // PMCSR: D3hot
    r[0x50 / 4] = 0x6003; // VPD: reads and writes an EEPROM through config space
    r[0x54 / 4] = 0x1234_5678;
    r[0x60 / 4] = 0x8004_7011; // MSI-X, enabled, 5 vectors
    r[0x64 / 4] = 0x3;
    r[0x70 / 4] = 0x0002_0010;
    r[0x78 / 4] = 0x000f_2810; // DevStatus errors set; DevCtl
    r[0x100 / 4] = 0x1401_0001; // AER, extended
    let hw = FakeFunction {
        regs: RefCell::new(r),
        writes: RefCell::new(Vec::new()),
    };
    let bar = |index, kind, size, host_phys, prefetchable| Bar {
        index,
        kind,
        prefetchable,
        size_bytes: size,
        host_phys,
    };
    let host = HostFunction {
        bdf: BDF,
        vendor_id: 0x8086,
        device_id: 0x10d3,
        class_revision: 0x0200_0000,
        is_bridge: false,
        bars: vec![
            bar(0, BarKind::Memory32, 0x2_0000, 0x1000_0000, false),
            bar(2, BarKind::Io, 0x20, 0, false),
            bar(3, BarKind::Memory32, 0x4000, 0x1002_0000, false),
            bar(4, BarKind::Memory64, 0x4000, 0x80_0000_0000, true),
        ],
        rom: Some(bar(6, BarKind::Rom, 0x4_0000, 0x1004_0000, false)),
        interrupt_pin: 1,
        root_intx: Some((1, 1)),
        firmware_command: 0,
    };
    let vf = VirtualFunction::new(&host, &hw);
    (hw, vf)
}

pub(super) fn read(vf: &VirtualFunction, hw: &FakeFunction, offset: u16, width: u8) -> u32 {
    vf.read(hw, offset, width).0
}

#[test]
fn size_probe_of_a_32_bit_bar_returns_the_size_mask() {
    let (hw, mut vf) = device();
    vf.write(&hw, 0x10, 4, u32::MAX);
    assert_eq!(read(&vf, &hw, 0x10, 4), 0xfffe_0000);
    vf.write(&hw, 0x10, 4, 0x2000_0000);
    assert_eq!(read(&vf, &hw, 0x10, 4), 0x2000_0000);
    assert!(
        hw.writes.borrow().iter().all(|&(o, _)| o != 0x10),
        "the real BAR is never written"
    );
}

#[test]
fn sixty_four_bit_bar_is_written_half_by_half_with_prefetch_flags() {
    let (hw, mut vf) = device();
    vf.write(&hw, 0x20, 4, u32::MAX);
    vf.write(&hw, 0x24, 4, u32::MAX);
    assert_eq!(read(&vf, &hw, 0x20, 4), 0xffff_c00c);
    assert_eq!(read(&vf, &hw, 0x24, 4), 0xffff_ffff);
    vf.write(&hw, 0x20, 4, 0x4000_0000);
    vf.write(&hw, 0x24, 4, 0x70);
    assert_eq!(read(&vf, &hw, 0x20, 4), 0x4000_000c);
    assert_eq!(
        vf.bars().find(|b| b.host.index == 4).unwrap().guest_phys,
        0x70_4000_0000
    );
}

#[test]
fn io_bars_and_the_rom_are_hidden() {
    let (hw, mut vf) = device();
    vf.write(&hw, 0x18, 4, u32::MAX);
    assert_eq!(read(&vf, &hw, 0x18, 4), 0);
    vf.write(&hw, 0x30, 4, u32::MAX);
    assert_eq!(read(&vf, &hw, 0x30, 4), 0);
}

#[test]
fn memory_decode_maps_placed_bars_and_turning_it_off_unmaps_them() {
    let (hw, mut vf) = device();
    vf.write(&hw, 0x10, 4, 0x2000_0000);
    let actions = vf.write(&hw, 0x04, 2, regs::COMMAND_MEMORY as u32);
    assert_eq!(
        actions,
        [Action::Map {
            bar: 0,
            guest_phys: 0x2000_0000,
            host_phys: 0x1000_0000,
            size_bytes: 0x2_0000
        }]
    );
    assert_eq!(
        hw.regs.borrow()[1] & 0xffff,
        regs::COMMAND_MEMORY as u32,
        "decode reaches the device"
    );
    let actions = vf.write(&hw, 0x04, 2, 0);
    assert_eq!(
        actions,
        [Action::Unmap {
            bar: 0,
            guest_phys: 0x2000_0000,
            size_bytes: 0x2_0000
        }]
    );
}

#[test]
fn moving_a_bar_while_decode_is_on_unmaps_then_maps() {
    let (hw, mut vf) = device();
    vf.write(&hw, 0x1c, 4, 0x2010_0000);
    vf.write(&hw, 0x04, 2, regs::COMMAND_MEMORY as u32);
    let actions = vf.write(&hw, 0x1c, 4, 0x2020_0000);
    assert_eq!(
        actions,
        [
            Action::Unmap {
                bar: 3,
                guest_phys: 0x2010_0000,
                size_bytes: 0x4000
            },
            Action::Map {
                bar: 3,
                guest_phys: 0x2020_0000,
                host_phys: 0x1002_0000,
                size_bytes: 0x4000
            }
        ]
    );
    let probe = vf.write(&hw, 0x1c, 4, u32::MAX);
    assert_eq!(
        probe,
        [Action::Unmap {
            bar: 3,
            guest_phys: 0x2020_0000,
            size_bytes: 0x4000
        }],
        "a size probe is not an address"
    );
}

#[test]
fn unplaced_bars_are_not_mapped_and_a_refused_map_can_be_retried() {
    let (hw, mut vf) = device();
    assert!(vf
        .write(&hw, 0x04, 2, regs::COMMAND_MEMORY as u32)
        .is_empty());
    let actions = vf.write(&hw, 0x10, 4, 0x2000_0000);
    assert_eq!(actions.len(), 1);
    vf.mark_unmapped(0);
    assert_eq!(vf.mapped_ranges().count(), 0);
}

#[test]
fn command_keeps_reserved_bits_clear_and_forwards_master_and_intx_disable() {
    let (hw, mut vf) = device();
    vf.write(&hw, 0x04, 2, 0xffff);
    let expected = regs::COMMAND_MEMORY
        | regs::COMMAND_MASTER
        | regs::COMMAND_PARITY
        | regs::COMMAND_SERR
        | regs::COMMAND_INTX_DISABLE;
    assert_eq!(read(&vf, &hw, 0x04, 2), expected as u32);
    assert_eq!(hw.regs.borrow()[1] & 0xffff, expected as u32);
}

#[test]
fn status_rw1c_bits_are_forwarded_only_when_written_as_one() {
    let (hw, mut vf) = device();
    vf.write(&hw, 0x06, 2, 0x8000 | 0x0010);
    let last = *hw.writes.borrow().last().unwrap();
    assert_eq!(
        last,
        (0x04, 0x8000 << 16),
        "only the RW1C bit, never the read-only capability bit"
    );
    vf.write(&hw, 0x04, 2, 0);
    assert_eq!(hw.writes.borrow().last().unwrap().1 >> 16, 0);
}

#[test]
fn capability_chain_skips_what_is_not_safe() {
    let (hw, vf) = device();
    assert_eq!(read(&vf, &hw, 0x34, 1), 0x40);
    assert_eq!(
        read(&vf, &hw, 0x40, 2),
        0x6001,
        "PM links straight to MSI-X, VPD hidden"
    );
    assert_eq!(read(&vf, &hw, 0x60, 2), 0x7011);
    assert_eq!(
        read(&vf, &hw, 0x70, 2),
        0x0010,
        "PCIe capability ends the chain"
    );
    assert_eq!(read(&vf, &hw, 0x50, 4), 0);
    assert!(matches!(
        vf.read(&hw, 0x50, 4).1,
        Some(Action::Unclaimed { offset: 0x50 })
    ));
    assert_ne!(read(&vf, &hw, 0x06, 2) & regs::STATUS_CAP_LIST as u32, 0);
}

#[test]
fn vendor_specific_capabilities_are_shown_read_only_with_their_own_length() {
    let (hw, _) = device();
    {
        let mut r = hw.regs.borrow_mut();
        r[0x50 / 4] = 0x1060_6009; // vendor cap, 16 bytes, next 0x60
        r[0x54 / 4] = 0xaabb_ccdd;
    }
    let host = HostFunction {
        bdf: BDF,
        vendor_id: 0,
        device_id: 0,
        class_revision: 0,
        is_bridge: false,
        bars: vec![],
        rom: None,
        interrupt_pin: 0,
        root_intx: None,
        firmware_command: 0,
    };
    let mut vf = VirtualFunction::new(&host, &hw);
    assert_eq!(read(&vf, &hw, 0x40, 2), 0x5001);
    assert_eq!(read(&vf, &hw, 0x54, 4), 0xaabb_ccdd);
    let before = hw.writes.borrow().len();
    assert!(vf.write(&hw, 0x54, 4, 0).is_empty());
    assert_eq!(hw.writes.borrow().len(), before);
}

#[test]
fn msix_enable_and_low_power_states_never_stick() {
    let (hw, mut vf) = device();
    assert_eq!(
        read(&vf, &hw, 0x62, 2) & 0x8000,
        0,
        "enabled on the host, disabled to the guest"
    );
    vf.write(&hw, 0x62, 2, 0xc000);
    assert_eq!(
        read(&vf, &hw, 0x62, 2) & 0xc000,
        0x4000,
        "function mask sticks, enable does not"
    );
    assert_eq!(read(&vf, &hw, 0x44, 2) & 3, 0, "shown in D0");
    vf.write(&hw, 0x44, 2, 3);
    assert_eq!(read(&vf, &hw, 0x44, 2) & 3, 0);
    assert!(hw
        .writes
        .borrow()
        .iter()
        .all(|&(o, _)| o != 0x60 && o != 0x44));
}

#[test]
fn pcie_device_control_forwards_only_safe_bits_and_device_status_is_rw1c() {
    let (hw, mut vf) = device();
    vf.write(&hw, 0x78, 2, 0x8000 | 0x00e0 | 0x0010 | 0x0001);
    let (offset, value) = *hw.writes.borrow().last().unwrap();
    assert_eq!(offset, 0x78);
    assert_eq!(
        value & 0xffff,
        0x0011,
        "no FLR, payload size kept, RO and error enable set"
    );
    assert_eq!(
        value >> 16,
        0,
        "device status bits are not cleared by a control write"
    );
    vf.write(&hw, 0x7a, 2, 0x0002);
    assert_eq!(hw.writes.borrow().last().unwrap().1 >> 16, 0x0002);
}

#[test]
fn every_unclaimed_offset_reads_zero_and_never_reaches_hardware() {
    let (hw, mut vf) = device();
    let before = hw.writes.borrow().len();
    for offset in (0x100..0x1000).step_by(4).chain([0x50, 0x54, 0x58]) {
        for width in [1u8, 2, 4] {
            assert_eq!(read(&vf, &hw, offset, width), 0, "{offset:#x}/{width}");
            let actions = vf.write(&hw, offset, width, u32::MAX);
            assert!(
                matches!(actions[..], [Action::Unclaimed { .. }]),
                "{offset:#x}"
            );
        }
    }
    assert_eq!(hw.writes.borrow().len(), before);
}

#[test]
fn header_type_hides_the_multi_function_bit_and_ids_come_from_hardware() {
    let (hw, vf) = device();
    assert_eq!(read(&vf, &hw, 0x0e, 1), 0);
    assert_eq!(read(&vf, &hw, 0x00, 4), 0x10d3_8086);
    assert_eq!(read(&vf, &hw, 0x02, 2), 0x10d3);
    assert_eq!(read(&vf, &hw, 0x3d, 1), 1);
}

#[test]
fn unaligned_or_odd_width_accesses_are_ignored() {
    let (hw, mut vf) = device();
    assert_eq!(read(&vf, &hw, 0x01, 2), u32::MAX);
    assert_eq!(read(&vf, &hw, 0x00, 3), u32::MAX);
    assert!(vf.write(&hw, 0x02, 4, 0).is_empty());
    assert_eq!(read(&vf, &hw, 0xfff, 1), 0);
}

#[test]
fn teardown_unmaps_everything_and_quiesces() {
    let (hw, mut vf) = device();
    vf.write(&hw, 0x10, 4, 0x2000_0000);
    vf.write(
        &hw,
        0x04,
        2,
        (regs::COMMAND_MEMORY | regs::COMMAND_MASTER) as u32,
    );
    let actions = vf.teardown(&hw);
    assert_eq!(
        actions,
        [Action::Unmap {
            bar: 0,
            guest_phys: 0x2000_0000,
            size_bytes: 0x2_0000
        }]
    );
    assert_eq!(
        hw.regs.borrow()[1] & 0xffff,
        regs::COMMAND_INTX_DISABLE as u32
    );
    assert_eq!(
        read(&vf, &hw, 0, 4),
        u32::MAX,
        "a torn-down function is absent"
    );
    assert!(vf.write(&hw, 0x04, 2, 0x6).is_empty());
    assert_eq!(
        hw.regs.borrow()[1] & 0xffff,
        regs::COMMAND_INTX_DISABLE as u32
    );
    vf.reattach();
    assert_eq!(read(&vf, &hw, 0x10, 4), 0);
    assert_eq!(read(&vf, &hw, 0, 4), 0x10d3_8086);
}

#[test]
fn revoked_bus_mastering_stays_off_whatever_the_guest_writes() {
    let (hw, mut vf) = device();
    let on = (regs::COMMAND_MEMORY | regs::COMMAND_MASTER) as u32;
    vf.write(&hw, 0x04, 2, on);
    vf.revoke_bus_master(&hw);
    assert_eq!(hw.regs.borrow()[1] & 0xffff, regs::COMMAND_MEMORY as u32);
    assert_eq!(read(&vf, &hw, 0x04, 2), on, "the guest keeps its own view");
    vf.write(&hw, 0x04, 2, 0);
    vf.write(&hw, 0x04, 2, on);
    assert_eq!(hw.regs.borrow()[1] & 0xffff, regs::COMMAND_MEMORY as u32);
    assert!(vf.is_bus_master_revoked());
    vf.teardown(&hw);
    vf.reattach();
    assert!(
        !vf.is_bus_master_revoked(),
        "a fresh assignment starts clean"
    );
    vf.write(&hw, 0x04, 2, on);
    assert_eq!(hw.regs.borrow()[1] & 0xffff, on);
}

/// The header registers the table claims (dword offsets); everything else below 0x40 is a
/// read-only or reserved register that reads as the table says.
const CLAIMED_HEADER: [u16; 13] = [
    0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x2c, 0x34, 0x3c,
];

#[test]
fn default_deny_holds_at_every_offset_of_config_space() {
    let (hw, mut vf) = device();
    let kept: [(u16, u16); 3] = [(0x40, 8), (0x60, 12), (0x70, 0x3c)];
    let claimed = |o: u16| {
        CLAIMED_HEADER.contains(&(o & !3)) || kept.iter().any(|&(s, l)| o >= s && o < s + l)
    };
    for offset in (0..4096u16).step_by(2) {
        let (value, unclaimed) = vf.read(&hw, offset, 2);
        if claimed(offset) {
            assert!(unclaimed.is_none(), "{offset:#x} is claimed");
        } else {
            assert_eq!(value, 0, "{offset:#x} must read zero");
            assert!(
                offset < 0x40 || unclaimed.is_some(),
                "{offset:#x} must be reported"
            );
        }
    }
    let before = hw.writes.borrow().len();
    for offset in (0..4096u16)
        .step_by(4)
        .filter(|&o| !claimed(o) && o >= 0x40)
    {
        vf.write(&hw, offset, 4, u32::MAX);
    }
    assert_eq!(
        hw.writes.borrow().len(),
        before,
        "no unclaimed write reaches hardware"
    );
}
