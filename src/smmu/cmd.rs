//! Command queue entries (IHI 0070 chapter 4) and the command errors reported in
//! SMMU_CMDQ_CONS.ERR (IHI 0070 7.1).
//!
//! sluice waits for commands by polling CMDQ_CONS past a CMD_SYNC, so CMD_SYNC is built with
//! no completion signal (CS = SIG_NONE): an interrupt or MSI write would need a handler or a
//! memory location for nothing the poll does not already give.
#![forbid(unsafe_code)]

use super::field::Field;
use core::fmt;

const OPCODE: Field = Field::bits(7, 0);
// CFGI_*: StreamID in word 0, Leaf / Range in word 1.
const CFGI_SID: Field = Field::bits(63, 32);
const CFGI_LEAF: Field = Field::bit(0);
const CFGI_RANGE: Field = Field::bits(4, 0);
/// CMD_CFGI_ALL is CMD_CFGI_STE_RANGE with Range = 31: every StreamID.
const CFGI_RANGE_ALL: u64 = 31;
// TLBI_*: VMID in word 0, Leaf and the IPA in word 1 (NUM, SCALE, TTL, TG left 0: one address,
// no range, no level hint).
const TLBI_VMID: Field = Field::bits(47, 32);
const TLBI_LEAF: Field = Field::bit(0);
const TLBI_IPA: Field = Field::bits(51, 12);
// CMD_SYNC completion signal.
const SYNC_CS: Field = Field::bits(13, 12);
const SYNC_CS_NONE: u64 = 0b00;

/// Command opcodes sluice issues (IHI 0070 4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Opcode {
    /// CMD_CFGI_STE.
    CfgiSte = 0x03,
    /// CMD_CFGI_STE_RANGE (CMD_CFGI_ALL when Range = 31).
    CfgiSteRange = 0x04,
    /// CMD_TLBI_S12_VMALL.
    TlbiS12Vmall = 0x28,
    /// CMD_TLBI_S2_IPA.
    TlbiS2Ipa = 0x2a,
    /// CMD_TLBI_NSNH_ALL.
    TlbiNsnhAll = 0x30,
    /// CMD_SYNC.
    Sync = 0x46,
}

/// One 16-byte command queue entry, as two little-endian 64-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command(pub [u64; 2]);

impl Command {
    fn new(opcode: Opcode, word0: u64, word1: u64) -> Self {
        Self([OPCODE.put(opcode as u64) | word0, word1])
    }

    /// CMD_CFGI_STE: drop cached configuration of StreamID `sid`. `leaf` = true drops only the
    /// STE itself (enough for a linear table, which has no level-1 descriptors).
    pub fn cfgi_ste(sid: u32, leaf: bool) -> Self {
        Self::new(
            Opcode::CfgiSte,
            CFGI_SID.put(u64::from(sid)),
            CFGI_LEAF.put(u64::from(leaf)),
        )
    }

    /// CMD_CFGI_ALL: drop every cached STE and CD (after building a new stream table).
    pub fn cfgi_all() -> Self {
        Self::new(Opcode::CfgiSteRange, 0, CFGI_RANGE.put(CFGI_RANGE_ALL))
    }

    /// CMD_TLBI_NSNH_ALL: drop every non-secure, non-hypervisor TLB entry (at reset, since the
    /// TLB may hold anything after a warm boot).
    pub fn tlbi_nsnh_all() -> Self {
        Self::new(Opcode::TlbiNsnhAll, 0, 0)
    }

    /// CMD_TLBI_S12_VMALL: drop every TLB entry of `vmid`.
    pub fn tlbi_s12_vmall(vmid: u16) -> Self {
        Self::new(Opcode::TlbiS12Vmall, TLBI_VMID.put(u64::from(vmid)), 0)
    }

    /// CMD_TLBI_S2_IPA: drop `vmid`'s stage-2 entries for the 4 KiB page holding `ipa` (bits
    /// below 12 ignored). `leaf` = true keeps cached walks of intermediate tables (only valid
    /// when the change was to a leaf descriptor).
    pub fn tlbi_s2_ipa(vmid: u16, ipa: u64, leaf: bool) -> Self {
        Self::new(
            Opcode::TlbiS2Ipa,
            TLBI_VMID.put(u64::from(vmid)),
            TLBI_IPA.put_in_place(ipa) | TLBI_LEAF.put(u64::from(leaf)),
        )
    }

    /// CMD_SYNC with no completion signal: complete once CMDQ_CONS has moved past it.
    pub fn sync() -> Self {
        Self::new(Opcode::Sync, SYNC_CS.put(SYNC_CS_NONE), 0)
    }

    /// The opcode byte.
    pub fn opcode(&self) -> u8 {
        OPCODE.get(self.0[0]) as u8
    }

    /// The 16 bytes to store in the queue.
    pub fn to_le_bytes(&self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.0[0].to_le_bytes());
        bytes[8..].copy_from_slice(&self.0[1].to_le_bytes());
        bytes
    }
}

const CONS_ERR: Field = Field::bits(30, 24);

/// Why the SMMU stopped consuming commands (SMMU_CMDQ_CONS.ERR once GERROR.CMDQ_ERR is
/// active). CONS.RD then points at the offending command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// CERROR_ILL (1): an unknown opcode or a command with an illegal field.
    Illegal,
    /// CERROR_ABT (2): an abort reading the command from memory.
    FetchAbort,
    /// CERROR_ATC_INV_SYNC (3): an ATC invalidation that completed with an error was
    /// followed by this CMD_SYNC.
    AtcInvalidationSync,
    /// Another code (IMPLEMENTATION DEFINED or added by a later revision).
    Other(u8),
}

impl CommandError {
    /// The error in a CMDQ_CONS value; `None` for CERROR_NONE.
    pub fn from_cons(cmdq_cons: u32) -> Option<Self> {
        match CONS_ERR.get(u64::from(cmdq_cons)) {
            0 => None,
            1 => Some(Self::Illegal),
            2 => Some(Self::FetchAbort),
            3 => Some(Self::AtcInvalidationSync),
            other => Some(Self::Other(other as u8)),
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Illegal => write!(f, "CERROR_ILL (illegal command)"),
            Self::FetchAbort => write!(f, "CERROR_ABT (abort fetching the command)"),
            Self::AtcInvalidationSync => {
                write!(
                    f,
                    "CERROR_ATC_INV_SYNC (CMD_SYNC after a failed ATC invalidation)"
                )
            }
            Self::Other(code) => write!(f, "command error {code:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn cfgi_ste_puts_the_stream_id_in_bits_63_32_and_leaf_in_bit_64() {
        let c = Command::cfgi_ste(0x0010, true);
        assert_eq!(c.0, [0x03 | 0x10 << 32, 1]);
        assert_eq!(
            Command::cfgi_ste(0xffff_ffff, false).0,
            [0xffff_ffff_0000_0003, 0]
        );
        assert_eq!(c.opcode(), Opcode::CfgiSte as u8);
    }

    #[test]
    fn cfgi_all_is_cfgi_ste_range_over_range_31() {
        assert_eq!(Command::cfgi_all().0, [0x04, 31]);
    }

    #[test]
    fn tlbi_commands_carry_the_vmid_in_bits_47_32() {
        assert_eq!(Command::tlbi_nsnh_all().0, [0x30, 0]);
        assert_eq!(Command::tlbi_s12_vmall(0xbeef).0, [0x28 | 0xbeef << 32, 0]);
        let by_ipa = Command::tlbi_s2_ipa(7, 0x0000_8765_4321_0fff, true);
        assert_eq!(by_ipa.0, [0x2a | 7 << 32, 0x0000_8765_4321_0000 | 1]);
        let high = Command::tlbi_s2_ipa(1, u64::MAX, false);
        assert_eq!(
            high.0[1], 0x000f_ffff_ffff_f000,
            "only IPA bits [51:12] are kept"
        );
    }

    #[test]
    fn cmd_sync_has_no_completion_signal_or_msi() {
        assert_eq!(Command::sync().0, [0x46, 0]);
        let bytes = Command::sync().to_le_bytes();
        assert_eq!(bytes[0], 0x46);
        assert_eq!(&bytes[1..], &[0; 15]);
    }

    #[test]
    fn cmdq_cons_error_codes_are_decoded_from_bits_30_24() {
        let cons = |err: u32| err << 24 | 0x1234;
        assert_eq!(CommandError::from_cons(cons(0)), None);
        assert_eq!(
            CommandError::from_cons(cons(1)),
            Some(CommandError::Illegal)
        );
        assert_eq!(
            CommandError::from_cons(cons(2)),
            Some(CommandError::FetchAbort)
        );
        assert_eq!(
            CommandError::from_cons(cons(3)),
            Some(CommandError::AtcInvalidationSync)
        );
        assert_eq!(
            CommandError::from_cons(cons(0x7f)),
            Some(CommandError::Other(0x7f))
        );
        assert_eq!(
            CommandError::from_cons(1 << 31),
            None,
            "bit 31 is not part of ERR"
        );
        assert_eq!(
            format!("{}", CommandError::Illegal),
            "CERROR_ILL (illegal command)"
        );
    }
}
