//! Exit accounting: why a vCPU left the guest, counted per vCPU and per reason, and the table
//! sluice prints when the guest powers off or when asked from the console.
#![forbid(unsafe_code)]

use crate::psci::{CallFunction, CALL_FUNCTIONS};
use core::fmt::{self, Write};

/// Why the guest exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// Data abort on the virtual GIC distributor.
    MmioGicd,
    /// Data abort on a virtual GIC redistributor.
    MmioGicr,
    /// Data abort on the virtual ITS.
    MmioIts,
    /// Data abort on the virtual PCI ECAM.
    MmioEcam,
    /// Data abort on a trapped MSI-X table or PBA page.
    MmioMsix,
    /// Data abort on the virtual UART.
    MmioUart,
    /// Data abort nothing handles (an abort was injected).
    MmioUnhandled,
    /// HVC: a PSCI or SMCCC call, by function.
    Hvc(CallFunction),
    /// SMC (refused), by the function it asked for.
    Smc(CallFunction),
    /// Trapped ICC_SGI1R_EL1 write.
    SysRegSgi,
    /// Trapped ID register read (HCR_EL2.TID3), answered from `cpuid`.
    SysRegId,
    /// Trapped WFI (or WFIT). sluice does not trap them today: a vCPU owns its physical CPU,
    /// so a WFI idles that CPU directly; the row counts them if that ever changes.
    Wfi,
    /// Trapped WFE (or WFET); as for WFI.
    Wfe,
    /// Any other trapped system register or instruction.
    OtherSync,
    /// Physical timer interrupt.
    IrqTimer,
    /// Physical device interrupt (INTx SPI, LPI, console UART).
    IrqDevice,
    /// Physical SGI (a kick from another CPU).
    IrqSgi,
    /// GIC maintenance interrupt.
    IrqMaintenance,
    /// SError or FIQ.
    Other,
}

/// Reasons listed before the HVC and SMC rows, in table order.
const BEFORE_CALLS: [ExitReason; 7] = [
    ExitReason::MmioGicd,
    ExitReason::MmioGicr,
    ExitReason::MmioIts,
    ExitReason::MmioEcam,
    ExitReason::MmioMsix,
    ExitReason::MmioUart,
    ExitReason::MmioUnhandled,
];

/// Reasons listed after the HVC and SMC rows, in table order.
const AFTER_CALLS: [ExitReason; 10] = [
    ExitReason::SysRegSgi,
    ExitReason::SysRegId,
    ExitReason::Wfi,
    ExitReason::Wfe,
    ExitReason::OtherSync,
    ExitReason::IrqTimer,
    ExitReason::IrqDevice,
    ExitReason::IrqSgi,
    ExitReason::IrqMaintenance,
    ExitReason::Other,
];

/// Number of counters per vCPU: every plain reason, and HVC and SMC once per function.
pub const EXIT_REASONS: usize = BEFORE_CALLS.len() + 2 * CALL_FUNCTIONS + AFTER_CALLS.len();

/// Width of the first column: fits the longest name ("smc arch_workaround_1").
const NAME_COLUMN: usize = 22;

impl ExitReason {
    /// Every reason, in table order (the order of [`Self::index`]).
    pub fn all() -> impl Iterator<Item = ExitReason> {
        BEFORE_CALLS
            .into_iter()
            .chain(CallFunction::ALL.map(Self::Hvc))
            .chain(CallFunction::ALL.map(Self::Smc))
            .chain(AFTER_CALLS)
    }

    /// Index into a counter array: below [`EXIT_REASONS`].
    pub fn index(self) -> usize {
        let calls = BEFORE_CALLS.len();
        let after = calls + 2 * CALL_FUNCTIONS;
        match self {
            Self::Hvc(function) => calls + function.index(),
            Self::Smc(function) => calls + CALL_FUNCTIONS + function.index(),
            plain => BEFORE_CALLS
                .iter()
                .position(|&r| r == plain)
                .or_else(|| {
                    AFTER_CALLS
                        .iter()
                        .position(|&r| r == plain)
                        .map(|n| after + n)
                })
                .unwrap_or(EXIT_REASONS - 1),
        }
    }
}

/// The name in the printed table, e.g. "mmio ecam" or "hvc cpu_on".
impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let name = match self {
            Self::Hvc(function) => return write!(f, "hvc {}", function.name()),
            Self::Smc(function) => return write!(f, "smc {}", function.name()),
            Self::MmioGicd => "mmio gicd",
            Self::MmioGicr => "mmio gicr",
            Self::MmioIts => "mmio its",
            Self::MmioEcam => "mmio ecam",
            Self::MmioMsix => "mmio msix/pba",
            Self::MmioUart => "mmio uart",
            Self::MmioUnhandled => "mmio unhandled",
            Self::SysRegSgi => "sysreg sgi",
            Self::SysRegId => "sysreg id",
            Self::Wfi => "wfi",
            Self::Wfe => "wfe",
            Self::OtherSync => "other sync",
            Self::IrqTimer => "irq timer",
            Self::IrqDevice => "irq device",
            Self::IrqSgi => "irq sgi",
            Self::IrqMaintenance => "irq maintenance",
            Self::Other => "serror/fiq",
        };
        f.pad(name)
    }
}

/// Writes the table: one line per reason with a count on any vCPU, a column per vCPU and a
/// total; then a total line. Each line goes through `line` (the console prefixes it).
pub fn write_table(counts: &[[u64; EXIT_REASONS]], mut line: impl FnMut(fmt::Arguments)) {
    let mut header = heapless_line();
    let _ = write!(header, "{:<NAME_COLUMN$}", "exits");
    for vcpu in 0..counts.len() {
        let _ = write!(header, " {:>12}", alloc::format!("vcpu{vcpu}"));
    }
    let _ = write!(header, " {:>12}", "total");
    line(format_args!("{header}"));
    let mut totals = alloc::vec![0u64; counts.len()];
    for reason in ExitReason::all() {
        let row: alloc::vec::Vec<u64> = counts.iter().map(|c| c[reason.index()]).collect();
        if row.iter().all(|&n| n == 0) {
            continue;
        }
        let mut text = heapless_line();
        let _ = write!(text, "{:<NAME_COLUMN$}", alloc::format!("{reason}"));
        for (vcpu, n) in row.iter().enumerate() {
            let _ = write!(text, " {n:>12}");
            totals[vcpu] += n;
        }
        let _ = write!(text, " {:>12}", row.iter().sum::<u64>());
        line(format_args!("{text}"));
    }
    let mut text = heapless_line();
    let _ = write!(text, "{:<NAME_COLUMN$}", "all");
    for n in &totals {
        let _ = write!(text, " {n:>12}");
    }
    let _ = write!(text, " {:>12}", totals.iter().sum::<u64>());
    line(format_args!("{text}"));
}

fn heapless_line() -> alloc::string::String {
    alloc::string::String::with_capacity(128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_distinct_index_and_name_in_table_order() {
        let mut names = std::collections::HashSet::new();
        for (n, r) in ExitReason::all().enumerate() {
            assert_eq!(r.index(), n, "{r}");
            let name = r.to_string();
            assert!(!name.is_empty() && name.len() <= NAME_COLUMN, "{name}");
            assert!(names.insert(name));
        }
        assert_eq!(names.len(), EXIT_REASONS);
    }

    #[test]
    fn hvc_and_smc_rows_are_named_by_function_with_one_other_bucket() {
        let mut counts = [[0u64; EXIT_REASONS]; 1];
        for id in [
            0x8400_0000u32,
            0xc400_0003,
            0x8400_0003,
            0x8600_0001,
            0x8600_0002,
        ] {
            counts[0][ExitReason::Hvc(CallFunction::from_id(id)).index()] += 1;
        }
        counts[0][ExitReason::Smc(CallFunction::from_id(0x8000_8000)).index()] += 1;
        let mut lines = Vec::new();
        write_table(&counts, |args| lines.push(args.to_string()));
        let row = |name: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(&format!("{name} ")))
                .map(|l| l.split_whitespace().last().unwrap().to_string())
        };
        assert_eq!(row("hvc psci_version").as_deref(), Some("1"));
        assert_eq!(row("hvc cpu_on").as_deref(), Some("2"));
        assert_eq!(row("hvc other").as_deref(), Some("2"));
        assert_eq!(row("smc arch_workaround_1").as_deref(), Some("1"));
        assert_eq!(lines.len(), 6, "header, four rows, all: {lines:?}");
    }

    #[test]
    fn table_lists_counted_reasons_per_vcpu_with_totals() {
        let mut counts = [[0u64; EXIT_REASONS]; 2];
        counts[0][ExitReason::MmioEcam.index()] = 40;
        counts[1][ExitReason::MmioEcam.index()] = 2;
        counts[1][ExitReason::IrqTimer.index()] = 7;
        let mut lines = Vec::new();
        write_table(&counts, |args| lines.push(args.to_string()));
        assert_eq!(lines.len(), 4);
        assert!(
            lines[0].starts_with("exits")
                && lines[0].contains("vcpu1")
                && lines[0].ends_with("total")
        );
        assert!(lines[1].starts_with("mmio ecam") && lines[1].trim_end().ends_with("42"));
        assert!(lines[2].starts_with("irq timer"));
        assert!(lines[3].starts_with("all") && lines[3].trim_end().ends_with("49"));
    }
}
