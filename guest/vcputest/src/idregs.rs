//! The ID registers, printed raw once, then every feature they advertise executed (see
//! `features`): an advertised feature whose instruction UNDEFs or traps is a FAIL naming the
//! register field; a hidden one is a SKIP. Instructions the softfloat target's assembler does
//! not take are written as `.inst` words (encodings from the Arm ARM, checked with llvm-mc).

use crate::arch::{mrs, msr, sctlr};
use crate::exception::probe;
use crate::features::{Feature, IdReg, Probe, FEATURES, ID_REGS};
use crate::report::{check, skip};
use core::arch::asm;
use core::fmt;

/// Reads an ID register; an exception while reading gives its ESR.
fn read(reg: IdReg) -> Result<u64, u64> {
    let mut v = 0;
    let esr = probe(|| {
        v = match reg {
            IdReg::Midr => mrs!("s3_0_c0_c0_0"),
            IdReg::Pfr0 => mrs!("s3_0_c0_c4_0"),
            IdReg::Pfr1 => mrs!("s3_0_c0_c4_1"),
            IdReg::Pfr2 => mrs!("s3_0_c0_c4_2"),
            IdReg::Zfr0 => mrs!("s3_0_c0_c4_4"),
            IdReg::Smfr0 => mrs!("s3_0_c0_c4_5"),
            IdReg::Fpfr0 => mrs!("s3_0_c0_c4_7"),
            IdReg::Dfr0 => mrs!("s3_0_c0_c5_0"),
            IdReg::Dfr1 => mrs!("s3_0_c0_c5_1"),
            IdReg::Isar0 => mrs!("s3_0_c0_c6_0"),
            IdReg::Isar1 => mrs!("s3_0_c0_c6_1"),
            IdReg::Isar2 => mrs!("s3_0_c0_c6_2"),
            IdReg::Isar3 => mrs!("s3_0_c0_c6_3"),
            IdReg::Mmfr0 => mrs!("s3_0_c0_c7_0"),
            IdReg::Mmfr1 => mrs!("s3_0_c0_c7_1"),
            IdReg::Mmfr2 => mrs!("s3_0_c0_c7_2"),
            IdReg::Mmfr3 => mrs!("s3_0_c0_c7_3"),
        }
    });
    esr.map_or(Ok(v), Err)
}

/// Why a probe failed.
enum Failure {
    /// The instruction raised an exception with this ESR.
    Exception(u64),
    /// It ran but gave a wrong result.
    Wrong(&'static str),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Exception(esr) => {
                write!(f, "exception ec={:#04x} esr={esr:#x}", esr >> 26 & 0x3f)
            }
            Failure::Wrong(what) => f.write_str(what),
        }
    }
}

/// Executes one instruction word (no operands of interest).
macro_rules! inst {
    ($word:literal) => {
        // SAFETY: the instruction only touches registers x0/x1/x2 and v0..v3/z0/p0 (none of
        // which the softfloat compiler uses for values), or is a hint/barrier.
        unsafe { asm!(concat!(".inst ", $word), out("x0") _, options(nostack)) }
    };
}

fn pauth_addr() -> Result<(), &'static str> {
    let saved = mrs!("sctlr_el1");
    msr!("sctlr_el1", saved | sctlr::EN_IA);
    let (ptr, modifier) = (0x4000_1230u64, 0x42u64);
    let mut signed = ptr;
    // SAFETY: pacia/autia x0, x1 only compute on registers.
    unsafe { asm!(".inst 0xdac10020", inout("x0") signed, in("x1") modifier, options(nostack)) };
    let mut authed = signed;
    // SAFETY: as above.
    unsafe { asm!(".inst 0xdac11020", inout("x0") authed, in("x1") modifier, options(nostack)) };
    msr!("sctlr_el1", saved);
    match (signed != ptr, authed == ptr) {
        (true, true) => Ok(()),
        (false, _) => Err("pacia added no PAC"),
        (_, false) => Err("autia did not give the pointer back"),
    }
}

fn bti() -> Result<(), &'static str> {
    let saved = mrs!("sctlr_el1");
    msr!("sctlr_el1", saved | sctlr::BT1);
    let set = mrs!("sctlr_el1") & sctlr::BT1 != 0;
    msr!("sctlr_el1", saved);
    inst!("0xd503245f"); // bti c
    set.then_some(()).ok_or("SCTLR_EL1.BT1 reads back 0")
}

fn mops() -> Result<(), &'static str> {
    let src = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let mut dst = [0u8; 8];
    let (mut d, mut s, mut n) = (dst.as_mut_ptr(), src.as_ptr(), src.len());
    // SAFETY: cpyfp/cpyfm/cpyfe copy n bytes from s to d, both valid for 8 bytes.
    unsafe {
        asm!(".inst 0x19010440", ".inst 0x19410440", ".inst 0x19810440",
             inout("x0") d, inout("x1") s, inout("x2") n, options(nostack))
    };
    let _ = (d, s);
    (dst == src && n == 0)
        .then_some(())
        .ok_or("the copy did not happen")
}

fn lse() -> Result<(), &'static str> {
    let mut word = 40u32;
    let old: u64;
    // SAFETY: ldadd w1, w0, [x2] on a live, aligned local.
    unsafe {
        asm!(".inst 0xb8210040", out("x0") old, in("x1") 2u64, in("x2") &mut word as *mut u32, options(nostack))
    };
    (old == 40 && word == 42)
        .then_some(())
        .ok_or("ldadd did not add")
}

fn crc32() -> Result<(), &'static str> {
    let mut crc = 0xffff_ffffu64;
    // SAFETY: crc32b w0, w0, w1 computes on registers.
    unsafe { asm!(".inst 0x1ac14000", inout("x0") crc, in("x1") b'a' as u64, options(nostack)) };
    // zlib.crc32(b"a") == 0xe8b7be43 (with the usual pre- and post-inversion).
    (!crc as u32 == 0xe8b7_be43)
        .then_some(())
        .ok_or("crc32b gave a wrong CRC")
}

fn vector_length(word_is_rdsvl: bool) -> Result<(), &'static str> {
    let vl: u64;
    // SAFETY: rdvl/rdsvl x0, #1 read the vector length into x0.
    unsafe {
        if word_is_rdsvl {
            asm!(".inst 0x04bf5820", out("x0") vl, options(nostack));
        } else {
            asm!(".inst 0x04bf5020", out("x0") vl, options(nostack));
        }
    }
    (vl >= 16 && vl % 16 == 0)
        .then_some(())
        .ok_or("vector length not a multiple of 16 bytes")
}

fn run(p: Probe) -> Result<(), &'static str> {
    match p {
        Probe::Fp => inst!("0x9e6703e0"),
        Probe::Fp16 => inst!("0x1ee22820"),
        Probe::AdvSimd => inst!("0x4ea28420"),
        Probe::Sve => return vector_length(false),
        Probe::Sme => {
            vector_length(true)?;
            inst!("0xd503477f"); // smstart
            inst!("0xd503467f"); // smstop
        }
        Probe::PauthAddr => return pauth_addr(),
        Probe::PauthGeneric => inst!("0x9ac23020"), // pacga x0, x1, x2
        Probe::Bti => return bti(),
        Probe::MteInsn => inst!("0x9adf1020"), // irg x0, x1
        Probe::MteRegs => _ = mrs!("s3_0_c1_c0_6"), // GCR_EL1
        Probe::Mops => return mops(),
        Probe::Fpmr => _ = mrs!("s3_3_c4_c4_2"),
        Probe::Rndr => _ = mrs!("s3_3_c2_c4_0"),
        Probe::Pmu => _ = mrs!("s3_3_c9_c12_0"),
        Probe::Debug => _ = mrs!("s2_0_c0_c2_2"),
        Probe::Lse => return lse(),
        Probe::Crc32 => return crc32(),
        Probe::Aes => inst!("0x4e284820"),
        Probe::Sha1 => inst!("0x5e280820"),
        Probe::Sha256 => inst!("0x5e025020"),
        Probe::Sha512 => inst!("0xce628020"),
        Probe::Sha3 => inst!("0xce020c20"),
        Probe::Sm3 => inst!("0xce420c20"),
        Probe::DotProd => inst!("0x4e829420"),
        Probe::Fhm => inst!("0x0e22ec20"),
        Probe::FlagM => inst!("0xd500401f"),
        Probe::Dpb => {
            let line = 0u64;
            // SAFETY: dc cvap on a live local: a cache clean, no data change.
            unsafe { asm!(".inst 0xd50b7c20", in("x0") &line as *const u64, options(nostack)) };
        }
        Probe::Jscvt => inst!("0x1e7e0000"),
        Probe::Fcma => inst!("0x6e82c420"),
        Probe::Lrcpc => {
            let word = 7u32;
            let v: u64;
            // SAFETY: ldapr w0, [x1] loads a live, aligned local.
            unsafe {
                asm!(".inst 0xb8bfc020", out("x0") v, in("x1") &word as *const u32, options(nostack))
            };
            if v != 7 {
                return Err("ldapr loaded a wrong value");
            }
        }
        Probe::FrintTs => inst!("0x1e684020"),
        Probe::Sb => inst!("0xd50330ff"),
        Probe::Bf16 => inst!("0x2e42fc20"),
        Probe::I8mm => inst!("0x4e82a420"),
        Probe::Cssc => inst!("0xdac02020"),
        Probe::Dit => {
            inst!("0xd503415f"); // msr dit, #1
            inst!("0xd503405f"); // msr dit, #0
        }
        Probe::Ssbs => inst!("0xd503413f"),
    }
    Ok(())
}

fn feature(f: &Feature, reg_value: u64) {
    let (reg, field, value) = (f.reg.name(), f.field, f.field_value(reg_value));
    if !f.advertised(reg_value) {
        return skip!("idreg {} hidden ({reg}.{field}={value})", f.name);
    }
    let mut wrong = Ok(());
    let esr = probe(|| wrong = run(f.probe));
    let failure = match (esr, wrong) {
        (Some(esr), _) => Some(Failure::Exception(esr)),
        (None, Err(what)) => Some(Failure::Wrong(what)),
        (None, Ok(())) => None,
    };
    match failure {
        None => check!(
            true,
            "idreg {} {reg}.{field}={value} {}",
            f.name,
            f.probe.instruction()
        ),
        Some(why) => check!(
            false,
            "idreg {} advertised by {reg}.{field}={value} but {}: {why}",
            f.name,
            f.probe.instruction()
        ),
    }
}

/// Prints the registers and checks every feature (CPU 0).
pub fn check_all() {
    let mut values = [0u64; ID_REGS.len()];
    for (reg, value) in ID_REGS.iter().zip(values.iter_mut()) {
        match read(*reg) {
            Ok(v) => {
                *value = v;
                crate::console::say!("info idreg {}={v:#018x}", reg.name());
            }
            Err(esr) => check!(false, "idreg read {} raised esr={esr:#x}", reg.name()),
        }
    }
    for f in FEATURES {
        let index = ID_REGS.iter().position(|r| *r == f.reg).unwrap_or(0);
        feature(f, values[index]);
    }
}
