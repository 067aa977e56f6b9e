# Guest nodes (dts/guests.md) in the DTB that boots sluice: written by scripts/mkguestdtb.sh
# into the tree QEMU dumps for the demo machine, handed back with -dtb while -device
# guest-loader still loads the images.

# make_guest_dtb OUT RUN-ARGS... -- MKGUESTDTB-GUEST-ARGS...: dumps the tree of the machine
# `run.sh RUN-ARGS` boots (its guest-loader modules included), then writes guest nodes into it.
# In the guest arguments, @KERNEL and @INITRD stand for the modules run.sh loaded.
make_guest_dtb() {
    local out=$1 base=$1.base args=() kernel initrd
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    rm -f "$base"
    $RUN --timeout 60 "${args[@]}" -- -machine "dumpdtb=$base" >/dev/null 2>&1
    [ -s "$base" ] || { echo "  QEMU dumped no tree"; return 1; }
    module_of() { # KIND: "0xADDR:SIZE" of the /chosen module with that compatible (the
        # root's 2 address and 2 size cells, below 4 GiB as QEMU virt places them)
        local m hi addr size_hi size
        for m in $(fdtget -l "$base" /chosen); do
            fdtget "$base" "/chosen/$m" compatible | grep -q "multiboot,$1" || continue
            read -r hi addr size_hi size <<<"$(fdtget -t x "$base" "/chosen/$m" reg)"
            echo "0x$addr:$((0x$size))"
        done
    }
    kernel=$(module_of kernel) initrd=$(module_of ramdisk)
    [ -n "$kernel" ] && [ -n "$initrd" ] || { echo "  no guest-loader modules in the dump"; return 1; }
    local fixed=()
    for a in "$@"; do a=${a//@KERNEL/$kernel}; fixed+=("${a//@INITRD/$initrd}"); done
    scripts/mkguestdtb.sh "$base" "$out" "${fixed[@]}"
}

# The demo's two-guest layout: guest 0 with the e1000e on CPU 0, guest 1 with the virtio NIC
# on CPU 1 and 256 MiB, one kernel and initrd for both.
TWO_GUESTS=(--guest net0 --cpus 0 --pci 00:01.0 --kernel @KERNEL --initrd @INITRD
    --bootargs "console=ttyAMA0 sluice.node=net0"
    --guest net1 --cpus 1 --mem 256M --pci 00:02.0 --kernel @KERNEL --initrd @INITRD
    --bootargs "console=ttyAMA0 sluice.node=net1")

# A tree with guest nodes boots: sluice takes the images and command line from the guest
# nodes (the guest-loader's own module nodes are gone with -dtb), and the tree QEMU hands
# over (its memory node replaced by NOPs between the root's children) parses.
test_guest_nodes_boot() {
    local log=$1 ok=0 dtb=$LOGS/guest_nodes_boot.dtb
    make_guest_dtb "$dtb" --nic e1000e --nic virtio -- "${TWO_GUESTS[@]}" || return 1
    $RUN --timeout 120 --nic e1000e --nic virtio -- -dtb "$dtb" >"$log" 2>&1 ||
        { echo "  run.sh exited with $?"; ok=1; }
    expect_line "$log" '^\[sluice\] sluice [0-9.]+ ' "sluice banner" || ok=1
    reject_line "$log" '^\[sluice\] (FATAL|PANIC)' "fatal error" || ok=1
    expect_line "$log" '^\(net0\) .*Kernel command line: console=ttyAMA0 sluice\.node=net0' \
        "guest 0's command line from its node" || ok=1
    expect_line "$log" '^\(net1\) .*Kernel command line: console=ttyAMA0 sluice\.node=net1' \
        "guest 1's command line from its node" || ok=1
    expect_line "$log" '^\[sluice\] guest net0: 1 vCPUs, RAM' "guest 0 built" || ok=1
    expect_line "$log" '^\[sluice\] guest net1: 1 vCPUs, RAM 256 MiB' "guest 1 built with its 256 MiB" || ok=1
    expect_line "$log" '^\[sluice\] every guest is off: powering the machine off' "machine off with the last guest" || ok=1
    return $ok
}

# The two-guest demo (run.sh --guests two): each guest fetches 64 MiB through its own NIC (its
# own user network) while the other fetches too, every guest line carries its guest's name,
# both power off, then the machine.
test_two_guests() {
    local log=$1 ok=0 pair name driver last_start first_end
    start_http_server
    $RUN --timeout 400 --guests two --append "sluice.fetch=http://10.0.2.2:$http_port/blob" \
        >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    for pair in net0:e1000e net1:virtio_net; do
        name=${pair%%:*} driver=${pair#*:}
        expect_line "$log" "^\\($name\\) sluice-demo: fetch eth[0-9] \\($driver\\) bytes=$FETCH_BYTES md5=$http_md5 " \
            "$name fetch through its $driver with the right md5" || ok=1
        expect_line "$log" "^\\[sluice\\] guest $name powered off \\(PSCI SYSTEM_OFF\\)" "$name powered off" || ok=1
        reject_line "$log" "^\\($name\\) sluice-demo: fetch .* failed" "$name fetch failure" || ok=1
    done
    # At the same time: both fetches have started before either ends.
    last_start=$(grep -nE '^\(net[01]\) sluice-demo: fetch eth[0-9] \(.*\) starting' "$log" | tail -1 | cut -d: -f1)
    first_end=$(grep -nE '^\(net[01]\) sluice-demo: fetch eth[0-9] \(.*\) (bytes=|failed)' "$log" | head -1 | cut -d: -f1)
    [ "$(count_lines "$log" '^\(net[01]\) sluice-demo: fetch eth[0-9] \(.*\) starting')" = 2 ] &&
        [ -n "$first_end" ] && [ "$last_start" -lt "$first_end" ] ||
        { echo "  the two fetches did not overlap (last start at line ${last_start:-?}, first end at line ${first_end:-?})"; ok=1; }
    reject_line "$log" '^sluice-demo:' "a guest line without its guest's name" || ok=1
    expect_line "$log" '^\[sluice\] every guest is off: powering the machine off' "machine off with the last guest" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    return $ok
}

# Bad guest nodes stop sluice before any guest runs, with an error naming the node.
test_bad_guest_node() {
    local log=$1 ok=0 dtb=$LOGS/bad_guest_node.dtb rc case
    make_guest_dtb "$dtb" --nic e1000e --nic virtio -- "${TWO_GUESTS[@]}" || return 1
    : >"$log"
    for case in name cpu stray; do
        cp "$dtb" "$dtb.$case"
        case $case in
            name) fdtput -t s "$dtb.$case" /chosen/guest@1 sluice,name net0 ;;
            cpu) fdtput -t x "$dtb.$case" /chosen/guest@1 sluice,cpus 0x12345 ;;
            stray) fdtput -c "$dtb.$case" /chosen/module@7000000
                fdtput -t s "$dtb.$case" /chosen/module@7000000 compatible multiboot,ramdisk
                fdtput -t x "$dtb.$case" /chosen/module@7000000 reg 0 0x70000000 0 0x1000 ;;
        esac
        $RUN --timeout 60 --nic e1000e --nic virtio -- -dtb "$dtb.$case" >>"$log" 2>&1; rc=$?
        [ "$rc" = 3 ] || { echo "  $case: run.sh exit status $rc, expected 3 (fatal)"; ok=1; }
    done
    expect_line "$log" '^\[sluice\] FATAL: .*/chosen/guest@1: name "net0" is already the name of /chosen/guest@0' \
        "duplicate name refused" || ok=1
    expect_line "$log" '^\[sluice\] FATAL: .*/chosen/guest@1: "sluice,cpus" phandle 0x12345 is not a CPU node' \
        "non-CPU phandle refused" || ok=1
    expect_line "$log" '^\[sluice\] FATAL: .*/chosen/module@7000000: boot module outside every "sluice,guest" node' \
        "stray module refused" || ok=1
    return $ok
}

# Three guests on --smp 3 (no two-guest assumption): the two NIC guests and a third with no
# PCI function and 128 MiB; each boots on its own CPU and powers off, then the machine.
test_three_guests() {
    local log=$1 ok=0 dtb=$LOGS/three_guests.dtb name
    make_guest_dtb "$dtb" --smp 3 --nic e1000e --nic virtio -- "${TWO_GUESTS[@]}" \
        --guest idle --cpus 2 --mem 128M --kernel @KERNEL --initrd @INITRD \
        --bootargs "console=ttyAMA0 sluice.node=idle" || return 1
    $RUN --timeout 180 --smp 3 --nic e1000e --nic virtio -- -dtb "$dtb" >"$log" 2>&1 ||
        { echo "  run.sh exited with $?"; ok=1; }
    for name in net0 net1 idle; do
        expect_line "$log" "^\\($name\\) .*Kernel command line: console=ttyAMA0 sluice\\.node=$name" "$name boots" || ok=1
        expect_line "$log" "^\\[sluice\\] guest $name powered off \\(PSCI SYSTEM_OFF\\)" "$name powered off" || ok=1
    done
    expect_line "$log" '^\[sluice\] guest idle: 1 vCPUs, RAM 128 MiB' "the third guest's 128 MiB" || ok=1
    expect_line "$log" '^\[sluice\] every guest is off: powering the machine off' "machine off with the last guest" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    return $ok
}

# Lines that show a guest disturbed: its own fault or stop, a kernel complaint.
disturbed_lines() { # NAME
    echo "^\\[sluice\\] guest $1 (requested a reset|reboot failed|stopped)|^\\($1\\) .*(NETDEV WATCHDOG|self-detected stall|rcu_.*stall|Internal error|Oops|Call trace|Unable to handle|timed out|fetch .* failed)"
}

# net0 ended (NET0-END: its line, ENDED: how, for the message) and net1 ran on alone: its
# fetch whole and undisturbed, started and finished after net0's end, then net1 off and the
# machine with it, and no hypervisor error.
check_net1_ran_on() { # LOG NET0-END ENDED
    local ok=0
    expect_line "$1" "^\\(net1\\) sluice-demo: fetch eth0 \\(virtio_net\\) bytes=$FETCH_BYTES md5=$http_md5 " \
        "net1's fetch with the right md5" || ok=1
    reject_line "$1" "$(disturbed_lines net1)" "net1 disturbed" || ok=1
    expect_in_order "$1" "net0 $3, net1's fetch starts and ends, net1 off, machine off" \
        "$2" '^\(net1\) sluice-demo: fetch eth0 \(virtio_net\) starting' \
        '^\(net1\) sluice-demo: fetch eth0 \(virtio_net\) bytes=' '^\[sluice\] guest net1 powered off \(PSCI SYSTEM_OFF\)' \
        '^\[sluice\] every guest is off: powering the machine off' || ok=1
    reject_line "$1" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    return $ok
}

# Issue 12: net0 reboots 10 times (sluice.reboots=10 on its command line only) while net1
# fetches the 64 MiB file 12 times in a row through its virtio NIC (a fetch takes ~5 s, a
# reboot of net0 ~10 s: the fetches span all the resets): 10 resets of net0, net1's fetches all
# whole and undisturbed, net1 booted once, both off, then the machine.
test_guest_reboots_while_other_fetches() {
    local log=$1 ok=0 first_start first_reset last_reset last_fetch name fetches=12
    start_http_server
    $RUN --timeout 900 --guests two --guest-append net0=sluice.reboots=10 \
        --guest-append "net1=sluice.fetch=http://10.0.2.2:$http_port/blob sluice.fetches=$fetches" \
        >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    [ "$(count_lines "$log" '^\[sluice\] guest net0 requested a reset \(PSCI SYSTEM_RESET\) on vCPU 0: rebooting the guest')" = 10 ] ||
        { echo "  net0 was not reset exactly 10 times"; ok=1; }
    expect_line "$log" '^\(net0\) sluice-demo: boot 10 done, all 10 reboots made' "net0's last boot" || ok=1
    [ "$(count_lines "$log" "^\\(net1\\) sluice-demo: fetch eth0 \\(virtio_net\\) bytes=$FETCH_BYTES md5=$http_md5 ")" = "$fetches" ] ||
        { echo "  net1 did not fetch the file whole $fetches times"; ok=1; }
    expect_line "$log" "^\\(net1\\) sluice-demo: $fetches fetch rounds done" "net1's fetches over" || ok=1
    [ "$(count_lines "$log" '^\(net1\) .*Kernel command line:')" = 1 ] || { echo "  net1 booted more than once"; ok=1; }
    reject_line "$log" "$(disturbed_lines net1)" "net1 disturbed" || ok=1
    # At the same time: net1's first fetch started before net0's first reset and its last one
    # ended after net0's last reset.
    first_start=$(grep -nE '^\(net1\) sluice-demo: fetch eth0 \(virtio_net\) starting' "$log" | head -1 | cut -d: -f1)
    first_reset=$(grep -nE '^\[sluice\] guest net0 requested a reset' "$log" | head -1 | cut -d: -f1)
    last_reset=$(grep -nE '^\[sluice\] guest net0 requested a reset' "$log" | tail -1 | cut -d: -f1)
    last_fetch=$(grep -nE '^\(net1\) sluice-demo: fetch eth0 \(virtio_net\) bytes=' "$log" | tail -1 | cut -d: -f1)
    [ -n "$first_start" ] && [ -n "$first_reset" ] && [ -n "$last_reset" ] && [ -n "$last_fetch" ] &&
        [ "$first_start" -lt "$first_reset" ] && [ "$last_reset" -lt "$last_fetch" ] ||
        { echo "  net1's fetches did not span net0's resets (fetches from line ${first_start:-?} to ${last_fetch:-?}, resets from ${first_reset:-?} to ${last_reset:-?})"; ok=1; }
    for name in net0 net1; do
        expect_line "$log" "^\\[sluice\\] guest $name powered off \\(PSCI SYSTEM_OFF\\)" "$name powered off" || ok=1
    done
    expect_line "$log" '^\[sluice\] every guest is off: powering the machine off' "machine off with the last guest" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    return $ok
}

# Issue 12: net0 powers off at once (no fetch); net1 waits, then fetches 64 MiB through its
# virtio NIC after net0 is off, and powers off; the machine powers off only after net1.
test_guest_off_other_runs() {
    local log=$1 ok=0 off0 start1 end1 off1 machine
    start_http_server
    $RUN --timeout 400 --guests two \
        --guest-append "net1=sluice.fetch=http://10.0.2.2:$http_port/blob sluice.fetchwait=15" \
        >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    reject_line "$log" '^\(net0\) sluice-demo: fetch' "a fetch by net0" || ok=1
    check_net1_ran_on "$log" '^\[sluice\] guest net0 powered off \(PSCI SYSTEM_OFF\)' off || ok=1
    return $ok
}

# Issue 12: net0 probes net1's resources while net1 fetches 64 MiB twice, in two boots.
# Boot 1, net0 is Linux: devmem reads and writes of net1's host BARs (00:02.0's BAR 1 at
# 0x100c0000 and BAR 4 at 0x8000000000, where sluice's host enumeration puts them) and of
# net1's host RAM (0x6dc01000, checked against sluice's layout line): not in net0's address
# space, so each child is killed and sluice logs each refused access; a vITS MAPD, INT and
# MAPTI naming the host DeviceID of net1's function (0x10: 00:02.0), refused; net1's INTx SPI
# enabled, pended and routed through net0's GICD (NET1_SPI: QEMU virt wires pin A of root-bus
# slot S to SPI 3 + S % 4, so 00:02.0 raises INTID 37): ignored and logged; and net0's e1000e
# DMA aimed at net1's host RAM (its receive ring at 0x6dc01000, as dma_isolation aims it at
# sluice's canary): the SMMU faults, sluice logs it and turns off only the e1000e's bus
# mastering. (net1's own guest view, RAM at IPA 0x80000000 and its BAR at 0x40000000, is the
# same IPA layout as net0's: there net0 reaches its own RAM and e1000e, not net1's.)
# Boot 2, net0 is the bare-metal guest of scripts/mkvcputest.sh (SGIs need EL1) with
# vcputest.probe: it pokes NET1_SPI from EL1 too, then floods SGIs 0-7 with IRM=1 and with
# target lists naming Aff0 1 (net1's CPU) and every Aff0 but its own for PROBE_SECS seconds
# while net1 boots and fetches: none reaches net0 itself (a control SGI to itself does), and
# net1's IPI counts that a one-CPU Linux never raises itself (reschedule, call function, stop,
# crash stop, timer broadcast, wake-up) stay at zero after its fetches, and sluice's exit table
# shows no physical SGI (kick) taken by net1's CPU.
# In both boots net1 fetches whole and undisturbed; both power off, then the machine.
NET1_SPI=37
test_cross_guest_probes() {
    local log=$1 ok=0 dir=$SLUICE_ROOT/target/test-initrd layout offset count addr ipa ram1=0x6dc01000 range lo hi reg
    mkdir -p "$dir"
    layout=$(python3 scripts/tests/its_cmds_cpio.py "$dir/its-net1.cpio" 0x10) || return 1
    read -r offset count <<<"$layout"
    cat "$dir/its-net1.cpio" "$SLUICE_INITRAMFS" >"$dir/its-cross.cpio"
    start_http_server
    $RUN --timeout 400 --guests two --initrd "$dir/its-cross.cpio" \
        --guest-append "net0=retain_initrd iomem=relaxed sluice.devmem=0x100c0000,0x8000000000,$ram1 sluice.itscmds=$offset:$count sluice.gicdpoke=$NET1_SPI sluice.dmaescape=$ram1" \
        --guest-append "net1=sluice.fetch=http://10.0.2.2:$http_port/blob sluice.fetches=2" \
        >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    # net1's RAM line: "guest net1 RAM: IPA A..B -> host C..D (translated)".
    range=$(grep -E '^\[sluice\] guest net1 RAM: IPA ' "$log" | head -1 | sed -E 's/.*-> host (0x[0-9a-f]+)\.\.(0x[0-9a-f]+).*/\1 \2/')
    read -r lo hi <<<"$range"
    [ -n "$hi" ] && [ $((lo)) -le $((ram1)) ] && [ $((ram1)) -lt $((hi)) ] ||
        { echo "  $ram1 is not in net1's host RAM (${range:-no layout line})"; ok=1; }
    for addr in 0x100c0000 0x8000000000 $ram1; do
        ipa=$(printf 0x%x "$addr")
        expect_line "$log" "^\\(net0\\) sluice-demo: devmem $addr read: killed by signal" "net0's read of $addr killed" || ok=1
        expect_line "$log" "^\\(net0\\) sluice-demo: devmem $addr write: killed by signal" "net0's write of $addr killed" || ok=1
        [ "$(count_lines "$log" "^\\[sluice\\] WARN: .*read .* IPA $ipa ")" = 1 ] &&
            [ "$(count_lines "$log" "^\\[sluice\\] WARN: .*write .* IPA $ipa ")" = 1 ] ||
            { echo "  expected one refused read and one refused write of IPA $ipa"; ok=1; }
    done
    expect_line "$log" '^\(net0\) sluice-demo: guest alive after devmem' "net0 alive" || ok=1
    expect_line "$log" '^\(net0\) sluice-demo: itscmds ran' "net0's ITS commands issued" || ok=1
    [ "$(count_lines "$log" "^\\[sluice\\] WARN: vITS: .* refused: device 0x10 is not the guest's")" -ge 3 ] ||
        { echo "  expected MAPD, INT and MAPTI on DeviceID 0x10 refused"; ok=1; }
    expect_line "$log" "^\\[sluice\\] WARN: vITS: Mapti .* refused: device 0x10 is not the guest's" "MAPTI on net1's DeviceID refused" || ok=1
    check_spi_pokes "$log" || ok=1
    expect_line "$log" "^\\(net0\\) sluice-demo: gicdpoke spi $NET1_SPI enabled=0 pending=0 route=0x0+ " "net1's SPI reads as zero in net0's GICD" || ok=1
    expect_line "$log" "^\\(net0\\) sluice-demo: dmaescape eth[0-9] rx ring at $ram1" "net0's e1000e aimed at net1's RAM" || ok=1
    expect_line "$log" '^\[sluice\] WARN: smmu: F_[A-Z_]+ stream 0x0008 ' "the e1000e's DMA fault logged with its stream" || ok=1
    expect_line "$log" '^\[sluice\] WARN: pci 00:01\.0 .* bus mastering turned off' "net0's faulting e1000e stopped" || ok=1
    reject_line "$log" '^\[sluice\] WARN: smmu: .* stream 0x0010 |^\[sluice\] WARN: pci 00:02\.0 ' "net1's NIC touched by the fault handling" || ok=1
    expect_line "$log" '^\(net0\) sluice-demo: dmaescape done, guest alive' "net0 alive after its DMA escape" || ok=1
    check_net1_fetched "$log" || ok=1
    check_sgi_probe "${log%.log}-sgi.log" || ok=1
    return $ok
}

# Every probe of net1's SPI through net0's GICD (ISENABLER, ISPENDR, IROUTER) logged as refused.
check_spi_pokes() { # LOG
    local reg ok=0
    for reg in ISENABLER ISPENDR IROUTER; do
        expect_line "$1" "^\\[sluice\\] WARN: guest net0 vCPU 0: GICD_$reg write refused: SPI $NET1_SPI is not the guest's" "GICD_$reg of net1's SPI refused" || ok=1
    done
    reject_line "$1" "^\\[sluice\\] WARN: guest net1 .*GICD_" "a GICD refusal in net1" || ok=1
    return $ok
}

# net1 fetched whole twice, undisturbed; both guests off, then the machine; no sluice error.
check_net1_fetched() { # LOG
    local name ok=0
    [ "$(count_lines "$1" "^\\(net1\\) sluice-demo: fetch eth0 \\(virtio_net\\) bytes=$FETCH_BYTES md5=$http_md5 ")" = 2 ] ||
        { echo "  net1 did not fetch the file whole twice"; ok=1; }
    reject_line "$1" "$(disturbed_lines net1)" "net1 disturbed" || ok=1
    for name in net0 net1; do
        expect_line "$1" "^\\[sluice\\] guest $name powered off \\(PSCI SYSTEM_OFF\\)" "$name powered off" || ok=1
    done
    expect_line "$1" '^\[sluice\] every guest is off: powering the machine off' "machine off with the last guest" || ok=1
    reject_line "$1" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    return $ok
}

# Boot 2 (see test_cross_guest_probes): the bare-metal net0 floods SGIs while net1 fetches.
check_sgi_probe() { # LOG
    local log=$1 ok=0 image secs=${SLUICE_PROBE_SECS:-90} first_start last_fetch flood_end
    image=$(scripts/mkvcputest.sh) || return 1
    $RUN --timeout 400 --guests two --guest-image "net0=$image" \
        --guest-append "net0=vcputest.probe=$secs vcputest.probespi=$NET1_SPI" \
        --guest-append "net1=sluice.fetch=http://10.0.2.2:$http_port/blob sluice.fetches=2 sluice.showipis" \
        >"$log" 2>&1 || { echo "  run.sh (SGI probe) exited with $?"; ok=1; }
    echo "  SGI probe boot: $log"
    grep -E '^\(net0\) vcputest: (PASS|FAIL|done)|^\(net1\) sluice-demo: ipis ' "$log" | sed 's/^/  /'
    expect_line "$log" "^\\(net0\\) vcputest: PASS probe gicd spi $NET1_SPI: " "net1's SPI ignored in net0's GICD (EL1)" || ok=1
    check_spi_pokes "$log" || ok=1
    expect_line "$log" '^\(net0\) vcputest: PASS probe sgi sent=[1-9][0-9]* .* taken_here=0 pending_here=0x0' "net0's SGIs to every other CPU reached nobody here" || ok=1
    expect_line "$log" '^\(net0\) vcputest: PASS probe sgi control' "net0's SGI to itself arrived" || ok=1
    expect_line "$log" '^\(net0\) vcputest: done checks=3 failed=0 ' "net0's probe done" || ok=1
    # A one-CPU Linux raises none of these itself: any count is an SGI from net0.
    [ "$(count_lines "$log" '^\(net1\) sluice-demo: ipis IPI[0-6]: ')" = 7 ] ||
        { echo "  net1 did not list its IPIs"; ok=1; }
    reject_line "$log" '^\(net1\) sluice-demo: ipis IPI[012346]: +[1-9]' "an SGI of net0 counted in net1" || ok=1
    # sluice's exit table (a column per physical CPU): net0's SGIs trapped on CPU 0, and no
    # physical SGI (a kick) ever interrupted CPU 1, net1's.
    expect_line "$log" '^\[sluice\] sysreg sgi +[1-9][0-9]* +0 ' "net0's SGIs trapped on CPU 0 only" || ok=1
    reject_line "$log" '^\[sluice\] irq sgi +[0-9]+ +[1-9]' "a physical SGI taken by net1's CPU" || ok=1
    # The flood overlaps net1's fetches.
    first_start=$(grep -nE '^\(net1\) sluice-demo: fetch eth0 \(virtio_net\) starting' "$log" | head -1 | cut -d: -f1)
    flood_end=$(grep -nE '^\(net0\) vcputest: PASS probe sgi sent=' "$log" | head -1 | cut -d: -f1)
    [ -n "$first_start" ] && [ -n "$flood_end" ] && [ "$first_start" -lt "$flood_end" ] ||
        { echo "  net0's SGI flood ended (line ${flood_end:-?}) before net1's first fetch (line ${first_start:-?}): raise SLUICE_PROBE_SECS"; ok=1; }
    check_net1_fetched "$log" || ok=1
    return $ok
}

scenario guest_nodes_boot ci
scenario two_guests ci
scenario three_guests full
scenario bad_guest_node ci
scenario guest_reboots_while_other_fetches full
scenario guest_off_other_runs full
scenario cross_guest_probes full
