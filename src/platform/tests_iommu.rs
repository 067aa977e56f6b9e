//! SMMUv3 nodes, `iommu-map` and `msi-map`: QEMU's own tree, then small trees built here to
//! reach the cases QEMU never produces.
use super::*;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use vm_fdt::FdtWriter;

/// QEMU 10 `virt,virtualization=on,gic-version=3,iommu=smmuv3 -smp 2 -m 1G` with the same two
/// guest-loader modules as `qemu-virt-gicv3.dtb` (dts/qemu-virt-smmuv3.dts is its source form).
const QEMU_VIRT_SMMUV3: &[u8] = include_bytes!("../../dts/qemu-virt-smmuv3.dtb");
const QEMU_VIRT: &[u8] = include_bytes!("../../dts/qemu-virt-gicv3.dtb");

#[test]
fn qemu_smmuv3_node_gives_frame_phandle_named_edge_irqs_and_coherency() {
    let p = parse(QEMU_VIRT_SMMUV3).unwrap();
    let edge = |spi: u32| {
        Some(WiredIrq {
            intid: spi + 32,
            trigger: Trigger::Edge,
        })
    };
    let expected = SmmuNode {
        regs: PhysRange::new(0x905_0000, 0x2_0000),
        phandle: Some(0x8005),
        irqs: SmmuIrqs {
            eventq: edge(0x4a),
            priq: edge(0x4b),
            cmdq_sync: edge(0x4c),
            gerror: edge(0x4d),
            combined: None,
        },
        dma_coherent: true,
        node_path: "/smmuv3@9050000".to_string(),
    };
    assert_eq!(p.smmus, [expected]);
}

#[test]
fn qemu_pcie_iommu_map_sends_each_rid_to_the_smmu_as_its_stream_id() {
    let p = parse(QEMU_VIRT_SMMUV3).unwrap();
    let host = &p.pci_hosts[0];
    let identity = |phandle| IdMapEntry {
        rid_base: 0,
        phandle,
        out_base: 0,
        length: 0x1_0000,
    };
    assert_eq!(host.iommu_map.entries, [identity(0x8005)]);
    assert_eq!(host.iommu_map.mask, u32::MAX);
    assert_eq!(host.msi_map.entries, [identity(0x8004)]);
    let stream = host.iommu_stream(0x0010);
    assert_eq!(
        stream,
        IdMapping::Mapped {
            phandle: 0x8005,
            id: 0x0010
        }
    );
    let IdMapping::Mapped { phandle, .. } = stream else {
        unreachable!()
    };
    assert_eq!(p.smmu_by_phandle(phandle), Some(&p.smmus[0]));
    assert_eq!(
        host.msi_device_id(0x0208),
        IdMapping::Mapped {
            phandle: 0x8004,
            id: 0x0208
        }
    );
}

#[test]
fn a_machine_without_an_smmu_has_none_and_maps_rids_as_before() {
    let p = parse(QEMU_VIRT).unwrap();
    assert!(p.smmus.is_empty());
    let host = &p.pci_hosts[0];
    assert!(host.iommu_map.is_empty());
    assert_eq!(host.iommu_stream(0x0010), IdMapping::Identity(0x0010));
    assert!(
        !host.msi_map.is_empty(),
        "QEMU gives msi-map with or without an SMMU"
    );
}

/// One DT property for [`tree`].
enum Prop {
    Cells(&'static str, Vec<u32>),
    Strings(&'static str, Vec<&'static str>),
}

fn put(w: &mut FdtWriter, props: &[Prop]) {
    for prop in props {
        match prop {
            Prop::Cells(name, cells) => w.property_array_u32(name, cells).unwrap(),
            Prop::Strings(name, list) => {
                let list = list.iter().map(|s| s.to_string()).collect();
                w.property_string_list(name, list).unwrap()
            }
        }
    }
}

const SMMU_PHANDLE: u32 = 0x10;
const ITS_PHANDLE: u32 = 0x20;
const SMMU_PATH: &str = "/smmu@2b400000";
const PCIE_PATH: &str = "/pcie@40000000";

/// The smallest tree `parse` accepts, plus an SMMU and a host bridge with extra properties.
fn tree(smmu: &[Prop], pcie: &[Prop]) -> Vec<u8> {
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    let node = |w: &mut FdtWriter, name: &str, compatible: &str, reg: &[u64]| {
        let n = w.begin_node(name).unwrap();
        if !compatible.is_empty() {
            w.property_string("compatible", compatible).unwrap();
        }
        w.property_array_u64("reg", reg).unwrap();
        n
    };
    let n = node(&mut w, "memory@80000000", "", &[0x8000_0000, 0x4000_0000]);
    w.property_string("device_type", "memory").unwrap();
    w.end_node(n).unwrap();
    let cpus = w.begin_node("cpus").unwrap();
    w.property_u32("#address-cells", 1).unwrap();
    w.property_u32("#size-cells", 0).unwrap();
    let cpu = w.begin_node("cpu@0").unwrap();
    w.property_string("device_type", "cpu").unwrap();
    w.property_u32("reg", 0).unwrap();
    w.end_node(cpu).unwrap();
    w.end_node(cpus).unwrap();
    let n = node(
        &mut w,
        "gic@2f000000",
        "arm,gic-v3",
        &[0x2f00_0000, 0x1_0000, 0x2f10_0000, 0x20_0000],
    );
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    let its = node(
        &mut w,
        "its@2f020000",
        "arm,gic-v3-its",
        &[0x2f02_0000, 0x2_0000],
    );
    w.property_u32("phandle", ITS_PHANDLE).unwrap();
    w.end_node(its).unwrap();
    w.end_node(n).unwrap();
    let n = node(&mut w, "uart@1c090000", "arm,pl011", &[0x1c09_0000, 0x1000]);
    w.property_array_u32("interrupts", &[0, 5, 4]).unwrap();
    w.end_node(n).unwrap();
    let n = w.begin_node("psci").unwrap();
    w.property_string("compatible", "arm,psci-1.0").unwrap();
    w.property_string("method", "smc").unwrap();
    w.end_node(n).unwrap();
    let n = w.begin_node("timer").unwrap();
    w.property_string("compatible", "arm,armv8-timer").unwrap();
    w.property_array_u32("interrupts", &[1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4])
        .unwrap();
    w.end_node(n).unwrap();
    let chosen = w.begin_node("chosen").unwrap();
    let n = node(
        &mut w,
        "module@90000000",
        "multiboot,kernel",
        &[0x9000_0000, 0x100_0000],
    );
    w.end_node(n).unwrap();
    w.end_node(chosen).unwrap();
    let n = node(
        &mut w,
        &SMMU_PATH[1..],
        "arm,smmu-v3",
        &[0x2b40_0000, 0x2_0000],
    );
    put(&mut w, smmu);
    w.end_node(n).unwrap();
    let n = node(
        &mut w,
        &PCIE_PATH[1..],
        "pci-host-ecam-generic",
        &[0x4000_0000, 0x100_0000],
    );
    put(&mut w, pcie);
    w.end_node(n).unwrap();
    w.end_node(root).unwrap();
    w.finish().unwrap()
}

fn malformed(node: &str, property: &'static str) -> PlatformError {
    PlatformError::Malformed {
        node: node.to_string(),
        property,
    }
}

fn smmu_with_phandle() -> Vec<Prop> {
    vec![Prop::Cells("phandle", vec![SMMU_PHANDLE])]
}

#[test]
fn a_level_triggered_combined_interrupt_and_a_non_coherent_smmu_are_reported() {
    let blob = tree(
        &[
            Prop::Cells("interrupts", vec![0, 100, 4]),
            Prop::Strings("interrupt-names", vec!["combined"]),
        ],
        &[],
    );
    let smmu = &parse(&blob).unwrap().smmus[0];
    assert_eq!(smmu.regs, PhysRange::new(0x2b40_0000, 0x2_0000));
    assert_eq!((smmu.phandle, smmu.dma_coherent), (None, false));
    let combined = WiredIrq {
        intid: 132,
        trigger: Trigger::Level,
    };
    assert_eq!(
        smmu.irqs,
        SmmuIrqs {
            combined: Some(combined),
            ..SmmuIrqs::default()
        }
    );
}

#[test]
fn interrupt_names_that_do_not_match_the_interrupts_are_malformed() {
    let blob = tree(
        &[
            Prop::Cells("interrupts", vec![0, 100, 1, 0, 101, 1]),
            Prop::Strings("interrupt-names", vec!["eventq"]),
        ],
        &[],
    );
    assert_eq!(parse(&blob), Err(malformed(SMMU_PATH, "interrupt-names")));
}

#[test]
fn a_ppi_or_falling_edge_smmu_interrupt_is_malformed() {
    for cells in [vec![1, 9, 4], vec![0, 100, 2]] {
        let blob = tree(
            &[
                Prop::Cells("interrupts", cells),
                Prop::Strings("interrupt-names", vec!["gerror"]),
            ],
            &[],
        );
        assert_eq!(parse(&blob), Err(malformed(SMMU_PATH, "interrupts")));
    }
}

#[test]
fn unnamed_smmu_interrupts_are_not_guessed() {
    let blob = tree(&[Prop::Cells("interrupts", vec![0, 100, 1])], &[]);
    assert_eq!(parse(&blob).unwrap().smmus[0].irqs, SmmuIrqs::default());
}

#[test]
fn a_masked_two_entry_iommu_map_is_followed_entry_by_entry() {
    let blob = tree(
        &smmu_with_phandle(),
        &[
            Prop::Cells(
                "iommu-map",
                vec![0, SMMU_PHANDLE, 0x100, 0x100, 0x100, SMMU_PHANDLE, 0, 0x100],
            ),
            Prop::Cells("iommu-map-mask", vec![0xfff8]),
        ],
    );
    let host = &parse(&blob).unwrap().pci_hosts[0];
    assert_eq!(host.iommu_map.mask, 0xfff8);
    let mapped = |id| IdMapping::Mapped {
        phandle: SMMU_PHANDLE,
        id,
    };
    assert_eq!(
        host.iommu_stream(0x0017),
        mapped(0x110),
        "function bits masked"
    );
    assert_eq!(host.iommu_stream(0x0108), mapped(0x008));
    assert_eq!(host.iommu_stream(0x0200), IdMapping::Unmapped);
}

#[test]
fn an_iommu_map_of_the_wrong_length_is_malformed_not_a_panic() {
    for cells in [vec![0, SMMU_PHANDLE, 0], vec![]] {
        let blob = tree(&smmu_with_phandle(), &[Prop::Cells("iommu-map", cells)]);
        assert_eq!(parse(&blob), Err(malformed(PCIE_PATH, "iommu-map")));
    }
}

#[test]
fn an_iommu_map_naming_no_node_is_malformed() {
    let blob = tree(
        &[],
        &[Prop::Cells("iommu-map", vec![0, 0xdead, 0, 0x1_0000])],
    );
    assert_eq!(parse(&blob), Err(malformed(PCIE_PATH, "iommu-map")));
}

#[test]
fn entries_that_can_never_match_or_overflow_are_malformed() {
    let cases = [
        (vec![0x1_0000, SMMU_PHANDLE, 0, 0x10], Some(0xffff)),
        (vec![0, SMMU_PHANDLE, 0, 0], None),
        (vec![0xffff_ff00, SMMU_PHANDLE, 0, 0x101], None),
        (vec![0, SMMU_PHANDLE, 0xffff_fff0, 0x20], None),
    ];
    for (entry, mask) in cases {
        let mut pcie = vec![Prop::Cells("msi-map", entry)];
        if let Some(mask) = mask {
            pcie.push(Prop::Cells("msi-map-mask", vec![mask]));
        }
        let blob = tree(&smmu_with_phandle(), &pcie);
        assert_eq!(parse(&blob), Err(malformed(PCIE_PATH, "msi-map")));
    }
    let whole_space = tree(
        &smmu_with_phandle(),
        &[Prop::Cells(
            "msi-map",
            vec![0, SMMU_PHANDLE, 0, 0xffff_ffff],
        )],
    );
    assert!(parse(&whole_space).is_ok());
}

#[test]
fn a_map_mask_that_is_not_one_cell_is_malformed() {
    let blob = tree(
        &smmu_with_phandle(),
        &[
            Prop::Cells("iommu-map", vec![0, SMMU_PHANDLE, 0, 0x1_0000]),
            Prop::Cells("iommu-map-mask", vec![0xffff, 0]),
        ],
    );
    assert_eq!(parse(&blob), Err(malformed(PCIE_PATH, "iommu-map-mask")));
}

#[test]
fn msi_map_targets_the_its() {
    let blob = tree(
        &[],
        &[Prop::Cells("msi-map", vec![0, ITS_PHANDLE, 0x10, 0x100])],
    );
    let host = &parse(&blob).unwrap().pci_hosts[0];
    assert_eq!(
        host.msi_device_id(0x20),
        IdMapping::Mapped {
            phandle: ITS_PHANDLE,
            id: 0x30
        }
    );
    assert_eq!(host.iommu_stream(0x20), IdMapping::Identity(0x20));
}

#[test]
fn corrupted_smmuv3_blobs_are_errors_not_panics() {
    let mut state = 0x9e37_79b9u32;
    for _ in 0..2000 {
        let mut blob = QEMU_VIRT_SMMUV3.to_vec();
        for _ in 0..4 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let at = (state as usize >> 8) % blob.len();
            blob[at] = (state >> 24) as u8;
        }
        let _ = parse(&blob); // must not panic
    }
}
