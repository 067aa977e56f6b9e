//! Reading `/chosen`: boot modules and `"sluice,guest"` nodes, as plain data for
//! `platform::guests::check`. Only the encoding of each property is judged here (a property
//! of the wrong length is [`PlatformError::Malformed`]); what the values mean is checked there.
#![forbid(unsafe_code)]

use super::super::guests::{GuestNode, ModuleKind, ModuleNode, GUEST_COMPATIBLE};
use super::*;

/// What `/chosen` holds.
#[derive(Default)]
pub(super) struct Chosen {
    /// Guest nodes, in tree order.
    pub guests: Vec<GuestNode>,
    /// Modules that are not a direct child of a guest node.
    pub modules: Vec<ModuleNode>,
}

impl Chosen {
    /// Looks at a node below `/chosen` (the walk is depth-first, so a guest node comes
    /// before its modules).
    pub fn node(&mut self, path: &str, v: &Visited) -> Result<()> {
        let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
        if parent == "/chosen" && is_compatible(v.node, GUEST_COMPATIBLE) {
            self.guests.push(guest(path, v.node)?);
        } else if let Some(module) = module(path, v)? {
            match self.guests.last_mut() {
                Some(g) if g.path == parent => g.modules.push(module),
                _ => self.modules.push(module),
            }
        }
        Ok(())
    }
}

/// A `multiboot,*` module node, if `v` is one.
fn module(path: &str, v: &Visited) -> Result<Option<ModuleNode>> {
    let Some(compatible) = v.node.property("compatible") else {
        return Ok(None);
    };
    let mut kinds = strings(compatible.value).filter(|c| c.starts_with("multiboot,"));
    let Some(first) = kinds.next() else {
        return Ok(None);
    };
    let kind = core::iter::once(first)
        .chain(kinds)
        .find_map(|c| match c {
            "multiboot,kernel" => Some(ModuleKind::Kernel),
            "multiboot,ramdisk" => Some(ModuleKind::Ramdisk),
            _ => None,
        })
        .unwrap_or(ModuleKind::Other);
    let range = regs(v, path)?
        .first()
        .copied()
        .ok_or_else(|| malformed(path, "reg"))?;
    let bootargs = v
        .node
        .property("bootargs")
        .and_then(|p| strings(p.value).next())
        .unwrap_or("");
    Ok(Some(ModuleNode {
        path: String::from(path),
        kind,
        range,
        bootargs: String::from(bootargs),
    }))
}

/// A guest node's own properties (its modules are added as the walk reaches them).
fn guest(path: &str, node: FdtNode) -> Result<GuestNode> {
    let value = |name| node.property(name).map(|p| p.value);
    let name = value("sluice,name")
        .map(|v| single_string(v).ok_or_else(|| malformed(path, "sluice,name")))
        .transpose()?;
    let cpu_count = value("cpus")
        .map(|v| {
            (v.len() == 4)
                .then(|| be32(v, 0))
                .flatten()
                .ok_or_else(|| malformed(path, "cpus"))
        })
        .transpose()?;
    let cpu_phandles = value("sluice,cpus")
        .map(|v| {
            (v.len() % 4 == 0)
                .then(|| v.chunks_exact(4).filter_map(|c| be32(c, 0)).collect())
                .ok_or_else(|| malformed(path, "sluice,cpus"))
        })
        .transpose()?;
    let memory_kib = value("memory")
        .map(|v| {
            matches!(v.len(), 4 | 8)
                .then(|| read_cells(v, 0, v.len() / 4))
                .flatten()
                .ok_or_else(|| malformed(path, "memory"))
        })
        .transpose()?;
    let pci = match value("sluice,pci-devices") {
        None => Vec::new(),
        Some(v) => string_list(v).ok_or_else(|| malformed(path, "sluice,pci-devices"))?,
    };
    Ok(GuestNode {
        path: String::from(path),
        name,
        cpu_count,
        cpu_phandles,
        memory_kib,
        pci,
        modules: Vec::new(),
    })
}

/// The strings of a string-list property: NUL-terminated, none empty. Invalid UTF-8 is kept
/// (replaced) so that the checks can name the entry.
fn string_list(value: &[u8]) -> Option<Vec<String>> {
    let body = value.strip_suffix(&[0])?;
    body.split(|&b| b == 0)
        .map(|s| (!s.is_empty()).then(|| String::from_utf8_lossy(s).into_owned()))
        .collect()
}

/// A property holding exactly one string.
fn single_string(value: &[u8]) -> Option<String> {
    let mut list = string_list(value)?;
    (list.len() == 1).then(|| list.remove(0))
}
