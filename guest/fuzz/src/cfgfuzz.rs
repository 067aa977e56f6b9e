//! `guestfuzz cfgfuzz COUNT [SEED|random] [trace]`: COUNT random config writes in one process
//! (see `cfgplan` for where they go), made through one mapping of the first bus of the
//! guest's ECAM window. The demo init runs it for `sluice.cfgfuzz=N` between its `cfgfuzz
//! ready` and `cfgfuzz done` lines; a busybox `devmem` process per write was far too slow.

use crate::access;
use crate::cfgplan::{next_write, Aim, Bus, BUS_BYTES};
use crate::discover::{self, MAX_FUNCTIONS};
use crate::fuzz::{open_dev_mem, seed_from};
use crate::rng::Rng;
use crate::rt::{say, Args};
use crate::sys;
use crate::text::parse_u64;

/// Writes made when COUNT is missing (what scripts/tests/config_fuzz.py asks for).
const DEFAULT_WRITES: u64 = 20_000;

/// How many writes of each kind were made.
#[derive(Default)]
struct Tally {
    first_function: u64,
    other_functions: u64,
    absent_slots: u64,
}

/// Runs the burst; the process's exit status.
pub fn main(args: &Args) -> i32 {
    let count = args.get(2).and_then(parse_u64).unwrap_or(DEFAULT_WRITES);
    let seed = seed_from(args.get(3));
    let trace = args.get(4) == Some(b"trace");
    let Some(mem_fd) = open_dev_mem() else {
        return 1;
    };
    let Some(ecam) = discover::guest_map().ecam else {
        say(format_args!(
            "FAILED: no pci-host-ecam-generic node in /proc/device-tree"
        ));
        return 1;
    };
    let mut functions = [None; MAX_FUNCTIONS];
    let found = discover::addresses(&mut functions);
    let bus = Bus::new(functions[..found].iter().flatten().copied());
    // Printed first: a run that takes the machine down must still be replayable.
    say(format_args!(
        "cfgfuzz starting: seed={seed} writes={count} ecam={:#x} functions={found}",
        ecam.start
    ));
    let bytes = BUS_BYTES.min(ecam.size_bytes);
    let virt = sys::mmap_shared(mem_fd, bytes, ecam.start);
    if virt < 0 {
        say(format_args!(
            "FAILED: cannot map the ECAM window (error {})",
            -virt
        ));
        return 1;
    }
    let started_ns = sys::clock_ns(sys::CLOCK_MONOTONIC);
    let tally = burst(virt as usize, bytes, &bus, Rng::new(seed), count, trace);
    let elapsed_ms = (sys::clock_ns(sys::CLOCK_MONOTONIC) - started_ns) / 1_000_000;
    sys::munmap(virt as usize, bytes);
    let (faults, _) = access::fault_counts();
    let written = tally.first_function + tally.other_functions + tally.absent_slots;
    say(format_args!(
        "cfgfuzz seed={seed} writes={written} first_function={} other_functions={} absent_slots={} faults={faults} ms={elapsed_ms} rate={}/s",
        tally.first_function,
        tally.other_functions,
        tally.absent_slots,
        written * 1000 / elapsed_ms.max(1)
    ));
    0
}

/// Makes `count` writes into the mapping of `bytes` at `virt`.
fn burst(virt: usize, bytes: u64, bus: &Bus, mut rng: Rng, count: u64, trace: bool) -> Tally {
    let mut tally = Tally::default();
    for _ in 0..count {
        let write = next_write(&mut rng, bus);
        if write.ecam_offset + write.width.bytes() > bytes {
            continue; // a window smaller than one bus: never write past the mapping
        }
        if trace {
            say(format_args!(
                "trace {:?} ecam+{:#x} {:?} write {:#x}",
                write.aim, write.ecam_offset, write.width, write.value
            ));
        }
        // A write that faults (an abort sluice injected) is counted by the handler.
        access::store(virt + write.ecam_offset as usize, write.width, write.value);
        match write.aim {
            Aim::FirstFunction => tally.first_function += 1,
            Aim::OtherFunction => tally.other_functions += 1,
            Aim::AbsentSlot => tally.absent_slots += 1,
        }
    }
    tally
}
