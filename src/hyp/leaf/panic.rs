//! Panics and faults in sluice itself: one clear line, then the machine is powered off so that
//! nothing keeps running on a hypervisor whose invariants broke (and scripts see it at once).

use super::{console, stop};

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    console::force_unlock();
    console::print_line(format_args!("PANIC: {info}"));
    stop::power_off_or_halt()
}

/// Called by `vectors.S` for an exception taken from EL2 itself (a sluice bug).
#[no_mangle]
extern "C" fn hyp_exception(kind: u64, esr: u64, elr: u64, far: u64, sp: u64) -> ! {
    console::force_unlock();
    console::print_line(format_args!(
        "PANIC: exception in the hypervisor: kind {kind} ESR {esr:#x} ELR {elr:#x} FAR {far:#x} SP {sp:#x}"
    ));
    stop::power_off_or_halt()
}
