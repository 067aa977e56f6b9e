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

/// A tree whose root holds `levels` nested nodes and nothing else (built by hand: vm-fdt
/// refuses to write deep trees).
fn nested(levels: usize) -> alloc::vec::Vec<u8> {
    let token = |t: u32| t.to_be_bytes();
    let mut structs = alloc::vec::Vec::new();
    structs.extend(token(1).into_iter().chain([0; 4])); // the root, named ""
    for _ in 0..levels {
        structs.extend(token(1).into_iter().chain(*b"n\0\0\0"));
    }
    for _ in 0..=levels {
        structs.extend(token(2));
    }
    structs.extend(token(9));
    let (header_bytes, reservations) = (40u32, 16u32);
    let off_struct = header_bytes + reservations;
    let total = off_struct + structs.len() as u32;
    let header = [
        0xd00d_feed,
        total,
        off_struct,
        total, // strings: empty, at the end
        header_bytes,
        17,
        16,
        0,
        0,
        structs.len() as u32,
    ];
    let mut blob: alloc::vec::Vec<u8> = header.iter().flat_map(|f| f.to_be_bytes()).collect();
    blob.extend([0; 16]);
    blob.extend(structs);
    blob
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
