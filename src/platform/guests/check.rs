//! The tree-only checks of the guest nodes: names, modules, CPU lists, memory sizes, BDFs.
#![forbid(unsafe_code)]

use super::*;
use alloc::string::ToString;

/// Checks the guest nodes (in tree order) and the modules found under `/chosen` outside them,
/// resolving `sluice,cpus` phandles through `cpu_phandles` (phandle, MPIDR) of the `/cpus`
/// nodes. No guest node gives no spec (the single-guest default applies).
pub fn check(
    nodes: &[GuestNode],
    stray_modules: &[ModuleNode],
    cpu_phandles: &[(u32, u64)],
) -> Result<Vec<GuestSpec>> {
    if nodes.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(m) = stray_modules.first() {
        return Err(GuestError::StrayModule {
            module: m.path.clone(),
        });
    }
    let mut specs: Vec<GuestSpec> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let spec = one_guest(node, cpu_phandles)?;
        if let Some(other) = specs.iter().find(|s| s.name == spec.name) {
            return Err(GuestError::DuplicateName {
                node: spec.node,
                name: spec.name,
                other: other.node.clone(),
            });
        }
        if let Some((bdf, owner)) = spec.pci.iter().find_map(|b| {
            specs
                .iter()
                .find(|s| s.pci.contains(b))
                .map(|s| (*b, s.node.clone()))
        }) {
            return Err(GuestError::BdfTaken {
                node: spec.node,
                bdf,
                owner,
            });
        }
        specs.push(spec);
    }
    check_module_overlaps(nodes)?;
    Ok(specs)
}

fn one_guest(node: &GuestNode, cpu_phandles: &[(u32, u64)]) -> Result<GuestSpec> {
    let path = &node.path;
    let name = node
        .name
        .clone()
        .unwrap_or_else(|| path.rsplit('/').next().unwrap_or("").to_string());
    if let Some(problem) = name_problem(&name) {
        return Err(GuestError::BadName {
            node: path.clone(),
            name,
            problem,
        });
    }
    let images = images(node)?;
    let cpus = cpus(node, cpu_phandles)?;
    Ok(GuestSpec {
        node: path.clone(),
        name,
        cpus,
        memory_bytes: memory_bytes(node)?,
        pci: functions(node)?,
        images,
    })
}

/// `memory` in bytes: KiB, non-zero, a multiple of 2 MiB.
fn memory_bytes(node: &GuestNode) -> Result<Option<u64>> {
    let Some(kib) = node.memory_kib else {
        return Ok(None);
    };
    kib.checked_mul(1024)
        .filter(|&b| b != 0 && b % MEMORY_GRANULE_BYTES == 0)
        .map(Some)
        .ok_or(GuestError::BadMemory {
            node: node.path.clone(),
            kib,
        })
}

/// `sluice,pci-devices`, each well formed and given once.
fn functions(node: &GuestNode) -> Result<Vec<Bdf>> {
    let mut pci = Vec::with_capacity(node.pci.len());
    for text in &node.pci {
        let bdf = parse_bdf(text).ok_or_else(|| GuestError::BadBdf {
            node: node.path.clone(),
            text: text.clone(),
        })?;
        if pci.contains(&bdf) {
            return Err(GuestError::BdfTaken {
                node: node.path.clone(),
                bdf,
                owner: node.path.clone(),
            });
        }
        pci.push(bdf);
    }
    Ok(pci)
}

/// What is wrong with `name` as a guest name, if anything.
fn name_problem(name: &str) -> Option<NameProblem> {
    if name.is_empty() {
        Some(NameProblem::Empty)
    } else if !name.bytes().all(|b| b.is_ascii_graphic()) {
        Some(NameProblem::NotPrintable)
    } else if name.len() > MAX_NAME_BYTES {
        Some(NameProblem::TooLong)
    } else {
        None
    }
}

/// Exactly one kernel, at most one ramdisk, nothing else, nothing empty.
fn images(node: &GuestNode) -> Result<GuestImages> {
    let (mut kernel, mut ramdisk): (Option<&ModuleNode>, Option<&ModuleNode>) = (None, None);
    for m in &node.modules {
        let slot = match m.kind {
            ModuleKind::Kernel => &mut kernel,
            ModuleKind::Ramdisk => &mut ramdisk,
            ModuleKind::Other => {
                return Err(GuestError::UnsupportedModule {
                    module: m.path.clone(),
                })
            }
        };
        if slot.is_some() {
            return Err(GuestError::DuplicateModule {
                node: node.path.clone(),
                module: m.path.clone(),
            });
        }
        if m.range.size_bytes == 0 || m.range.end_exclusive().is_none() {
            return Err(GuestError::EmptyModule {
                module: m.path.clone(),
            });
        }
        *slot = Some(m);
    }
    let kernel = kernel.ok_or_else(|| GuestError::NoKernel {
        node: node.path.clone(),
    })?;
    Ok(GuestImages {
        kernel: kernel.range,
        bootargs: kernel.bootargs.clone(),
        ramdisk: ramdisk.map(|r| r.range),
    })
}

fn cpus(node: &GuestNode, cpu_phandles: &[(u32, u64)]) -> Result<CpuRequest> {
    let path = &node.path;
    let request = match (&node.cpu_phandles, node.cpu_count) {
        (None, None) | (None, Some(0)) => return Err(GuestError::NoCpus { node: path.clone() }),
        (None, Some(n)) => CpuRequest::Count(n as usize),
        (Some(list), count) => {
            if count.is_some_and(|c| c as usize != list.len()) {
                return Err(GuestError::CpuCountMismatch {
                    node: path.clone(),
                    count: count.unwrap_or(0),
                    listed: list.len(),
                });
            }
            let mut mpidrs: Vec<u64> = Vec::with_capacity(list.len());
            for &phandle in list {
                let mpidr = cpu_phandles
                    .iter()
                    .find(|(p, _)| *p == phandle)
                    .map(|&(_, m)| m)
                    .ok_or(GuestError::NotACpu {
                        node: path.clone(),
                        phandle,
                    })?;
                if mpidrs.contains(&mpidr) {
                    return Err(GuestError::CpuListedTwice {
                        node: path.clone(),
                        mpidr,
                    });
                }
                mpidrs.push(mpidr);
            }
            CpuRequest::Pinned(mpidrs)
        }
    };
    if request.is_empty() {
        return Err(GuestError::NoCpus { node: path.clone() });
    }
    Ok(request)
}

/// Two modules (of any guests) may be the very same range (one image booted twice) but must
/// not otherwise overlap.
fn check_module_overlaps(nodes: &[GuestNode]) -> Result<()> {
    let all: Vec<&ModuleNode> = nodes.iter().flat_map(|n| &n.modules).collect();
    for (i, m) in all.iter().enumerate() {
        if let Some(other) = all[..i]
            .iter()
            .find(|o| o.range.overlaps(&m.range) && o.range != m.range)
        {
            return Err(GuestError::OverlappingModules {
                module: m.path.clone(),
                other: other.path.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const MIB: u64 = 1 << 20;
    const CPUS: [(u32, u64); 4] = [(0x10, 0), (0x11, 1), (0x12, 0x100), (0x13, 0x101)];

    fn module(path: &str, kind: ModuleKind, start: u64, size: u64) -> ModuleNode {
        ModuleNode {
            path: path.to_string(),
            kind,
            range: PhysRange::new(start, size),
            bootargs: "console=ttyAMA0".to_string(),
        }
    }

    /// A valid guest node `/chosen/guest@i` with one CPU pinned, 64 MiB, its own kernel.
    fn guest(i: u64) -> GuestNode {
        let path = alloc::format!("/chosen/guest@{i}");
        GuestNode {
            modules: vec![
                module(
                    &(path.clone() + "/kernel"),
                    ModuleKind::Kernel,
                    0x7000_0000 + i * 0x100_0000,
                    MIB,
                ),
                module(
                    &(path.clone() + "/ramdisk"),
                    ModuleKind::Ramdisk,
                    0x7800_0000,
                    MIB,
                ),
            ],
            path,
            name: None,
            cpu_count: None,
            cpu_phandles: Some(vec![0x10 + i as u32]),
            memory_kib: Some(64 * 1024),
            pci: vec![alloc::format!("00:0{}.0", i + 1)],
        }
    }

    fn err(nodes: &[GuestNode]) -> (GuestError, String) {
        let e = check(nodes, &[], &CPUS).unwrap_err();
        let text = alloc::format!("{e}");
        (e, text)
    }

    #[test]
    fn no_guest_node_gives_no_spec_even_with_modules_under_chosen() {
        let stray = module(
            "/chosen/module@7c000000",
            ModuleKind::Kernel,
            0x7c00_0000,
            MIB,
        );
        assert_eq!(check(&[], &[stray], &CPUS), Ok(vec![]));
    }

    #[test]
    fn two_valid_guests_give_their_specs_in_tree_order() {
        let specs = check(&[guest(0), guest(1)], &[], &CPUS).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[1].node, "/chosen/guest@1");
        assert_eq!(
            specs[1].name, "guest@1",
            "the node name when sluice,name is absent"
        );
        assert_eq!(specs[1].cpus, CpuRequest::Pinned(vec![1]));
        assert_eq!(specs[1].memory_bytes, Some(64 * MIB));
        assert_eq!(specs[1].pci, [Bdf::new(0, 2, 0)]);
        assert_eq!(specs[1].images.kernel, PhysRange::new(0x7100_0000, MIB));
        assert_eq!(
            specs[1].images.ramdisk,
            Some(PhysRange::new(0x7800_0000, MIB))
        );
        assert_eq!(specs[1].images.bootargs, "console=ttyAMA0");
    }

    #[test]
    fn a_module_directly_under_chosen_next_to_guest_nodes_is_refused_by_its_path() {
        let stray = module(
            "/chosen/module@7c000000",
            ModuleKind::Ramdisk,
            0x7c00_0000,
            MIB,
        );
        let e = check(&[guest(0)], &[stray], &CPUS).unwrap_err();
        assert!(matches!(e, GuestError::StrayModule { .. }));
        assert!(alloc::format!("{e}").starts_with("/chosen/module@7c000000: boot module outside"));
    }

    #[test]
    fn a_guest_without_a_kernel_is_refused() {
        let mut g = guest(0);
        g.modules.remove(0);
        let (e, text) = err(&[g]);
        assert!(matches!(e, GuestError::NoKernel { .. }));
        assert_eq!(text, "/chosen/guest@0: no \"multiboot,kernel\" module");
    }

    #[test]
    fn two_kernels_an_unknown_module_and_an_empty_module_are_refused() {
        let mut two = guest(0);
        two.modules.push(module(
            "/chosen/guest@0/k2",
            ModuleKind::Kernel,
            0x6000_0000,
            MIB,
        ));
        assert!(
            matches!(err(&[two]).0, GuestError::DuplicateModule { module, .. } if module == "/chosen/guest@0/k2")
        );
        let mut other = guest(0);
        other.modules.push(module(
            "/chosen/guest@0/dtb",
            ModuleKind::Other,
            0x6000_0000,
            MIB,
        ));
        assert!(matches!(
            err(&[other]).0,
            GuestError::UnsupportedModule { .. }
        ));
        let mut empty = guest(0);
        empty.modules[1].range.size_bytes = 0;
        assert!(matches!(err(&[empty]).0, GuestError::EmptyModule { .. }));
    }

    #[test]
    fn guests_may_share_one_image_but_not_overlap_partly() {
        let (mut a, mut b) = (guest(0), guest(1));
        b.modules[0].range = a.modules[0].range;
        assert!(check(&[a.clone(), b.clone()], &[], &CPUS).is_ok());
        a.modules[1].range = PhysRange::new(0x7800_0000, 2 * MIB);
        let (e, text) = err(&[a, b]);
        assert!(matches!(e, GuestError::OverlappingModules { .. }));
        assert_eq!(text, "/chosen/guest@1/ramdisk: overlaps /chosen/guest@0/ramdisk without being the same image");
    }

    #[test]
    fn zero_cpus_no_cpu_property_and_an_empty_list_are_refused() {
        for (count, list) in [(Some(0), None), (None, None), (None, Some(vec![]))] {
            let mut g = guest(0);
            (g.cpu_count, g.cpu_phandles) = (count, list);
            assert!(matches!(err(&[g]).0, GuestError::NoCpus { .. }));
        }
    }

    #[test]
    fn a_cpu_count_alone_asks_for_that_many_cpus() {
        let mut g = guest(0);
        (g.cpu_count, g.cpu_phandles) = (Some(3), None);
        assert_eq!(
            check(&[g], &[], &CPUS).unwrap()[0].cpus,
            CpuRequest::Count(3)
        );
    }

    #[test]
    fn a_count_that_disagrees_with_the_list_is_refused() {
        let mut g = guest(0);
        g.cpu_count = Some(2);
        let (e, text) = err(&[g]);
        assert!(matches!(
            e,
            GuestError::CpuCountMismatch {
                count: 2,
                listed: 1,
                ..
            }
        ));
        assert!(text.contains("\"cpus\" is 2 but \"sluice,cpus\" lists 1"));
    }

    #[test]
    fn a_phandle_that_is_not_a_cpu_and_a_cpu_listed_twice_are_refused() {
        let mut g = guest(0);
        g.cpu_phandles = Some(vec![0x10, 0x99]);
        let (e, text) = err(&[g]);
        assert!(matches!(e, GuestError::NotACpu { phandle: 0x99, .. }));
        assert!(text.contains("phandle 0x99 is not a CPU node under /cpus"));
        let mut twice = guest(0);
        twice.cpu_phandles = Some(vec![0x12, 0x12]);
        assert!(matches!(
            err(&[twice]).0,
            GuestError::CpuListedTwice { mpidr: 0x100, .. }
        ));
    }

    #[test]
    fn names_must_be_unique_printable_and_short() {
        let named = |i, name: &str| GuestNode {
            name: Some(name.to_string()),
            ..guest(i)
        };
        let (e, text) = err(&[named(0, "web"), named(1, "web")]);
        assert!(matches!(e, GuestError::DuplicateName { .. }));
        assert_eq!(
            text,
            "/chosen/guest@1: name \"web\" is already the name of /chosen/guest@0"
        );
        for (name, problem) in [
            ("", NameProblem::Empty),
            ("a name", NameProblem::NotPrintable),
            ("bell\u{7}", NameProblem::NotPrintable),
            ("caf\u{e9}", NameProblem::NotPrintable),
            ("\u{fffd}", NameProblem::NotPrintable),
            ("seventeen-bytes-x", NameProblem::TooLong),
        ] {
            assert!(
                matches!(err(&[named(0, name)]).0, GuestError::BadName { problem: p, .. } if p == problem),
                "{name:?}"
            );
        }
        assert!(check(&[named(0, "sixteen-bytes-xx")], &[], &CPUS).is_ok());
    }

    #[test]
    fn memory_must_be_a_non_zero_multiple_of_2_mib() {
        for kib in [0, 1024, 2049, u64::MAX / 512] {
            let g = GuestNode {
                memory_kib: Some(kib),
                ..guest(0)
            };
            assert!(matches!(err(&[g]).0, GuestError::BadMemory { .. }), "{kib}");
        }
        let share = GuestNode {
            memory_kib: None,
            ..guest(0)
        };
        assert_eq!(check(&[share], &[], &CPUS).unwrap()[0].memory_bytes, None);
    }

    #[test]
    fn a_bdf_given_twice_is_refused_naming_both_owners() {
        let mut b = guest(1);
        b.pci = vec!["00:01.0".to_string()];
        let (e, text) = err(&[guest(0), b]);
        assert!(matches!(e, GuestError::BdfTaken { .. }));
        assert_eq!(
            text,
            "/chosen/guest@1: pci 00:01.0 is already owned by /chosen/guest@0"
        );
        let mut same = guest(0);
        same.pci = vec!["00:01.0".to_string(), "0:1.0".to_string()];
        assert_eq!(err(&[same]).1, "/chosen/guest@0: pci 00:01.0 listed twice");
    }

    #[test]
    fn malformed_bdfs_are_refused_with_the_entry() {
        for text in [
            "", "00:01", "00:20.0", "00:01.8", "100:01.0", "+0:01.0", "00:01.0x", "zz:00.0",
        ] {
            let g = GuestNode {
                pci: vec![text.to_string()],
                ..guest(0)
            };
            assert!(
                matches!(err(&[g]).0, GuestError::BadBdf { text: t, .. } if t == text),
                "{text:?}"
            );
        }
        assert_eq!(parse_bdf("ff:1f.7"), Some(Bdf::new(0xff, 0x1f, 7)));
    }
}
