use super::*;

/// QEMU 10 `virt,virtualization=on,gic-version=3 -smp 2 -m 1G` with two guest-loader modules
/// (dts/qemu-virt-gicv3.dts is its source form).
const QEMU_VIRT: &[u8] = include_bytes!("../../dts/qemu-virt-gicv3.dtb");
/// The same machine without any guest-loader module.
const QEMU_VIRT_NO_GUEST: &[u8] = include_bytes!("../../dts/qemu-virt-no-guest.dtb");

#[test]
fn qemu_virt_memory_cpus_and_gic_are_found() {
    let p = parse(QEMU_VIRT).unwrap();
    assert_eq!(p.memory, [PhysRange::new(0x4000_0000, 0x4000_0000)]);
    assert_eq!(p.cpus, [Cpu { mpidr: 0 }, Cpu { mpidr: 1 }]);
    assert_eq!(p.gic.dist, PhysRange::new(0x800_0000, 0x1_0000));
    assert_eq!(
        p.gic.redist_regions,
        [PhysRange::new(0x80a_0000, 0xf6_0000)]
    );
    assert_eq!(p.gic.its, [PhysRange::new(0x808_0000, 0x2_0000)]);
    assert_eq!(p.gic.maintenance_intid, 25);
    assert_eq!(
        p.dtb_size_bytes as usize,
        QEMU_VIRT.len().min(p.dtb_size_bytes as usize)
    );
}

#[test]
fn console_is_the_stdout_path_pl011_with_its_spi_and_clock() {
    let p = parse(QEMU_VIRT).unwrap();
    assert_eq!(p.uart.base, PhysRange::new(0x900_0000, 0x1000));
    assert_eq!(p.uart.intid, 33);
    assert_eq!(p.uart.clock_hz, Some(24_000_000));
    assert_eq!(p.uart.path, "/pl011@9000000");
}

#[test]
fn psci_timer_and_pci_host_are_found() {
    let p = parse(QEMU_VIRT).unwrap();
    assert_eq!(p.psci.method, Conduit::Smc);
    assert_eq!(
        (p.timer.secure_phys.intid, p.timer.nonsecure_phys.intid),
        (29, 30)
    );
    assert_eq!((p.timer.virt.intid, p.timer.hyp_phys.intid), (27, 26));
    assert_eq!(p.timer.virt.flags, 4);
    assert_eq!(p.pci_hosts.len(), 1);
    assert_eq!(
        p.pci_hosts[0].ecam,
        PhysRange::new(0x40_1000_0000, 0x1000_0000)
    );
    assert_eq!((p.pci_hosts[0].bus_start, p.pci_hosts[0].bus_end), (0, 255));
}

#[test]
fn pci_host_windows_and_intx_routing_are_decoded() {
    let p = parse(QEMU_VIRT).unwrap();
    let host = &p.pci_hosts[0];
    assert_eq!(host.windows.len(), 3);
    let mem32 = PciWindow {
        space: PciSpace::Mem32,
        prefetchable: false,
        pci_addr: 0x1000_0000,
        cpu: PhysRange::new(0x1000_0000, 0x2eff_0000),
    };
    assert_eq!(host.windows[1], mem32);
    assert_eq!(host.windows[2].space, PciSpace::Mem64);
    assert_eq!(
        host.windows[2].cpu,
        PhysRange::new(0x80_0000_0000, 0x80_0000_0000)
    );
    assert_eq!(host.intx_routes.len(), 16);
    // QEMU virt: slot s pin p raises SPI 3 + (s + p - 1) % 4.
    assert_eq!(host.intx_intid(0, 1), Some(32 + 3));
    assert_eq!(host.intx_intid(1, 1), Some(32 + 4));
    assert_eq!(host.intx_intid(2, 1), Some(32 + 5));
    assert_eq!(
        host.intx_intid(5, 2),
        Some(32 + 5),
        "the mask keeps only device bits 0-1"
    );
}

#[test]
fn guest_loader_modules_give_kernel_ramdisk_and_bootargs() {
    let p = parse(QEMU_VIRT).unwrap();
    assert_eq!(p.guest.kernel, PhysRange::new(0x7c00_0000, 0x64));
    assert_eq!(p.guest.ramdisk, Some(PhysRange::new(0x7e00_0000, 0x64)));
    assert_eq!(p.guest.bootargs, "console=ttyAMA0");
}

#[test]
fn a_tree_without_a_kernel_module_is_refused_naming_multiboot_kernel() {
    let err = parse(QEMU_VIRT_NO_GUEST).unwrap_err();
    assert_eq!(err, PlatformError::NoKernelModule);
    assert!(alloc::format!("{err}").contains("multiboot,kernel"));
    assert_eq!(console_base(QEMU_VIRT_NO_GUEST), Some(0x900_0000));
}

#[test]
fn truncated_or_corrupted_blobs_are_errors_not_panics() {
    assert!(matches!(
        parse(&QEMU_VIRT[..40]),
        Err(PlatformError::BadDtb(_))
    ));
    assert!(matches!(parse(&[0u8; 64]), Err(PlatformError::BadDtb(_))));
    let mut state = 0x1234_5678u32;
    for _ in 0..2000 {
        let mut blob = QEMU_VIRT.to_vec();
        for _ in 0..4 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let at = (state as usize >> 8) % blob.len();
            blob[at] = (state >> 24) as u8;
        }
        let _ = parse(&blob); // must not panic
    }
}

const BEGIN: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;
/// A node name, "n" or "a": one word, NUL-padded.
const NAME_N: u32 = 0x6e00_0000;
const NAME_A: u32 = 0x6100_0000;

/// A blob from structure-block words and a strings block (built by hand: vm-fdt only writes
/// well-formed trees).
fn blob_of(structs: &[u32], strings: &[u8]) -> alloc::vec::Vec<u8> {
    let (header_bytes, reservations) = (40u32, 16u32);
    let off_struct = header_bytes + reservations;
    let off_strings = off_struct + 4 * structs.len() as u32;
    let total = off_strings + strings.len() as u32;
    let header = [
        0xd00d_feed,
        total,
        off_struct,
        off_strings,
        header_bytes,
        17,
        16,
        0,
        strings.len() as u32,
        4 * structs.len() as u32,
    ];
    let mut blob: alloc::vec::Vec<u8> = header.iter().flat_map(|f| f.to_be_bytes()).collect();
    blob.extend([0; 16]);
    blob.extend(structs.iter().flat_map(|w| w.to_be_bytes()));
    blob.extend(strings);
    blob
}

/// A tree whose root holds `levels` nested nodes and nothing else.
fn nested(levels: usize) -> alloc::vec::Vec<u8> {
    let mut words = alloc::vec![BEGIN, 0];
    for _ in 0..levels {
        words.extend([BEGIN, NAME_N]);
    }
    words.extend(core::iter::repeat_n(END_NODE, levels + 1));
    words.push(END);
    blob_of(&words, &[])
}

#[test]
fn nodes_nested_deeper_than_any_real_tree_are_refused_before_the_walk_recurses() {
    assert!(matches!(parse(&nested(20)), Err(PlatformError::NoUart)));
    // Deep enough to overflow the test thread's stack in the recursive walk.
    assert_eq!(
        parse(&nested(100_000)),
        Err(PlatformError::BadDtb("nodes nested too deeply"))
    );
    assert_eq!(console_base(&nested(100_000)), None);
}

#[test]
fn a_property_after_a_child_node_or_a_nop_between_properties_is_refused() {
    let after_child = [
        BEGIN, 0, BEGIN, NAME_A, BEGIN, NAME_N, END_NODE, PROP, 0, 0, END_NODE, END_NODE, END,
    ];
    let nop_between = [
        BEGIN, 0, BEGIN, NAME_A, PROP, 0, 0, NOP, PROP, 0, 0, END_NODE, END_NODE, END,
    ];
    for words in [&after_child[..], &nop_between[..]] {
        let blob = blob_of(words, b"x\0");
        assert!(
            matches!(parse(&blob), Err(PlatformError::BadDtb(_))),
            "{words:?}"
        );
        assert_eq!(console_base(&blob), None);
    }
    let nop_before_end = [
        BEGIN, 0, BEGIN, NAME_A, PROP, 0, 0, NOP, END_NODE, END_NODE, END,
    ];
    assert_eq!(
        parse(&blob_of(&nop_before_end, b"x\0")),
        Err(PlatformError::NoUart),
        "trailing NOPs are walked"
    );
}
