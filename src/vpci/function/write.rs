//! Guest config writes: each register's policy, then the stage-2 work they imply.
#![forbid(unsafe_code)]

use super::*;

impl VirtualFunction {
    /// A guest write of `width` bytes at `offset`; returns what the hypervisor must do.
    pub fn write(
        &mut self,
        cfg: &impl ConfigAccess,
        offset: u16,
        width: u8,
        value: u32,
    ) -> Vec<Action> {
        if !is_aligned(offset, width) || self.detached {
            return Vec::new();
        }
        let shift = 8 * (offset & 3) as u32;
        let byte_mask = if width >= 4 {
            u32::MAX
        } else {
            ((1u32 << (8 * width as u32)) - 1) << shift
        };
        let value = value << shift & byte_mask;
        let dword = offset & !3;
        let mut actions = Vec::new();
        match dword {
            regs::COMMAND => {
                self.write_command_status(cfg, value, byte_mask);
                actions = self.remap();
            }
            regs::CACHE_LINE_SIZE if byte_mask & 0xff != 0 => self.cache_line = value as u8,
            0x10..=0x24 => {
                self.write_bar(((dword - regs::BAR0) / 4) as usize, value, byte_mask);
                actions = self.remap();
            }
            regs::INTERRUPT_LINE if byte_mask & 0xff != 0 => self.interrupt_line = value as u8,
            CAPABILITY_AREA..EXTENDED_SPACE => {
                if !self.write_cap_dword(cfg, dword, value, byte_mask) {
                    actions.push(Action::Unclaimed { offset });
                }
                if self.take_msix_control_change() {
                    actions.push(Action::MsixControl);
                }
                if self.take_msi_change() {
                    actions.push(Action::MsiControl);
                }
            }
            // Read-only registers of the header: writes vanish quietly, as on hardware.
            0..CAPABILITY_AREA => {}
            _ => actions.push(Action::Unclaimed { offset }),
        }
        actions
    }

    /// Command is emulated; the bits that matter to the device (memory decode, bus master,
    /// INTx disable, error reporting) follow the guest's. Status RW1C bits are forwarded.
    fn write_command_status(&mut self, cfg: &impl ConfigAccess, value: u32, byte_mask: u32) {
        if byte_mask & 0xffff != 0 {
            let m = (byte_mask & 0xffff) as u16 & COMMAND_WRITABLE;
            self.command = (self.command & !m) | (value as u16 & m);
        }
        let clear_status = (value >> 16) as u16 & (byte_mask >> 16) as u16 & regs::STATUS_RW1C;
        cfg.write32(
            self.host_bdf,
            regs::COMMAND,
            (clear_status as u32) << 16 | self.hardware_command() as u32,
        );
    }

    /// The real function's command register: the guest's, less what sluice revoked.
    fn hardware_command(&self) -> u16 {
        if self.bus_master_revoked {
            self.command & !regs::COMMAND_MASTER
        } else {
            self.command
        }
    }

    /// Stops the real function's DMA (bus master off) for as long as it stays assigned: the
    /// guest keeps its own view of the command register, but no write of its turns bus
    /// mastering back on. Used when a device keeps faulting in the SMMU.
    pub fn revoke_bus_master(&mut self, cfg: &impl ConfigAccess) {
        self.bus_master_revoked = true;
        if !self.detached {
            cfg.write_command(self.host_bdf, self.hardware_command());
        }
    }

    /// Whether sluice has revoked bus mastering.
    pub fn is_bus_master_revoked(&self) -> bool {
        self.bus_master_revoked
    }

    fn write_bar(&mut self, index: usize, value: u32, byte_mask: u32) {
        let lower = self.bars.get(index).copied().flatten();
        let upper_of = index
            .checked_sub(1)
            .and_then(|i| self.bars[i])
            .filter(|b| b.host.kind == BarKind::Memory64);
        let (slot, upper) = match (lower, upper_of) {
            (Some(_), _) => (index, false),
            (None, Some(_)) => (index - 1, true),
            _ => return, // no BAR there: reads zero, writes vanish
        };
        if let Some(bar) = self.bars[slot].as_mut() {
            let old = bar.read(upper);
            bar.write(upper, (old & !byte_mask) | (value & byte_mask));
        }
    }

    /// Applies a write to a dword of the capability area; false if any part is unclaimed.
    fn write_cap_dword(
        &mut self,
        cfg: &impl ConfigAccess,
        dword: u16,
        value: u32,
        byte_mask: u32,
    ) -> bool {
        let mut claimed = true;
        let mut hw_write: Option<u32> = None;
        for half in [dword, dword + 2] {
            let shift = 8 * (half - dword) as u32;
            let mask = (byte_mask >> shift) as u16;
            let v = (value >> shift) as u16;
            let Some(c) = self.kept_cap_at(half).copied() else {
                claimed &= mask == 0;
                continue;
            };
            if mask == 0 || half == c.offset {
                continue; // untouched, or the read-only header
            }
            if c.id == regs::cap::MSIX && half - c.offset == 2 && self.msix.is_some() {
                self.write_msix_control(half, v, mask);
                continue;
            }
            if c.id == regs::cap::MSI && self.write_msi(half, v, mask) {
                continue;
            }
            match caps::policy(c.id, half - c.offset) {
                CapPolicy::ReadOnly => {}
                CapPolicy::Shadow { writable } => {
                    let m = mask & writable;
                    let new = (self.shadow16(half) & !m) | (v & m);
                    self.shadow[half as usize..half as usize + 2]
                        .copy_from_slice(&new.to_le_bytes());
                }
                CapPolicy::Masked { writable, rw1c } => {
                    let hw = cfg.read16(self.host_bdf, half) & !rw1c;
                    let new = (hw & !(writable & mask)) | (v & writable & mask) | (v & rw1c & mask);
                    let base =
                        hw_write.unwrap_or_else(|| self.hardware_dword_without_rw1c(cfg, dword));
                    hw_write = Some((base & !(0xffff << shift)) | (new as u32) << shift);
                }
            }
        }
        if let Some(dword_value) = hw_write {
            cfg.write32(self.host_bdf, dword, dword_value);
        }
        claimed
    }

    /// The hardware dword with every RW1C bit zeroed, so writing it back clears nothing.
    fn hardware_dword_without_rw1c(&self, cfg: &impl ConfigAccess, dword: u16) -> u32 {
        let mut value = cfg.read32(self.host_bdf, dword);
        for half in [dword, dword + 2] {
            if let Some(c) = self.kept_cap_at(half) {
                if let CapPolicy::Masked { rw1c, .. } = caps::policy(c.id, half - c.offset) {
                    value &= !((rw1c as u32) << (8 * (half - dword)));
                }
            }
        }
        value
    }

    /// Brings stage 2 in line with the guest's BARs and memory decode bit.
    fn remap(&mut self) -> Vec<Action> {
        let decode = self.command & regs::COMMAND_MEMORY != 0;
        let mut actions = Vec::new();
        for index in 0..BAR_COUNT {
            let Some(bar) = self.bars[index] else {
                continue;
            };
            let wanted = (decode && bar.is_placed()).then_some(bar.guest_phys);
            if wanted == self.mapped[index] {
                continue;
            }
            let size_bytes = bar.mapped_bytes();
            if let Some(guest_phys) = self.mapped[index].take() {
                actions.push(Action::Unmap {
                    bar: index as u8,
                    guest_phys,
                    size_bytes,
                });
            }
            if let Some(guest_phys) = wanted {
                actions.extend(self.map_pieces(
                    index as u8,
                    guest_phys,
                    bar.host.host_phys,
                    size_bytes,
                ));
                self.mapped[index] = Some(guest_phys);
            }
        }
        actions
    }

    /// The hypervisor refused a `Map` (overlap, bad offset): the BAR stays unmapped.
    pub fn mark_unmapped(&mut self, bar: u8) {
        if let Some(m) = self.mapped.get_mut(bar as usize) {
            *m = None;
        }
    }

    /// De-assign hook: unmaps every BAR and quiesces the real function (decode, bus master
    /// off, INTx disabled). The caller holds this function's lock, so no access can race it.
    pub fn teardown(&mut self, cfg: &impl ConfigAccess) -> Vec<Action> {
        self.command = 0;
        self.detached = true;
        cfg.write_command(self.host_bdf, regs::COMMAND_INTX_DISABLE);
        self.remap()
    }

    /// Gives a torn-down function back to the guest, as if freshly assigned: no decode, BARs
    /// unprogrammed.
    pub fn reattach(&mut self) {
        self.detached = false;
        self.bus_master_revoked = false;
        self.command = 0;
        for bar in self.bars.iter_mut().flatten() {
            bar.guest_phys = 0;
        }
    }

    /// Whether the function has been taken away from the guest.
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    /// Guest-physical ranges currently mapped for this function's BARs.
    pub fn mapped_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        (0..BAR_COUNT).filter_map(|i| Some((self.mapped[i]?, self.bars[i]?.mapped_bytes())))
    }
}
