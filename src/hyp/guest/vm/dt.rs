//! The guest's device tree: its CPUs, RAM, GIC, timer, console, PCI host bridge and command
//! line, built for each boot.

use super::VmError;
use crate::hyp::driver::host::Host;
use crate::hyp::guest::bus::VirtualBus;
use alloc::vec::Vec;
use sluice::guestdt::{self, GuestDtConfig};
use sluice::loader::GuestLayout;
use sluice::mm::guest_ram::GuestRam;
use sluice::mm::PhysRange;
use sluice::platform;
use sluice::vgic::REDIST_FRAME_BYTES;

/// The DT of boot number `boot` (given to the guest as `sluice.boot=`).
pub(super) fn build_guest_dt(
    host: &Host,
    (ram, layout, images): (&GuestRam, &GuestLayout, &platform::GuestImages),
    mpidrs: &[u64],
    pci: Option<&VirtualBus>,
    with_its: bool,
    boot: u32,
) -> Result<Vec<u8>, VmError> {
    let p = &host.platform;
    let gic = guestdt::GuestGic {
        dist: p.gic.dist,
        redist: PhysRange::new(
            p.gic.redist_regions[0].start,
            REDIST_FRAME_BYTES * mpidrs.len() as u64,
        ),
        its: if with_its {
            p.gic.its.first().copied()
        } else {
            None
        },
    };
    let cfg = GuestDtConfig {
        cpus: mpidrs.to_vec(),
        memory: ram.ipa_ranges(),
        gic,
        timer: p.timer,
        uart: Some(guestdt::GuestUart {
            base: p.uart.base,
            intid: p.uart.intid,
            clock_hz: p.uart.clock_hz.unwrap_or(24_000_000),
        }),
        // The guest learns its boot number (0, then one more per reboot).
        bootargs: alloc::format!("{} sluice.boot={boot}", images.bootargs),
        initrd: layout.initrd,
        pci: pci.map(|bus| guestdt::GuestPciHost {
            ecam: bus.layout.ecam,
            mem32: bus.layout.mem32,
            mem64: bus.layout.mem64,
            intx: bus
                .assigned()
                .filter_map(|a| Some((a.slot, a.intx_pin, a.intx_intid?)))
                .collect(),
            msi_map: with_its,
        }),
    };
    guestdt::build(&cfg).map_err(VmError::GuestDt)
}
