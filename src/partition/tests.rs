use super::*;
use crate::platform::CpuRequest;
use alloc::format;
use alloc::vec;

const MIB: u64 = 1 << 20;
/// QEMU virt with `-smp 4`: four CPUs, MPIDRs 0..3.
const CPUS: [Cpu; 4] = [
    Cpu { mpidr: 0 },
    Cpu { mpidr: 1 },
    Cpu { mpidr: 2 },
    Cpu { mpidr: 3 },
];
/// The demo's bus: the host bridge, the e1000e, the virtio NIC, a root port and what is
/// behind it.
const FUNCTIONS: [HostFunction; 5] = [
    HostFunction {
        bdf: Bdf::new(0, 0, 0),
        assignable: false,
    },
    HostFunction {
        bdf: Bdf::new(0, 1, 0),
        assignable: true,
    },
    HostFunction {
        bdf: Bdf::new(0, 2, 0),
        assignable: true,
    },
    HostFunction {
        bdf: Bdf::new(0, 3, 0),
        assignable: false,
    },
    HostFunction {
        bdf: Bdf::new(1, 0, 0),
        assignable: true,
    },
];
/// 1 GiB at 0x4000_0000 less sluice's image and heap (low) and the modules (high).
const FREE: [PhysRange; 1] = [PhysRange::new(0x4140_0000, 0x7c00_0000 - 0x4140_0000)];

fn host() -> HostResources<'static> {
    HostResources {
        cpus: &CPUS,
        free_ram: &FREE,
        functions: &FUNCTIONS,
        max_ram_ranges: 1,
    }
}

fn images() -> GuestImages {
    GuestImages {
        kernel: PhysRange::new(0x7c00_0000, 30 * MIB),
        bootargs: "console=ttyAMA0".into(),
        ramdisk: Some(PhysRange::new(0x7e00_0000, 20 * MIB)),
    }
}

fn spec(i: usize, cpus: CpuRequest, mib: Option<u64>, pci: &[Bdf]) -> GuestSpec {
    GuestSpec {
        node: format!("/chosen/guest@{i}"),
        name: format!("net{i}"),
        cpus,
        memory_bytes: mib.map(|m| m * MIB),
        pci: pci.to_vec(),
        images: images(),
    }
}

#[test]
fn without_guest_nodes_one_guest_gets_every_cpu_every_endpoint_and_the_largest_ram() {
    let plan = plan(&[], &images(), &host(), &Assignment::All).unwrap();
    assert_eq!(plan.guests.len(), 1);
    let g = &plan.guests[0];
    assert_eq!(
        (g.name.as_str(), g.node.as_deref()),
        (DEFAULT_GUEST_NAME, None)
    );
    assert_eq!(g.cpus, [0, 1, 2, 3]);
    assert_eq!(
        g.pci,
        [Bdf::new(0, 1, 0), Bdf::new(0, 2, 0), Bdf::new(1, 0, 0)]
    );
    assert_eq!(
        g.ram, FREE,
        "what FreeMemory::take_largest gave before guest nodes"
    );
    assert_eq!(g.images, images());
}

#[test]
fn without_guest_nodes_sluice_pci_still_selects_the_functions() {
    let only = Assignment::Only(vec![Bdf::new(0, 2, 0), Bdf::new(0, 3, 0)]);
    let plan = plan(&[], &images(), &host(), &only).unwrap();
    assert_eq!(plan.guests[0].pci, [Bdf::new(0, 2, 0)], "never a bridge");
    let none = super::plan(&[], &images(), &host(), &Assignment::None).unwrap();
    assert!(none.guests[0].pci.is_empty());
}

#[test]
fn the_two_guest_demo_gives_each_guest_its_cpu_its_nic_and_half_the_ram() {
    let specs = [
        spec(0, CpuRequest::Pinned(vec![0]), None, &[Bdf::new(0, 1, 0)]),
        spec(1, CpuRequest::Pinned(vec![1]), None, &[Bdf::new(0, 2, 0)]),
    ];
    let plan = plan(&specs, &images(), &host(), &Assignment::All).unwrap();
    let (g0, g1) = (&plan.guests[0], &plan.guests[1]);
    assert_eq!(
        (g0.cpus.as_slice(), g1.cpus.as_slice()),
        (&[0][..], &[1][..])
    );
    assert_eq!(
        (g0.name.as_str(), g0.node.as_deref()),
        ("net0", Some("/chosen/guest@0"))
    );
    assert_eq!(g0.ram.len(), 1);
    assert_eq!(g0.ram[0].size_bytes, g1.ram[0].size_bytes);
    assert!(!g0.ram[0].overlaps(&g1.ram[0]));
    let half = FREE[0].size_bytes / 2 / RAM_ALIGN * RAM_ALIGN;
    assert_eq!(g0.ram[0].size_bytes, half);
    assert_eq!(plan.guest_of_cpu(1), Some(1));
    assert_eq!(
        plan.guest_of_cpu(2),
        None,
        "CPUs no guest owns stay in sluice"
    );
    assert_eq!(plan.guest_of_function(Bdf::new(0, 2, 0)), Some(1));
    assert_eq!(plan.guest_of_function(Bdf::new(1, 0, 0)), None);
    assert_eq!(plan.guest_of_ram(g1.ram[0].start), Some(1));
    assert_eq!(plan.guest_of_ram(0x4000_0000), None);
}

#[test]
fn three_guests_with_counts_sizes_and_shares_partition_everything() {
    let specs = [
        spec(0, CpuRequest::Count(2), Some(256), &[Bdf::new(0, 1, 0)]),
        spec(1, CpuRequest::Pinned(vec![3]), None, &[Bdf::new(0, 2, 0)]),
        spec(2, CpuRequest::Count(1), None, &[Bdf::new(1, 0, 0)]),
    ];
    let plan = plan(&specs, &images(), &host(), &Assignment::All).unwrap();
    let cpus: Vec<&[usize]> = plan.guests.iter().map(|g| g.cpus.as_slice()).collect();
    assert_eq!(cpus, [&[0, 1][..], &[3], &[2]]);
    assert_eq!(
        plan.vcpu_of_cpu(1),
        Some((0, 1)),
        "CPU 1 runs guest 0's vCPU 1"
    );
    assert_eq!(plan.vcpu_of_cpu(2), Some((2, 0)));
    assert_eq!(plan.guests[0].ram[0].size_bytes, 256 * MIB);
    let share = plan.guests[1].ram[0].size_bytes;
    assert_eq!(share, plan.guests[2].ram[0].size_bytes);
    assert!(FREE[0].size_bytes - 256 * MIB - 2 * share < 2 * RAM_ALIGN);
    let all: Vec<PhysRange> = plan.guests.iter().flat_map(|g| g.ram.clone()).collect();
    for (i, r) in all.iter().enumerate() {
        assert!(FREE[0].contains_span(r.start, r.size_bytes));
        assert!(r.start % RAM_ALIGN == 0 && r.size_bytes % RAM_ALIGN == 0);
        assert!(all[..i].iter().all(|o| !o.overlaps(r)));
    }
}

#[test]
fn sluice_pci_next_to_guest_nodes_is_refused() {
    let specs = [spec(0, CpuRequest::Count(1), None, &[])];
    let only = Assignment::Only(vec![Bdf::new(0, 1, 0)]);
    assert_eq!(
        plan(&specs, &images(), &host(), &only),
        Err(PartitionError::PciOptionWithGuestNodes)
    );
}

#[test]
fn a_function_the_host_does_not_have_or_a_bridge_is_refused_naming_the_node() {
    let absent = [spec(0, CpuRequest::Count(1), None, &[Bdf::new(0, 9, 0)])];
    let e = plan(&absent, &images(), &host(), &Assignment::All).unwrap_err();
    assert_eq!(
        format!("{e}"),
        "/chosen/guest@0: pci 00:09.0 is not a function found on the host"
    );
    let bridge = [spec(0, CpuRequest::Count(1), None, &[Bdf::new(0, 3, 0)])];
    let e = plan(&bridge, &images(), &host(), &Assignment::All).unwrap_err();
    assert!(matches!(e, PartitionError::NotAssignable { .. }));
}

#[test]
fn a_function_given_to_two_guests_is_refused_even_if_unchecked_specs_say_so() {
    let specs = [
        spec(0, CpuRequest::Count(1), None, &[Bdf::new(0, 1, 0)]),
        spec(1, CpuRequest::Count(1), None, &[Bdf::new(0, 1, 0)]),
    ];
    let e = plan(&specs, &images(), &host(), &Assignment::All).unwrap_err();
    assert_eq!(
        format!("{e}"),
        "/chosen/guest@1: pci 00:01.0 is already owned by /chosen/guest@0"
    );
}

#[test]
fn not_enough_ram_for_every_guest_is_refused_naming_one_that_did_not_fit() {
    let specs = [
        spec(0, CpuRequest::Count(1), Some(600), &[]),
        spec(1, CpuRequest::Count(1), Some(400), &[]),
    ];
    let e = plan(&specs, &images(), &host(), &Assignment::All).unwrap_err();
    assert!(
        matches!(e, PartitionError::NotEnoughRam { node, wanted_bytes, .. }
        if node == "/chosen/guest@1" && wanted_bytes == 400 * MIB)
    );
}

#[test]
fn a_guest_ram_smaller_than_its_images_is_refused() {
    let specs = [spec(0, CpuRequest::Count(1), Some(32), &[])];
    let e = plan(&specs, &images(), &host(), &Assignment::All).unwrap_err();
    assert_eq!(
        format!("{e}"),
        "/chosen/guest@0: 32 MiB of RAM cannot hold its kernel and initrd (52428800 bytes)"
    );
}

#[test]
fn no_free_ram_at_all_is_an_error_for_the_single_guest() {
    let tiny = [PhysRange::new(0x4000_1000, 0x1000)];
    let host = HostResources {
        free_ram: &tiny,
        ..host()
    };
    assert_eq!(
        plan(&[], &images(), &host, &Assignment::All),
        Err(PartitionError::NoRam)
    );
}

/// The tree `scripts/mkguestdtb.sh` makes for the demo, parsed, then planned as the
/// hypervisor would: free RAM is the DT's memory less the boot modules (and sluice's image).
#[test]
fn the_demo_tree_parses_and_plans_end_to_end() {
    let dtb = include_bytes!("../../tests/fixtures/qemu-virt-two-guests.dtb");
    let p = crate::platform::parse(dtb).unwrap();
    let mut free = FreeMemory::new(&p.memory);
    free.reserve(PhysRange::new(0x4000_0000, 20 * MIB));
    for m in p.boot_modules() {
        free.reserve(m);
    }
    let host = HostResources {
        cpus: &p.cpus,
        free_ram: free.ranges(),
        functions: &FUNCTIONS,
        max_ram_ranges: 1,
    };
    let plan = plan(&p.guests, &p.guest, &host, &Assignment::All).unwrap();
    let g = &plan.guests;
    assert_eq!((g[0].name.as_str(), g[1].name.as_str()), ("net0", "net1"));
    assert_eq!(
        (g[0].cpus.as_slice(), g[1].cpus.as_slice()),
        (&[0][..], &[1][..])
    );
    assert_eq!(g[1].ram[0].size_bytes, 256 * MIB);
    assert!(g[0].ram[0].size_bytes > 256 * MIB, "guest 0 gets the rest");
    assert!(g
        .iter()
        .flat_map(|g| &g.ram)
        .all(|r| p.boot_modules().iter().all(|m| !m.overlaps(r))));
}
