//! What sluice needs from a board, decided once at boot from the CPU's ID registers and the
//! host device tree, before any GIC system register or EL2 translation is touched:
//! - entry at EL2 on a CPU that implements it (ID_AA64PFR0_EL1.EL2);
//! - the GICv3 system-register CPU interface (ID_AA64PFR0_EL1.GIC), since sluice drives the
//!   GIC through ICC_* and the guest's through ICH_*;
//! - a physical address size (ID_AA64MMFR0_EL1.PARange) that reaches every RAM bank and device
//!   the device tree names: the EL2 identity map and the guests' stage 2 are sized from it.
//!
//! What is missing is refused with one line naming the feature ([`Missing`]); what is optional
//! ([`MsiSupport`]: no ITS means INTx only) is said once. The stage-2 shape and VMID width are
//! reported ([`CpuShape`]): sluice tags stage 2 with 8-bit VMIDs (VTCR_EL2.VS = 0), which every
//! CPU has, and one VMID per guest is far below 256.
#![forbid(unsafe_code)]

use crate::mm::pagetable::{pa_range_bits, Stage2Layout};
use crate::mm::PhysRange;
use crate::platform::Platform;
use alloc::string::String;
use core::fmt;
use tock_registers::interfaces::Readable;
use tock_registers::register_bitfields;
use tock_registers::registers::InMemoryRegister;

register_bitfields! {u64,
    /// ID_AA64PFR0_EL1, the fields sluice needs (Arm ARM D19.2).
    PFR0 [
        /// GIC system register interface: 0b0000 none, 0b0001 GICv3/v4, 0b0011 v4.1.
        GIC OFFSET(24) NUMBITS(4) [],
        /// EL2: 0b0000 not implemented, 0b0001 AArch64 only, 0b0010 AArch64 and AArch32.
        EL2 OFFSET(8) NUMBITS(4) [],
    ],
    /// ID_AA64MMFR0_EL1 (Arm ARM D19.2).
    MMFR0 [
        /// Physical address range supported.
        PARange OFFSET(0) NUMBITS(4) [],
    ],
    /// ID_AA64MMFR1_EL1 (Arm ARM D19.2).
    MMFR1 [
        /// VMID bits: 0b0000 8 bits, 0b0010 16 bits.
        VMIDBits OFFSET(4) NUMBITS(4) [],
    ]
}

/// The boot CPU as sluice finds it: its exception level and raw ID register values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuFeatures {
    /// CurrentEL.EL at entry.
    pub current_el: u8,
    /// ID_AA64PFR0_EL1.
    pub id_aa64pfr0: u64,
    /// ID_AA64MMFR0_EL1.
    pub id_aa64mmfr0: u64,
    /// ID_AA64MMFR1_EL1.
    pub id_aa64mmfr1: u64,
}

/// A feature sluice cannot run without.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// The CPU has no EL2 at all.
    NoEl2,
    /// The CPU has EL2 but the firmware entered sluice at another level.
    NotEnteredAtEl2 {
        /// The level it was entered at.
        current_el: u8,
    },
    /// No GICv3 system-register CPU interface.
    NoGicSystemRegisters,
    /// Something the device tree names lies above the CPU's physical address range.
    PhysicalAddressTooSmall {
        /// The CPU's physical address bits.
        pa_bits: u8,
        /// What lies above it (DT node or role).
        what: String,
        /// Its end, exclusive.
        end_exclusive: u64,
    },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoEl2 => write!(
                f,
                "this CPU has no EL2 (ID_AA64PFR0_EL1.EL2 = 0): sluice needs the virtualization extensions"
            ),
            Self::NotEnteredAtEl2 { current_el } => write!(
                f,
                "entered at EL{current_el}; sluice must be started at EL2 (enable virtualization, \
                 or have the firmware/boot loader hand over at EL2)"
            ),
            Self::NoGicSystemRegisters => write!(
                f,
                "this CPU has no GICv3 system-register interface (ID_AA64PFR0_EL1.GIC = 0): \
                 sluice needs a GICv3 or later CPU interface"
            ),
            Self::PhysicalAddressTooSmall { pa_bits, what, end_exclusive } => write!(
                f,
                "{what} ends at {end_exclusive:#x}, beyond this CPU's {pa_bits}-bit physical \
                 address range (ID_AA64MMFR0_EL1.PARange)"
            ),
        }
    }
}

/// Result of the board check.
pub type Result<T> = core::result::Result<T, Missing>;

/// The CPU shape sluice runs with, for the boot log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuShape {
    /// Physical address bits of the CPU.
    pub pa_bits: u8,
    /// VMID bits the CPU offers (sluice uses 8).
    pub vmid_bits: u8,
    /// Guests' stage-2 input size in bits.
    pub ipa_bits: u8,
    /// Guests' stage-2 start level.
    pub stage2_start_level: u8,
}

impl fmt::Display for CpuShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cpu: {}-bit PA, {}-bit VMID (8 used), stage 2 {}-bit IPA from level {}",
            self.pa_bits, self.vmid_bits, self.ipa_bits, self.stage2_start_level
        )
    }
}

/// Whether passed-through devices can get MSIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsiSupport {
    /// A GICv3 ITS is there: MSI and MSI-X through the guest's virtual ITS.
    Its,
    /// No ITS in the device tree: devices are offered INTx only.
    NoIts,
}

impl MsiSupport {
    /// From the host device tree.
    pub fn of(platform: &Platform) -> Self {
        if platform.gic.its.is_empty() {
            Self::NoIts
        } else {
            Self::Its
        }
    }

    /// The line to log once at boot when MSIs are unavailable.
    pub fn unavailable_reason(self) -> Option<&'static str> {
        match self {
            Self::Its => None,
            Self::NoIts => Some(
                "MSI/MSI-X unavailable: the device tree has no GICv3 ITS (\"arm,gic-v3-its\"); \
                 passed-through devices get INTx only and guests see no MSI or MSI-X capability",
            ),
        }
    }
}

/// Checks that sluice can run on this CPU and machine; on success, the shape it runs with.
pub fn check(cpu: &CpuFeatures, platform: &Platform) -> Result<CpuShape> {
    let pfr0: InMemoryRegister<u64, PFR0::Register> = InMemoryRegister::new(cpu.id_aa64pfr0);
    if pfr0.read(PFR0::EL2) == 0 {
        return Err(Missing::NoEl2);
    }
    if cpu.current_el != 2 {
        return Err(Missing::NotEnteredAtEl2 {
            current_el: cpu.current_el,
        });
    }
    if pfr0.read(PFR0::GIC) == 0 {
        return Err(Missing::NoGicSystemRegisters);
    }
    let pa_range = pa_range(cpu);
    let pa_bits = pa_range_bits(pa_range);
    if let Some((what, end_exclusive)) = highest_region(platform) {
        if pa_bits < 64 && end_exclusive > 1u64 << pa_bits {
            return Err(Missing::PhysicalAddressTooSmall {
                pa_bits,
                what,
                end_exclusive,
            });
        }
    }
    let mmfr1: InMemoryRegister<u64, MMFR1::Register> = InMemoryRegister::new(cpu.id_aa64mmfr1);
    let vmid_bits = if mmfr1.read(MMFR1::VMIDBits) == 0b0010 {
        16
    } else {
        8
    };
    let layout = Stage2Layout::from_pa_range(pa_range);
    Ok(CpuShape {
        pa_bits,
        vmid_bits,
        ipa_bits: layout.input_bits,
        stage2_start_level: layout.start_level,
    })
}

/// ID_AA64MMFR0_EL1.PARange of `cpu`.
pub fn pa_range(cpu: &CpuFeatures) -> u8 {
    let mmfr0: InMemoryRegister<u64, MMFR0::Register> = InMemoryRegister::new(cpu.id_aa64mmfr0);
    mmfr0.read(MMFR0::PARange) as u8
}

/// The region of the device tree that ends highest: (what it is, its exclusive end). A range
/// whose end overflows counts as ending at `u64::MAX`.
fn highest_region(p: &Platform) -> Option<(String, u64)> {
    let named = |what: &str, r: &PhysRange| (String::from(what), end_of(r));
    let mut all = alloc::vec::Vec::new();
    all.extend(p.memory.iter().map(|r| named("RAM", r)));
    all.push(named("the GIC distributor", &p.gic.dist));
    all.extend(
        p.gic
            .redist_regions
            .iter()
            .map(|r| named("the GIC redistributors", r)),
    );
    all.extend(p.gic.its.iter().map(|r| named("the GIC ITS", r)));
    all.push(named("the console UART", &p.uart.base));
    for h in &p.pci_hosts {
        all.push((alloc::format!("{} ECAM", h.node_path), end_of(&h.ecam)));
        all.extend(
            h.windows
                .iter()
                .map(|w| (alloc::format!("{} window", h.node_path), end_of(&w.cpu))),
        );
    }
    all.extend(
        p.smmus
            .iter()
            .map(|s| (s.node_path.clone(), end_of(&s.regs))),
    );
    all.into_iter().max_by_key(|(_, end)| *end)
}

fn end_of(r: &PhysRange) -> u64 {
    r.end_exclusive().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform;

    /// QEMU virt with `-cpu max` (dts/qemu-virt-gicv3.dts): the 64-bit PCI window ends at 1 TiB.
    const QEMU_VIRT: &[u8] = include_bytes!("../dts/qemu-virt-gicv3.dtb");

    /// A CPU at `el` with EL2 and the GICv3 interface as `el2`/`gic`, PARange `pa_range`, VMID
    /// field `vmid`.
    fn cpu(el: u8, el2: u64, gic: u64, pa_range: u64, vmid: u64) -> CpuFeatures {
        CpuFeatures {
            current_el: el,
            id_aa64pfr0: gic << 24 | el2 << 8 | 0x11,
            id_aa64mmfr0: 0x0f10_0000 | pa_range,
            id_aa64mmfr1: vmid << 4,
        }
    }

    fn qemu() -> Platform {
        platform::parse(QEMU_VIRT).unwrap()
    }

    #[test]
    fn a_cortex_a53_with_40_bit_pa_and_8_bit_vmid_runs_the_qemu_machine() {
        let shape = check(&cpu(2, 1, 1, 2, 0), &qemu()).unwrap();
        assert_eq!(shape.pa_bits, 40);
        assert_eq!(shape.vmid_bits, 8);
        assert_eq!((shape.ipa_bits, shape.stage2_start_level), (40, 1));
    }

    #[test]
    fn a_48_bit_cpu_with_16_bit_vmid_starts_stage_2_at_level_0() {
        let shape = check(&cpu(2, 1, 3, 5, 2), &qemu()).unwrap();
        assert_eq!((shape.pa_bits, shape.vmid_bits), (48, 16));
        assert_eq!((shape.ipa_bits, shape.stage2_start_level), (48, 0));
        assert_eq!(
            alloc::format!("{shape}"),
            "cpu: 48-bit PA, 16-bit VMID (8 used), stage 2 48-bit IPA from level 0"
        );
    }

    #[test]
    fn a_cpu_without_el2_is_refused_before_anything_else() {
        assert_eq!(check(&cpu(1, 0, 0, 0, 0), &qemu()), Err(Missing::NoEl2));
    }

    #[test]
    fn entry_at_el1_on_a_cpu_with_el2_says_to_start_at_el2() {
        let e = check(&cpu(1, 1, 1, 5, 0), &qemu()).unwrap_err();
        assert_eq!(e, Missing::NotEnteredAtEl2 { current_el: 1 });
        assert!(alloc::format!("{e}").contains("must be started at EL2"));
    }

    #[test]
    fn a_cpu_without_the_gicv3_system_registers_is_refused_naming_them() {
        let e = check(&cpu(2, 1, 0, 5, 0), &qemu()).unwrap_err();
        assert_eq!(e, Missing::NoGicSystemRegisters);
        assert!(alloc::format!("{e}").contains("ID_AA64PFR0_EL1.GIC"));
    }

    #[test]
    fn a_36_bit_cpu_is_refused_naming_the_pci_window_above_its_reach() {
        let e = check(&cpu(2, 1, 1, 1, 0), &qemu()).unwrap_err();
        assert!(matches!(
            &e,
            Missing::PhysicalAddressTooSmall { pa_bits: 36, what, end_exclusive: 0x100_0000_0000 }
                if what == "/pcie@10000000 window"
        ));
        assert!(alloc::format!("{e}").contains("36-bit physical address range"));
    }

    #[test]
    fn a_32_bit_cpu_is_refused_when_ram_alone_is_within_reach_but_the_ecam_is_not() {
        let mut p = qemu();
        p.pci_hosts[0].windows.retain(|w| w.cpu.start < 1 << 32);
        let e = check(&cpu(2, 1, 1, 0, 0), &p).unwrap_err();
        assert!(
            matches!(&e, Missing::PhysicalAddressTooSmall { what, .. } if what.ends_with("ECAM"))
        );
    }

    #[test]
    fn a_region_whose_end_overflows_counts_as_out_of_reach() {
        let mut p = qemu();
        p.memory.push(PhysRange::new(u64::MAX - 0xfff, 0x2000));
        let e = check(&cpu(2, 1, 1, 5, 0), &p).unwrap_err();
        assert!(matches!(
            e,
            Missing::PhysicalAddressTooSmall {
                end_exclusive: u64::MAX,
                ..
            }
        ));
    }

    #[test]
    fn msi_is_said_unavailable_only_without_an_its() {
        let mut p = qemu();
        assert_eq!(MsiSupport::of(&p), MsiSupport::Its);
        assert_eq!(MsiSupport::Its.unavailable_reason(), None);
        p.gic.its.clear();
        let reason = MsiSupport::of(&p).unavailable_reason().unwrap();
        assert!(reason.contains("no GICv3 ITS") && reason.contains("INTx only"));
    }
}
