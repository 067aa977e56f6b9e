# Storage passthrough (run.sh --disk): an NVMe controller or a virtio-blk disk with a fresh ext4
# image; the guest reads known.bin (md5 checked) and writes written.bin and written.txt, which
# are checked in the image after power-off (scripts/mkdisk.sh --cat, no mount).

# The guest's lines for DEV-REGEX (e.g. nvme0n1) and the files it wrote into IMAGE at BOOT.
check_disk() { # LOG KIND DEV-REGEX IMAGE BOOT
    local log=$1 kind=$2 dev=$3 image=$4 boot=$5 ok=0 known_md5 written
    known_md5=$(cat target/disk/known.md5)
    expect_line "$log" "^sluice-demo: disk $dev \\($kind\\) read known.bin md5=$known_md5 ok" "$kind read with the right md5" || ok=1
    expect_line "$log" "^sluice-demo: disk $dev \\($kind\\) wrote written.bin md5=$known_md5" "$kind write" || ok=1
    reject_line "$log" "^sluice-demo: disk .*(failed|MISMATCH|none found)" "disk error" || ok=1
    [ "$(scripts/mkdisk.sh --cat "$image" /written.bin | md5sum | cut -d' ' -f1)" = "$known_md5" ] ||
        { echo "  written.bin in $image does not have known.bin's md5"; ok=1; }
    written=$(scripts/mkdisk.sh --cat "$image" /written.txt)
    [[ "$written" =~ ^"written by the sluice guest to "$dev" at boot $boot"$ ]] ||
        { echo "  written.txt in $image says '$written', expected boot $boot"; ok=1; }
    return $ok
}

# Every vector whose /proc/interrupts name matches NAME-REGEX counted at least one interrupt
# (the per-CPU columns of the last "disk irq" lines of the log), and there are at least COUNT of them.
check_disk_vectors() { # LOG NAME-REGEX COUNT
    local log=$1 lines vectors silent
    lines=$(grep '^sluice-demo: disk irq' "$log" | tr -d '\r' | grep -E " $2\$" | awk '{ c = 0; for (i = 5; i <= NF - 4; i++) c += $i; n[$NF] = c } END { for (v in n) print v, n[v] }')
    vectors=$(echo "$lines" | grep -c .)
    silent=$(echo "$lines" | awk '$2 == 0 { print $1 }' | tr '\n' ' ')
    echo "  vectors: $(echo "$lines" | sort | tr '\n' ' ')"
    [ "$vectors" -ge "$3" ] || { echo "  expected >= $3 vectors named /$2/, got $vectors"; return 1; }
    [ -z "$silent" ] || { echo "  vectors without an interrupt: $silent"; return 1; }
}

check_disk_clean() { # LOG
    local ok=0
    reject_line "$1" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    reject_line "$1" 'nvme.*(timeout|I/O error|controller is down)|blk_update_request|Buffer I/O error|EXT4-fs error' "guest I/O error" || ok=1
    expect_line "$1" '^\[sluice\] guest powered off' "power off" || ok=1
    return $ok
}

# NVMe with 2 vCPUs: one admin and one I/O queue per vCPU, each on its own MSI-X vector, and
# every vector delivers (the guest reads the raw disk from each CPU).
test_disk_nvme() {
    local log=$1 ok=0 out
    out=$($RUN --disk scsi 2>&1 >/dev/null) && { echo "  --disk scsi was accepted"; ok=1; }
    [[ "$out" == *"--disk must be nvme or virtio"* ]] || { echo "  --disk scsi: unexpected message '$out'"; ok=1; }
    $RUN --timeout 300 --smp 2 --nic none --disk nvme >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    check_disk "$log" nvme nvme0n1 target/disk/disk0-nvme.img 0 || ok=1
    check_disk_vectors "$log" 'nvme0q[0-9]+' 3 || ok=1
    check_disk_clean "$log" || ok=1
    return $ok
}
scenario disk_nvme ci

# virtio-blk with 2 vCPUs: a request queue per vCPU (num-queues follows -smp), each delivering.
test_disk_virtio() {
    local log=$1 ok=0
    $RUN --timeout 300 --smp 2 --nic none --disk virtio >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    check_disk "$log" virtio_blk vda target/disk/disk0-virtio.img 0 || ok=1
    check_disk_vectors "$log" 'virtio[0-9]+-req\.[0-9]+' 2 || ok=1
    check_disk_clean "$log" || ok=1
    return $ok
}
scenario disk_virtio full

# The guest reboots once with an NVMe disk: sluice resets the controller and gives it back,
# and the second boot reads and writes the disk again.
test_disk_reboot() {
    local log=$1 ok=0
    $RUN --timeout 400 --smp 2 --nic none --disk nvme --append "sluice.reboots=1" >"$log" 2>&1 ||
        { echo "  run.sh exited with $?"; ok=1; }
    [ "$(count_lines "$log" '^\[sluice\] guest requested a reset \(PSCI SYSTEM_RESET\)')" = 1 ] ||
        { echo "  expected one guest reboot"; ok=1; }
    expect_line "$log" '^\[sluice\] pci 00:01\.0 reset \(' "the NVMe controller reset between boots" || ok=1
    [ "$(count_lines "$log" '^sluice-demo: disk nvme0n1 \(nvme\) read known.bin md5=[0-9a-f]+ ok')" = 2 ] ||
        { echo "  expected a good read at both boots"; ok=1; }
    check_disk "$log" nvme nvme0n1 target/disk/disk0-nvme.img 1 || ok=1
    check_disk_vectors "$log" 'nvme0q[0-9]+' 3 || ok=1
    expect_line "$log" '^sluice-demo: boot 1 done, all 1 reboots made' "second boot" || ok=1
    check_disk_clean "$log" || ok=1
    return $ok
}
scenario disk_reboot full

# Both kinds at once with 4 vCPUs: 5 NVMe vectors (admin + 4 I/O queues) and 4 virtio-blk
# request queues, each delivered to its own vCPU and each counting.
test_disk_both_smp4() {
    local log=$1 ok=0
    $RUN --timeout 400 --smp 4 --nic none --disk nvme --disk virtio >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    check_disk "$log" nvme nvme0n1 target/disk/disk0-nvme.img 0 || ok=1
    check_disk "$log" virtio_blk vda target/disk/disk1-virtio.img 0 || ok=1
    check_disk_vectors "$log" 'nvme0q[0-9]+' 5 || ok=1
    check_disk_vectors "$log" 'virtio[0-9]+-req\.[0-9]+' 4 || ok=1
    check_disk_clean "$log" || ok=1
    return $ok
}
scenario disk_both_smp4 full
