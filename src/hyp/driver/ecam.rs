//! The host bridges' configuration space through ECAM, and what enumerating them at boot found:
//! sluice's own view of the host's PCI hardware, with no guest in sight.

use crate::arch::mmio::MmioBase;
use alloc::vec::Vec;
use sluice::pci::bar::Window;
use sluice::pci::enumerate::{self, HostFunction, Windows};
use sluice::pci::{Bdf, ConfigAccess};
use sluice::platform::{PciHost, PciSpace};

/// A host bridge's ECAM window, identity-mapped as device memory.
pub struct Ecam {
    regs: MmioBase,
    first_bus: u8,
    last_bus: u8,
}

impl Ecam {
    /// The ECAM of `host`.
    pub fn new(host: &PciHost) -> Self {
        // SAFETY: the DT's ECAM window, mapped as Device memory by the EL2 identity map; every
        // access below stays inside it (bus range checked, offset < 4096).
        let regs = unsafe { MmioBase::new(host.ecam.start as usize) };
        Self {
            regs,
            first_bus: host.bus_start,
            last_bus: host.bus_end,
        }
    }

    fn offset(&self, bdf: Bdf, offset: u16) -> Option<usize> {
        (bdf.bus >= self.first_bus && bdf.bus <= self.last_bus && offset < 4096)
            .then(|| (bdf.ecam_offset(self.first_bus) + (offset & !3) as u64) as usize)
    }
}

/// Config accesses through fallible accessors: some host bridges answer a request to a
/// missing or broken function with an abort rather than all ones; either way the access reads
/// as all ones (a master abort) and sluice goes on.
impl ConfigAccess for Ecam {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        self.offset(bdf, offset)
            .and_then(|o| self.regs.try_read(o, 4))
            .map_or(u32::MAX, |v| v as u32)
    }

    fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
        if let Some(o) = self.offset(bdf, offset) {
            if !self.regs.try_write(o, 4, u64::from(value)) {
                log::warn!("pci {bdf}: config write at {offset:#x} aborted by the host bridge");
            }
        }
    }
}

/// Everything found behind one host bridge.
pub struct HostBus {
    /// Its DT description.
    pub host: PciHost,
    /// Its config space.
    pub ecam: Ecam,
    /// Every function found, BARs assigned, quiesced.
    pub functions: Vec<HostFunction>,
}

/// Enumerates every host bridge of the platform.
pub fn enumerate_hosts(hosts: &[PciHost]) -> Vec<HostBus> {
    hosts
        .iter()
        .map(|host| {
            let ecam = Ecam::new(host);
            log::info!(
                "pci host bridge {}: ECAM {} buses {}-{}",
                host.node_path,
                host.ecam,
                host.bus_start,
                host.bus_end
            );
            let mut windows = windows_of(host);
            let functions = enumerate::enumerate(&ecam, host.bus_start, host.bus_end, &mut windows);
            for f in &functions {
                log_function(f);
            }
            take_over_from_firmware(&ecam, &functions);
            HostBus {
                host: host.clone(),
                ecam,
                functions,
            }
        })
        .collect()
}

/// Resets every endpoint firmware left decoding or mastering (U-Boot's NIC after `dhcp`, the
/// disk it booted from): enumeration already turned decode and bus mastering off and kept the
/// firmware's BARs; the reset drops the rings and DMA addresses firmware programmed, so the
/// guest's driver starts from the device's reset state as it would on a cold boot.
fn take_over_from_firmware(ecam: &Ecam, functions: &[HostFunction]) {
    for f in functions.iter().filter(|f| f.left_enabled_by_firmware()) {
        log::info!(
            "pci {}: left enabled by firmware (command {:#06x}): quiesced, BARs kept, resetting",
            f.bdf,
            f.firmware_command
        );
        super::reset::reset_function(ecam, functions, f.bdf);
    }
}

fn windows_of(host: &PciHost) -> Windows {
    let find = |space| {
        host.windows
            .iter()
            .find(|w| w.space == space)
            .map(|w| Window::new(w.cpu, w.pci_addr))
    };
    Windows {
        mem32: find(PciSpace::Mem32),
        mem64: find(PciSpace::Mem64),
    }
}

fn log_function(f: &HostFunction) {
    log::info!(
        "pci {} {:04x}:{:04x} class {:06x}{}",
        f.bdf,
        f.vendor_id,
        f.device_id,
        f.class_revision >> 8,
        if f.is_bridge { " (bridge)" } else { "" }
    );
    for bar in &f.bars {
        log::info!(
            "pci {}   bar {} {:?} {:#x} ({} KiB)",
            f.bdf,
            bar.index,
            bar.kind,
            bar.host_phys,
            bar.size_bytes >> 10
        );
    }
}
