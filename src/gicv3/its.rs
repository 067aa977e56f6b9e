//! The ITS frames, GITS (IHI 0069 12.19). Offsets are relative to ITS_base: the control frame,
//! then the translation frame holding GITS_TRANSLATER, the MSI doorbell.
#![forbid(unsafe_code)]

use tock_registers::register_bitfields;

/// Size of the ITS register map: control frame + translation frame (12.19).
pub const GITS_FRAME_BYTES: usize = 0x2_0000;
/// GITS_CTLR, ITS Control Register (12.19.6).
pub const GITS_CTLR: usize = 0x0000;
/// GITS_IIDR (12.19.11).
pub const GITS_IIDR: usize = 0x0004;
/// GITS_TYPER, ITS Type Register (12.19.16), 64-bit.
pub const GITS_TYPER: usize = 0x0008;
/// GITS_CBASER, command queue base (12.19.4).
pub const GITS_CBASER: usize = 0x0080;
/// GITS_CWRITER, command queue write offset (12.19.5).
pub const GITS_CWRITER: usize = 0x0088;
/// GITS_CREADR, command queue read offset (12.19.3).
pub const GITS_CREADR: usize = 0x0090;
/// GITS_BASER<n>, the eight table descriptors (12.19.1), 8 bytes apart.
pub const GITS_BASER: usize = 0x0100;
/// The last GITS_BASER<n> (n = 7).
pub const GITS_BASER_LAST: usize = GITS_BASER + 7 * 8;
/// GITS_TRANSLATER in the translation frame (12.19.15): a device writes its EventID here.
pub const GITS_TRANSLATER: usize = 0x1_0040;

register_bitfields! {u32,
    /// GITS_CTLR.
    pub GITS_CTLR [
        /// The ITS is idle: no command or translation in flight.
        Quiescent OFFSET(31) NUMBITS(1) [],
        /// The ITS translates MSIs and processes commands.
        Enabled OFFSET(0) NUMBITS(1) []
    ],
    /// GITS_TRANSLATER: the value a device writes.
    pub GITS_TRANSLATER [
        /// The EventID, translated through the device's ITT.
        EventID OFFSET(0) NUMBITS(32) []
    ]
}

register_bitfields! {u64,
    /// GITS_TYPER.
    pub GITS_TYPER [
        /// VMOVP needs no per-ITS sequencing (GICv4.0).
        VMOVP OFFSET(37) NUMBITS(1) [],
        /// Collection ID limit comes from CIDbits rather than 16 bits.
        CIL OFFSET(36) NUMBITS(1) [],
        /// Collection ID bits minus one (when CIL).
        CIDbits OFFSET(32) NUMBITS(4) [],
        /// Hardware Collection Count: collections held in the ITS itself.
        HCC OFFSET(24) NUMBITS(8) [],
        /// Physical Target Addresses: targets are RD_base addresses, not processor numbers.
        PTA OFFSET(19) NUMBITS(1) [],
        /// System Error interrupts supported.
        SEIS OFFSET(18) NUMBITS(1) [],
        /// DeviceID bits minus one.
        Devbits OFFSET(13) NUMBITS(5) [],
        /// EventID bits minus one.
        ID_bits OFFSET(8) NUMBITS(5) [],
        /// Bytes per ITT entry minus one.
        ITT_entry_size OFFSET(4) NUMBITS(4) [],
        /// Cumulative Collection Tables.
        CCT OFFSET(2) NUMBITS(1) [],
        /// Virtual LPIs and direct injection supported (GICv4).
        Virtual OFFSET(1) NUMBITS(1) [],
        /// Physical LPIs supported.
        Physical OFFSET(0) NUMBITS(1) []
    ],
    /// GITS_CBASER.
    pub GITS_CBASER [
        /// The queue is set up.
        Valid OFFSET(63) NUMBITS(1) [],
        /// Inner cacheability (GICR_PROPBASER encoding).
        InnerCache OFFSET(59) NUMBITS(3) [
            DeviceNGnRnE = 0,
            NormalNonCacheable = 1,
            NormalWaRaWb = 7
        ],
        /// Outer cacheability.
        OuterCache OFFSET(53) NUMBITS(3) [],
        /// Physical address of the queue, bits [51:12].
        Physical_Address OFFSET(12) NUMBITS(40) [],
        /// Shareability.
        Shareability OFFSET(10) NUMBITS(2) [
            NonShareable = 0,
            InnerShareable = 1,
            OuterShareable = 2
        ],
        /// Number of 4 KiB pages minus one.
        Size OFFSET(0) NUMBITS(8) []
    ],
    /// GITS_CWRITER and GITS_CREADR (Retry in CWRITER is Stalled in CREADR).
    pub GITS_CWRITER [
        /// Offset of the next command, in 32-byte commands.
        Offset OFFSET(5) NUMBITS(15) [],
        /// CWRITER.Retry / CREADR.Stalled.
        Retry OFFSET(0) NUMBITS(1) []
    ],
    /// GITS_BASER<n>.
    pub GITS_BASER [
        /// The table is set up.
        Valid OFFSET(63) NUMBITS(1) [],
        /// Two-level table.
        Indirect OFFSET(62) NUMBITS(1) [],
        /// Inner cacheability.
        InnerCache OFFSET(59) NUMBITS(3) [
            DeviceNGnRnE = 0,
            NormalNonCacheable = 1,
            NormalWaRaWb = 7
        ],
        /// What the table holds (read-only).
        Type OFFSET(56) NUMBITS(3) [
            Unimplemented = 0,
            Devices = 1,
            VPEs = 2,
            Collections = 4
        ],
        /// Outer cacheability.
        OuterCache OFFSET(53) NUMBITS(3) [],
        /// Bytes per entry minus one (read-only).
        Entry_Size OFFSET(48) NUMBITS(5) [],
        /// Physical address of the table, bits [47:12] (4 KiB and 16 KiB pages).
        Physical_Address OFFSET(12) NUMBITS(36) [],
        /// Shareability.
        Shareability OFFSET(10) NUMBITS(2) [
            NonShareable = 0,
            InnerShareable = 1,
            OuterShareable = 2
        ],
        /// Page size of the table.
        Page_Size OFFSET(8) NUMBITS(2) [
            Size4K = 0,
            Size16K = 1,
            Size64K = 2
        ],
        /// Number of pages minus one.
        Size OFFSET(0) NUMBITS(8) []
    ]
}

register_bitfields! {u64,
    /// ITS commands (5.3), doubleword 0: the command and the device it applies to.
    pub ITS_CMD_DW0 [
        /// DeviceID.
        DeviceID OFFSET(32) NUMBITS(32) [],
        /// The command's opcode.
        CommandType OFFSET(0) NUMBITS(8) []
    ],
    /// ITS commands, doubleword 1.
    pub ITS_CMD_DW1 [
        /// MAPTI: the LPI the event becomes.
        pINTID OFFSET(32) NUMBITS(32) [],
        /// EventID.
        EventID OFFSET(0) NUMBITS(32) [],
        /// MAPD: EventID bits minus one.
        Size OFFSET(0) NUMBITS(5) []
    ],
    /// ITS commands, doubleword 2.
    pub ITS_CMD_DW2 [
        /// MAPD/MAPC: map (1) or unmap (0).
        Valid OFFSET(63) NUMBITS(1) [],
        /// MAPC/SYNC/MOVALL: target redistributor (processor number, or RD_base >> 16 when
        /// GITS_TYPER.PTA), bits [50:16].
        RDbase OFFSET(16) NUMBITS(35) [],
        /// MAPD: ITT address bits [51:8], kept in place (see [`ITT_ADDRESS_MASK`]).
        ITT_addr OFFSET(8) NUMBITS(44) [],
        /// Collection ID.
        ICID OFFSET(0) NUMBITS(16) []
    ],
    /// ITS commands, doubleword 3.
    pub ITS_CMD_DW3 [
        /// MOVALL: the second target redistributor.
        RDbase2 OFFSET(16) NUMBITS(35) []
    ]
}

register_bitfields! {u64,
    /// GICv4.0 virtual commands (5.3: VMAPP, VMAPTI, VMOVI, VSYNC, VINVALL), doubleword 1.
    pub ITS_VCMD_DW1 [
        /// The vPE the command names.
        vPEID OFFSET(32) NUMBITS(16) [],
        /// VMAPTI/VMOVI: EventID.
        EventID OFFSET(0) NUMBITS(32) []
    ],
    /// GICv4.0 virtual commands, doubleword 2.
    pub ITS_VCMD_DW2 [
        /// VMAPP: map (1) or unmap (0) the vPE.
        Valid OFFSET(63) NUMBITS(1) [],
        /// VMAPTI/VMOVI: the physical LPI raised when the vPE is not resident (1023: none).
        Dbell_pINTID OFFSET(32) NUMBITS(32) [],
        /// VMAPP: target redistributor, as in MAPC.
        RDbase OFFSET(16) NUMBITS(35) [],
        /// VMAPTI: the virtual LPI the event becomes.
        vINTID OFFSET(0) NUMBITS(32) [],
        /// VMOVI: Dbell_pINTID is meant (else the old doorbell stays).
        D OFFSET(0) NUMBITS(1) []
    ],
    /// VMAPP doubleword 3.
    pub ITS_VCMD_DW3 [
        /// Virtual pending table address, bits [51:16].
        VPT_addr OFFSET(16) NUMBITS(36) [],
        /// Virtual LPI ID bits the pending table covers, minus one.
        VPT_size OFFSET(0) NUMBITS(5) []
    ]
}

/// MAPD's ITT address in doubleword 2, in place (256-byte aligned, bits [51:8]).
pub const ITT_ADDRESS_MASK: u64 = 0x000f_ffff_ffff_ff00;

/// Mask of the queue address in GITS_CBASER (bits [51:12]).
pub const CBASER_ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Mask of the command offset in GITS_CWRITER/GITS_CREADR (bits [19:5]).
pub const CWRITER_OFFSET_MASK: u64 = 0xf_ffe0;
/// Mask of the table address in GITS_BASER<n> with 4 KiB pages (bits [47:12]).
pub const BASER_ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;
/// Bytes per page counted by GITS_CBASER.Size (always 4 KiB).
pub const CBASER_PAGE_BYTES: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use tock_registers::interfaces::Readable;
    use tock_registers::registers::InMemoryRegister;

    #[test]
    fn typer_decodes_itt_entry_size_devbits_and_pta() {
        // Physical, 8-byte ITT entries, 16 EventID bits, 16 DeviceID bits, PTA.
        let typer = InMemoryRegister::<u64, GITS_TYPER::Register>::new(
            1 | 7 << 4 | 15 << 8 | 15 << 13 | 1 << 19,
        );
        assert_eq!(typer.read(GITS_TYPER::ITT_entry_size), 7);
        assert_eq!(typer.read(GITS_TYPER::ID_bits), 15);
        assert_eq!(typer.read(GITS_TYPER::Devbits), 15);
        assert!(typer.is_set(GITS_TYPER::PTA));
        assert!(!typer.is_set(GITS_TYPER::Virtual));
    }

    #[test]
    fn baser_of_a_device_table_decodes_type_and_entry_size() {
        let baser = InMemoryRegister::<u64, GITS_BASER::Register>::new(
            1 << 63 | 1 << 56 | 7 << 48 | 0x4900_0000 | 0x1f,
        );
        assert_eq!(
            baser.read_as_enum(GITS_BASER::Type),
            Some(GITS_BASER::Type::Value::Devices)
        );
        assert_eq!(baser.read(GITS_BASER::Entry_Size), 7);
        assert_eq!(baser.read(GITS_BASER::Size), 0x1f);
        assert_eq!(baser.get() & BASER_ADDRESS_MASK, 0x4900_0000);
        assert_eq!(GITS_BASER_LAST, 0x138);
    }

    #[test]
    fn cbaser_and_cwriter_fields_match_the_spec_masks() {
        assert_eq!(GITS_CBASER::Valid::SET.value, 1 << 63);
        assert_eq!(GITS_CBASER::Size.mask, 0xff);
        assert_eq!(
            GITS_CWRITER::Offset.mask << GITS_CWRITER::Offset.shift,
            CWRITER_OFFSET_MASK
        );
        assert_eq!(
            GITS_CBASER::Physical_Address.mask << GITS_CBASER::Physical_Address.shift,
            CBASER_ADDRESS_MASK
        );
    }

    #[test]
    fn mapti_and_mapc_doublewords_decode_device_event_lpi_and_target() {
        let dw0 = InMemoryRegister::<u64, ITS_CMD_DW0::Register>::new(0x0000_0008_0000_000a);
        assert_eq!(dw0.read(ITS_CMD_DW0::CommandType), 0x0a, "MAPTI");
        assert_eq!(dw0.read(ITS_CMD_DW0::DeviceID), 8);
        let dw1 = InMemoryRegister::<u64, ITS_CMD_DW1::Register>::new(0x0000_2000_0000_0003);
        assert_eq!(dw1.read(ITS_CMD_DW1::EventID), 3);
        assert_eq!(dw1.read(ITS_CMD_DW1::pINTID), 8192);
        let dw2 = ITS_CMD_DW2::Valid::SET + ITS_CMD_DW2::RDbase.val(1) + ITS_CMD_DW2::ICID.val(3);
        assert_eq!(dw2.value, 1 << 63 | 1 << 16 | 3);
        assert_eq!(
            ITS_CMD_DW2::ITT_addr.mask << ITS_CMD_DW2::ITT_addr.shift,
            ITT_ADDRESS_MASK
        );
    }

    #[test]
    fn cbaser_for_a_64k_wb_inner_shareable_queue_encodes_like_the_driver_did() {
        let cbaser = GITS_CBASER::Valid::SET
            + GITS_CBASER::InnerCache::NormalWaRaWb
            + GITS_CBASER::Shareability::InnerShareable
            + GITS_CBASER::Physical_Address.val(0x4800_0000 >> 12)
            + GITS_CBASER::Size.val(15);
        assert_eq!(cbaser.value, 1 << 63 | 7 << 59 | 1 << 10 | 0x4800_0000 | 15);
    }

    #[test]
    fn ctlr_quiescent_is_bit_31_and_translater_is_in_the_second_frame() {
        assert_eq!(GITS_CTLR::Quiescent::SET.value, 1 << 31);
        assert_eq!(GITS_TRANSLATER, 0x1_0040);
        assert_eq!(GITS_TRANSLATER::EventID.val(0x1234).value, 0x1234);
    }
}
