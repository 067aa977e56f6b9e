//! The fuzzer's loads and stores, and the signal handler that survives them.
//!
//! Every access to a fuzzed address is one instruction in a tiny assembly function between
//! `fz_access_start` and `fz_access_end`, so the SIGBUS/SIGSEGV handler can tell a fault of
//! ours (an abort sluice injected, an alignment fault the guest kernel raised) from a bug:
//! it skips exactly that instruction (PC + 4), makes a faulted load return all ones, and
//! counts it. A fault anywhere else ends the program with a message.

use crate::policy::Width;
use crate::sys;
use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

global_asm!(
    r#"
    .section .text.fz_access, "ax"
    .balign 4
    .global fz_access_start
fz_access_start:
fz_load8:   ldrb w0, [x0]
            ret
fz_load16:  ldrh w0, [x0]
            ret
fz_load32:  ldr w0, [x0]
            ret
fz_load64:  ldr x0, [x0]
            ret
fz_loadp:   ldp w2, w3, [x0]
            orr x0, x2, x3, lsl #32
            ret
fz_store8:  strb w1, [x0]
            ret
fz_store16: strh w1, [x0]
            ret
fz_store32: str w1, [x0]
            ret
fz_store64: str x1, [x0]
            ret
fz_storep:  lsr x2, x1, #32
            stp w1, w2, [x0]
            ret
    .global fz_access_end
fz_access_end:
    .global fz_access_fns
    .type fz_access_fns, %object
    .section .rodata.fz_access_fns, "a"
    .balign 8
fz_access_fns:
    .quad fz_load8, fz_load16, fz_load32, fz_load64, fz_loadp
    .quad fz_store8, fz_store16, fz_store32, fz_store64, fz_storep

    .section .text.fz_sigreturn, "ax"
    .global fz_sigreturn
fz_sigreturn:
    mov x8, #139
    svc #0
"#
);

extern "C" {
    static fz_access_start: u8;
    static fz_access_end: u8;
    static fz_access_fns: [usize; 10];
    fn fz_sigreturn();
}

static FAULTS: AtomicU64 = AtomicU64::new(0);
static ALIGNMENT_FAULTS: AtomicU64 = AtomicU64::new(0);

/// Faults taken so far: (all, alignment faults raised by the guest kernel itself).
pub fn fault_counts() -> (u64, u64) {
    (
        FAULTS.load(Ordering::Relaxed),
        ALIGNMENT_FAULTS.load(Ordering::Relaxed),
    )
}

fn width_index(width: Width) -> usize {
    match width {
        Width::Byte => 0,
        Width::Half => 1,
        Width::Word => 2,
        Width::Double => 3,
        Width::WordPair => 4,
    }
}

/// Loads `width` at `addr` (a /dev/mem mapping); `None` if the load faulted.
pub fn load(addr: usize, width: Width) -> Option<u64> {
    let before = FAULTS.load(Ordering::Relaxed);
    // The table holds the load routines above, each an `extern "C" fn(usize) -> u64`.
    // SAFETY: they dereference `addr`, which lies in a live mapping of /dev/mem that no Rust
    // reference aliases, and a fault there is skipped by `on_fault`.
    let value = unsafe {
        let f: extern "C" fn(usize) -> u64 =
            core::mem::transmute(fz_access_fns[width_index(width)]);
        f(addr)
    };
    (FAULTS.load(Ordering::Relaxed) == before).then_some(value)
}

/// Stores `value` (its low `width` bytes) at `addr`; false if the store faulted.
pub fn store(addr: usize, width: Width, value: u64) -> bool {
    let before = FAULTS.load(Ordering::Relaxed);
    // SAFETY: as in `load`; the store routines are `extern "C" fn(usize, u64)`.
    unsafe {
        let f: extern "C" fn(usize, u64) =
            core::mem::transmute(fz_access_fns[5 + width_index(width)]);
        f(addr, value);
    }
    FAULTS.load(Ordering::Relaxed) == before
}

const SIGBUS: usize = 7;
const SIGSEGV: usize = 11;
const SA_SIGINFO: u64 = 4;
const SA_RESTORER: u64 = 0x0400_0000;
/// `siginfo_t.si_code` offset, and SIGBUS's code for an alignment fault.
const SI_CODE: usize = 8;
const BUS_ADRALN: i32 = 1;
/// arm64 `struct ucontext`: uc_mcontext (a `struct sigcontext`, 16-byte aligned) starts at
/// 176 = 8 (uc_flags) + 8 (uc_link) + 24 (uc_stack) + 8 (uc_sigmask) + 120 (glibc's 1024-bit
/// mask padding) + 8 (alignment); in it, regs[31] follow fault_address, then sp and pc.
const UC_REGS: usize = 176 + 8;
const UC_PC: usize = UC_REGS + 31 * 8 + 8;

extern "C" fn on_fault(signal: i32, info: *const u8, ucontext: *mut u8) {
    // SAFETY: the kernel passes a valid siginfo_t and arm64 ucontext (SA_SIGINFO); the offsets
    // are those of the arm64 uapi headers.
    unsafe {
        let code = info.add(SI_CODE).cast::<i32>().read();
        let pc = ucontext.add(UC_PC).cast::<u64>();
        let start = &fz_access_start as *const u8 as u64;
        let end = &fz_access_end as *const u8 as u64;
        if !(start..end).contains(&*pc) {
            crate::rt::die_with_fault(signal, *pc);
        }
        *pc += 4;
        let regs = ucontext.add(UC_REGS).cast::<u64>();
        for r in [0, 2, 3] {
            *regs.add(r) = u64::MAX; // a faulted load (or load pair) reads all ones
        }
        FAULTS.fetch_add(1, Ordering::Relaxed);
        if signal as usize == SIGBUS && code == BUS_ADRALN {
            ALIGNMENT_FAULTS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Installs `on_fault` for SIGBUS and SIGSEGV; false if the kernel refused.
pub fn install_fault_handler() -> bool {
    let action = sys::KernelSigaction {
        handler: on_fault as *const () as usize,
        flags: SA_SIGINFO | SA_RESTORER,
        restorer: fz_sigreturn as *const () as usize,
        mask: 0,
    };
    [SIGBUS, SIGSEGV]
        .iter()
        .all(|&s| sys::rt_sigaction(s, &action) == 0)
}
