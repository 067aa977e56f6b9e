//! The guest exit handler.
//!
//! Every exit: sync the list registers into the vGIC model (and tell it the timers' outputs),
//! handle the exit, flush the model back into the list registers. A vCPU is pinned to its
//! physical CPU (`table`); `vcpu` below is always the guest-local index.

use super::vm::Vm;
use super::{abort, dma, mmio, msi, psci, reboot, run, table, uart, vpe};
use crate::arch::context::GuestFrame;
use crate::arch::cpu::{self, read_sysreg};
use crate::arch::gic;
use crate::arch::idregs;
use crate::hyp::leaf::cpus::MAX_CPUS;
use crate::hyp::leaf::fault::{guest_fault, inject};
use crate::hyp::leaf::kick::KICK_SGI;
use crate::hyp::leaf::{stats, stop};
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use sluice::cpuid;
use sluice::psci::CallFunction;
use sluice::stats::ExitReason;
use sluice::trap::{self, Exit, InjectKind, SysRegAccess};
use sluice::vgic::shadow::LrShadow;

/// Exit kinds pushed by `vectors.S`.
const EXIT_SYNC: u64 = 0;
const EXIT_IRQ: u64 = 1;
const EXIT_SERROR: u64 = 3;

/// Called by `vectors.S` for every exit from the guest.
#[no_mangle]
extern "C" fn handle_guest_exit(frame: &mut GuestFrame, kind: u64) {
    let Some((vm, vcpu)) = table::current() else {
        stop::fatal(format_args!(
            "CPU {} left a guest but runs none",
            cpu::cpu_index()
        ))
    };
    // A synchronous exit is decoded once, for the short path and the full one.
    let sync = (kind == EXIT_SYNC).then(|| {
        let esr = read_sysreg!("esr_el2");
        (esr, decode_exit(vm, esr))
    });
    // The boot console's exits first, without the list registers' round trip (see
    // `uart::quick_exit`); a pending reboot takes the full path, which parks this vCPU.
    if let Some((esr, Exit::Mmio(access))) = &sync {
        if !reboot::requested(vm) && uart::quick_exit(vm, frame, access, *esr) {
            return;
        }
    }
    let mut lrs = fold_list_registers(vm, vcpu);
    match (kind, sync) {
        (_, Some((esr, exit))) => handle_sync(vm, vcpu, frame, esr, exit),
        (EXIT_IRQ, None) => handle_interrupts(vm, vcpu),
        _ => {
            // An SError (routed to EL2 by HCR_EL2.AMO) is an error sluice cannot attribute
            // to one instruction, an FIQ one it never routes: the guest's state is unknown.
            stats::count(cpu::cpu_index(), ExitReason::Other);
            let what = if kind == EXIT_SERROR { "SError" } else { "FIQ" };
            stop_guest(
                vm,
                vcpu,
                format_args!(
                    "vCPU {vcpu}: {what} taken from the guest (ESR {:#x}, pc {:#x})",
                    read_sysreg!("esr_el2"),
                    frame.pc
                ),
            );
        }
    }
    load_list_registers(vm, vcpu, &mut lrs);
    if reboot::requested(vm) {
        // Another vCPU is rebooting the guest: this one never returns to the old guest.
        reboot::park(vm);
        run::wait_for_cpu_on(vm, vcpu);
    }
    uart::mirror::sync(vm);
    vpe::enter(vm, vcpu);
}

/// First thing at an exit: the list registers go back into the vGIC model and are emptied,
/// and the model learns the timers' outputs and the groups the guest's CPU interface takes, so
/// that the exit is handled against the model
/// alone.
fn fold_list_registers(vm: &Vm, vcpu: usize) -> ListRegisters {
    let mut lrs = ListRegisters::read();
    // The underflow interrupt asked for at the last entry has done its job; left on, the
    // level-sensitive maintenance interrupt would stay asserted while LRs are empty and
    // `handle_interrupts` would acknowledge it for ever.
    lrs.set_underflow_interrupt(false);
    let kick = {
        let mut vgic = vm.vgic.lock();
        let kick = vgic.sync(vcpu, lrs.as_mut());
        sample_timers(vm, &mut vgic, vcpu);
        let (group0, group1) = gic::virtual_group_enables();
        vgic.set_cpu_groups(vcpu, group0, group1);
        kick
    };
    // Written back (empty) before handling: a handler may not return (CPU_OFF, SYSTEM_OFF).
    lrs.write();
    vm.kick(vcpu, kick);
    lrs
}

/// Last thing before going back to the guest: the list registers are loaded from the model,
/// the underflow interrupt requested if they could not hold everything, and the physical
/// interrupts the model let go of deactivated.
fn load_list_registers(vm: &Vm, vcpu: usize, lrs: &mut ListRegisters) {
    let (outcome, released) = {
        let mut vgic = vm.vgic.lock();
        let outcome = vgic.flush(vcpu, lrs.as_mut());
        (outcome, vgic.take_hw_deactivations(vcpu))
    };
    lrs.write();
    lrs.set_underflow_interrupt(outcome.underflow_irq_needed);
    deactivate_released(vm, &released);
    vm.kick(vcpu, outcome.kick);
}

/// Tells the vGIC what the guest's timers output now: their interrupts are level-sensitive,
/// and a pending state the guest has not taken goes once the timer is disabled, masked or
/// moved into the future.
fn sample_timers(vm: &Vm, vgic: &mut sluice::vgic::Vgic, vcpu: usize) {
    let timer = &vm.host.platform.timer;
    let outputs = cpu::el1_timer_outputs();
    vgic.set_hw_line(vcpu, timer.virt.intid, outputs.virt);
    vgic.set_hw_line(vcpu, timer.nonsecure_phys.intid, outputs.phys);
}

/// Deactivates physical interrupts the vGIC no longer forwards (sluice left them active for
/// the guest, EOImode = 1): PPIs in this CPU's interface, SPIs in the distributor.
fn deactivate_released(vm: &Vm, released: &[u32]) {
    for &intid in released {
        if intid < 32 {
            gic::deactivate(intid);
        } else {
            vm.host.dist.clear_active(intid);
        }
    }
}

/// Each physical CPU's list-register shadow (`LrShadow::to_bits`; only that CPU uses it).
static SHADOWS: [AtomicU32; MAX_CPUS] =
    [const { AtomicU32::new(LrShadow::UNKNOWN.to_bits()) }; MAX_CPUS];
/// Each physical CPU's implemented list registers (ICH_VTR_EL2.ListRegs + 1; 0: not read yet).
static LR_COUNTS: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(0) }; MAX_CPUS];

/// A copy of this CPU's implemented list registers; only the live ones (`LrShadow`) are read
/// and only the changed ones written.
struct ListRegisters {
    values: [u64; 16],
    count: usize,
    cpu: usize,
    shadow: LrShadow,
}

impl ListRegisters {
    fn read() -> Self {
        let cpu = cpu::cpu_index();
        let shadow = SHADOWS.get(cpu).map_or(LrShadow::UNKNOWN, |s| {
            LrShadow::from_bits(s.load(Ordering::Relaxed))
        });
        let count = list_register_count(cpu);
        let mut values = [0u64; 16];
        for (n, lr) in values.iter_mut().enumerate().take(count) {
            if shadow.live & 1 << n != 0 {
                *lr = gic::read_list_register(n);
            }
        }
        Self {
            values,
            count,
            cpu,
            shadow,
        }
    }

    fn as_mut(&mut self) -> &mut [u64] {
        &mut self.values[..self.count]
    }

    fn write(&mut self) {
        let writes = self.shadow.store(&self.values[..self.count]);
        for (n, lr) in self.values.iter().enumerate().take(self.count) {
            if writes & 1 << n != 0 {
                gic::write_list_register(n, *lr);
            }
        }
        self.save();
    }

    /// ICH_HCR_EL2.UIE, written only when it changes.
    fn set_underflow_interrupt(&mut self, enabled: bool) {
        if self.shadow.set_underflow(enabled) {
            gic::set_underflow_interrupt(enabled);
        }
        self.save();
    }

    fn save(&self) {
        if let Some(slot) = SHADOWS.get(self.cpu) {
            slot.store(self.shadow.to_bits(), Ordering::Relaxed);
        }
    }
}

/// This CPU's implemented list registers (at most 16), read from ICH_VTR_EL2 once.
fn list_register_count(cpu: usize) -> usize {
    let Some(slot) = LR_COUNTS.get(cpu) else {
        return gic::list_register_count().min(16);
    };
    match slot.load(Ordering::Relaxed) {
        0 => {
            let count = gic::list_register_count().min(16);
            slot.store(count as u8, Ordering::Relaxed);
            count
        }
        count => usize::from(count),
    }
}

/// The exit `esr` decoded. A stage-2 Permission fault, whose IPA HPFAR_EL2 does not give, is
/// translated from FAR_EL2 (AT, as KVM does) and decodes as an access to that IPA when it is
/// the guest's UART read page (`uart::mirror`); any other decodes as it always did.
fn decode_exit(vm: &Vm, esr: u64) -> Exit {
    let far = read_sysreg!("far_el2");
    if trap::ipa_needs_resolving(esr) {
        let mirrored = |ipa: &u64| vm.uart_mirror.as_ref().is_some_and(|m| m.covers(*ipa));
        if let Some(ipa) = cpu::guest_ipa_of_write(far).filter(mirrored) {
            return trap::decode_at_ipa(esr, far, ipa);
        }
    }
    trap::decode(esr, far, read_sysreg!("hpfar_el2"))
}

/// A synchronous exit `exit` (decoded from `esr`).
fn handle_sync(vm: &'static Vm, vcpu: usize, frame: &mut GuestFrame, esr: u64, exit: Exit) {
    if let Some(reason) = sync_reason(&exit, frame.x[0]) {
        stats::count(cpu::cpu_index(), reason);
    }
    match exit {
        Exit::Mmio(access) => mmio::handle(vm, vcpu, frame, &access, esr),
        Exit::Hvc { .. } => psci::handle(vm, vcpu, frame),
        // Not trapped today (HCR_EL2.TWI/TWE clear); if they are, completing at once is what
        // the architecture allows a WFI or WFE to do.
        Exit::Wfi | Exit::Wfe => frame.pc = trap::next_pc(frame.pc, esr),
        Exit::Smc { .. } => {
            // Guests are told to use HVC; an SMC gets SMCCC NOT_SUPPORTED and moves on.
            frame.x[0] = u64::MAX;
            frame.pc = trap::next_pc(frame.pc, esr);
        }
        Exit::SysReg(reg) if reg.id() == trap::SysRegId::ICC_SGI1R_EL1 && !reg.is_read => {
            let k = vm.vgic.lock().send_sgi(vcpu, frame.reg(reg.register));
            vm.kick(vcpu, k);
            frame.pc = trap::next_pc(frame.pc, esr);
        }
        Exit::SysReg(reg) if cpuid::is_id_register(reg.id()) => {
            handle_id_register(vm, vcpu, frame, &reg, esr)
        }
        // The guest is shown RAS (ESB, error synchronization) but none of the machine's error
        // records: ERRIDR_EL1 reads 0 records, and every record register is RAZ/WI.
        Exit::SysReg(reg) if reg.id().is_error_record() => {
            if reg.is_read {
                frame.set_reg(reg.register, 0);
            }
            frame.pc = trap::next_pc(frame.pc, esr);
        }
        exit @ (Exit::DataAbortNoSyndrome { .. }
        | Exit::ExternalAbort { .. }
        | Exit::InstructionAbort { .. }) => {
            if let Some(reason) = abort::reflect(vm, vcpu, frame, exit) {
                stop_guest(vm, vcpu, format_args!("{reason}"));
            }
        }
        // An exception class sluice never traps: it cannot say what the guest did.
        Exit::Unknown { ec, iss } => stop_guest(
            vm,
            vcpu,
            format_args!(
                "vCPU {vcpu}: unexpected exception class {ec:#x} (ISS {iss:#x}) at pc {:#x}",
                frame.pc
            ),
        ),
        // A trap sluice set up but does not emulate (FP/SIMD or SVE, a system register):
        // UNDEFINED, as for a feature the guest's ID registers do not show.
        exit => {
            guest_fault(format_args!(
                "{}: unhandled exit {exit:?} at pc {:#x}: undefined instruction injected",
                vm.vcpu_label(vcpu),
                frame.pc
            ));
            inject(frame, InjectKind::Undefined);
        }
    }
}

/// A fault of the guest sluice cannot serve or reflect: the guest is stopped for good with
/// "stopped: `reason`" (`reboot::stop`), the other guests run on (the machine powers off
/// with the last). This vCPU never returns to the guest.
fn stop_guest(vm: &'static Vm, vcpu: usize, reason: core::fmt::Arguments) -> ! {
    reboot::stop(vm, format_args!("stopped: {reason}"));
    // A reboot of the guest was in progress: it went first, so this vCPU waits in the
    // new boot as a rebooting one does.
    run::wait_for_cpu_on(vm, vcpu)
}

/// The accounting class of a synchronous exit; `x0` holds the function ID of an HVC or SMC.
fn sync_reason(exit: &Exit, x0: u64) -> Option<ExitReason> {
    // SMCCC 1.1 section 2.5: the function ID is w0, the upper half is ignored.
    let function = || CallFunction::from_id(x0 as u32);
    Some(match exit {
        Exit::Mmio(_) => return None, // counted by `handle_mmio`, which knows who handled it
        Exit::Hvc { .. } => ExitReason::Hvc(function()),
        Exit::Smc { .. } => ExitReason::Smc(function()),
        Exit::SysReg(reg) if reg.id() == trap::SysRegId::ICC_SGI1R_EL1 => ExitReason::SysRegSgi,
        Exit::SysReg(reg) if cpuid::is_id_register(reg.id()) => ExitReason::SysRegId,
        Exit::Wfi => ExitReason::Wfi,
        Exit::Wfe => ExitReason::Wfe,
        Exit::DataAbortNoSyndrome { .. } => ExitReason::MmioUnhandled,
        _ => ExitReason::OtherSync,
    })
}

/// A trapped access to the ID register space (HCR_EL2.TID3): a read gets the guest's view of
/// the host register (`sluice::cpuid`); a write is UNDEFINED, as the architecture makes an MSR
/// to a read-only register.
fn handle_id_register(vm: &Vm, vcpu: usize, frame: &mut GuestFrame, reg: &SysRegAccess, esr: u64) {
    if reg.is_read {
        let host = idregs::read_host(reg.id());
        let value = cpuid::guest_value(reg.id(), host, &idregs::enables());
        frame.set_reg(reg.register, value);
        frame.pc = trap::next_pc(frame.pc, esr);
    } else {
        guest_fault(format_args!(
            "{}: guest write to ID register {} ({}): undefined instruction injected \
             (pc {:#x})",
            vm.vcpu_label(vcpu),
            reg.id(),
            cpuid::name(reg.id()).unwrap_or("unallocated"),
            frame.pc
        ));
        inject(frame, InjectKind::Undefined);
    }
}

/// The accounting class of a physical interrupt.
fn irq_reason(vm: &Vm, intid: u32) -> ExitReason {
    let timer = &vm.host.platform.timer;
    if intid == timer.virt.intid || intid == timer.nonsecure_phys.intid {
        ExitReason::IrqTimer
    } else if intid == KICK_SGI || intid < 16 {
        ExitReason::IrqSgi
    } else if intid == vm.host.platform.gic.maintenance_intid {
        ExitReason::IrqMaintenance
    } else {
        ExitReason::IrqDevice
    }
}

/// Drains every pending physical interrupt and routes it.
fn handle_interrupts(vm: &Vm, vcpu: usize) {
    let timer = &vm.host.platform.timer;
    loop {
        let intid = gic::acknowledge();
        if gic::SPECIAL_INTIDS.contains(&intid) {
            break;
        }
        stats::count(cpu::cpu_index(), irq_reason(vm, intid));
        gic::end_of_interrupt(intid);
        if intid == timer.virt.intid
            || intid == timer.nonsecure_phys.intid
            || vm.intx_intids.contains(&intid)
        {
            // HW-linked: the guest's deactivation deactivates the physical interrupt.
            let k = vm.vgic.lock().inject_hw(vcpu, intid);
            vm.kick(vcpu, k);
            continue;
        }
        if intid >= sluice::vgic::FIRST_LPI {
            msi::deliver(vm, vcpu, intid); // LPIs have no active state: no deactivation
            continue;
        }
        if intid == vm.host.platform.uart.intid {
            uart::console_input(vm, vcpu);
        } else if let Some(smmu) = vm.host.smmu.as_ref().filter(|s| s.owns_intid(intid)) {
            for sid in smmu.handle_interrupt() {
                // Whichever guest's the stream is: only its owner's view knows it.
                for guest in table::guests() {
                    if let (Some(view), Some(bus)) = (&guest.dma, &guest.pci) {
                        dma::stop_faulting_stream(view, bus, sid, &guest.object_label());
                    }
                }
            }
        } else if intid != KICK_SGI && intid != vm.host.platform.gic.maintenance_intid {
            log::warn!(
                "{}: unexpected physical interrupt {intid}",
                vm.vcpu_label(vcpu)
            );
        }
        gic::deactivate(intid);
    }
}
