//! Random `/chosen` contents for the DT fuzz target: guest nodes (`dts/guests.md`) whose
//! properties are sometimes right, sometimes of the wrong length, sometimes random bytes;
//! module nodes of every kind inside them, nested deeper, or stray; then the host tree
//! around them that `platform::parse` needs to reach `/chosen`.

use crate::fuzz_support::Rng;
use vm_fdt::FdtWriter;

/// Phandles of the two CPU nodes (as QEMU numbers them).
pub const CPU_PHANDLES: [u32; 2] = [0x8002, 0x8001];

/// A whole host tree with random `/chosen` contents.
pub fn host_tree(rng: &mut Rng) -> Vec<u8> {
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    fixed_nodes(&mut w);
    let chosen = w.begin_node("chosen").unwrap();
    if rng.one_in(12) {
        let cells = rng.pick(&[0u32, 1, 2, 3]);
        w.property_u32("#address-cells", cells).unwrap();
    }
    for i in 0..rng.below(5) {
        if rng.one_in(12) {
            module(&mut w, rng, &format!("module@{i}"));
        } else {
            guest(&mut w, rng, i);
        }
    }
    w.end_node(chosen).unwrap();
    w.end_node(root).unwrap();
    w.finish().unwrap()
}

/// Memory, two CPUs with phandles, GICv3, PL011, PSCI and the timer.
fn fixed_nodes(w: &mut FdtWriter) {
    let memory = w.begin_node("memory@40000000").unwrap();
    w.property_string("device_type", "memory").unwrap();
    w.property_array_u64("reg", &[0x4000_0000, 0x4000_0000])
        .unwrap();
    w.end_node(memory).unwrap();
    let cpus = w.begin_node("cpus").unwrap();
    w.property_u32("#address-cells", 1).unwrap();
    w.property_u32("#size-cells", 0).unwrap();
    for (i, phandle) in CPU_PHANDLES.iter().enumerate() {
        let cpu = w.begin_node(&format!("cpu@{i}")).unwrap();
        w.property_string("device_type", "cpu").unwrap();
        w.property_u32("reg", i as u32).unwrap();
        w.property_u32("phandle", *phandle).unwrap();
        w.end_node(cpu).unwrap();
    }
    w.end_node(cpus).unwrap();
    let gic = w.begin_node("intc@8000000").unwrap();
    w.property_string("compatible", "arm,gic-v3").unwrap();
    w.property_array_u64("reg", &[0x800_0000, 0x1_0000, 0x80a_0000, 0xf6_0000])
        .unwrap();
    w.end_node(gic).unwrap();
    let uart = w.begin_node("pl011@9000000").unwrap();
    w.property_string("compatible", "arm,pl011").unwrap();
    w.property_array_u64("reg", &[0x900_0000, 0x1000]).unwrap();
    w.property_array_u32("interrupts", &[0, 1, 4]).unwrap();
    w.end_node(uart).unwrap();
    let psci = w.begin_node("psci").unwrap();
    w.property_string("compatible", "arm,psci-1.0").unwrap();
    w.property_string("method", "smc").unwrap();
    w.end_node(psci).unwrap();
    let timer = w.begin_node("timer").unwrap();
    w.property_string("compatible", "arm,armv8-timer").unwrap();
    let irqs = [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4];
    w.property_array_u32("interrupts", &irqs).unwrap();
    w.end_node(timer).unwrap();
}

/// A value for property `name`: usually well formed, sometimes random bytes.
fn value(rng: &mut Rng, name: &str) -> Vec<u8> {
    if rng.one_in(24) {
        let mut bytes = vec![0u8; rng.index(20)];
        rng.fill(&mut bytes);
        return bytes;
    }
    let cells = |v: &[u32]| v.iter().flat_map(|c| c.to_be_bytes()).collect::<Vec<u8>>();
    match name {
        "cpus" => cells(&[rng.pick(&[0, 1, 1, 1, 2, 3, u32::MAX])]),
        "sluice,cpus" => {
            let list: Vec<u32> = (0..rng.below(4))
                .map(|_| rng.pick(&[CPU_PHANDLES[0], CPU_PHANDLES[1], 0, 0x1234]))
                .collect();
            cells(&list)
        }
        "memory" => {
            let kib = rng.pick(&[0, 2048, 65536, 65536, 262_144, 1 << 40, u64::MAX]);
            if rng.coin() {
                cells(&[(kib >> 32) as u32, kib as u32])
            } else {
                cells(&[kib as u32])
            }
        }
        "sluice,pci-devices" => {
            let picks = [
                "00:01.0", "00:02.0", "01:00.0", "00:00.0", "00:1f.7", "zz", "",
            ];
            let mut v = Vec::new();
            for _ in 0..1 + rng.below(2) {
                let picks = if rng.one_in(8) {
                    &picks[..]
                } else {
                    &picks[..5]
                };
                v.extend_from_slice(rng.pick(picks).as_bytes());
                v.push(0);
            }
            v
        }
        _ => {
            let picks = [
                "net0",
                "net1",
                "net2",
                "",
                "a name",
                "seventeen-bytes-x",
                "\u{7}",
            ];
            let picks = if rng.one_in(8) {
                &picks[..]
            } else {
                &picks[..3]
            };
            let mut v = rng.pick(picks).as_bytes().to_vec();
            v.push(0);
            v
        }
    }
}

fn guest(w: &mut FdtWriter, rng: &mut Rng, i: u64) {
    let g = w.begin_node(&format!("guest@{i}")).unwrap();
    if !rng.one_in(8) {
        w.property_string("compatible", "sluice,guest").unwrap();
    }
    for name in [
        "sluice,name",
        "cpus",
        "sluice,cpus",
        "memory",
        "sluice,pci-devices",
    ] {
        if rng.coin() {
            w.property(name, &value(rng, name)).unwrap();
        }
    }
    if !rng.one_in(8) {
        // A well-formed kernel of its own most of the time, so that guests get planned.
        let kernel = w.begin_node("kernel").unwrap();
        let compatible = vec![
            "multiboot,kernel".to_string(),
            "multiboot,module".to_string(),
        ];
        w.property_string_list("compatible", compatible).unwrap();
        w.property_array_u64("reg", &[0x7000_0000 + (i << 24), 0x1000])
            .unwrap();
        w.end_node(kernel).unwrap();
    }
    for m in 0..rng.below(3) * u64::from(rng.one_in(3)) {
        if rng.one_in(6) {
            let deeper = w.begin_node("deeper").unwrap();
            module(w, rng, &format!("module@{m}"));
            w.end_node(deeper).unwrap();
        } else {
            module(w, rng, &format!("module@{m}"));
        }
    }
    w.end_node(g).unwrap();
}

fn module(w: &mut FdtWriter, rng: &mut Rng, name: &str) {
    let m = w.begin_node(name).unwrap();
    let kinds = [
        "multiboot,ramdisk",
        "multiboot,ramdisk",
        "multiboot,kernel",
        "multiboot,device-tree",
        "x,y",
    ];
    let compatible = vec![rng.pick(&kinds).to_string(), "multiboot,module".to_string()];
    w.property_string_list("compatible", compatible).unwrap();
    if !rng.one_in(16) {
        let start = rng.pick(&[
            0x7c00_0000u64,
            0x7e00_0000,
            0x7e00_0000,
            0x7c00_1000,
            u64::MAX,
        ]);
        let size = rng.pick(&[0u64, 0x1000, 0x1000, 0x200_0000, u64::MAX]);
        if rng.one_in(16) {
            w.property_array_u32("reg", &[start as u32]).unwrap();
        } else {
            w.property_array_u64("reg", &[start, size]).unwrap();
        }
    }
    if rng.coin() {
        w.property_string("bootargs", "console=ttyAMA0").unwrap();
    }
    w.end_node(m).unwrap();
}
