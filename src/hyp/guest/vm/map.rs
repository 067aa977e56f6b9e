//! The guest's physical address map from the host's description: what the guest sees at host
//! addresses, the host's PCI windows and BARs, and the RAM carved for it (`sluice::guestmap`).

use super::{Host, VirtualBus, VmError};
use crate::arch::cpu;
use alloc::string::String;
use alloc::vec::Vec;
use sluice::guestmap::{self, GuestMap, Placement};
use sluice::mm::guest_ram::GuestRam;
use sluice::mm::pagetable::Stage2Layout;
use sluice::mm::PhysRange;

/// Lays out the guest's physical address space: its RAM banks (translated when an SMMU
/// isolates DMA, identity-mapped, and said so once, when nothing does) and its PCI windows.
/// `label` names the guest in the log lines (`Vm::label`).
pub(super) fn plan_map(
    host: &Host,
    label: &str,
    host_ram: PhysRange,
    dma_isolated: bool,
    pci: Option<&VirtualBus>,
) -> Result<GuestMap, VmError> {
    let p = &host.platform;
    let mut devices = Vec::from([p.gic.dist, p.uart.base]);
    devices.extend(p.gic.redist_regions.iter().chain(&p.gic.its).copied());
    let mut host_pci = Vec::new();
    for h in &p.pci_hosts {
        host_pci.push(h.ecam);
        host_pci.extend(h.windows.iter().map(|w| w.cpu));
    }
    let host_bars: Vec<PhysRange> = pci
        .iter()
        .flat_map(|bus| bus.hosts.iter())
        .flat_map(|h| &h.functions)
        .flat_map(|f| f.bars.iter().chain(&f.rom))
        .map(|b| b.host_range())
        .collect();
    let placement = if dma_isolated {
        Placement::Translated
    } else {
        log::warn!(
            "DMA NOT ISOLATED: no usable SMMU, so guest RAM is identity-mapped and a \
             passed-through device can reach any host memory"
        );
        Placement::Identity
    };
    let map = guestmap::plan(&guestmap::Request {
        host_ram: &[host_ram],
        placement,
        devices: &devices,
        host_pci: &host_pci,
        host_bars: &host_bars,
        host_memory: &p.memory,
        ipa_bits: Stage2Layout::from_pa_range(cpu::pa_range()).input_bits,
        with_pci: pci.is_some(),
    })
    .map_err(VmError::Map)?;
    for bank in map.ram.banks() {
        log::info!(
            "{label} RAM: IPA {} -> host {} ({})",
            bank.ipa,
            bank.host(),
            if bank.is_identity() {
                "identity"
            } else {
                "translated"
            }
        );
    }
    if map.pci_on_host_windows {
        log::info!("{label} PCI: RAM leaves no other room, so a window reuses host PCI addresses");
    }
    Ok(map)
}

/// "IPA a..b, c..d": the guest's RAM banks, for the log.
pub(super) fn ram_list(ram: &GuestRam) -> String {
    let ranges: Vec<String> = ram
        .banks()
        .iter()
        .map(|b| alloc::format!("{}", b.ipa))
        .collect();
    alloc::format!("IPA {}", ranges.join(", "))
}
