//! The physical CPUs sluice can drive and their EL2 stacks, as linker.ld lays them out.

extern "C" {
    static __stacks_start: u8;
    static __stacks_end: u8;
}

/// Per-CPU stack size; must match `__stack_size_per_cpu` in linker.ld (checked at boot by
/// `check_stack_layout`).
pub const STACK_BYTES_PER_CPU: u64 = 0x1_0000;
/// CPUs with a stack; must match `__max_cpus` in linker.ld.
pub const MAX_CPUS: usize = 8;

fn stacks() -> (u64, u64) {
    (
        core::ptr::addr_of!(__stacks_start) as u64,
        core::ptr::addr_of!(__stacks_end) as u64,
    )
}

/// Panics if linker.ld and this module disagree about the stacks.
pub fn check_stack_layout() {
    let (start, end) = stacks();
    assert_eq!(
        end - start,
        STACK_BYTES_PER_CPU * MAX_CPUS as u64,
        "linker.ld stack layout differs from leaf/cpus.rs"
    );
}

/// The top of CPU `index`'s EL2 stack.
pub fn stack_top(index: usize) -> u64 {
    stacks().0 + STACK_BYTES_PER_CPU * (index as u64 + 1)
}
