//! Guest exits decoded from ESR_EL2, FAR_EL2 and HPFAR_EL2 into typed values, and the
//! arithmetic of injecting a synchronous exception into the guest's EL1.
//!
//! Encodings: Arm ARM (DDI 0487) D24.2.40 ESR_EL2, "ISS encoding for an exception from a Data
//! Abort" and "... from MSR, MRS, or System instruction execution in AArch64 state".
#![forbid(unsafe_code)]

use tock_registers::interfaces::Readable;
use tock_registers::register_bitfields;
use tock_registers::registers::InMemoryRegister;

register_bitfields! {u64,
    /// ESR_ELx common fields.
    ESR [
        /// Exception class.
        EC OFFSET(26) NUMBITS(6) [],
        /// Instruction length: 1 = 32-bit instruction.
        IL OFFSET(25) NUMBITS(1) [],
        /// Instruction-specific syndrome.
        ISS OFFSET(0) NUMBITS(25) []
    ],
    /// ISS of a data abort.
    DABT [
        /// Instruction syndrome valid: the fields below describe the access.
        ISV OFFSET(24) NUMBITS(1) [],
        /// Access size: 0 byte, 1 halfword, 2 word, 3 doubleword.
        SAS OFFSET(22) NUMBITS(2) [],
        /// Sign-extend the loaded value.
        SSE OFFSET(21) NUMBITS(1) [],
        /// Register transferred.
        SRT OFFSET(16) NUMBITS(5) [],
        /// The register is 64-bit (X) rather than 32-bit (W).
        SF OFFSET(15) NUMBITS(1) [],
        /// Fault on the stage-1 page-table walk.
        S1PTW OFFSET(7) NUMBITS(1) [],
        /// Write not read.
        WNR OFFSET(6) NUMBITS(1) [],
        /// Fault status code.
        DFSC OFFSET(0) NUMBITS(6) []
    ],
    /// ISS of a trapped MSR/MRS.
    SYSREG [
        /// op0.
        OP0 OFFSET(20) NUMBITS(2) [],
        /// op2.
        OP2 OFFSET(17) NUMBITS(3) [],
        /// op1.
        OP1 OFFSET(14) NUMBITS(3) [],
        /// CRn.
        CRN OFFSET(10) NUMBITS(4) [],
        /// Rt.
        RT OFFSET(5) NUMBITS(5) [],
        /// CRm.
        CRM OFFSET(1) NUMBITS(4) [],
        /// Direction: 1 = read (MRS).
        DIRECTION OFFSET(0) NUMBITS(1) []
    ]
}

/// Exception classes sluice distinguishes (ESR_ELx.EC).
mod ec {
    pub const UNKNOWN: u8 = 0x00;
    pub const WFX: u8 = 0x01;
    pub const HVC64: u8 = 0x16;
    pub const SMC64: u8 = 0x17;
    pub const SYSREG: u8 = 0x18;
    pub const IABT_LOWER: u8 = 0x20;
    pub const IABT_CURRENT: u8 = 0x21;
    pub const DABT_LOWER: u8 = 0x24;
    pub const DABT_CURRENT: u8 = 0x25;
}

/// What kind of fault a stage-2 abort reports (from the DFSC/IFSC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// No mapping at some level.
    Translation,
    /// Access flag not set.
    AccessFlag,
    /// Mapped, but without the needed permission.
    Permission,
    /// A synchronous external abort.
    External,
    /// Alignment fault.
    Alignment,
    /// Any other status code.
    Other(u8),
}

impl FaultKind {
    fn from_status(fsc: u8) -> Self {
        match fsc & 0x3c {
            0x04 => Self::Translation,
            0x08 => Self::AccessFlag,
            0x0c => Self::Permission,
            _ if fsc == 0x10 => Self::External,
            _ if fsc == 0x21 => Self::Alignment,
            _ => Self::Other(fsc),
        }
    }
}

/// A guest load or store to an address that stage 2 does not map, fully described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioAccess {
    /// Guest-physical address accessed.
    pub guest_phys: u64,
    /// 1, 2, 4 or 8.
    pub width_bytes: u8,
    /// Store (true) or load.
    pub is_write: bool,
    /// Register transferred; 31 is the zero register.
    pub register: u8,
    /// A load that sign-extends.
    pub sign_extend: bool,
    /// The register is an X register (otherwise W: the upper half is zeroed).
    pub register_is_64bit: bool,
    /// Why stage 2 faulted.
    pub fault: FaultKind,
}

impl MmioAccess {
    /// The value to write back to the guest's register for a load that returned `value`.
    pub fn read_result(&self, value: u64) -> u64 {
        let bits = u32::from(self.width_bytes) * 8;
        let mut v = if bits >= 64 {
            value
        } else {
            value & ((1u64 << bits) - 1)
        };
        if self.sign_extend && bits < 64 && v & (1u64 << (bits - 1)) != 0 {
            v |= !0u64 << bits;
        }
        if self.register_is_64bit {
            v
        } else {
            v & 0xffff_ffff
        }
    }
}

/// A system register named by its encoding (op0, op1, CRn, CRm, op2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysRegId {
    /// op0.
    pub op0: u8,
    /// op1.
    pub op1: u8,
    /// CRn.
    pub crn: u8,
    /// CRm.
    pub crm: u8,
    /// op2.
    pub op2: u8,
}

impl SysRegId {
    /// ICC_SGI1R_EL1: generate a group 1 SGI (trapped by HCR_EL2.IMO).
    pub const ICC_SGI1R_EL1: Self = Self {
        op0: 3,
        op1: 0,
        crn: 12,
        crm: 11,
        op2: 5,
    };
    /// ICC_ASGI1R_EL1: generate an SGI for the other security state.
    pub const ICC_ASGI1R_EL1: Self = Self {
        op0: 3,
        op1: 0,
        crn: 12,
        crm: 11,
        op2: 6,
    };
    /// ICC_SGI0R_EL1: generate a group 0 SGI.
    pub const ICC_SGI0R_EL1: Self = Self {
        op0: 3,
        op1: 0,
        crn: 12,
        crm: 11,
        op2: 7,
    };
}

/// A trapped MSR or MRS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysRegAccess {
    /// Which register.
    pub reg: SysRegId,
    /// The general-purpose register transferred (31 = zero register).
    pub register: u8,
    /// MRS (read) rather than MSR.
    pub is_read: bool,
}

impl SysRegAccess {
    /// The register's encoding.
    pub fn id(&self) -> SysRegId {
        self.reg
    }
}

/// Why the guest exited to EL2, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A load/store to an unmapped guest-physical address with a valid syndrome.
    Mmio(MmioAccess),
    /// A data abort whose instruction cannot be emulated (no syndrome: e.g. LDP, writeback), or
    /// a stage-2 fault on the guest's own page-table walk.
    DataAbortNoSyndrome {
        /// Guest-physical address.
        guest_phys: u64,
        /// Store or load, as far as the hardware says.
        is_write: bool,
        /// Why stage 2 faulted.
        fault: FaultKind,
        /// The fault happened while walking the guest's stage-1 tables.
        on_table_walk: bool,
    },
    /// Instruction fetch from an address stage 2 does not map executable.
    InstructionAbort {
        /// Guest-physical address.
        guest_phys: u64,
        /// Why stage 2 faulted.
        fault: FaultKind,
    },
    /// HVC from the guest (the PC already points past it).
    Hvc {
        /// The immediate.
        imm: u16,
    },
    /// SMC from the guest (trapped; the PC points at it).
    Smc {
        /// The immediate.
        imm: u16,
    },
    /// A trapped system register access.
    SysReg(SysRegAccess),
    /// A trapped WFI.
    Wfi,
    /// A trapped WFE.
    Wfe,
    /// Anything else.
    Unknown {
        /// Exception class.
        ec: u8,
        /// Syndrome.
        iss: u32,
    },
}

/// Decodes an exit from the raw syndrome registers.
pub fn decode(esr_el2: u64, far_el2: u64, hpfar_el2: u64) -> Exit {
    let esr: InMemoryRegister<u64, ESR::Register> = InMemoryRegister::new(esr_el2);
    let ec = esr.read(ESR::EC) as u8;
    let iss = esr.read(ESR::ISS) as u32;
    // HPFAR_EL2.FIPA holds bits [51:12] of the faulting IPA in bits [43:4].
    let guest_phys = ((hpfar_el2 >> 4) & 0xff_ffff_ffff) << 12 | (far_el2 & 0xfff);
    match ec {
        ec::DABT_LOWER => decode_data_abort(iss, guest_phys),
        ec::IABT_LOWER => Exit::InstructionAbort {
            guest_phys,
            fault: FaultKind::from_status((iss & 0x3f) as u8),
        },
        ec::HVC64 => Exit::Hvc { imm: iss as u16 },
        ec::SMC64 => Exit::Smc { imm: iss as u16 },
        ec::SYSREG => Exit::SysReg(decode_sysreg(iss)),
        ec::WFX if iss & 1 == 0 => Exit::Wfi,
        ec::WFX => Exit::Wfe,
        _ => Exit::Unknown { ec, iss },
    }
}

fn decode_data_abort(iss: u32, guest_phys: u64) -> Exit {
    let d: InMemoryRegister<u64, DABT::Register> = InMemoryRegister::new(iss as u64);
    let fault = FaultKind::from_status(d.read(DABT::DFSC) as u8);
    let is_write = d.is_set(DABT::WNR);
    let on_table_walk = d.is_set(DABT::S1PTW);
    if !d.is_set(DABT::ISV) || on_table_walk {
        return Exit::DataAbortNoSyndrome {
            guest_phys,
            is_write,
            fault,
            on_table_walk,
        };
    }
    Exit::Mmio(MmioAccess {
        guest_phys,
        width_bytes: 1 << d.read(DABT::SAS),
        is_write,
        register: d.read(DABT::SRT) as u8,
        sign_extend: d.is_set(DABT::SSE),
        register_is_64bit: d.is_set(DABT::SF),
        fault,
    })
}

fn decode_sysreg(iss: u32) -> SysRegAccess {
    let s: InMemoryRegister<u64, SYSREG::Register> = InMemoryRegister::new(iss as u64);
    SysRegAccess {
        reg: SysRegId {
            op0: s.read(SYSREG::OP0) as u8,
            op1: s.read(SYSREG::OP1) as u8,
            crn: s.read(SYSREG::CRN) as u8,
            crm: s.read(SYSREG::CRM) as u8,
            op2: s.read(SYSREG::OP2) as u8,
        },
        register: s.read(SYSREG::RT) as u8,
        is_read: s.is_set(SYSREG::DIRECTION),
    }
}

/// The guest PC after the trapped instruction `esr` describes (2 or 4 bytes on).
pub fn next_pc(pc: u64, esr_el2: u64) -> u64 {
    let esr: InMemoryRegister<u64, ESR::Register> = InMemoryRegister::new(esr_el2);
    pc.wrapping_add(if esr.is_set(ESR::IL) { 4 } else { 2 })
}

mod inject;
pub use inject::{inject_abort, GuestExceptionState, InjectKind, Injection};

#[cfg(test)]
mod tests;
