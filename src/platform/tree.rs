//! Walking the host DT with the `fdt` crate, after a structural check of our own (the crate
//! panics on a malformed structure block; sluice must not).
#![forbid(unsafe_code)]

use super::*;
use alloc::format;
use fdt::node::FdtNode;
use fdt::Fdt;

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;
/// Deepest node nesting accepted. Real trees are under 10 deep (Linux's unflattening gives
/// up at 64, and so does the `fdt` crate's node iterator, by panicking); `visit` recurses once
/// per level on sluice's 64 KiB EL2 stack, so a deeper tree is refused before it is walked.
const MAX_DEPTH: usize = 32;
const GIC_SPI: u32 = 0;
const GIC_PPI: u32 = 1;

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Checks the header and every token of the structure block, so that walking it cannot fail.
pub(super) fn validate(dtb: &[u8]) -> core::result::Result<(), &'static str> {
    let field = |n: usize| be32(dtb, 4 * n).ok_or("truncated header");
    if field(0)? != 0xd00d_feed {
        return Err("bad magic");
    }
    let (total, off_struct, off_strings) =
        (field(1)? as usize, field(2)? as usize, field(3)? as usize);
    let (version, size_strings, size_struct) = (field(5)?, field(8)? as usize, field(9)? as usize);
    if total > dtb.len() || version < 16 {
        return Err("truncated blob or version older than 16");
    }
    check_reservations(
        dtb.get(field(4)? as usize..total)
            .ok_or("bad reservation block")?,
    )?;
    let structs = off_struct
        .checked_add(size_struct)
        .and_then(|end| dtb.get(off_struct..end))
        .ok_or("bad struct block")?;
    let strings = off_strings
        .checked_add(size_strings)
        .and_then(|end| dtb.get(off_strings..end))
        .ok_or("bad strings block")?;
    walk_tokens(structs, strings)
}

/// The /memreserve/ block must end with a (0, 0) entry inside the blob.
fn check_reservations(block: &[u8]) -> core::result::Result<(), &'static str> {
    let entries = block.chunks_exact(16);
    for entry in entries {
        if entry.iter().all(|&b| b == 0) {
            return Ok(());
        }
    }
    Err("unterminated memory reservation block")
}

/// Whether `bytes` starts with a NUL-terminated UTF-8 string.
fn is_c_string(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .position(|&b| b == 0)
        .is_some_and(|n| core::str::from_utf8(&bytes[..n]).is_ok())
}

/// Where the walk is in the structure block. The `fdt` crate reads a node as its properties,
/// then its children, then NOPs, then FDT_END_NODE, and panics on any other order (it skips
/// NOPs only there), so that is the only order accepted -- but for the root's children, which
/// it iterates (skipping NOPs before each) and never skips over: there, NOPs may come between
/// children, as QEMU leaves them when it loads a `-dtb` and replaces its memory node.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the root node.
    BeforeRoot,
    /// Right after a node's name or one of its properties.
    Properties,
    /// After a child node.
    Children,
    /// After a NOP: only NOPs and the end of the node may follow.
    Closing,
    /// After the root node: only FDT_END may follow.
    AfterRoot,
}

/// The phase after `token`, met at `depth` (nodes open), or why it cannot come here.
fn next_phase(phase: Phase, token: u32, depth: usize) -> core::result::Result<Phase, &'static str> {
    use Phase::*;
    match (token, phase) {
        (FDT_BEGIN_NODE, BeforeRoot | Properties | Children) => Ok(Properties),
        (FDT_BEGIN_NODE, Closing) if depth == 1 => Ok(Properties),
        (FDT_PROP, Properties) => Ok(Properties),
        (FDT_NOP, Properties | Children | Closing) => Ok(Closing),
        (FDT_END_NODE, Properties | Children | Closing) if depth == 1 => Ok(AfterRoot),
        (FDT_END_NODE, Properties | Children | Closing) => Ok(Children),
        (FDT_END, AfterRoot) => Ok(AfterRoot),
        (FDT_BEGIN_NODE | FDT_END_NODE | FDT_PROP | FDT_NOP | FDT_END, _) => {
            Err("structure tokens out of order")
        }
        _ => Err("bad structure token"),
    }
}

/// Offset past the NUL-terminated, padded name of a node whose name starts at `at`.
fn node_name_end(structs: &[u8], at: usize) -> core::result::Result<usize, &'static str> {
    let name_len = structs
        .get(at..)
        .and_then(|s| s.iter().position(|&b| b == 0))
        .ok_or("unterminated node name")?;
    core::str::from_utf8(&structs[at..at + name_len]).map_err(|_| "node name is not UTF-8")?;
    Ok((at + name_len + 1).next_multiple_of(4))
}

/// Offset past a property whose length word is at `at`.
fn property_end(
    structs: &[u8],
    strings: &[u8],
    at: usize,
) -> core::result::Result<usize, &'static str> {
    let len = be32(structs, at).ok_or("truncated property")? as usize;
    let name_offset = be32(structs, at + 4).ok_or("truncated property")? as usize;
    if !strings.get(name_offset..).is_some_and(is_c_string) || at + 8 + len > structs.len() {
        return Err("property name or value outside its block");
    }
    Ok((at + 8 + len).next_multiple_of(4))
}

fn walk_tokens(structs: &[u8], strings: &[u8]) -> core::result::Result<(), &'static str> {
    let (mut at, mut depth, mut phase) = (0usize, 0usize, Phase::BeforeRoot);
    loop {
        let token = be32(structs, at).ok_or("structure block ends without FDT_END")?;
        at += 4;
        phase = next_phase(phase, token, depth)?;
        match token {
            FDT_BEGIN_NODE => {
                at = node_name_end(structs, at)?;
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err("nodes nested too deeply");
                }
            }
            FDT_END_NODE => depth = depth.checked_sub(1).ok_or("unbalanced FDT_END_NODE")?,
            FDT_PROP => at = property_end(structs, strings, at)?,
            FDT_END => return Ok(()),
            _ => {} // FDT_NOP
        }
    }
}

/// Cell counts in force for a node's `reg`: its parent's `#address-cells` / `#size-cells`.
#[derive(Clone, Copy)]
struct Cells {
    address: usize,
    size: usize,
}

impl Cells {
    const DEFAULT: Self = Self {
        address: 2,
        size: 1,
    };

    fn of_children(node: FdtNode, inherited: Self) -> Self {
        let get = |name| {
            node.property(name)
                .and_then(|p| be32(p.value, 0))
                .map(|v| v as usize)
        };
        Self {
            address: get("#address-cells").unwrap_or(inherited.address),
            size: get("#size-cells").unwrap_or(inherited.size),
        }
    }
}

/// A node with what the walk knows about its place in the tree.
#[derive(Clone, Copy)]
struct Visited<'b, 'a> {
    node: FdtNode<'b, 'a>,
    reg_cells: Cells,
}

fn read_cells(value: &[u8], at_cell: usize, count: usize) -> Option<u64> {
    if count > 2 {
        return None;
    }
    (0..count).try_fold(0u64, |acc, i| {
        Some(acc << 32 | be32(value, 4 * (at_cell + i))? as u64)
    })
}

fn strings(value: &[u8]) -> impl Iterator<Item = &str> {
    value
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| core::str::from_utf8(s).ok())
}

fn is_compatible(node: FdtNode, with: &str) -> bool {
    node.property("compatible")
        .is_some_and(|p| strings(p.value).any(|c| c == with))
}

fn malformed(path: &str, property: &'static str) -> PlatformError {
    PlatformError::Malformed {
        node: String::from(path),
        property,
    }
}

fn regs(v: &Visited, path: &str) -> Result<Vec<PhysRange>> {
    let Some(prop) = v.node.property("reg") else {
        return Ok(Vec::new());
    };
    let entry_cells = v.reg_cells.address + v.reg_cells.size;
    if entry_cells == 0 || prop.value.len() % (4 * entry_cells) != 0 {
        return Err(malformed(path, "reg"));
    }
    (0..prop.value.len() / (4 * entry_cells))
        .map(|i| {
            let start = read_cells(prop.value, i * entry_cells, v.reg_cells.address);
            let size = read_cells(
                prop.value,
                i * entry_cells + v.reg_cells.address,
                v.reg_cells.size,
            );
            start
                .zip(size)
                .map(|(s, n)| PhysRange::new(s, n))
                .ok_or_else(|| malformed(path, "reg"))
        })
        .collect()
}

fn interrupt_triples(node: FdtNode, path: &str) -> Result<Vec<(u32, u32, u32)>> {
    let Some(prop) = node.property("interrupts") else {
        return Ok(Vec::new());
    };
    if prop.value.len() % 12 != 0 {
        return Err(malformed(path, "interrupts"));
    }
    Ok(prop
        .value
        .chunks_exact(12)
        .filter_map(|c| Some((be32(c, 0)?, be32(c, 4)?, be32(c, 8)?)))
        .collect())
}

fn intid_of((kind, number, _): (u32, u32, u32)) -> Option<u32> {
    match kind {
        GIC_SPI => number.checked_add(32),
        GIC_PPI => number.checked_add(16),
        _ => None,
    }
}

/// Visits every node depth-first with its full path.
fn visit<'b, 'a>(
    node: FdtNode<'b, 'a>,
    path: &str,
    reg_cells: Cells,
    f: &mut dyn FnMut(&str, Visited<'b, 'a>) -> Result<()>,
) -> Result<()> {
    f(path, Visited { node, reg_cells })?;
    // QEMU's guest-loader writes /chosen module `reg`s with the root's cell sizes and no
    // #address-cells in /chosen; inheriting there (and in guest nodes below it, only) reads
    // them as it meant.
    let fallback = if path == "/chosen" || path.starts_with("/chosen/") {
        reg_cells
    } else {
        Cells::DEFAULT
    };
    let child_cells = Cells::of_children(node, fallback);
    for child in node.children() {
        let child_path = if path == "/" {
            format!("/{}", child.name)
        } else {
            format!("{path}/{}", child.name)
        };
        visit(child, &child_path, child_cells, f)?;
    }
    Ok(())
}

mod collect;
mod guests;
mod iommu;

/// Parses and checks the whole tree.
pub(super) fn parse(dtb: &[u8]) -> Result<Platform> {
    validate(dtb).map_err(PlatformError::BadDtb)?;
    let fdt = Fdt::new(dtb).map_err(|_| PlatformError::BadDtb("rejected by the fdt parser"))?;
    let root = fdt
        .find_node("/")
        .ok_or(PlatformError::BadDtb("no root node"))?;
    let mut found = collect::Found::default();
    visit(root, "/", Cells::DEFAULT, &mut |path, v| {
        found.node(path, v)
    })?;
    found.reserved.extend(
        fdt.memory_reservations()
            .map(|r| PhysRange::new(r.address() as u64, r.size() as u64)),
    );
    found.finish(&fdt)
}

/// The console UART's base address, for reporting a fatal error before the rest parses.
pub fn console_base(dtb: &[u8]) -> Option<u64> {
    validate(dtb).ok()?;
    let fdt = Fdt::new(dtb).ok()?;
    let root = fdt.find_node("/")?;
    let mut found = collect::Found::default();
    let _ = visit(root, "/", Cells::DEFAULT, &mut |path, v| {
        found.node(path, v)
    });
    found.console(&fdt).ok().map(|u| u.base.start)
}
