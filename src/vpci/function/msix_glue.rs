//! MSI-X on an assigned function: the table and PBA pages trap (they are left out of the BAR's
//! stage-2 mapping), the table is the guest's own, and enable, function mask and vector masks
//! are what reach the real function.
#![forbid(unsafe_code)]

use super::*;

/// What a trapped access inside a BAR's MSI-X pages is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsixAccess {
    /// Emulated table access: the value read (0 for writes) and the vector a write changed.
    Table {
        /// Value read.
        value: u64,
        /// Vector changed by a write.
        changed: Option<usize>,
    },
    /// The PBA or another register sharing a trapped page: perform exactly this access on
    /// the real BAR at `host_phys`.
    Forward {
        /// Host address.
        host_phys: u64,
    },
    /// In a trapped page outside the table but not an aligned 4- or 8-byte access: the MSI-X
    /// PBA takes nothing else (PCI Local Bus 3.0, 6.8.2), and a device may answer anything
    /// else with an abort, which must reach the guest, never sluice.
    Refused,
    /// Not in a trapped page of a mapped BAR.
    NotTrapped,
}

impl VirtualFunction {
    /// Offers MSI-X to the guest (it has an MSI controller): the capability's enable and mask
    /// bits take effect and the table and PBA pages trap.
    pub fn offer_msix(&mut self, cfg: &impl ConfigAccess) {
        let Some(cap) = self.caps.iter().find(|c| c.id == regs::cap::MSIX).copied() else {
            return;
        };
        let control = cfg.read16(self.host_bdf, cap.offset + 2);
        let table = cfg.read32(self.host_bdf, cap.offset + 4);
        let pba = cfg.read32(self.host_bdf, cap.offset + 8);
        self.msix = Some(MsixTable::from_capability(control, table, pba));
    }

    /// Offset of the MSI-X control register in config space, if the function has MSI-X.
    pub fn msix_control_offset(&self) -> Option<u16> {
        self.caps
            .iter()
            .find(|c| c.id == regs::cap::MSIX)
            .map(|c| c.offset + 2)
    }

    /// Host address of the real MSI-X table.
    pub fn msix_table_host_phys(&self) -> Option<u64> {
        let t = self.msix.as_ref()?;
        let bar = self.bars.get(t.table_bar as usize).copied().flatten()?;
        Some(bar.host.host_phys + t.table_offset)
    }

    /// The guest's MSI-X table, if offered.
    pub fn msix(&self) -> Option<&MsixTable> {
        self.msix.as_ref()
    }

    pub(super) fn write_msix_control(&mut self, offset: u16, value: u16, byte_mask: u16) {
        let writable = regs::MSIX_FLAGS_ENABLE | regs::MSIX_FLAGS_MASKALL;
        let m = byte_mask & writable;
        let new = (self.shadow16(offset) & !m) | (value & m);
        self.shadow[offset as usize..offset as usize + 2].copy_from_slice(&new.to_le_bytes());
        if let Some(t) = self.msix.as_mut() {
            t.enabled = new & regs::MSIX_FLAGS_ENABLE != 0;
            t.function_masked = new & regs::MSIX_FLAGS_MASKALL != 0;
        }
        self.pending_msix_control = true;
    }

    /// Stage-2 pieces of BAR `bar` placed at `guest_phys`: everything but its trapped pages.
    pub(super) fn map_pieces(
        &self,
        bar: u8,
        guest_phys: u64,
        host_phys: u64,
        size: u64,
    ) -> Vec<Action> {
        let holes = self
            .msix
            .as_ref()
            .map(|t| t.trapped_pages(bar))
            .unwrap_or_default();
        let mut pieces = Vec::new();
        let mut at = 0;
        for (start, len) in holes.into_iter().chain([(size, 0)]) {
            let start = start.min(size);
            if start > at {
                pieces.push(Action::Map {
                    bar,
                    guest_phys: guest_phys + at,
                    host_phys: host_phys + at,
                    size_bytes: start - at,
                });
            }
            at = at.max(start + len);
        }
        pieces
    }

    /// The BAR and offset a guest address falls in, among BARs mapped now.
    fn bar_at(&self, guest_phys: u64) -> Option<(u8, u64)> {
        (0..BAR_COUNT).find_map(|i| {
            let base = self.mapped[i]?;
            let bar = self.bars[i]?;
            let offset = guest_phys
                .checked_sub(base)
                .filter(|&o| o < bar.mapped_bytes())?;
            Some((i as u8, offset))
        })
    }

    /// A trapped guest access at `guest_phys` that may fall in this function's MSI-X pages.
    pub fn msix_access(&mut self, guest_phys: u64, width: u8, write: Option<u64>) -> MsixAccess {
        let Some((bar, offset)) = self.bar_at(guest_phys) else {
            return MsixAccess::NotTrapped;
        };
        let Some(table) = self.msix.as_mut() else {
            return MsixAccess::NotTrapped;
        };
        if !table
            .trapped_pages(bar)
            .iter()
            .any(|&(s, l)| offset >= s && offset < s + l)
        {
            return MsixAccess::NotTrapped;
        }
        let in_table = bar == table.table_bar
            && offset >= table.table_offset
            && offset - table.table_offset < table.table_bytes();
        if !in_table {
            if !matches!(width, 4 | 8) || offset % u64::from(width) != 0 {
                return MsixAccess::Refused;
            }
            let host = self.bars[bar as usize].map_or(0, |b| b.host.host_phys);
            return MsixAccess::Forward {
                host_phys: host + offset,
            };
        }
        let relative = offset - table.table_offset;
        match write {
            None => MsixAccess::Table {
                value: table.read(relative, width).unwrap_or(0),
                changed: None,
            },
            Some(v) => MsixAccess::Table {
                value: 0,
                changed: table.write(relative, width, v),
            },
        }
    }

    /// Takes the "control changed" flag a config write set (the caller reprograms the function).
    pub fn take_msix_control_change(&mut self) -> bool {
        core::mem::take(&mut self.pending_msix_control)
    }
}

/// The plain MSI capability of a function, once offered (PCI Local Bus 3.0, 6.8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsiCapability {
    /// Offset of the capability.
    pub offset: u16,
    /// 64-bit message address.
    pub is_64: bool,
    /// Per-vector masking.
    pub per_vector_mask: bool,
    /// log2 of the vectors the function can signal (Multiple Message Capable), at most 5.
    pub capable_log2: u8,
}

impl MsiCapability {
    fn data_offset(&self) -> u16 {
        self.offset + if self.is_64 { 12 } else { 8 }
    }

    fn mask_offset(&self) -> Option<u16> {
        self.per_vector_mask
            .then_some(self.offset + if self.is_64 { 16 } else { 12 })
    }
}

impl VirtualFunction {
    /// Offers plain MSI to the guest (it has an MSI controller): enable and Multiple Message
    /// Enable take effect through sluice.
    pub fn offer_msi(&mut self) {
        let Some(cap) = self.caps.iter().find(|c| c.id == regs::cap::MSI).copied() else {
            return;
        };
        // Broken hardware can place the capability so that its registers run past the
        // shadowed area: they could not be emulated, so MSI stays inert.
        if cap.offset + cap.length > EXTENDED_SPACE {
            return;
        }
        let control = self.shadow16(cap.offset + 2);
        self.msi = Some(MsiCapability {
            offset: cap.offset,
            is_64: control & (1 << 7) != 0,
            per_vector_mask: control & (1 << 8) != 0,
            // Multiple Message Capable 6 and 7 are reserved (PCI Local Bus 3.0, 6.8.1.3): a
            // function signals at most 32 vectors, and vector masks are 32 bits.
            capable_log2: (((control >> 1) & 7) as u8).min(5),
        });
    }

    /// The MSI capability, if offered.
    pub fn msi(&self) -> Option<MsiCapability> {
        self.msi
    }

    /// Vectors the function can signal with MSI (0 when not offered).
    pub fn msi_vectors(&self) -> u32 {
        self.msi.map_or(0, |m| 1 << m.capable_log2)
    }

    /// MSI control as the guest set it: (enabled, log2 of enabled vectors).
    pub fn msi_control(&self) -> Option<(bool, u8)> {
        let m = self.msi?;
        let control = self.shadow16(m.offset + 2);
        Some((
            control & 1 != 0,
            (((control >> 4) & 7) as u8).min(m.capable_log2),
        ))
    }

    /// The guest's per-vector mask bits (0 without per-vector masking).
    pub fn msi_mask(&self) -> u32 {
        let Some(off) = self.msi.and_then(|m| m.mask_offset()) else {
            return 0;
        };
        self.shadow16(off) as u32 | (self.shadow16(off + 2) as u32) << 16
    }

    /// The message the guest programmed for MSI vector `vector`, if it may fire.
    pub fn msi_message(&self, vector: u32) -> Option<(u64, u32)> {
        let m = self.msi?;
        let (enabled, enabled_log2) = self.msi_control()?;
        if !enabled || vector >= 1 << enabled_log2 || self.msi_mask() & (1 << vector) != 0 {
            return None;
        }
        let low = self.shadow16(m.offset + 4) as u64 | (self.shadow16(m.offset + 6) as u64) << 16;
        let high = if m.is_64 {
            self.shadow16(m.offset + 8) as u64 | (self.shadow16(m.offset + 10) as u64) << 16
        } else {
            0
        };
        let data = self.shadow16(m.data_offset()) as u32;
        // With several vectors the function replaces the low bits of the data (6.8.1.6).
        let data = (data & !((1u32 << enabled_log2) - 1)) | vector;
        Some((low | high << 32, data))
    }

    /// A write inside the offered MSI capability: enable and Multiple Message Enable stick in
    /// control, address, data and mask are storage; the caller reprograms the real function.
    pub(super) fn write_msi(&mut self, half: u16, value: u16, byte_mask: u16) -> bool {
        let Some(m) = self.msi else { return false };
        if half < m.offset + 2 || half >= m.offset + 24 {
            return false;
        }
        let writable = if half == m.offset + 2 {
            1 | 7 << 4
        } else {
            0xffff
        };
        let w = byte_mask & writable;
        let new = (self.shadow16(half) & !w) | (value & w);
        self.shadow[half as usize..half as usize + 2].copy_from_slice(&new.to_le_bytes());
        self.pending_msi_change = true;
        true
    }

    /// Takes the "MSI changed" flag a config write set.
    pub fn take_msi_change(&mut self) -> bool {
        core::mem::take(&mut self.pending_msi_change)
    }
}
