//! Decoding `arm,smmu-v3` nodes and a host bridge's `iommu-map` / `msi-map` (types and
//! semantics in `platform::iommu`).
#![forbid(unsafe_code)]

use super::*;

/// GIC binding trigger codes (flags cell, bits [3:0]); the falling-edge and active-low codes
/// are invalid for SPIs.
const IRQ_TYPE_EDGE_RISING: u32 = 1;
const IRQ_TYPE_LEVEL_HIGH: u32 = 4;
const IRQ_TYPE_MASK: u32 = 0xf;
/// Bytes of one `(rid-base, phandle, out-base, length)` tuple: four cells.
const ID_MAP_ENTRY_BYTES: usize = 16;

/// An `arm,smmu-v3` node: first `reg`, phandle, named interrupts, `dma-coherent`.
pub(super) fn smmu(path: &str, v: &Visited) -> Result<SmmuNode> {
    let regs = regs(v, path)?
        .first()
        .copied()
        .ok_or_else(|| malformed(path, "reg"))?;
    let phandle = v
        .node
        .property("phandle")
        .or_else(|| v.node.property("linux,phandle"))
        .and_then(|p| be32(p.value, 0));
    Ok(SmmuNode {
        regs,
        phandle,
        irqs: smmu_irqs(path, v.node)?,
        dma_coherent: v.node.property("dma-coherent").is_some(),
        node_path: String::from(path),
    })
}

/// Pairs `interrupt-names` with `interrupts`. Without names there is no way to tell the lines
/// apart, so none is taken (the SMMU may still signal by MSI); names the binding does not define
/// are skipped.
fn smmu_irqs(path: &str, node: FdtNode) -> Result<SmmuIrqs> {
    let mut irqs = SmmuIrqs::default();
    let Some(names) = node.property("interrupt-names") else {
        return Ok(irqs);
    };
    let names: Vec<&str> = strings(names.value).collect();
    let triples = interrupt_triples(node, path)?;
    if names.len() != triples.len() {
        return Err(malformed(path, "interrupt-names"));
    }
    for (name, triple) in names.into_iter().zip(triples) {
        let irq = wired_spi(triple).ok_or_else(|| malformed(path, "interrupts"))?;
        let slot = match name {
            "eventq" => &mut irqs.eventq,
            "gerror" => &mut irqs.gerror,
            "priq" => &mut irqs.priq,
            "cmdq-sync" => &mut irqs.cmdq_sync,
            "combined" => &mut irqs.combined,
            _ => continue,
        };
        *slot = Some(irq);
    }
    Ok(irqs)
}

/// An SPI with a rising-edge or active-high level trigger.
fn wired_spi(triple: (u32, u32, u32)) -> Option<WiredIrq> {
    if triple.0 != GIC_SPI {
        return None;
    }
    let trigger = match triple.2 & IRQ_TYPE_MASK {
        IRQ_TYPE_EDGE_RISING => Trigger::Edge,
        IRQ_TYPE_LEVEL_HIGH => Trigger::Level,
        _ => return None,
    };
    Some(WiredIrq {
        intid: intid_of(triple)?,
        trigger,
    })
}

/// Decodes `map` (`iommu-map` or `msi-map`) and its `mask` property. Phandles are checked in
/// [`check_id_map_targets`], once the whole tree can be searched.
pub(super) fn id_map(
    path: &str,
    node: FdtNode,
    map: &'static str,
    mask: &'static str,
) -> Result<IdMap> {
    let mask_value = match node.property(mask) {
        None => u32::MAX,
        Some(p) if p.value.len() == 4 => be32(p.value, 0).ok_or_else(|| malformed(path, mask))?,
        Some(_) => return Err(malformed(path, mask)),
    };
    let Some(prop) = node.property(map) else {
        return Ok(IdMap {
            entries: Vec::new(),
            mask: mask_value,
        });
    };
    // An empty map is refused as Linux's of_map_id refuses it, rather than read as "no map".
    if prop.value.is_empty() || prop.value.len() % ID_MAP_ENTRY_BYTES != 0 {
        return Err(malformed(path, map));
    }
    let entries = prop
        .value
        .chunks_exact(ID_MAP_ENTRY_BYTES)
        .map(|cells| id_map_entry(cells, mask_value))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| malformed(path, map))?;
    Ok(IdMap {
        entries,
        mask: mask_value,
    })
}

/// One tuple, refused if it can never match (a base with bits the mask clears, as Linux
/// refuses it; an empty range) or if its ranges run past 2^32.
fn id_map_entry(cells: &[u8], mask: u32) -> Option<IdMapEntry> {
    let entry = IdMapEntry {
        rid_base: be32(cells, 0)?,
        phandle: be32(cells, 4)?,
        out_base: be32(cells, 8)?,
        length: be32(cells, 12)?,
    };
    let last = entry.length.checked_sub(1)?;
    let fits =
        entry.rid_base.checked_add(last).is_some() && entry.out_base.checked_add(last).is_some();
    (fits && entry.rid_base & !mask == 0).then_some(entry)
}

/// Every phandle of `map` must name a node.
pub(super) fn check_id_map_targets(
    fdt: &Fdt,
    path: &str,
    map: &IdMap,
    property: &'static str,
) -> Result<()> {
    match map
        .entries
        .iter()
        .all(|e| fdt.find_phandle(e.phandle).is_some())
    {
        true => Ok(()),
        false => Err(malformed(path, property)),
    }
}
