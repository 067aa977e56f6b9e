//! The guests and which physical CPU runs which of their vCPUs, fixed at boot before any
//! secondary CPU starts.

use super::vm::Vm;
use crate::arch::cpu;
use alloc::boxed::Box;
use alloc::vec::Vec;
use spin::Once;

/// One physical CPU's job: vCPU `vcpu` of guest `guest` (indices into the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuJob {
    /// The guest's index.
    pub guest: usize,
    /// The guest-local vCPU index.
    pub vcpu: usize,
}

struct Table {
    guests: Vec<&'static Vm>,
    /// Indexed by physical CPU; `None`: the CPU runs no guest.
    jobs: Vec<Option<CpuJob>>,
}

static TABLE: Once<Table> = Once::new();

/// Installs the guests (guest `i` at index `i`) and derives each physical CPU's job from their
/// `cpus` lists; `cpu_count` physical CPUs in all. Called once, on the boot CPU.
pub fn install(vms: Vec<Vm>, cpu_count: usize) {
    let guests: Vec<&'static Vm> = vms
        .into_iter()
        .map(|vm| &*Box::leak(Box::new(vm)))
        .collect();
    let mut jobs = alloc::vec![None; cpu_count];
    for (guest, vm) in guests.iter().enumerate() {
        for (vcpu, &physical) in vm.cpus.iter().enumerate() {
            if let Some(job) = jobs.get_mut(physical) {
                *job = Some(CpuJob { guest, vcpu });
            }
        }
    }
    TABLE.call_once(|| Table { guests, jobs });
}

fn table() -> &'static Table {
    TABLE.get().expect("guests installed before any vCPU runs")
}

/// Every guest, guest 0 first.
pub fn guests() -> &'static [&'static Vm] {
    &table().guests
}

/// The guest and guest-local vCPU that physical CPU `cpu_index` runs, if any.
pub fn job_of(cpu_index: usize) -> Option<(&'static Vm, usize)> {
    let t = table();
    let job = (*t.jobs.get(cpu_index)?)?;
    Some((t.guests[job.guest], job.vcpu))
}

/// The guest and vCPU of the calling CPU, if it runs one.
pub fn current() -> Option<(&'static Vm, usize)> {
    job_of(cpu::cpu_index())
}
