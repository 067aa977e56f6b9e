//! Resetting an assigned function between two guests (or two boots of one guest), so nothing a
//! guest left in the device -- queues, DMA addresses, interrupt state -- outlives it.
//!
//! The method is the best one the function offers: a Function Level Reset (PCIe Base 4.0,
//! 6.6.2) when its Device Capabilities advertise it; otherwise a secondary bus reset of the
//! bridge above it when it is alone behind that bridge; otherwise a D3hot -> D0 power cycle
//! (PCI PM 1.2, 5.4.1) when that resets it (No_Soft_Reset clear); otherwise, for a virtio
//! device, the reset its own specification defines (device_status written 0, then read back
//! until 0: virtio 1.2, 2.4 and 4.1.4.3.2). A function with none of these cannot be handed
//! over in a known state. The hypervisor saves the
//! header registers that hold its own assignment (BARs, ROM) before the reset and restores
//! them after, since every method clears them. Waiting is the caller's: it owns the clock.
#![forbid(unsafe_code)]

use super::enumerate::{capabilities, HostFunction};
use super::regs::{self, cap};
use super::{Bdf, ConfigAccess};

/// PCIe capability: Device Capabilities, Device Control and Device Status offsets.
const EXP_DEVCAP: u16 = 0x04;
const EXP_DEVCTL: u16 = 0x08;
const EXP_DEVSTA: u16 = 0x0a;
/// Device Capabilities: Function Level Reset Capability.
const DEVCAP_FLR: u32 = 1 << 28;
/// Device Control: Initiate Function Level Reset.
const DEVCTL_BCR_FLR: u16 = 1 << 15;
/// Device Status: Transactions Pending.
const DEVSTA_TRPND: u16 = 1 << 5;
/// PM capability: Power Management Control/Status offset.
const PM_CTRL: u16 = 0x04;
const PM_CTRL_STATE_MASK: u16 = 0x3;
const PM_STATE_D3HOT: u16 = 0x3;
const PM_CTRL_NO_SOFT_RESET: u16 = 1 << 3;
/// The PCI vendor ID of virtio devices (virtio 1.2, 4.1.2).
const VIRTIO_VENDOR_ID: u16 = 0x1af4;
/// Virtio vendor capability: cfg_type, bar and offset fields (virtio 1.2, 4.1.4).
const VIRTIO_CAP_CFG_TYPE: u16 = 3;
const VIRTIO_CAP_BAR: u16 = 4;
const VIRTIO_CAP_OFFSET: u16 = 8;
const VIRTIO_CAP_LENGTH: u16 = 12;
/// cfg_type of the common configuration structure (VIRTIO_PCI_CAP_COMMON_CFG).
const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
/// Offset of the 8-bit device_status in the common configuration structure (virtio 1.2,
/// 4.1.4.3).
pub const VIRTIO_DEVICE_STATUS: u64 = 0x14;
/// How long a virtio device may take to read back device_status 0 after the write.
pub const VIRTIO_RESET_TIMEOUT_MS: u64 = 1000;

/// Milliseconds after an FLR before the function may be accessed (PCIe Base 4.0, 6.6.2).
pub const FLR_WAIT_MS: u64 = 100;
/// Milliseconds a secondary bus reset is held, then the wait after it (PCIe Base 4.0, 6.6.1).
pub const BUS_RESET_HOLD_MS: u64 = 2;
/// Milliseconds after a conventional reset before config requests (PCIe Base 4.0, 6.6.1).
pub const BUS_RESET_WAIT_MS: u64 = 100;
/// Milliseconds after a D3hot -> D0 transition (PCI PM 1.2, 5.6.1).
pub const D3HOT_WAIT_MS: u64 = 10;

/// How a function can be reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetMethod {
    /// Function Level Reset through the PCIe capability at this offset.
    Flr {
        /// PCIe capability offset.
        exp_cap: u16,
    },
    /// Secondary bus reset of the bridge above (the function is alone behind it).
    BusReset {
        /// The bridge.
        bridge: Bdf,
    },
    /// D3hot then D0 through the PM capability at this offset.
    PowerCycle {
        /// PM capability offset.
        pm_cap: u16,
    },
    /// The virtio device reset: 0 written to device_status in the common configuration
    /// structure, which lies `offset` bytes into memory BAR `bar`. The caller does the write
    /// and the wait through [`virtio_status_address`], with memory decode on and bus
    /// mastering off.
    Virtio {
        /// BAR holding the common configuration structure.
        bar: u8,
        /// Its offset in the BAR.
        offset: u32,
    },
}

impl core::fmt::Display for ResetMethod {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Flr { .. } => write!(f, "function level reset"),
            Self::BusReset { bridge } => write!(f, "secondary bus reset by {bridge}"),
            Self::PowerCycle { .. } => write!(f, "D3hot/D0 power cycle"),
            Self::Virtio { .. } => write!(f, "virtio device reset"),
        }
    }
}

/// The best reset `bdf` offers; `alone_behind` is the bridge above it when the function is the
/// only one on that bridge's secondary bus (so a bus reset touches nothing else).
pub fn choose(cfg: &impl ConfigAccess, bdf: Bdf, alone_behind: Option<Bdf>) -> Option<ResetMethod> {
    let caps = capabilities(cfg, bdf);
    let find = |id| caps.iter().find(|&&(_, c)| c == id).map(|&(o, _)| o);
    if let Some(exp_cap) = find(cap::EXP) {
        if cfg.read32(bdf, exp_cap + EXP_DEVCAP) & DEVCAP_FLR != 0 {
            return Some(ResetMethod::Flr { exp_cap });
        }
    }
    if let Some(bridge) = alone_behind {
        return Some(ResetMethod::BusReset { bridge });
    }
    if let Some(pm_cap) = find(cap::PM) {
        if cfg.read16(bdf, pm_cap + PM_CTRL) & PM_CTRL_NO_SOFT_RESET == 0 {
            return Some(ResetMethod::PowerCycle { pm_cap });
        }
    }
    if cfg.read16(bdf, regs::VENDOR_ID) != VIRTIO_VENDOR_ID {
        return None;
    }
    caps.iter()
        .filter(|&&(_, id)| id == cap::VENDOR)
        .find(|&&(o, _)| cfg.read8(bdf, o + VIRTIO_CAP_CFG_TYPE) == VIRTIO_PCI_CAP_COMMON_CFG)
        .filter(|&&(o, _)| cfg.read32(bdf, o + VIRTIO_CAP_LENGTH) as u64 > VIRTIO_DEVICE_STATUS)
        .map(|&(o, _)| ResetMethod::Virtio {
            bar: cfg.read8(bdf, o + VIRTIO_CAP_BAR),
            offset: cfg.read32(bdf, o + VIRTIO_CAP_OFFSET),
        })
}

/// The host physical address of a virtio function's device_status register, from the BARs
/// sluice assigned; `None` unless `method` is the virtio reset and the register lies inside
/// one of those memory BARs.
pub fn virtio_status_address(function: &HostFunction, method: ResetMethod) -> Option<u64> {
    let ResetMethod::Virtio { bar, offset } = method else {
        return None;
    };
    let register = (offset as u64).checked_add(VIRTIO_DEVICE_STATUS)?;
    function
        .bars
        .iter()
        .find(|b| {
            b.index == bar
                && matches!(
                    b.kind,
                    super::bar::BarKind::Memory32 | super::bar::BarKind::Memory64
                )
        })
        .filter(|b| register < b.size_bytes)
        .map(|b| b.host_phys + register)
}

/// The bridge whose secondary bus holds `bdf` and nothing else, if any: a bus reset there
/// resets that function alone.
pub fn lone_bridge_above(
    cfg: &impl ConfigAccess,
    functions: &[HostFunction],
    bdf: Bdf,
) -> Option<Bdf> {
    if bdf.bus == 0
        || functions
            .iter()
            .any(|f| f.bdf.bus == bdf.bus && f.bdf != bdf)
    {
        return None;
    }
    functions
        .iter()
        .filter(|f| f.is_bridge)
        .find(|f| (cfg.read32(f.bdf, regs::PRIMARY_BUS) >> 8) as u8 == bdf.bus)
        .map(|f| f.bdf)
}

/// Whether the function still has DMA in flight (wait before an FLR, PCIe Base 4.0, 6.6.2).
pub fn transactions_pending(cfg: &impl ConfigAccess, bdf: Bdf, method: ResetMethod) -> bool {
    match method {
        ResetMethod::Flr { exp_cap } => cfg.read16(bdf, exp_cap + EXP_DEVSTA) & DEVSTA_TRPND != 0,
        _ => false,
    }
}

/// Starts the reset; the caller then waits `first_wait_ms(method)` and calls [`finish`].
pub fn start(cfg: &impl ConfigAccess, bdf: Bdf, method: ResetMethod) {
    match method {
        ResetMethod::Flr { exp_cap } => {
            let control = cfg.read16(bdf, exp_cap + EXP_DEVCTL);
            cfg.write16(bdf, exp_cap + EXP_DEVCTL, control | DEVCTL_BCR_FLR);
        }
        ResetMethod::BusReset { bridge } => {
            let control = cfg.read16(bridge, regs::BRIDGE_CONTROL);
            cfg.write16(
                bridge,
                regs::BRIDGE_CONTROL,
                control | regs::BRIDGE_CTL_BUS_RESET,
            );
        }
        ResetMethod::PowerCycle { pm_cap } => {
            let control = cfg.read16(bdf, pm_cap + PM_CTRL) & !PM_CTRL_STATE_MASK;
            cfg.write16(bdf, pm_cap + PM_CTRL, control | PM_STATE_D3HOT);
        }
        ResetMethod::Virtio { .. } => {} // a device register, written by the caller
    }
}

/// Milliseconds to wait between [`start`] and [`finish`].
pub fn first_wait_ms(method: ResetMethod) -> u64 {
    match method {
        ResetMethod::Flr { .. } => FLR_WAIT_MS,
        ResetMethod::BusReset { .. } => BUS_RESET_HOLD_MS,
        ResetMethod::PowerCycle { .. } => D3HOT_WAIT_MS,
        ResetMethod::Virtio { .. } => 0, // the caller polls device_status instead
    }
}

/// Ends the reset; returns the milliseconds to wait before the function is used again.
pub fn finish(cfg: &impl ConfigAccess, bdf: Bdf, method: ResetMethod) -> u64 {
    match method {
        ResetMethod::Flr { .. } => 0,
        ResetMethod::BusReset { bridge } => {
            let control = cfg.read16(bridge, regs::BRIDGE_CONTROL);
            cfg.write16(
                bridge,
                regs::BRIDGE_CONTROL,
                control & !regs::BRIDGE_CTL_BUS_RESET,
            );
            BUS_RESET_WAIT_MS
        }
        ResetMethod::PowerCycle { pm_cap } => {
            let control = cfg.read16(bdf, pm_cap + PM_CTRL) & !PM_CTRL_STATE_MASK;
            cfg.write16(bdf, pm_cap + PM_CTRL, control);
            D3HOT_WAIT_MS
        }
        ResetMethod::Virtio { .. } => 0,
    }
}

/// The header registers that hold sluice's assignment of a type-0 function: six BARs and the
/// expansion ROM, as raw register values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedHeader {
    bars: [u32; 6],
    rom: u32,
}

/// Reads the assignment registers before a reset.
pub fn save_header(cfg: &impl ConfigAccess, bdf: Bdf) -> SavedHeader {
    SavedHeader {
        bars: core::array::from_fn(|i| cfg.read32(bdf, regs::BAR0 + 4 * i as u16)),
        rom: cfg.read32(bdf, regs::ROM_ADDRESS),
    }
}

/// Writes the assignment back after a reset, leaving the function quiesced: no decode, no bus
/// mastering, INTx disabled.
pub fn restore_header(cfg: &impl ConfigAccess, bdf: Bdf, saved: &SavedHeader) {
    cfg.write_command(bdf, regs::COMMAND_INTX_DISABLE);
    for (i, &value) in saved.bars.iter().enumerate() {
        cfg.write32(bdf, regs::BAR0 + 4 * i as u16, value);
    }
    cfg.write32(bdf, regs::ROM_ADDRESS, saved.rom);
}

#[cfg(test)]
mod tests;
