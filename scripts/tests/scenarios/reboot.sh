# Guest reboots (PSCI SYSTEM_RESET): devices taken away, reset and given back at every boot.

# sluice's heap and physical LPI use, logged at every boot, never changes from boot to boot.
check_usage_constant() { # LOG
    local usage
    usage=$(grep -E '^\[sluice\] guest boot [0-9]+: heap in use' "$1" | sed -E 's/.*: (heap in use .*)/\1/' | sort | uniq -c)
    echo "  per boot: $usage"
    [ "$(echo "$usage" | wc -l)" = 1 ] || { echo "  heap or LPI use changed between boots"; return 1; }
}

# The guest reboots itself (PSCI SYSTEM_RESET) 20 times in one QEMU run and fetches a file
# through both NICs at every boot: each reboot takes the devices away, resets them and gives
# them back, and sluice's heap and LPI use is the same at every boot.
test_reboot_loop() {
    local log=$1 ok=0 boots=${SLUICE_REBOOTS:-20} driver
    start_http_server
    $RUN --timeout 1200 --nic e1000e --nic virtio \
        --append "sluice.reboots=$boots sluice.fetch=http://10.0.2.2:$http_port/small" >"$log" 2>&1 ||
        { echo "  run.sh exited with $?"; ok=1; }
    [ "$(count_lines "$log" '^\[sluice\] guest requested a reset \(PSCI SYSTEM_RESET\)')" = "$boots" ] ||
        { echo "  expected $boots guest reboots"; ok=1; }
    for driver in e1000e virtio_net; do
        [ "$(count_lines "$log" "^sluice-demo: fetch eth[0-9] \\($driver\\) bytes=$SMALL_BYTES md5=$small_md5 ")" = $((boots + 1)) ] ||
            { echo "  expected $((boots + 1)) good $driver fetches"; ok=1; }
    done
    expect_line "$log" "^\\[sluice\\] pci 00:01\\.0 reset \\(" "the e1000e reset between boots" || ok=1
    check_usage_constant "$log" || ok=1
    expect_line "$log" "^sluice-demo: boot $boots done, all $boots reboots made" "last boot" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    expect_line "$log" '^\[sluice\] guest powered off' "power off" || ok=1
    return $ok
}

# The guest reboots 8 times in the middle of two downloads (one per NIC, each NIC on its own
# user network), alternately through sysrq-b and reboot -f, with SMP vCPUs: every boot must
# bring every vCPU online, and the last boot fetches the file through both NICs intact.
reboot_midfetch() { # LOG SMP
    local log=$1 smp=$2 ok=0 boots=${SLUICE_MIDFETCH_REBOOTS:-8} boot driver
    start_http_server
    $RUN --timeout 1500 --smp "$smp" --nic none \
        --append "sluice.reboots=$boots sluice.midfetch=$http_port/blob sluice.nets=e1000e:10.0.2,virtio_net:10.0.3" \
        -- -netdev user,id=mf0 -device e1000e,netdev=mf0 \
        -netdev user,id=mf1,net=10.0.3.0/24 -device virtio-net-pci,disable-legacy=on,iommu_platform=on,netdev=mf1 \
        >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    [ "$(count_lines "$log" '^\[sluice\] guest requested a reset \(PSCI SYSTEM_RESET\)')" = "$boots" ] ||
        { echo "  expected $boots guest reboots"; ok=1; }
    for boot in $(seq 0 $((boots - 1))); do
        expect_line "$log" "^sluice-demo: boot $boot: $smp CPUs online, rebooting mid-transfer" "boot $boot with $smp CPUs" || ok=1
    done
    expect_line "$log" "^sluice-demo: boot $boots: $smp CPUs online, all $boots reboots made" "last boot with $smp CPUs" || ok=1
    for driver in e1000e virtio_net; do
        expect_line "$log" "^sluice-demo: fetch eth[0-9] \\($driver\\) bytes=$FETCH_BYTES md5=$http_md5" "$driver fetch after the reboots" || ok=1
    done
    check_usage_constant "$log" || ok=1
    reject_line "$log" 'failed to come online|soft lockup|rcu_sched self-detected|Kernel panic' "guest CPU or kernel trouble" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    expect_line "$log" '^\[sluice\] guest powered off' "power off" || ok=1
    return $ok
}
test_reboot_midfetch() { reboot_midfetch "$1" 2; }
test_reboot_midfetch_smp4() { reboot_midfetch "$1" 4; }

scenario reboot_loop full
scenario reboot_midfetch ci
scenario reboot_midfetch_smp4 full
