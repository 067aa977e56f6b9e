# Machine shapes a new user tries first: other CPUs (PA size, VMID width, stage-2 levels come
# from the CPU: src/board.rs), no ITS (INTx only, said once) and no high memory map. Each boots
# the demo and fetches 64 MiB through the e1000e with the right md5.
# Sourced by scripts/test.sh; uses scripts/tests/lib.sh (fetch_run, check_fetch, expect_line, ...).

# shape_run LOG CPU-LINE-REGEX QEMU-ARGS...: the fetch, the CPU shape sluice logged, and the
# SMMU still confining DMA.
shape_run() {
    local log=$1 cpu_line=$2 ok=0
    shift 2
    fetch_run "$log" -- "$@"
    expect_line "$log" "^\[sluice\] cpu: $cpu_line" "CPU shape line" || ok=1
    check_fetch "$log" e1000e || ok=1
    check_dma_isolated "$log" || ok=1
    return $ok
}

# Cortex-A53: 40-bit PA, 8-bit VMID, stage 2 from level 1.
test_shape_a53() {
    shape_run "$1" '40-bit PA, 8-bit VMID \(8 used\), stage 2 40-bit IPA from level 1' -cpu cortex-a53
}

# Cortex-A72: 44-bit PA, 8-bit VMID (as QEMU models it).
test_shape_a72() {
    shape_run "$1" '44-bit PA, 8-bit VMID \(8 used\), stage 2 44-bit IPA from level 0' -cpu cortex-a72
}

# Neoverse-N1: 48-bit PA, 16-bit VMID.
test_shape_n1() {
    shape_run "$1" '48-bit PA, 16-bit VMID \(8 used\), stage 2 48-bit IPA from level 0' -cpu neoverse-n1
}

# No ITS: sluice says once why MSI is unavailable; the guest's driver uses INTx from the start.
test_shape_no_its() {
    local log=$1 ok=0
    IRQ_MODE=intx shape_run "$log" '' -machine its=off || ok=1
    [ "$(count_lines "$log" '^\[sluice\] WARN: MSI/MSI-X unavailable: the device tree has no GICv3 ITS')" = 1 ] ||
        { echo "  expected the MSI-unavailable line exactly once"; ok=1; }
    reject_line "$log" 'ITS-MSI' "an MSI vector in the guest" || ok=1
    return $ok
}

# highmem=off: ECAM and every PCI window below 4 GiB.
test_shape_no_highmem() {
    local log=$1 ok=0
    shape_run "$log" '' -machine highmem=off || ok=1
    expect_line "$log" '^\[sluice\] pci host bridge /pcie@10000000: ECAM 0x3f000000\.\.' "the low ECAM" || ok=1
    return $ok
}

# A GICv2 machine: refused at once with a line naming GICv3 (the EL2 and PA-size refusals are
# host-tested in src/board.rs; not_at_el2 boots with virtualization=off).
test_shape_gicv2_refused() {
    local log=$1 ok=0 rc
    $RUN --timeout 60 -- -machine gic-version=2 >"$log" 2>&1; rc=$?
    [ "$rc" = 3 ] || { echo "  run.sh exit status $rc, expected 3 (fatal)"; ok=1; }
    expect_line "$log" '^\[sluice\] FATAL: .*no GICv3' "refusal naming GICv3" || ok=1
    return $ok
}

scenario shape_a53 ci
scenario shape_a72 full
scenario shape_n1 full
scenario shape_no_its full
scenario shape_no_highmem full
scenario shape_gicv2_refused full
