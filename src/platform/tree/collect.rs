//! Picks the nodes sluice cares about out of the walk and checks that they are all there.
#![forbid(unsafe_code)]

use super::super::guests::ModuleKind;
use super::*;

/// What the walk found so far.
#[derive(Default)]
pub(super) struct Found {
    pub memory: Vec<PhysRange>,
    pub reserved: Vec<PhysRange>,
    cpus: Vec<Cpu>,
    gic: Option<Gic>,
    its: Vec<PhysRange>,
    uarts: Vec<(String, Uart)>,
    psci: Option<Psci>,
    timer: Option<TimerIrqs>,
    chosen: super::guests::Chosen,
    /// (phandle, MPIDR) of every `/cpus` CPU node with a phandle.
    cpu_phandles: Vec<(u32, u64)>,
    pci_hosts: Vec<PciHost>,
    smmus: Vec<SmmuNode>,
    clocks: Vec<(u32, u32)>,
    /// `/chosen` `bootargs`, read during the walk: `Fdt::find_node("/chosen")` misses it in
    /// the trees QEMU hands over with `-dtb` (guest nodes under `/chosen`, NOPs where the
    /// memory node was).
    host_bootargs: Option<String>,
}

impl Found {
    /// Looks at one node.
    pub fn node(&mut self, path: &str, v: Visited) -> Result<()> {
        let node = v.node;
        let device_type = node
            .property("device_type")
            .and_then(|p| strings(p.value).next());
        if device_type == Some("memory") {
            self.memory
                .extend(regs(&v, path)?.into_iter().filter(|r| r.size_bytes != 0));
        } else if device_type == Some("cpu") && path.starts_with("/cpus/") {
            let reg = node.property("reg").ok_or_else(|| malformed(path, "reg"))?;
            let mpidr = read_cells(reg.value, 0, reg.value.len() / 4)
                .ok_or_else(|| malformed(path, "reg"))?;
            self.cpus.push(Cpu { mpidr });
            if let Some(phandle) = node.property("phandle").and_then(|p| be32(p.value, 0)) {
                self.cpu_phandles.push((phandle, mpidr));
            }
        }
        if path.starts_with("/reserved-memory/") {
            self.reserved.extend(regs(&v, path)?);
        }
        if path.starts_with("/chosen/") {
            self.chosen.node(path, &v)?;
        }
        if path == "/chosen" {
            self.host_bootargs = node
                .property("bootargs")
                .and_then(|p| strings(p.value).next())
                .map(String::from);
        }
        if let Some(phandle) = node.property("phandle").and_then(|p| be32(p.value, 0)) {
            if let Some(hz) = node
                .property("clock-frequency")
                .and_then(|p| be32(p.value, 0))
            {
                self.clocks.push((phandle, hz));
            }
        }
        self.device(path, &v)
    }

    fn device(&mut self, path: &str, v: &Visited) -> Result<()> {
        let node = v.node;
        if is_compatible(node, "arm,gic-v3") {
            self.gic = Some(gic(path, v)?);
        } else if is_compatible(node, "arm,gic-v3-its") {
            self.its.extend(regs(v, path)?);
        } else if is_compatible(node, "arm,pl011") {
            self.uarts.push((String::from(path), uart(path, v)?));
        } else if is_compatible(node, "arm,psci-0.2")
            || is_compatible(node, "arm,psci-1.0")
            || is_compatible(node, "arm,psci")
        {
            let method = node
                .property("method")
                .and_then(|p| strings(p.value).next());
            self.psci = match method {
                Some("smc") => Some(Psci {
                    method: Conduit::Smc,
                }),
                Some("hvc") => Some(Psci {
                    method: Conduit::Hvc,
                }),
                _ => return Err(malformed(path, "method")),
            };
        } else if is_compatible(node, "arm,armv8-timer") {
            self.timer = Some(timer(path, node)?);
        } else if is_compatible(node, "pci-host-ecam-generic") {
            self.pci_hosts.push(pci_host(path, v)?);
        } else if is_compatible(node, "arm,smmu-v3") {
            self.smmus.push(super::iommu::smmu(path, v)?);
        }
        Ok(())
    }

    /// The UART /chosen/stdout-path names (alias or path, options after ':' ignored), or the
    /// first PL011.
    pub fn console(&self, fdt: &Fdt) -> Result<Uart> {
        let stdout = fdt
            .find_node("/chosen")
            .and_then(|c| c.property("stdout-path"))
            .and_then(|p| strings(p.value).next());
        let wanted = stdout.map(|s| s.split(':').next().unwrap_or(s)).map(|s| {
            if s.starts_with('/') {
                String::from(s)
            } else {
                let alias = fdt
                    .find_node("/aliases")
                    .and_then(|a| a.property(s))
                    .and_then(|p| strings(p.value).next());
                String::from(alias.unwrap_or(s))
            }
        });
        let chosen = wanted.and_then(|w| self.uarts.iter().find(|(p, _)| *p == w));
        let (_, uart) = chosen.or(self.uarts.first()).ok_or(PlatformError::NoUart)?;
        let mut uart = uart.clone();
        uart.clock_hz = uart
            .clock_hz
            .and_then(|phandle| self.clocks.iter().find(|(p, _)| *p == phandle).map(|c| c.1));
        Ok(uart)
    }

    /// Checks that everything needed was found.
    pub fn finish(self, fdt: &Fdt) -> Result<Platform> {
        let uart = self.console(fdt)?;
        let mut gic = self.gic.ok_or(PlatformError::NoGic)?;
        gic.its = self.its;
        if self.memory.is_empty() {
            return Err(PlatformError::NoMemory);
        }
        if self.cpus.is_empty() {
            return Err(PlatformError::NoCpus);
        }
        let guests = super::super::guests::check(
            &self.chosen.guests,
            &self.chosen.modules,
            &self.cpu_phandles,
        )
        .map_err(PlatformError::Guest)?;
        let guest = guest_images(&self.chosen, &guests)?;
        let mut pci_hosts = self.pci_hosts;
        for host in &mut pci_hosts {
            host.intx_routes = intx_routes(fdt, &host.node_path)?;
            let path = &host.node_path;
            super::iommu::check_id_map_targets(fdt, path, &host.iommu_map, "iommu-map")?;
            super::iommu::check_id_map_targets(fdt, path, &host.msi_map, "msi-map")?;
        }
        Ok(Platform {
            memory: self.memory,
            reserved: self.reserved,
            dtb_size_bytes: fdt.total_size() as u64,
            cpus: self.cpus,
            gic,
            uart,
            psci: self.psci.ok_or(PlatformError::NoPsci)?,
            timer: self.timer.ok_or(PlatformError::NoTimer)?,
            guest,
            guests,
            pci_hosts,
            host_bootargs: self.host_bootargs.unwrap_or_default(),
            smmus: self.smmus,
        })
    }
}

/// The single guest's images: the last kernel and ramdisk modules under `/chosen`, as
/// before guest nodes existed; with guest nodes, the first guest's.
fn guest_images(chosen: &super::guests::Chosen, guests: &[GuestSpec]) -> Result<GuestImages> {
    if let Some(first) = guests.first() {
        return Ok(first.images.clone());
    }
    let last = |kind| chosen.modules.iter().rev().find(|m| m.kind == kind);
    let kernel = last(ModuleKind::Kernel).ok_or(PlatformError::NoKernelModule)?;
    Ok(GuestImages {
        kernel: kernel.range,
        bootargs: kernel.bootargs.clone(),
        ramdisk: last(ModuleKind::Ramdisk).map(|m| m.range),
    })
}

fn gic(path: &str, v: &Visited) -> Result<Gic> {
    let regs = regs(v, path)?;
    let redist_count = v
        .node
        .property("#redistributor-regions")
        .and_then(|p| be32(p.value, 0))
        .unwrap_or(1) as usize;
    if regs.len() < 1 + redist_count {
        return Err(malformed(path, "reg"));
    }
    let maintenance = interrupt_triples(v.node, path)?
        .first()
        .copied()
        .and_then(intid_of);
    Ok(Gic {
        dist: regs[0],
        redist_regions: regs[1..1 + redist_count].to_vec(),
        its: Vec::new(),
        // Without the property the GICv3 binding's recommended PPI 9 is the usual choice.
        maintenance_intid: maintenance.unwrap_or(25),
    })
}

fn uart(path: &str, v: &Visited) -> Result<Uart> {
    let base = regs(v, path)?
        .first()
        .copied()
        .ok_or_else(|| malformed(path, "reg"))?;
    let irq = interrupt_triples(v.node, path)?
        .first()
        .copied()
        .filter(|t| t.0 == GIC_SPI);
    let intid = irq
        .and_then(intid_of)
        .ok_or_else(|| malformed(path, "interrupts"))?;
    // The first clock is the reference clock; its rate is resolved by phandle in `console`.
    let clock_phandle = v.node.property("clocks").and_then(|p| be32(p.value, 0));
    Ok(Uart {
        base,
        intid,
        clock_hz: clock_phandle,
        path: String::from(path),
    })
}

fn timer(path: &str, node: FdtNode) -> Result<TimerIrqs> {
    let ppis: Vec<Ppi> = interrupt_triples(node, path)?
        .into_iter()
        .map(|t| {
            intid_of(t)
                .filter(|_| t.0 == GIC_PPI)
                .map(|intid| Ppi { intid, flags: t.2 })
        })
        .collect::<Option<_>>()
        .ok_or_else(|| malformed(path, "interrupts"))?;
    match ppis[..] {
        [secure_phys, nonsecure_phys, virt, hyp_phys, ..] => Ok(TimerIrqs {
            secure_phys,
            nonsecure_phys,
            virt,
            hyp_phys,
        }),
        _ => Err(PlatformError::NoTimer),
    }
}

fn pci_host(path: &str, v: &Visited) -> Result<PciHost> {
    let ecam = regs(v, path)?
        .first()
        .copied()
        .ok_or_else(|| malformed(path, "reg"))?;
    let bus_range = v.node.property("bus-range");
    let (bus_start, bus_end) = match bus_range {
        Some(p) => (be32(p.value, 0), be32(p.value, 4)),
        None => (
            Some(0),
            Some(((ecam.size_bytes >> 20).saturating_sub(1)).min(255) as u32),
        ),
    };
    let (Some(start), Some(end)) = (bus_start, bus_end) else {
        return Err(malformed(path, "bus-range"));
    };
    if start > end || end > 255 {
        return Err(malformed(path, "bus-range"));
    }
    let windows = pci_windows(path, v.node)?;
    let mask = v
        .node
        .property("interrupt-map-mask")
        .map(|p| (be32(p.value, 0), be32(p.value, 12)));
    let intx_mask = match mask {
        Some((Some(a), Some(p))) => (a, p),
        None => (u32::MAX, u32::MAX),
        _ => return Err(malformed(path, "interrupt-map-mask")),
    };
    Ok(PciHost {
        ecam,
        bus_start: start as u8,
        bus_end: end as u8,
        node_path: String::from(path),
        windows,
        intx_routes: Vec::new(), // resolved in `finish`, which can follow phandles
        intx_mask,
        iommu_map: super::iommu::id_map(path, v.node, "iommu-map", "iommu-map-mask")?,
        msi_map: super::iommu::id_map(path, v.node, "msi-map", "msi-map-mask")?,
    })
}

/// Decodes `ranges` of a PCI host bridge: 3 PCI address cells, 2 CPU address cells (the
/// root's), 2 size cells.
fn pci_windows(path: &str, node: FdtNode) -> Result<Vec<PciWindow>> {
    let Some(prop) = node.property("ranges") else {
        return Ok(Vec::new());
    };
    if prop.value.len() % 28 != 0 {
        return Err(malformed(path, "ranges"));
    }
    prop.value
        .chunks_exact(28)
        .map(|c| {
            let flags = be32(c, 0).unwrap_or(0);
            let cell = |i: usize| read_cells(c, i, 2).ok_or_else(|| malformed(path, "ranges"));
            let space = match (flags >> 24) & 3 {
                1 => PciSpace::Io,
                2 => PciSpace::Mem32,
                3 => PciSpace::Mem64,
                _ => return Err(malformed(path, "ranges")),
            };
            Ok(PciWindow {
                space,
                prefetchable: flags & (1 << 30) != 0,
                pci_addr: cell(1)?,
                cpu: PhysRange::new(cell(3)?, cell(5)?),
            })
        })
        .collect()
}

/// Decodes a host bridge's `interrupt-map`: child address (3 cells), pin (1), parent phandle,
/// parent address (its #address-cells), parent specifier (its #interrupt-cells; GIC: 3).
pub(super) fn intx_routes(fdt: &Fdt, path: &str) -> Result<Vec<IntxRoute>> {
    let Some(node) = fdt.find_node(path) else {
        return Ok(Vec::new());
    };
    let Some(prop) = node.property("interrupt-map") else {
        return Ok(Vec::new());
    };
    let cells: Vec<u32> = prop
        .value
        .chunks_exact(4)
        .filter_map(|c| be32(c, 0))
        .collect();
    let mut routes = Vec::new();
    let mut at = 0;
    while at < cells.len() {
        let entry = cells
            .get(at..at + 5)
            .ok_or_else(|| malformed(path, "interrupt-map"))?;
        let parent = fdt
            .find_phandle(entry[4])
            .ok_or_else(|| malformed(path, "interrupt-map"))?;
        let cells_of = |name| {
            parent
                .property(name)
                .and_then(|p| be32(p.value, 0))
                .map(|v| v as usize)
        };
        let address_cells = cells_of("#address-cells").unwrap_or(0).min(4);
        let interrupt_cells = cells_of("#interrupt-cells").unwrap_or(3).clamp(1, 4);
        let spec_at = at + 5 + address_cells;
        let spec = cells
            .get(spec_at..spec_at + interrupt_cells)
            .ok_or_else(|| malformed(path, "interrupt-map"))?;
        if let (Some(&kind), Some(&number)) = (spec.first(), spec.get(1)) {
            if let Some(intid) = intid_of((kind, number, 0)) {
                routes.push(IntxRoute {
                    device: ((entry[0] >> 11) & 0x1f) as u8,
                    pin: entry[3] as u8,
                    intid,
                });
            }
        }
        at = spec_at + interrupt_cells;
    }
    Ok(routes)
}
