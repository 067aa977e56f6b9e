//! The guest's own device tree, decoded from the property files Linux exposes under
//! /proc/device-tree: which regions the guest was given (RAM, GICD, GICR, ITS, UART, ECAM, PCI
//! windows). Everything here is plain bytes in, ranges out; the files are read by `discover`.
#![forbid(unsafe_code)]

/// A guest-physical range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysRange {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub size_bytes: u64,
}

impl PhysRange {
    /// True if `addr` lies in the range.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr - self.start < self.size_bytes
    }
}

/// How many ranges one region list holds (RAM banks, PCI windows).
pub const MAX_RANGES: usize = 8;

/// A short list of ranges without an allocator.
#[derive(Clone, Copy, Debug, Default)]
pub struct RangeList {
    ranges: [PhysRange; MAX_RANGES],
    len: usize,
}

impl RangeList {
    /// Adds a range; extras beyond `MAX_RANGES` are dropped (the guest DT has far fewer).
    pub fn push(&mut self, range: PhysRange) {
        if self.len < MAX_RANGES {
            self.ranges[self.len] = range;
            self.len += 1;
        }
    }

    /// The ranges held.
    pub fn as_slice(&self) -> &[PhysRange] {
        &self.ranges[..self.len]
    }

    /// True if any range holds `addr`.
    pub fn contains(&self, addr: u64) -> bool {
        self.as_slice().iter().any(|r| r.contains(addr))
    }
}

/// Decodes a `reg` property with two address cells and two size cells (what sluice's guest
/// DT uses at the root and under the GIC): big-endian (address, size) pairs.
pub fn parse_reg(bytes: &[u8]) -> RangeList {
    let mut list = RangeList::default();
    for pair in bytes.chunks_exact(16) {
        list.push(PhysRange {
            start: be_u64(&pair[..8]),
            size_bytes: be_u64(&pair[8..]),
        });
    }
    list
}

/// Decodes a PCI host bridge's `ranges` (PCI Bus Binding to OF: 3 PCI address cells, 2 CPU
/// address cells, 2 size cells): the CPU-side windows.
pub fn parse_pci_ranges(bytes: &[u8]) -> RangeList {
    let mut list = RangeList::default();
    for entry in bytes.chunks_exact(28) {
        list.push(PhysRange {
            start: be_u64(&entry[12..20]),
            size_bytes: be_u64(&entry[20..28]),
        });
    }
    list
}

/// True if a `compatible` property (NUL-separated strings) lists `name`.
pub fn is_compatible(property: &[u8], name: &[u8]) -> bool {
    property.split(|&c| c == 0).any(|s| s == name)
}

fn be_u64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| acc << 8 | b as u64)
}

/// Where the guest's regions are, as its device tree describes them.
#[derive(Clone, Copy, Debug, Default)]
pub struct GuestMap {
    /// RAM banks.
    pub memory: RangeList,
    /// GICv3 distributor frame.
    pub gicd: PhysRange,
    /// All redistributors (128 KiB each: RD_base then SGI_base).
    pub gicr: PhysRange,
    /// The ITS frames, if the guest has an ITS.
    pub its: Option<PhysRange>,
    /// The console PL011.
    pub uart: Option<PhysRange>,
    /// The PCI host bridge's ECAM window.
    pub ecam: Option<PhysRange>,
    /// The PCI host bridge's memory windows (where the BARs live).
    pub pci_windows: RangeList,
}

impl GuestMap {
    /// True if the DT describes `addr` in any way: an access there is not a stray one.
    pub fn describes(&self, addr: u64) -> bool {
        let single = [
            Some(self.gicd),
            Some(self.gicr),
            self.its,
            self.uart,
            self.ecam,
        ];
        self.memory.contains(addr)
            || self.pci_windows.contains(addr)
            || single.iter().flatten().any(|r| r.contains(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    #[test]
    fn reg_with_two_ranges_decodes_both() {
        let bytes = cells(&[0, 0x0800_0000, 0, 0x1_0000, 0, 0x080a_0000, 0, 0x4_0000]);
        let list = parse_reg(&bytes);
        assert_eq!(
            list.as_slice(),
            &[
                PhysRange {
                    start: 0x0800_0000,
                    size_bytes: 0x1_0000
                },
                PhysRange {
                    start: 0x080a_0000,
                    size_bytes: 0x4_0000
                },
            ]
        );
    }

    #[test]
    fn pci_ranges_give_the_cpu_side_windows() {
        let bytes = cells(&[
            0x0200_0000,
            0,
            0x8000_0000,
            0,
            0x8000_0000,
            0,
            0x1000_0000, //
            0x4300_0000,
            0x80,
            0,
            0x80,
            0,
            0x1,
            0,
        ]);
        let list = parse_pci_ranges(&bytes);
        assert_eq!(
            list.as_slice()[0],
            PhysRange {
                start: 0x8000_0000,
                size_bytes: 0x1000_0000
            }
        );
        assert_eq!(
            list.as_slice()[1],
            PhysRange {
                start: 0x80_0000_0000,
                size_bytes: 0x1_0000_0000
            }
        );
    }

    #[test]
    fn compatible_matches_whole_strings_only() {
        assert!(is_compatible(
            b"arm,pl011\0arm,primecell\0",
            b"arm,primecell"
        ));
        assert!(!is_compatible(b"arm,pl011\0", b"arm,pl01"));
    }

    #[test]
    fn described_addresses_are_not_stray() {
        let mut map = GuestMap {
            gicd: PhysRange {
                start: 0x0800_0000,
                size_bytes: 0x1_0000,
            },
            ..GuestMap::default()
        };
        map.memory.push(PhysRange {
            start: 0x4000_0000,
            size_bytes: 0x4000_0000,
        });
        assert!(map.describes(0x0800_fffc));
        assert!(map.describes(0x7fff_ffff));
        assert!(!map.describes(0x0801_0000));
        assert!(!map.describes(0x8000_0000));
    }
}
