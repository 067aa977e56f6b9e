//! The guest's own PCI functions as Linux's sysfs shows them: the function's address from its
//! directory name, its MSI-X table and PBA from its config space (the `config` file) and BAR
//! addresses (the `resource` file).
#![forbid(unsafe_code)]

use crate::text::parse_u64;

/// PCI Local Bus 3.0, 6.7: Capabilities Pointer, and the Capabilities List status bit.
const PCI_STATUS: usize = 0x06;
const PCI_STATUS_CAP_LIST: u16 = 1 << 4;
const PCI_CAPABILITY_LIST: usize = 0x34;
/// Capability ID of MSI-X (PCI Local Bus 3.0, 6.8.2).
const PCI_CAP_ID_MSIX: u8 = 0x11;
/// Bytes of one MSI-X table entry.
pub const MSIX_ENTRY_SIZE: u64 = 16;

/// A function's bus, device and function numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bdf {
    /// Bus number.
    pub bus: u8,
    /// Device (slot) number, 0..32.
    pub device: u8,
    /// Function number, 0..8.
    pub function: u8,
}

impl Bdf {
    /// Offset of the function's 4 KiB of config space in an ECAM window (PCIe 4.0, 7.2.2).
    pub fn ecam_offset(&self) -> u64 {
        (self.bus as u64) << 20 | (self.device as u64) << 15 | (self.function as u64) << 12
    }
}

/// Parses a sysfs name such as `0000:00:01.0` (domain:bus:device.function, hex).
pub fn parse_bdf(name: &[u8]) -> Option<Bdf> {
    let hex = |s: &[u8]| u8::from_str_radix(core::str::from_utf8(s).ok()?, 16).ok();
    if name.len() != 12 || name[4] != b':' || name[7] != b':' || name[10] != b'.' {
        return None;
    }
    let bdf = Bdf {
        bus: hex(&name[5..7])?,
        device: hex(&name[8..10])?,
        function: hex(&name[11..12])?,
    };
    (bdf.device < 32 && bdf.function < 8).then_some(bdf)
}

/// Where an MSI-X structure lives: a BAR index and an offset into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarOffset {
    /// BAR Indicator Register (BIR).
    pub bar: u8,
    /// Offset in the BAR (QWORD aligned).
    pub offset: u64,
}

/// A function's MSI-X capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixCap {
    /// Number of table entries.
    pub entries: u16,
    /// The table.
    pub table: BarOffset,
    /// The Pending Bit Array.
    pub pba: BarOffset,
}

/// Finds the MSI-X capability in a function's config space (at least the first 256 bytes),
/// following at most 48 links so a looping list cannot hang the fuzzer.
pub fn find_msix(config: &[u8]) -> Option<MsixCap> {
    let u16_at = |at: usize| Some(u16::from_le_bytes([*config.get(at)?, *config.get(at + 1)?]));
    let u32_at = |at: usize| Some(u32::from_le_bytes(config.get(at..at + 4)?.try_into().ok()?));
    if u16_at(PCI_STATUS)? & PCI_STATUS_CAP_LIST == 0 {
        return None;
    }
    let mut at = *config.get(PCI_CAPABILITY_LIST)? as usize & !3;
    for _ in 0..48 {
        if at < 0x40 {
            return None;
        }
        if *config.get(at)? == PCI_CAP_ID_MSIX {
            let bar_offset = |word: u32| BarOffset {
                bar: (word & 7) as u8,
                offset: (word & !7) as u64,
            };
            return Some(MsixCap {
                entries: (u16_at(at + 2)? & 0x7ff) + 1,
                table: bar_offset(u32_at(at + 4)?),
                pba: bar_offset(u32_at(at + 8)?),
            });
        }
        at = *config.get(at + 1)? as usize & !3;
    }
    None
}

/// The start address of resource `index` in a sysfs `resource` file (one
/// "start end flags" line per resource, BARs first); `None` if absent or unassigned.
pub fn resource_start(resource_file: &[u8], index: usize) -> Option<u64> {
    let line = resource_file.split(|&c| c == b'\n').nth(index)?;
    let start = parse_u64(line.split(|&c| c == b' ').next()?)?;
    (start != 0).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_names_give_the_function_and_its_ecam_offset() {
        let bdf = parse_bdf(b"0000:00:1f.7").unwrap();
        assert_eq!(
            bdf,
            Bdf {
                bus: 0,
                device: 0x1f,
                function: 7
            }
        );
        assert_eq!(bdf.ecam_offset(), 0xff000);
        assert_eq!(parse_bdf(b"0000:00:20.0"), None);
        assert_eq!(parse_bdf(b"."), None);
    }

    fn config_with_caps() -> [u8; 256] {
        let mut c = [0u8; 256];
        c[PCI_STATUS] = PCI_STATUS_CAP_LIST as u8;
        c[PCI_CAPABILITY_LIST] = 0x40;
        c[0x40] = 0x01; // PM
        c[0x41] = 0x70;
        c[0x70] = PCI_CAP_ID_MSIX;
        c[0x72..0x74].copy_from_slice(&4u16.to_le_bytes()); // 5 entries
        c[0x74..0x78].copy_from_slice(&0x0000_0003u32.to_le_bytes()); // BAR 3, offset 0
        c[0x78..0x7c].copy_from_slice(&0x0000_2003u32.to_le_bytes()); // BAR 3, offset 0x2000
        c
    }

    #[test]
    fn the_msix_capability_is_found_through_the_list() {
        let msix = find_msix(&config_with_caps()).unwrap();
        assert_eq!(msix.entries, 5);
        assert_eq!(msix.table, BarOffset { bar: 3, offset: 0 });
        assert_eq!(
            msix.pba,
            BarOffset {
                bar: 3,
                offset: 0x2000
            }
        );
    }

    #[test]
    fn a_looping_capability_list_ends() {
        let mut c = config_with_caps();
        c[0x41] = 0x40; // PM points at itself
        assert_eq!(find_msix(&c), None);
    }

    #[test]
    fn resource_lines_give_assigned_bar_addresses() {
        let file = b"0x0000000010040000 0x000000001005ffff 0x0000000000040200\n\
0x0000000000000000 0x0000000000000000 0x0000000000000000\n";
        assert_eq!(resource_start(file, 0), Some(0x1004_0000));
        assert_eq!(resource_start(file, 1), None);
        assert_eq!(resource_start(file, 5), None);
    }
}
