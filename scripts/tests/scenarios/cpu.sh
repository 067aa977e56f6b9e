# The CPU the guest sees (src/cpuid): every feature its ID registers show works under sluice.
# Sourced by scripts/test.sh; uses scripts/tests/lib.sh (fetch_run, check_fetch, expect_line, ...).

# bookworm-backports' 6.12 kernel: its static busybox picks the MOPS memcpy (CPY*) when the
# kernel reports HWCAP2_MOPS, which only works with HCRX_EL2.MSCEn set. Both NICs fetch.
test_guest_612() {
    local log=$1 ok=0
    fetch_run "$log" --guest-kernel 6.12 --nic e1000e --nic virtio
    expect_line "$log" '^\[ *[0-9.]+\] Linux version 6\.12\.' "the 6.12 kernel booted" || ok=1
    reject_line "$log" 'Attempted to kill init|undefined instruction' "init killed" || ok=1
    check_fetch "$log" e1000e virtio_net || ok=1
    check_dma_isolated "$log" || ok=1
    return $ok
}

# -machine mte=on: the host CPU has MTE with tag memory, but stage 2 does not map guest RAM
# as Tagged, so sluice hides MTE; the 6.1 guest must not see it and reach userspace.
test_mte_on() {
    local log=$1 ok=0
    $RUN --timeout 150 -- -machine mte=on >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    expect_line "$log" '^sluice-demo: init started' "demo init marker" || ok=1
    reject_line "$log" 'Memory Tagging Extension|MTE' "the guest saw MTE" || ok=1
    reject_line "$log" '^\[sluice\] (WARN|ERROR)' "hypervisor warning" || ok=1
    expect_line "$log" '^\[sluice\] exits .*' "exit table" || ok=1
    expect_line "$log" '^\[sluice\] sysreg id +[1-9][0-9]* +[1-9][0-9]* ' "ID register reads answered on both vCPUs" || ok=1
    expect_line "$log" '^\[sluice\] guest powered off \(PSCI SYSTEM_OFF\)' "PSCI SYSTEM_OFF" || ok=1
    return $ok
}

scenario guest_612 ci
scenario mte_on ci
