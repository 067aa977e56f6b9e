//! The CPU interface system registers: the physical one sluice uses at EL2 (ICC_*) and the
//! virtual interface controls (ICH_*) through which it injects into the guest. IHI 0069 12.2
//! (ICC), 12.5 (ICH); the Arm ARM D23 gives the same encodings. `aarch64-cpu` names some of
//! these for access; the fields here are what pure code (vgic, trap emulation) decodes and
//! builds, and what `arch` uses where the crate has no or partial fields.
#![forbid(unsafe_code)]

use tock_registers::register_bitfields;

register_bitfields! {u64,
    /// ICH_LR<n>_EL2, List Registers (12.5.11).
    pub ICH_LR_EL2 [
        /// State of the interrupt.
        State OFFSET(62) NUMBITS(2) [
            Invalid = 0b00,
            Pending = 0b01,
            Active = 0b10,
            PendingActive = 0b11
        ],
        /// The virtual interrupt is linked to the physical one in pINTID.
        HW OFFSET(61) NUMBITS(1) [],
        /// Group 1 (else group 0).
        Group OFFSET(60) NUMBITS(1) [],
        /// Non-maskable (FEAT_GICv3_NMI).
        NMI OFFSET(59) NUMBITS(1) [],
        /// Priority of the virtual interrupt.
        Priority OFFSET(48) NUMBITS(8) [],
        /// With HW = 1: the physical INTID deactivated with the virtual one.
        pINTID OFFSET(32) NUMBITS(13) [],
        /// With HW = 0: a maintenance interrupt when the guest deactivates it (bit 41 of pINTID).
        EOI OFFSET(41) NUMBITS(1) [],
        /// The virtual INTID.
        vINTID OFFSET(0) NUMBITS(32) []
    ],
    /// ICH_HCR_EL2, Hypervisor Control Register (12.5.7).
    pub ICH_HCR_EL2 [
        /// Deactivations of interrupts not in an LR, counted.
        EOIcount OFFSET(27) NUMBITS(5) [],
        /// Trap EL1 writes to ICC_DIR_EL1 and ICV_DIR_EL1.
        TDIR OFFSET(14) NUMBITS(1) [],
        /// Trap EL1 accesses to the group 1 registers.
        TALL1 OFFSET(12) NUMBITS(1) [],
        /// Trap EL1 accesses to the group 0 registers.
        TALL0 OFFSET(11) NUMBITS(1) [],
        /// Trap EL1 accesses to common registers.
        TC OFFSET(10) NUMBITS(1) [],
        /// Maintenance interrupt when no LR holds a pending interrupt.
        NPIE OFFSET(3) NUMBITS(1) [],
        /// Maintenance interrupt while EOIcount is non-zero.
        LRENPIE OFFSET(2) NUMBITS(1) [],
        /// Underflow: maintenance interrupt when at most one LR is valid.
        UIE OFFSET(1) NUMBITS(1) [],
        /// The virtual CPU interface is enabled.
        En OFFSET(0) NUMBITS(1) []
    ],
    /// ICH_VTR_EL2, VGIC Type Register (12.5.16).
    pub ICH_VTR_EL2 [
        /// Virtual priority bits minus one.
        PRIbits OFFSET(29) NUMBITS(3) [],
        /// Virtual preemption bits minus one.
        PREbits OFFSET(26) NUMBITS(3) [],
        /// Virtual INTID bits: 0 = 16, 1 = 24.
        IDbits OFFSET(23) NUMBITS(3) [],
        /// SEI supported.
        SEIS OFFSET(22) NUMBITS(1) [],
        /// Affinity 3 valid.
        A3V OFFSET(21) NUMBITS(1) [],
        /// Direct injection of virtual interrupts NOT supported (1 = GICv3 only).
        nV4 OFFSET(20) NUMBITS(1) [],
        /// Separate trapping of EL1 writes to ICV_DIR_EL1.
        TDS OFFSET(19) NUMBITS(1) [],
        /// List registers implemented minus one.
        ListRegs OFFSET(0) NUMBITS(5) []
    ],
    /// ICH_VMCR_EL2, Virtual Machine Control Register (12.5.18): the guest's view of its
    /// ICC_PMR/BPR/CTLR/IGRPEN.
    pub ICH_VMCR_EL2 [
        /// Virtual priority mask (ICV_PMR_EL1).
        VPMR OFFSET(24) NUMBITS(8) [],
        /// Virtual binary point, group 0.
        VBPR0 OFFSET(21) NUMBITS(3) [],
        /// Virtual binary point, group 1.
        VBPR1 OFFSET(18) NUMBITS(3) [],
        /// Virtual EOI mode (ICV_CTLR_EL1.EOImode).
        VEOIM OFFSET(9) NUMBITS(1) [],
        /// Common binary point.
        VCBPR OFFSET(4) NUMBITS(1) [],
        /// Virtual FIQ enable.
        VFIQEn OFFSET(3) NUMBITS(1) [],
        /// Virtual acknowledge control.
        VAckCtl OFFSET(2) NUMBITS(1) [],
        /// Virtual group 1 enable (ICV_IGRPEN1_EL1).
        VENG1 OFFSET(1) NUMBITS(1) [],
        /// Virtual group 0 enable (ICV_IGRPEN0_EL1).
        VENG0 OFFSET(0) NUMBITS(1) []
    ],
    /// ICC_SGI1R_EL1, generate a group 1 SGI (12.2.23).
    pub ICC_SGI1R_EL1 [
        /// Affinity 3 of the targets.
        Aff3 OFFSET(48) NUMBITS(8) [],
        /// Range selector: TargetList bit n is Aff0 = 16 * RS + n.
        RS OFFSET(44) NUMBITS(4) [],
        /// Interrupt Routing Mode: 1 = every PE but this one.
        IRM OFFSET(40) NUMBITS(1) [],
        /// Affinity 2 of the targets.
        Aff2 OFFSET(32) NUMBITS(8) [],
        /// The SGI.
        INTID OFFSET(24) NUMBITS(4) [],
        /// Affinity 1 of the targets.
        Aff1 OFFSET(16) NUMBITS(8) [],
        /// One bit per target Aff0 in the range.
        TargetList OFFSET(0) NUMBITS(16) []
    ],
    /// ICC_CTLR_EL1, Interrupt Controller Control Register (12.2.6).
    pub ICC_CTLR_EL1 [
        /// Extended INTID range supported.
        ExtRange OFFSET(19) NUMBITS(1) [],
        /// Range selector supported.
        RSS OFFSET(18) NUMBITS(1) [],
        /// Affinity 3 valid.
        A3V OFFSET(15) NUMBITS(1) [],
        /// SEI supported.
        SEIS OFFSET(14) NUMBITS(1) [],
        /// INTID bits: 0 = 16, 1 = 24.
        IDbits OFFSET(11) NUMBITS(3) [],
        /// Priority bits minus one.
        PRIbits OFFSET(8) NUMBITS(3) [],
        /// Priority mask hint enable.
        PMHE OFFSET(6) NUMBITS(1) [],
        /// Split EOI: ICC_EOIR drops priority, ICC_DIR deactivates.
        EOImode OFFSET(1) NUMBITS(1) [],
        /// Common binary point.
        CBPR OFFSET(0) NUMBITS(1) []
    ],
    /// ICC_SRE_EL2, System Register Enable (12.2.20).
    pub ICC_SRE_EL2 [
        /// EL1 accesses to ICC_SRE_EL1 do not trap to EL2.
        Enable OFFSET(3) NUMBITS(1) [],
        /// Disable IRQ bypass.
        DIB OFFSET(2) NUMBITS(1) [],
        /// Disable FIQ bypass.
        DFB OFFSET(1) NUMBITS(1) [],
        /// The system register interface is used at EL2.
        SRE OFFSET(0) NUMBITS(1) []
    ],
    /// ICC_IAR1_EL1, Interrupt Acknowledge Register 1 (12.2.13).
    pub ICC_IAR1_EL1 [
        /// The acknowledged INTID (1023: none).
        INTID OFFSET(0) NUMBITS(24) []
    ],
    /// ICC_HPPIR1_EL1, Highest Priority Pending Interrupt Register 1 (12.2.12): the INTID an
    /// acknowledge would return now, without acknowledging it.
    pub ICC_HPPIR1_EL1 [
        /// The highest-priority pending group 1 INTID (1023: none).
        INTID OFFSET(0) NUMBITS(24) []
    ]
}

/// ICH_AP0R<n>_EL2/ICH_AP1R<n>_EL2 registers implemented for a given ICH_VTR_EL2.PREbits
/// (12.5.1-2): 5 preemption bits -> one of each, 6 -> two, 7 -> four.
pub fn active_priority_registers(pre_bits_minus_one: u64) -> usize {
    1 << (pre_bits_minus_one + 1).saturating_sub(5)
}

/// ICC_SGI1R_EL1 value sending SGI `intid` to the one PE whose MPIDR_EL1 is `mpidr` (Aff0 below
/// 16, RS = 0, as sluice's CPUs are numbered).
pub fn sgi1r_for_mpidr(intid: u32, mpidr: u64) -> u64 {
    let field = |shift: u32| (mpidr >> shift) & 0xff;
    (ICC_SGI1R_EL1::Aff3.val(field(32))
        + ICC_SGI1R_EL1::Aff2.val(field(16))
        + ICC_SGI1R_EL1::INTID.val(intid as u64)
        + ICC_SGI1R_EL1::Aff1.val(field(8))
        + ICC_SGI1R_EL1::TargetList.val(1 << (mpidr & 0xf)))
    .value
}

#[cfg(test)]
mod tests {
    use super::*;
    use tock_registers::interfaces::Readable;
    use tock_registers::registers::InMemoryRegister;

    #[test]
    fn list_register_of_a_pending_hw_spi_encodes_every_field() {
        let lr = ICH_LR_EL2::State::Pending
            + ICH_LR_EL2::HW::SET
            + ICH_LR_EL2::Group::SET
            + ICH_LR_EL2::Priority.val(0xa0)
            + ICH_LR_EL2::pINTID.val(48)
            + ICH_LR_EL2::vINTID.val(40);
        assert_eq!(lr.value, 0x70a0_0030_0000_0028);
        let back = InMemoryRegister::<u64, ICH_LR_EL2::Register>::new(lr.value);
        assert_eq!(
            back.read_as_enum(ICH_LR_EL2::State),
            Some(ICH_LR_EL2::State::Value::Pending)
        );
        assert_eq!(ICH_LR_EL2::EOI::SET.value, 1 << 41);
    }

    #[test]
    fn vtr_of_qemu_decodes_four_lrs_and_five_priority_bits() {
        // QEMU's TCG GICv3: PRIbits 4, PREbits 4, IDbits 0, ListRegs 3.
        let vtr = InMemoryRegister::<u64, ICH_VTR_EL2::Register>::new(0x9000_0003);
        assert_eq!(vtr.read(ICH_VTR_EL2::ListRegs) + 1, 4);
        assert_eq!(vtr.read(ICH_VTR_EL2::PRIbits) + 1, 5);
        assert_eq!(active_priority_registers(vtr.read(ICH_VTR_EL2::PREbits)), 1);
        assert_eq!(active_priority_registers(5), 2);
        assert_eq!(active_priority_registers(6), 4);
    }

    #[test]
    fn sgi1r_to_cpu_0x0100_0203_sets_every_affinity() {
        let v = sgi1r_for_mpidr(5, 0x01_0002_0003);
        assert_eq!(v, 1 << 48 | 2 << 32 | 5 << 24 | 1 << 3);
        let r = InMemoryRegister::<u64, ICC_SGI1R_EL1::Register>::new(v);
        assert_eq!(r.read(ICC_SGI1R_EL1::INTID), 5);
        assert_eq!(r.read(ICC_SGI1R_EL1::Aff2), 2);
    }

    #[test]
    fn cpu_interface_controls_sluice_writes_have_the_spec_values() {
        let sre = ICC_SRE_EL2::SRE::SET
            + ICC_SRE_EL2::DFB::SET
            + ICC_SRE_EL2::DIB::SET
            + ICC_SRE_EL2::Enable::SET;
        assert_eq!(sre.value, 0xf);
        assert_eq!(ICC_CTLR_EL1::EOImode::SET.value, 2);
        assert_eq!(ICH_HCR_EL2::En::SET.value, 1);
        assert_eq!(ICH_HCR_EL2::UIE::SET.value, 2);
        assert_eq!(
            (ICH_VMCR_EL2::VPMR.val(0xf0) + ICH_VMCR_EL2::VENG1::SET).value,
            0xf000_0002
        );
    }
}
