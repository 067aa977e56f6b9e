//! Fuzz target: a guest's config-space accesses to an assigned function (`src/vpci`), through
//! the entry points the hypervisor uses (ECAM decoding, `VirtualFunction::read`/`write`, the
//! trapped MSI-X pages, BAR placement checks), on functions with MSI, MSI-X, PCIe and vendor
//! capabilities, 32/64-bit BARs and a ROM, and on functions with random capability layouts.
//! Every width (1/2/4/8 and impossible ones), aligned or not, in and out of range; BAR sizing,
//! placing and command toggles. No access may panic, and after each one the guest's view must
//! still obey the policy (see `Session::check`).

#[path = "fuzz_vpci/checks.rs"]
mod checks;
#[path = "fuzz_vpci/devices.rs"]
mod devices;
mod fuzz_support;

use devices::{Device, BDF};
use fuzz_support::Rng;
use sluice::mm::PhysRange;
use sluice::pci::enumerate::capabilities;
use sluice::pci::regs::{self, cap};
use sluice::vpci::function::MsixAccess;
use sluice::vpci::layout::GuestPciLayout;
use sluice::vpci::topology::{self, EcamTarget, GUEST_ECAM_BYTES};
use sluice::vpci::{Action, VirtualFunction};

/// The guest's PCI windows, as `layout::choose` places them on QEMU virt.
const LAYOUT: GuestPciLayout = GuestPciLayout {
    ecam: PhysRange::new(0x100_0000, GUEST_ECAM_BYTES),
    mem32: PhysRange::new(0x8000_0000, 256 << 20),
    mem64: PhysRange::new(0x70_0000_0000, 64 << 30),
};
/// Command bits a guest write may carry to the real function (`src/vpci/function.rs`).
const COMMAND_FORWARDED: u32 = (regs::COMMAND_MEMORY
    | regs::COMMAND_MASTER
    | regs::COMMAND_PARITY
    | regs::COMMAND_SERR
    | regs::COMMAND_INTX_DISABLE) as u32;
const PAGE: u64 = 4096;

/// One `Action::Map`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    bar: u8,
    guest_phys: u64,
    host_phys: u64,
    size_bytes: u64,
}

#[test]
fn config_space_emulation_never_panics_and_keeps_its_invariants() {
    fuzz_support::run("vpci", |rng| {
        let device = match rng.below(4) {
            0 => devices::e1000e(),
            1 => devices::virtio_with_msi(),
            _ => devices::random_layout(rng),
        };
        let mut session = Session::new(device, rng);
        for _ in 0..rng.below(150) + 1 {
            session.step(rng);
            session.check();
        }
    });
}

/// One assigned function, and what the hypervisor would hold about it.
struct Session {
    dev: Device,
    vf: VirtualFunction,
    /// Stage 2 as the actions built it: each BAR's guest base, when mapped.
    mapped: [Option<u64>; 6],
    /// Hardware dwords emulation may write: PCI_COMMAND, and each PCIe capability's Device
    /// Control/Status.
    writable_hw: Vec<u16>,
    /// IDs, class and subsystem as the hardware has them: (offset, value).
    ids: [(u16, u32); 3],
    /// Recent operations, for the failure message.
    trail: Vec<String>,
}

impl Session {
    fn new(dev: Device, rng: &mut Rng) -> Self {
        let mut vf = VirtualFunction::new(&dev.host, &dev.hw);
        if rng.coin() {
            vf.offer_msix(&dev.hw);
        }
        if rng.coin() {
            vf.offer_msi();
        }
        let mut writable_hw = vec![regs::COMMAND];
        writable_hw.extend(
            capabilities(&dev.hw, BDF)
                .into_iter()
                .filter(|&(_, id)| id == cap::EXP)
                .map(|(offset, _)| offset + 8),
        );
        let regs = dev.hw.regs.borrow();
        let ids = [0x00, 0x08, 0x2c].map(|o| (o, regs[o as usize / 4]));
        drop(regs);
        Self {
            dev,
            vf,
            mapped: [None; 6],
            writable_hw,
            ids,
            trail: Vec::new(),
        }
    }

    /// Context for a failed check: the device and the last operations.
    fn why(&self, what: &str) -> String {
        let from = self.trail.len().saturating_sub(12);
        format!(
            "{what}\n  device: {}\n  last operations:\n    {}",
            self.dev.kind,
            self.trail[from..].join("\n    ")
        )
    }

    fn step(&mut self, rng: &mut Rng) {
        match rng.below(12) {
            0..=2 => self.ecam_access(rng),
            3..=5 => self.register_access(rng),
            6 => self.size_bar(rng),
            7 => self.place_bar(rng),
            8 => self.toggle_command(rng),
            9 => self.msix_access(rng),
            10 => self.msi_queries(rng),
            _ => self.lifecycle(rng),
        }
    }

    fn read(&self, offset: u16, width: u8) -> u32 {
        let (value, unclaimed) = self.vf.read(&self.dev.hw, offset, width);
        if let Some(action) = unclaimed {
            // Unclaimed bytes read zero; a dword read may also cover a claimed half.
            let ok = action == Action::Unclaimed { offset } && (value == 0 || width == 4);
            assert!(
                ok,
                "{}",
                self.why(&format!("read {offset:#x}: {action:?} {value:#x}"))
            );
        }
        value
    }

    fn write(&mut self, offset: u16, width: u8, value: u32) {
        self.trail
            .push(format!("write {offset:#x}/{width} = {value:#x}"));
        let actions = self.vf.write(&self.dev.hw, offset, width, value);
        self.apply(offset, actions);
    }

    /// An access as the guest's ECAM window delivers it (any width, split like the hypervisor
    /// splits it), anywhere in the window.
    fn ecam_access(&mut self, rng: &mut Rng) {
        let window = rng.below(GUEST_ECAM_BYTES);
        let ecam_offset = if rng.coin() { window & 0x7fff } else { window };
        let width = rng.pick(&[1, 2, 4, 8, 4, 2, 3, 0, 16]);
        let write = rng.coin().then(|| rng.edgy_u64());
        self.trail
            .push(format!("ecam {ecam_offset:#x}/{width} {write:x?}"));
        for (piece, piece_width, shift) in topology::split_access(ecam_offset, width) {
            let EcamTarget::Slot { slot: 1, offset } = topology::decode(piece) else {
                continue; // other slots hold nothing in this model
            };
            match write {
                Some(v) => self.write(offset, piece_width, (v >> shift) as u32),
                None => {
                    self.read(offset, piece_width);
                }
            }
        }
    }

    /// An access aimed at a register that matters, at any width and alignment.
    fn register_access(&mut self, rng: &mut Rng) {
        let base = rng.pick(&[0x04, 0x06, 0x0c, 0x10, 0x18, 0x20, 0x24, 0x30, 0x34, 0x3c]);
        let offset = match rng.below(4) {
            0 => base + rng.below(4) as u16,
            1 => 0x40 + rng.below(0xc0) as u16,
            2 => rng.next_u32() as u16,
            _ => base,
        };
        let width = rng.pick(&[1, 2, 4, 4, 3, 0, 8]);
        if rng.coin() {
            self.trail.push(format!("read {offset:#x}/{width}"));
            self.read(offset, width);
        } else {
            self.write(offset, width, rng.edgy_u64() as u32);
        }
    }

    /// The guest's BAR sizing: all-ones, then the mask must read back.
    fn size_bar(&mut self, rng: &mut Rng) {
        let index = rng.below(6) as usize;
        let offset = regs::BAR0 + 4 * index as u16;
        self.write(offset, 4, u32::MAX);
        let value = self.read(offset, 4);
        let bar = self.vf.bars().find(|b| b.host.index as usize == index);
        if let Some(bar) = bar.filter(|_| !self.vf.is_detached()) {
            let expected = (!(bar.host.size_bytes - 1) as u32 & !0xf) | bar.host.flag_bits();
            assert_eq!(value, expected, "{}", self.why("size probe mask"));
        }
    }

    /// The guest places a BAR: inside a window or not, aligned or not, both halves of a
    /// 64-bit one.
    fn place_bar(&mut self, rng: &mut Rng) {
        let index = rng.below(6) as u16;
        let address = match rng.below(3) {
            0 => LAYOUT.mem32.start + rng.below(LAYOUT.mem32.size_bytes),
            1 => LAYOUT.mem64.start + rng.below(LAYOUT.mem64.size_bytes),
            _ => rng.edgy_u64(),
        };
        let address = if rng.coin() {
            address & !0xffff
        } else {
            address
        };
        self.write(regs::BAR0 + 4 * index, 4, address as u32);
        if rng.coin() {
            self.write(regs::BAR0 + 4 * index + 4, 4, (address >> 32) as u32);
        }
    }

    fn toggle_command(&mut self, rng: &mut Rng) {
        let command = if rng.coin() {
            regs::COMMAND_MEMORY as u32 * rng.below(2) as u32
        } else {
            rng.next_u32()
        };
        let width = rng.pick(&[2, 4, 1]);
        self.write(regs::COMMAND, width, command);
    }

    /// A trapped access that may fall in the MSI-X table or PBA pages of a mapped BAR.
    fn msix_access(&mut self, rng: &mut Rng) {
        let base = self.mapped.iter().flatten().copied().next();
        let guest_phys = match base {
            Some(b) if rng.coin() => b.wrapping_add(rng.below(0x4000)),
            _ => rng.edgy_u64(),
        };
        let width = rng.pick(&[4, 8, 2, 1]);
        let write = rng.coin().then(|| rng.next_u64());
        self.trail
            .push(format!("msix {guest_phys:#x}/{width} {write:x?}"));
        match self.vf.msix_access(guest_phys, width, write) {
            MsixAccess::Forward { host_phys } => {
                let inside = self.dev.host.bars.iter().any(|b| {
                    PhysRange::new(b.host_phys, b.size_bytes.next_multiple_of(PAGE))
                        .contains(host_phys)
                });
                assert!(inside, "{}", self.why("forwarded outside every BAR"));
            }
            MsixAccess::Table {
                changed: Some(i), ..
            } => {
                let entries = self.vf.msix().map_or(0, |t| t.entries.len());
                assert!(i < entries, "{}", self.why("changed vector out of table"));
            }
            _ => {}
        }
    }

    fn msi_queries(&mut self, rng: &mut Rng) {
        let vector = rng.pick(&[0, 1, 31, 32, 33, u32::MAX]) & rng.next_u32();
        self.trail.push(format!("msi queries, vector {vector}"));
        let _ = (self.vf.msi_control(), self.vf.msi_mask());
        if self.vf.msi_message(vector).is_some() {
            let ok = vector < self.vf.msi_vectors();
            assert!(
                ok,
                "{}",
                self.why("MSI message for a vector it cannot signal")
            );
        }
    }

    /// De-assignment and reassignment, as a guest reboot does.
    fn lifecycle(&mut self, rng: &mut Rng) {
        if !rng.one_in(4) {
            return;
        }
        if self.vf.is_detached() {
            self.trail.push("reattach".into());
            self.vf.reattach();
        } else {
            self.trail.push("teardown".into());
            let actions = self.vf.teardown(&self.dev.hw);
            self.apply(0, actions);
            let none = self.mapped.iter().all(Option::is_none);
            assert!(none, "{}", self.why("teardown left a BAR mapped"));
        }
    }

    /// Plays the hypervisor's part for each action, and checks that it makes sense.
    fn apply(&mut self, offset: u16, actions: Vec<Action>) {
        if self.vf.is_detached() {
            let only_unmaps = actions.iter().all(|a| matches!(a, Action::Unmap { .. }));
            assert!(only_unmaps, "{}", self.why("a detached function acted"));
        }
        let mut pieces: Vec<Piece> = Vec::new();
        for action in actions {
            match action {
                Action::Unmap {
                    bar, guest_phys, ..
                } => {
                    let was = self.mapped.get_mut(bar as usize).and_then(Option::take);
                    let ok = was == Some(guest_phys) || (was.is_none() && self.wholly_trapped(bar));
                    assert!(ok, "{}", self.why("unmap of no mapping"));
                }
                Action::Map {
                    bar,
                    guest_phys,
                    host_phys,
                    size_bytes,
                } => pieces.push(Piece {
                    bar,
                    guest_phys,
                    host_phys,
                    size_bytes,
                }),
                Action::Unclaimed { offset: o } => {
                    assert_eq!(o, offset, "{}", self.why("unclaimed at another offset"))
                }
                Action::MsixVector { .. } | Action::MsixControl | Action::MsiControl => {}
            }
        }
        let mut order: Vec<u8> = pieces.iter().map(|p| p.bar).collect();
        order.dedup();
        let mut unique = order.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            order.len(),
            unique.len(),
            "{}",
            self.why("BAR pieces interleave")
        );
        for bar in order {
            let of_bar: Vec<Piece> = pieces.iter().filter(|p| p.bar == bar).copied().collect();
            self.map_bar(bar, &of_bar);
        }
    }

    /// The stage-2 pieces of one BAR: inside the BAR, all at its current guest address, with
    /// decode on, covering everything but the MSI-X pages. The hypervisor's window check may
    /// refuse them, and then the BAR stays unmapped.
    fn map_bar(&mut self, bar: u8, pieces: &[Piece]) {
        let host = self.dev.host.bars.iter().find(|b| b.index == bar).copied();
        let host = host.unwrap_or_else(|| panic!("{}", self.why("map of an unknown BAR")));
        let mapped_bytes = host.size_bytes.next_multiple_of(PAGE);
        let virtual_bar = self.vf.bars().find(|b| b.host.index == bar).copied();
        let base = virtual_bar.map(|b| b.guest_phys);
        let decode = self.read(regs::COMMAND, 2) & regs::COMMAND_MEMORY as u32 != 0;
        assert!(decode, "{}", self.why("mapped with decode off"));
        assert_eq!(
            self.mapped[bar as usize],
            None,
            "{}",
            self.why("mapped twice")
        );
        let holes = self
            .vf
            .msix()
            .map(|t| t.trapped_pages(bar))
            .unwrap_or_default();
        let mut covered = 0;
        for p in pieces {
            let offset = p.host_phys.checked_sub(host.host_phys);
            let inside = offset
                .and_then(|o| o.checked_add(p.size_bytes))
                .is_some_and(|end| end <= mapped_bytes);
            assert!(inside, "{}", self.why("piece outside its BAR"));
            let offset = offset.unwrap_or(0);
            let at = p.guest_phys.checked_sub(offset);
            assert_eq!(at, base, "{}", self.why("piece not at the BAR's address"));
            let piece = PhysRange::new(offset, p.size_bytes);
            let over_hole = holes
                .iter()
                .any(|&(s, l)| PhysRange::new(s, l).overlaps(&piece));
            assert!(!over_hole, "{}", self.why("MSI-X pages mapped"));
            covered += p.size_bytes;
        }
        let hole_bytes: u64 = holes
            .iter()
            .map(|&(s, l)| s.saturating_add(l).min(mapped_bytes).saturating_sub(s))
            .sum();
        assert_eq!(
            covered + hole_bytes,
            mapped_bytes,
            "{}",
            self.why("BAR not covered")
        );
        let others = self.mapped_ranges_except(bar);
        let accepted = pieces.iter().all(|p| {
            let range = PhysRange::new(p.guest_phys, p.size_bytes);
            LAYOUT.check_bar(range, p.host_phys, &others).is_ok()
        });
        if accepted {
            self.mapped[bar as usize] = base;
        } else {
            self.trail.push(format!("  hypervisor refuses bar {bar}"));
            self.vf.mark_unmapped(bar);
        }
    }

    /// A BAR whose every page traps (MSI-X table and PBA): mapping it maps nothing.
    fn wholly_trapped(&self, bar: u8) -> bool {
        let Some(host) = self.dev.host.bars.iter().find(|b| b.index == bar) else {
            return false;
        };
        let holes = self
            .vf
            .msix()
            .map(|t| t.trapped_pages(bar))
            .unwrap_or_default();
        let mapped_bytes = host.size_bytes.next_multiple_of(PAGE);
        holes.iter().any(|&(s, l)| s == 0 && l >= mapped_bytes)
    }

    fn mapped_ranges_except(&self, bar: u8) -> Vec<PhysRange> {
        self.dev
            .host
            .bars
            .iter()
            .filter(|b| b.index != bar)
            .filter_map(|b| {
                let base = self.mapped.get(b.index as usize).copied().flatten()?;
                Some(PhysRange::new(base, b.size_bytes.next_multiple_of(PAGE)))
            })
            .collect()
    }
}
