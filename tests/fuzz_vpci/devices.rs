//! The real functions the vPCI fuzz target emulates: a model of config space that keeps every
//! write, and three kinds of device built on it (the e1000e of `src/vpci/tests.rs`, a virtio-
//! like function with plain MSI, and a function with a random capability layout and BARs).

use super::fuzz_support::Rng;
use sluice::pci::bar::{Bar, BarKind};
use sluice::pci::enumerate::HostFunction;
use sluice::pci::regs::{self, cap};
use sluice::pci::{Bdf, ConfigAccess};
use std::cell::RefCell;

/// Where the fake function sits on the host.
pub const BDF: Bdf = Bdf::new(0, 1, 0);
/// Capability IDs a guest may ever see (`src/vpci/caps.rs`: everything else stays hidden).
pub const SHOWN_CAPABILITIES: [u8; 5] = [cap::PM, cap::MSI, cap::VENDOR, cap::EXP, cap::MSIX];
/// Vital product data: present on the e1000e, never shown.
const CAP_VPD: u8 = 0x03;

/// One real function's config space, with a log of every dword written to it.
pub struct FakeFunction {
    pub regs: RefCell<[u32; 1024]>,
    pub writes: RefCell<Vec<(u16, u32)>>,
}

impl ConfigAccess for FakeFunction {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        match self.regs.borrow().get(offset as usize / 4) {
            Some(&v) if bdf == BDF && offset.is_multiple_of(4) => v,
            _ => u32::MAX,
        }
    }

    fn write32(&self, _bdf: Bdf, offset: u16, value: u32) {
        self.writes.borrow_mut().push((offset, value));
        if let Some(r) = self.regs.borrow_mut().get_mut(offset as usize / 4) {
            *r = value;
        }
    }
}

/// A device to fuzz: its registers and what enumeration found on it.
pub struct Device {
    pub hw: FakeFunction,
    pub host: HostFunction,
    /// Which layout it is, for failure messages.
    pub kind: &'static str,
}

fn bar(index: u8, kind: BarKind, size_bytes: u64, host_phys: u64, prefetchable: bool) -> Bar {
    Bar {
        index,
        kind,
        prefetchable,
        size_bytes,
        host_phys,
    }
}

fn host_function(regs: &[u32; 1024], bars: Vec<Bar>, rom: Option<Bar>) -> HostFunction {
    HostFunction {
        bdf: BDF,
        vendor_id: regs[0] as u16,
        device_id: (regs[0] >> 16) as u16,
        class_revision: regs[2],
        is_bridge: false,
        bars,
        rom,
        interrupt_pin: (regs[0x3c / 4] >> 8) as u8,
        root_intx: Some((1, 1)),
        firmware_command: 0,
    }
}

fn device(kind: &'static str, regs: [u32; 1024], bars: Vec<Bar>, rom: Option<Bar>) -> Device {
    let host = host_function(&regs, bars, rom);
    Device {
        hw: FakeFunction {
            regs: RefCell::new(regs),
            writes: RefCell::new(Vec::new()),
        },
        host,
        kind,
    }
}

/// The e1000e of `src/vpci/tests.rs`: BAR0 128 KiB, BAR2 I/O, BAR3 16 KiB, BAR4/5 64-bit
/// prefetchable 16 KiB, a ROM; PM -> VPD -> MSI-X (table in BAR3, PBA at 0x2000) -> PCIe.
pub fn e1000e() -> Device {
    let mut r = [0u32; 1024];
    r[0] = 0x10d3_8086;
    r[1] = (regs::STATUS_CAP_LIST as u32) << 16;
    r[2] = 0x0200_0000;
    r[3] = 0x0080_0000;
    r[0x2c / 4] = 0x0000_8086;
    r[0x34 / 4] = 0x40;
    r[0x3c / 4] = 0x0100;
    r[0x40 / 4] = 0x5001;
    r[0x44 / 4] = 0x0000_0003;
    r[0x50 / 4] = 0x6003;
    r[0x54 / 4] = 0x1234_5678;
    r[0x60 / 4] = 0x8004_7011;
    r[0x64 / 4] = 0x0000_0003;
    r[0x68 / 4] = 0x0000_2003;
    r[0x70 / 4] = 0x0002_0010;
    r[0x78 / 4] = 0x000f_2810;
    r[0x100 / 4] = 0x1401_0001;
    let bars = vec![
        bar(0, BarKind::Memory32, 0x2_0000, 0x1000_0000, false),
        bar(2, BarKind::Io, 0x20, 0, false),
        bar(3, BarKind::Memory32, 0x4000, 0x1002_0000, false),
        bar(4, BarKind::Memory64, 0x4000, 0x80_0000_0000, true),
    ];
    let rom = Some(bar(6, BarKind::Rom, 0x4_0000, 0x1004_0000, false));
    device("e1000e", r, bars, rom)
}

/// A virtio-net-like function: 64-bit MSI with per-vector masking at 0x40, vendor-specific
/// capabilities, PCIe last; BAR1 4 KiB, BAR4/5 a 64-bit 16 KiB BAR, a ROM.
pub fn virtio_with_msi() -> Device {
    let mut r = [0u32; 1024];
    r[0] = 0x1041_1af4;
    r[1] = (regs::STATUS_CAP_LIST as u32) << 16;
    r[2] = 0x0200_0001;
    r[0x2c / 4] = 0x1100_1af4;
    r[0x34 / 4] = 0x40;
    r[0x3c / 4] = 0x0100;
    // MSI: 64-bit, per-vector mask, 8 vectors capable, next 0x60.
    r[0x40 / 4] = 0x0186_6005;
    r[0x60 / 4] = 0x0110_7009; // vendor, 16 bytes, next 0x70
    r[0x64 / 4] = 0x0000_0004;
    r[0x70 / 4] = 0x0010_8009; // vendor, 16 bytes, next 0x80
    r[0x80 / 4] = 0x0002_0010; // PCIe, end
    r[0x88 / 4] = 0x0000_2810;
    let bars = vec![
        bar(1, BarKind::Memory32, 0x1000, 0x1010_0000, false),
        bar(4, BarKind::Memory64, 0x4000, 0x80_0010_0000, false),
    ];
    let rom = Some(bar(6, BarKind::Rom, 0x4_0000, 0x1014_0000, false));
    device("virtio-msi", r, bars, rom)
}

/// A function whose capability area is random: a chain of random IDs (shown and hidden ones)
/// at random dword offsets with random bodies, possibly looping or overlapping, and random
/// memory BARs. Real hardware is not this odd, but nothing it shows may panic sluice.
pub fn random_layout(rng: &mut Rng) -> Device {
    let mut r = [0u32; 1024];
    r[0] = rng.next_u32();
    r[1] = rng.next_u32() & 0xffff_0000 | (regs::STATUS_CAP_LIST as u32) << 16;
    r[2] = rng.next_u32();
    r[3] = rng.next_u32() & 0x00ff_0000;
    r[0x2c / 4] = rng.next_u32();
    for dword in &mut r[0x40 / 4..0x100 / 4] {
        *dword = if rng.one_in(3) { rng.next_u32() } else { 0 };
    }
    let mut offsets: Vec<u16> = (0..rng.below(8) + 1)
        .map(|_| 0x40 + 4 * rng.below(48) as u16)
        .collect();
    // The tail of config space is where out-of-range capability bodies come from.
    if rng.coin() {
        offsets.push(0xf8);
    }
    r[0x34 / 4] = offsets[0] as u32 | rng.next_u32() & 0xffff_ff00;
    for (i, &offset) in offsets.iter().enumerate() {
        let id = rng.pick(&[
            cap::PM,
            cap::MSI,
            cap::VENDOR,
            cap::EXP,
            cap::MSIX,
            CAP_VPD,
            0,
        ]);
        let next = offsets.get(i + 1).copied().unwrap_or(0) as u32;
        let next = if rng.one_in(8) {
            rng.next_u32() & 0xff
        } else {
            next
        };
        r[offset as usize / 4] = rng.next_u32() << 16 | next << 8 | id as u32;
    }
    r[0x3c / 4] = rng.next_u32() & 0xffff;
    let (bars, rom) = random_bars(rng);
    device("random-layout", r, bars, rom)
}

/// Up to six random memory BARs, each a power of two, 64-bit ones taking two slots.
fn random_bars(rng: &mut Rng) -> (Vec<Bar>, Option<Bar>) {
    let mut bars = Vec::new();
    let mut index = 0u8;
    let mut host_phys = 0x1000_0000u64;
    while index < 6 {
        if rng.one_in(3) {
            index += 1;
            continue;
        }
        let wide = index < 5 && rng.coin();
        let size_bytes = 1u64 << rng.below(if wide { 40 } else { 31 }).max(4);
        let kind = if wide {
            BarKind::Memory64
        } else {
            rng.pick(&[BarKind::Memory32, BarKind::Io])
        };
        host_phys = host_phys.next_multiple_of(size_bytes.max(4096));
        bars.push(bar(index, kind, size_bytes, host_phys, rng.coin()));
        host_phys += size_bytes;
        index += if wide { 2 } else { 1 };
    }
    let rom = rng
        .coin()
        .then(|| bar(6, BarKind::Rom, 0x1_0000, 0x2000_0000, false));
    (bars, rom)
}
