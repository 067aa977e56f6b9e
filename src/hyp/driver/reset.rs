//! Resetting a host PCI function with the best method it has (FLR, bus reset, D3hot, or the
//! virtio device reset), keeping the BARs sluice assigned. Hardware only: which function to
//! reset, and when, is the guest's lifecycle's business.

use crate::arch::cpu;
use crate::arch::mmio::MmioBase;
use sluice::pci::enumerate::HostFunction;
use sluice::pci::regs::{COMMAND_INTX_DISABLE, COMMAND_MEMORY};
use sluice::pci::reset::{self, ResetMethod};
use sluice::pci::{Bdf, ConfigAccess};

/// Resets one function with the best method it has, keeping sluice's BAR assignment; true
/// when the function is now in its reset state.
pub fn reset_function(cfg: &impl ConfigAccess, functions: &[HostFunction], bdf: Bdf) -> bool {
    let lone_bridge = reset::lone_bridge_above(cfg, functions, bdf);
    let Some(method) = reset::choose(cfg, bdf, lone_bridge) else {
        log::warn!(
            "pci {bdf}: no reset method (no FLR, bus reset, D3hot or device reset); only quiesced"
        );
        return false;
    };
    let saved = reset::save_header(cfg, bdf);
    if matches!(method, ResetMethod::Flr { .. }) {
        cpu::spin_while(100, || reset::transactions_pending(cfg, bdf, method));
    }
    reset::start(cfg, bdf, method);
    cpu::delay_ms(reset::first_wait_ms(method));
    cpu::delay_ms(reset::finish(cfg, bdf, method));
    if matches!(method, ResetMethod::Virtio { .. }) {
        let function = functions.iter().find(|f| f.bdf == bdf);
        if let Err(why) = function.map_or(Err("not enumerated"), |f| virtio_reset(cfg, f, method)) {
            log::warn!("pci {bdf}: {method} failed ({why}); only quiesced");
            reset::restore_header(cfg, bdf, &saved);
            return false;
        }
    }
    reset::restore_header(cfg, bdf, &saved);
    log::info!("pci {bdf} reset ({method})");
    true
}

/// The virtio reset: with memory decode on and bus mastering off, 0 goes to device_status,
/// which the device reads back as 0 once it has reset (virtio 1.2, 4.1.4.3.2).
fn virtio_reset(
    cfg: &impl ConfigAccess,
    function: &HostFunction,
    method: ResetMethod,
) -> Result<(), &'static str> {
    let address =
        reset::virtio_status_address(function, method).ok_or("no BAR holds device_status")?;
    cfg.write_command(function.bdf, COMMAND_MEMORY | COMMAND_INTX_DISABLE);
    // SAFETY: `address` lies in a memory BAR sluice assigned to this function, in the host
    // bridge windows mapped as Device memory; fallible accessors report a device's abort.
    let status = unsafe { MmioBase::new(address as usize) };
    let written = status.try_write(0, 1, 0);
    let reset = written
        && cpu::spin_while(reset::VIRTIO_RESET_TIMEOUT_MS, || {
            status.try_read(0, 1) != Some(0)
        });
    cfg.write_command(function.bdf, COMMAND_INTX_DISABLE);
    match (written, reset) {
        (false, _) => Err("the write to device_status aborted"),
        (true, false) => Err("device_status did not read back 0"),
        (true, true) => Ok(()),
    }
}
