//! The capability chain a guest sees: only capabilities known to be safe, each with its own
//! register policy (PCI Local Bus 3.0 6.7, PCI PM 1.2, PCIe Base 4.0 7.5.3): power
//! management, MSI, MSI-X, PCI Express, and vendor-specific ones read-only (virtio finds its
//! register blocks through them). Anything else in 0x40..0xff reads zero.
#![forbid(unsafe_code)]

use crate::pci::regs::cap;
use alloc::vec::Vec;

/// One capability kept in the guest's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptCapability {
    /// Offset in config space (same as on the host).
    pub offset: u16,
    /// Capability ID.
    pub id: u8,
    /// Bytes the capability occupies.
    pub length: u16,
    /// Offset of the next kept capability, 0 at the end.
    pub next: u8,
}

/// How a guest access to a byte inside a kept capability is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapPolicy {
    /// Read from hardware; writes dropped.
    ReadOnly,
    /// Read from hardware; writes forwarded for the bits in the mask, others keep the
    /// hardware's value.
    Masked {
        /// Guest-writable bits of the 16-bit register.
        writable: u16,
        /// Bits that are write-1-to-clear (forwarded only when written as 1).
        rw1c: u16,
    },
    /// A shadow copy taken from hardware when the function is assigned; the guest changes
    /// only the writable bits of the shadow, never the hardware.
    Shadow {
        /// Guest-writable bits of the shadow.
        writable: u16,
    },
}

/// Whether a capability may appear to the guest at all, and its size.
fn allowed_length(id: u8, control: u16) -> Option<u16> {
    match id {
        cap::PM => Some(8),
        cap::EXP => Some(0x3c),
        cap::MSIX => Some(12),
        // Vendor-specific capabilities describe the device (virtio's locate its register
        // blocks); they are shown read-only, with the length their own header gives.
        cap::VENDOR => Some((control & 0xff).max(4)),
        cap::MSI => {
            let is_64 = control & (1 << 7) != 0;
            let per_vector_mask = control & (1 << 8) != 0;
            Some(match (is_64, per_vector_mask) {
                (false, false) => 10,
                (true, false) => 14,
                (false, true) => 20,
                (true, true) => 24,
            })
        }
        _ => None,
    }
}

/// Filters a host chain (offset, id, control word) down to the allowed capabilities and
/// relinks it. A capability overlapping one kept before it is dropped: only broken hardware
/// builds such a chain, and showing it would make one capability's header read through the
/// other's registers.
pub fn filter_chain(host: &[(u16, u8, u16)]) -> Vec<KeptCapability> {
    let mut kept: Vec<KeptCapability> = Vec::new();
    for &(offset, id, control) in host {
        let Some(length) = allowed_length(id, control) else {
            continue;
        };
        let overlaps =
            |c: &KeptCapability| offset < c.offset + c.length && c.offset < offset + length;
        if !kept.iter().any(overlaps) {
            kept.push(KeptCapability {
                offset,
                id,
                length,
                next: 0,
            });
        }
    }
    for i in 0..kept.len() {
        kept[i].next = kept.get(i + 1).map_or(0, |c| c.offset as u8);
    }
    kept
}

/// Policy for the 16-bit register at `offset` within a kept capability (offset relative to
/// the capability's start; the header (ID and next pointer) is handled by the caller).
pub fn policy(id: u8, offset: u16) -> CapPolicy {
    match (id, offset) {
        // PMCSR: the guest may not change the power state (D3hot would lose BAR contents).
        (cap::PM, 4..=7) => CapPolicy::Shadow { writable: 0 },
        // Device Control: error reporting enables, relaxed ordering, no snoop, max read
        // request. Not max payload (must match the topology) nor the FLR trigger.
        (cap::EXP, 8) => CapPolicy::Masked {
            writable: 0x781f,
            rw1c: 0,
        },
        // Device Status: error bits are RW1C.
        (cap::EXP, 0xa) => CapPolicy::Masked {
            writable: 0,
            rw1c: 0x000f,
        },
        // MSI and MSI-X are offered but stay disabled until their data paths exist (the
        // guest has no MSI controller yet): enable bits never stick, the rest is storage.
        (cap::MSI, 2) => CapPolicy::Shadow { writable: 0 },
        (cap::MSI, 4..) => CapPolicy::Shadow { writable: 0xffff },
        (cap::MSIX, 2) => CapPolicy::Shadow { writable: 1 << 14 },
        _ => CapPolicy::ReadOnly,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capability_inside_an_earlier_kept_one_is_dropped_and_the_chain_relinked() {
        let host = [
            (0x40, cap::EXP, 0x0002),
            (0x50, cap::PM, 0x0003), // inside the PCIe capability's 0x3c bytes
            (0x80, cap::MSIX, 0x0004),
        ];
        let kept = filter_chain(&host);
        let shape: Vec<(u16, u8, u8)> = kept.iter().map(|c| (c.offset, c.id, c.next)).collect();
        assert_eq!(shape, [(0x40, cap::EXP, 0x80), (0x80, cap::MSIX, 0)]);
    }

    #[test]
    fn an_earlier_capability_overlapping_a_later_kept_one_keeps_chain_order() {
        let host = [(0x60, cap::MSIX, 0x0004), (0x5c, cap::PM, 0x0003)];
        let kept = filter_chain(&host);
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].offset, kept[0].next), (0x60, 0));
    }
}
