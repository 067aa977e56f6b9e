//! What an SMMU implements, from its ID registers (IHI 0070 6.3.1 - 6.3.6), and whether sluice
//! can use it for stage-2-only DMA isolation.
#![forbid(unsafe_code)]

use super::field::Field;
use super::{address_size_bits, Result, SmmuError};

const IDR0_S2P: Field = Field::bit(0);
const IDR0_S1P: Field = Field::bit(1);
const IDR0_TTF: Field = Field::bits(3, 2);
const IDR0_COHACC: Field = Field::bit(4);
const IDR0_MSI: Field = Field::bit(13);
const IDR0_VMID16: Field = Field::bit(18);
const IDR0_TTENDIAN: Field = Field::bits(22, 21);
const IDR0_STALL_MODEL: Field = Field::bits(25, 24);
const IDR0_ST_LEVEL: Field = Field::bits(28, 27);
/// IDR0.TTF bit 1 (values 0b10 and 0b11): AArch64 tables.
const TTF_AARCH64: u64 = 0b10;
/// IDR0.TTENDIAN = 0b11: big-endian tables only.
const TTENDIAN_BIG_ONLY: u64 = 0b11;
/// IDR0.ST_LEVEL = 0b01: two-level stream tables as well as linear.
const ST_LEVEL_TWO: u64 = 0b01;

const IDR1_SIDSIZE: Field = Field::bits(5, 0);
const IDR1_EVENTQS: Field = Field::bits(20, 16);
const IDR1_CMDQS: Field = Field::bits(25, 21);
const IDR1_ATTR_TYPES_OVR: Field = Field::bit(27);
const IDR1_QUEUES_PRESET: Field = Field::bit(29);
const IDR1_TABLES_PRESET: Field = Field::bit(30);

const IDR3_RIL: Field = Field::bit(10);

const IDR5_OAS: Field = Field::bits(2, 0);
const IDR5_GRAN4K: Field = Field::bit(4);
const IDR5_GRAN16K: Field = Field::bit(5);
const IDR5_GRAN64K: Field = Field::bit(6);

/// How the SMMU handles a fault that could stall (IDR0.STALL_MODEL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallModel {
    /// 0b00: stall and terminate both supported, chosen per STE/CD.
    StallOrTerminate,
    /// 0b01: terminate only.
    TerminateOnly,
    /// 0b10: stall forced (STE.S2S must be 1).
    StallForced,
    /// 0b11: reserved.
    Reserved,
}

/// Translation granules the SMMU walks (IDR5.GRAN*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Granules {
    /// 4 KiB (the one sluice uses).
    pub kib4: bool,
    /// 16 KiB.
    pub kib16: bool,
    /// 64 KiB.
    pub kib64: bool,
}

/// The SMMU's features that matter to sluice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// IDR0.S1P: stage-1 translation.
    pub stage1: bool,
    /// IDR0.S2P: stage-2 translation.
    pub stage2: bool,
    /// IDR0.TTF includes AArch64 translation tables.
    pub aarch64_tables: bool,
    /// IDR0.TTENDIAN allows little-endian translation tables.
    pub little_endian_tables: bool,
    /// IDR0.COHACC: the SMMU's table, queue and walk accesses can be IO-coherent.
    pub coherent_access: bool,
    /// IDR0.VMID16: 16-bit VMIDs (otherwise 8-bit).
    pub vmid16: bool,
    /// IDR0.ST_LEVEL: two-level stream tables (linear ones are always supported).
    pub two_level_stream_table: bool,
    /// IDR0.MSI: the SMMU can signal with MSIs.
    pub msi: bool,
    /// IDR0.STALL_MODEL.
    pub stall_model: StallModel,
    /// IDR1.SIDSIZE: bits of StreamID.
    pub stream_id_bits: u8,
    /// IDR1.CMDQS: log2 of the largest command queue.
    pub cmdq_log2_entries: u8,
    /// IDR1.EVENTQS: log2 of the largest event queue.
    pub eventq_log2_entries: u8,
    /// IDR1.ATTR_TYPES_OVR: STE attribute overrides (SHCFG, MTCFG ...) are honoured.
    pub attr_types_override: bool,
    /// IDR1.TABLES_PRESET: the stream table base is fixed by the implementation.
    pub tables_preset: bool,
    /// IDR1.QUEUES_PRESET: the queue bases are fixed by the implementation.
    pub queues_preset: bool,
    /// IDR3.RIL: range TLB invalidations.
    pub range_invalidation: bool,
    /// IDR5.OAS in bits (a reserved encoding reads as 48, the largest sluice uses).
    pub output_address_bits: u8,
    /// IDR5.GRAN4K/16K/64K.
    pub granules: Granules,
}

/// Output size assumed for a reserved IDR5.OAS encoding: the largest sluice's tables produce.
const RESERVED_OAS_BITS: u8 = 48;

impl Features {
    /// Decodes SMMU_IDR0, IDR1, IDR3 and IDR5.
    pub fn from_idrs(idr0: u32, idr1: u32, idr3: u32, idr5: u32) -> Self {
        let (idr0, idr1, idr3, idr5) = (
            u64::from(idr0),
            u64::from(idr1),
            u64::from(idr3),
            u64::from(idr5),
        );
        Self {
            stage1: IDR0_S1P.is_set(idr0),
            stage2: IDR0_S2P.is_set(idr0),
            aarch64_tables: IDR0_TTF.get(idr0) & TTF_AARCH64 != 0,
            little_endian_tables: IDR0_TTENDIAN.get(idr0) != TTENDIAN_BIG_ONLY,
            coherent_access: IDR0_COHACC.is_set(idr0),
            vmid16: IDR0_VMID16.is_set(idr0),
            two_level_stream_table: IDR0_ST_LEVEL.get(idr0) == ST_LEVEL_TWO,
            msi: IDR0_MSI.is_set(idr0),
            stall_model: match IDR0_STALL_MODEL.get(idr0) {
                0b00 => StallModel::StallOrTerminate,
                0b01 => StallModel::TerminateOnly,
                0b10 => StallModel::StallForced,
                _ => StallModel::Reserved,
            },
            stream_id_bits: IDR1_SIDSIZE.get(idr1) as u8,
            cmdq_log2_entries: IDR1_CMDQS.get(idr1) as u8,
            eventq_log2_entries: IDR1_EVENTQS.get(idr1) as u8,
            attr_types_override: IDR1_ATTR_TYPES_OVR.is_set(idr1),
            tables_preset: IDR1_TABLES_PRESET.is_set(idr1),
            queues_preset: IDR1_QUEUES_PRESET.is_set(idr1),
            range_invalidation: IDR3_RIL.is_set(idr3),
            output_address_bits: address_size_bits(IDR5_OAS.get(idr5) as u8)
                .unwrap_or(RESERVED_OAS_BITS),
            granules: Granules {
                kib4: IDR5_GRAN4K.is_set(idr5),
                kib16: IDR5_GRAN16K.is_set(idr5),
                kib64: IDR5_GRAN64K.is_set(idr5),
            },
        }
    }

    /// Whether sluice can isolate DMA with this SMMU: stage 2 walking little-endian AArch64
    /// tables with a 4 KiB granule (the CPU stage-2 format), and faults that may terminate.
    pub fn check_stage2(&self) -> Result<()> {
        if !self.stage2 {
            return Err(SmmuError::NoStage2);
        }
        if !self.aarch64_tables {
            return Err(SmmuError::NoAArch64Tables);
        }
        if !self.little_endian_tables {
            return Err(SmmuError::NoLittleEndianTables);
        }
        if !self.granules.kib4 {
            return Err(SmmuError::No4KibGranule);
        }
        if self.stall_model == StallModel::StallForced {
            return Err(SmmuError::StallForced);
        }
        Ok(())
    }
}

/// ID registers and features for tests of this module and its neighbours.
#[cfg(test)]
pub(crate) mod test_idrs {
    use super::Features;

    /// A stage-2-only SMMU like QEMU's `arm-smmuv3.stage=2`, built bit by bit from IHI 0070
    /// 6.3.1 - 6.3.6 (so the positions are checked against the spec, not against the decoder).
    pub(crate) fn qemu_stage2_idrs() -> (u32, u32, u32, u32) {
        let idr0 = 1 << 0 // S2P
            | 0b10 << 2 // TTF = AArch64
            | 1 << 4 // COHACC
            | 1 << 13 // MSI
            | 1 << 18 // VMID16
            | 0b10 << 21 // TTENDIAN = little-endian
            | 0b01 << 24 // STALL_MODEL = terminate only
            | 0b01 << 27; // ST_LEVEL = two-level
        let idr1 = 16 // SIDSIZE
            | 19 << 16 // EVENTQS
            | 19 << 21; // CMDQS
        let idr3 = 1 << 10; // RIL
        let idr5 = 0b101 // OAS = 48 bits
            | 1 << 4 | 1 << 6; // GRAN4K, GRAN64K
        (idr0, idr1, idr3, idr5)
    }

    /// That SMMU with another output size and VMID width.
    pub(crate) fn stage2_smmu(output_address_bits: u8, vmid16: bool) -> Features {
        let (idr0, idr1, idr3, idr5) = qemu_stage2_idrs();
        Features {
            output_address_bits,
            vmid16,
            ..Features::from_idrs(idr0, idr1, idr3, idr5)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_idrs::qemu_stage2_idrs;
    use super::*;
    use alloc::format;

    #[test]
    fn every_field_of_a_stage2_only_smmu_is_decoded() {
        let (idr0, idr1, idr3, idr5) = qemu_stage2_idrs();
        let f = Features::from_idrs(idr0, idr1, idr3, idr5);
        assert!(f.stage2 && !f.stage1);
        assert!(f.aarch64_tables && f.little_endian_tables);
        assert!(f.coherent_access && f.vmid16 && f.msi && f.two_level_stream_table);
        assert_eq!(f.stall_model, StallModel::TerminateOnly);
        assert_eq!(
            (f.stream_id_bits, f.cmdq_log2_entries, f.eventq_log2_entries),
            (16, 19, 19)
        );
        assert!(!f.attr_types_override && !f.tables_preset && !f.queues_preset);
        assert!(f.range_invalidation);
        assert_eq!(f.output_address_bits, 48);
        assert_eq!(
            f.granules,
            Granules {
                kib4: true,
                kib16: false,
                kib64: true
            }
        );
        assert_eq!(f.check_stage2(), Ok(()));
    }

    #[test]
    fn idr1_presets_and_attribute_override_are_their_own_bits() {
        let f = Features::from_idrs(0, 1 << 27 | 1 << 29 | 1 << 30, 0, 0);
        assert!(f.attr_types_override && f.queues_preset && f.tables_preset);
        assert_eq!(f.stream_id_bits, 0);
        assert_eq!(f.output_address_bits, 32);
    }

    #[test]
    fn aarch32_only_tables_or_stage1_only_are_refused_with_a_reason() {
        let (idr0, idr1, idr3, idr5) = qemu_stage2_idrs();
        let stage1_only = (idr0 & !1) | 1 << 1;
        let err = Features::from_idrs(stage1_only, idr1, idr3, idr5).check_stage2();
        assert_eq!(err, Err(SmmuError::NoStage2));
        assert!(format!("{}", err.unwrap_err()).contains("S2P"));
        let aarch32_only = (idr0 & !(0b11 << 2)) | 0b01 << 2;
        let err = Features::from_idrs(aarch32_only, idr1, idr3, idr5).check_stage2();
        assert_eq!(err, Err(SmmuError::NoAArch64Tables));
        let both = (idr0 & !(0b11 << 2)) | 0b11 << 2;
        assert!(Features::from_idrs(both, idr1, idr3, idr5).aarch64_tables);
    }

    #[test]
    fn big_endian_tables_no_4k_granule_or_forced_stall_are_refused() {
        let (idr0, idr1, idr3, idr5) = qemu_stage2_idrs();
        let big_endian = idr0 | 0b11 << 21;
        assert_eq!(
            Features::from_idrs(big_endian, idr1, idr3, idr5).check_stage2(),
            Err(SmmuError::NoLittleEndianTables)
        );
        assert_eq!(
            Features::from_idrs(idr0, idr1, idr3, idr5 & !(1 << 4)).check_stage2(),
            Err(SmmuError::No4KibGranule)
        );
        let forced = (idr0 & !(0b11 << 24)) | 0b10 << 24;
        assert_eq!(
            Features::from_idrs(forced, idr1, idr3, idr5).check_stage2(),
            Err(SmmuError::StallForced)
        );
    }

    #[test]
    fn each_oas_encoding_gives_its_size_in_bits() {
        let bits: [u8; 8] = core::array::from_fn(|oas| {
            Features::from_idrs(0, 0, 0, oas as u32).output_address_bits
        });
        assert_eq!(bits, [32, 36, 40, 42, 44, 48, 52, 48]);
    }
}
