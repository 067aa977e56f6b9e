//! Guest aborts sluice does not emulate, reflected to the guest as the abort it would take on
//! real hardware: an access without a syndrome, an external abort from a device, an
//! instruction fetch outside the guest's memory.

use super::vm::Vm;
use crate::arch::context::GuestFrame;
use crate::arch::cpu::read_sysreg;
use crate::hyp::leaf::fault::{guest_fault, inject};
use sluice::trap::{Exit, FaultKind, InjectKind};

/// Logs and reflects one of the abort exits; any other exit is left alone.
pub fn reflect(vm: &Vm, vcpu: usize, frame: &mut GuestFrame, exit: Exit) {
    match exit {
        Exit::DataAbortNoSyndrome {
            guest_phys,
            is_write,
            on_table_walk,
            ..
        } => no_syndrome(vcpu, frame, guest_phys, is_write, on_table_walk),
        Exit::ExternalAbort {
            far,
            far_valid,
            is_write,
            instruction_fetch,
        } => external(vcpu, frame, (far, far_valid), is_write, instruction_fetch),
        Exit::InstructionAbort {
            guest_phys,
            guest_phys_valid,
            fault,
            on_table_walk,
        } => instruction(
            vm,
            vcpu,
            frame,
            (guest_phys, guest_phys_valid),
            fault,
            on_table_walk,
        ),
        _ => {}
    }
}

fn no_syndrome(
    vcpu: usize,
    frame: &mut GuestFrame,
    guest_phys: u64,
    is_write: bool,
    on_table_walk: bool,
) {
    let what = if on_table_walk {
        "page-table walk"
    } else if is_write {
        "write"
    } else {
        "read"
    };
    guest_fault(format_args!(
        "vCPU {vcpu}: guest {what} at IPA {guest_phys:#x} cannot be emulated (no syndrome): \
         data abort injected (pc {:#x})",
        frame.pc
    ));
    inject(
        frame,
        InjectKind::DataAbort {
            far: read_sysreg!("far_el2"),
            is_write,
        },
    );
}

/// `far`: FAR_EL2 and whether it holds the address.
fn external(
    vcpu: usize,
    frame: &mut GuestFrame,
    (far, far_valid): (u64, bool),
    is_write: bool,
    instruction_fetch: bool,
) {
    // A synchronous external abort (e.g. a passed-through device signalled an error):
    // reflected to the guest as the same kind of abort, never an undefined instruction.
    guest_fault(format_args!(
        "vCPU {vcpu}: external abort on a guest {} (VA {}): abort injected (pc {:#x})",
        if instruction_fetch {
            "fetch"
        } else if is_write {
            "write"
        } else {
            "read"
        },
        if far_valid {
            alloc::format!("{far:#x}")
        } else {
            alloc::string::String::from("unknown")
        },
        frame.pc
    ));
    let kind = if instruction_fetch {
        InjectKind::InstructionAbort { far }
    } else {
        InjectKind::DataAbort { far, is_write }
    };
    inject(frame, kind);
}

/// `guest_phys`: HPFAR_EL2's address and whether it is valid.
fn instruction(
    vm: &Vm,
    vcpu: usize,
    frame: &mut GuestFrame,
    (guest_phys, guest_phys_valid): (u64, bool),
    fault: FaultKind,
    on_table_walk: bool,
) {
    let what = if on_table_walk {
        "walked a page table at"
    } else {
        "executed from"
    };
    if guest_phys_valid && vm.ram.contains_ipa(guest_phys) {
        // Guest RAM is always mapped: a stage-2 fault there is sluice's bug, not the
        // guest's. Say what stage 2 holds for it.
        log::error!(
            "vCPU {vcpu}: stage-2 {fault:?} when the guest {what} RAM at IPA \
             {guest_phys:#x} (pc {:#x}); stage 2 maps it to {:?}",
            frame.pc,
            vm.translate(guest_phys)
        );
    } else {
        guest_fault(format_args!(
            "vCPU {vcpu}: guest {what} IPA {guest_phys:#x} outside its memory \
             ({fault:?}): instruction abort injected (pc {:#x})",
            frame.pc
        ));
    }
    inject(
        frame,
        InjectKind::InstructionAbort {
            far: read_sysreg!("far_el2"),
        },
    );
}
