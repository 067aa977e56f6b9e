use super::*;
use crate::platform::Ppi;
use fdt::Fdt;

fn config() -> GuestDtConfig {
    let ppi = |intid| Ppi {
        intid,
        flags: 0xf04,
    };
    GuestDtConfig {
        cpus: [0, 1].to_vec(),
        memory: [PhysRange::new(0x4140_0000, 0x3000_0000)].to_vec(),
        gic: GuestGic {
            dist: PhysRange::new(0x800_0000, 0x1_0000),
            redist: PhysRange::new(0x80a_0000, 0x4_0000),
            its: None,
        },
        timer: TimerIrqs {
            secure_phys: ppi(29),
            nonsecure_phys: ppi(30),
            virt: ppi(27),
            hyp_phys: ppi(26),
        },
        uart: Some(GuestUart {
            base: PhysRange::new(0x900_0000, 0x1000),
            intid: 33,
            clock_hz: 24_000_000,
        }),
        bootargs: String::from("console=ttyAMA0 x=1"),
        initrd: Some(PhysRange::new(0x7000_0000, 0x12345)),
        pci: None,
    }
}

fn cells(value: &[u8]) -> Vec<u32> {
    value
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn generated_tree_parses_back_with_cpus_memory_and_chosen() {
    let blob = build(&config()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let ids: Vec<usize> = fdt.cpus().map(|c| c.ids().first()).collect();
    assert_eq!(ids, [0, 1]);
    let mem = fdt.memory().regions().next().unwrap();
    assert_eq!(
        (mem.starting_address as u64, mem.size),
        (0x4140_0000, Some(0x3000_0000))
    );
    assert_eq!(fdt.chosen().bootargs(), Some("console=ttyAMA0 x=1"));
    assert_eq!(fdt.chosen().stdout().unwrap().name, "pl011@9000000");
    let chosen = fdt.find_node("/chosen").unwrap();
    let start = chosen.property("linux,initrd-start").unwrap().value;
    let end = chosen.property("linux,initrd-end").unwrap().value;
    assert_eq!(u64::from_be_bytes(start.try_into().unwrap()), 0x7000_0000);
    assert_eq!(u64::from_be_bytes(end.try_into().unwrap()), 0x7001_2345);
}

#[test]
fn gic_node_has_distributor_and_redistributor_regions_and_is_the_interrupt_parent() {
    let blob = build(&config()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let gic = fdt.find_compatible(&["arm,gic-v3"]).unwrap();
    let regs: Vec<(u64, Option<usize>)> = gic
        .reg()
        .unwrap()
        .map(|r| (r.starting_address as u64, r.size))
        .collect();
    assert_eq!(
        regs,
        [(0x800_0000, Some(0x1_0000)), (0x80a_0000, Some(0x4_0000))]
    );
    assert!(gic.property("interrupt-controller").is_some());
    assert_eq!(
        gic.property("phandle").unwrap().as_usize(),
        Some(GIC_PHANDLE as usize)
    );
    assert_eq!(
        fdt.root().property("interrupt-parent").unwrap().as_usize(),
        Some(GIC_PHANDLE as usize)
    );
    assert!(gic.children().next().is_none(), "no ITS unless asked for");
}

#[test]
fn its_child_appears_only_when_configured() {
    let mut cfg = config();
    cfg.gic.its = Some(PhysRange::new(0x808_0000, 0x2_0000));
    let blob = build(&cfg).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let its = fdt.find_compatible(&["arm,gic-v3-its"]).unwrap();
    assert!(its.property("msi-controller").is_some());
    assert_eq!(its.property("#msi-cells").unwrap().as_usize(), Some(1));
}

#[test]
fn timer_psci_and_uart_carry_the_right_interrupts_and_method() {
    let blob = build(&config()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let timer = fdt.find_compatible(&["arm,armv8-timer"]).unwrap();
    assert_eq!(
        cells(timer.property("interrupts").unwrap().value),
        [1, 13, 0xf04, 1, 14, 0xf04, 1, 11, 0xf04, 1, 10, 0xf04]
    );
    let psci = fdt.find_compatible(&["arm,psci-1.0"]).unwrap();
    assert_eq!(psci.property("method").unwrap().as_str(), Some("hvc"));
    let uart = fdt.find_compatible(&["arm,pl011"]).unwrap();
    assert_eq!(cells(uart.property("interrupts").unwrap().value), [0, 1, 4]);
    assert_eq!(
        cells(uart.property("clocks").unwrap().value),
        [CLOCK_PHANDLE, CLOCK_PHANDLE]
    );
    let clock = fdt.find_phandle(CLOCK_PHANDLE).unwrap();
    assert_eq!(
        clock.property("clock-frequency").unwrap().as_usize(),
        Some(24_000_000)
    );
}

#[test]
fn host_only_devices_are_absent() {
    let blob = build(&config()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    for compatible in [
        "pci-host-ecam-generic",
        "arm,smmu-v3",
        "qemu,fw-cfg-mmio",
        "virtio,mmio",
        "arm,pl031",
    ] {
        assert!(fdt.find_compatible(&[compatible]).is_none(), "{compatible}");
    }
}

#[test]
fn pci_host_node_has_ecam_windows_and_an_interrupt_map_per_slot() {
    let mut cfg = config();
    cfg.pci = Some(GuestPciHost {
        ecam: PhysRange::new(0x100_0000, 0x10_0000),
        mem32: PhysRange::new(0x8000_0000, 0x1000_0000),
        mem64: PhysRange::new(0x70_0000_0000, 0x10_0000_0000),
        intx: [(0, 1, 36), (1, 1, 37)].to_vec(),
        msi_map: false,
    });
    let blob = build(&cfg).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let pci = fdt.find_compatible(&["pci-host-ecam-generic"]).unwrap();
    assert_eq!(cells(pci.property("bus-range").unwrap().value), [0, 0]);
    let reg = pci.reg().unwrap().next().unwrap();
    assert_eq!(
        (reg.starting_address as u64, reg.size),
        (0x100_0000, Some(0x10_0000))
    );
    assert_eq!(
        cells(pci.property("ranges").unwrap().value),
        [
            0x0200_0000,
            0,
            0x8000_0000,
            0,
            0x8000_0000,
            0,
            0x1000_0000,
            0x4300_0000,
            0x70,
            0,
            0x70,
            0,
            0x10,
            0
        ]
    );
    assert_eq!(
        cells(pci.property("interrupt-map").unwrap().value),
        [
            0,
            0,
            0,
            1,
            GIC_PHANDLE,
            0,
            0,
            0,
            4,
            4,
            0x800,
            0,
            0,
            1,
            GIC_PHANDLE,
            0,
            0,
            0,
            5,
            4
        ]
    );
}

#[test]
fn no_cpus_or_no_memory_is_an_error() {
    let mut cfg = config();
    cfg.cpus.clear();
    assert_eq!(build(&cfg), Err(GuestDtError::NoCpus));
    let mut cfg = config();
    cfg.memory.clear();
    assert_eq!(build(&cfg), Err(GuestDtError::NoMemory));
}

#[test]
fn a_guest_without_initrd_or_uart_has_no_such_properties() {
    let mut cfg = config();
    cfg.initrd = None;
    cfg.uart = None;
    let blob = build(&cfg).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    assert!(fdt
        .find_node("/chosen")
        .unwrap()
        .property("linux,initrd-start")
        .is_none());
    assert!(fdt.find_compatible(&["arm,pl011"]).is_none());
}
