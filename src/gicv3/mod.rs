//! The GICv3/GICv4 registers described once, as offsets and typed fields, for both sides of
//! sluice: the driver of the physical GIC (`arch::aarch64::gic`, `hyp::its`) and the guest's
//! emulated one (`vgic`, `its`). Source: Arm GIC architecture specification, IHI 0069 (H.b):
//! chapter 12 for the memory-mapped frames, 12.2-12.8 and the Arm ARM for the system registers.
//!
//! Pure description: no accesses, no `unsafe`. Offsets are `usize` constants relative to their
//! frame; fields are `tock_registers` bitfields, read on the host with
//! [`tock_registers::registers::InMemoryRegister`] or `Field::read`, built with `FieldValue`s.
//!
//! - [`dist`]: GICD (12.9).
//! - [`redist`]: GICR RD_base, SGI_base and VLPI_base (12.10, 12.11).
//! - [`its`]: GITS (12.19).
//! - [`cpuif`]: ICC_* and ICH_* system registers (12.2-12.5).
#![forbid(unsafe_code)]

pub mod cpuif;
pub mod dist;
pub mod its;
pub mod redist;

/// IHI 0069 12.1.4: the architected ID register GICD/GICR/GITS_PIDR2 (ArchRev in [7:4]) sits at
/// the same offset in every frame.
pub const PIDR2: usize = 0xffe8;

/// Splits an MPIDR_EL1 value (Aff3 in [39:32], Aff2..Aff0 in [23:0]) into the 32-bit affinity
/// value GICR_TYPER and the GICD_IROUTER/ITS encodings use: Aff3:Aff2:Aff1:Aff0.
pub fn mpidr_to_affinity32(mpidr: u64) -> u64 {
    ((mpidr >> 32) & 0xff) << 24 | (mpidr & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity32_packs_aff3_above_aff2() {
        assert_eq!(mpidr_to_affinity32(0x12_0034_5678), 0x1234_5678);
        assert_eq!(
            mpidr_to_affinity32(0x8000_0001),
            1,
            "MPIDR.U/MT bits dropped"
        );
    }
}
