//! The Linux system calls the fuzzer needs, made directly with `svc #0` (aarch64 Linux ABI:
//! number in x8, arguments in x0-x5, result or -errno in x0). No libc.

use core::arch::asm;

const SYS_GETDENTS64: usize = 61;
const SYS_OPENAT: usize = 56;
const SYS_CLOSE: usize = 57;
const SYS_READ: usize = 63;
const SYS_WRITE: usize = 64;
const SYS_EXIT_GROUP: usize = 94;
const SYS_CLOCK_GETTIME: usize = 113;
const SYS_RT_SIGACTION: usize = 134;
const SYS_MUNMAP: usize = 215;
const SYS_MMAP: usize = 222;

const AT_FDCWD: isize = -100;
/// open flags: read-only / read-write, O_SYNC (uncached /dev/mem mappings), O_DIRECTORY.
pub const O_RDONLY: usize = 0;
pub const O_RDWR: usize = 2;
pub const O_SYNC: usize = 0o4010000;
pub const O_DIRECTORY: usize = 0o40000;
const PROT_READ_WRITE: usize = 3;
const MAP_SHARED: usize = 1;
/// Clock ids for `clock_gettime`.
pub const CLOCK_REALTIME: usize = 0;
pub const CLOCK_MONOTONIC: usize = 1;

/// A raw system call with up to six arguments.
///
/// # Safety
/// The arguments must be valid for system call `nr` (pointers to memory of the right size).
unsafe fn syscall(nr: usize, args: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the arguments; `svc #0` only clobbers x0 (the result).
    unsafe {
        asm!("svc #0", inlateout("x0") args[0] as isize => ret, in("x1") args[1],
             in("x2") args[2], in("x3") args[3], in("x4") args[4], in("x5") args[5],
             in("x8") nr, options(nostack));
    }
    ret
}

/// A NUL-terminated copy of `path` (paths here are short sysfs/procfs names).
struct CPath([u8; 256]);

impl CPath {
    fn new(path: &[u8]) -> Option<Self> {
        let mut buf = [0u8; 256];
        buf.get_mut(..path.len())?.copy_from_slice(path);
        (path.len() < buf.len()).then_some(Self(buf))
    }
}

/// Opens `path` with `flags`; the file descriptor or -errno.
pub fn open(path: &[u8], flags: usize) -> isize {
    let Some(c) = CPath::new(path) else {
        return -36;
    }; // ENAMETOOLONG
       // SAFETY: `c` is a NUL-terminated path that outlives the call.
    unsafe {
        syscall(
            SYS_OPENAT,
            [AT_FDCWD as usize, c.0.as_ptr() as usize, flags, 0, 0, 0],
        )
    }
}

/// Closes a file descriptor.
pub fn close(fd: isize) {
    // SAFETY: closing any number is harmless; a bad one gives EBADF.
    unsafe { syscall(SYS_CLOSE, [fd as usize, 0, 0, 0, 0, 0]) };
}

/// Reads into `buf`; bytes read or -errno.
pub fn read(fd: isize, buf: &mut [u8]) -> isize {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    unsafe {
        syscall(
            SYS_READ,
            [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )
    }
}

/// Writes all of `buf` to `fd` (best effort: stops at the first error).
pub fn write_all(fd: isize, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: the kernel reads at most `buf.len()` bytes from `buf`.
        let n = unsafe {
            syscall(
                SYS_WRITE,
                [fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0, 0],
            )
        };
        if n <= 0 {
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// Reads directory entries into `buf` (`struct linux_dirent64` records); bytes or -errno.
pub fn getdents64(fd: isize, buf: &mut [u8]) -> isize {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    unsafe {
        syscall(
            SYS_GETDENTS64,
            [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )
    }
}

/// Maps `len` bytes of `fd` at `offset`, shared, read-write; the address or -errno.
pub fn mmap_shared(fd: isize, len: u64, offset: u64) -> isize {
    let args = [
        0,
        len as usize,
        PROT_READ_WRITE,
        MAP_SHARED,
        fd as usize,
        offset as usize,
    ];
    // SAFETY: a new mapping chosen by the kernel cannot overlap memory Rust owns.
    unsafe { syscall(SYS_MMAP, args) }
}

/// Unmaps a mapping made by `mmap_shared`.
pub fn munmap(addr: usize, len: u64) {
    // SAFETY: only mappings of /dev/mem made by this program are passed here, and no Rust
    // reference points into them (they are reached through `access` only).
    unsafe { syscall(SYS_MUNMAP, [addr, len as usize, 0, 0, 0, 0]) };
}

/// Nanoseconds on `clock`.
pub fn clock_ns(clock: usize) -> u64 {
    let mut ts = [0i64; 2];
    // SAFETY: `ts` is a `struct timespec` (two 64-bit fields on aarch64).
    unsafe {
        syscall(
            SYS_CLOCK_GETTIME,
            [clock, ts.as_mut_ptr() as usize, 0, 0, 0, 0],
        )
    };
    (ts[0] as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts[1] as u64)
}

/// The kernel's `struct sigaction` on arm64 (handler, flags, restorer, mask).
#[repr(C)]
pub struct KernelSigaction {
    /// `void (*)(int, siginfo_t *, void *)` with SA_SIGINFO.
    pub handler: usize,
    /// SA_* flags.
    pub flags: u64,
    /// Where the handler returns to (calls rt_sigreturn).
    pub restorer: usize,
    /// Signals blocked while the handler runs.
    pub mask: u64,
}

/// Installs `action` for `signal`; 0 or -errno.
pub fn rt_sigaction(signal: usize, action: &KernelSigaction) -> isize {
    let args = [signal, action as *const _ as usize, 0, 8, 0, 0];
    // SAFETY: `action` is a valid kernel sigaction; the old action is not asked for.
    unsafe { syscall(SYS_RT_SIGACTION, args) }
}

/// Ends the process.
pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group never returns.
    unsafe { syscall(SYS_EXIT_GROUP, [code as usize, 0, 0, 0, 0, 0]) };
    loop {}
}
