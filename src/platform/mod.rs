//! The host machine, read from its flattened device tree: memory, CPUs, GIC, console, PSCI,
//! timer, the guests' boot modules and `"sluice,guest"` nodes ([`guests`]), PCIe host bridges
//! (with their `iommu-map` / `msi-map`) and SMMUv3s. Nothing about the machine is known anywhere
//! else in sluice.
//!
//! A malformed tree gives a [`PlatformError`], never a panic: properties are decoded here with
//! explicit cell counts rather than through helpers that assume well-formed input.
#![forbid(unsafe_code)]

pub mod guests;
mod iommu;
mod tree;

use crate::mm::PhysRange;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
pub use guests::{CpuRequest, GuestError, GuestSpec};
pub use iommu::{IdMap, IdMapEntry, IdMapping, SmmuIrqs, SmmuNode, Trigger, WiredIrq};
pub use tree::console_base;

/// Why the host DT cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformError {
    /// Not a valid flattened device tree.
    BadDtb(&'static str),
    /// No `device_type = "memory"` node with a usable `reg`.
    NoMemory,
    /// No CPU under `/cpus`.
    NoCpus,
    /// No `arm,gic-v3` interrupt controller (sluice needs GICv3).
    NoGic,
    /// No PL011 console (`/chosen/stdout-path` or an `arm,pl011` node).
    NoUart,
    /// No `arm,psci` node with a method.
    NoPsci,
    /// No `arm,armv8-timer` node with its four interrupts.
    NoTimer,
    /// No `/chosen` module compatible with `multiboot,kernel`.
    NoKernelModule,
    /// The `"sluice,guest"` nodes are inconsistent.
    Guest(GuestError),
    /// A property that cannot be decoded.
    Malformed {
        /// Node path.
        node: String,
        /// Property name.
        property: &'static str,
    },
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadDtb(why) => write!(f, "not a valid device tree: {why}"),
            Self::NoMemory => write!(f, "device tree has no memory node"),
            Self::NoCpus => write!(f, "device tree has no CPU under /cpus"),
            Self::NoGic => write!(f, "device tree has no GICv3 (compatible \"arm,gic-v3\")"),
            Self::NoUart => write!(f, "device tree has no PL011 console (stdout-path or \"arm,pl011\")"),
            Self::NoPsci => write!(f, "device tree has no PSCI node with a method"),
            Self::NoTimer => write!(f, "device tree has no \"arm,armv8-timer\" with its interrupts"),
            Self::NoKernelModule => write!(
                f,
                "device tree has no /chosen module compatible with \"multiboot,kernel\" (no guest kernel: \
                 load one with -device guest-loader or a dom0less-style module node)"
            ),
            Self::Guest(e) => write!(f, "guest description: {e}"),
            Self::Malformed { node, property } => write!(f, "device tree node {node}: malformed \"{property}\""),
        }
    }
}

/// Result of parsing.
pub type Result<T> = core::result::Result<T, PlatformError>;

/// A CPU listed in `/cpus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpu {
    /// Its MPIDR affinity (the `reg` value).
    pub mpidr: u64,
}

/// The GICv3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gic {
    /// GICD frame.
    pub dist: PhysRange,
    /// Redistributor regions.
    pub redist_regions: Vec<PhysRange>,
    /// ITS frames.
    pub its: Vec<PhysRange>,
    /// INTID of the virtual CPU interface maintenance interrupt (a PPI).
    pub maintenance_intid: u32,
}

/// The console UART.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uart {
    /// Register frame.
    pub base: PhysRange,
    /// INTID of its interrupt (SPI number + 32).
    pub intid: u32,
    /// Reference clock, if the DT gives one.
    pub clock_hz: Option<u32>,
    /// DT path of the node.
    pub path: String,
}

/// How the host firmware is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conduit {
    /// SMC.
    Smc,
    /// HVC.
    Hvc,
}

/// PSCI firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Psci {
    /// Its conduit.
    pub method: Conduit,
}

/// A private peripheral interrupt as the DT gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ppi {
    /// INTID (PPI number + 16).
    pub intid: u32,
    /// The DT's flags cell (trigger type and CPU mask).
    pub flags: u32,
}

/// The architected timer's interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimerIrqs {
    /// Secure physical timer.
    pub secure_phys: Ppi,
    /// Non-secure physical timer.
    pub nonsecure_phys: Ppi,
    /// Virtual timer.
    pub virt: Ppi,
    /// EL2 physical timer.
    pub hyp_phys: Ppi,
}

/// The guest images the boot loader left in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestImages {
    /// The kernel Image.
    pub kernel: PhysRange,
    /// The guest's command line.
    pub bootargs: String,
    /// The initrd, if any.
    pub ramdisk: Option<PhysRange>,
}

/// What a host bridge window decodes (`ranges` space code, PCI Bus Binding to OF 2.2.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PciSpace {
    /// I/O ports.
    Io,
    /// 32-bit memory.
    Mem32,
    /// 64-bit memory.
    Mem64,
}

/// One `ranges` entry of a host bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciWindow {
    /// Space decoded.
    pub space: PciSpace,
    /// Prefetchable.
    pub prefetchable: bool,
    /// PCI bus address of the start.
    pub pci_addr: u64,
    /// CPU addresses.
    pub cpu: PhysRange,
}

/// One `interrupt-map` entry: legacy INTx of a device number and pin, as a GIC INTID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntxRoute {
    /// Device number (matched under the map's mask).
    pub device: u8,
    /// Pin, 1 (INTA) .. 4.
    pub pin: u8,
    /// GIC INTID it raises (an SPI).
    pub intid: u32,
}

/// A `pci-host-ecam-generic` host bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciHost {
    /// ECAM window.
    pub ecam: PhysRange,
    /// First bus number.
    pub bus_start: u8,
    /// Last bus number.
    pub bus_end: u8,
    /// DT path of the node.
    pub node_path: String,
    /// Address windows from `ranges`.
    pub windows: Vec<PciWindow>,
    /// INTx routing from `interrupt-map`.
    pub intx_routes: Vec<IntxRoute>,
    /// `interrupt-map-mask` applied to (device << 11, pin) before matching.
    pub intx_mask: (u32, u32),
    /// `iommu-map` and `iommu-map-mask`: requester ID to IOMMU and StreamID.
    pub iommu_map: IdMap,
    /// `msi-map` and `msi-map-mask`: requester ID to MSI controller and DeviceID.
    pub msi_map: IdMap,
}

impl PciHost {
    /// The GIC INTID that pin `pin` of root-bus device `device` raises.
    pub fn intx_intid(&self, device: u8, pin: u8) -> Option<u32> {
        let (addr_mask, pin_mask) = self.intx_mask;
        let addr = (device as u32) << 11 & addr_mask;
        self.intx_routes
            .iter()
            .find(|r| {
                (r.device as u32) << 11 & addr_mask == addr
                    && r.pin as u32 & pin_mask == pin as u32 & pin_mask
            })
            .map(|r| r.intid)
    }

    /// The IOMMU (by phandle) and StreamID that DMA from requester ID `rid` (bus << 8 |
    /// device << 3 | function) goes through.
    pub fn iommu_stream(&self, rid: u16) -> IdMapping {
        self.iommu_map.map(u32::from(rid))
    }

    /// The MSI controller (by phandle) and DeviceID that MSIs from `rid` carry.
    pub fn msi_device_id(&self, rid: u16) -> IdMapping {
        self.msi_map.map(u32::from(rid))
    }
}

/// Everything sluice needs to know about the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// RAM.
    pub memory: Vec<PhysRange>,
    /// RAM that firmware keeps (`/memreserve/`, `/reserved-memory`).
    pub reserved: Vec<PhysRange>,
    /// Size of the DTB blob.
    pub dtb_size_bytes: u64,
    /// CPUs, in DT order.
    pub cpus: Vec<Cpu>,
    /// The GIC.
    pub gic: Gic,
    /// The console.
    pub uart: Uart,
    /// PSCI.
    pub psci: Psci,
    /// Timer interrupts.
    pub timer: TimerIrqs,
    /// The guest's images: the `/chosen` modules, or, when guest nodes exist, those of the
    /// first guest node (so that a single-guest hypervisor boots guest 0 of a partitioned
    /// tree).
    pub guest: GuestImages,
    /// The guest nodes, checked, in tree order; empty when there is none (one guest with
    /// [`Platform::guest`], every CPU, every endpoint: see `crate::partition`).
    pub guests: Vec<GuestSpec>,
    /// PCIe host bridges (passed through in a later stage; not given to the guest yet).
    pub pci_hosts: Vec<PciHost>,
    /// SMMUv3s (`arm,smmu-v3`), in DT order.
    pub smmus: Vec<SmmuNode>,
    /// sluice's own command line (`/chosen/bootargs`).
    pub host_bootargs: String,
}

impl Platform {
    /// Every boot module range (kernels and initrds) of the single guest or of every guest
    /// node: RAM no guest may be given, as sluice keeps pristine copies of the images there.
    pub fn boot_modules(&self) -> Vec<PhysRange> {
        let images = core::iter::once(&self.guest).chain(self.guests.iter().map(|g| &g.images));
        let mut ranges: Vec<PhysRange> = images
            .flat_map(|i| core::iter::once(i.kernel).chain(i.ramdisk))
            .collect();
        ranges.sort();
        ranges.dedup();
        ranges
    }

    /// The SMMU an `iommu-map` entry names.
    pub fn smmu_by_phandle(&self, phandle: u32) -> Option<&SmmuNode> {
        self.smmus.iter().find(|s| s.phandle == Some(phandle))
    }
}

/// Parses a host DTB.
pub fn parse(dtb: &[u8]) -> Result<Platform> {
    tree::parse(dtb)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_guests;
#[cfg(test)]
mod tests_iommu;
