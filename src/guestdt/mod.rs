//! The guest's device tree, generated from what sluice gives it: vCPUs, RAM, a virtual GICv3,
//! the architected timer, PSCI over HVC, the console UART and `/chosen`. Host-only devices
//! (SMMU, fw-cfg, virtio-mmio, the host PCIe bridge) never appear. A virtual PCI host bridge
//! node is added here by the vPCI layer once devices are passed through.
#![forbid(unsafe_code)]

use crate::mm::PhysRange;
use crate::platform::TimerIrqs;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use vm_fdt::FdtWriter;

const GIC_PHANDLE: u32 = 1;
const CLOCK_PHANDLE: u32 = 2;
const ITS_PHANDLE: u32 = 3;
const GIC_SPI: u32 = 0;
const GIC_PPI: u32 = 1;
const IRQ_TYPE_LEVEL_HIGH: u32 = 4;
/// Rate of the fixed clock that feeds the guest's PL011 when the host DT gives none.
pub const DEFAULT_UART_CLOCK_HZ: u32 = 24_000_000;

/// The guest's view of the GICv3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestGic {
    /// GICD frame.
    pub dist: PhysRange,
    /// One redistributor region, 128 KiB per vCPU.
    pub redist: PhysRange,
    /// An ITS frame, when the guest has a virtual ITS.
    pub its: Option<PhysRange>,
}

/// The guest's console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestUart {
    /// Register frame.
    pub base: PhysRange,
    /// INTID of its SPI.
    pub intid: u32,
    /// Reference clock.
    pub clock_hz: u32,
}

/// The virtual PCI host bridge the guest sees (`pci-host-ecam-generic`, bus 0 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestPciHost {
    /// Guest ECAM, one bus (1 MiB).
    pub ecam: PhysRange,
    /// 32-bit non-prefetchable memory window (PCI address == guest address).
    pub mem32: PhysRange,
    /// 64-bit prefetchable memory window.
    pub mem64: PhysRange,
    /// INTx routing: (slot, pin 1..4, GIC SPI INTID) for every assigned function.
    pub intx: Vec<(u8, u8, u32)>,
    /// MSIs go to the guest's ITS: requester ID == DeviceID (`msi-map`).
    pub msi_map: bool,
}

/// Everything the guest DT describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestDtConfig {
    /// MPIDR of each vCPU, vCPU 0 first.
    pub cpus: Vec<u64>,
    /// Guest RAM, guest-physical.
    pub memory: Vec<PhysRange>,
    /// The virtual GIC.
    pub gic: GuestGic,
    /// Timer interrupts (as the host DT gives them; the guest sees the same PPIs).
    pub timer: TimerIrqs,
    /// The console, if any.
    pub uart: Option<GuestUart>,
    /// Kernel command line.
    pub bootargs: String,
    /// The initrd's guest-physical location.
    pub initrd: Option<PhysRange>,
    /// The virtual PCI host bridge, when devices are passed through.
    pub pci: Option<GuestPciHost>,
}

/// Why the guest DT could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestDtError {
    /// No vCPU.
    NoCpus,
    /// No RAM.
    NoMemory,
    /// The writer refused (bad name or string).
    Writer(String),
}

impl fmt::Display for GuestDtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCpus => write!(f, "guest has no vCPU"),
            Self::NoMemory => write!(f, "guest has no RAM"),
            Self::Writer(e) => write!(f, "device tree writer: {e}"),
        }
    }
}

impl From<vm_fdt::Error> for GuestDtError {
    fn from(e: vm_fdt::Error) -> Self {
        Self::Writer(format!("{e}"))
    }
}

/// Result of building.
pub type Result<T> = core::result::Result<T, GuestDtError>;

/// Builds the flattened device tree blob.
pub fn build(cfg: &GuestDtConfig) -> Result<Vec<u8>> {
    if cfg.cpus.is_empty() {
        return Err(GuestDtError::NoCpus);
    }
    if cfg.memory.is_empty() {
        return Err(GuestDtError::NoMemory);
    }
    let mut w = FdtWriter::new()?;
    let root = w.begin_node("")?;
    w.property_string("compatible", "linux,dummy-virt")?;
    w.property_u32("#address-cells", 2)?;
    w.property_u32("#size-cells", 2)?;
    w.property_u32("interrupt-parent", GIC_PHANDLE)?;
    cpus(&mut w, &cfg.cpus)?;
    for ram in &cfg.memory {
        let node = w.begin_node(&format!("memory@{:x}", ram.start))?;
        w.property_string("device_type", "memory")?;
        reg(&mut w, &[*ram])?;
        w.end_node(node)?;
    }
    psci(&mut w)?;
    gic(&mut w, &cfg.gic)?;
    timer(&mut w, &cfg.timer)?;
    if let Some(uart) = &cfg.uart {
        console(&mut w, uart)?;
    }
    if let Some(pci) = &cfg.pci {
        pci_host(&mut w, pci)?;
    }
    chosen(&mut w, cfg)?;
    w.end_node(root)?;
    Ok(w.finish()?)
}

fn reg(w: &mut FdtWriter, ranges: &[PhysRange]) -> Result<()> {
    let cells: Vec<u64> = ranges
        .iter()
        .flat_map(|r| [r.start, r.size_bytes])
        .collect();
    Ok(w.property_array_u64("reg", &cells)?)
}

fn cpus(w: &mut FdtWriter, mpidrs: &[u64]) -> Result<()> {
    let node = w.begin_node("cpus")?;
    w.property_u32("#address-cells", 2)?;
    w.property_u32("#size-cells", 0)?;
    for &mpidr in mpidrs {
        let cpu = w.begin_node(&format!("cpu@{mpidr:x}"))?;
        w.property_string("device_type", "cpu")?;
        w.property_string("compatible", "arm,armv8")?;
        w.property_string("enable-method", "psci")?;
        w.property_u64("reg", mpidr)?;
        w.end_node(cpu)?;
    }
    Ok(w.end_node(node)?)
}

fn psci(w: &mut FdtWriter) -> Result<()> {
    let node = w.begin_node("psci")?;
    let compatible = ["arm,psci-1.0", "arm,psci-0.2", "arm,psci"]
        .map(String::from)
        .to_vec();
    w.property_string_list("compatible", compatible)?;
    w.property_string("method", "hvc")?;
    Ok(w.end_node(node)?)
}

fn gic(w: &mut FdtWriter, gic: &GuestGic) -> Result<()> {
    let node = w.begin_node(&format!("interrupt-controller@{:x}", gic.dist.start))?;
    w.property_string("compatible", "arm,gic-v3")?;
    w.property_null("interrupt-controller")?;
    w.property_u32("#interrupt-cells", 3)?;
    w.property_u32("#redistributor-regions", 1)?;
    reg(w, &[gic.dist, gic.redist])?;
    w.property_u32("#address-cells", 2)?;
    w.property_u32("#size-cells", 2)?;
    w.property_null("ranges")?;
    w.property_phandle(GIC_PHANDLE)?;
    if let Some(its) = gic.its {
        let child = w.begin_node(&format!("msi-controller@{:x}", its.start))?;
        w.property_string("compatible", "arm,gic-v3-its")?;
        w.property_null("msi-controller")?;
        w.property_u32("#msi-cells", 1)?;
        reg(w, &[its])?;
        w.property_phandle(ITS_PHANDLE)?;
        w.end_node(child)?;
    }
    Ok(w.end_node(node)?)
}

fn timer(w: &mut FdtWriter, t: &TimerIrqs) -> Result<()> {
    let node = w.begin_node("timer")?;
    w.property_string("compatible", "arm,armv8-timer")?;
    let cells: Vec<u32> = [t.secure_phys, t.nonsecure_phys, t.virt, t.hyp_phys]
        .iter()
        .flat_map(|p| [GIC_PPI, p.intid.saturating_sub(16), p.flags])
        .collect();
    w.property_array_u32("interrupts", &cells)?;
    w.property_null("always-on")?;
    Ok(w.end_node(node)?)
}

fn console(w: &mut FdtWriter, uart: &GuestUart) -> Result<()> {
    let clock = w.begin_node("apb-pclk")?;
    w.property_string("compatible", "fixed-clock")?;
    w.property_u32("#clock-cells", 0)?;
    w.property_u32("clock-frequency", uart.clock_hz)?;
    w.property_string("clock-output-names", "clk24mhz")?;
    w.property_phandle(CLOCK_PHANDLE)?;
    w.end_node(clock)?;
    let node = w.begin_node(&uart_node_name(uart))?;
    w.property_string_list(
        "compatible",
        ["arm,pl011", "arm,primecell"].map(String::from).to_vec(),
    )?;
    reg(w, &[uart.base])?;
    w.property_array_u32(
        "interrupts",
        &[GIC_SPI, uart.intid.saturating_sub(32), IRQ_TYPE_LEVEL_HIGH],
    )?;
    w.property_array_u32("clocks", &[CLOCK_PHANDLE, CLOCK_PHANDLE])?;
    w.property_string_list(
        "clock-names",
        ["uartclk", "apb_pclk"].map(String::from).to_vec(),
    )?;
    Ok(w.end_node(node)?)
}

/// `ranges` flags cell (PCI Bus Binding to OF): 32-bit memory, and 64-bit prefetchable memory.
const PCI_RANGE_MEM32: u32 = 0x0200_0000;
const PCI_RANGE_MEM64_PREF: u32 = 0x4300_0000;

fn pci_host(w: &mut FdtWriter, pci: &GuestPciHost) -> Result<()> {
    let node = w.begin_node(&format!("pcie@{:x}", pci.ecam.start))?;
    w.property_string("compatible", "pci-host-ecam-generic")?;
    w.property_string("device_type", "pci")?;
    w.property_u32("#address-cells", 3)?;
    w.property_u32("#size-cells", 2)?;
    w.property_u32("#interrupt-cells", 1)?;
    w.property_array_u32("bus-range", &[0, 0])?;
    w.property_u32("linux,pci-domain", 0)?;
    w.property_null("dma-coherent")?;
    reg(w, &[pci.ecam])?;
    let mut ranges = Vec::new();
    for (flags, window) in [
        (PCI_RANGE_MEM32, pci.mem32),
        (PCI_RANGE_MEM64_PREF, pci.mem64),
    ] {
        let (hi, lo) = ((window.start >> 32) as u32, window.start as u32);
        let (size_hi, size_lo) = ((window.size_bytes >> 32) as u32, window.size_bytes as u32);
        ranges.extend([flags, hi, lo, hi, lo, size_hi, size_lo]);
    }
    w.property_array_u32("ranges", &ranges)?;
    w.property_array_u32("interrupt-map-mask", &[0xf800, 0, 0, 7])?;
    let map: Vec<u32> = pci
        .intx
        .iter()
        .flat_map(|&(slot, pin, intid)| {
            // child address (3), pin, GIC phandle, GIC unit address (its #address-cells: 2),
            // GIC specifier (3)
            let spi = intid.saturating_sub(32);
            [
                (slot as u32) << 11,
                0,
                0,
                pin as u32,
                GIC_PHANDLE,
                0,
                0,
                GIC_SPI,
                spi,
                IRQ_TYPE_LEVEL_HIGH,
            ]
        })
        .collect();
    w.property_array_u32("interrupt-map", &map)?;
    if pci.msi_map {
        w.property_array_u32("msi-map", &[0, ITS_PHANDLE, 0, 0x1_0000])?;
    }
    Ok(w.end_node(node)?)
}

fn uart_node_name(uart: &GuestUart) -> String {
    format!("pl011@{:x}", uart.base.start)
}

fn chosen(w: &mut FdtWriter, cfg: &GuestDtConfig) -> Result<()> {
    let node = w.begin_node("chosen")?;
    w.property_string("bootargs", &cfg.bootargs)?;
    if let Some(uart) = &cfg.uart {
        w.property_string("stdout-path", &format!("/{}", uart_node_name(uart)))?;
    }
    if let Some(initrd) = cfg.initrd {
        w.property_u64("linux,initrd-start", initrd.start)?;
        w.property_u64(
            "linux,initrd-end",
            initrd.start.saturating_add(initrd.size_bytes),
        )?;
    }
    Ok(w.end_node(node)?)
}

#[cfg(test)]
mod tests;
