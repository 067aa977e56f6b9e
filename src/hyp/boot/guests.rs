//! The guests from the plan: the host's PCI buses enumerated once, `partition::plan` applied
//! to what the host has left (CPUs, RAM, functions), each guest's RAM taken from the free
//! list, the SMMU turned on, then one `Vm` per planned guest.

use crate::hyp::driver::ecam::{self, HostBus};
use crate::hyp::driver::host::Host;
use crate::hyp::guest::{dma, table, vm};
use crate::hyp::leaf::{console, profile, stop};
use alloc::boxed::Box;
use alloc::vec::Vec;
use sluice::conmux::ConsoleMux;
use sluice::partition::{self, HostFunction, HostResources, Plan};
use sluice::vpci::topology::Assignment;

/// Builds every guest and installs the guest table; any error stops sluice (a plan error
/// names the guest node).
pub fn create(host: &'static Host) {
    let buses: &'static [HostBus] = if host.platform.pci_hosts.is_empty() {
        &[]
    } else {
        Box::leak(ecam::enumerate_hosts(&host.platform.pci_hosts).into_boxed_slice())
    };
    profile::mark("pci enumeration and BARs");
    let plan = plan(host, buses);
    {
        let mut free = host.free.lock();
        for range in plan.guests.iter().flat_map(|g| &g.ram) {
            free.reserve(*range);
        }
    }
    profile::mark("plan");
    let dma_isolated = dma::enable(host, buses);
    profile::mark("smmu");
    let vms: Vec<vm::Vm> = plan
        .guests
        .iter()
        .enumerate()
        .map(|(index, guest)| {
            vm::create(host, index, guest, buses, dma_isolated).unwrap_or_else(|e| {
                stop::fatal(format_args!("{e}"));
            })
        })
        .collect();
    let names: Vec<&str> = plan.guests.iter().map(|g| g.name.as_str()).collect();
    let mux =
        ConsoleMux::new(&names).unwrap_or_else(|e| stop::fatal(format_args!("guest console: {e}")));
    console::install_mux(mux);
    table::install(vms, host.platform.cpus.len());
    // The boot CPU may run no guest (guest nodes need not use it): the SMMU's faults go to
    // a CPU that does.
    if let Some(first) = table::guests().first() {
        dma::route_interrupts(host, first.cpu_mpidrs[0]);
    }
}

fn plan(host: &Host, buses: &[HostBus]) -> Plan {
    let p = &host.platform;
    let functions: Vec<HostFunction> = buses
        .iter()
        .flat_map(|b| b.functions.iter().map(HostFunction::from))
        .collect();
    let assignment = Assignment::from_bootargs(&p.host_bootargs)
        .unwrap_or_else(|e| stop::fatal(format_args!("{e}")));
    let free = host.free.lock().ranges().to_vec();
    let resources = HostResources {
        cpus: &p.cpus,
        free_ram: &free,
        functions: &functions,
        max_ram_ranges: 1,
    };
    partition::plan(&p.guests, &p.guest, &resources, &assignment)
        .unwrap_or_else(|e| stop::fatal(format_args!("guest partition: {e}")))
}
