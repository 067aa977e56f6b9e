# The virtual CPU, checked precisely by guest/vcputest (a bare-metal guest, no Linux): IPI
# ping-pong between every pair of vCPUs, the virtual timer's level as GICR_ISPENDR0 shows it,
# PSCI CPU_ON/CPU_OFF/AFFINITY_INFO and its error codes, and every feature the ID registers
# advertise, executed. Every check must print PASS (or SKIP where it cannot apply).

# Boots vcputest and checks its verdict lines. Arguments: LOG SMP NATIVE(0|1) [BOOTARGS].
vcpu_run() {
    local log=$1 smp=$2 native=$3 bootargs=${4:-} ok=0 image pairs native_args=()
    image=$(scripts/mkvcputest.sh) || { echo "  building guest/vcputest failed"; return 1; }
    [ "$native" = 1 ] && native_args=(--native --poweroff-line '^vcputest: done ')
    $RUN --timeout "${SLUICE_VCPU_TIMEOUT:-900}" --kernel "$image" --nic none --smp "$smp" \
        "${native_args[@]}" --append "$bootargs" >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    grep -E '^vcputest: (FAIL|info phase)' "$log" | sed 's/^/  /'
    expect_line "$log" "^vcputest: start .* cpus=$smp " "vcputest started with $smp vCPUs" || ok=1
    expect_line "$log" '^vcputest: done checks=[1-9][0-9]* failed=0 ' "every check passed" || ok=1
    reject_line "$log" '^vcputest: FAIL' "a failed check" || ok=1
    pairs=$((smp * (smp - 1) / 2))
    [ "$(count_lines "$log" '^vcputest: PASS ipi [0-9]+<->[0-9]+ rounds=[0-9]+ lost=0 ')" = "$pairs" ] ||
        { echo "  expected $pairs passing IPI pairs"; ok=1; }
    [ "$(count_lines "$log" '^vcputest: PASS timer ')" = 10 ] || { echo "  expected 10 passing timer checks"; ok=1; }
    expect_line "$log" '^vcputest: PASS psci cpu_off/cpu_on ' "CPU_OFF/CPU_ON cycles" || ok=1
    expect_line "$log" '^vcputest: PASS idreg ' "ID register features executed" || ok=1
    if [ "$native" = 1 ]; then
        # QEMU's built-in PSCI may let both racing CPU_ONs succeed (it never marks the target
        # ON_PENDING): the guest reports that as a firmware skip.
        [ "$smp" -lt 3 ] || expect_line "$log" '^vcputest: (PASS psci racing cpu_on |SKIP psci racing cpu_on: firmware \(smc\))' "racing CPU_ON" || ok=1
    else
        [ "$smp" -lt 3 ] || expect_line "$log" '^vcputest: PASS psci racing cpu_on ' "racing CPU_ON" || ok=1
        # sluice knows its guest's RAM: an entry outside it is INVALID_ADDRESS, never a skip.
        expect_line "$log" '^vcputest: PASS psci cpu_on entry=0x[0-9a-f]+ outside RAM: ret=-9 ' "INVALID_ADDRESS" || ok=1
        reject_line "$log" '^\[sluice\] (WARN|ERROR)' "hypervisor warning" || ok=1
    fi
    return $ok
}

# Under sluice, 2 vCPUs, the default 100,000 round trips.
test_vcpu_check() { vcpu_run "$1" 2 0; }

# Under sluice, 4 vCPUs (six pairs and the CPU_ON race): 20,000 round trips per pair to keep
# the run short on TCG.
test_vcpu_check_smp4() { vcpu_run "$1" 4 0 "vcputest.rounds=${SLUICE_VCPU_SMP4_ROUNDS:-20000}"; }

# Natively (QEMU's own EL1 and PSCI), 4 vCPUs, default rounds: the baseline every check must
# pass on.
test_vcpu_check_native() { vcpu_run "$1" 4 1; }

scenario vcpu_check ci
scenario vcpu_check_smp4 full
scenario vcpu_check_native full

# The exit micro-benchmark (vcputest.bench, what scripts/exitbench.sh times): under sluice,
# one vCPU and a NIC for an ECAM, both loops run to the end without a fault or a warning.
test_exit_bench() {
    local log=$1 ok=0 image
    image=$(scripts/mkvcputest.sh) || { echo "  building guest/vcputest failed"; return 1; }
    $RUN --timeout "${SLUICE_VCPU_TIMEOUT:-300}" --kernel "$image" --nic virtio --smp 1 \
        --append vcputest.bench=500 >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    grep -a 'exit bench: ' "$log" | sed 's/^/  /'
    expect_line "$log" '^vcputest: exit bench: psci_version iters=500 ticks_per_iter=[0-9.]+ ns_per_iter=[1-9]' "the PSCI_VERSION loop" || ok=1
    expect_line "$log" '^vcputest: exit bench: ecam read iters=500 ticks_per_iter=[0-9.]+ ns_per_iter=[1-9]' "the ECAM read loop" || ok=1
    expect_line "$log" '^vcputest: done checks=0 failed=0 ' "a clean end" || ok=1
    reject_line "$log" '^\[sluice\] (WARN|ERROR)' "hypervisor warning" || ok=1
    return $ok
}

scenario exit_bench full
