//! What the fuzzer touches and how it puts things back: the targets, the access widths, where
//! in a frame to aim, and for every random write the restore that keeps the guest alive.
//!
//! The guest has to survive its own fuzzing to prove afterwards that it and sluice still work,
//! so a write to one of its own live registers is followed at once by a restore, and sluice
//! still sees the random value first:
//! - plain registers (GICD_CTLR, priorities, IROUTER, config space, MSI-X entries, UART
//!   control): the value read before is written back;
//! - GIC set/clear pairs (ISENABLER/ICENABLER, ISPENDR/ICPENDR, ISACTIVER/ICACTIVER, IHI 0069
//!   12.9): writing the old value back to a set or clear register changes nothing, so the
//!   restore writes exactly the flipped bits to the partner register (a disabled timer PPI is
//!   re-enabled, a new pending bit cleared);
//! - a pending SGI is an IPI: Linux treats SGI 2 as "stop this CPU", so set-pending bits of
//!   SGIs that were not already pending are dropped from the random value;
//! - ICACTIVER only clears bits that were not active: clearing a live active state and
//!   setting it back would race the handler's EOI and could leave an interrupt stuck active;
//! - the UART data register is never written: its only effect is a byte on the real console,
//!   which would garble the lines the test checks; neither are the UART registers the live
//!   console driver owns (IBRD..IMSC): it changes them concurrently, and a restore could undo
//!   its change;
//! - absent functions, stray addresses, write-only command registers (INVLPIR, SYNCR,
//!   GITS_TRANSLATER, UARTICR) have nothing to put back.
#![forbid(unsafe_code)]

use crate::rng::Rng;
use core::ops::Range;

/// What an access is aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The GICv3 distributor frame.
    Gicd,
    /// The redistributors, both 64 KiB frames of each.
    Gicr,
    /// The ITS control and translation frames.
    Its,
    /// The console PL011.
    Uart,
    /// Config space of one of the guest's own functions.
    EcamOwn,
    /// Config space of a slot or function that has no device.
    EcamAbsent,
    /// An MSI-X table or PBA page of a guest function (trapped by sluice).
    Msix,
    /// An address the guest DT does not describe.
    Stray,
}

/// How one load or store moves data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// LDRB/STRB.
    Byte,
    /// LDRH/STRH.
    Half,
    /// LDR/STR of a W register.
    Word,
    /// LDR/STR of an X register.
    Double,
    /// LDP/STP of two W registers: a data abort without a valid syndrome (ISV=0), which a
    /// hypervisor cannot emulate from ESR alone.
    WordPair,
}

impl Width {
    /// Bytes moved.
    pub fn bytes(self) -> u64 {
        match self {
            Self::Byte => 1,
            Self::Half => 2,
            Self::Word => 4,
            Self::Double | Self::WordPair => 8,
        }
    }

    /// Natural alignment (a pair is aligned to its element).
    pub fn alignment(self) -> u64 {
        match self {
            Self::WordPair => 4,
            other => other.bytes(),
        }
    }

    /// The bits of a u64 this width carries.
    pub fn mask(self) -> u64 {
        match self.bytes() {
            8 => u64::MAX,
            n => (1 << (8 * n)) - 1,
        }
    }

    /// A random width, words most often (what the emulated registers are).
    pub fn random(rng: &mut Rng) -> Self {
        match rng.below(10) {
            0 | 1 => Self::Byte,
            2 | 3 => Self::Half,
            4..=6 => Self::Word,
            7 | 8 => Self::Double,
            _ => Self::WordPair,
        }
    }
}

/// Offsets (within one frame or function) where the implemented registers are; most accesses
/// aim there, the rest anywhere in the region.
fn hot_ranges(target: Target) -> &'static [Range<u64>] {
    match target {
        // CTLR..NSACR, IROUTER, ID registers (IHI 0069 12.9).
        Target::Gicd => &[0..0x1000, 0x6000..0x8000, 0xffd0..0x1_0000],
        // One redistributor: RD_base control/LPI registers and IDs, SGI_base bit registers.
        Target::Gicr => &[0..0x100, 0xffd0..0x1_0000, 0x1_0000..0x1_0d00],
        // GITS_CTLR..BASER7, GITS_TRANSLATER, IDs (IHI 0069 12.19).
        Target::Its => &[0..0x140, 0x1_0040..0x1_0048, 0xffd0..0x1_0000],
        // PL011 registers and PeriphID/PCellID (DDI 0183 3.2).
        Target::Uart => &[0..0x50, 0xfe0..0x1000],
        // The header and the capability list; the rest of 4 KiB is extended space.
        Target::EcamOwn | Target::EcamAbsent => &[HEADER_AND_CAPABILITIES],
        Target::Msix | Target::Stray => &[],
    }
}

/// PCI config space up to the extended capabilities (PCI Local Bus 3.0, 6.1).
const HEADER_AND_CAPABILITIES: Range<u64> = 0..0x100;

/// Bytes of one redistributor (RD_base + SGI_base).
pub const GICR_STRIDE: u64 = 0x2_0000;
const GICR_SGI_BASE: u64 = 0x1_0000;

/// Picks an offset into a region of `size_bytes` for an access of `width`: 70% in a hot
/// range, 75% naturally aligned (the rest misaligned on purpose: an alignment fault the guest
/// kernel raises itself), always inside the region.
pub fn pick_offset(rng: &mut Rng, target: Target, size_bytes: u64, width: Width) -> u64 {
    let (frame_base, frame_bytes) = match target {
        Target::Gicr => (
            rng.below(size_bytes / GICR_STRIDE) * GICR_STRIDE,
            GICR_STRIDE,
        ),
        _ => (0, size_bytes),
    };
    let hot = hot_ranges(target);
    let mut offset = if !hot.is_empty() && rng.percent(70) {
        let range = &hot[rng.below(hot.len() as u64) as usize];
        range.start + rng.below(range.end - range.start)
    } else {
        rng.below(frame_bytes)
    };
    if rng.percent(75) {
        offset &= !(width.alignment() - 1);
    }
    let last = frame_bytes.saturating_sub(width.bytes());
    frame_base + offset.min(last)
}

/// What to do after the random write so that the guest keeps working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restore {
    /// Nothing to put back.
    Nothing,
    /// Write `value` at `offset` (same region, same width).
    Write {
        /// Region offset of the register.
        offset: u64,
        /// The value that puts the state back.
        value: u64,
    },
}

/// One random write and its restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WritePlan {
    /// The value to write.
    pub value: u64,
    /// What to write afterwards.
    pub restore: Restore,
}

/// The GIC set/clear bit arrays, IHI 0069 12.9 (GICD) and 12.11 (GICR SGI_base).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BitArray {
    SetEnable,
    ClearEnable,
    SetPending,
    ClearPending,
    SetActive,
    ClearActive,
}

/// Distance from a set register to its clear partner.
const SET_TO_CLEAR: u64 = 0x80;

fn bit_array(frame_offset: u64) -> Option<BitArray> {
    Some(match frame_offset {
        0x100..0x180 => BitArray::SetEnable,
        0x180..0x200 => BitArray::ClearEnable,
        0x200..0x280 => BitArray::SetPending,
        0x280..0x300 => BitArray::ClearPending,
        0x300..0x380 => BitArray::SetActive,
        0x380..0x400 => BitArray::ClearActive,
        _ => return None,
    })
}

/// Plans the random write of `random` at `offset` of `target`, given the value read there
/// just before (`None` if that read faulted). `None` means: do not write at all.
pub fn plan_write(
    target: Target,
    offset: u64,
    width: Width,
    original: Option<u64>,
    random: u64,
) -> Option<WritePlan> {
    let value = random & width.mask();
    let write_back = original.map_or(Restore::Nothing, |old| Restore::Write {
        offset,
        value: old,
    });
    let plan = |value, restore| Some(WritePlan { value, restore });
    match target {
        Target::EcamAbsent | Target::Stray => plan(value, Restore::Nothing),
        Target::EcamOwn | Target::Msix => plan(value, write_back),
        Target::Uart => match offset & !3 {
            0x000 => None, // UARTDR: bytes on the console
            // IBRD, FBRD, LCR_H, CR, IFLS, IMSC belong to the live console driver, which
            // changes them from other CPUs under a lock the fuzzer cannot take: a read, random
            // write and restore can undo the driver's own change in between (a lost TX
            // interrupt enable stalls the guest's console for good), so they are only read.
            0x024..=0x038 => None,
            0x004 | 0x044 => plan(value, Restore::Nothing), // UARTECR, UARTICR: clear-only
            _ => plan(value, write_back),
        },
        Target::Its => match offset {
            0x1_0040..0x1_0048 => plan(value, Restore::Nothing), // GITS_TRANSLATER
            _ => plan(value, write_back),
        },
        Target::Gicd => plan_gic_frame(offset, offset, width, original, value, false),
        Target::Gicr => {
            let in_redist = offset % GICR_STRIDE;
            if in_redist < GICR_SGI_BASE {
                plan_gicr_rd(offset, in_redist, original, value)
            } else {
                plan_gic_frame(
                    offset,
                    in_redist - GICR_SGI_BASE,
                    width,
                    original,
                    value,
                    true,
                )
            }
        }
    }
}

/// GICR RD_base: the INV*/SYNC registers are commands, everything else is written back.
fn plan_gicr_rd(
    offset: u64,
    in_frame: u64,
    original: Option<u64>,
    value: u64,
) -> Option<WritePlan> {
    let restore = match (in_frame, original) {
        (0xa0..0xc8, _) | (_, None) => Restore::Nothing, // INVLPIR, INVALLR, SYNCR
        (_, Some(old)) => Restore::Write { offset, value: old },
    };
    Some(WritePlan { value, restore })
}

/// GICD, or a GICR SGI_base frame (`sgi_frame`: word 0 of its pending arrays holds SGIs).
fn plan_gic_frame(
    offset: u64,
    in_frame: u64,
    width: Width,
    original: Option<u64>,
    mut value: u64,
    sgi_frame: bool,
) -> Option<WritePlan> {
    let Some(array) = bit_array(in_frame) else {
        let restore = original.map_or(Restore::Nothing, |old| Restore::Write {
            offset,
            value: old,
        });
        return Some(WritePlan { value, restore });
    };
    let word_access = width == Width::Word && offset.is_multiple_of(4);
    let (Some(old), true) = (original, word_access) else {
        // GICv3 bit arrays are word-accessible only (IHI 0069 12.1.3), so sluice refuses this
        // access; without a trustworthy old value, never risk raising an IPI.
        if sgi_frame {
            value = without_sgi_pending_bytes(in_frame, width, value);
        }
        return Some(WritePlan {
            value,
            restore: Restore::Nothing,
        });
    };
    let (value, partner, bits) = match array {
        BitArray::SetPending if sgi_frame && in_frame == GICR_ISPENDR0 => {
            let v = value & (old | !0xffff);
            (v, offset + SET_TO_CLEAR, v & !old)
        }
        BitArray::SetEnable | BitArray::SetPending | BitArray::SetActive => {
            (value, offset + SET_TO_CLEAR, value & !old)
        }
        BitArray::ClearEnable | BitArray::ClearPending => {
            (value, offset - SET_TO_CLEAR, value & old)
        }
        BitArray::ClearActive => (value & !old, offset, 0),
    };
    let restore = if bits == 0 {
        Restore::Nothing
    } else {
        Restore::Write {
            offset: partner,
            value: bits,
        }
    };
    Some(WritePlan { value, restore })
}

/// GICR_ISPENDR0 in SGI_base: its bytes 0 and 1 are the pending bits of SGIs 0-15.
const GICR_ISPENDR0: u64 = 0x200;

/// `value` with the bytes that would land on GICR_ISPENDR0's SGI bits cleared.
fn without_sgi_pending_bytes(in_frame: u64, width: Width, value: u64) -> u64 {
    (0..width.bytes())
        .filter(|i| (GICR_ISPENDR0..GICR_ISPENDR0 + 2).contains(&(in_frame + i)))
        .fold(value, |v, i| v & !(0xff << (8 * i)))
}

#[cfg(test)]
mod tests;
