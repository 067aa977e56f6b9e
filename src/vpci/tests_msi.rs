//! MSI and MSI-X on an assigned function, over the same fake function as `tests`.

use super::function::{Action, MsixAccess, VirtualFunction};
use super::tests::{device, read, FakeFunction, BDF};
use crate::pci::enumerate::HostFunction;
use crate::pci::regs;

/// The test device's MSI-X lives in BAR3 (16 KiB): table at 0, PBA at 0x2000.
fn device_with_msix() -> (FakeFunction, VirtualFunction) {
    let (hw, mut vf) = device();
    hw.regs.borrow_mut()[0x64 / 4] = 0x0000_0003;
    hw.regs.borrow_mut()[0x68 / 4] = 0x0000_2003;
    vf.offer_msix(&hw);
    (hw, vf)
}

#[test]
fn with_msix_offered_the_table_and_pba_pages_are_left_out_of_the_bar_mapping() {
    let (hw, mut vf) = device_with_msix();
    vf.write(&hw, 0x1c, 4, 0x2010_0000);
    let actions = vf.write(&hw, 0x04, 2, regs::COMMAND_MEMORY as u32);
    assert_eq!(
        actions,
        [
            Action::Map {
                bar: 3,
                guest_phys: 0x2010_1000,
                host_phys: 0x1002_1000,
                size_bytes: 0x1000
            },
            Action::Map {
                bar: 3,
                guest_phys: 0x2010_3000,
                host_phys: 0x1002_3000,
                size_bytes: 0x1000
            },
        ]
    );
}

#[test]
fn msix_enable_sticks_when_offered_and_reports_a_control_change() {
    let (hw, mut vf) = device_with_msix();
    let actions = vf.write(&hw, 0x62, 2, 0x8000);
    assert_eq!(actions, [Action::MsixControl]);
    assert_eq!(read(&vf, &hw, 0x62, 2) & 0xc000, 0x8000);
    assert!(vf.msix().unwrap().enabled);
    assert!(
        hw.writes.borrow().iter().all(|&(o, _)| o != 0x60),
        "sluice, not the guest, programs the real control"
    );
}

#[test]
fn trapped_accesses_hit_the_virtual_table_or_are_forwarded() {
    let (hw, mut vf) = device_with_msix();
    vf.write(&hw, 0x1c, 4, 0x2010_0000);
    vf.write(&hw, 0x04, 2, regs::COMMAND_MEMORY as u32);
    assert_eq!(
        vf.msix_access(0x2010_0018, 4, Some(0x55)),
        MsixAccess::Table {
            value: 0,
            changed: Some(1)
        }
    );
    assert_eq!(
        vf.msix_access(0x2010_0018, 4, None),
        MsixAccess::Table {
            value: 0x55,
            changed: None
        }
    );
    assert_eq!(
        vf.msix_access(0x2010_2000, 8, None),
        MsixAccess::Forward {
            host_phys: 0x1002_2000
        }
    );
    assert_eq!(
        vf.msix_access(0x2010_0800, 4, None),
        MsixAccess::Forward {
            host_phys: 0x1002_0800
        }
    );
    assert_eq!(vf.msix_access(0x2010_2001, 1, None), MsixAccess::Refused);
    assert_eq!(vf.msix_access(0x2010_2002, 2, Some(0)), MsixAccess::Refused);
    assert_eq!(vf.msix_access(0x2010_2004, 8, None), MsixAccess::Refused);
    assert_eq!(vf.msix_access(0x2010_1000, 4, None), MsixAccess::NotTrapped);
    assert_eq!(vf.msix_access(0x3000_0000, 4, None), MsixAccess::NotTrapped);
}

/// A function with a 64-bit, per-vector-maskable MSI capability at 0x50 (4 vectors capable).
fn device_with_msi() -> (FakeFunction, VirtualFunction) {
    let (hw, _) = device();
    {
        let mut r = hw.regs.borrow_mut();
        r[0x50 / 4] = (0x0184 | 2 << 1) << 16 | 0x7005; // MSI, next 0x70, 64-bit, masking, MMC=4
        for dword in 0x54 / 4..0x70 / 4 {
            r[dword] = 0;
        }
    }
    let host = HostFunction {
        bdf: BDF,
        vendor_id: 0x8086,
        device_id: 0x10d3,
        class_revision: 0,
        is_bridge: false,
        bars: vec![],
        rom: None,
        interrupt_pin: 1,
        root_intx: None,
        firmware_command: 0,
    };
    let mut vf = VirtualFunction::new(&host, &hw);
    vf.offer_msi();
    (hw, vf)
}

#[test]
fn msi_stays_inert_until_offered() {
    let (hw, mut vf) = device();
    hw.regs.borrow_mut()[0x50 / 4] = 0x0080_6005;
    assert!(vf.write(&hw, 0x52, 2, 1).is_empty() || vf.msi().is_none());
    assert_eq!(vf.msi_message(0), None);
}

#[test]
fn offered_msi_enable_and_mme_stick_and_give_messages_per_vector() {
    let (hw, mut vf) = device_with_msi();
    assert_eq!(vf.msi_vectors(), 4);
    assert_eq!(vf.write(&hw, 0x54, 4, 0x0809_0040), [Action::MsiControl]);
    vf.write(&hw, 0x58, 4, 0);
    vf.write(&hw, 0x5c, 2, 0x20);
    assert_eq!(vf.msi_message(0), None, "not enabled yet");
    assert_eq!(vf.write(&hw, 0x52, 2, 1 | 2 << 4), [Action::MsiControl]);
    assert_eq!(read(&vf, &hw, 0x52, 2) & 0x71, 0x21);
    assert_eq!(vf.msi_message(0), Some((0x0809_0040, 0x20)));
    assert_eq!(
        vf.msi_message(3),
        Some((0x0809_0040, 0x23)),
        "the vector replaces the data's low bits"
    );
    assert_eq!(vf.msi_message(4), None, "beyond Multiple Message Enable");
    vf.write(&hw, 0x60, 4, 1 << 3);
    assert_eq!(vf.msi_message(3), None, "masked");
    assert!(
        hw.writes
            .borrow()
            .iter()
            .all(|&(o, _)| !(0x50..0x68).contains(&o)),
        "sluice programs the real capability"
    );
}

/// A function without BARs whose capabilities are whatever `hw` holds.
fn function_over(hw: &FakeFunction) -> VirtualFunction {
    let host = HostFunction {
        bdf: BDF,
        vendor_id: 0x8086,
        device_id: 0x10d3,
        class_revision: 0,
        is_bridge: false,
        bars: vec![],
        rom: None,
        interrupt_pin: 1,
        root_intx: None,
        firmware_command: 0,
    };
    VirtualFunction::new(&host, hw)
}

#[test]
fn an_msi_capability_running_past_the_capability_area_is_not_offered() {
    let (hw, _) = device();
    {
        let mut r = hw.regs.borrow_mut();
        r[0x70 / 4] = 0x0002_f810; // PCIe, next 0xf8
        r[0xf8 / 4] = 0x0180_0005; // MSI, 64-bit, per-vector mask: 24 bytes from 0xf8
    }
    let mut vf = function_over(&hw);
    vf.offer_msi();
    assert_eq!(
        vf.msi_mask(),
        0,
        "the mask register would lie past the shadow"
    );
    vf.write(&hw, 0xfa, 2, 1);
    assert_eq!(vf.msi_message(0), None);
    assert_eq!(vf.msi(), None);
}

#[test]
fn reserved_multiple_message_values_give_at_most_thirty_two_vectors() {
    let (hw, _) = device();
    {
        let mut r = hw.regs.borrow_mut();
        r[0x50 / 4] = (0x0184 | 7 << 1) << 16 | 0x7005; // MSI, 64-bit, masking, MMC=7 (reserved)
        for dword in 0x54 / 4..0x70 / 4 {
            r[dword] = 0;
        }
    }
    let mut vf = function_over(&hw);
    vf.offer_msi();
    vf.write(&hw, 0x52, 2, 1 | 7 << 4);
    assert_eq!(
        vf.msi_message(40),
        None,
        "no vector past 31, and no shift past 31"
    );
    assert_eq!(vf.msi_vectors(), 32);
    assert_eq!(vf.msi_control(), Some((true, 5)));
    assert!(vf.msi_message(31).is_some());
}

#[test]
fn reading_the_data_register_of_a_ten_byte_msi_capability_is_not_unclaimed() {
    let (hw, _) = device();
    {
        let mut r = hw.regs.borrow_mut();
        r[0x50 / 4] = 0x7005; // MSI, 32-bit address, no masking: 10 bytes, next 0x70
        r[0x58 / 4] = 0xffff_0000; // the two bytes past the capability
    }
    let vf = function_over(&hw);
    assert_eq!(
        vf.read(&hw, 0x58, 2).1,
        None,
        "Linux reads MSI data as a word"
    );
    assert_eq!(
        vf.read(&hw, 0x5a, 2),
        (0, Some(Action::Unclaimed { offset: 0x5a }))
    );
    assert!(
        vf.read(&hw, 0x58, 4).1.is_some(),
        "a dword read covers both"
    );
}
