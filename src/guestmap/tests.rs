use super::*;
use crate::mm::carve::FreeMemory;
use crate::vpci::layout::{GUEST_MEM32_BYTES, GUEST_MEM64_BYTES};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// QEMU virt's GICD, ITS, GICR and UART, as sluice gives them to the guest.
const DEVICES: [PhysRange; 4] = [
    PhysRange::new(0x800_0000, 0x1_0000),
    PhysRange::new(0x808_0000, 0x2_0000),
    PhysRange::new(0x80a_0000, 0xf6_0000),
    PhysRange::new(0x900_0000, 0x1000),
];
/// QEMU virt's 32-bit window, I/O window, high ECAM and 64-bit window.
const HOST_PCI: [PhysRange; 4] = [
    PhysRange::new(0x1000_0000, 0x2eff_0000),
    PhysRange::new(0x3eff_0000, 0x1_0000),
    PhysRange::new(0x40_1000_0000, 0x1000_0000),
    PhysRange::new(0x80_0000_0000, 0x80_0000_0000),
];
/// The e1000e's and virtio-net's BARs as sluice assigns them.
const HOST_BARS: [PhysRange; 3] = [
    PhysRange::new(0x1000_0000, 0x4_4000),
    PhysRange::new(0x100c_0000, 0x1000),
    PhysRange::new(0x80_0000_0000, 0x4000),
];

/// What sluice carves on QEMU virt with `-m ram`: RAM from 1 GiB, minus the hypervisor and
/// its heap (20 MiB) at the bottom and the boot modules (64 MiB) at the top.
fn carved(ram: u64) -> (PhysRange, PhysRange) {
    let bank = PhysRange::new(GIB, ram);
    let start = GIB + 20 * MIB;
    let end = (GIB + ram - 64 * MIB) & !(BANK_ALIGN - 1);
    (bank, PhysRange::new(start, end - start))
}

fn plan_for(
    host: PhysRange,
    bank: PhysRange,
    placement: Placement,
    ipa_bits: u8,
) -> Result<GuestMap> {
    plan(&Request {
        host_ram: &[host],
        placement,
        devices: &DEVICES,
        host_pci: &HOST_PCI,
        host_bars: &HOST_BARS,
        host_memory: &[bank],
        ipa_bits,
        with_pci: true,
    })
}

/// Everything a map must hold whatever its size: all the RAM, banks apart from each other and
/// from devices and PCI windows, translated banks 2 MiB aligned and none at its host address.
fn check(map: &GuestMap, host: PhysRange, bank: PhysRange, placement: Placement) {
    let banks = map.ram.banks();
    let mut hypervisor = FreeMemory::new(&[bank]);
    hypervisor.reserve(host);
    assert_eq!(
        map.ram.size_bytes(),
        host.size_bytes,
        "all of the RAM is placed"
    );
    let pci = map.pci.expect("a PCI layout");
    let mut used: Vec<PhysRange> = DEVICES.into();
    used.extend([pci.ecam, pci.mem32, pci.mem64]);
    for (i, b) in banks.iter().enumerate() {
        for u in &used {
            assert!(!b.ipa.overlaps(u), "bank {} overlaps {u}", b.ipa);
        }
        for other in &banks[i + 1..] {
            assert!(!b.ipa.overlaps(&other.ipa) && !b.host().overlaps(&other.host()));
        }
        assert!(host.contains_span(b.host_start, b.ipa.size_bytes));
        if placement == Placement::Translated {
            assert_eq!(b.ipa.start % BANK_ALIGN, 0);
            assert!(!b.is_identity(), "bank {} at its host address", b.ipa);
            for h in hypervisor.ranges() {
                assert!(
                    !b.ipa.overlaps(h),
                    "bank {} over sluice's memory {h}",
                    b.ipa
                );
            }
            let low = b.ipa.end_exclusive().unwrap() <= LOW_RAM_END;
            assert!(
                low || b.ipa.start >= FOUR_GIB,
                "bank {} in the 32-bit hole",
                b.ipa
            );
        }
    }
    assert!(pci.mem32.end_exclusive().unwrap() <= FOUR_GIB);
    assert!(pci.ecam.end_exclusive().unwrap() <= FOUR_GIB);
    assert!(!pci.ecam.overlaps(&pci.mem32));
    assert_eq!(placement == Placement::Identity, map.ram.is_identity());
}

#[test]
fn small_translated_ram_is_one_bank_above_the_hosts_ram() {
    for ram in [256 * MIB, 511 * MIB, GIB] {
        let (bank, host) = carved(ram);
        let map = plan_for(host, bank, Placement::Translated, 40).unwrap();
        check(&map, host, bank, Placement::Translated);
        let start = (GIB + ram).next_multiple_of(BANK_ALIGN);
        assert_eq!(
            map.ram.ipa_ranges(),
            [PhysRange::new(start, host.size_bytes)]
        );
        assert!(!map.pci_on_host_windows);
    }
}

#[test]
fn translated_ram_past_three_gib_continues_above_four_gib() {
    for ram in [3 * GIB, 4 * GIB, 8 * GIB, 8 * GIB + 6 * MIB, 16 * GIB] {
        let (bank, host) = carved(ram);
        let map = plan_for(host, bank, Placement::Translated, 40).unwrap();
        check(&map, host, bank, Placement::Translated);
        let low = PhysRange::new(
            host.start + BANK_ALIGN,
            LOW_RAM_END - host.start - BANK_ALIGN,
        );
        assert_eq!(
            map.ram.first_ipa(),
            low,
            "{} MiB: the kernel's bank",
            ram >> 20
        );
        assert_eq!(map.ram.banks()[1].ipa.start, FOUR_GIB);
        let pci = map.pci.unwrap();
        assert_eq!(pci.mem32, PhysRange::new(LOW_RAM_END, GUEST_MEM32_BYTES));
        assert_eq!(pci.mem64, PhysRange::new(0x70_0000_0000, GUEST_MEM64_BYTES));
        assert!(!map.pci_on_host_windows);
    }
}

#[test]
fn identity_ram_that_fills_the_32_bit_space_takes_the_hosts_window_addresses() {
    for ram in [3 * GIB, 4 * GIB, 8 * GIB] {
        let (bank, host) = carved(ram);
        let map = plan_for(host, bank, Placement::Identity, 40).unwrap();
        check(&map, host, bank, Placement::Identity);
        assert_eq!(map.ram.ipa_ranges(), [host]);
        assert!(map.pci_on_host_windows, "{} MiB", ram >> 20);
        let pci = map.pci.unwrap();
        assert_eq!(pci.mem32, PhysRange::new(0x2000_0000, GUEST_MEM32_BYTES));
        assert!(
            HOST_BARS.iter().all(|b| !pci.mem32.overlaps(b)),
            "never on host BARs"
        );
        assert!(
            !pci.ecam.overlaps(&HOST_PCI[0]),
            "ECAM fits below the window"
        );
        assert!(HOST_PCI.iter().all(|h| !pci.mem64.overlaps(h)));
    }
}

#[test]
fn identity_ram_of_one_gib_keeps_clear_of_the_host_windows() {
    let (bank, host) = carved(GIB);
    let map = plan_for(host, bank, Placement::Identity, 40).unwrap();
    check(&map, host, bank, Placement::Identity);
    assert!(!map.pci_on_host_windows);
    let pci = map.pci.unwrap();
    assert!(HOST_PCI.iter().all(|h| !pci.mem32.overlaps(h)));
    assert!(
        !pci.mem32.overlaps(&bank),
        "nor on host RAM outside the guest's"
    );
}

#[test]
fn host_ram_above_four_gib_is_seen_from_one_gib_when_translated() {
    let bank = PhysRange::new(0x8_0000_0000, 4 * GIB);
    let host = PhysRange::new(0x8_0140_0000, 4 * GIB - 84 * MIB);
    let map = plan_for(host, bank, Placement::Translated, 40).unwrap();
    check(&map, host, bank, Placement::Translated);
    assert_eq!(map.ram.first_ipa(), PhysRange::new(GIB, 2 * GIB));
    assert_eq!(map.ram.banks()[1].ipa.start, FOUR_GIB);
    let map = plan_for(host, bank, Placement::Identity, 40).unwrap();
    check(&map, host, bank, Placement::Identity);
    assert!(!map.pci_on_host_windows, "the low 4 GiB are free");
}

#[test]
fn translated_ram_never_lands_on_its_own_host_address() {
    let host = PhysRange::new(GIB, 512 * MIB);
    let bank = host; // the guest's RAM is all of the host's
    let map = plan_for(host, bank, Placement::Translated, 40).unwrap();
    check(&map, host, bank, Placement::Translated);
    assert_eq!(map.ram.first_ipa().start, GIB + BANK_ALIGN);
    assert_eq!(
        map.ram.banks().len(),
        1,
        "the IPA after the host range was free"
    );
}

#[test]
fn sluices_memory_around_the_guests_is_skipped_and_the_rest_placed_further_up() {
    let (bank, host) = carved(2 * GIB);
    let map = plan_for(host, bank, Placement::Translated, 40).unwrap();
    check(&map, host, bank, Placement::Translated);
    let banks = map.ram.banks();
    assert_eq!(banks.len(), 2);
    assert_eq!(banks[0].ipa.start, host.start + BANK_ALIGN);
    assert_eq!(banks[0].ipa.end_exclusive(), host.end_exclusive());
    assert_eq!(
        banks[1].ipa,
        PhysRange::new(FOUR_GIB, BANK_ALIGN),
        "above the hole"
    );
    assert_eq!(
        banks[1].host_start,
        host.end_exclusive().unwrap() - BANK_ALIGN
    );
}

#[test]
fn several_host_pieces_are_placed_in_order() {
    let pieces = [
        PhysRange::new(0x4140_0000, GIB),
        PhysRange::new(0x1_0000_0000, 2 * GIB),
    ];
    let map = plan(&Request {
        host_ram: &pieces,
        placement: Placement::Translated,
        devices: &DEVICES,
        host_pci: &HOST_PCI,
        host_bars: &[],
        host_memory: &pieces,
        ipa_bits: 40,
        with_pci: false,
    })
    .unwrap();
    assert_eq!(map.pci, None);
    let banks = map.ram.banks();
    assert_eq!(banks.len(), 3);
    assert_eq!(
        (banks[0].ipa, banks[0].host_start),
        (PhysRange::new(GIB, GIB), 0x4140_0000)
    );
    assert_eq!(
        (banks[1].ipa, banks[1].host_start),
        (PhysRange::new(2 * GIB, GIB), 0x1_0000_0000)
    );
    assert_eq!(
        (banks[2].ipa, banks[2].host_start),
        (PhysRange::new(FOUR_GIB, GIB), 0x1_4000_0000)
    );
}

#[test]
fn ram_beyond_the_ipa_space_is_a_clear_error() {
    let (bank, host) = carved(4 * GIB);
    let err = plan_for(host, bank, Placement::Translated, 32).unwrap_err();
    assert!(matches!(
        err,
        MapError::IpaSpace { placed_bytes, ipa_bits: 32, .. } if placed_bytes < 2 * GIB
    ));
    assert!(alloc::format!("{err}").contains("32-bit guest address space"));
    let (bank, host) = carved(8 * GIB);
    assert!(matches!(
        plan_for(host, bank, Placement::Identity, 32),
        Err(MapError::IpaSpace {
            placed_bytes: 0,
            ..
        })
    ));
}

#[test]
fn no_room_for_the_64_bit_window_is_a_pci_error() {
    let (bank, host) = carved(GIB);
    assert!(matches!(
        plan_for(host, bank, Placement::Translated, 34),
        Err(MapError::Pci(_))
    ));
}

#[test]
fn free_space_skips_obstacles_and_aligns_them_outwards() {
    let avoid = [
        PhysRange::new(0x30_1000, 0x1000),
        PhysRange::new(0x80_0000, 0x20_0000),
    ];
    assert_eq!(
        free_space(&avoid, 0, 0x100_0000),
        [
            PhysRange::new(0, 0x20_0000),
            PhysRange::new(0x40_0000, 0x40_0000),
            PhysRange::new(0xa0_0000, 0x60_0000)
        ]
    );
    assert_eq!(free_space(&[PhysRange::new(0, u64::MAX)], 0, 1 << 40), []);
}
