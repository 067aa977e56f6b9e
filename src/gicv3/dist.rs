//! The distributor frame, GICD (IHI 0069 12.9). Offsets are relative to GICD_base.
#![forbid(unsafe_code)]

use tock_registers::register_bitfields;

/// Size of the GICD frame: one 64 KiB page (12.9).
pub const GICD_FRAME_BYTES: usize = 0x1_0000;
/// GICD_CTLR, Distributor Control Register (12.9.4).
pub const GICD_CTLR: usize = 0x0000;
/// GICD_TYPER, Interrupt Controller Type Register (12.9.38).
pub const GICD_TYPER: usize = 0x0004;
/// GICD_IIDR, Implementer Identification Register (12.9.24).
pub const GICD_IIDR: usize = 0x0008;
/// GICD_IGROUPR<n>, Interrupt Group Registers (12.9.15): one bit per INTID.
pub const GICD_IGROUPR: usize = 0x0080;
/// GICD_ISENABLER<n>, Interrupt Set-Enable Registers (12.9.27).
pub const GICD_ISENABLER: usize = 0x0100;
/// GICD_ICENABLER<n>, Interrupt Clear-Enable Registers (12.9.7).
pub const GICD_ICENABLER: usize = 0x0180;
/// GICD_ISPENDR<n>, Interrupt Set-Pending Registers (12.9.29).
pub const GICD_ISPENDR: usize = 0x0200;
/// GICD_ICPENDR<n>, Interrupt Clear-Pending Registers (12.9.9).
pub const GICD_ICPENDR: usize = 0x0280;
/// GICD_ISACTIVER<n>, Interrupt Set-Active Registers (12.9.25).
pub const GICD_ISACTIVER: usize = 0x0300;
/// GICD_ICACTIVER<n>, Interrupt Clear-Active Registers (12.9.5).
pub const GICD_ICACTIVER: usize = 0x0380;
/// GICD_IPRIORITYR<n>, Interrupt Priority Registers (12.9.18): one byte per INTID.
pub const GICD_IPRIORITYR: usize = 0x0400;
/// GICD_ITARGETSR<n>, Interrupt Processor Targets Registers (12.9.30): legacy, RAZ/WI
/// with affinity routing; they end the GICD_IPRIORITYR array.
pub const GICD_ITARGETSR: usize = 0x0800;
/// GICD_ICFGR<n>, Interrupt Configuration Registers (12.9.10): two bits per INTID.
pub const GICD_ICFGR: usize = 0x0c00;
/// GICD_IGRPMODR<n>, Interrupt Group Modifier Registers (12.9.16).
pub const GICD_IGRPMODR: usize = 0x0d00;
/// GICD_NSACR<n>, Non-secure Access Control Registers (12.9.26); the end of the IGRPMODR space.
pub const GICD_NSACR: usize = 0x0e00;
/// GICD_SGIR, legacy SGI generation (12.9.31); ends the NSACR array.
pub const GICD_SGIR: usize = 0x0f00;
/// GICD_IROUTER<n>, Interrupt Routing Registers (12.9.22): one doubleword per SPI, indexed by
/// INTID (entries 0..31 are reserved).
pub const GICD_IROUTER: usize = 0x6000;
/// End (exclusive) of the GICD_IROUTER array (INTIDs up to 1023).
pub const GICD_IROUTER_END: usize = 0x8000;

/// GICD_ICFGR: the bit that makes INTID `intid` edge-triggered (Int_config[1]), as
/// (register offset, bit).
pub fn icfgr_edge_bit(intid: usize) -> (usize, u32) {
    (GICD_ICFGR + 4 * (intid / 16), 2 * (intid % 16) as u32 + 1)
}

/// One-bit-per-INTID arrays (ISENABLER, ICACTIVER...): (register offset, bit) of `intid`.
pub fn bit_array(base: usize, intid: usize) -> (usize, u32) {
    (base + 4 * (intid / 32), (intid % 32) as u32)
}

register_bitfields! {u32,
    /// GICD_CTLR with a single Security state (DS = 1), the view both sluice and its guests have.
    pub GICD_CTLR [
        /// Register Write Pending: a write to CTLR or ICENABLER is still taking effect.
        RWP OFFSET(31) NUMBITS(1) [],
        /// Enable 1 of N wakeup functionality.
        E1NWF OFFSET(7) NUMBITS(1) [],
        /// Disable Security: one Security state.
        DS OFFSET(6) NUMBITS(1) [],
        /// Affinity Routing Enable.
        ARE OFFSET(4) NUMBITS(1) [],
        /// Enable Group 1 interrupts.
        EnableGrp1 OFFSET(1) NUMBITS(1) [],
        /// Enable Group 0 interrupts.
        EnableGrp0 OFFSET(0) NUMBITS(1) []
    ],
    /// GICD_TYPER.
    pub GICD_TYPER [
        /// Range of extended SPIs.
        ESPI_range OFFSET(27) NUMBITS(5) [],
        /// Range Selector Support for SGIs (Aff0 0..255).
        RSS OFFSET(26) NUMBITS(1) [],
        /// No support for 1 of N SPI routing.
        No1N OFFSET(25) NUMBITS(1) [],
        /// Affinity level 3 supported.
        A3V OFFSET(24) NUMBITS(1) [],
        /// Interrupt identifier bits supported, minus one.
        IDbits OFFSET(19) NUMBITS(5) [],
        /// Direct virtual LPI injection supported (GICv4).
        DVIS OFFSET(18) NUMBITS(1) [],
        /// LPIs supported.
        LPIS OFFSET(17) NUMBITS(1) [],
        /// Message-based SPIs supported.
        MBIS OFFSET(16) NUMBITS(1) [],
        /// Number of LPIs supported when no ITS (0: use IDbits).
        num_LPIs OFFSET(11) NUMBITS(5) [],
        /// Two Security states supported.
        SecurityExtn OFFSET(10) NUMBITS(1) [],
        /// Non-maskable interrupts supported.
        NMI OFFSET(9) NUMBITS(1) [],
        /// Extended SPI range supported.
        ESPI OFFSET(8) NUMBITS(1) [],
        /// Number of PEs minus one when affinity routing is off (legacy).
        CPUNumber OFFSET(5) NUMBITS(3) [],
        /// 32 * (ITLinesNumber + 1) is the highest SPI INTID + 1.
        ITLinesNumber OFFSET(0) NUMBITS(5) []
    ]
}

register_bitfields! {u64,
    /// GICD_IROUTER<n>.
    pub GICD_IROUTER [
        /// Affinity level 3.
        Aff3 OFFSET(32) NUMBITS(8) [],
        /// Interrupt Routing Mode: 1 = any participating PE (1 of N).
        IRM OFFSET(31) NUMBITS(1) [],
        /// Affinity level 2.
        Aff2 OFFSET(16) NUMBITS(8) [],
        /// Affinity level 1.
        Aff1 OFFSET(8) NUMBITS(8) [],
        /// Affinity level 0.
        Aff0 OFFSET(0) NUMBITS(8) []
    ]
}

/// The bits of GICD_IROUTER that name a PE (Aff3..Aff0, IRM and reserved bits cleared); they
/// line up with MPIDR_EL1's affinity fields.
pub const IROUTER_AFFINITY_MASK: u64 = 0xff_00ff_ffff;

/// GICD_IROUTER value routing to the PE whose MPIDR_EL1 is `mpidr` (IRM = 0).
pub fn irouter_for_mpidr(mpidr: u64) -> u64 {
    mpidr & IROUTER_AFFINITY_MASK
}

#[cfg(test)]
mod tests {
    use super::*;
    use tock_registers::interfaces::Readable;
    use tock_registers::registers::InMemoryRegister;

    #[test]
    fn ctlr_with_are_and_both_groups_is_0x13() {
        let v = GICD_CTLR::ARE::SET + GICD_CTLR::EnableGrp1::SET + GICD_CTLR::EnableGrp0::SET;
        assert_eq!(v.value, 0x13);
        assert_eq!(GICD_CTLR::RWP::SET.value, 0x8000_0000);
    }

    #[test]
    fn typer_with_288_intids_and_lpis_decodes_lines_and_id_bits() {
        // 288 INTIDs, LPIs, 16 ID bits.
        let typer = InMemoryRegister::<u32, GICD_TYPER::Register>::new(0x7b_0008);
        assert_eq!(typer.read(GICD_TYPER::ITLinesNumber), 8);
        assert_eq!(typer.read(GICD_TYPER::IDbits), 15);
        assert!(typer.is_set(GICD_TYPER::LPIS));
        assert!(!typer.is_set(GICD_TYPER::DVIS));
    }

    #[test]
    fn irouter_keeps_aff3_and_drops_mpidr_flags() {
        assert_eq!(irouter_for_mpidr(0x01_8000_0203), 0x01_0000_0203);
        let r = GICD_IROUTER::Aff3.val(1) + GICD_IROUTER::Aff1.val(2) + GICD_IROUTER::Aff0.val(3);
        assert_eq!(r.value, 0x01_0000_0203);
        assert_eq!(GICD_IROUTER::IRM::SET.value, 1 << 31);
    }

    #[test]
    fn icfgr_and_bit_arrays_locate_an_spi() {
        assert_eq!(icfgr_edge_bit(33), (0xc08, 3));
        assert_eq!(bit_array(GICD_ISENABLER, 33), (0x104, 1));
        assert_eq!(GICD_IROUTER + 8 * 1023 + 8, GICD_IROUTER_END);
    }
}
