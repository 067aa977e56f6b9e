//! Finds what to fuzz: the guest's regions from its own device tree (/proc/device-tree) and
//! its PCI functions with their MSI-X table and PBA pages from sysfs.

use crate::dt::{is_compatible, parse_pci_ranges, parse_reg, GuestMap, PhysRange};
use crate::pcidev::{find_msix, parse_bdf, resource_start, BarOffset, Bdf, MSIX_ENTRY_SIZE};
use crate::sys;
use crate::text::LineBuf;
use core::fmt::Write;

const DT_ROOT: &[u8] = b"/proc/device-tree";
const PCI_DEVICES: &[u8] = b"/sys/bus/pci/devices";
/// How many of its own functions the fuzzer handles (a guest bus has 32 slots).
pub const MAX_FUNCTIONS: usize = 32;
const PAGE: u64 = 4096;

/// Reads a whole (small) file into `buf`; the bytes read.
fn read_file<'a>(path: &[u8], buf: &'a mut [u8]) -> Option<&'a [u8]> {
    let fd = sys::open(path, sys::O_RDONLY);
    if fd < 0 {
        return None;
    }
    let mut len = 0;
    while len < buf.len() {
        let n = sys::read(fd, &mut buf[len..]);
        if n <= 0 {
            break;
        }
        len += n as usize;
    }
    sys::close(fd);
    Some(&buf[..len])
}

/// Calls `each` with the name of every entry of directory `path` (not "." or "..").
fn for_each_entry(path: &[u8], mut each: impl FnMut(&[u8])) {
    let fd = sys::open(path, sys::O_RDONLY | sys::O_DIRECTORY);
    if fd < 0 {
        return;
    }
    let mut buf = [0u8; 4096];
    loop {
        let n = sys::getdents64(fd, &mut buf);
        if n <= 0 {
            break;
        }
        // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name (NUL-terminated)
        let mut at = 0;
        while at + 19 < n as usize {
            let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let name = &buf[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                each(name);
            }
            at += reclen.max(1);
        }
    }
    sys::close(fd);
}

/// `dir/name` as a path.
fn join(dir: &[u8], name: &[u8]) -> LineBuf<256> {
    let mut path = LineBuf::new();
    let as_str = |b| core::str::from_utf8(b).unwrap_or("?");
    let _ = write!(path, "{}/{}", as_str(dir), as_str(name));
    path
}

fn property<'a>(node: &[u8], name: &[u8], buf: &'a mut [u8]) -> Option<&'a [u8]> {
    read_file(join(node, name).as_bytes(), buf)
}

/// Reads the guest's map from its device tree.
pub fn guest_map() -> GuestMap {
    let mut map = GuestMap::default();
    for_each_entry(DT_ROOT, |name| {
        let node = join(DT_ROOT, name);
        let node = node.as_bytes();
        let (mut compat, mut reg, mut kind) = ([0u8; 128], [0u8; 128], [0u8; 16]);
        let compat = property(node, b"compatible", &mut compat).unwrap_or(&[]);
        let reg = parse_reg(property(node, b"reg", &mut reg).unwrap_or(&[]));
        let first = reg.as_slice().first().copied();
        if property(node, b"device_type", &mut kind) == Some(b"memory\0") {
            reg.as_slice().iter().for_each(|r| map.memory.push(*r));
        } else if is_compatible(compat, b"arm,gic-v3") {
            map.gicd = first.unwrap_or_default();
            map.gicr = reg.as_slice().get(1).copied().unwrap_or_default();
            for_each_entry(node, |child| its_child(node, child, &mut map));
        } else if is_compatible(compat, b"arm,pl011") {
            map.uart = first;
        } else if is_compatible(compat, b"pci-host-ecam-generic") {
            map.ecam = first;
            let mut ranges = [0u8; 256];
            map.pci_windows =
                parse_pci_ranges(property(node, b"ranges", &mut ranges).unwrap_or(&[]));
        }
    });
    map
}

fn its_child(gic_node: &[u8], child: &[u8], map: &mut GuestMap) {
    let node = join(gic_node, child);
    let (mut compat, mut reg) = ([0u8; 64], [0u8; 64]);
    if is_compatible(
        property(node.as_bytes(), b"compatible", &mut compat).unwrap_or(&[]),
        b"arm,gic-v3-its",
    ) {
        map.its = parse_reg(property(node.as_bytes(), b"reg", &mut reg).unwrap_or(&[]))
            .as_slice()
            .first()
            .copied();
    }
}

/// One of the guest's PCI functions.
#[derive(Clone, Copy, Debug)]
pub struct Function {
    /// Its address on the guest's bus.
    pub bdf: Bdf,
    /// The pages holding its MSI-X table and PBA (guest-physical), if it has MSI-X.
    pub msix_pages: [Option<PhysRange>; 2],
}

/// Lists the guest's PCI functions (at most `MAX_FUNCTIONS`); returns how many were found.
pub fn functions(out: &mut [Option<Function>; MAX_FUNCTIONS]) -> usize {
    for_each_function(
        |name, bdf| Function {
            bdf,
            msix_pages: msix_pages(name),
        },
        out,
    )
}

/// Lists the addresses of the guest's PCI functions (at most `MAX_FUNCTIONS`) without
/// touching their config space; returns how many were found.
pub fn addresses(out: &mut [Option<Bdf>; MAX_FUNCTIONS]) -> usize {
    for_each_function(|_, bdf| bdf, out)
}

/// Fills `out` with `make(sysfs name, address)` of each function; returns how many.
fn for_each_function<T>(
    mut make: impl FnMut(&[u8], Bdf) -> T,
    out: &mut [Option<T>; MAX_FUNCTIONS],
) -> usize {
    let mut count = 0;
    for_each_entry(PCI_DEVICES, |name| {
        let Some(bdf) = parse_bdf(name) else { return };
        if count < MAX_FUNCTIONS {
            out[count] = Some(make(name, bdf));
            count += 1;
        }
    });
    count
}

fn msix_pages(name: &[u8]) -> [Option<PhysRange>; 2] {
    let dir = join(PCI_DEVICES, name);
    let (mut config, mut resource) = ([0u8; 256], [0u8; 1024]);
    let config = property(dir.as_bytes(), b"config", &mut config).unwrap_or(&[]);
    let Some(msix) = find_msix(config) else {
        return [None, None];
    };
    let resource = property(dir.as_bytes(), b"resource", &mut resource).unwrap_or(&[]);
    let span = |at: BarOffset, bytes: u64| {
        let start = resource_start(resource, at.bar as usize)?.checked_add(at.offset)?;
        let first = start & !(PAGE - 1);
        let end = (start + bytes).div_ceil(PAGE) * PAGE;
        Some(PhysRange {
            start: first,
            size_bytes: end - first,
        })
    };
    let table = span(msix.table, msix.entries as u64 * MSIX_ENTRY_SIZE);
    let pba = span(msix.pba, (msix.entries as u64).div_ceil(64) * 8);
    // A PBA on the table's own page is fuzzed with it.
    let pba = pba.filter(|p| table.is_none_or(|t| !t.contains(p.start)));
    [table, pba]
}
