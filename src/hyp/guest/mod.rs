//! A guest: everything sluice keeps and does for one `Vm`. Above the drivers (it uses `Host`'s
//! ITS, SMMU and ECAM through plain calls) and below the boot flow.
//!
//! Inside, each file imports only the ones listed before it:
//! - `bus` (the virtual PCI bus and its functions' LPI wiring), `dma` (the SMMU's view of the
//!   guest), `vm` (RAM, stage 2, vGIC, vITS, vUART, trapped regions, creation and restart);
//! - `table` (every guest, and which vCPU of which guest each physical CPU runs);
//! - `vpe` (GICv4: the vCPUs' vPEs and the vectors routed straight to them);
//! - `abort` (aborts reflected to the guest), `msi` (vITS commands, LPI delivery, the real
//!   MSI/MSI-X programming), `vpci` (the guest's ECAM and what config writes imply), `uart`
//!   (the guest's console), then `mmio`, the one dispatcher of every trapped access, MSI-X
//!   table and PBA pages included;
//! - `reboot` (the guest restarts, the machine does not), `run` (starting and parking vCPUs),
//!   `psci` (the guest's HVC calls), and `vcpu`, the exit handler on top.

pub mod abort;
pub mod bus;
pub mod dma;
pub mod mmio;
pub mod msi;
pub mod psci;
pub mod reboot;
pub mod run;
pub mod table;
pub mod uart;
pub mod vcpu;
pub mod vm;
pub mod vpci;
pub mod vpe;
