//! Host bus enumeration as the hardware domain: find every function behind the host bridge,
//! number the buses behind PCI-PCI bridges, size and assign every BAR from the bridge's windows
//! (each on its own 4 KiB pages), open bridge windows around what lies behind them, and leave
//! every endpoint quiesced (no decode, no bus mastering, INTx, MSI and MSI-X off).
#![forbid(unsafe_code)]

use super::bar::{self, Bar, BarKind, Window, BAR_COUNT};
use super::regs::{self, cap};
use super::{Bdf, ConfigAccess};
use crate::mm::PhysRange;
use alloc::vec::Vec;

/// Bridge memory windows are 1 MiB granular (PCI-to-PCI Bridge 1.2, 3.2.5.8).
const BRIDGE_WINDOW_ALIGN: u64 = 1 << 20;
/// A capability chain longer than this is malformed (48 dword-aligned slots fit in 192 bytes).
const MAX_CAPABILITIES: usize = 48;

/// A real function found on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFunction {
    /// Where it is.
    pub bdf: Bdf,
    /// Vendor ID.
    pub vendor_id: u16,
    /// Device ID.
    pub device_id: u16,
    /// Class code (base, sub, programming interface) in bits 31:8, revision in 7:0.
    pub class_revision: u32,
    /// A PCI-PCI bridge (header type 1).
    pub is_bridge: bool,
    /// Its memory and I/O BARs, sized and assigned.
    pub bars: Vec<Bar>,
    /// Its expansion ROM, sized and assigned (disabled).
    pub rom: Option<Bar>,
    /// Interrupt pin, 1 (INTA) .. 4, or 0 for none.
    pub interrupt_pin: u8,
    /// The device number on the root bus that its INTx arrives through, and the pin there
    /// after swizzling across bridges (PCI-to-PCI Bridge 1.2, 9.1).
    pub root_intx: Option<(u8, u8)>,
    /// The command register as sluice found it, before quiescing: what firmware (U-Boot, UEFI)
    /// left enabled after using the device.
    pub firmware_command: u16,
}

impl HostFunction {
    /// Base class code.
    pub fn base_class(&self) -> u8 {
        (self.class_revision >> 24) as u8
    }

    /// Whether sluice can give it to a guest: an endpoint that is not a host bridge.
    pub fn is_assignable_endpoint(&self) -> bool {
        const BRIDGE_CLASS: u8 = 0x06;
        !self.is_bridge && self.base_class() != BRIDGE_CLASS
    }

    /// Whether firmware left this endpoint decoding or mastering: it may hold state (rings,
    /// DMA addresses of firmware memory) that a reset should clear before a guest gets it.
    pub fn left_enabled_by_firmware(&self) -> bool {
        const ENABLES: u16 = regs::COMMAND_IO | regs::COMMAND_MEMORY | regs::COMMAND_MASTER;
        self.is_assignable_endpoint() && self.firmware_command & ENABLES != 0
    }
}

/// The host bridge's memory windows.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    /// 32-bit non-prefetchable window.
    pub mem32: Option<Window>,
    /// 64-bit window (prefetchable or not).
    pub mem64: Option<Window>,
}

/// Walks a function's capability list: (offset, id) pairs, loop-safe.
pub fn capabilities(cfg: &impl ConfigAccess, bdf: Bdf) -> Vec<(u16, u8)> {
    let mut found = Vec::new();
    if cfg.read16(bdf, regs::STATUS) & regs::STATUS_CAP_LIST == 0 {
        return found;
    }
    let mut next = cfg.read8(bdf, regs::CAPABILITY_LIST) & !3;
    while next >= 0x40 && found.len() < MAX_CAPABILITIES {
        let header = cfg.read16(bdf, next as u16);
        if found.iter().any(|&(o, _)| o == next as u16) {
            break;
        }
        found.push((next as u16, header as u8));
        next = (header >> 8) as u8 & !3;
    }
    found
}

/// Turns off MSI and MSI-X (and masks all MSI-X vectors) so the device raises nothing until a
/// guest asks.
fn disable_msi(cfg: &impl ConfigAccess, bdf: Bdf) {
    for (offset, id) in capabilities(cfg, bdf) {
        let control = offset + 2;
        match id {
            cap::MSI => {
                let flags = cfg.read16(bdf, control);
                cfg.write16(bdf, control, flags & !regs::MSI_FLAGS_ENABLE);
            }
            cap::MSIX => {
                let flags = cfg.read16(bdf, control);
                cfg.write16(
                    bdf,
                    control,
                    (flags & !regs::MSIX_FLAGS_ENABLE) | regs::MSIX_FLAGS_MASKALL,
                );
            }
            _ => {}
        }
    }
}

/// Enumerates `first_bus..=last_bus` of one host bridge.
pub fn enumerate(
    cfg: &impl ConfigAccess,
    first_bus: u8,
    last_bus: u8,
    windows: &mut Windows,
) -> Vec<HostFunction> {
    let mut walk = Walk {
        cfg,
        windows,
        last_bus,
        next_bus: first_bus,
        found: Vec::new(),
    };
    walk.bus(first_bus, &[]);
    walk.found
}

struct Walk<'a, C: ConfigAccess> {
    cfg: &'a C,
    windows: &'a mut Windows,
    last_bus: u8,
    next_bus: u8,
    found: Vec<HostFunction>,
}

impl<C: ConfigAccess> Walk<'_, C> {
    /// Scans `bus`; `path` is the device number of each bridge between it and the root bus.
    fn bus(&mut self, bus: u8, path: &[u8]) {
        self.next_bus = self.next_bus.max(bus.saturating_add(1));
        for device in 0..32 {
            let functions = if self.is_multi_function(Bdf::new(bus, device, 0)) {
                8
            } else {
                1
            };
            for function in 0..functions {
                let bdf = Bdf::new(bus, device, function);
                if self.cfg.read16(bdf, regs::VENDOR_ID) != 0xffff {
                    self.function(bdf, path);
                }
            }
        }
    }

    fn is_multi_function(&self, bdf: Bdf) -> bool {
        self.cfg.read16(bdf, regs::VENDOR_ID) != 0xffff
            && self.cfg.read8(bdf, regs::HEADER_TYPE) & regs::HEADER_TYPE_MULTI_FUNCTION != 0
    }

    fn function(&mut self, bdf: Bdf, path: &[u8]) {
        let cfg = self.cfg;
        let header = cfg.read8(bdf, regs::HEADER_TYPE) & regs::HEADER_TYPE_MASK;
        let is_bridge = header == regs::HEADER_TYPE_BRIDGE;
        let firmware_command = cfg.read16(bdf, regs::COMMAND);
        let firmware_decode = firmware_command & regs::COMMAND_MEMORY != 0;
        cfg.write_command(bdf, regs::COMMAND_INTX_DISABLE);
        disable_msi(cfg, bdf);
        let bar_count = if is_bridge { 2 } else { BAR_COUNT };
        let bars = self.size_bars(bdf, bar_count, firmware_decode, !path.is_empty());
        let rom_offset = if is_bridge {
            regs::ROM_ADDRESS_BRIDGE
        } else {
            regs::ROM_ADDRESS
        };
        let rom = self.size_rom(bdf, rom_offset);
        let interrupt_pin = cfg.read8(bdf, regs::INTERRUPT_PIN).min(4);
        let root_intx = (interrupt_pin != 0).then(|| swizzle(path, bdf.device, interrupt_pin));
        let id = cfg.read32(bdf, regs::VENDOR_ID);
        self.found.push(HostFunction {
            bdf,
            vendor_id: id as u16,
            device_id: (id >> 16) as u16,
            class_revision: cfg.read32(bdf, regs::CLASS_REVISION),
            is_bridge,
            bars,
            rom,
            interrupt_pin,
            root_intx,
            firmware_command,
        });
        if is_bridge {
            self.bridge(bdf, path);
        }
    }

    /// Sizes each BAR (decode is off) and gives it an address.
    fn size_bars(
        &mut self,
        bdf: Bdf,
        count: usize,
        keep_firmware: bool,
        behind_bridge: bool,
    ) -> Vec<Bar> {
        let mut bars = Vec::new();
        let mut index = 0;
        while index < count {
            let offset = regs::BAR0 + 4 * index as u16;
            let original = self.cfg.read32(bdf, offset);
            let kind = bar::kind_of(original);
            let is_64 = kind == BarKind::Memory64 && index + 1 < count;
            let original_high = if is_64 {
                self.cfg.read32(bdf, offset + 4)
            } else {
                0
            };
            self.cfg.write32(bdf, offset, u32::MAX);
            let probe_low = self.cfg.read32(bdf, offset);
            let probe_high = is_64.then(|| {
                self.cfg.write32(bdf, offset + 4, u32::MAX);
                self.cfg.read32(bdf, offset + 4)
            });
            let size = bar::size_from_probe(probe_low, probe_high, kind);
            let current = (original & !0xf) as u64 | (original_high as u64) << 32;
            let mut bar = Bar {
                index: index as u8,
                kind: if is_64 {
                    BarKind::Memory64
                } else if kind == BarKind::Io {
                    BarKind::Io
                } else {
                    BarKind::Memory32
                },
                prefetchable: original & bar::BAR_PREFETCH != 0 && kind != BarKind::Io,
                size_bytes: size.unwrap_or(0),
                host_phys: 0,
            };
            let address = size
                .and_then(|s| self.place(&bar, s, keep_firmware.then_some(current), behind_bridge));
            let bus_address = address.map_or(0, |(_, bus)| bus);
            self.cfg
                .write32(bdf, offset, (bus_address as u32 & !0xf) | (original & 0xf));
            if is_64 {
                self.cfg
                    .write32(bdf, offset + 4, (bus_address >> 32) as u32);
            }
            if let Some((cpu, _)) = address {
                bar.host_phys = cpu;
                bars.push(bar);
            }
            index += if is_64 { 2 } else { 1 };
        }
        bars
    }

    /// The window a BAR goes in: 64-bit BARs in the 64-bit window when there is one, except
    /// non-prefetchable ones behind a bridge (a bridge's 64-bit window is its prefetchable one).
    fn window_for(&mut self, bar: &Bar, behind_bridge: bool) -> Option<&mut Window> {
        let wide_ok = bar.prefetchable || !behind_bridge;
        match bar.kind {
            BarKind::Memory64 if wide_ok && self.windows.mem64.is_some() => {
                self.windows.mem64.as_mut()
            }
            BarKind::Memory32 | BarKind::Memory64 | BarKind::Rom => self.windows.mem32.as_mut(),
            BarKind::Io => None, // guests get no I/O BARs; leave them unassigned
        }
    }

    /// (CPU address, bus address) for a BAR: the firmware's if it is valid, else a new one.
    fn place(
        &mut self,
        bar: &Bar,
        size: u64,
        firmware: Option<u64>,
        behind_bridge: bool,
    ) -> Option<(u64, u64)> {
        let window = self.window_for(bar, behind_bridge)?;
        if let Some(bus) = firmware.filter(|&b| b != 0 && b % size == 0) {
            if let Some(cpu) = window.cpu_address(bus, size) {
                window.reserve(PhysRange::new(cpu, size));
                return Some((cpu, bus));
            }
        }
        let cpu = window.allocate(size, size)?;
        Some((cpu, window.bus_address(cpu)))
    }

    fn size_rom(&mut self, bdf: Bdf, offset: u16) -> Option<Bar> {
        self.cfg.write32(bdf, offset, bar::ROM_ADDRESS_MASK);
        let size = bar::size_from_probe(self.cfg.read32(bdf, offset), None, BarKind::Rom);
        self.cfg.write32(bdf, offset, 0);
        let mut rom = Bar {
            index: 6,
            kind: BarKind::Rom,
            prefetchable: false,
            size_bytes: size?,
            host_phys: 0,
        };
        let (cpu, bus) = self.place(&rom, rom.size_bytes, None, true)?;
        self.cfg
            .write32(bdf, offset, bus as u32 & bar::ROM_ADDRESS_MASK); // enable bit stays clear
        rom.host_phys = cpu;
        Some(rom)
    }

    /// Numbers the buses behind a bridge, enumerates them, and opens the bridge's windows
    /// around everything assigned behind it.
    fn bridge(&mut self, bdf: Bdf, path: &[u8]) {
        let cfg = self.cfg;
        let secondary = self.next_bus;
        if secondary > self.last_bus || secondary == 0 {
            return; // no bus numbers left: the bridge stays closed
        }
        let latency = cfg.read32(bdf, regs::PRIMARY_BUS) & 0xff00_0000;
        let buses = |subordinate: u8| {
            latency | (subordinate as u32) << 16 | (secondary as u32) << 8 | bdf.bus as u32
        };
        cfg.write32(bdf, regs::PRIMARY_BUS, buses(self.last_bus));
        let mem_start = self
            .windows
            .mem32
            .as_mut()
            .map(|w| w.align_to(BRIDGE_WINDOW_ALIGN));
        let pref_start = self
            .windows
            .mem64
            .as_mut()
            .map(|w| w.align_to(BRIDGE_WINDOW_ALIGN));
        let mut below = path.to_vec();
        below.push(bdf.device);
        self.bus(secondary, &below);
        cfg.write32(bdf, regs::PRIMARY_BUS, buses(self.next_bus - 1));
        let mem_end = self
            .windows
            .mem32
            .as_mut()
            .map(|w| w.align_to(BRIDGE_WINDOW_ALIGN));
        let pref_end = self
            .windows
            .mem64
            .as_mut()
            .map(|w| w.align_to(BRIDGE_WINDOW_ALIGN));
        let mem = self.windows.mem32.zip(mem_start.zip(mem_end));
        let pref = self.windows.mem64.zip(pref_start.zip(pref_end));
        cfg.write32(
            bdf,
            regs::MEMORY_BASE,
            window_register(mem.map(|(w, (s, e))| (w.bus_address(s), w.bus_address(e)))),
        );
        let pref_bus = pref.map(|(w, (s, e))| (w.bus_address(s), w.bus_address(e)));
        cfg.write32(
            bdf,
            regs::PREF_MEMORY_BASE,
            window_register(pref_bus) | 1 | 1 << 16,
        );
        let (pref_base, pref_limit) = pref_bus
            .filter(|(s, e)| e > s)
            .map_or((u64::MAX, 0), |(s, e)| (s, e - 1));
        cfg.write32(bdf, regs::PREF_BASE_UPPER32, (pref_base >> 32) as u32);
        cfg.write32(bdf, regs::PREF_LIMIT_UPPER32, (pref_limit >> 32) as u32);
        cfg.write32(bdf, regs::IO_BASE, 0x00f0); // I/O window closed: base above limit
        cfg.write_command(bdf, regs::COMMAND_MEMORY | regs::COMMAND_MASTER);
    }
}

/// A bridge base/limit register pair for bus addresses `[start, end)`, or a closed window.
fn window_register(range: Option<(u64, u64)>) -> u32 {
    match range.filter(|(s, e)| e > s) {
        Some((start, end)) => ((start >> 16) as u32 & 0xfff0) | ((end - 1) as u32 & 0xfff0_0000),
        None => 0x0000_fff0,
    }
}

/// INTx pin at the root bus for `pin` of device `device`, behind the bridges in `path`
/// (device numbers from the root down): each bridge crossing rotates the pin by the device
/// number on the secondary side.
fn swizzle(path: &[u8], device: u8, pin: u8) -> (u8, u8) {
    let mut pin = pin;
    let mut device = device;
    for &bridge_device in path.iter().rev() {
        pin = ((pin - 1 + device % 4) % 4) + 1;
        device = bridge_device;
    }
    (device, pin)
}

#[cfg(test)]
mod tests;
