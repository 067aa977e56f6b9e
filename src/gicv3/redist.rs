//! The redistributor frames, GICR (IHI 0069 12.10, 12.11). Offsets are relative to RD_base; a
//! GICv3 redistributor is two 64 KiB frames (RD_base, SGI_base), a GICv4 one four (plus
//! VLPI_base and a reserved frame).
#![forbid(unsafe_code)]

use tock_registers::register_bitfields;

/// Size of one 64 KiB redistributor frame.
pub const GICR_FRAME_BYTES: usize = 0x1_0000;
/// Bytes per GICv3 redistributor: RD_base + SGI_base (12.10).
pub const GICR_STRIDE_V3: usize = 2 * GICR_FRAME_BYTES;
/// Bytes per GICv4 redistributor (GICR_TYPER.VLPIS = 1): RD_base, SGI_base, VLPI_base, reserved.
pub const GICR_STRIDE_V4: usize = 4 * GICR_FRAME_BYTES;
/// SGI_base, the second frame: SGI/PPI enable, pending, active, priority (12.10).
pub const GICR_SGI_BASE: usize = GICR_FRAME_BYTES;
/// VLPI_base, the third frame on GICv4 (12.10).
pub const GICR_VLPI_BASE: usize = 2 * GICR_FRAME_BYTES;

/// GICR_CTLR, Redistributor Control Register (12.11.2).
pub const GICR_CTLR: usize = 0x0000;
/// GICR_IIDR (12.11.16).
pub const GICR_IIDR: usize = 0x0004;
/// GICR_TYPER, Redistributor Type Register (12.11.37), 64-bit.
pub const GICR_TYPER: usize = 0x0008;
/// GICR_WAKER, Redistributor Wake Register (12.11.40).
pub const GICR_WAKER: usize = 0x0014;
/// GICR_PROPBASER, LPI configuration table (12.11.30).
pub const GICR_PROPBASER: usize = 0x0070;
/// GICR_PENDBASER, LPI pending table (12.11.29).
pub const GICR_PENDBASER: usize = 0x0078;
/// GICR_INVLPIR, invalidate one LPI (12.11.18).
pub const GICR_INVLPIR: usize = 0x00a0;
/// GICR_INVALLR, invalidate all LPIs (12.11.17).
pub const GICR_INVALLR: usize = 0x00b0;
/// GICR_SYNCR, synchronize LPI operations (12.11.36).
pub const GICR_SYNCR: usize = 0x00c0;

/// GICR_IGROUPR0 in SGI_base (12.11.15).
pub const GICR_IGROUPR0: usize = GICR_SGI_BASE + 0x0080;
/// GICR_ISENABLER0 in SGI_base (12.11.25).
pub const GICR_ISENABLER0: usize = GICR_SGI_BASE + 0x0100;
/// GICR_ICENABLER0 in SGI_base (12.11.7).
pub const GICR_ICENABLER0: usize = GICR_SGI_BASE + 0x0180;
/// GICR_ICACTIVER0 in SGI_base (12.11.5).
pub const GICR_ICACTIVER0: usize = GICR_SGI_BASE + 0x0380;
/// GICR_IPRIORITYR<n> in SGI_base (12.11.19): one byte per SGI/PPI.
pub const GICR_IPRIORITYR: usize = GICR_SGI_BASE + 0x0400;

/// GICR_VPROPBASER in VLPI_base, GICv4.0 (12.11.38): the vPE's LPI configuration table.
pub const GICR_VPROPBASER: usize = GICR_VLPI_BASE + 0x0070;
/// GICR_VPENDBASER in VLPI_base, GICv4.0 (12.11.39): the resident vPE's pending table.
pub const GICR_VPENDBASER: usize = GICR_VLPI_BASE + 0x0078;

register_bitfields! {u32,
    /// GICR_CTLR.
    pub GICR_CTLR [
        /// Upstream Write Pending.
        UWP OFFSET(31) NUMBITS(1) [],
        /// Register Write Pending (EnableLPIs going 1 -> 0).
        RWP OFFSET(3) NUMBITS(1) [],
        /// LPI invalidate registers supported.
        IR OFFSET(2) NUMBITS(1) [],
        /// Clear Enable Supported (EnableLPIs can be cleared).
        CES OFFSET(1) NUMBITS(1) [],
        /// LPIs enabled on this redistributor.
        EnableLPIs OFFSET(0) NUMBITS(1) []
    ],
    /// GICR_WAKER.
    pub GICR_WAKER [
        /// The interface to the PE is quiescent.
        ChildrenAsleep OFFSET(2) NUMBITS(1) [],
        /// The PE is asleep: the redistributor does not forward interrupts to it.
        ProcessorSleep OFFSET(1) NUMBITS(1) []
    ]
}

register_bitfields! {u64,
    /// GICR_TYPER.
    pub GICR_TYPER [
        /// Affinity of the PE this redistributor serves: Aff3:Aff2:Aff1:Aff0.
        Affinity_Value OFFSET(32) NUMBITS(32) [],
        /// Maximum PPI INTID.
        PPInum OFFSET(27) NUMBITS(5) [],
        /// Direct vSGI injection supported (GICv4.1).
        VSGI OFFSET(26) NUMBITS(1) [],
        /// Which redistributors share an LPI configuration table.
        CommonLPIAff OFFSET(24) NUMBITS(2) [],
        /// The number an ITS uses for this redistributor when GITS_TYPER.PTA = 0.
        Processor_Number OFFSET(8) NUMBITS(16) [],
        /// vPE IDs span the whole range (GICv4.1).
        RVPEID OFFSET(7) NUMBITS(1) [],
        /// MPAM supported.
        MPAM OFFSET(6) NUMBITS(1) [],
        /// GICR_CTLR.DPG* supported.
        DPGS OFFSET(5) NUMBITS(1) [],
        /// The last redistributor of its region.
        Last OFFSET(4) NUMBITS(1) [],
        /// Direct LPI registers supported.
        DirectLPI OFFSET(3) NUMBITS(1) [],
        /// GICR_VPENDBASER.Dirty supported (GICv4).
        Dirty OFFSET(2) NUMBITS(1) [],
        /// Virtual LPIs and direct injection supported (GICv4): four frames.
        VLPIS OFFSET(1) NUMBITS(1) [],
        /// Physical LPIs supported.
        PLPIS OFFSET(0) NUMBITS(1) []
    ],
    /// GICR_PROPBASER (and GICR_VPROPBASER on GICv4.0, same layout).
    pub GICR_PROPBASER [
        /// Outer cacheability (0: same as inner).
        OuterCache OFFSET(56) NUMBITS(3) [],
        /// Physical address of the table, bits [51:12].
        Physical_Address OFFSET(12) NUMBITS(40) [],
        /// Shareability.
        Shareability OFFSET(10) NUMBITS(2) [
            NonShareable = 0,
            InnerShareable = 1,
            OuterShareable = 2
        ],
        /// Inner cacheability.
        InnerCache OFFSET(7) NUMBITS(3) [
            DeviceNGnRnE = 0,
            NormalNonCacheable = 1,
            NormalWaRaWt = 4,
            NormalWaRaWb = 7
        ],
        /// Interrupt ID bits the table covers, minus one.
        IDbits OFFSET(0) NUMBITS(5) []
    ],
    /// GICR_PENDBASER.
    pub GICR_PENDBASER [
        /// Pending Table Zero: the table is known to be zero.
        PTZ OFFSET(62) NUMBITS(1) [],
        /// Outer cacheability.
        OuterCache OFFSET(56) NUMBITS(3) [],
        /// Physical address of the table, bits [51:16].
        Physical_Address OFFSET(16) NUMBITS(36) [],
        /// Shareability.
        Shareability OFFSET(10) NUMBITS(2) [
            NonShareable = 0,
            InnerShareable = 1,
            OuterShareable = 2
        ],
        /// Inner cacheability.
        InnerCache OFFSET(7) NUMBITS(3) [
            DeviceNGnRnE = 0,
            NormalNonCacheable = 1,
            NormalWaRaWt = 4,
            NormalWaRaWb = 7
        ]
    ],
    /// GICR_VPENDBASER, GICv4.0 layout.
    pub GICR_VPENDBASER [
        /// A vPE is resident: the table below is in use.
        Valid OFFSET(63) NUMBITS(1) [],
        /// Initial Data All Invalid: the table is known to be zero.
        IDAI OFFSET(62) NUMBITS(1) [],
        /// At least one pending virtual LPI was left when the vPE was made non-resident.
        PendingLast OFFSET(61) NUMBITS(1) [],
        /// The redistributor is still parsing the table after a Valid change.
        Dirty OFFSET(60) NUMBITS(1) [],
        /// Outer cacheability.
        OuterCache OFFSET(56) NUMBITS(3) [],
        /// Physical address of the table, bits [51:16].
        Physical_Address OFFSET(16) NUMBITS(36) [],
        /// Shareability.
        Shareability OFFSET(10) NUMBITS(2) [],
        /// Inner cacheability.
        InnerCache OFFSET(7) NUMBITS(3) []
    ]
}

register_bitfields! {u8,
    /// One byte of the LPI configuration table GICR_PROPBASER points at (5.1.1), per LPI.
    pub LPI_CONFIG [
        /// Priority bits [7:2] of the LPI's priority ([1:0] read as 0).
        Priority OFFSET(2) NUMBITS(6) [],
        /// The LPI is enabled.
        Enable OFFSET(0) NUMBITS(1) []
    ]
}

/// Mask of the table address in GICR_PROPBASER/GICR_VPROPBASER (bits [51:12]).
pub const PROPBASER_ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Mask of the table address in GICR_PENDBASER/GICR_VPENDBASER (bits [51:16]).
pub const PENDBASER_ADDRESS_MASK: u64 = 0x000f_ffff_ffff_0000;

/// Bytes to step from one redistributor to the next in a region, from its GICR_TYPER.
pub fn stride_bytes(typer: u64) -> usize {
    if GICR_TYPER::VLPIS.is_set(typer) {
        GICR_STRIDE_V4
    } else {
        GICR_STRIDE_V3
    }
}

/// What a redistributor's LPIs need before sluice installs its own tables, from GICR_CTLR as
/// firmware left it (IHI 0069 12.11.2: GICR_PROPBASER and GICR_PENDBASER are UNPREDICTABLE to
/// write while EnableLPIs is 1, and EnableLPIs can only go back to 0 when CES says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpiTakeover {
    /// LPIs are off: program the tables and enable.
    Fresh,
    /// Firmware (or an earlier kernel) left LPIs on and the GIC can clear them: clear
    /// EnableLPIs, wait for RWP to drop, then as `Fresh`.
    DisableFirst,
    /// LPIs are on for good (CES = 0): sluice cannot install its tables on this CPU.
    Stuck,
}

/// The takeover a redistributor needs given its GICR_CTLR value.
pub fn lpi_takeover(ctlr: u32) -> LpiTakeover {
    if !GICR_CTLR::EnableLPIs.is_set(ctlr) {
        LpiTakeover::Fresh
    } else if GICR_CTLR::CES.is_set(ctlr) {
        LpiTakeover::DisableFirst
    } else {
        LpiTakeover::Stuck
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lpis_left_on_by_firmware_are_cleared_first_only_when_the_gic_allows_it() {
        assert_eq!(lpi_takeover(0), LpiTakeover::Fresh);
        assert_eq!(lpi_takeover(0b0110), LpiTakeover::Fresh);
        assert_eq!(lpi_takeover(0b0011), LpiTakeover::DisableFirst);
        assert_eq!(lpi_takeover(0b0001), LpiTakeover::Stuck);
    }
    use tock_registers::interfaces::Readable;
    use tock_registers::registers::InMemoryRegister;

    #[test]
    fn typer_of_the_last_cpu1_frame_decodes_affinity_and_number() {
        let typer = InMemoryRegister::<u64, GICR_TYPER::Register>::new(0x0000_0001_0000_0111);
        assert_eq!(typer.read(GICR_TYPER::Affinity_Value), 1);
        assert_eq!(typer.read(GICR_TYPER::Processor_Number), 1);
        assert!(typer.is_set(GICR_TYPER::Last));
        assert!(typer.is_set(GICR_TYPER::PLPIS));
        assert_eq!(stride_bytes(typer.get()), 0x2_0000);
        assert_eq!(stride_bytes(typer.get() | 2), 0x4_0000, "GICv4 VLPIS");
    }

    #[test]
    fn propbaser_for_wb_inner_shareable_16_id_bits_encodes_like_linux() {
        let v = GICR_PROPBASER::Physical_Address.val(0x4123_4000 >> 12)
            + GICR_PROPBASER::Shareability::InnerShareable
            + GICR_PROPBASER::InnerCache::NormalWaRaWb
            + GICR_PROPBASER::IDbits.val(15);
        assert_eq!(v.value, 0x4123_4000 | 1 << 10 | 7 << 7 | 15);
        assert_eq!(v.value & PROPBASER_ADDRESS_MASK, 0x4123_4000);
    }

    #[test]
    fn pendbaser_ptz_is_bit_62_and_address_starts_at_bit_16() {
        assert_eq!(GICR_PENDBASER::PTZ::SET.value, 1 << 62);
        let v = GICR_PENDBASER::Physical_Address.val(0x4125_0000 >> 16);
        assert_eq!(v.value, 0x4125_0000);
        assert_eq!(
            PENDBASER_ADDRESS_MASK >> 16,
            GICR_PENDBASER::Physical_Address.mask
        );
    }

    #[test]
    fn vpendbaser_valid_and_frames_sit_where_gicv4_puts_them() {
        assert_eq!(GICR_VPENDBASER::Valid::SET.value, 1 << 63);
        assert_eq!(GICR_VPROPBASER, 0x2_0070);
        assert_eq!(GICR_VPENDBASER, 0x2_0078);
        assert_eq!(GICR_ICACTIVER0, 0x1_0380);
    }

    #[test]
    fn lpi_config_byte_keeps_priority_in_place_and_enable_in_bit_0() {
        let byte = 0xa1u8;
        assert!(LPI_CONFIG::Enable.is_set(byte));
        assert_eq!(byte & (LPI_CONFIG::Priority::SET.value), 0xa0);
    }

    #[test]
    fn waker_and_ctlr_bits_match_the_spec() {
        assert_eq!(GICR_WAKER::ProcessorSleep::SET.value, 2);
        assert_eq!(GICR_WAKER::ChildrenAsleep::SET.value, 4);
        assert_eq!(GICR_CTLR::EnableLPIs::SET.value, 1);
    }
}
