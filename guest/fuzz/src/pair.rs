//! `guestfuzz pair ADDR`: one LDP of two words at physical address ADDR (through /dev/mem),
//! the access a hypervisor cannot emulate from its syndrome. Under sluice's default the load
//! faults (an injected data abort, SIGBUS, skipped by the fault handler) and the program says
//! so; under `sluice.unemulated=stop` the guest is stopped and never prints the result. The
//! demo init runs it for `sluice.ldp=ADDR`.

use crate::access;
use crate::fuzz::open_dev_mem;
use crate::policy::Width;
use crate::rt::{say, Args};
use crate::sys;
use crate::text::parse_u64;

const PAGE: u64 = 4096;

/// Makes the access; the process's exit status (0: the load completed or faulted).
pub fn main(args: &Args) -> i32 {
    let Some(addr) = args.get(2).and_then(parse_u64) else {
        say(format_args!("FAILED: usage: guestfuzz pair ADDR"));
        return 2;
    };
    let Some(mem_fd) = open_dev_mem() else {
        return 1;
    };
    let page = addr & !(PAGE - 1);
    let virt = sys::mmap_shared(mem_fd, PAGE, page);
    if virt < 0 {
        say(format_args!("FAILED: cannot map {page:#x} (error {})", -virt));
        return 1;
    }
    say(format_args!("pair: LDP of two words at {addr:#x}"));
    let target = virt as usize + ((addr - page) as usize & !3);
    match access::load(target, Width::WordPair) {
        Some(value) => say(format_args!("pair: read {value:#x}")),
        None => say(format_args!("pair: faulted (SIGBUS)")),
    }
    sys::munmap(virt as usize, PAGE);
    0
}
