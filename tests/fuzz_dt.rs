//! Fuzz target: the host device-tree parser (`platform::parse`, `platform::console_base`) and
//! the guest DT built from what it finds (`guestdt::build`). Starts from QEMU's real trees
//! (`tests/fixtures/`) and corrupts them: bit flips, byte stores, header fields, truncation,
//! structure tokens, property lengths and name offsets, property values resized with the
//! blob kept consistent around them, cell values, and deep nesting. Every outcome must be Ok
//! or Err, never a panic or a hang (the driver's watchdog catches those); a tree that parses
//! must give a guest DT that parses back, and guest nodes that parse must give a plan
//! (`partition::plan`) or an error, never a panic, and a plan whose guests share nothing.
//! A second case builds host trees with random guest nodes (`fuzz_dt/guests.rs`).

mod fuzz_support;
#[path = "fuzz_dt/guests.rs"]
mod guests;
#[path = "fuzz_dt/mutate.rs"]
mod mutate;

use sluice::guestdt::{self, GuestDtConfig, GuestGic, GuestUart};
use sluice::mm::carve::FreeMemory;
use sluice::mm::PhysRange;
use sluice::partition::{self, HostFunction, HostResources};
use sluice::pci::Bdf;
use sluice::platform::{self, Platform, PlatformError};
use sluice::vpci::topology::Assignment;

/// The fixtures, by name (see tests/fixtures/README.md).
const FIXTURES: [(&str, &[u8]); 4] = [
    ("qemu-virt", include_bytes!("fixtures/qemu-virt.dtb")),
    (
        "qemu-virt-smmuv3",
        include_bytes!("fixtures/qemu-virt-smmuv3.dtb"),
    ),
    (
        "qemu-virt-pcie-no-guest",
        include_bytes!("fixtures/qemu-virt-pcie-no-guest.dtb"),
    ),
    (
        "qemu-virt-two-guests",
        include_bytes!("fixtures/qemu-virt-two-guests.dtb"),
    ),
];

#[test]
fn fixtures_parse_as_qemu_made_them() {
    let plain = platform::parse(FIXTURES[0].1).unwrap();
    assert_eq!(plain.cpus.len(), 2);
    assert!(plain.smmus.is_empty());
    assert_eq!(plain.pci_hosts.len(), 1);
    let smmu = platform::parse(FIXTURES[1].1).unwrap();
    assert_eq!(smmu.smmus.len(), 1);
    assert_eq!(
        platform::parse(FIXTURES[2].1),
        Err(PlatformError::NoKernelModule)
    );
    let guests = platform::parse(FIXTURES[3].1).unwrap();
    assert_eq!(guests.guests.len(), 2);
    check_plan(&guests, "two-guests fixture");
}

#[test]
fn device_tree_parsing_never_panics_on_corrupted_trees() {
    fuzz_support::run("dt", |rng| {
        let (name, original) = rng.pick(&FIXTURES);
        let mut blob = original.to_vec();
        let mut applied = Vec::new();
        for _ in 0..rng.below(4) + 1 {
            applied.push(mutate::any(&mut blob, rng));
        }
        let why = format!("{name} after {applied:?}");
        let _ = platform::console_base(&blob);
        if let Ok(p) = platform::parse(&blob) {
            check_platform(&p, &blob, &why);
            round_trip(&p, &why);
            check_plan(&p, &why);
        }
    });
}

#[test]
fn random_guest_nodes_never_panic_the_parser_or_the_planner() {
    fuzz_support::run("dt", |rng| {
        let blob = guests::host_tree(rng);
        match platform::parse(&blob) {
            Ok(p) => check_plan(&p, "random guest nodes"),
            Err(PlatformError::BadDtb(why)) => panic!("vm-fdt wrote a tree refused: {why}"),
            Err(e) => assert!(!format!("{e}").is_empty()),
        }
    });
}

fn check_platform(p: &Platform, blob: &[u8], why: &str) {
    assert!(!p.cpus.is_empty() && !p.memory.is_empty(), "{why}");
    assert!(p.dtb_size_bytes <= blob.len() as u64, "{why}");
    for host in &p.pci_hosts {
        assert!(host.bus_start <= host.bus_end, "{why}");
    }
}

/// The guest DT sluice would build from what was parsed (as `hyp::vm` builds it) must be a
/// structurally valid tree for both parsers, whatever odd values the host tree carried.
fn round_trip(p: &Platform, why: &str) {
    let cfg = GuestDtConfig {
        cpus: p.cpus.iter().map(|c| c.mpidr).collect(),
        memory: p.memory.clone(),
        gic: GuestGic {
            dist: p.gic.dist,
            redist: PhysRange::new(
                p.gic.redist_regions.first().map_or(0, |r| r.start),
                0x2_0000 * p.cpus.len() as u64,
            ),
            its: p.gic.its.first().copied(),
        },
        timer: p.timer,
        uart: Some(GuestUart {
            base: p.uart.base,
            intid: p.uart.intid,
            clock_hz: p.uart.clock_hz.unwrap_or(guestdt::DEFAULT_UART_CLOCK_HZ),
        }),
        bootargs: p.guest.bootargs.clone(),
        initrd: p.guest.ramdisk,
        pci: None,
    };
    let Ok(guest_blob) = guestdt::build(&cfg) else {
        return; // refused with an error: fine
    };
    assert!(
        fdt::Fdt::new(&guest_blob).is_ok(),
        "{why}: guest DT unreadable"
    );
    let parsed = platform::parse(&guest_blob);
    assert!(
        !matches!(parsed, Err(PlatformError::BadDtb(_))),
        "{why}: sluice's own parser rejects the guest DT: {parsed:?}"
    );
}

/// Plans the guests as the hypervisor would (free RAM: memory less the boot modules), on a
/// bus with a bridge and three endpoints: Ok or Err, and an Ok plan shares nothing.
fn check_plan(p: &Platform, why: &str) {
    let mut free = FreeMemory::new(&p.memory);
    for m in p.boot_modules() {
        free.reserve(m);
    }
    let functions = [
        (Bdf::new(0, 0, 0), false),
        (Bdf::new(0, 1, 0), true),
        (Bdf::new(0, 2, 0), true),
        (Bdf::new(1, 0, 0), true),
    ]
    .map(|(bdf, assignable)| HostFunction { bdf, assignable });
    let host = HostResources {
        cpus: &p.cpus,
        free_ram: free.ranges(),
        functions: &functions,
        max_ram_ranges: 1 + p.cpus.len() % 2,
    };
    let Ok(plan) = partition::plan(&p.guests, &p.guest, &host, &Assignment::All) else {
        return;
    };
    let mut cpus: Vec<usize> = plan.guests.iter().flat_map(|g| g.cpus.clone()).collect();
    let mut pci: Vec<Bdf> = plan.guests.iter().flat_map(|g| g.pci.clone()).collect();
    let ram: Vec<PhysRange> = plan.guests.iter().flat_map(|g| g.ram.clone()).collect();
    let (n_cpus, n_pci) = (cpus.len(), pci.len());
    cpus.sort();
    cpus.dedup();
    pci.sort();
    pci.dedup();
    assert_eq!(
        (cpus.len(), pci.len()),
        (n_cpus, n_pci),
        "{why}: shared CPU or function"
    );
    assert!(
        plan.guests.iter().all(|g| !g.cpus.is_empty()),
        "{why}: guest without CPU"
    );
    for (i, r) in ram.iter().enumerate() {
        assert!(r.start % partition::RAM_ALIGN == 0 && r.size_bytes % partition::RAM_ALIGN == 0);
        assert!(ram[..i].iter().all(|o| !o.overlaps(r)), "{why}: shared RAM");
        assert!(
            p.boot_modules().iter().all(|m| !m.overlaps(r)),
            "{why}: RAM over a module"
        );
    }
}
