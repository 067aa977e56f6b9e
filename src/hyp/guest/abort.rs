//! Guest aborts sluice does not emulate, reflected to the guest as the abort it would take on
//! real hardware: an access without a syndrome, an external abort from a device, an
//! instruction fetch outside the guest's memory. Two of them stop the guest instead
//! (`sluice::trap::Unemulated`): a stage-2 fault on its own RAM, and an access without
//! syndrome under `sluice.unemulated=stop`.

use super::vm::Vm;
use crate::arch::context::GuestFrame;
use crate::arch::cpu::read_sysreg;
use crate::hyp::leaf::fault::{guest_fault, inject};
use alloc::string::String;
use sluice::trap::{Exit, FaultKind, InjectKind};

/// Logs and reflects one of the abort exits (any other exit is left alone); `Some(reason)`
/// when the guest must be stopped instead (nothing is injected then).
pub fn reflect(vm: &Vm, vcpu: usize, frame: &mut GuestFrame, exit: Exit) -> Option<String> {
    match exit {
        Exit::DataAbortNoSyndrome {
            guest_phys,
            guest_phys_valid,
            is_write,
            fault,
            on_table_walk,
            cache_maintenance,
        } => {
            let ipa = guest_phys_valid.then_some(guest_phys);
            let kind = (fault, on_table_walk, cache_maintenance);
            return data_no_syndrome(vm, vcpu, frame, (guest_phys, ipa), is_write, kind);
        }
        Exit::ExternalAbort {
            far,
            far_valid,
            is_write,
            instruction_fetch,
        } => external(
            vm,
            vcpu,
            frame,
            (far, far_valid),
            is_write,
            instruction_fetch,
        ),
        Exit::InstructionAbort {
            guest_phys,
            guest_phys_valid,
            fault,
            on_table_walk,
        } => {
            let valid_ipa = guest_phys_valid.then_some(guest_phys);
            if let Some(reason) = ram_fault(vm, valid_ipa, fault, frame.pc) {
                return Some(reason);
            }
            instruction(vm, vcpu, frame, guest_phys, fault, on_table_walk);
        }
        _ => {}
    }
    None
}

/// A data access without syndrome: `(guest_phys, valid_ipa)` is HPFAR_EL2's address and, when
/// valid, the same again; `kind` the fault, whether on a stage-1 walk, whether a cache
/// maintenance instruction. Injected, unless it hit guest RAM or the policy stops the guest
/// (`Some(reason)`).
fn data_no_syndrome(
    vm: &Vm,
    vcpu: usize,
    frame: &mut GuestFrame,
    (guest_phys, valid_ipa): (u64, Option<u64>),
    is_write: bool,
    (fault, on_table_walk, cache_maintenance): (FaultKind, bool, bool),
) -> Option<String> {
    if let Some(reason) = ram_fault(vm, valid_ipa, fault, frame.pc) {
        return Some(reason);
    }
    let what = access_kind(on_table_walk, is_write);
    if vm
        .unemulated
        .stops_guest(valid_ipa.is_some(), on_table_walk, cache_maintenance)
    {
        return Some(alloc::format!(
            "vCPU {vcpu}: {what} at IPA {guest_phys:#x} cannot be emulated (no syndrome; \
             sluice.unemulated=stop) (pc {:#x})",
            frame.pc
        ));
    }
    no_syndrome(vm, vcpu, frame, (guest_phys, what), is_write);
    None
}

/// A stage-2 fault at `guest_phys` inside the guest's RAM, which is always mapped: sluice's
/// stage 2 for the guest is broken, so the guest cannot go on. The reason says what stage 2
/// holds there.
fn ram_fault(vm: &Vm, guest_phys: Option<u64>, fault: FaultKind, pc: u64) -> Option<String> {
    let ipa = guest_phys.filter(|&ipa| vm.ram.contains_ipa(ipa))?;
    log::error!(
        "{}: stage-2 {fault:?} on the guest's RAM at IPA {ipa:#x} (pc {pc:#x}); stage 2 maps \
         it to {:?}",
        vm.label(),
        vm.translate(ipa)
    );
    Some(alloc::format!(
        "stage-2 {fault:?} on its own RAM at IPA {ipa:#x} (pc {pc:#x})"
    ))
}

fn access_kind(on_table_walk: bool, is_write: bool) -> &'static str {
    if on_table_walk {
        "page-table walk"
    } else if is_write {
        "write"
    } else {
        "read"
    }
}

/// `(guest_phys, what)`: the address and the kind of access (`access_kind`).
fn no_syndrome(
    vm: &Vm,
    vcpu: usize,
    frame: &mut GuestFrame,
    (guest_phys, what): (u64, &str),
    is_write: bool,
) {
    guest_fault(format_args!(
        "{}: guest {what} at IPA {guest_phys:#x} cannot be emulated (no syndrome): \
         data abort injected (pc {:#x})",
        vm.vcpu_label(vcpu),
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
    vm: &Vm,
    vcpu: usize,
    frame: &mut GuestFrame,
    (far, far_valid): (u64, bool),
    is_write: bool,
    instruction_fetch: bool,
) {
    // A synchronous external abort (e.g. a passed-through device signalled an error):
    // reflected to the guest as the same kind of abort, never an undefined instruction.
    guest_fault(format_args!(
        "{}: external abort on a guest {} (VA {}): abort injected (pc {:#x})",
        vm.vcpu_label(vcpu),
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

/// An instruction fetch (or its page-table walk) stage 2 does not allow, outside guest RAM.
fn instruction(
    vm: &Vm,
    vcpu: usize,
    frame: &mut GuestFrame,
    guest_phys: u64,
    fault: FaultKind,
    on_table_walk: bool,
) {
    let what = if on_table_walk {
        "walked a page table at"
    } else {
        "executed from"
    };
    guest_fault(format_args!(
        "{}: guest {what} IPA {guest_phys:#x} outside its memory ({fault:?}): instruction \
         abort injected (pc {:#x})",
        vm.vcpu_label(vcpu),
        frame.pc
    ));
    inject(
        frame,
        InjectKind::InstructionAbort {
            far: read_sysreg!("far_el2"),
        },
    );
}
