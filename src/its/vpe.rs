//! GICv4.0 direct injection, the pure part (IHI 0069 chapter 5.4 and 5.3's V* commands): where
//! one event of an assigned function goes -- a physical LPI of sluice's, which traps and is
//! put in a list register, or straight to a virtual LPI of a vPE -- the physical ITS commands
//! that move it from one to the other, and the redistributor values that make a vPE resident.
//!
//! One vPE per vCPU, numbered by the physical CPU it is pinned to (at most one vCPU runs on a
//! CPU, so the numbers never clash between guests).
#![forbid(unsafe_code)]

use super::command::{ItsCommand, COMMAND_BYTES};
use super::lpi::FIRST_LPI;
use crate::gicv3::its::{ITS_CMD_DW0, ITS_VCMD_DW1, ITS_VCMD_DW2, ITS_VCMD_DW3};
use crate::gicv3::redist::{GICR_PROPBASER, GICR_VPENDBASER};
use alloc::vec::Vec;

/// Virtual LPI INTID bits sluice's virtual pending tables cover (the vITS advertises 16).
pub const VPT_ID_BITS: u32 = 16;
/// Bytes of one virtual pending table: one bit per INTID (5.1.2), 64 KiB aligned.
pub const VPT_BYTES: usize = (1 << VPT_ID_BITS) / 8;
/// Alignment of a virtual pending table (GICR_VPENDBASER bits [51:16]).
pub const VPT_ALIGN: usize = 64 << 10;
/// "No doorbell" in VMAPTI/VMOVI's Dbell_pINTID (5.3.20).
pub const NO_DOORBELL: u32 = 1023;

mod opcode {
    pub const VMOVI: u8 = 0x21;
    pub const VSYNC: u8 = 0x25;
    pub const VMAPP: u8 = 0x29;
    pub const VMAPTI: u8 = 0x2a;
    pub const VINVALL: u8 = 0x2d;
}

/// Where an event of an assigned function is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To sluice's physical LPI (the list-register path), in this collection.
    Physical {
        /// Collection (physical CPU index).
        collection: u16,
    },
    /// Straight to virtual LPI `vintid` of vPE `vpe`.
    Virtual {
        /// The guest's LPI.
        vintid: u32,
        /// The vPE (the vCPU's physical CPU index).
        vpe: u16,
    },
}

/// A GICv4.0 command for the physical ITS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtualCommand {
    /// Map (or unmap) a vPE to a redistributor, with its virtual pending table.
    Vmapp {
        /// vPE ID.
        vpe: u16,
        /// Target redistributor, as MAPC takes it.
        target: u64,
        /// Physical address of its virtual pending table (64 KiB aligned).
        vpt_addr: u64,
        /// Map or unmap.
        valid: bool,
    },
    /// Map an event to a virtual LPI of a vPE, ringing `doorbell` when it is not resident.
    Vmapti {
        /// DeviceID.
        device: u32,
        /// EventID.
        event: u32,
        /// Virtual LPI.
        vintid: u32,
        /// vPE ID.
        vpe: u16,
        /// Physical doorbell LPI, or [`NO_DOORBELL`].
        doorbell: u32,
    },
    /// Move an event's virtual LPI to another vPE (and set its doorbell).
    Vmovi {
        /// DeviceID.
        device: u32,
        /// EventID.
        event: u32,
        /// New vPE ID.
        vpe: u16,
        /// Physical doorbell LPI.
        doorbell: u32,
    },
    /// Wait until earlier commands for a vPE have taken effect.
    Vsync {
        /// vPE ID.
        vpe: u16,
    },
    /// Reload the configuration of every virtual LPI of a vPE.
    Vinvall {
        /// vPE ID.
        vpe: u16,
    },
}

impl VirtualCommand {
    /// Encodes the command (5.3: VMAPP 5.3.21, VMAPTI 5.3.22, VMOVI 5.3.24, VSYNC 5.3.26,
    /// VINVALL 5.3.20).
    pub fn encode(&self) -> [u8; COMMAND_BYTES] {
        let vpe = |v: u16| ITS_VCMD_DW1::vPEID.val(v as u64);
        let (d0, d1, d2, d3) = match *self {
            Self::Vmapp {
                vpe: v,
                target,
                vpt_addr,
                valid,
            } => (
                dw0(opcode::VMAPP, 0),
                vpe(v).value,
                (ITS_VCMD_DW2::Valid.val(valid as u64) + ITS_VCMD_DW2::RDbase.val(target)).value,
                (ITS_VCMD_DW3::VPT_addr.val(vpt_addr >> 16)
                    + ITS_VCMD_DW3::VPT_size.val(VPT_ID_BITS as u64 - 1))
                .value,
            ),
            Self::Vmapti {
                device,
                event,
                vintid,
                vpe: v,
                doorbell,
            } => (
                dw0(opcode::VMAPTI, device),
                (vpe(v) + ITS_VCMD_DW1::EventID.val(event as u64)).value,
                (ITS_VCMD_DW2::vINTID.val(vintid as u64)
                    + ITS_VCMD_DW2::Dbell_pINTID.val(doorbell as u64))
                .value,
                0,
            ),
            Self::Vmovi {
                device,
                event,
                vpe: v,
                doorbell,
            } => (
                dw0(opcode::VMOVI, device),
                (vpe(v) + ITS_VCMD_DW1::EventID.val(event as u64)).value,
                (ITS_VCMD_DW2::D::SET + ITS_VCMD_DW2::Dbell_pINTID.val(doorbell as u64)).value,
                0,
            ),
            Self::Vsync { vpe: v } => (dw0(opcode::VSYNC, 0), vpe(v).value, 0, 0),
            Self::Vinvall { vpe: v } => (dw0(opcode::VINVALL, 0), vpe(v).value, 0, 0),
        };
        let mut out = [0u8; COMMAND_BYTES];
        for (i, v) in [d0, d1, d2, d3].into_iter().enumerate() {
            out[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }
}

fn dw0(opcode: u8, device: u32) -> u64 {
    (ITS_CMD_DW0::CommandType.val(opcode as u64) + ITS_CMD_DW0::DeviceID.val(device as u64)).value
}

/// One command of either generation, in the order the physical ITS must run them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A GICv3 command.
    Physical(ItsCommand),
    /// A GICv4.0 command.
    Virtual(VirtualCommand),
}

impl Step {
    /// The 32 bytes for the queue.
    pub fn encode(&self) -> [u8; COMMAND_BYTES] {
        match self {
            Self::Physical(c) => c.encode(),
            Self::Virtual(c) => c.encode(),
        }
    }
}

/// One event of an assigned function: its DeviceID and EventID at the physical ITS and the
/// physical LPI sluice wired it to (which is also its doorbell while it is virtual).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// DeviceID.
    pub device: u32,
    /// EventID (the MSI-X vector).
    pub event: u32,
    /// sluice's physical LPI for it.
    pub lpi: u32,
}

/// The commands that move `ev` from `from` to `to`; none when they are the same. Remapping a
/// mapped event is UNPREDICTABLE (5.3.11), so a changed translation DISCARDs first; a vPE
/// change alone is a VMOVI. Every virtual change ends with a VSYNC of the vPE it lands on.
pub fn reroute(ev: Event, from: Route, to: Route) -> Vec<Step> {
    let Event { device, event, lpi } = ev;
    let discard = Step::Physical(ItsCommand::Discard { device, event });
    match (from, to) {
        _ if from == to => Vec::new(),
        (Route::Physical { .. }, Route::Physical { collection }) => {
            alloc::vec![Step::Physical(ItsCommand::Movi {
                device,
                event,
                collection
            })]
        }
        (Route::Virtual { vintid: old, .. }, Route::Virtual { vintid, vpe }) if old == vintid => {
            alloc::vec![
                Step::Virtual(VirtualCommand::Vmovi {
                    device,
                    event,
                    vpe,
                    doorbell: lpi
                }),
                Step::Virtual(VirtualCommand::Vsync { vpe }),
            ]
        }
        (_, Route::Virtual { vintid, vpe }) => alloc::vec![
            discard,
            Step::Virtual(VirtualCommand::Vmapti {
                device,
                event,
                vintid,
                vpe,
                doorbell: lpi
            }),
            Step::Virtual(VirtualCommand::Vsync { vpe }),
        ],
        (Route::Virtual { .. }, Route::Physical { collection }) => alloc::vec![
            discard,
            Step::Physical(ItsCommand::Mapti {
                device,
                event,
                intid: lpi,
                collection
            }),
        ],
    }
}

/// Where an event should go: straight to the vPE of the vCPU the guest's ITS maps it to, when
/// the guest's message for it is aimed at its ITS (`aimed`), its vITS translates it
/// (`translated`: virtual LPI and vCPU) and that vCPU's vPE is mapped (`vpe_of`); otherwise
/// to sluice's physical LPI in `collection`, which delivers it (or drops it) as on GICv3.
pub fn desired_route(
    aimed: bool,
    translated: Option<(u32, usize)>,
    vpe_of: impl Fn(usize) -> Option<u16>,
    collection: u16,
) -> Route {
    match translated {
        Some((vintid, vcpu)) if aimed && vintid >= FIRST_LPI && vintid >> VPT_ID_BITS == 0 => {
            match vpe_of(vcpu) {
                Some(vpe) => Route::Virtual { vintid, vpe },
                None => Route::Physical { collection },
            }
        }
        _ => Route::Physical { collection },
    }
}

/// GICR_VPROPBASER for a guest's LPI property table at host address `host_table` covering
/// `guest_id_bits` INTID bits (its GICR_PROPBASER.IDbits + 1), clamped to what the vITS
/// offers; None when the guest's table covers no LPI at all (fewer than 14 bits).
pub fn vpropbaser(host_table: u64, guest_id_bits: u32) -> Option<u64> {
    if guest_id_bits < 14 {
        return None;
    }
    let bits = guest_id_bits.min(VPT_ID_BITS);
    Some(
        (GICR_PROPBASER::Physical_Address.val(host_table >> 12)
            + GICR_PROPBASER::Shareability::InnerShareable
            + GICR_PROPBASER::InnerCache::NormalWaRaWb
            + GICR_PROPBASER::IDbits.val(bits as u64 - 1))
        .value,
    )
}

/// Bytes of a property table covering `id_bits` INTID bits (clamped like [`vpropbaser`]):
/// one byte per LPI from 8192.
pub fn property_table_bytes(id_bits: u32) -> u64 {
    (1u64 << id_bits.clamp(14, VPT_ID_BITS)) - FIRST_LPI as u64
}

/// One step of a vPE's life on its redistributor, in the order the caller must take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VpeAction {
    /// VMAPP V=1 (and VSYNC): the ITS learns the vPE's redistributor and pending table.
    Map,
    /// GICR_VPROPBASER, then GICR_VPENDBASER.Valid = 1.
    MakeResident,
    /// GICR_VPENDBASER.Valid = 0, then wait for Dirty = 0.
    MakeNonResident,
    /// VMAPP V=0 (and VSYNC).
    Unmap,
    /// Zero its virtual pending table (nothing uses it any more).
    ClearTable,
}

/// Where one vPE stands: mapped in the ITS, resident on its redistributor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VpeState {
    /// VMAPP done.
    pub mapped: bool,
    /// GICR_VPENDBASER.Valid set.
    pub resident: bool,
}

impl VpeState {
    /// Its vCPU enters the guest with LPIs on: what makes the vPE resident (mapping it first
    /// if it is not); nothing when it already is.
    pub fn enter(&mut self) -> Vec<VpeAction> {
        let mut actions = Vec::new();
        if !self.resident {
            if !self.mapped {
                actions.push(VpeAction::Map);
            }
            actions.push(VpeAction::MakeResident);
        }
        *self = Self {
            mapped: true,
            resident: true,
        };
        actions
    }

    /// Its vCPU stops: the vPE leaves its redistributor (its table keeps what is pending).
    /// `forget` (the guest reboots or stops): it is also unmapped and its table cleared,
    /// after it stopped being used.
    pub fn leave(&mut self, forget: bool) -> Vec<VpeAction> {
        let mut actions = Vec::new();
        if self.resident {
            actions.push(VpeAction::MakeNonResident);
        }
        if forget && self.mapped {
            actions.push(VpeAction::Unmap);
        }
        if forget {
            actions.push(VpeAction::ClearTable);
        }
        *self = Self {
            mapped: self.mapped && !forget,
            resident: false,
        };
        actions
    }
}

/// GICR_VPENDBASER making the vPE whose pending table is at `vpt` resident (`valid`) or not.
pub fn vpendbaser(vpt: u64, valid: bool) -> u64 {
    (GICR_VPENDBASER::Valid.val(valid as u64)
        + GICR_VPENDBASER::Physical_Address.val(vpt >> 16)
        + GICR_VPENDBASER::InnerCache.val(7)
        + GICR_VPENDBASER::Shareability.val(1))
    .value
}

#[cfg(test)]
mod tests;
