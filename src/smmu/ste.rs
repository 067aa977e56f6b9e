//! Stream Table Entries (IHI 0070 5.2): the abort entry every unassigned StreamID gets, and the
//! stage-2 entry of an assigned PCI function, whose stage 2 mirrors the guest's VTCR_EL2 and
//! shares its tables.
//!
//! Updating a live entry: an abort STE uses only word 0, so the driver turns abort into stage 2
//! by writing words 1..=7, issuing CFGI_STE + CMD_SYNC, then writing word 0 with one 64-bit
//! store and issuing CFGI_STE + CMD_SYNC again; going back to abort needs only word 0. The SMMU
//! then never acts on a half-written entry.
#![forbid(unsafe_code)]

use super::field::Field;
use super::{address_size_bits, Features, Result, SmmuError};
use crate::mm::pagetable::{Format, PAGE_BYTES};

// Word 0.
const V: Field = Field::bit(0);
const CONFIG: Field = Field::bits(3, 1);
// Word 1.
const SHCFG: Field = Field::bits(45, 44);
/// STE.SHCFG = 0b01: use the incoming shareability. Only honoured with IDR1.ATTR_TYPES_OVR,
/// where the reset value 0b00 would force DMA non-shareable.
const SHCFG_INCOMING: u64 = 0b01;
// Word 2: S2VMID, then VTCR_EL2[18:0] at bits [50:32], then single-bit controls.
const S2VMID: Field = Field::bits(15, 0);
const S2T0SZ: Field = Field::bits(37, 32);
const S2SL0: Field = Field::bits(39, 38);
const S2IR0: Field = Field::bits(41, 40);
const S2OR0: Field = Field::bits(43, 42);
const S2SH0: Field = Field::bits(45, 44);
const S2TG: Field = Field::bits(47, 46);
const S2PS: Field = Field::bits(50, 48);
const S2AA64: Field = Field::bit(51);
const S2ENDI: Field = Field::bit(52);
const S2AFFD: Field = Field::bit(53);
const S2PTW: Field = Field::bit(54);
const S2S: Field = Field::bit(57);
const S2R: Field = Field::bit(58);
// Word 3.
const S2TTB: Field = Field::bits(51, 4);

// VTCR_EL2 fields (Arm ARM D19 VTCR_EL2), the same encodings as the STE's.
const VTCR_T0SZ: Field = Field::bits(5, 0);
const VTCR_SL0: Field = Field::bits(7, 6);
const VTCR_IRGN0: Field = Field::bits(9, 8);
const VTCR_ORGN0: Field = Field::bits(11, 10);
const VTCR_SH0: Field = Field::bits(13, 12);
const VTCR_TG0: Field = Field::bits(15, 14);
const VTCR_PS: Field = Field::bits(18, 16);
/// TG0 = 0b00: 4 KiB granule, the only one sluice's tables use.
const TG_4KIB: u64 = 0b00;
/// SH0 = 0b01 is reserved.
const SH_RESERVED: u64 = 0b01;
/// Largest output size sluice's descriptors can express (52 bits needs FEAT_LPA2 formats).
const MAX_PS_BITS: u8 = 48;

/// What an STE does with a stream's traffic (STE.Config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamConfig {
    /// 0b000: terminate every transaction, record no event.
    Abort,
    /// 0b100: both stages bypassed.
    Bypass,
    /// 0b101: stage 1 translates, stage 2 bypassed.
    Stage1Only,
    /// 0b110: stage 1 bypassed, stage 2 translates.
    Stage2Only,
    /// 0b111: both stages translate.
    Nested,
    /// 0b001 - 0b011: reserved (treated as abort by the SMMU).
    Reserved(u8),
}

impl StreamConfig {
    fn encoding(self) -> u64 {
        match self {
            Self::Abort => 0b000,
            Self::Bypass => 0b100,
            Self::Stage1Only => 0b101,
            Self::Stage2Only => 0b110,
            Self::Nested => 0b111,
            Self::Reserved(bits) => u64::from(bits),
        }
    }

    fn decode(bits: u64) -> Self {
        match bits {
            0b000 => Self::Abort,
            0b100 => Self::Bypass,
            0b101 => Self::Stage1Only,
            0b110 => Self::Stage2Only,
            0b111 => Self::Nested,
            other => Self::Reserved(other as u8),
        }
    }
}

/// Stage-2 settings of an STE, each the VTCR_EL2 field of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S2Config {
    /// VMID tagging the SMMU's TLB entries (the guest's CPU VMID, for one name per guest).
    pub vmid: u16,
    /// T0SZ: the IPA is `64 - t0sz` bits.
    pub t0sz: u8,
    /// SL0: start level (0b00 level 2, 0b01 level 1, 0b10 level 0 with a 4 KiB granule).
    pub sl0: u8,
    /// IRGN0: inner cacheability of table walks.
    pub irgn0: u8,
    /// ORGN0: outer cacheability of table walks.
    pub orgn0: u8,
    /// SH0: shareability of table walks.
    pub sh0: u8,
    /// TG0: granule (0b00 = 4 KiB).
    pub tg0: u8,
    /// PS: output address size encoding.
    pub ps: u8,
    /// Physical address of the (possibly concatenated) root table.
    pub root_phys: u64,
}

impl S2Config {
    /// Derives the STE's stage 2 from the guest's VTCR_EL2 (as built by
    /// `Stage2Layout::vtcr_el2`), its root table and VMID, checking that the SMMU `smmu` can
    /// walk exactly those tables: 4 KiB granule, a start level that matches the table shape
    /// sluice built for that IPA size, an output size within IDR5.OAS, an IPA no larger than
    /// the output, a root aligned to its concatenated size, and a VMID that fits.
    pub fn from_vtcr(vtcr_el2: u64, root_phys: u64, vmid: u16, smmu: &Features) -> Result<Self> {
        if VTCR_TG0.get(vtcr_el2) != TG_4KIB {
            return Err(SmmuError::BadVtcr("TG0"));
        }
        if VTCR_SH0.get(vtcr_el2) == SH_RESERVED {
            return Err(SmmuError::BadVtcr("SH0"));
        }
        let ps = VTCR_PS.get(vtcr_el2) as u8;
        let ps_bits = address_size_bits(ps)
            .filter(|&bits| bits <= MAX_PS_BITS)
            .ok_or(SmmuError::BadVtcr("PS"))?;
        if ps_bits > smmu.output_address_bits {
            return Err(SmmuError::OutputSizeTooLarge {
                ps_bits,
                oas_bits: smmu.output_address_bits,
            });
        }
        let t0sz = VTCR_T0SZ.get(vtcr_el2) as u8;
        let ipa_bits = 64u8.checked_sub(t0sz).filter(|&bits| bits <= ps_bits);
        let geometry = ipa_bits
            .and_then(|bits| Format::Stage2.geometry(bits).ok())
            .ok_or(SmmuError::BadVtcr("T0SZ"))?;
        let sl0 = VTCR_SL0.get(vtcr_el2) as u8;
        // With a 4 KiB granule SL0 counts levels up from level 2.
        if u16::from(sl0) + u16::from(geometry.start_level) != 2 {
            return Err(SmmuError::BadVtcr("SL0"));
        }
        if !smmu.vmid16 && vmid > u16::from(u8::MAX) {
            return Err(SmmuError::VmidTooWide(vmid));
        }
        check_root(root_phys, geometry.root_tables as u64 * PAGE_BYTES, ps_bits)?;
        Ok(Self {
            vmid,
            t0sz,
            sl0,
            irgn0: VTCR_IRGN0.get(vtcr_el2) as u8,
            orgn0: VTCR_ORGN0.get(vtcr_el2) as u8,
            sh0: VTCR_SH0.get(vtcr_el2) as u8,
            tg0: TG_4KIB as u8,
            ps,
            root_phys,
        })
    }
}

/// The SMMU ignores S2TTB bits below the root's size, and its walks cannot leave the output
/// address space.
fn check_root(root_phys: u64, root_bytes: u64, ps_bits: u8) -> Result<()> {
    const WHAT: &str = "stage-2 root table";
    if !root_phys.is_multiple_of(root_bytes) {
        return Err(SmmuError::Misaligned {
            what: WHAT,
            phys: root_phys,
            align_bytes: root_bytes,
        });
    }
    let fits = root_phys
        .checked_add(root_bytes)
        .is_some_and(|end| end <= 1u64 << ps_bits);
    if !fits {
        return Err(SmmuError::AddressTooWide {
            what: WHAT,
            phys: root_phys,
        });
    }
    Ok(())
}

/// One 64-byte Stream Table Entry, as eight little-endian 64-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ste(pub [u64; 8]);

impl Ste {
    /// Valid, Config = abort: the stream's DMA is terminated and no event is recorded (an
    /// invalid STE would instead log C_BAD_STE for every access).
    pub fn abort() -> Self {
        let mut words = [0; 8];
        words[0] = V.put(1) | CONFIG.put(StreamConfig::Abort.encoding());
        Self(words)
    }

    /// Valid, stage 1 bypassed, stage 2 translating with `s2`: AArch64 little-endian tables,
    /// faults recorded (S2R = 1) and terminated rather than stalled (S2S = 0), access-flag
    /// faults enabled (S2AFFD = 0: sluice's leaves all have AF set, so one would mean a bug),
    /// incoming shareability kept (SHCFG).
    ///
    /// S2PTW = 1: it only governs stage-1 table walks, of which this entry has none, so it
    /// changes nothing here; it is set as Linux sets it so that an entry ever reused with
    /// stage 1 cannot have a stage-1 walk read device memory (a BAR) through stage 2.
    pub fn stage2(s2: &S2Config) -> Self {
        let mut words = [0; 8];
        words[0] = V.put(1) | CONFIG.put(StreamConfig::Stage2Only.encoding());
        words[1] = SHCFG.put(SHCFG_INCOMING);
        words[2] = S2VMID.put(u64::from(s2.vmid))
            | S2T0SZ.put(u64::from(s2.t0sz))
            | S2SL0.put(u64::from(s2.sl0))
            | S2IR0.put(u64::from(s2.irgn0))
            | S2OR0.put(u64::from(s2.orgn0))
            | S2SH0.put(u64::from(s2.sh0))
            | S2TG.put(u64::from(s2.tg0))
            | S2PS.put(u64::from(s2.ps))
            | S2AA64.put(1)
            | S2PTW.put(1)
            | S2R.put(1);
        words[3] = S2TTB.put_in_place(s2.root_phys);
        Self(words)
    }

    /// The 64 bytes to store in the stream table (words in order, each little-endian).
    pub fn to_le_bytes(&self) -> [u8; 64] {
        let mut bytes = [0; 64];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// STE.V.
    pub fn valid(&self) -> bool {
        V.is_set(self.0[0])
    }
    /// STE.Config.
    pub fn config(&self) -> StreamConfig {
        StreamConfig::decode(CONFIG.get(self.0[0]))
    }
    /// STE.SHCFG.
    pub fn shcfg(&self) -> u8 {
        SHCFG.get(self.0[1]) as u8
    }
    /// STE.S2VMID.
    pub fn s2_vmid(&self) -> u16 {
        S2VMID.get(self.0[2]) as u16
    }
    /// The stage-2 fields that mirror VTCR_EL2, read back as an [`S2Config`].
    pub fn s2_config(&self) -> S2Config {
        let w2 = self.0[2];
        let byte = |f: Field| f.get(w2) as u8;
        S2Config {
            vmid: self.s2_vmid(),
            t0sz: byte(S2T0SZ),
            sl0: byte(S2SL0),
            irgn0: byte(S2IR0),
            orgn0: byte(S2OR0),
            sh0: byte(S2SH0),
            tg0: byte(S2TG),
            ps: byte(S2PS),
            root_phys: S2TTB.put_in_place(self.0[3]),
        }
    }
    /// STE.S2AA64: AArch64 stage-2 tables.
    pub fn s2_aa64(&self) -> bool {
        S2AA64.is_set(self.0[2])
    }
    /// STE.S2ENDI: big-endian stage-2 tables.
    pub fn s2_big_endian(&self) -> bool {
        S2ENDI.is_set(self.0[2])
    }
    /// STE.S2AFFD: access-flag faults disabled.
    pub fn s2_access_flag_faults_disabled(&self) -> bool {
        S2AFFD.is_set(self.0[2])
    }
    /// STE.S2PTW: protected stage-1 table walks.
    pub fn s2_protected_walks(&self) -> bool {
        S2PTW.is_set(self.0[2])
    }
    /// STE.S2S: stall (rather than terminate) on stage-2 faults.
    pub fn s2_stall(&self) -> bool {
        S2S.is_set(self.0[2])
    }
    /// STE.S2R: record stage-2 faults as events.
    pub fn s2_record_faults(&self) -> bool {
        S2R.is_set(self.0[2])
    }
}

#[cfg(test)]
mod tests;
