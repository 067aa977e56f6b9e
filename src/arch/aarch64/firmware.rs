//! Calls into the host firmware (PSCI) through SMC or HVC, as the host DT says.

use core::arch::asm;

/// How the host firmware is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduit {
    /// `smc #0` (firmware at EL3, or QEMU's built-in PSCI when sluice owns EL2).
    Smc,
    /// `hvc #0` (only valid when something runs above sluice, which is unusual).
    Hvc,
}

/// Makes an SMCCC call with up to three arguments and returns x0.
pub fn call(conduit: Conduit, function_id: u32, a1: u64, a2: u64, a3: u64) -> u64 {
    let mut x0 = function_id as u64;
    match conduit {
        // SAFETY: an SMCCC call clobbers only x0..x17 at most (SMCCC 1.1 preserves x4..x17 but
        // we declare them clobbered anyway); the firmware does not touch EL2 memory.
        Conduit::Smc => unsafe {
            asm!("smc #0", inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
                 out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                 out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _,
                 out("x16") _, out("x17") _, options(nostack))
        },
        // SAFETY: as above, for the HVC conduit.
        Conduit::Hvc => unsafe {
            asm!("hvc #0", inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
                 out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                 out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _,
                 out("x16") _, out("x17") _, options(nostack))
        },
    }
    x0
}
