//! The fuzzing loop: maps every region once through /dev/mem, then until the deadline picks
//! a target, an offset, a width and a value, reads, writes and restores (see `policy`), and
//! counts what it did.

use crate::access::{self, fault_counts};
use crate::discover::{self, Function, MAX_FUNCTIONS};
use crate::dt::{GuestMap, PhysRange};
use crate::policy::{pick_offset, plan_write, Restore, Target, Width};
use crate::rng::Rng;
use crate::rt::{say, Args};
use crate::sys;
use crate::text::parse_u64;

const DEFAULT_SECONDS: u64 = 20;
const PAGE: u64 = 4096;
/// Offsets of the ITS registers the reprogramming sequence touches (IHI 0069 12.19).
const GITS_CTLR: u64 = 0x0;
const GITS_CBASER: u64 = 0x80;
const GITS_CWRITER: u64 = 0x88;
const GITS_BASER0: u64 = 0x100;
/// Accesses made per stray page mapped.
const STRAY_ACCESSES_PER_PAGE: u64 = 4;
/// At most this many MSI-X table/PBA spans are fuzzed.
const MAX_MSIX: usize = 16;

/// A region mapped into this process.
#[derive(Clone, Copy)]
struct Mapped {
    target: Target,
    phys: PhysRange,
    virt: usize,
}

/// How many accesses of each kind were made, and what could not be mapped.
#[derive(Default)]
struct Counters {
    config: u64,
    mmio: u64,
    stray: u64,
    unmappable: u64,
    its_reprograms: u64,
}

struct Fuzzer {
    rng: Rng,
    mem_fd: isize,
    map: GuestMap,
    mmio: [Option<Mapped>; 4 + MAX_MSIX],
    ecam: Option<Mapped>,
    its: Option<Mapped>,
    functions: [Option<Function>; MAX_FUNCTIONS],
    function_count: usize,
    counts: Counters,
    /// Print every write before making it (`guestfuzz SECS SEED trace`): to find, by
    /// replaying a seed, the access after which something went wrong.
    trace: bool,
}

/// Runs the fuzzer with `guestfuzz [SECONDS [SEED|random [trace]]]`; the process's exit status.
pub fn main(args: &Args) -> i32 {
    let seconds = args.get(1).and_then(parse_u64).unwrap_or(DEFAULT_SECONDS);
    let seed = seed_from(args.get(2));
    let Some(mem_fd) = open_dev_mem() else {
        return 1;
    };
    // Printed first: a run that takes the machine down must still be replayable.
    say(format_args!("starting: seed={seed} secs={seconds}"));
    let Some(mut fuzzer) = Fuzzer::new(seed, mem_fd) else {
        return 1;
    };
    fuzzer.trace = args.get(3) == Some(b"trace");
    let started_ns = sys::clock_ns(sys::CLOCK_MONOTONIC);
    fuzzer.run(started_ns, seconds);
    let elapsed_ms = (sys::clock_ns(sys::CLOCK_MONOTONIC) - started_ns) / 1_000_000;
    fuzzer.summary(seed, seconds, elapsed_ms);
    0
}

/// The seed given as an argument, or a new one from the clocks (`random` or none given).
pub fn seed_from(arg: Option<&[u8]>) -> u64 {
    arg.and_then(parse_u64).unwrap_or_else(|| {
        sys::clock_ns(sys::CLOCK_REALTIME) ^ sys::clock_ns(sys::CLOCK_MONOTONIC).rotate_left(32)
    })
}

/// Installs the fault handler and opens /dev/mem for uncached mappings; `None` (said why)
/// if either fails.
pub fn open_dev_mem() -> Option<isize> {
    if !access::install_fault_handler() {
        say(format_args!(
            "FAILED: cannot install the SIGBUS/SIGSEGV handler"
        ));
        return None;
    }
    let mem_fd = sys::open(b"/dev/mem", sys::O_RDWR | sys::O_SYNC);
    if mem_fd < 0 {
        say(format_args!(
            "FAILED: cannot open /dev/mem (error {})",
            -mem_fd
        ));
        return None;
    }
    Some(mem_fd)
}

impl Fuzzer {
    fn new(seed: u64, mem_fd: isize) -> Option<Self> {
        let map = discover::guest_map();
        if map.gicd.size_bytes == 0 {
            say(format_args!(
                "FAILED: no arm,gic-v3 node in /proc/device-tree"
            ));
            return None;
        }
        let mut fuzzer = Self {
            rng: Rng::new(seed),
            mem_fd,
            map,
            mmio: [None; 4 + MAX_MSIX],
            ecam: None,
            its: None,
            functions: [None; MAX_FUNCTIONS],
            function_count: 0,
            counts: Counters::default(),
            trace: false,
        };
        fuzzer.function_count = discover::functions(&mut fuzzer.functions);
        fuzzer.map_regions();
        Some(fuzzer)
    }

    /// Maps every region once; one that cannot be mapped is reported and left out.
    fn map_regions(&mut self) {
        let map = self.map;
        let mut slot = 0;
        let mut add = |s: &mut Self, target, phys: Option<PhysRange>| {
            let mapped = phys.and_then(|p| s.map_one(target, p))?;
            s.mmio[slot] = Some(mapped);
            slot += 1;
            Some(mapped)
        };
        add(self, Target::Gicd, Some(map.gicd));
        add(self, Target::Gicr, Some(map.gicr));
        self.its = add(self, Target::Its, map.its);
        add(self, Target::Uart, map.uart);
        let pages: [Option<PhysRange>; 2 * MAX_FUNCTIONS] =
            core::array::from_fn(|i| self.functions[i / 2].and_then(|f| f.msix_pages[i % 2]));
        for page in pages.iter().flatten().take(MAX_MSIX) {
            add(self, Target::Msix, Some(*page));
        }
        self.ecam = map.ecam.and_then(|e| self.map_one(Target::EcamOwn, e));
        let msix = self
            .mmio
            .iter()
            .flatten()
            .filter(|m| m.target == Target::Msix)
            .count();
        say(format_args!(
            "gicd={:#x} gicr={:#x}+{:#x} its={:#x} uart={:#x} ecam={:#x} functions={} msix_spans={}",
            map.gicd.start,
            map.gicr.start,
            map.gicr.size_bytes,
            map.its.map_or(0, |r| r.start),
            map.uart.map_or(0, |r| r.start),
            map.ecam.map_or(0, |r| r.start),
            self.function_count,
            msix
        ));
    }

    fn map_one(&self, target: Target, phys: PhysRange) -> Option<Mapped> {
        let virt = sys::mmap_shared(self.mem_fd, phys.size_bytes, phys.start);
        if virt < 0 {
            say(format_args!(
                "cannot map {target:?} at {:#x} (error {}): left out",
                phys.start, -virt
            ));
            return None;
        }
        Some(Mapped {
            target,
            phys,
            virt: virt as usize,
        })
    }

    fn run(&mut self, started_ns: u64, seconds: u64) {
        let deadline_ns = started_ns + seconds * 1_000_000_000;
        let mut next_report_ns = started_ns + 10_000_000_000;
        loop {
            for _ in 0..64 {
                self.step();
            }
            let now = sys::clock_ns(sys::CLOCK_MONOTONIC);
            if now >= deadline_ns {
                return;
            }
            if now >= next_report_ns {
                next_report_ns += 10_000_000_000;
                say(format_args!(
                    "{} s: {} accesses",
                    (now - started_ns) / 1_000_000_000,
                    self.total()
                ));
            }
        }
    }

    fn total(&self) -> u64 {
        self.counts.config + self.counts.mmio + self.counts.stray
    }

    /// One fuzzing action: 35% config space, 50% emulated MMIO, 15% a stray page.
    fn step(&mut self) {
        match self.rng.below(100) {
            0..35 => self.config_access(),
            35..85 => self.mmio_access(),
            _ => self.stray_page(),
        }
    }

    /// Read, maybe write a random value, restore; every access counted in `counter`.
    fn access(&mut self, region: Mapped, base: usize, offset: u64, width: Width) -> u64 {
        let original = access::load(base + offset as usize, width);
        let mut made = 1;
        if self.rng.percent(35) {
            return made; // a read alone
        }
        let random = self.rng.interesting_value();
        let Some(plan) = plan_write(region.target, offset, width, original, random) else {
            return made;
        };
        if self.trace {
            say(format_args!(
                "trace t={}us {:?} {:#x} {width:?} read {original:x?} write {:#x} restore {:x?}",
                sys::clock_ns(sys::CLOCK_MONOTONIC) / 1000,
                region.target,
                region.phys.start + (base - region.virt + offset as usize) as u64,
                plan.value,
                plan.restore
            ));
        }
        access::store(base + offset as usize, width, plan.value);
        made += 1;
        if let Restore::Write { offset, value } = plan.restore {
            access::store(base + offset as usize, width, value);
            made += 1;
        }
        made
    }

    fn config_access(&mut self) {
        let Some(ecam) = self.ecam else {
            return self.mmio_access();
        };
        let width = Width::random(&mut self.rng);
        let own = self.function_count > 0 && self.rng.percent(70);
        let (target, function_offset) = if own {
            let f = self.functions[self.rng.below(self.function_count as u64) as usize];
            (Target::EcamOwn, f.map_or(0, |f| f.bdf.ecam_offset()))
        } else {
            (
                Target::EcamAbsent,
                self.absent_function(ecam.phys.size_bytes),
            )
        };
        let region = Mapped { target, ..ecam };
        let offset = pick_offset(&mut self.rng, target, PAGE, width);
        self.counts.config +=
            self.access(region, ecam.virt + function_offset as usize, offset, width);
    }

    /// The ECAM offset of a function the guest does not have (any bus the window covers).
    fn absent_function(&mut self, ecam_bytes: u64) -> u64 {
        loop {
            let offset = self.rng.below(ecam_bytes / PAGE) * PAGE;
            let taken = self.functions[..self.function_count]
                .iter()
                .flatten()
                .any(|f| f.bdf.ecam_offset() == offset);
            if !taken {
                return offset;
            }
        }
    }

    fn mmio_access(&mut self) {
        if self.its.is_some() && self.rng.percent(1) {
            return self.its_reprogram();
        }
        let count = self.mmio.iter().flatten().count() as u64;
        let Some(region) = self.mmio[self.rng.below(count) as usize] else {
            return;
        };
        let width = Width::random(&mut self.rng);
        let offset = pick_offset(&mut self.rng, region.target, region.phys.size_bytes, width);
        self.counts.mmio += self.access(region, region.virt, offset, width);
    }

    /// GITS_CBASER and GITS_BASER<n> only take writes while the ITS is disabled (IHI 0069
    /// 12.19.3), so: disable it, write a random queue or table base (and a random CWRITER),
    /// then put back the base, CWRITER and GITS_CTLR. Rewriting CBASER resets CREADR to 0,
    /// so re-enabling makes sluice replay Linux's own queue up to CWRITER: the same commands
    /// in the same order, which leave the same mappings. Random commands are never run:
    /// the random base is gone before the ITS is enabled again.
    fn its_reprogram(&mut self) {
        let Some(its) = self.its else { return };
        let at = |offset: u64| its.virt + offset as usize;
        let register = [
            GITS_CBASER,
            GITS_BASER0,
            GITS_BASER0 + 8 * (1 + self.rng.below(7)),
        ][self.rng.below(3) as usize];
        let ctlr = access::load(at(GITS_CTLR), Width::Word);
        let old = access::load(at(register), Width::Double);
        let cwriter = access::load(at(GITS_CWRITER), Width::Double);
        let (Some(ctlr), Some(old), Some(cwriter)) = (ctlr, old, cwriter) else {
            return;
        };
        access::store(at(GITS_CTLR), Width::Word, ctlr & !1);
        access::store(at(register), Width::Double, self.rng.interesting_value());
        access::store(at(GITS_CWRITER), Width::Double, self.rng.next_u64());
        access::store(at(register), Width::Double, old);
        access::store(at(GITS_CWRITER), Width::Double, cwriter);
        access::store(at(GITS_CTLR), Width::Word, ctlr);
        self.counts.mmio += 9;
        self.counts.its_reprograms += 1;
    }

    /// Maps one page the DT does not describe and makes a few accesses to it.
    fn stray_page(&mut self) {
        let Some(page) = self.stray_address() else {
            return;
        };
        let virt = sys::mmap_shared(self.mem_fd, PAGE, page);
        if virt < 0 {
            self.counts.unmappable += 1;
            return;
        }
        let region = Mapped {
            target: Target::Stray,
            phys: PhysRange {
                start: page,
                size_bytes: PAGE,
            },
            virt: virt as usize,
        };
        for _ in 0..STRAY_ACCESSES_PER_PAGE {
            let width = Width::random(&mut self.rng);
            let offset = pick_offset(&mut self.rng, Target::Stray, PAGE, width);
            self.counts.stray += self.access(region, region.virt, offset, width);
        }
        sys::munmap(virt as usize, PAGE);
    }

    /// A random page outside everything the DT describes: most below 1 GiB (where QEMU's
    /// virt puts its devices, and sluice's own), then below 4 GiB, 1 TiB and 256 TiB.
    fn stray_address(&mut self) -> Option<u64> {
        for _ in 0..16 {
            let bits = [30, 30, 32, 40, 48][self.rng.below(5) as usize];
            let page = self.rng.below(1 << bits) & !(PAGE - 1);
            if !self.map.describes(page) && !self.map.describes(page + PAGE - 1) {
                return Some(page);
            }
        }
        None
    }

    fn summary(&self, seed: u64, seconds: u64, elapsed_ms: u64) {
        let (faults, alignment) = fault_counts();
        let c = &self.counts;
        say(format_args!(
            "seed={seed} secs={seconds} accesses={} config={} mmio={} stray={} faults={faults} alignment_faults={alignment} unmappable_pages={} its_reprograms={} rate={}/s",
            self.total(),
            c.config,
            c.mmio,
            c.stray,
            c.unmappable,
            c.its_reprograms,
            self.total() * 1000 / elapsed_ms.max(1)
        ));
    }
}
