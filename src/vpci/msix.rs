//! MSI-X (PCI Local Bus 3.0, 6.8.2): the guest's view of a function's vector table, held by
//! sluice. The real table is always written with sluice's own doorbell and EventIDs; the
//! guest's address and data only select which of its own virtual LPIs a vector raises.
#![forbid(unsafe_code)]

use alloc::vec::Vec;

/// Bytes per table entry: address low, address high, data, vector control.
pub const MSIX_ENTRY_BYTES: u64 = 16;
/// Vector control: masked.
pub const MSIX_VECTOR_MASKED: u32 = 1;
const PAGE: u64 = 4096;

/// One vector as the guest programmed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsixEntry {
    /// Message address.
    pub address: u64,
    /// Message data.
    pub data: u32,
    /// Per-vector mask.
    pub masked: bool,
}

impl Default for MsixEntry {
    fn default() -> Self {
        Self {
            address: 0,
            data: 0,
            masked: true,
        } // masked at reset
    }
}

/// A function's MSI-X table and PBA location and the guest's vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsixTable {
    /// BAR holding the table.
    pub table_bar: u8,
    /// Offset of the table in that BAR.
    pub table_offset: u64,
    /// BAR holding the pending bit array.
    pub pba_bar: u8,
    /// Offset of the PBA in that BAR.
    pub pba_offset: u64,
    /// The guest's vectors.
    pub entries: Vec<MsixEntry>,
    /// MSI-X enable (control bit 15).
    pub enabled: bool,
    /// Function mask (control bit 14).
    pub function_masked: bool,
}

impl MsixTable {
    /// From the capability's control word and its table and PBA registers.
    pub fn from_capability(control: u16, table: u32, pba: u32) -> Self {
        let vectors = (control & 0x7ff) as usize + 1;
        Self {
            table_bar: (table & 7) as u8,
            table_offset: (table & !7) as u64,
            pba_bar: (pba & 7) as u8,
            pba_offset: (pba & !7) as u64,
            entries: alloc::vec![MsixEntry::default(); vectors],
            enabled: false,
            function_masked: false,
        }
    }

    /// Bytes of the table.
    pub fn table_bytes(&self) -> u64 {
        self.entries.len() as u64 * MSIX_ENTRY_BYTES
    }

    /// Bytes of the PBA (one bit per vector, in 64-bit words).
    pub fn pba_bytes(&self) -> u64 {
        (self.entries.len() as u64).div_ceil(64) * 8
    }

    /// Page-aligned ranges (offset in the BAR, bytes) of `bar` that must trap: the pages
    /// holding the table and the PBA. Sorted, merged.
    pub fn trapped_pages(&self, bar: u8) -> Vec<(u64, u64)> {
        let mut pages: Vec<(u64, u64)> = [
            (self.table_bar, self.table_offset, self.table_bytes()),
            (self.pba_bar, self.pba_offset, self.pba_bytes()),
        ]
        .into_iter()
        .filter(|&(b, _, len)| b == bar && len > 0)
        .map(|(_, off, len)| {
            let start = off & !(PAGE - 1);
            (start, (off + len).next_multiple_of(PAGE) - start)
        })
        .collect();
        pages.sort();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (start, len) in pages {
            match merged.last_mut() {
                Some(last) if start <= last.0 + last.1 => last.1 = last.1.max(start + len - last.0),
                _ => merged.push((start, len)),
            }
        }
        merged
    }

    /// Whether vector `index` may fire now.
    pub fn vector_live(&self, index: usize) -> bool {
        self.enabled && !self.function_masked && self.entries.get(index).is_some_and(|e| !e.masked)
    }

    /// A guest read at `offset` within the table (4 or 8 bytes, aligned).
    pub fn read(&self, offset: u64, width: u8) -> Option<u64> {
        let entry = self.entries.get((offset / MSIX_ENTRY_BYTES) as usize)?;
        let dwords = [
            entry.address as u32,
            (entry.address >> 32) as u32,
            entry.data,
            entry.masked as u32,
        ];
        let at = (offset % MSIX_ENTRY_BYTES / 4) as usize;
        match (width, offset % 4) {
            (4, 0) => Some(dwords[at] as u64),
            (8, 0) if at.is_multiple_of(2) => {
                Some(dwords[at] as u64 | (dwords[at + 1] as u64) << 32)
            }
            _ => None,
        }
    }

    /// A guest write; returns the vector it changed.
    pub fn write(&mut self, offset: u64, width: u8, value: u64) -> Option<usize> {
        let index = (offset / MSIX_ENTRY_BYTES) as usize;
        let entry = self.entries.get_mut(index)?;
        let at = offset % MSIX_ENTRY_BYTES / 4;
        let pieces: &[(u64, u32)] = match (width, offset % 4) {
            (4, 0) => &[(at, value as u32)],
            (8, 0) if at.is_multiple_of(2) => &[(at, value as u32), (at + 1, (value >> 32) as u32)],
            _ => return None,
        };
        for &(dword, v) in pieces {
            match dword {
                0 => entry.address = (entry.address & !0xffff_ffff) | (v & !3) as u64,
                1 => entry.address = (entry.address & 0xffff_ffff) | (v as u64) << 32,
                2 => entry.data = v,
                _ => entry.masked = v & MSIX_VECTOR_MASKED != 0,
            }
        }
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// e1000e: 5 vectors, table at BAR3 offset 0, PBA at BAR3 offset 0x2000.
    fn e1000e() -> MsixTable {
        MsixTable::from_capability(4, 3, 0x2003)
    }

    #[test]
    fn capability_registers_give_bars_offsets_and_vector_count() {
        let t = e1000e();
        assert_eq!(
            (t.table_bar, t.table_offset, t.pba_bar, t.pba_offset),
            (3, 0, 3, 0x2000)
        );
        assert_eq!(t.entries.len(), 5);
        assert_eq!((t.table_bytes(), t.pba_bytes()), (80, 8));
    }

    #[test]
    fn table_and_pba_pages_trap_and_other_bars_do_not() {
        let t = e1000e();
        assert_eq!(t.trapped_pages(3), [(0, 0x1000), (0x2000, 0x1000)]);
        assert!(t.trapped_pages(0).is_empty());
        let same_page = MsixTable::from_capability(2, 0x1800 | 4, 0x1c00 | 4);
        assert_eq!(same_page.trapped_pages(4), [(0x1000, 0x1000)], "merged");
    }

    #[test]
    fn nvme_doorbells_stay_mapped_beside_its_trapped_table_and_pba() {
        // QEMU's nvme: 65 vectors (admin + 64 I/O queues), registers at BAR0 0, doorbells
        // from 0x1000, table at 0x2000 and PBA at 0x3000 of the same 16 KiB BAR.
        let t = MsixTable::from_capability(64, 0x2000, 0x3000);
        assert_eq!(t.entries.len(), 65);
        assert_eq!(
            t.trapped_pages(0),
            [(0x2000, 0x2000)],
            "table and PBA pages only"
        );
        assert!(t.trapped_pages(0).iter().all(|&(start, _)| start > 0x1fff));
        assert_eq!(t.read(64 * 16 + 12, 4), Some(1), "the last vector is there");
        assert_eq!(t.read(65 * 16, 4), None);
    }

    #[test]
    fn entries_are_written_dword_by_dword_or_as_qwords() {
        let mut t = e1000e();
        assert_eq!(t.read(12, 4), Some(1), "masked at reset");
        assert_eq!(t.write(16, 8, 0x0000_0000_0808_0040), Some(1));
        assert_eq!(t.write(24, 4, 0x2a), Some(1));
        assert_eq!(t.write(28, 4, 0), Some(1));
        assert_eq!(
            t.entries[1],
            MsixEntry {
                address: 0x0808_0040,
                data: 0x2a,
                masked: false
            }
        );
        assert_eq!(t.read(16, 8), Some(0x0808_0040));
        assert_eq!(t.read(24, 4), Some(0x2a));
    }

    #[test]
    fn vectors_fire_only_when_enabled_unmasked_and_not_function_masked() {
        let mut t = e1000e();
        t.write(12, 4, 0);
        assert!(!t.vector_live(0));
        t.enabled = true;
        assert!(t.vector_live(0));
        t.function_masked = true;
        assert!(!t.vector_live(0));
        assert!(!t.vector_live(9));
    }

    #[test]
    fn out_of_table_and_misaligned_accesses_are_refused() {
        let mut t = e1000e();
        assert_eq!(t.write(80, 4, 0), None);
        assert_eq!(t.write(2, 4, 0), None);
        assert_eq!(t.read(4, 8), None);
        assert_eq!(t.read(u64::MAX - 3, 4), None);
    }
}
