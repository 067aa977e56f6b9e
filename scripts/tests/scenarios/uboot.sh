# Booting like a board: Debian's U-Boot is the firmware (run.sh --boot uboot), brings the NIC up
# with dhcp and reads sluice, the kernel and the initrd from an NVMe disk (scripts/mkbootdisk.sh),
# then booti's sluice at EL2. sluice takes both devices over as U-Boot left them (quiesced, BARs
# kept, reset) and the guest fetches through the NIC U-Boot used.
# Sourced by scripts/test.sh; uses scripts/tests/lib.sh (fetch_run, check_fetch, expect_line, ...).

# The U-Boot half of a --boot uboot log: the script found on the disk, dhcp, the hand-over.
check_uboot_handover() { # LOG
    local log=$1 ok=0
    expect_line "$log" '^U-Boot 20[0-9]{2}\.' "U-Boot banner" || ok=1
    expect_line "$log" '^sluice boot script: nvme 0:1' "boot.scr found by distro boot on the NVMe disk" || ok=1
    expect_line "$log" '^DHCP client bound to address 10\.0\.2\.15' "U-Boot's dhcp" || ok=1
    expect_line "$log" '^\[sluice\] sluice .* at EL2' "sluice at EL2" || ok=1
    return $ok
}

test_uboot_boot() {
    local log=$1 ok=0
    fetch_run "$log" --boot uboot
    check_uboot_handover "$log" || ok=1
    expect_line "$log" '^\[sluice\] pci 00:01\.0: left enabled by firmware \(command 0x0006\)' "the NIC U-Boot used, taken over" || ok=1
    expect_line "$log" '^\[sluice\] pci 00:01\.0 reset ' "the NIC reset" || ok=1
    expect_line "$log" '^\[sluice\] pci 00:02\.0: left enabled by firmware' "the boot disk, taken over" || ok=1
    # U-Boot's BAR assignment is kept (it put the e1000e's BAR 0 at the window's base).
    expect_line "$log" '^\[sluice\] pci 00:01\.0   bar 0 Memory32 0x10000000 ' "U-Boot's BAR kept" || ok=1
    check_fetch "$log" e1000e || ok=1
    check_dma_isolated "$log" || ok=1
    return $ok
}

# Several guests through U-Boot: the boot script writes one "sluice,guest" node per guest (with
# its own module nodes) by fdt commands; each guest fetches through its own NIC, both of which
# U-Boot probed.
test_uboot_two_guests() {
    local log=$1 ok=0 pair name driver
    start_http_server
    $RUN --timeout 400 --boot uboot --guests two --append "sluice.fetch=http://10.0.2.2:$http_port/blob" \
        >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    check_uboot_handover "$log" || ok=1
    for pair in net0:e1000e net1:virtio_net; do
        name=${pair%%:*} driver=${pair#*:}
        expect_line "$log" "^\\($name\\) sluice-demo: fetch eth[0-9] \\($driver\\) bytes=$FETCH_BYTES md5=$http_md5 " \
            "$name fetch through its $driver with the right md5" || ok=1
    done
    expect_line "$log" '^\[sluice\] guest net1: 1 vCPUs, RAM 256 MiB' "guest 1 built with its 256 MiB" || ok=1
    expect_line "$log" '^\[sluice\] every guest is off: powering the machine off' "machine off with the last guest" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    return $ok
}

scenario uboot_boot ci
scenario uboot_two_guests full
