# Guest reboots (PSCI SYSTEM_RESET): devices taken away, reset and given back at every boot.

# The guest reboots itself (PSCI SYSTEM_RESET) 20 times in one QEMU run and fetches a file
# through both NICs at every boot: each reboot takes the devices away, resets them and gives
# them back, and sluice's heap and LPI use is the same at every boot.
test_reboot_loop() {
    local log=$1 ok=0 boots=${SLUICE_REBOOTS:-20} driver usage
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
    usage=$(grep -E '^\[sluice\] guest boot [0-9]+: heap in use' "$log" | sed -E 's/.*: (heap in use .*)/\1/' | sort | uniq -c)
    echo "  per boot: $usage"
    [ "$(echo "$usage" | wc -l)" = 1 ] || { echo "  heap or LPI use changed between boots"; ok=1; }
    expect_line "$log" "^sluice-demo: boot $boots done, all $boots reboots made" "last boot" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    expect_line "$log" '^\[sluice\] guest powered off' "power off" || ok=1
    return $ok
}

scenario reboot_loop ci
