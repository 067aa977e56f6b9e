//! Event queue records (IHI 0070 7.3) and SMMU_GERROR (IHI 0070 7.5, 6.3.17), decoded for one
//! log line each.
#![forbid(unsafe_code)]

use super::field::Field;
use core::fmt;

// Word 0 of every record.
const EVENT_TYPE: Field = Field::bits(7, 0);
const SSV: Field = Field::bit(11);
const SUBSTREAM_ID: Field = Field::bits(31, 12);
const STREAM_ID: Field = Field::bits(63, 32);
// Word 1 of transaction faults: bits 64+n of the record.
const PNU: Field = Field::bit(33);
const IND: Field = Field::bit(34);
const RNW: Field = Field::bit(35);
const S2: Field = Field::bit(39);
const CLASS: Field = Field::bits(41, 40);
// Word 3: the IPA of a stage-2 translation fault, or the address of a failed fetch.
const FAULT_IPA: Field = Field::bits(51, 12);
const FETCH_ADDR: Field = Field::bits(51, 3);

/// The event type (IHI 0070 7.3, table 7-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// 0x01: unsupported upstream transaction.
    UnsupportedUpstream,
    /// 0x02: StreamID beyond the stream table.
    BadStreamId,
    /// 0x03: external abort fetching an STE.
    SteFetch,
    /// 0x04: the STE is invalid or ILLEGAL.
    BadSte,
    /// 0x05: a bad ATS translation request.
    BadAtsRequest,
    /// 0x06: the stream is disabled (non-substream traffic with S1DSS).
    StreamDisabled,
    /// 0x07: ATS-translated traffic not allowed.
    TranslationForbidden,
    /// 0x08: SubstreamID beyond the CD table.
    BadSubstreamId,
    /// 0x09: external abort fetching a CD.
    CdFetch,
    /// 0x0a: the CD is invalid or ILLEGAL.
    BadCd,
    /// 0x0b: external abort during a table walk.
    WalkExternalAbort,
    /// 0x10: translation fault.
    Translation,
    /// 0x11: address size fault.
    AddressSize,
    /// 0x12: access flag fault.
    Access,
    /// 0x13: permission fault.
    Permission,
    /// 0x20: TLB conflict.
    TlbConflict,
    /// 0x21: configuration cache conflict.
    ConfigConflict,
    /// 0x24: speculative page request.
    PageRequest,
    /// Any other type (IMPLEMENTATION DEFINED or from a later revision).
    Unknown(u8),
}

/// (code, kind, spec name) for every named type.
const KINDS: [(u8, EventKind, &str); 18] = [
    (0x01, EventKind::UnsupportedUpstream, "F_UUT"),
    (0x02, EventKind::BadStreamId, "C_BAD_STREAMID"),
    (0x03, EventKind::SteFetch, "F_STE_FETCH"),
    (0x04, EventKind::BadSte, "C_BAD_STE"),
    (0x05, EventKind::BadAtsRequest, "F_BAD_ATS_TREQ"),
    (0x06, EventKind::StreamDisabled, "F_STREAM_DISABLED"),
    (0x07, EventKind::TranslationForbidden, "F_TRANSL_FORBIDDEN"),
    (0x08, EventKind::BadSubstreamId, "C_BAD_SUBSTREAMID"),
    (0x09, EventKind::CdFetch, "F_CD_FETCH"),
    (0x0a, EventKind::BadCd, "C_BAD_CD"),
    (0x0b, EventKind::WalkExternalAbort, "F_WALK_EABT"),
    (0x10, EventKind::Translation, "F_TRANSLATION"),
    (0x11, EventKind::AddressSize, "F_ADDR_SIZE"),
    (0x12, EventKind::Access, "F_ACCESS"),
    (0x13, EventKind::Permission, "F_PERMISSION"),
    (0x20, EventKind::TlbConflict, "F_TLB_CONFLICT"),
    (0x21, EventKind::ConfigConflict, "F_CFG_CONFLICT"),
    (0x24, EventKind::PageRequest, "E_PAGE_REQUEST"),
];

impl EventKind {
    /// The kind of event type `code`.
    pub fn from_code(code: u8) -> Self {
        KINDS
            .iter()
            .find(|(c, _, _)| *c == code)
            .map_or(Self::Unknown(code), |&(_, kind, _)| kind)
    }

    /// The spec's name (`F_TRANSLATION` ...), `None` for an unknown type.
    pub fn name(self) -> Option<&'static str> {
        KINDS
            .iter()
            .find(|(_, k, _)| *k == self)
            .map(|&(_, _, n)| n)
    }

    /// Records whose word 1 describes the faulting transaction and word 2 its input address.
    fn has_transaction(self) -> bool {
        self.has_stage_and_class()
            || matches!(
                self,
                Self::TlbConflict
                    | Self::BadAtsRequest
                    | Self::UnsupportedUpstream
                    | Self::TranslationForbidden
            )
    }

    /// Records that say which stage faulted and on what (S2 and CLASS).
    fn has_stage_and_class(self) -> bool {
        matches!(
            self,
            Self::Translation
                | Self::AddressSize
                | Self::Access
                | Self::Permission
                | Self::WalkExternalAbort
        )
    }

    /// Records whose word 3 is the address of a configuration or table fetch that aborted.
    fn has_fetch_address(self) -> bool {
        matches!(
            self,
            Self::SteFetch | Self::CdFetch | Self::WalkExternalAbort
        )
    }
}

/// What the SMMU was doing when a translation fault hit (event CLASS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    /// 0b00: fetching a context descriptor.
    CdFetch,
    /// 0b01: walking translation tables (of stage 1, through stage 2).
    TableWalk,
    /// 0b10: translating the transaction's own input address.
    InputAddress,
    /// 0b11: reserved.
    Reserved,
}

/// The transaction an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction {
    /// The address the device used (an IPA for a stage-2-only stream).
    pub input_addr: u64,
    /// RnW = 0.
    pub write: bool,
    /// InD = 1: an instruction fetch.
    pub instruction: bool,
    /// PnU = 1: privileged.
    pub privileged: bool,
}

/// Where a translation fault was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultSite {
    /// S2 = 1: at stage 2.
    pub stage2: bool,
    /// CLASS.
    pub class: FaultClass,
    /// The IPA at fault (word 3) for a stage-2 fault, when not a walk abort.
    pub ipa: Option<u64>,
}

/// One decoded event record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The type.
    pub kind: EventKind,
    /// StreamID of the device (its PCI RID through the `iommu-map`).
    pub stream_id: u32,
    /// SubstreamID, when SSV = 1.
    pub substream_id: Option<u32>,
    /// The faulting transaction, for event types that describe one.
    pub transaction: Option<Transaction>,
    /// Stage and class, for translation faults and walk aborts.
    pub site: Option<FaultSite>,
    /// The address of an aborted STE, CD or table fetch.
    pub fetch_addr: Option<u64>,
}

impl Event {
    /// Decodes a 32-byte record read from the event queue as four little-endian words.
    pub fn decode(words: [u64; 4]) -> Self {
        let kind = EventKind::from_code(EVENT_TYPE.get(words[0]) as u8);
        let transaction = kind.has_transaction().then(|| Transaction {
            input_addr: words[2],
            write: !RNW.is_set(words[1]),
            instruction: IND.is_set(words[1]),
            privileged: PNU.is_set(words[1]),
        });
        let site = kind.has_stage_and_class().then(|| {
            let stage2 = S2.is_set(words[1]);
            let ipa_recorded = stage2 && kind != EventKind::WalkExternalAbort;
            FaultSite {
                stage2,
                class: match CLASS.get(words[1]) {
                    0b00 => FaultClass::CdFetch,
                    0b01 => FaultClass::TableWalk,
                    0b10 => FaultClass::InputAddress,
                    _ => FaultClass::Reserved,
                },
                ipa: ipa_recorded.then(|| FAULT_IPA.put_in_place(words[3])),
            }
        });
        Self {
            kind,
            stream_id: STREAM_ID.get(words[0]) as u32,
            substream_id: SSV
                .is_set(words[0])
                .then(|| SUBSTREAM_ID.get(words[0]) as u32),
            transaction,
            site,
            fetch_addr: kind
                .has_fetch_address()
                .then(|| FETCH_ADDR.put_in_place(words[3])),
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self) {
            (Some(name), _) => f.write_str(name),
            (None, Self::Unknown(code)) => write!(f, "event {code:#04x}"),
            (None, _) => write!(f, "{self:?}"),
        }
    }
}

impl fmt::Display for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let privilege = if self.privileged { "privileged " } else { "" };
        let access = match (self.write, self.instruction) {
            (true, _) => "write to",
            (false, true) => "instruction fetch from",
            (false, false) => "read from",
        };
        write!(f, "{privilege}{access} {:#x}", self.input_addr)
    }
}

impl fmt::Display for FaultSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = if self.stage2 { 2 } else { 1 };
        let class = match self.class {
            FaultClass::CdFetch => "CD fetch",
            FaultClass::TableWalk => "table walk",
            FaultClass::InputAddress => "input address",
            FaultClass::Reserved => "reserved class",
        };
        write!(f, "stage {stage}, {class}")?;
        match self.ipa {
            Some(ipa) if self.class != FaultClass::InputAddress => write!(f, ", IPA {ipa:#x}"),
            _ => Ok(()),
        }
    }
}

/// One line: `F_TRANSLATION stream 0x0010 write to 0x7fff0000 (stage 2, input address)`.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} stream {:#06x}", self.kind, self.stream_id)?;
        if let Some(ssid) = self.substream_id {
            write!(f, " substream {ssid:#x}")?;
        }
        if let Some(transaction) = &self.transaction {
            write!(f, " {transaction}")?;
        }
        if let Some(site) = &self.site {
            write!(f, " ({site})")?;
        }
        if let Some(addr) = self.fetch_addr {
            write!(f, " fetching {addr:#x}")?;
        }
        Ok(())
    }
}

/// The global errors active in SMMU_GERROR: build with `GlobalErrors::from(gerror ^ gerrorn)`.
/// The driver acknowledges the ones it handled by writing GERROR's value to GERRORN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GlobalErrors(pub u32);

/// (bit, name) of each SMMU_GERROR error (IHI 0070 6.3.17).
const GLOBAL_ERRORS: [(u32, &str); 9] = [
    (0, "CMDQ_ERR"),
    (2, "EVENTQ_ABT_ERR"),
    (3, "PRIQ_ABT_ERR"),
    (4, "MSI_CMDQ_ABT_ERR"),
    (5, "MSI_EVENTQ_ABT_ERR"),
    (6, "MSI_PRIQ_ABT_ERR"),
    (7, "MSI_GERROR_ABT_ERR"),
    (8, "SFM_ERR"),
    (9, "CMDQP_ERR"),
];

/// GERROR.CMDQ_ERR: the command queue stopped; CMDQ_CONS.ERR says why.
pub const GERROR_CMDQ_ERR: u32 = 1 << 0;
/// GERROR.SFM_ERR: the SMMU entered service failure mode and stopped translating.
pub const GERROR_SFM_ERR: u32 = 1 << 8;

impl From<u32> for GlobalErrors {
    fn from(active: u32) -> Self {
        Self(active)
    }
}

impl GlobalErrors {
    /// No error active.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// Whether every bit of `error` (a `GERROR_*` constant) is active.
    pub fn contains(&self, error: u32) -> bool {
        self.0 & error == error
    }

    /// The spec names of the active errors; bits with no name are left out (see `Display`).
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        GLOBAL_ERRORS
            .iter()
            .filter(|(bit, _)| self.0 >> bit & 1 == 1)
            .map(|&(_, name)| name)
    }

    fn unnamed_bits(&self) -> u32 {
        GLOBAL_ERRORS
            .iter()
            .fold(self.0, |bits, (bit, _)| bits & !(1 << bit))
    }
}

/// `CMDQ_ERR, SFM_ERR`, `none`, or unnamed bits as `bits 0x...`.
impl fmt::Display for GlobalErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut separator = "";
        for name in self.names() {
            write!(f, "{separator}{name}")?;
            separator = ", ";
        }
        if self.unnamed_bits() != 0 {
            write!(f, "{separator}bits {:#x}", self.unnamed_bits())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
