//! Exit accounting: why a vCPU left the guest, counted per vCPU and per reason, and the table
//! sluice prints when the guest powers off or when asked from the console.
#![forbid(unsafe_code)]

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
    /// HVC: PSCI or SMCCC call.
    Hvc,
    /// SMC (refused).
    Smc,
    /// Trapped ICC_SGI1R_EL1 write.
    SysRegSgi,
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

/// Number of reasons.
pub const EXIT_REASONS: usize = 16;

impl ExitReason {
    /// Every reason, in table order.
    pub const ALL: [ExitReason; EXIT_REASONS] = [
        Self::MmioGicd,
        Self::MmioGicr,
        Self::MmioIts,
        Self::MmioEcam,
        Self::MmioMsix,
        Self::MmioUart,
        Self::MmioUnhandled,
        Self::Hvc,
        Self::Smc,
        Self::SysRegSgi,
        Self::OtherSync,
        Self::IrqTimer,
        Self::IrqDevice,
        Self::IrqSgi,
        Self::IrqMaintenance,
        Self::Other,
    ];

    /// Index into a counter array.
    pub fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|&r| r == self)
            .unwrap_or(EXIT_REASONS - 1)
    }

    /// Name in the printed table.
    pub fn name(self) -> &'static str {
        match self {
            Self::MmioGicd => "mmio gicd",
            Self::MmioGicr => "mmio gicr",
            Self::MmioIts => "mmio its",
            Self::MmioEcam => "mmio ecam",
            Self::MmioMsix => "mmio msix/pba",
            Self::MmioUart => "mmio uart",
            Self::MmioUnhandled => "mmio unhandled",
            Self::Hvc => "hvc psci/smccc",
            Self::Smc => "smc",
            Self::SysRegSgi => "sysreg sgi",
            Self::OtherSync => "other sync",
            Self::IrqTimer => "irq timer",
            Self::IrqDevice => "irq device",
            Self::IrqSgi => "irq sgi",
            Self::IrqMaintenance => "irq maintenance",
            Self::Other => "serror/fiq",
        }
    }
}

/// Writes the table: one line per reason with a count on any vCPU, a column per vCPU and a
/// total; then a total line. Each line goes through `line` (the console prefixes it).
pub fn write_table(counts: &[[u64; EXIT_REASONS]], mut line: impl FnMut(fmt::Arguments)) {
    let mut header = heapless_line();
    let _ = write!(header, "{:<16}", "exits");
    for vcpu in 0..counts.len() {
        let _ = write!(header, " {:>12}", alloc::format!("vcpu{vcpu}"));
    }
    let _ = write!(header, " {:>12}", "total");
    line(format_args!("{header}"));
    let mut totals = alloc::vec![0u64; counts.len()];
    for reason in ExitReason::ALL {
        let row: alloc::vec::Vec<u64> = counts.iter().map(|c| c[reason.index()]).collect();
        if row.iter().all(|&n| n == 0) {
            continue;
        }
        let mut text = heapless_line();
        let _ = write!(text, "{:<16}", reason.name());
        for (vcpu, n) in row.iter().enumerate() {
            let _ = write!(text, " {n:>12}");
            totals[vcpu] += n;
        }
        let _ = write!(text, " {:>12}", row.iter().sum::<u64>());
        line(format_args!("{text}"));
    }
    let mut text = heapless_line();
    let _ = write!(text, "{:<16}", "all");
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
    fn every_reason_has_a_distinct_index_and_name() {
        let mut seen = std::collections::HashSet::new();
        for r in ExitReason::ALL {
            assert!(seen.insert(r.index()));
            assert!(!r.name().is_empty());
        }
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
