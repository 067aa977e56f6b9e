//! One assigned function's configuration space as the guest sees it: a register table with a
//! default-deny policy (Xen's vPCI register handlers and VFIO's perm_bits are the models).
//!
//! | offset        | policy                                                        |
//! |---------------|---------------------------------------------------------------|
//! | 0x00 IDs      | hardware, read-only                                           |
//! | 0x04 command  | emulated; memory decode maps BARs, bus master/INTx forwarded  |
//! | 0x06 status   | hardware; RW1C forwarded; capability bit from the kept chain  |
//! | 0x08 class    | hardware, read-only                                           |
//! | 0x0c          | cache line emulated; header type without multi-function; 0    |
//! | 0x10-0x24     | virtual BARs (I/O BARs hidden)                                |
//! | 0x2c          | subsystem IDs: hardware, read-only                            |
//! | 0x30 ROM      | hidden (reads zero: no ROM)                                   |
//! | 0x34          | first kept capability                                         |
//! | 0x3c          | interrupt line emulated, pin from hardware                    |
//! | kept caps     | per `caps::policy`                                            |
//! | anything else | reads zero, writes dropped, reported as unclaimed             |
#![forbid(unsafe_code)]

use super::bar::VirtualBar;
use super::caps::{self, CapPolicy, KeptCapability};
use super::msix::MsixTable;
use crate::pci::bar::{BarKind, BAR_COUNT};
use crate::pci::enumerate::{capabilities, HostFunction};
use crate::pci::regs;
use crate::pci::{Bdf, ConfigAccess};
use alloc::vec::Vec;

/// Command bits the guest may set (I/O decode is not offered: I/O BARs are hidden).
const COMMAND_WRITABLE: u16 = regs::COMMAND_MEMORY
    | regs::COMMAND_MASTER
    | regs::COMMAND_PARITY
    | regs::COMMAND_SERR
    | regs::COMMAND_INTX_DISABLE;
/// Config space size of a PCIe function.
pub const CONFIG_SPACE_BYTES: u16 = 4096;
/// Start of the capability area of a type 0 header.
const CAPABILITY_AREA: u16 = 0x40;
/// Start of extended configuration space (hidden).
const EXTENDED_SPACE: u16 = 0x100;

/// What the hypervisor must do after a guest config write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Map BAR `bar` at `guest_phys` to `host_phys` in stage 2.
    Map {
        /// BAR number.
        bar: u8,
        /// Guest address.
        guest_phys: u64,
        /// Host address.
        host_phys: u64,
        /// Bytes, whole pages.
        size_bytes: u64,
    },
    /// Remove BAR `bar`'s stage-2 mapping.
    Unmap {
        /// BAR number.
        bar: u8,
        /// Guest address it was mapped at.
        guest_phys: u64,
        /// Bytes.
        size_bytes: u64,
    },
    /// The guest touched a register no handler claims (log it, rate-limited).
    Unclaimed {
        /// Offset in config space.
        offset: u16,
    },
    /// MSI-X enable or function mask changed: reprogram the real function.
    MsixControl,
    /// The guest changed MSI-X vector `index`: reprogram its real entry's mask.
    MsixVector {
        /// Vector.
        index: usize,
    },
    /// The guest changed its MSI capability: reprogram the real one.
    MsiControl,
}

/// An assigned function's virtual configuration space.
#[derive(Debug, Clone)]
pub struct VirtualFunction {
    /// The real function.
    pub host_bdf: Bdf,
    bars: [Option<VirtualBar>; BAR_COUNT],
    /// Where each BAR is mapped in stage 2 right now.
    mapped: [Option<u64>; BAR_COUNT],
    command: u16,
    cache_line: u8,
    interrupt_line: u8,
    caps: Vec<KeptCapability>,
    shadow: [u8; 256],
    /// Taken away from the guest (`teardown`): it reads as absent until `reattach`.
    detached: bool,
    /// Bus mastering revoked by sluice (the device kept faulting in the SMMU): the real
    /// function stays without it, whatever the guest writes, until `reattach`.
    bus_master_revoked: bool,
    /// The MSI-X table, when the function has one and the guest has an MSI controller.
    msix: Option<MsixTable>,
    /// A config write changed MSI-X enable or function mask.
    pending_msix_control: bool,
    /// Plain MSI, when offered.
    msi: Option<msix_glue::MsiCapability>,
    /// A config write changed the MSI capability.
    pending_msi_change: bool,
}

impl VirtualFunction {
    /// The guest's view of `host`, built from its sized BARs and its capability chain.
    pub fn new(host: &HostFunction, cfg: &impl ConfigAccess) -> Self {
        let mut bars = [None; BAR_COUNT];
        for bar in host
            .bars
            .iter()
            .filter(|b| matches!(b.kind, BarKind::Memory32 | BarKind::Memory64))
        {
            if let Some(slot) = bars.get_mut(bar.index as usize) {
                *slot = Some(VirtualBar::new(*bar));
            }
        }
        let chain: Vec<(u16, u8, u16)> = capabilities(cfg, host.bdf)
            .into_iter()
            .filter(|&(offset, _)| offset < EXTENDED_SPACE - 4)
            .map(|(offset, id)| (offset, id, cfg.read16(host.bdf, offset + 2)))
            .collect();
        let mut shadow = [0u8; 256];
        for offset in (CAPABILITY_AREA..EXTENDED_SPACE).step_by(4) {
            shadow[offset as usize..offset as usize + 4]
                .copy_from_slice(&cfg.read32(host.bdf, offset).to_le_bytes());
        }
        let mut function = Self {
            host_bdf: host.bdf,
            bars,
            mapped: [None; BAR_COUNT],
            command: 0,
            cache_line: 0,
            interrupt_line: 0,
            caps: caps::filter_chain(&chain),
            shadow,
            detached: false,
            bus_master_revoked: false,
            msix: None,
            pending_msix_control: false,
            msi: None,
            pending_msi_change: false,
        };
        function.clear_shadow_enables();
        function
    }

    /// MSI/MSI-X enables and a low power state never show in the shadow.
    fn clear_shadow_enables(&mut self) {
        for c in self.caps.clone() {
            let control = c.offset as usize + 2;
            match c.id {
                regs::cap::MSI => self.shadow[control] &= !1,
                regs::cap::MSIX => self.shadow[control + 1] &= !0x80,
                regs::cap::PM => self.shadow[control + 2] &= !0x3,
                _ => {}
            }
        }
    }

    /// The BARs the guest sees, by number.
    pub fn bars(&self) -> impl Iterator<Item = &VirtualBar> {
        self.bars.iter().flatten()
    }

    fn kept_cap_at(&self, offset: u16) -> Option<&KeptCapability> {
        self.caps
            .iter()
            .find(|c| offset >= c.offset && offset < c.offset + c.length)
    }

    /// A guest read of `width` bytes (1, 2 or 4, naturally aligned) at `offset`.
    pub fn read(&self, cfg: &impl ConfigAccess, offset: u16, width: u8) -> (u32, Option<Action>) {
        if !is_aligned(offset, width) || self.detached {
            return (u32::MAX, None);
        }
        let (dword, unclaimed_bits) = self.read_dword(cfg, offset & !3);
        let shift = 8 * (offset & 3) as u32;
        let mask = if width >= 4 {
            u32::MAX
        } else {
            (1u32 << (8 * width as u32)) - 1
        };
        // Only the bytes read count: a word read of a claimed half is not unclaimed because
        // the other half of its dword is (the data register of a 10-byte MSI capability).
        (
            dword >> shift & mask,
            (unclaimed_bits >> shift & mask != 0).then_some(Action::Unclaimed { offset }),
        )
    }

    /// The dword at `offset` as the guest sees it, and the bits of it no handler claims.
    fn read_dword(&self, cfg: &impl ConfigAccess, offset: u16) -> (u32, u32) {
        let hw = |o| cfg.read32(self.host_bdf, o);
        let value = match offset {
            regs::VENDOR_ID | regs::CLASS_REVISION | regs::SUBSYSTEM_VENDOR_ID => hw(offset),
            regs::COMMAND => (self.status(cfg) as u32) << 16 | self.command as u32,
            regs::CACHE_LINE_SIZE => {
                let header = (hw(offset) >> 16) as u8 & regs::HEADER_TYPE_MASK;
                (header as u32) << 16 | self.cache_line as u32
            }
            0x10..=0x24 => self.read_bar(((offset - regs::BAR0) / 4) as usize),
            regs::CAPABILITY_LIST => self.caps.first().map_or(0, |c| c.offset as u32),
            regs::INTERRUPT_LINE => {
                (cfg.read8(self.host_bdf, regs::INTERRUPT_PIN) as u32) << 8
                    | self.interrupt_line as u32
            }
            0x28 | regs::ROM_ADDRESS | 0x38 => 0,
            CAPABILITY_AREA..EXTENDED_SPACE => return self.read_cap_dword(cfg, offset),
            _ => return (0, u32::MAX),
        };
        (value, 0)
    }

    fn status(&self, cfg: &impl ConfigAccess) -> u16 {
        let status = cfg.read16(self.host_bdf, regs::STATUS) & !regs::STATUS_CAP_LIST;
        if self.caps.is_empty() {
            status
        } else {
            status | regs::STATUS_CAP_LIST
        }
    }

    fn read_bar(&self, index: usize) -> u32 {
        match (
            self.bars.get(index).copied().flatten(),
            index.checked_sub(1).and_then(|i| self.bars[i]),
        ) {
            (Some(bar), _) => bar.read(false),
            (None, Some(low)) if low.host.kind == BarKind::Memory64 => low.read(true),
            _ => 0,
        }
    }

    fn read_cap_dword(&self, cfg: &impl ConfigAccess, offset: u16) -> (u32, u32) {
        let mut dword = 0u32;
        let mut unclaimed = 0u32;
        for half in [offset, offset + 2] {
            let value = match self.kept_cap_at(half) {
                Some(c) if half == c.offset => c.id as u16 | (c.next as u16) << 8,
                Some(c) => match caps::policy(c.id, half - c.offset) {
                    CapPolicy::Shadow { .. } => self.shadow16(half),
                    _ => cfg.read16(self.host_bdf, half),
                },
                None => {
                    unclaimed |= 0xffff << (8 * (half - offset));
                    0
                }
            };
            dword |= (value as u32) << (8 * (half - offset));
        }
        (dword, unclaimed)
    }

    fn shadow16(&self, offset: u16) -> u16 {
        let o = offset as usize;
        u16::from_le_bytes([self.shadow[o], self.shadow[o + 1]])
    }
}

mod msix_glue;
mod write;
pub use msix_glue::{MsiCapability, MsixAccess};

fn is_aligned(offset: u16, width: u8) -> bool {
    matches!(width, 1 | 2 | 4) && offset.is_multiple_of(width as u16) && offset < CONFIG_SPACE_BYTES
}
