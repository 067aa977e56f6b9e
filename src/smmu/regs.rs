//! SMMUv3 register offsets and the values sluice writes (IHI 0070 chapter 6).
//!
//! The register file is two 64 KiB pages: page 0 holds control, IDs and queue bases, page 1
//! (offset 0x1_0000) the event and PRI queue indexes. A `reg` of the DT node covers both.
#![forbid(unsafe_code)]

use super::field::Field;
use super::{Features, Result, SmmuError};

// --- Page 0 offsets (IHI 0070 6.2, "SMMU_* register summary") -----------------------------------

/// SMMU_IDR0: stages, table formats, coherency, VMID width, stream table levels, MSI.
pub const IDR0: usize = 0x00;
/// SMMU_IDR1: SIDSIZE, queue sizes, presets.
pub const IDR1: usize = 0x04;
/// SMMU_IDR2: VATOS page.
pub const IDR2: usize = 0x08;
/// SMMU_IDR3: range invalidation and other optional features.
pub const IDR3: usize = 0x0c;
/// SMMU_IDR4: IMPLEMENTATION DEFINED.
pub const IDR4: usize = 0x10;
/// SMMU_IDR5: output address size, granules.
pub const IDR5: usize = 0x14;
/// SMMU_IIDR: implementer and product.
pub const IIDR: usize = 0x18;
/// SMMU_AIDR: architecture revision.
pub const AIDR: usize = 0x1c;
/// SMMU_CR0: enables (see the `CR0_*` bits).
pub const CR0: usize = 0x20;
/// SMMU_CR0ACK: reads back CR0 once a change has taken effect.
pub const CR0ACK: usize = 0x24;
/// SMMU_CR1: table and queue memory attributes ([`Cr1`]).
pub const CR1: usize = 0x28;
/// SMMU_CR2: [`CR2_SLUICE`].
pub const CR2: usize = 0x2c;
/// SMMU_STATUSR: dormant status.
pub const STATUSR: usize = 0x40;
/// SMMU_GBPA: what happens to traffic while SMMUEN = 0 ([`GBPA_ABORT_ALL`]).
pub const GBPA: usize = 0x44;
/// SMMU_AGBPA: IMPLEMENTATION DEFINED bypass attributes.
pub const AGBPA: usize = 0x48;
/// SMMU_IRQ_CTRL: wired/MSI interrupt enables (`IRQ_CTRL_*`).
pub const IRQ_CTRL: usize = 0x50;
/// SMMU_IRQ_CTRLACK: reads back IRQ_CTRL once a change has taken effect.
pub const IRQ_CTRLACK: usize = 0x54;
/// SMMU_GERROR: active global errors are the bits that differ from GERRORN.
pub const GERROR: usize = 0x60;
/// SMMU_GERRORN: software acknowledges a global error by toggling its bit here.
pub const GERRORN: usize = 0x64;
/// SMMU_GERROR_IRQ_CFG0 (64-bit): MSI address; 0 leaves the wired interrupt in use.
pub const GERROR_IRQ_CFG0: usize = 0x68;
/// SMMU_GERROR_IRQ_CFG1: MSI data.
pub const GERROR_IRQ_CFG1: usize = 0x70;
/// SMMU_GERROR_IRQ_CFG2: MSI memory attributes.
pub const GERROR_IRQ_CFG2: usize = 0x74;
/// SMMU_STRTAB_BASE (64-bit): [`StreamTable::base`].
pub const STRTAB_BASE: usize = 0x80;
/// SMMU_STRTAB_BASE_CFG: [`StreamTable::base_cfg`].
pub const STRTAB_BASE_CFG: usize = 0x88;
/// SMMU_CMDQ_BASE (64-bit): [`cmdq_base`].
pub const CMDQ_BASE: usize = 0x90;
/// SMMU_CMDQ_PROD: software's write index.
pub const CMDQ_PROD: usize = 0x98;
/// SMMU_CMDQ_CONS: the SMMU's read index, and the command error in bits [30:24].
pub const CMDQ_CONS: usize = 0x9c;
/// SMMU_EVENTQ_BASE (64-bit): [`eventq_base`].
pub const EVENTQ_BASE: usize = 0xa0;
/// SMMU_EVENTQ_IRQ_CFG0 (64-bit): MSI address; 0 leaves the wired interrupt in use.
pub const EVENTQ_IRQ_CFG0: usize = 0xb0;
/// SMMU_EVENTQ_IRQ_CFG1: MSI data.
pub const EVENTQ_IRQ_CFG1: usize = 0xb8;
/// SMMU_EVENTQ_IRQ_CFG2: MSI memory attributes.
pub const EVENTQ_IRQ_CFG2: usize = 0xbc;

// --- Page 1 offsets ---------------------------------------------------------------------------

/// Offset of register page 1 from the base of the frame.
pub const PAGE1: usize = 0x1_0000;
/// SMMU_EVENTQ_PROD (page 1): the SMMU's write index, overflow flag in bit 31.
pub const EVENTQ_PROD: usize = PAGE1 + 0xa8;
/// SMMU_EVENTQ_CONS (page 1): software's read index, overflow acknowledge in bit 31.
pub const EVENTQ_CONS: usize = PAGE1 + 0xac;
/// Bytes the two register pages span: the least a DT `reg` must cover.
pub const FRAME_BYTES: u64 = 0x2_0000;

// --- CR0, CR2, GBPA, IRQ_CTRL (IHI 0070 6.3.9, 6.3.12, 6.3.14, 6.3.16) -----------------------------

/// CR0.SMMUEN: translate (otherwise GBPA decides).
pub const CR0_SMMUEN: u32 = 1 << 0;
/// CR0.PRIQEN: PRI queue enable (sluice leaves it off).
pub const CR0_PRIQEN: u32 = 1 << 1;
/// CR0.EVENTQEN: event queue enable.
pub const CR0_EVENTQEN: u32 = 1 << 2;
/// CR0.CMDQEN: command queue enable.
pub const CR0_CMDQEN: u32 = 1 << 3;
/// CR0.ATSCHK: check ATS-translated traffic against the STE (sluice does not use ATS).
pub const CR0_ATSCHK: u32 = 1 << 4;

/// CR2.E2H: EL2 streams use EL2&0 (VHE) regimes. Clear: sluice runs with HCR_EL2.E2H = 0, and
/// has no EL2 streams anyway.
pub const CR2_E2H: u32 = 1 << 0;
/// CR2.RECINVSID: record C_BAD_STREAMID for a StreamID beyond the stream table.
pub const CR2_RECINVSID: u32 = 1 << 1;
/// CR2.PTM: private TLB maintenance; broadcast TLBIs from CPUs do not reach the SMMU.
pub const CR2_PTM: u32 = 1 << 2;
/// The CR2 sluice writes: stray StreamIDs are logged, and the SMMU's TLB is invalidated only by
/// its own commands, so that a CPU-side TLBI for the same VMID number never has to be relied on
/// for DMA and the SMMU is not disturbed by the guest's broadcast maintenance.
pub const CR2_SLUICE: u32 = CR2_RECINVSID | CR2_PTM;

const GBPA_ABORT_FIELD: Field = Field::bit(20);
const GBPA_UPDATE_FIELD: Field = Field::bit(31);
/// GBPA.ABORT: with SMMUEN = 0, terminate all incoming traffic instead of bypassing it.
pub const GBPA_ABORT: u32 = GBPA_ABORT_FIELD.mask() as u32;
/// GBPA.UPDATE: set with a write; the SMMU clears it once the new value is in effect.
pub const GBPA_UPDATE: u32 = GBPA_UPDATE_FIELD.mask() as u32;
/// The GBPA write that makes a disabled SMMU abort all DMA (poll until UPDATE reads 0).
pub const GBPA_ABORT_ALL: u32 = GBPA_ABORT | GBPA_UPDATE;

/// IRQ_CTRL.GERROR_IRQEN.
pub const IRQ_CTRL_GERROR_IRQEN: u32 = 1 << 0;
/// IRQ_CTRL.PRIQ_IRQEN.
pub const IRQ_CTRL_PRIQ_IRQEN: u32 = 1 << 1;
/// IRQ_CTRL.EVENTQ_IRQEN.
pub const IRQ_CTRL_EVENTQ_IRQEN: u32 = 1 << 2;

// --- CR1 (IHI 0070 6.3.10) ----------------------------------------------------------------------

/// Cacheability of the SMMU's own accesses to tables or queues (CR1 encoding, which is not the
/// TCR one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cacheability {
    /// 0b00: Non-cacheable.
    NonCacheable = 0,
    /// 0b01: Write-back cacheable.
    WriteBack = 1,
    /// 0b10: Write-through cacheable.
    WriteThrough = 2,
}

/// Shareability of the SMMU's own accesses (CR1 encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shareability {
    /// 0b00: Non-shareable.
    NonShareable = 0,
    /// 0b10: Outer shareable.
    OuterShareable = 2,
    /// 0b11: Inner shareable.
    InnerShareable = 3,
}

const CR1_QUEUE_IC: Field = Field::bits(1, 0);
const CR1_QUEUE_OC: Field = Field::bits(3, 2);
const CR1_QUEUE_SH: Field = Field::bits(5, 4);
const CR1_TABLE_IC: Field = Field::bits(7, 6);
const CR1_TABLE_OC: Field = Field::bits(9, 8);
const CR1_TABLE_SH: Field = Field::bits(11, 10);

/// SMMU_CR1: attributes of the SMMU's accesses to queues and to the stream table (and, with
/// stage 1, context descriptors). Stage-2 table walks take theirs from the STE instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cr1 {
    /// Inner and outer cacheability of queue accesses.
    pub queue_cache: Cacheability,
    /// Shareability of queue accesses.
    pub queue_share: Shareability,
    /// Inner and outer cacheability of table accesses.
    pub table_cache: Cacheability,
    /// Shareability of table accesses.
    pub table_share: Shareability,
}

impl Cr1 {
    /// Write-back inner shareable when the SMMU snoops CPU caches (IDR0.COHACC and the DT's
    /// `dma-coherent`); otherwise non-cacheable, and the driver must clean its writes to
    /// tables and queues to the point of coherency (non-cacheable is outer shareable, so SH is
    /// set to match).
    pub fn for_coherency(coherent: bool) -> Self {
        let (cache, share) = if coherent {
            (Cacheability::WriteBack, Shareability::InnerShareable)
        } else {
            (Cacheability::NonCacheable, Shareability::OuterShareable)
        };
        Self {
            queue_cache: cache,
            queue_share: share,
            table_cache: cache,
            table_share: share,
        }
    }

    /// The register value.
    pub fn bits(&self) -> u32 {
        let value = CR1_QUEUE_IC.put(self.queue_cache as u64)
            | CR1_QUEUE_OC.put(self.queue_cache as u64)
            | CR1_QUEUE_SH.put(self.queue_share as u64)
            | CR1_TABLE_IC.put(self.table_cache as u64)
            | CR1_TABLE_OC.put(self.table_cache as u64)
            | CR1_TABLE_SH.put(self.table_share as u64);
        value as u32
    }
}

// --- Stream table base (IHI 0070 6.3.23, 6.3.24) ------------------------------------------------

/// Bytes of one Stream Table Entry.
pub const STE_BYTES: u64 = 64;
/// STRTAB_BASE.RA / CMDQ_BASE.RA / EVENTQ_BASE.WA: allocate hint for the SMMU's accesses.
const BASE_ALLOCATE_HINT: Field = Field::bit(62);
const STRTAB_BASE_ADDR: Field = Field::bits(51, 6);
const STRTAB_BASE_CFG_LOG2SIZE: Field = Field::bits(5, 0);
const STRTAB_BASE_CFG_FMT: Field = Field::bits(17, 16);
/// STRTAB_BASE_CFG.FMT = 0b00: one linear table of STEs.
const STRTAB_FMT_LINEAR: u64 = 0b00;

/// A linear stream table: `2^log2_entries` STEs, indexed by StreamID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamTable {
    /// Physical address of entry 0.
    pub phys: u64,
    /// log2 of the number of STEs; StreamIDs at or beyond `1 << log2_entries` are refused
    /// by the SMMU (C_BAD_STREAMID) without reading memory.
    pub log2_entries: u8,
}

impl StreamTable {
    /// Checks that the SMMU can use a linear table of `2^log2_entries` STEs at `phys`:
    /// no more entries than StreamIDs (IDR1.SIDSIZE), base within the output address size and
    /// aligned to the table size (the SMMU ignores lower base bits).
    pub fn linear(phys: u64, log2_entries: u8, features: &Features) -> Result<Self> {
        const WHAT: &str = "stream table";
        if log2_entries > features.stream_id_bits {
            return Err(SmmuError::TooManyEntries {
                what: WHAT,
                log2_entries,
                max_log2_entries: features.stream_id_bits,
            });
        }
        check_base(
            WHAT,
            phys,
            STE_BYTES << log2_entries,
            STRTAB_BASE_ADDR,
            features,
        )?;
        Ok(Self { phys, log2_entries })
    }

    /// Bytes the table spans.
    pub fn size_bytes(&self) -> u64 {
        STE_BYTES << self.log2_entries
    }

    /// SMMU_STRTAB_BASE: read-allocate hint and the address.
    pub fn base(&self) -> u64 {
        BASE_ALLOCATE_HINT.put(1) | STRTAB_BASE_ADDR.put_in_place(self.phys)
    }

    /// SMMU_STRTAB_BASE_CFG: linear format and LOG2SIZE (SPLIT is ignored for linear tables).
    pub fn base_cfg(&self) -> u32 {
        let value = STRTAB_BASE_CFG_FMT.put(STRTAB_FMT_LINEAR)
            | STRTAB_BASE_CFG_LOG2SIZE.put(u64::from(self.log2_entries));
        value as u32
    }
}

// --- Queue bases (IHI 0070 6.3.25, 6.3.28) ------------------------------------------------------

/// Bytes of one command queue entry.
pub const CMDQ_ENTRY_BYTES: u64 = 16;
/// Bytes of one event queue record.
pub const EVENTQ_ENTRY_BYTES: u64 = 32;
const QUEUE_BASE_ADDR: Field = Field::bits(51, 5);
const QUEUE_BASE_LOG2SIZE: Field = Field::bits(4, 0);

/// SMMU_CMDQ_BASE for `2^log2_entries` commands at `phys`: read-allocate hint, address,
/// LOG2SIZE; checked against IDR1.CMDQS, OAS and the queue-size alignment.
pub fn cmdq_base(phys: u64, log2_entries: u8, features: &Features) -> Result<u64> {
    let max = features.cmdq_log2_entries;
    queue_base(
        "command queue",
        phys,
        log2_entries,
        max,
        CMDQ_ENTRY_BYTES,
        features,
    )
}

/// SMMU_EVENTQ_BASE for `2^log2_entries` event records at `phys`: write-allocate hint,
/// address, LOG2SIZE; checked against IDR1.EVENTQS, OAS and the queue-size alignment.
pub fn eventq_base(phys: u64, log2_entries: u8, features: &Features) -> Result<u64> {
    let max = features.eventq_log2_entries;
    queue_base(
        "event queue",
        phys,
        log2_entries,
        max,
        EVENTQ_ENTRY_BYTES,
        features,
    )
}

fn queue_base(
    what: &'static str,
    phys: u64,
    log2_entries: u8,
    max_log2_entries: u8,
    entry_bytes: u64,
    features: &Features,
) -> Result<u64> {
    if log2_entries > max_log2_entries {
        return Err(SmmuError::TooManyEntries {
            what,
            log2_entries,
            max_log2_entries,
        });
    }
    check_base(
        what,
        phys,
        entry_bytes << log2_entries,
        QUEUE_BASE_ADDR,
        features,
    )?;
    Ok(BASE_ALLOCATE_HINT.put(1)
        | QUEUE_BASE_ADDR.put_in_place(phys)
        | QUEUE_BASE_LOG2SIZE.put(u64::from(log2_entries)))
}

/// The SMMU aligns table and queue bases down to the larger of their size and the address
/// field's granularity, so a misaligned base would silently overlap other memory.
fn check_base(
    what: &'static str,
    phys: u64,
    size_bytes: u64,
    address_field: Field,
    features: &Features,
) -> Result<()> {
    let field_granule = 1 << address_field.mask().trailing_zeros();
    let align_bytes = size_bytes.max(field_granule);
    if !phys.is_multiple_of(align_bytes) {
        return Err(SmmuError::Misaligned {
            what,
            phys,
            align_bytes,
        });
    }
    let end = phys.checked_add(size_bytes);
    let limit = 1u64 << features.output_address_bits;
    if end.is_none_or(|end| end > limit) {
        return Err(SmmuError::AddressTooWide { what, phys });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
