//! Guest nodes read from whole trees: a QEMU tree made by `scripts/mkguestdtb.sh`, and small
//! trees written with vm-fdt to reach each encoding rule.

use super::guests::{CpuRequest, GuestError};
use super::*;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use vm_fdt::FdtWriter;

/// QEMU 10 virt (`-smp 2 -m 1G`, SMMUv3) booted with `-dtb` from `scripts/mkguestdtb.sh`:
/// two guest nodes sharing one kernel and initrd (see tests/fixtures/generate.sh).
const QEMU_TWO_GUESTS: &[u8] = include_bytes!("../../tests/fixtures/qemu-virt-two-guests.dtb");

#[test]
fn qemu_tree_with_two_guest_nodes_gives_both_specs_and_guest_0_as_the_single_guest() {
    let p = parse(QEMU_TWO_GUESTS).unwrap();
    assert_eq!(p.guests.len(), 2);
    let (g0, g1) = (&p.guests[0], &p.guests[1]);
    assert_eq!(
        (g0.node.as_str(), g0.name.as_str()),
        ("/chosen/guest@0", "net0")
    );
    assert_eq!(
        (g1.node.as_str(), g1.name.as_str()),
        ("/chosen/guest@1", "net1")
    );
    assert_eq!(g0.cpus, CpuRequest::Pinned(vec![0]));
    assert_eq!(g1.cpus, CpuRequest::Pinned(vec![1]));
    assert_eq!(g0.pci, [crate::pci::Bdf::new(0, 1, 0)]);
    assert_eq!(g1.pci, [crate::pci::Bdf::new(0, 2, 0)]);
    assert_eq!(
        g0.images.kernel, g1.images.kernel,
        "one kernel image for both"
    );
    assert!(g0.images.bootargs.starts_with("console=ttyAMA0"));
    assert_eq!(p.guest, g0.images);
}

#[test]
fn sluice_own_command_line_is_read_next_to_guest_nodes_and_qemu_nops() {
    // QEMU wrote -append into /chosen of the -dtb tree, whose memory node it left as NOPs.
    let p = parse(QEMU_TWO_GUESTS).unwrap();
    assert_eq!(p.host_bootargs, "sluice.unemulated=stop");
}

/// A host tree with what `parse` needs before it reaches `/chosen` (two CPUs with phandles
/// 0x8002 and 0x8001, like QEMU's), and whatever `chosen` writes inside `/chosen`.
fn host_tree(chosen: impl FnOnce(&mut FdtWriter)) -> Vec<u8> {
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    let node = |w: &mut FdtWriter, name: &str, props: &dyn Fn(&mut FdtWriter)| {
        let n = w.begin_node(name).unwrap();
        props(w);
        w.end_node(n).unwrap();
    };
    node(&mut w, "memory@40000000", &|w| {
        w.property_string("device_type", "memory").unwrap();
        w.property_array_u64("reg", &[0x4000_0000, 0x4000_0000])
            .unwrap();
    });
    let cpus = w.begin_node("cpus").unwrap();
    w.property_u32("#address-cells", 1).unwrap();
    w.property_u32("#size-cells", 0).unwrap();
    for (i, phandle) in [(0u32, 0x8002u32), (1, 0x8001)] {
        node(&mut w, &alloc::format!("cpu@{i}"), &|w| {
            w.property_string("device_type", "cpu").unwrap();
            w.property_u32("reg", i).unwrap();
            w.property_u32("phandle", phandle).unwrap();
        });
    }
    w.end_node(cpus).unwrap();
    node(&mut w, "intc@8000000", &|w| {
        w.property_string("compatible", "arm,gic-v3").unwrap();
        w.property_array_u64("reg", &[0x800_0000, 0x1_0000, 0x80a_0000, 0xf6_0000])
            .unwrap();
    });
    node(&mut w, "pl011@9000000", &|w| {
        w.property_string("compatible", "arm,pl011").unwrap();
        w.property_array_u64("reg", &[0x900_0000, 0x1000]).unwrap();
        w.property_array_u32("interrupts", &[0, 1, 4]).unwrap();
    });
    node(&mut w, "psci", &|w| {
        w.property_string("compatible", "arm,psci-1.0").unwrap();
        w.property_string("method", "smc").unwrap();
    });
    node(&mut w, "timer", &|w| {
        w.property_string("compatible", "arm,armv8-timer").unwrap();
        let irqs = [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4];
        w.property_array_u32("interrupts", &irqs).unwrap();
    });
    let c = w.begin_node("chosen").unwrap();
    chosen(&mut w);
    w.end_node(c).unwrap();
    w.end_node(root).unwrap();
    w.finish().unwrap()
}

/// A module node with the root's cells (as QEMU's guest-loader writes it).
fn module(w: &mut FdtWriter, name: &str, kind: &str, start: u64, bootargs: Option<&str>) {
    let m = w.begin_node(name).unwrap();
    let compatible = vec![kind.to_string(), "multiboot,module".to_string()];
    w.property_string_list("compatible", compatible).unwrap();
    w.property_array_u64("reg", &[start, 0x1000]).unwrap();
    if let Some(args) = bootargs {
        w.property_string("bootargs", args).unwrap();
    }
    w.end_node(m).unwrap();
}

/// `/chosen/guest@i` with `props` and a kernel module.
fn guest(w: &mut FdtWriter, i: u64, props: &dyn Fn(&mut FdtWriter)) {
    let g = w.begin_node(&alloc::format!("guest@{i}")).unwrap();
    w.property_string("compatible", "sluice,guest").unwrap();
    props(w);
    module(w, "kernel", "multiboot,kernel", 0x7c00_0000, Some("quiet"));
    w.end_node(g).unwrap();
}

#[test]
fn modules_directly_under_chosen_stay_the_single_guest_when_no_guest_node_exists() {
    let dtb = host_tree(|w| {
        module(
            w,
            "module@7c000000",
            "multiboot,kernel",
            0x7c00_0000,
            Some("x"),
        );
        module(w, "module@7e000000", "multiboot,ramdisk", 0x7e00_0000, None);
    });
    let p = parse(&dtb).unwrap();
    assert!(p.guests.is_empty());
    assert_eq!(p.guest.kernel, PhysRange::new(0x7c00_0000, 0x1000));
    assert_eq!(p.guest.ramdisk, Some(PhysRange::new(0x7e00_0000, 0x1000)));
    assert_eq!(p.guest.bootargs, "x");
}

#[test]
fn guest_properties_are_decoded_with_the_root_cells_for_modules() {
    let dtb = host_tree(|w| {
        guest(w, 0, &|w| {
            w.property_string("sluice,name", "web").unwrap();
            w.property_u32("cpus", 2).unwrap();
            w.property_array_u32("sluice,cpus", &[0x8001, 0x8002])
                .unwrap();
            w.property_array_u32("memory", &[0, 128 * 1024]).unwrap();
            let pci = vec!["00:01.0".to_string(), "01:00.0".to_string()];
            w.property_string_list("sluice,pci-devices", pci).unwrap();
        });
    });
    let p = parse(&dtb).unwrap();
    let g = &p.guests[0];
    assert_eq!(g.name, "web");
    assert_eq!(
        g.cpus,
        CpuRequest::Pinned(vec![1, 0]),
        "vCPU order is list order"
    );
    assert_eq!(g.memory_bytes, Some(128 << 20));
    assert_eq!(g.pci.len(), 2);
    assert_eq!(g.images.kernel, PhysRange::new(0x7c00_0000, 0x1000));
    assert_eq!(g.images.bootargs, "quiet");
}

#[test]
fn a_one_cell_memory_is_kib_too() {
    let dtb = host_tree(|w| {
        guest(w, 0, &|w| {
            w.property_u32("cpus", 1).unwrap();
            w.property_u32("memory", 4096).unwrap();
        })
    });
    assert_eq!(parse(&dtb).unwrap().guests[0].memory_bytes, Some(4 << 20));
}

#[test]
fn properties_of_the_wrong_length_are_malformed_naming_node_and_property() {
    let cases: [(&str, &[u8]); 6] = [
        ("cpus", &[0, 0, 1]),
        ("cpus", &[0, 0, 0, 1, 0, 0, 0, 1]),
        ("sluice,cpus", &[0, 0, 0x80, 0x01, 0]),
        ("memory", &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ("sluice,pci-devices", b"00:01.0"),
        ("sluice,name", b"a\0b\0"),
    ];
    for (name, value) in cases {
        let dtb = host_tree(|w| guest(w, 0, &|w| w.property(name, value).unwrap()));
        assert_eq!(
            parse(&dtb),
            Err(PlatformError::Malformed {
                node: "/chosen/guest@0".to_string(),
                property: name
            }),
            "{name}"
        );
    }
}

#[test]
fn a_stray_module_next_to_a_guest_node_stops_parsing_with_its_path() {
    let dtb = host_tree(|w| {
        guest(w, 0, &|w| w.property_u32("cpus", 1).unwrap());
        module(w, "module@7e000000", "multiboot,ramdisk", 0x7e00_0000, None);
    });
    let err = parse(&dtb).unwrap_err();
    assert!(matches!(
        err,
        PlatformError::Guest(GuestError::StrayModule { .. })
    ));
    assert!(alloc::format!("{err}").contains("/chosen/module@7e000000: boot module outside"));
}

#[test]
fn a_guest_without_kernel_is_named_rather_than_no_kernel_module() {
    let dtb = host_tree(|w| {
        let g = w.begin_node("vm0").unwrap();
        w.property_string("compatible", "sluice,guest").unwrap();
        w.property_u32("cpus", 1).unwrap();
        w.end_node(g).unwrap();
    });
    assert_eq!(
        parse(&dtb),
        Err(PlatformError::Guest(GuestError::NoKernel {
            node: "/chosen/vm0".to_string()
        }))
    );
}

#[test]
fn a_cpu_phandle_of_another_node_is_refused() {
    let dtb = host_tree(|w| guest(w, 0, &|w| w.property_u32("sluice,cpus", 0x1234).unwrap()));
    assert!(matches!(
        parse(&dtb),
        Err(PlatformError::Guest(GuestError::NotACpu {
            phandle: 0x1234,
            ..
        }))
    ));
}

#[test]
fn a_module_nested_below_a_guest_node_child_is_stray() {
    let dtb = host_tree(|w| {
        guest(w, 0, &|w| {
            w.property_u32("cpus", 1).unwrap();
            let deeper = w.begin_node("extra").unwrap();
            module(w, "initrd", "multiboot,ramdisk", 0x7e00_0000, None);
            w.end_node(deeper).unwrap();
        })
    });
    assert!(matches!(
        parse(&dtb),
        Err(PlatformError::Guest(GuestError::StrayModule { module })) if module == "/chosen/guest@0/extra/initrd"
    ));
}

#[test]
fn nops_between_the_roots_children_are_walked_as_qemu_leaves_them() {
    // The fixture was loaded by QEMU with -dtb: its old memory node became NOPs in place.
    let structs_at = u32::from_be_bytes(QEMU_TWO_GUESTS[8..12].try_into().unwrap()) as usize;
    let words = QEMU_TWO_GUESTS[structs_at..].chunks_exact(4);
    assert!(
        words.filter(|w| *w == [0, 0, 0, 4]).count() > 0,
        "fixture has NOPs"
    );
    assert!(parse(QEMU_TWO_GUESTS).is_ok());
}
