//! The guest-physical regions that trap (never mapped in stage 2), and which emulator owns
//! each: the table the MMIO dispatcher (`guest::mmio`) reads.

use crate::hyp::driver::host::Host;
use alloc::vec::Vec;
use sluice::mm::PhysRange;
use sluice::vgic::REDIST_FRAME_BYTES;
use sluice::vuart::PL011_MMIO_SIZE;

/// What emulates a trapped region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulator {
    /// The virtual GIC distributor.
    GicDistributor,
    /// The virtual GIC redistributors, one 128 KiB frame pair per vCPU.
    GicRedistributors,
    /// The guest's PL011 console.
    Uart,
    /// The virtual PCI host bridge's configuration space.
    PciEcam,
    /// The guest's virtual ITS.
    Its,
}

/// One trapped guest-physical region.
#[derive(Clone, Copy, Debug)]
pub struct MmioRegion {
    /// Guest-physical addresses covered.
    pub range: PhysRange,
    /// Who emulates them.
    pub emulator: Emulator,
}

/// GICD is a 64 KiB frame (IHI 0069, 12.8).
const GICD_FRAME_BYTES: u64 = 0x1_0000;

/// The regions every guest has (GICD, GICR, PL011); `vm::create` adds the vITS and the
/// virtual ECAM when the guest has them.
pub fn fixed(host: &Host, vcpu_count: usize) -> Vec<MmioRegion> {
    let p = &host.platform;
    Vec::from([
        MmioRegion {
            range: PhysRange::new(p.gic.dist.start, GICD_FRAME_BYTES),
            emulator: Emulator::GicDistributor,
        },
        MmioRegion {
            range: PhysRange::new(
                p.gic.redist_regions[0].start,
                REDIST_FRAME_BYTES * vcpu_count as u64,
            ),
            emulator: Emulator::GicRedistributors,
        },
        MmioRegion {
            range: PhysRange::new(p.uart.base.start, PL011_MMIO_SIZE),
            emulator: Emulator::Uart,
        },
    ])
}
