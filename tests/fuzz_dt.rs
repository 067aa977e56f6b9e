//! Fuzz target: the host device-tree parser (`platform::parse`, `platform::console_base`) and
//! the guest DT built from what it finds (`guestdt::build`). Starts from QEMU's real trees
//! (`tests/fixtures/`) and corrupts them: bit flips, byte stores, header fields, truncation,
//! structure tokens, property lengths and name offsets, property values resized with the
//! blob kept consistent around them, cell values, and deep nesting. Every outcome must be Ok
//! or Err, never a panic or a hang (the driver's watchdog catches those); a tree that parses
//! must give a guest DT that parses back.

mod fuzz_support;
#[path = "fuzz_dt/mutate.rs"]
mod mutate;

use sluice::guestdt::{self, GuestDtConfig, GuestGic, GuestUart};
use sluice::mm::PhysRange;
use sluice::platform::{self, Platform, PlatformError};

/// The fixtures, by name (see tests/fixtures/README.md).
const FIXTURES: [(&str, &[u8]); 3] = [
    ("qemu-virt", include_bytes!("fixtures/qemu-virt.dtb")),
    (
        "qemu-virt-smmuv3",
        include_bytes!("fixtures/qemu-virt-smmuv3.dtb"),
    ),
    (
        "qemu-virt-pcie-no-guest",
        include_bytes!("fixtures/qemu-virt-pcie-no-guest.dtb"),
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
