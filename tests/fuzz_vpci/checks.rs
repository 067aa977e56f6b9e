//! What must hold after every guest access, whatever came before it.

use super::devices::SHOWN_CAPABILITIES;
use super::{Session, COMMAND_FORWARDED, PAGE};
use sluice::pci::bar::BarKind;
use sluice::pci::regs;

impl Session {
    /// What must hold after every operation.
    pub(super) fn check(&mut self) {
        self.check_hardware_writes();
        if self.vf.is_detached() {
            let absent = self.read(regs::VENDOR_ID, 4) == u32::MAX;
            assert!(absent, "{}", self.why("a detached function is visible"));
            return;
        }
        for (offset, value) in self.ids {
            let seen = self.read(offset, 4);
            assert_eq!(seen, value, "{}", self.why("read-only ID changed"));
        }
        self.check_bars();
        self.check_capability_chain();
        for hidden in [regs::ROM_ADDRESS, 0x100, 0x104, 0xffc] {
            let value = self.read(hidden, 4);
            assert_eq!(
                value,
                0,
                "{}",
                self.why(&format!("{hidden:#x} is not hidden"))
            );
        }
        self.check_stage2_model();
    }

    /// Emulation writes the real function only where the policy says, and never the bits it
    /// keeps for itself.
    fn check_hardware_writes(&mut self) {
        let writes: Vec<(u16, u32)> = self.dev.hw.writes.borrow_mut().drain(..).collect();
        for (offset, value) in writes {
            let allowed = self.writable_hw.contains(&offset);
            let what = format!("hardware write {offset:#x} = {value:#x}");
            assert!(allowed, "{}", self.why(&what));
            if offset == regs::COMMAND {
                let ok = value & 0xffff & !COMMAND_FORWARDED == 0
                    && (value >> 16) as u16 & !regs::STATUS_RW1C == 0;
                assert!(ok, "{}", self.why(&what));
            }
        }
    }

    /// Each BAR register reads its address aligned to the BAR's size and its type bits; the
    /// upper half of a 64-bit BAR has no bit below the size; I/O and absent BARs read zero.
    fn check_bars(&mut self) {
        for index in 0..6u8 {
            let value = self.read(regs::BAR0 + 4 * index as u16, 4);
            let memory = |i: u8| {
                self.dev.host.bars.iter().copied().find(|b| {
                    b.index == i && matches!(b.kind, BarKind::Memory32 | BarKind::Memory64)
                })
            };
            let upper_of = index.checked_sub(1).and_then(memory);
            let ok = match (memory(index), upper_of) {
                (Some(bar), _) => {
                    let below_size = (bar.size_bytes - 1) as u32;
                    value & 0xf == bar.flag_bits() && value & below_size & !0xf == 0
                }
                (None, Some(low)) if low.kind == BarKind::Memory64 => {
                    value as u64 & ((low.size_bytes - 1) >> 32) == 0
                }
                _ => value == 0,
            };
            let what = format!("BAR{index} reads {value:#x}");
            assert!(ok, "{}", self.why(&what));
        }
    }

    /// The chain the guest walks: well-formed, loop-free, only capabilities sluice shows.
    fn check_capability_chain(&mut self) {
        let mut next = self.read(regs::CAPABILITY_LIST, 1);
        let mut seen = Vec::new();
        while next != 0 {
            let ok =
                (0x40..0x100).contains(&next) && next.is_multiple_of(4) && !seen.contains(&next);
            assert!(
                ok,
                "{}",
                self.why(&format!("chain goes to {next:#x} after {seen:x?}"))
            );
            seen.push(next);
            let header = self.read(next as u16, 2);
            let shown = SHOWN_CAPABILITIES.contains(&(header as u8));
            let what = format!("capability {header:#x} at {next:#x} is shown");
            assert!(shown, "{}", self.why(&what));
            next = header >> 8;
        }
        let listed = self.read(regs::STATUS, 2) & regs::STATUS_CAP_LIST as u32 != 0;
        assert_eq!(
            listed,
            !seen.is_empty(),
            "{}",
            self.why("status cap-list bit")
        );
    }

    /// What the function says is mapped is what its actions mapped.
    fn check_stage2_model(&mut self) {
        let mut reported: Vec<(u64, u64)> = self.vf.mapped_ranges().collect();
        for bar in &self.dev.host.bars {
            if let Some(base) = self.mapped.get(bar.index as usize).copied().flatten() {
                let entry = (base, bar.size_bytes.next_multiple_of(PAGE));
                let at = reported.iter().position(|&r| r == entry);
                let at = at.unwrap_or_else(|| panic!("{}", self.why("mapping forgotten")));
                reported.remove(at);
            }
        }
        let rest_trapped = reported.iter().all(|&(base, _)| {
            self.vf
                .bars()
                .any(|b| b.guest_phys == base && self.wholly_trapped(b.host.index))
        });
        assert!(
            rest_trapped,
            "{}",
            self.why("mapping the actions never made")
        );
    }
}
