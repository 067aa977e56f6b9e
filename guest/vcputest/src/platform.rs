//! Where things are, read from the device tree the boot loader passed in x0: the console
//! (`/chosen/stdout-path`), RAM, the GICv3 distributor and redistributors, the virtual timer's
//! PPI, the PSCI conduit and the CPUs' MPIDRs. Nothing else in the guest knows an address.
#![forbid(unsafe_code)]

use crate::dt::{cells, Fdt, Node};
use core::fmt;

/// Most CPUs the guest drives (the stacks in link.ld are sized for this many).
pub const MAX_CPUS: usize = 8;
/// Most redistributor regions kept.
pub const MAX_GICR_REGIONS: usize = 4;
/// Redistributor stride of GICv3 without VLPIs: RD_base + SGI_base frames (GICv3 12.10).
pub const DEFAULT_GICR_STRIDE: u64 = 0x2_0000;

/// How PSCI is called (DT binding arm,psci `method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduit {
    /// HVC: a hypervisor implements PSCI (sluice).
    Hvc,
    /// SMC: firmware implements it (QEMU's built-in PSCI natively).
    Smc,
}

/// A physical range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub size_bytes: u64,
}

impl Range {
    /// True if `addr` lies in the range.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr - self.base < self.size_bytes
    }
}

/// What the device tree says about this machine.
#[derive(Clone, Copy, Debug)]
pub struct Platform<'a> {
    /// PL011 base.
    pub uart: u64,
    /// The first RAM bank.
    pub ram: Range,
    /// GICD base.
    pub gicd: u64,
    /// Redistributor regions.
    pub gicr: [Range; MAX_GICR_REGIONS],
    /// How many of `gicr` are valid.
    pub gicr_count: usize,
    /// Distance between two redistributors.
    pub gicr_stride: u64,
    /// INTID of the EL1 virtual timer (the third interrupt of the timer node).
    pub vtimer_intid: u32,
    /// PSCI conduit.
    pub conduit: Conduit,
    /// The CPUs' MPIDR affinity values, in DT order (logical CPU i is `mpidrs[i]`).
    pub mpidrs: [u64; MAX_CPUS],
    /// How many of `mpidrs` are valid.
    pub cpu_count: usize,
    /// `/chosen/bootargs` (empty without one).
    pub bootargs: &'a str,
    /// The PCI host bridge's ECAM base (`pci-host-ecam-generic`), 0 without one.
    pub ecam: u64,
}

/// What is missing from the device tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A node or property the guest needs is absent or malformed.
    Missing(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Missing(what) => write!(f, "device tree: no usable {what}"),
        }
    }
}

type Result<T> = core::result::Result<T, Error>;

fn need<T>(v: Option<T>, what: &'static str) -> Result<T> {
    v.ok_or(Error::Missing(what))
}

/// Address and size cells of the root (DT spec defaults: 2 and 1).
fn root_cells(fdt: &Fdt) -> (usize, usize) {
    let root = fdt.root();
    let get = |name, default| {
        root.and_then(|r| fdt.prop_u32(r, name))
            .map_or(default, |v| v as usize)
    };
    (get("#address-cells", 2), get("#size-cells", 1))
}

/// Entry `index` of a `reg` property under the root.
fn reg(fdt: &Fdt, node: Node, index: usize) -> Option<Range> {
    let (ac, sc) = root_cells(fdt);
    let data = fdt.prop(node, "reg")?;
    let at = index.checked_mul(ac + sc)?;
    Some(Range {
        base: cells(data, at, ac)?,
        size_bytes: cells(data, at + ac, sc)?,
    })
}

/// The console node: `stdout-path` is a path or an alias, optionally followed by `:options`.
fn stdout_node(fdt: &Fdt) -> Option<Node> {
    let chosen = fdt.find_path("/chosen")?;
    let path = fdt.prop_str(chosen, "stdout-path")?;
    let path = path.split(':').next()?;
    if path.starts_with('/') {
        return fdt.find_path(path);
    }
    let alias = fdt.prop_str(fdt.find_path("/aliases")?, path)?;
    fdt.find_path(alias)
}

fn gic(fdt: &Fdt, p: &mut Platform) -> Result<()> {
    let gic = need(fdt.find_compatible("arm,gic-v3"), "arm,gic-v3 node")?;
    p.gicd = need(reg(fdt, gic, 0), "GICD reg")?.base;
    let regions = fdt.prop_u32(gic, "#redistributor-regions").unwrap_or(1) as usize;
    for i in 0..regions.min(MAX_GICR_REGIONS) {
        p.gicr[i] = need(reg(fdt, gic, 1 + i), "GICR reg")?;
        p.gicr_count = i + 1;
    }
    p.gicr_stride = fdt
        .prop(gic, "redistributor-stride")
        .and_then(|d| cells(d, 0, d.len() / 4))
        .filter(|&s| s != 0)
        .unwrap_or(DEFAULT_GICR_STRIDE);
    Ok(())
}

/// The virtual timer's INTID: third entry of `interrupts` (secure, non-secure, virtual,
/// hypervisor: DT binding arm,arch_timer), GIC encoding <type number flags>, type 1 = PPI.
fn vtimer_intid(fdt: &Fdt) -> Result<u32> {
    let timer = need(
        fdt.find_compatible("arm,armv8-timer"),
        "arm,armv8-timer node",
    )?;
    let irqs = need(fdt.prop(timer, "interrupts"), "timer interrupts")?;
    let kind = need(cells(irqs, 6, 1), "virtual timer interrupt")?;
    let number = need(cells(irqs, 7, 1), "virtual timer interrupt")? as u32;
    Ok(if kind == 1 { number + 16 } else { number + 32 })
}

fn cpus(fdt: &Fdt, p: &mut Platform) -> Result<()> {
    let cpus = need(fdt.find_path("/cpus"), "/cpus")?;
    let ac = fdt.prop_u32(cpus, "#address-cells").unwrap_or(1) as usize;
    for cpu in fdt.children(cpus) {
        if fdt.prop_str(cpu, "device_type") != Some("cpu") || p.cpu_count == MAX_CPUS {
            continue;
        }
        let reg = need(fdt.prop(cpu, "reg"), "cpu reg")?;
        p.mpidrs[p.cpu_count] = need(cells(reg, 0, ac), "cpu reg")?;
        p.cpu_count += 1;
    }
    if p.cpu_count == 0 {
        return Err(Error::Missing("cpu node"));
    }
    Ok(())
}

impl<'a> Platform<'a> {
    /// Reads everything the guest needs from `fdt`.
    pub fn from_fdt(fdt: &Fdt<'a>) -> Result<Self> {
        let uart = need(
            stdout_node(fdt).and_then(|n| reg(fdt, n, 0)),
            "/chosen/stdout-path",
        )?;
        let memory = need(fdt.find_path("/memory"), "/memory")?;
        let psci = need(fdt.find_path("/psci"), "/psci")?;
        let conduit = match fdt.prop_str(psci, "method") {
            Some("hvc") => Conduit::Hvc,
            Some("smc") => Conduit::Smc,
            _ => return Err(Error::Missing("/psci method")),
        };
        let bootargs = fdt
            .find_path("/chosen")
            .and_then(|c| fdt.prop_str(c, "bootargs"))
            .unwrap_or("");
        let mut p = Platform {
            uart: uart.base,
            ram: need(reg(fdt, memory, 0), "/memory reg")?,
            gicd: 0,
            gicr: [Range::default(); MAX_GICR_REGIONS],
            gicr_count: 0,
            gicr_stride: DEFAULT_GICR_STRIDE,
            vtimer_intid: vtimer_intid(fdt)?,
            conduit,
            mpidrs: [0; MAX_CPUS],
            cpu_count: 0,
            bootargs,
            ecam: fdt
                .find_compatible("pci-host-ecam-generic")
                .and_then(|n| reg(fdt, n, 0))
                .map_or(0, |r| r.base),
        };
        gic(fdt, &mut p)?;
        cpus(fdt, &mut p)?;
        Ok(p)
    }

    /// The logical index of the CPU whose MPIDR affinity is `mpidr`.
    pub fn cpu_index(&self, mpidr: u64) -> Option<usize> {
        self.mpidrs[..self.cpu_count]
            .iter()
            .position(|&m| m == mpidr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dt::tests::Builder;

    fn qemu_like(stdout: &str) -> Vec<u8> {
        let mut b = Builder::default();
        b.begin("")
            .cells("#address-cells", &[2])
            .cells("#size-cells", &[2]);
        b.begin("aliases").str("serial0", "/pl011@9000000").end();
        b.begin("chosen")
            .str("stdout-path", stdout)
            .str("bootargs", "vcputest.rounds=7")
            .end();
        b.begin("memory@40000000")
            .str("device_type", "memory")
            .cells("reg", &[0, 0x4000_0000, 0, 0x4000_0000])
            .end();
        b.begin("psci").str("method", "smc").end();
        b.begin("pl011@9000000")
            .cells("reg", &[0, 0x0900_0000, 0, 0x1000])
            .end();
        b.begin("intc@8000000")
            .str("compatible", "arm,gic-v3")
            .cells("#redistributor-regions", &[1]);
        b.cells(
            "reg",
            &[0, 0x0800_0000, 0, 0x1_0000, 0, 0x080a_0000, 0, 0xf6_0000],
        )
        .end();
        b.begin("timer").str("compatible", "arm,armv8-timer");
        b.cells(
            "interrupts",
            &[1, 13, 0xf04, 1, 14, 0xf04, 1, 11, 0xf04, 1, 10, 0xf04],
        )
        .end();
        b.begin("cpus").cells("#address-cells", &[1]);
        for (i, name) in ["cpu@0", "cpu@1"].iter().enumerate() {
            b.begin(name)
                .str("device_type", "cpu")
                .cells("reg", &[i as u32])
                .end();
        }
        b.end().end().finish()
    }

    #[test]
    fn a_qemu_virt_tree_gives_every_address_the_guest_needs() {
        let blob = qemu_like("/pl011@9000000");
        let p = Platform::from_fdt(&Fdt::new(&blob).unwrap()).unwrap();
        assert_eq!(p.uart, 0x0900_0000);
        assert_eq!(
            p.ram,
            Range {
                base: 0x4000_0000,
                size_bytes: 0x4000_0000
            }
        );
        assert_eq!(
            (p.gicd, p.gicr[0].base, p.gicr_count),
            (0x0800_0000, 0x080a_0000, 1)
        );
        assert_eq!(p.gicr_stride, DEFAULT_GICR_STRIDE);
        assert_eq!(p.vtimer_intid, 27);
        assert_eq!(p.conduit, Conduit::Smc);
        assert_eq!(&p.mpidrs[..p.cpu_count], &[0, 1]);
        assert_eq!(p.bootargs, "vcputest.rounds=7");
        assert_eq!(p.cpu_index(1), Some(1));
        assert_eq!(p.cpu_index(0x100), None);
    }

    #[test]
    fn stdout_path_may_be_an_alias_with_options() {
        let blob = qemu_like("serial0:115200n8");
        let p = Platform::from_fdt(&Fdt::new(&blob).unwrap()).unwrap();
        assert_eq!(p.uart, 0x0900_0000);
    }

    #[test]
    fn a_tree_without_a_console_is_refused_by_name() {
        let blob = qemu_like("/nowhere");
        let err = Platform::from_fdt(&Fdt::new(&blob).unwrap()).unwrap_err();
        assert!(matches!(err, Error::Missing("/chosen/stdout-path")));
    }
}
