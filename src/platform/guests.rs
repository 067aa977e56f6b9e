//! Several guests described in the host device tree: the `"sluice,guest"` binding
//! (`dts/guests.md`) as plain data, and the checks that need nothing but the tree itself.
//!
//! The tree walk (`tree/guests.rs`) reads each guest node into a [`GuestNode`] without judging
//! it; [`check`] turns the nodes into [`GuestSpec`]s or refuses with a [`GuestError`] naming the
//! node. Checks that need the host's resources (which CPUs exist, which PCI functions were
//! enumerated, how much RAM is free) belong to `crate::partition`, which consumes the specs.
#![forbid(unsafe_code)]

use super::GuestImages;
use crate::mm::PhysRange;
use crate::pci::Bdf;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The compatible string of a guest node under `/chosen`.
pub const GUEST_COMPATIBLE: &str = "sluice,guest";
/// Longest guest name, in bytes (it prefixes every console line of the guest).
pub const MAX_NAME_BYTES: usize = 16;
/// Guest RAM sizes are multiples of this, so that stage 2 can map it with 2 MiB blocks.
pub const MEMORY_GRANULE_BYTES: u64 = 2 << 20;

/// What a `/chosen` boot module node holds, from its compatible strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// `"multiboot,kernel"`.
    Kernel,
    /// `"multiboot,ramdisk"`.
    Ramdisk,
    /// Any other `"multiboot,*"` module (sluice uses none).
    Other,
}

/// A boot module node (`multiboot,*`) as found in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleNode {
    /// DT path of the node.
    pub path: String,
    /// What it holds.
    pub kind: ModuleKind,
    /// Where the boot loader left it (the first `reg` entry).
    pub range: PhysRange,
    /// Its `bootargs` (the guest command line, on a kernel module).
    pub bootargs: String,
}

/// A `"sluice,guest"` node as read from the tree, before any check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuestNode {
    /// DT path of the node, e.g. `/chosen/guest@0`.
    pub path: String,
    /// `sluice,name`, if given (invalid UTF-8 replaced, so that the name check refuses it).
    pub name: Option<String>,
    /// `cpus`: how many physical CPUs, allocated in order.
    pub cpu_count: Option<u32>,
    /// `sluice,cpus`: phandles of `/cpus` nodes, the CPUs pinned to the guest, in vCPU order.
    pub cpu_phandles: Option<Vec<u32>>,
    /// `memory`, in KiB (as Xen's dom0less binding gives it).
    pub memory_kib: Option<u64>,
    /// `sluice,pci-devices`: host functions as `bus:device.function` strings.
    pub pci: Vec<String>,
    /// Its module subnodes.
    pub modules: Vec<ModuleNode>,
}

/// How a guest asks for physical CPUs (each vCPU runs on one physical CPU it owns alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuRequest {
    /// This many CPUs, the lowest-numbered ones no guest pinned, in guest order.
    Count(usize),
    /// Exactly these CPUs, by MPIDR; vCPU `i` runs on the `i`-th.
    Pinned(Vec<u64>),
}

impl CpuRequest {
    /// How many CPUs (and so vCPUs) the guest gets.
    pub fn len(&self) -> usize {
        match self {
            Self::Count(n) => *n,
            Self::Pinned(list) => list.len(),
        }
    }

    /// Whether the request is for no CPU at all (never true once checked).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A checked guest description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestSpec {
    /// DT path of its node.
    pub node: String,
    /// Its name (`sluice,name`, else the node name): unique, printable, short.
    pub name: String,
    /// Its physical CPUs.
    pub cpus: CpuRequest,
    /// Its RAM in bytes, a multiple of 2 MiB; `None`: an equal share of what the guests that
    /// give a size leave.
    pub memory_bytes: Option<u64>,
    /// The host PCI functions it owns, in the order given.
    pub pci: Vec<Bdf>,
    /// Its kernel, initrd and command line.
    pub images: GuestImages,
}

/// What is wrong with a guest name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    /// Empty.
    Empty,
    /// Longer than [`MAX_NAME_BYTES`].
    TooLong,
    /// A byte outside printable ASCII without space (0x21..=0x7e).
    NotPrintable,
}

/// Why the guest nodes cannot be used. Every variant names the node at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestError {
    /// A boot module outside every guest node while guest nodes exist.
    StrayModule {
        /// The module node.
        module: String,
    },
    /// A guest node without a `multiboot,kernel` module.
    NoKernel {
        /// The guest node.
        node: String,
    },
    /// Two kernels or two ramdisks in one guest node.
    DuplicateModule {
        /// The guest node.
        node: String,
        /// The second module of that kind.
        module: String,
    },
    /// A module that is neither a kernel nor a ramdisk.
    UnsupportedModule {
        /// The module node.
        module: String,
    },
    /// A module whose `reg` is empty.
    EmptyModule {
        /// The module node.
        module: String,
    },
    /// Two modules that overlap without being the same range (sharing one image is fine).
    OverlappingModules {
        /// The module node.
        module: String,
        /// The one it overlaps.
        other: String,
    },
    /// No CPU: `cpus = <0>`, an empty `sluice,cpus`, or neither property.
    NoCpus {
        /// The guest node.
        node: String,
    },
    /// `cpus` and `sluice,cpus` disagree.
    CpuCountMismatch {
        /// The guest node.
        node: String,
        /// `cpus`.
        count: u32,
        /// Entries of `sluice,cpus`.
        listed: usize,
    },
    /// A `sluice,cpus` phandle that is not a CPU node under `/cpus`.
    NotACpu {
        /// The guest node.
        node: String,
        /// The phandle.
        phandle: u32,
    },
    /// The same CPU twice in one `sluice,cpus`.
    CpuListedTwice {
        /// The guest node.
        node: String,
        /// Its MPIDR.
        mpidr: u64,
    },
    /// A bad `sluice,name` (or node name).
    BadName {
        /// The guest node.
        node: String,
        /// The name.
        name: String,
        /// What is wrong.
        problem: NameProblem,
    },
    /// Two guests with one name.
    DuplicateName {
        /// The guest node.
        node: String,
        /// The name.
        name: String,
        /// The guest node that has it already.
        other: String,
    },
    /// `memory` of zero, not a multiple of 2 MiB, or past 64 bits in bytes.
    BadMemory {
        /// The guest node.
        node: String,
        /// The value, in KiB.
        kib: u64,
    },
    /// An entry of `sluice,pci-devices` that is not `bus:device.function`.
    BadBdf {
        /// The guest node.
        node: String,
        /// The entry.
        text: String,
    },
    /// A function given twice (to one guest or to two).
    BdfTaken {
        /// The guest node.
        node: String,
        /// The function.
        bdf: Bdf,
        /// The guest node that has it already (may be `node` itself).
        owner: String,
    },
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StrayModule { module } => write!(
                f,
                "{module}: boot module outside every \"{GUEST_COMPATIBLE}\" node (with guest \
                 nodes, each module must be inside the guest node it belongs to)"
            ),
            Self::NoKernel { node } => write!(f, "{node}: no \"multiboot,kernel\" module"),
            Self::DuplicateModule { node, module } => {
                write!(f, "{node}: second module of its kind: {module}")
            }
            Self::UnsupportedModule { module } => write!(
                f,
                "{module}: neither \"multiboot,kernel\" nor \"multiboot,ramdisk\""
            ),
            Self::EmptyModule { module } => write!(f, "{module}: empty \"reg\""),
            Self::OverlappingModules { module, other } => {
                write!(f, "{module}: overlaps {other} without being the same image")
            }
            Self::NoCpus { node } => write!(
                f,
                "{node}: no CPU (give \"cpus\" = <count> or \"sluice,cpus\" = <&cpu ...>)"
            ),
            Self::CpuCountMismatch {
                node,
                count,
                listed,
            } => write!(
                f,
                "{node}: \"cpus\" is {count} but \"sluice,cpus\" lists {listed}"
            ),
            Self::NotACpu { node, phandle } => write!(
                f,
                "{node}: \"sluice,cpus\" phandle {phandle:#x} is not a CPU node under /cpus"
            ),
            Self::CpuListedTwice { node, mpidr } => {
                write!(f, "{node}: CPU (MPIDR {mpidr:#x}) listed twice")
            }
            Self::BadName {
                node,
                name,
                problem,
            } => {
                let why = match problem {
                    NameProblem::Empty => "is empty",
                    NameProblem::TooLong => "is longer than 16 bytes",
                    NameProblem::NotPrintable => "has a byte outside printable ASCII (or a space)",
                };
                write!(f, "{node}: name {name:?} {why}")
            }
            Self::DuplicateName { node, name, other } => {
                write!(f, "{node}: name {name:?} is already the name of {other}")
            }
            Self::BadMemory { node, kib } => write!(
                f,
                "{node}: \"memory\" ({kib} KiB) must be a non-zero multiple of 2048 KiB (2 MiB)"
            ),
            Self::BadBdf { node, text } => write!(
                f,
                "{node}: \"sluice,pci-devices\" entry {text:?} is not bus:device.function (hex)"
            ),
            Self::BdfTaken { node, bdf, owner } if owner == node => {
                write!(f, "{node}: pci {bdf} listed twice")
            }
            Self::BdfTaken { node, bdf, owner } => {
                write!(f, "{node}: pci {bdf} is already owned by {owner}")
            }
        }
    }
}

/// Result of the checks.
pub type Result<T> = core::result::Result<T, GuestError>;

mod check;
pub use check::check;

/// Reads `bus:device.function` (hex bus and device, function 0-7), as `lspci` prints it.
pub fn parse_bdf(text: &str) -> Option<Bdf> {
    let (bus, rest) = text.split_once(':')?;
    let (device, function) = rest.split_once('.')?;
    let hex = |s: &str, max: u8| {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u8::from_str_radix(s, 16).ok())
            .flatten()
            .filter(|&v| v <= max)
    };
    let function = (function.len() == 1)
        .then(|| function.parse::<u8>().ok())
        .flatten()
        .filter(|&f| f < 8)?;
    Some(Bdf::new(hex(bus, 0xff)?, hex(device, 0x1f)?, function))
}
