//! CPU 0's program: read the device tree, set the CPU up, run the checks in order, tally,
//! power off.

use crate::arch::{self, counter, psci, psci_call, ticks_to_us};
use crate::console::say;
use crate::dt::Fdt;
use crate::platform::Platform;
use crate::report::check;
use crate::smp::{PLATFORM, SGI_KICK, SGI_PING, SGI_PONG};
use crate::{bootargs, exception, gic, idregs, ipi, psci_check, report, timer};
use core::sync::atomic::Ordering;

/// The SGIs and PPIs every CPU enables: the three SGIs and the virtual timer.
pub fn irq_enable_mask(p: &Platform) -> u32 {
    1 << SGI_KICK | 1 << SGI_PING | 1 << SGI_PONG | 1u32.checked_shl(p.vtimer_intid).unwrap_or(0)
}

/// The device tree at `dtb`, which stays where the boot loader put it.
fn device_tree(dtb: u64) -> Option<Fdt<'static>> {
    // SAFETY: the boot protocol passes a DTB in RAM that nobody moves or overwrites; its
    // header is 40 bytes and `totalsize` bounds the rest.
    let header = unsafe { core::slice::from_raw_parts(dtb as *const u8, 40) };
    let total = Fdt::total_size(header)?;
    // SAFETY: as above, `total` bytes from the header's own size field.
    Fdt::new(unsafe { core::slice::from_raw_parts(dtb as *const u8, total) })
}

fn phase(name: &str, f: impl FnOnce()) {
    let start = counter();
    f();
    say!(
        "info phase {name} took_ms={}",
        ticks_to_us(counter() - start) / 1000
    );
}

fn hang() -> ! {
    loop {
        arch::wfi();
    }
}

/// Reads the DT, turns on the console, the MMU, FP and the GIC of CPU 0; the options.
fn init(dtb: u64, image: u64, entry_el: u64) -> bootargs::Config {
    let Some(fdt) = device_tree(dtb) else { hang() };
    // Without a console there is nobody to tell: the run times out instead.
    let Ok(p) = Platform::from_fdt(&fdt) else {
        hang()
    };
    crate::console::init(p.uart);
    arch::set_conduit(p.conduit);
    arch::build_identity_map(p.ram);
    arch::mmu_on();
    arch::enable_fp();
    PLATFORM.set(p);
    say!(
        "start entry_el={entry_el} image={image:#x} dtb={dtb:#x} cpus={} conduit={:?} uart={:#x} gicd={:#x} gicr={:#x} vtimer_intid={} counter_hz={}",
        p.cpu_count, p.conduit, p.uart, p.gicd, p.gicr[0].base, p.vtimer_intid, arch::counter_hz()
    );
    let (cfg, bad) = bootargs::parse(p.bootargs);
    if let Some(word) = bad {
        check!(false, "bootargs: cannot read {word}");
    }
    say!(
        "info config rounds={} cycles={} races={}",
        cfg.rounds,
        cfg.cycles,
        cfg.races
    );
    let gic = gic::init_distributor(&p)
        .and_then(|_| gic::init_cpu(&p, 0, arch::mpidr(), irq_enable_mask(&p)));
    if let Err(e) = gic {
        exception::fatal(format_args!("GIC: {e}"));
    }
    cfg
}

/// CPU 0's entry from boot.rs: x0 = DTB, the image's load address, the EL it was entered at.
#[no_mangle]
extern "C" fn vt_primary_main(dtb: u64, image: u64, entry_el: u64) -> ! {
    let cfg = init(dtb, image, entry_el);
    if cfg.bench > 0 {
        phase("bench", || {
            crate::bench::run(crate::smp::platform(), cfg.bench)
        });
        report::done();
        psci_call(psci::SYSTEM_OFF, 0, 0, 0);
        hang()
    }
    if cfg.probe_secs > 0 {
        phase("probe", || crate::probe::run(&cfg));
        report::done();
        psci_call(psci::SYSTEM_OFF, 0, 0, 0);
        hang()
    }
    phase("idregs", idregs::check_all);
    phase("timer", timer::check_all);
    phase("psci-bring-up", psci_check::bring_up);
    phase("ipi", || ipi::check_all(&cfg));
    phase("psci-cycles", || psci_check::off_on_cycles(cfg.cycles));
    phase("psci-race", || psci_check::racing_cpu_on(cfg.races));
    // Last: natively it may cost a CPU.
    phase("psci-bad-entry", psci_check::bad_entry);
    let others = exception::OTHER_IRQS.load(Ordering::Relaxed);
    check!(
        others == 0,
        "no unexpected interrupts: count={others} last_intid={}",
        exception::OTHER_LAST.load(Ordering::Relaxed)
    );
    report::done();
    psci_call(psci::SYSTEM_OFF, 0, 0, 0);
    hang()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    exception::fatal(format_args!("panic: {info}"))
}
