//! What the host DT says about IOMMUs: SMMUv3 nodes (`arm,smmu-v3`, Documentation/devicetree/
//! bindings/iommu/arm,smmu-v3.yaml) and how a PCI host bridge's requester IDs reach an IOMMU or
//! an MSI controller (`iommu-map`, `msi-map`: bindings/pci/pci-iommu.txt and pci-msi.txt).
#![forbid(unsafe_code)]

use crate::mm::PhysRange;
use alloc::string::String;
use alloc::vec::Vec;

/// How a wired interrupt is triggered (GIC binding flags cell, bits [3:0]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// 1: rising edge.
    Edge,
    /// 4: active-high level.
    Level,
}

/// A wired shared peripheral interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WiredIrq {
    /// GIC INTID (SPI number + 32).
    pub intid: u32,
    /// Its trigger.
    pub trigger: Trigger,
}

/// An SMMUv3's wired interrupts, by `interrupt-names`. An SMMU that signals with MSIs only
/// has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmmuIrqs {
    /// "eventq": the event queue has records.
    pub eventq: Option<WiredIrq>,
    /// "gerror": a global error became active.
    pub gerror: Option<WiredIrq>,
    /// "priq": the PRI queue has requests.
    pub priq: Option<WiredIrq>,
    /// "cmdq-sync": a CMD_SYNC with SIG_IRQ completed.
    pub cmdq_sync: Option<WiredIrq>,
    /// "combined": one line for all of the above (implementations that merge them).
    pub combined: Option<WiredIrq>,
}

/// An `arm,smmu-v3` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmmuNode {
    /// Register frame (page 0 and page 1: 128 KiB on a conforming SMMU).
    pub regs: PhysRange,
    /// Its phandle, which `iommu-map` entries name; `None` if nothing can refer to it.
    pub phandle: Option<u32>,
    /// Wired interrupts.
    pub irqs: SmmuIrqs,
    /// `dma-coherent`: the SMMU's own accesses snoop CPU caches.
    pub dma_coherent: bool,
    /// DT path of the node.
    pub node_path: String,
}

/// One `(rid-base, phandle, out-base, length)` tuple of an `iommu-map` or `msi-map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMapEntry {
    /// First (masked) requester ID covered.
    pub rid_base: u32,
    /// The IOMMU or MSI controller the IDs go to.
    pub phandle: u32,
    /// The ID `rid_base` becomes (a StreamID for an IOMMU, a DeviceID for an ITS).
    pub out_base: u32,
    /// Number of requester IDs covered.
    pub length: u32,
}

/// An `iommu-map` or `msi-map` with its mask. No entries: the property is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMap {
    /// The tuples, in DT order (the first match wins, as in Linux's `of_map_id`).
    pub entries: Vec<IdMapEntry>,
    /// `iommu-map-mask` / `msi-map-mask`, applied to the RID before matching; all ones when
    /// absent.
    pub mask: u32,
}

impl Default for IdMap {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            mask: u32::MAX,
        }
    }
}

/// Where a requester ID goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdMapping {
    /// Matched an entry: the target's phandle and the ID it sees.
    Mapped {
        /// The IOMMU or MSI controller.
        phandle: u32,
        /// StreamID or DeviceID.
        id: u32,
    },
    /// No map: the ID is the RID itself, with no target named.
    Identity(u32),
    /// A map exists but no entry covers the RID: the device does not master through any
    /// target of this map (sluice must not assume it is isolated).
    Unmapped,
}

impl IdMap {
    /// Whether the property was absent.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Maps requester ID `rid`: mask it, then take the first entry whose
    /// `[rid_base, rid_base + length)` holds it; no map means identity.
    pub fn map(&self, rid: u32) -> IdMapping {
        if self.is_empty() {
            return IdMapping::Identity(rid);
        }
        let masked = rid & self.mask;
        self.entries
            .iter()
            .find(|e| masked >= e.rid_base && masked - e.rid_base < e.length)
            .map_or(IdMapping::Unmapped, |e| IdMapping::Mapped {
                phandle: e.phandle,
                // Cannot overflow: parsing checked that out_base + length - 1 fits.
                id: e.out_base + (masked - e.rid_base),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn entry(rid_base: u32, phandle: u32, out_base: u32, length: u32) -> IdMapEntry {
        IdMapEntry {
            rid_base,
            phandle,
            out_base,
            length,
        }
    }

    #[test]
    fn no_map_is_identity() {
        assert_eq!(IdMap::default().map(0x0208), IdMapping::Identity(0x0208));
    }

    #[test]
    fn an_identity_map_gives_the_rid_as_stream_id() {
        let map = IdMap {
            entries: vec![entry(0, 0x8005, 0, 0x1_0000)],
            mask: u32::MAX,
        };
        assert_eq!(
            map.map(0x0010),
            IdMapping::Mapped {
                phandle: 0x8005,
                id: 0x0010
            }
        );
        assert_eq!(map.map(0x1_0000), IdMapping::Unmapped);
    }

    #[test]
    fn the_mask_applies_before_matching() {
        // bindings/pci/pci-iommu.txt example 2: function bits masked out.
        let map = IdMap {
            entries: vec![entry(0, 1, 0, 0x1_0000)],
            mask: 0xfff8,
        };
        assert_eq!(
            map.map(0x0107),
            IdMapping::Mapped {
                phandle: 1,
                id: 0x0100
            }
        );
    }

    #[test]
    fn split_maps_pick_the_entry_covering_the_rid() {
        // pci-iommu.txt example 3 (bus high bit flipped) and 4 (two IOMMUs).
        let flipped = IdMap {
            entries: vec![entry(0, 1, 0x8000, 0x8000), entry(0x8000, 1, 0, 0x8000)],
            mask: u32::MAX,
        };
        assert_eq!(
            flipped.map(0x0010),
            IdMapping::Mapped {
                phandle: 1,
                id: 0x8010
            }
        );
        assert_eq!(
            flipped.map(0x8010),
            IdMapping::Mapped {
                phandle: 1,
                id: 0x0010
            }
        );
        let two = IdMap {
            entries: vec![entry(0, 0xa, 0, 0x8000), entry(0x8000, 0xb, 0, 0x8000)],
            mask: u32::MAX,
        };
        assert_eq!(
            two.map(0x80ff),
            IdMapping::Mapped {
                phandle: 0xb,
                id: 0xff
            }
        );
        assert_eq!(
            two.map(0x7fff),
            IdMapping::Mapped {
                phandle: 0xa,
                id: 0x7fff
            }
        );
    }

    #[test]
    fn a_rid_in_a_gap_between_entries_is_unmapped() {
        let map = IdMap {
            entries: vec![entry(0x100, 1, 0, 0x100)],
            mask: u32::MAX,
        };
        assert_eq!(map.map(0xff), IdMapping::Unmapped);
        assert_eq!(map.map(0x200), IdMapping::Unmapped);
        assert_eq!(
            map.map(0x1ff),
            IdMapping::Mapped {
                phandle: 1,
                id: 0xff
            }
        );
    }
}
