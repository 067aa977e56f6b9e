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
# user network), through sysrq-b, reboot -f or both in turn (VIA), with SMP vCPUs: every boot
# must bring every vCPU online, and the last boot fetches the file through both NICs intact.
#
# virtio_net runs with napi_tx=0 (transmit completions reclaimed in start_xmit, not by NAPI):
# with NAPI TX the guest kernel (Debian 6.1.192; Linux until "virtio_ring: fix infinite loop
# in virtnet_poll_cleantx when device is broken") hangs now and then at `reboot -f` with
# traffic on the virtio NIC. device_shutdown's virtio_dev_shutdown() marks the queues broken
# (virtio_break_device) and resets the device while another CPU is in virtio-net's TX
# completion loop (virtnet_poll_cleantx or start_xmit): virtqueue_get_buf() returns nothing for
# a broken queue, virtqueue_enable_cb_delayed() still sees a used entry not taken, so
# `do { free_old_xmit_skbs } while (!enable_cb_delayed)` spins for ever in softirq. RCU never
# completes and the e1000e's shutdown, next in device_shutdown, waits for ever (with the
# virtio NIC alone nothing waits for RCU after it and the reboot goes through). Seen at a hang:
# output.0 broken=1, used->idx 301, last_used_idx 300, QEMU's device reset by the guest. A race
# in the guest's own code: about one reboot -f in ten to twenty under sluice; natively its
# window shows ("Unexpected TXQ (0) queue failure: -5" in 7 of 20 runs) but no hang was seen.
# This test is about sluice's device teardown, not that guest bug.
reboot_midfetch() { # LOG SMP VIA
    local log=$1 smp=$2 via=$3 ok=0 boots=${SLUICE_MIDFETCH_REBOOTS:-8} boot driver
    start_http_server
    $RUN --timeout 1500 --smp "$smp" --nic none \
        --append "sluice.reboots=$boots sluice.rebootvia=$via sluice.midfetch=$http_port/blob sluice.nets=e1000e:10.0.2,virtio_net:10.0.3 sluice.modparam=virtio_net:napi_tx=0" \
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
# CI: sysrq-b and reboot -f in turn (sysrq-b: no device shutdown in the guest; reboot -f: every
# driver's shutdown, MSI-X teardown and vITS unmapping with the DMA still going).
test_reboot_midfetch() { reboot_midfetch "$1" 2 both; }
test_reboot_midfetch_reboot() { reboot_midfetch "$1" 2 reboot; }
test_reboot_midfetch_smp4() { reboot_midfetch "$1" 4 both; }

scenario reboot_loop full
scenario reboot_midfetch ci
scenario reboot_midfetch_reboot full
scenario reboot_midfetch_smp4 full
