//! Which physical CPUs each guest owns: pinned CPUs first (`sluice,cpus`), then counts
//! (`cpus`) from the lowest-numbered CPUs nobody owns, in guest order.
#![forbid(unsafe_code)]

use super::{PartitionError, Result};
use crate::platform::{Cpu, CpuRequest, GuestSpec};
use alloc::vec::Vec;

/// Per guest, the host CPU indices (into `cpus`) it owns; vCPU `i` runs on the `i`-th.
pub fn assign(specs: &[GuestSpec], cpus: &[Cpu]) -> Result<Vec<Vec<usize>>> {
    if let Some(extra) = specs.get(cpus.len()) {
        return Err(PartitionError::TooManyGuests {
            node: extra.node.clone(),
            guests: specs.len(),
            cpus: cpus.len(),
        });
    }
    let mut owner: Vec<Option<usize>> = alloc::vec![None; cpus.len()];
    let mut owned: Vec<Vec<usize>> = alloc::vec![Vec::new(); specs.len()];
    for (g, spec) in specs.iter().enumerate() {
        let CpuRequest::Pinned(mpidrs) = &spec.cpus else {
            continue;
        };
        for &mpidr in mpidrs {
            let cpu = cpus.iter().position(|c| c.mpidr == mpidr).ok_or_else(|| {
                PartitionError::NoSuchCpu {
                    node: spec.node.clone(),
                    mpidr,
                }
            })?;
            if let Some(other) = owner[cpu] {
                return Err(PartitionError::CpuTaken {
                    node: spec.node.clone(),
                    cpu,
                    mpidr,
                    owner: specs[other].node.clone(),
                });
            }
            owner[cpu] = Some(g);
            owned[g].push(cpu);
        }
    }
    for (g, spec) in specs.iter().enumerate() {
        let CpuRequest::Count(wanted) = spec.cpus else {
            continue;
        };
        let free: Vec<usize> = (0..cpus.len()).filter(|&c| owner[c].is_none()).collect();
        if free.len() < wanted {
            return Err(PartitionError::NotEnoughCpus {
                node: spec.node.clone(),
                wanted,
                free: free.len(),
            });
        }
        for &cpu in &free[..wanted] {
            owner[cpu] = Some(g);
            owned[g].push(cpu);
        }
    }
    Ok(owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::PhysRange;
    use crate::platform::GuestImages;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;

    const CPUS: [Cpu; 4] = [
        Cpu { mpidr: 0 },
        Cpu { mpidr: 1 },
        Cpu { mpidr: 0x100 },
        Cpu { mpidr: 0x101 },
    ];

    fn spec(i: usize, cpus: CpuRequest) -> GuestSpec {
        GuestSpec {
            node: format!("/chosen/guest@{i}"),
            name: format!("g{i}"),
            cpus,
            memory_bytes: None,
            pci: vec![],
            images: GuestImages {
                kernel: PhysRange::new(0x7c00_0000, 0x1000),
                bootargs: String::new(),
                ramdisk: None,
            },
        }
    }

    #[test]
    fn pinned_cpus_are_taken_by_mpidr_in_list_order() {
        let specs = [
            spec(0, CpuRequest::Pinned(vec![0x101, 0])),
            spec(1, CpuRequest::Pinned(vec![1])),
        ];
        assert_eq!(assign(&specs, &CPUS), Ok(vec![vec![3, 0], vec![1]]));
    }

    #[test]
    fn counts_take_the_lowest_cpus_left_after_every_pinned_one() {
        let specs = [
            spec(0, CpuRequest::Count(2)),
            spec(1, CpuRequest::Pinned(vec![0])),
            spec(2, CpuRequest::Count(1)),
        ];
        assert_eq!(
            assign(&specs, &CPUS),
            Ok(vec![vec![1, 2], vec![0], vec![3]])
        );
    }

    #[test]
    fn a_cpu_pinned_by_two_guests_names_the_first_owner() {
        let specs = [
            spec(0, CpuRequest::Pinned(vec![0x100])),
            spec(1, CpuRequest::Pinned(vec![1, 0x100])),
        ];
        let e = assign(&specs, &CPUS).unwrap_err();
        assert!(matches!(e, PartitionError::CpuTaken { cpu: 2, .. }));
        assert_eq!(
            format!("{e}"),
            "/chosen/guest@1: cpu 2 (MPIDR 0x100) is already owned by /chosen/guest@0"
        );
    }

    #[test]
    fn a_cpu_the_host_does_not_have_is_refused() {
        let e = assign(&[spec(0, CpuRequest::Pinned(vec![7]))], &CPUS).unwrap_err();
        assert!(matches!(e, PartitionError::NoSuchCpu { mpidr: 7, .. }));
        assert!(format!("{e}").starts_with("/chosen/guest@0: no CPU with MPIDR 0x7"));
    }

    #[test]
    fn counts_beyond_the_cpus_left_are_refused() {
        let specs = [
            spec(0, CpuRequest::Pinned(vec![0, 1])),
            spec(1, CpuRequest::Count(3)),
        ];
        let e = assign(&specs, &CPUS).unwrap_err();
        assert_eq!(
            e,
            PartitionError::NotEnoughCpus {
                node: "/chosen/guest@1".into(),
                wanted: 3,
                free: 2
            }
        );
    }

    #[test]
    fn more_guests_than_cpus_is_refused_naming_the_first_without_one() {
        let specs: Vec<_> = (0..5).map(|i| spec(i, CpuRequest::Count(1))).collect();
        let e = assign(&specs, &CPUS).unwrap_err();
        assert!(matches!(
            e,
            PartitionError::TooManyGuests {
                guests: 5,
                cpus: 4,
                ..
            }
        ));
        assert!(format!("{e}").starts_with("/chosen/guest@4: "));
    }
}
