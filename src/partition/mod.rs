//! Static partitioning: from the checked guest descriptions ([`GuestSpec`], `dts/guests.md`)
//! and what the host has (CPUs, free RAM, enumerated PCI functions), the [`Plan`]: per guest
//! its physical CPUs, its host RAM ranges and its PCI functions, disjoint from every other
//! guest's. Without guest nodes, the plan is today's single guest: every CPU, every assignable
//! endpoint (that `sluice.pci=` selects), the largest free RAM range.
//!
//! Pure: the hypervisor gathers the inputs after its own reservations and enumeration, calls
//! [`plan`], refuses to start on an error (each names the DT node at fault), and builds one
//! guest per [`GuestPlan`].
#![forbid(unsafe_code)]

pub mod cpus;
pub mod ram;

use crate::mm::carve::FreeMemory;
use crate::mm::PhysRange;
use crate::pci::Bdf;
use crate::platform::{Cpu, GuestImages, GuestSpec};
use crate::vpci::topology::Assignment;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
pub use ram::RAM_ALIGN;

/// The name of the single guest when no guest node exists.
pub const DEFAULT_GUEST_NAME: &str = "guest";

/// Why the guests cannot be laid out on this host. Every variant but [`Self::NoRam`] and
/// [`Self::PciOptionWithGuestNodes`] names the guest node at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionError {
    /// More guests than CPUs (each guest needs a CPU of its own).
    TooManyGuests {
        /// The first guest node without a CPU.
        node: String,
        /// Guest nodes.
        guests: usize,
        /// Host CPUs.
        cpus: usize,
    },
    /// A pinned CPU the host does not have (or sluice does not use).
    NoSuchCpu {
        /// Guest node.
        node: String,
        /// MPIDR asked for.
        mpidr: u64,
    },
    /// A CPU pinned by two guests.
    CpuTaken {
        /// Guest node.
        node: String,
        /// Host CPU index.
        cpu: usize,
        /// Its MPIDR.
        mpidr: u64,
        /// The guest node that has it.
        owner: String,
    },
    /// A CPU count larger than the CPUs no guest owns.
    NotEnoughCpus {
        /// Guest node.
        node: String,
        /// CPUs asked for.
        wanted: usize,
        /// CPUs left.
        free: usize,
    },
    /// A function the host did not enumerate.
    NoSuchFunction {
        /// Guest node.
        node: String,
        /// The function.
        bdf: Bdf,
    },
    /// A bridge (or host bridge), which no guest can own.
    NotAssignable {
        /// Guest node.
        node: String,
        /// The function.
        bdf: Bdf,
    },
    /// A function given to two guests.
    FunctionTaken {
        /// Guest node.
        node: String,
        /// The function.
        bdf: Bdf,
        /// The guest node that has it.
        owner: String,
    },
    /// The guest's RAM does not fit in the free RAM left.
    NotEnoughRam {
        /// Guest node.
        node: String,
        /// Bytes asked for (for a guest sharing what is left: the least it needs).
        wanted_bytes: u64,
        /// Free RAM in 2 MiB-aligned ranges, before any guest.
        free_bytes: u64,
        /// The largest such range.
        largest_free_bytes: u64,
    },
    /// A `memory` smaller than the guest's own kernel and initrd.
    RamTooSmall {
        /// Guest node.
        node: String,
        /// Its `memory`.
        ram_bytes: u64,
        /// Its kernel and initrd.
        images_bytes: u64,
    },
    /// No free 2 MiB-aligned RAM at all for the single guest.
    NoRam,
    /// `sluice.pci=` selects functions while guest nodes say who owns which.
    PciOptionWithGuestNodes,
}

const MIB: u64 = 1 << 20;

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyGuests { node, guests, cpus } => write!(
                f,
                "{node}: {guests} guests but {cpus} CPUs (each guest needs a CPU of its own)"
            ),
            Self::NoSuchCpu { node, mpidr } => write!(
                f,
                "{node}: no CPU with MPIDR {mpidr:#x} (not in /cpus, or beyond the CPUs sluice uses)"
            ),
            Self::CpuTaken {
                node,
                cpu,
                mpidr,
                owner,
            } => write!(
                f,
                "{node}: cpu {cpu} (MPIDR {mpidr:#x}) is already owned by {owner}"
            ),
            Self::NotEnoughCpus { node, wanted, free } => write!(
                f,
                "{node}: wants {wanted} CPUs but only {free} are owned by no guest"
            ),
            Self::NoSuchFunction { node, bdf } => {
                write!(f, "{node}: pci {bdf} is not a function found on the host")
            }
            Self::NotAssignable { node, bdf } => write!(
                f,
                "{node}: pci {bdf} is a bridge, not an endpoint a guest can own"
            ),
            Self::FunctionTaken { node, bdf, owner } => {
                write!(f, "{node}: pci {bdf} is already owned by {owner}")
            }
            Self::NotEnoughRam {
                node,
                wanted_bytes,
                free_bytes,
                largest_free_bytes,
            } => write!(
                f,
                "{node}: cannot get {} MiB of RAM (free: {} MiB in 2 MiB-aligned ranges, the \
                 largest {} MiB)",
                wanted_bytes / MIB,
                free_bytes / MIB,
                largest_free_bytes / MIB
            ),
            Self::RamTooSmall {
                node,
                ram_bytes,
                images_bytes,
            } => write!(
                f,
                "{node}: {} MiB of RAM cannot hold its kernel and initrd ({images_bytes} bytes)",
                ram_bytes / MIB
            ),
            Self::NoRam => write!(f, "no free 2 MiB-aligned RAM left for the guest"),
            Self::PciOptionWithGuestNodes => write!(
                f,
                "sluice.pci= cannot be used with guest nodes: give each guest its functions \
                 with \"sluice,pci-devices\""
            ),
        }
    }
}

/// Result of partitioning.
pub type Result<T> = core::result::Result<T, PartitionError>;

/// A PCI function the host enumerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFunction {
    /// Where it is.
    pub bdf: Bdf,
    /// An endpoint a guest can own (`pci::enumerate::HostFunction::is_assignable_endpoint`).
    pub assignable: bool,
}

impl From<&crate::pci::enumerate::HostFunction> for HostFunction {
    fn from(f: &crate::pci::enumerate::HostFunction) -> Self {
        Self {
            bdf: f.bdf,
            assignable: f.is_assignable_endpoint(),
        }
    }
}

/// What the host has for guests, after sluice's own needs.
#[derive(Debug, Clone, Copy)]
pub struct HostResources<'a> {
    /// The CPUs sluice runs on, in order (a CPU's index here is its index everywhere).
    pub cpus: &'a [Cpu],
    /// Free RAM: the DT's memory minus firmware reservations, the DTB, sluice's image and
    /// heap, and every guest's boot modules (`Platform::boot_modules`).
    pub free_ram: &'a [PhysRange],
    /// Every function the host enumerated.
    pub functions: &'a [HostFunction],
    /// How many host RAM ranges one guest may be given (1 while a guest's RAM is one bank).
    pub max_ram_ranges: usize,
}

/// One guest of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestPlan {
    /// Its name (the console prefix).
    pub name: String,
    /// Its DT node, `None` for the single guest of a tree without guest nodes.
    pub node: Option<String>,
    /// The host CPU indices it owns; its vCPU `i` runs on `cpus[i]`, vCPU 0 boots.
    pub cpus: Vec<usize>,
    /// Its host RAM, 2 MiB aligned, sorted by address.
    pub ram: Vec<PhysRange>,
    /// The host functions it owns.
    pub pci: Vec<Bdf>,
    /// Its kernel, initrd and command line.
    pub images: GuestImages,
}

/// Every guest the hypervisor runs, in guest order (guest 0 first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The guests.
    pub guests: Vec<GuestPlan>,
}

impl Plan {
    /// The guest that owns host CPU `cpu` (none: the CPU stays parked in sluice).
    pub fn guest_of_cpu(&self, cpu: usize) -> Option<usize> {
        self.guests.iter().position(|g| g.cpus.contains(&cpu))
    }

    /// The guest that owns host CPU `cpu` and the vCPU of that guest the CPU runs.
    pub fn vcpu_of_cpu(&self, cpu: usize) -> Option<(usize, usize)> {
        self.guests
            .iter()
            .enumerate()
            .find_map(|(g, plan)| Some((g, plan.cpus.iter().position(|&c| c == cpu)?)))
    }

    /// The guest that owns function `bdf`.
    pub fn guest_of_function(&self, bdf: Bdf) -> Option<usize> {
        self.guests.iter().position(|g| g.pci.contains(&bdf))
    }

    /// The guest whose RAM holds host address `host_phys`.
    pub fn guest_of_ram(&self, host_phys: u64) -> Option<usize> {
        self.guests
            .iter()
            .position(|g| g.ram.iter().any(|r| r.contains(host_phys)))
    }
}

/// The plan for the guest nodes `specs` (`Platform::guests`), or, with none, the single
/// guest booting `single` (`Platform::guest`) with the functions `assignment` selects.
pub fn plan(
    specs: &[GuestSpec],
    single: &GuestImages,
    host: &HostResources,
    assignment: &Assignment,
) -> Result<Plan> {
    if specs.is_empty() {
        return single_guest(single, host, assignment);
    }
    if *assignment != Assignment::All {
        return Err(PartitionError::PciOptionWithGuestNodes);
    }
    let cpus = cpus::assign(specs, host.cpus)?;
    check_functions(specs, host.functions)?;
    let requests: Vec<ram::RamRequest> = specs
        .iter()
        .map(|s| ram::RamRequest {
            node: &s.node,
            bytes: s.memory_bytes,
            min_bytes: images_bytes(&s.images),
        })
        .collect();
    let ram = ram::assign(&requests, host.free_ram, host.max_ram_ranges.max(1))?;
    let guests = specs
        .iter()
        .zip(cpus)
        .zip(ram)
        .map(|((spec, cpus), ram)| GuestPlan {
            name: spec.name.clone(),
            node: Some(spec.node.clone()),
            cpus,
            ram,
            pci: spec.pci.clone(),
            images: spec.images.clone(),
        })
        .collect();
    Ok(Plan { guests })
}

/// Today's behaviour: one guest, every CPU, every assignable endpoint `assignment` selects,
/// the largest free aligned RAM range.
fn single_guest(
    images: &GuestImages,
    host: &HostResources,
    assignment: &Assignment,
) -> Result<Plan> {
    let ram = FreeMemory::new(host.free_ram)
        .take_largest(RAM_ALIGN)
        .map_err(|_| PartitionError::NoRam)?;
    Ok(Plan {
        guests: alloc::vec![GuestPlan {
            name: String::from(DEFAULT_GUEST_NAME),
            node: None,
            cpus: (0..host.cpus.len()).collect(),
            ram: alloc::vec![ram],
            pci: host
                .functions
                .iter()
                .filter(|f| f.assignable && assignment.includes(f.bdf))
                .map(|f| f.bdf)
                .collect(),
            images: images.clone(),
        }],
    })
}

/// Every function a guest names exists, is an endpoint and has one owner.
fn check_functions(specs: &[GuestSpec], functions: &[HostFunction]) -> Result<()> {
    for (g, spec) in specs.iter().enumerate() {
        for &bdf in &spec.pci {
            let node = spec.node.clone();
            match functions.iter().find(|f| f.bdf == bdf) {
                None => return Err(PartitionError::NoSuchFunction { node, bdf }),
                Some(f) if !f.assignable => {
                    return Err(PartitionError::NotAssignable { node, bdf })
                }
                Some(_) => {}
            }
            if let Some(owner) = specs[..g].iter().find(|s| s.pci.contains(&bdf)) {
                let owner = owner.node.clone();
                return Err(PartitionError::FunctionTaken { node, bdf, owner });
            }
        }
    }
    Ok(())
}

/// Bytes of a guest's kernel and initrd.
fn images_bytes(images: &GuestImages) -> u64 {
    images
        .kernel
        .size_bytes
        .saturating_add(images.ramdisk.map_or(0, |r| r.size_bytes))
}

#[cfg(test)]
mod tests;
