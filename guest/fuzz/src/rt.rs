//! The bare runtime of a static Linux program: `_start`, arguments, output, panics.

use crate::sys;
use crate::text::LineBuf;
use core::arch::global_asm;
use core::fmt::Write;

// The kernel starts us with sp pointing at argc, then argv[], NULL, envp[] (arm64 ELF ABI).
global_asm!(
    r#"
    .section .text._start, "ax"
    .global _start
_start:
    mov x29, #0
    mov x30, #0
    mov x0, sp
    bl fz_main
    brk #0
"#
);

/// The process's arguments.
pub struct Args {
    argc: usize,
    argv: *const *const u8,
}

impl Args {
    /// Argument `index` without its NUL, if present.
    pub fn get(&self, index: usize) -> Option<&'static [u8]> {
        if index >= self.argc {
            return None;
        }
        // SAFETY: argv[0..argc] are NUL-terminated strings the kernel placed on the stack,
        // which lives as long as the process.
        unsafe {
            let s = *self.argv.add(index);
            let mut len = 0;
            while *s.add(len) != 0 {
                len += 1;
            }
            Some(core::slice::from_raw_parts(s, len))
        }
    }
}

#[no_mangle]
extern "C" fn fz_main(stack: *const usize) -> ! {
    // SAFETY: `stack` is the initial stack pointer: argc, then the argv array.
    let args = unsafe {
        Args {
            argc: *stack,
            argv: stack.add(1).cast(),
        }
    };
    let status = match args.get(1) {
        Some(b"cfgfuzz") => crate::cfgfuzz::main(&args),
        Some(b"pair") => crate::pair::main(&args),
        _ => crate::fuzz::main(&args),
    };
    sys::exit(status)
}

/// Prints one line on stdout, prefixed with "sluice-guestfuzz: ".
pub fn say(args: core::fmt::Arguments) {
    let mut line = LineBuf::<512>::new();
    let _ = write!(line, "sluice-guestfuzz: {args}\n");
    sys::write_all(1, line.as_bytes());
}

/// A fault outside the access routines is a bug in the fuzzer: say where and stop.
pub fn die_with_fault(signal: i32, pc: u64) -> ! {
    say(format_args!(
        "FAILED: signal {signal} at pc {pc:#x}, outside an access"
    ));
    sys::exit(3)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    say(format_args!("FAILED: panic: {info}"));
    sys::exit(4)
}
