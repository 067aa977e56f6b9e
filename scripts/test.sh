#!/usr/bin/env bash
# Runs every test: host unit tests, then whole-system scenarios that boot QEMU through
# scripts/run.sh and check exact lines of the serial console. Ends with "N passed, M failed".
#   scripts/test.sh [SCENARIO...]   (default: all; names as listed by --list)
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$SLUICE_ROOT"

RUN=scripts/run.sh
LOGS=$SLUICE_ROOT/target/test-logs
passed=0 failed=0 failures=()

# --- helpers ---------------------------------------------------------------------------------
expect_line() { # LOG REGEX DESCRIPTION
    grep -qE -- "$2" "$1" && return 0
    echo "  missing: $3 (/$2/)"
    return 1
}
reject_line() { # LOG REGEX DESCRIPTION
    grep -qE -- "$2" "$1" || return 0
    echo "  unexpected: $3:"
    grep -E -- "$2" "$1" | head -3 | sed 's/^/    /'
    return 1
}
count_lines() { grep -cE -- "$2" "$1"; }

run_scenario() { # NAME: runs test_NAME, prints PASS/FAIL and the log tail on failure
    local name=$1 log=$LOGS/$1.log
    echo "--- $name"
    if "test_$name" "$log" >"$LOGS/$name.out" 2>&1; then
        passed=$((passed + 1))
        echo "PASS $name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "FAIL $name"
        sed 's/^/  /' "$LOGS/$name.out"
        [ -f "$log" ] && { echo "  last lines of $log:"; tail -n 25 "$log" | sed 's/^/  | /'; }
    fi
}

# --- scenarios -------------------------------------------------------------------------------
# Host unit tests: the sluice library (and its short fuzz runs), the guest fuzzer's pure
# logic, and the benchmark harness's parsing and statistics.
test_unit() {
    local ok=0
    cargo test --quiet >"$1" 2>&1 || ok=1
    (cd guest/fuzz && cargo test --quiet) >>"$1" 2>&1 || ok=1
    python3 -m unittest discover -s scripts/bench >>"$1" 2>&1 || ok=1
    grep -E '^test result:|^Ran [0-9]+ tests|^OK|FAILED' "$1" | tail -n 8
    return $ok
}

# The host fuzz targets (config space, ITS commands, trap decoding, DT parser) for a short,
# seeded run each; scripts/fuzz.sh --duration N runs them longer.
test_host_fuzz() {
    scripts/fuzz.sh --duration "${SLUICE_FUZZ_DURATION:-5}" 2>&1 | tee "$1" | tail -n 6
    [ "${PIPESTATUS[0]}" = 0 ]
}

test_demo_boot() {
    local log=$1 ok=0
    $RUN --timeout 120 >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    expect_line "$log" '^\[sluice\] sluice [0-9.]+ ' "sluice banner" || ok=1
    expect_line "$log" '^\[sluice\] entry to guest: [0-9]+ us' "entry-to-guest time" || ok=1
    expect_line "$log" 'CPU: All CPU\(s\) started at EL1' "all CPUs at EL1" || ok=1
    expect_line "$log" 'SMP: Total of 2 processors activated' "2 processors" || ok=1
    expect_line "$log" '^sluice-demo: init started' "demo init marker" || ok=1
    expect_line "$log" '^ *[0-9]+: +[1-9][0-9]* +[1-9][0-9]* +GICv3 +27 Level +arch_timer' "arch_timer counting on both CPUs" || ok=1
    reject_line "$log" 'GIC.*([Ww][Aa][Rr][Nn]|[Bb]roken|[Ff]ailed)|WARNING:' "GIC warning in dmesg" || ok=1
    reject_line "$log" '^\[sluice\] (WARN|ERROR)' "hypervisor warning during a clean boot" || ok=1
    expect_line "$log" '^\[sluice\] exits +vcpu0 +vcpu1 +total' "exit table at power off" || ok=1
    expect_line "$log" '^\[sluice\] irq timer +[1-9][0-9]* +[1-9][0-9]* +[0-9]+' "timer exits counted on both vCPUs" || ok=1
    expect_line "$log" '^\[sluice\] guest powered off \(PSCI SYSTEM_OFF\)' "PSCI SYSTEM_OFF" || ok=1
    return $ok
}

test_custom_initrd() {
    local log=$1 ok=0 dir=$SLUICE_ROOT/target/test-initrd sock
    mkdir -p "$dir"
    scripts/mkinitramfs.sh --init scripts/guest/cmdline-init --output "$dir/cmdline.cpio.gz" || return 1
    sock=$(mktemp -u /tmp/sluice-monitor.XXXXXX.sock)
    $RUN --timeout 120 --initrd "$dir/cmdline.cpio.gz" --append 'x=1' -- -monitor "unix:$sock,server,nowait" \
        >"$log" 2>&1 &
    local pid=$! answer=""
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
    answer=$(python3 - "$sock" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
s.sendall(b"info status\n")
data, deadline = b"", time.time() + 5
while b"VM status" not in data and time.time() < deadline:
    try:
        data += s.recv(4096)
    except socket.timeout:
        break
print(data.decode(errors="replace"))
PY
    ) || true
    wait "$pid" || { echo "  run.sh exited with $?"; ok=1; }
    rm -f "$sock"
    echo "$answer" | grep -q 'VM status: running' || { echo "  monitor did not answer 'info status': $answer"; ok=1; }
    expect_line "$log" '^cmdline-test: /proc/cmdline: .*\bx=1\b' "x=1 in /proc/cmdline" || ok=1
    expect_line "$log" '^\[sluice\] guest powered off' "power off" || ok=1
    return $ok
}

test_devmem_fault() {
    local log=$1 ok=0 addr=0x09010000
    $RUN --timeout 120 --append "sluice.devmem=$addr" >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    expect_line "$log" "^sluice-demo: devmem $addr read: killed by signal" "devmem read killed" || ok=1
    expect_line "$log" "^sluice-demo: devmem $addr write: killed by signal" "devmem write killed" || ok=1
    expect_line "$log" '^sluice-demo: guest alive after devmem' "guest alive" || ok=1
    local reads writes
    reads=$(count_lines "$log" '^\[sluice\] WARN: .*read .* IPA 0x9010000 ')
    writes=$(count_lines "$log" '^\[sluice\] WARN: .*write .* IPA 0x9010000 ')
    [ "$reads" = 1 ] && [ "$writes" = 1 ] || { echo "  expected one hypervisor line per access, got $reads reads, $writes writes"; ok=1; }
    expect_line "$log" '^\[sluice\] guest powered off' "power off" || ok=1
    return $ok
}

test_console_input() {
    python3 scripts/tests/type_into_shell.py "$1"
}

test_bad_script_input() {
    local ok=0 out rc
    out=$($RUN --kernel /nonexistent/Image 2>&1 >/dev/null); rc=$?
    [ "$rc" != 0 ] && [ "$(echo "$out" | wc -l)" = 1 ] && [[ "$out" == error:*"/nonexistent/Image"* ]] ||
        { echo "  missing kernel: status $rc, stderr: $out"; ok=1; }
    out=$($RUN --frobnicate 2>&1 >/dev/null); rc=$?
    [ "$rc" != 0 ] && [ "$(echo "$out" | wc -l)" = 1 ] && [[ "$out" == error:*"--frobnicate"* ]] ||
        { echo "  unknown option: status $rc, stderr: $out"; ok=1; }
    out=$($RUN --nic tokenring 2>&1 >/dev/null); rc=$?
    [ "$rc" != 0 ] && [ "$(echo "$out" | wc -l)" = 1 ] || { echo "  bad --nic: status $rc, stderr: $out"; ok=1; }
    return $ok
}

test_no_kernel_module() {
    local log=$1 ok=0 rc
    $RUN --no-guest --timeout 60 >"$log" 2>&1; rc=$?
    [ "$rc" = 3 ] || { echo "  run.sh exit status $rc, expected 3 (fatal)"; ok=1; }
    expect_line "$log" '^\[sluice\] FATAL: .*multiboot,kernel' "fatal error naming multiboot,kernel" || ok=1
    return $ok
}

test_not_at_el2() {
    local log=$1 ok=0 rc
    $RUN --timeout 60 -- -machine virtualization=off >"$log" 2>&1; rc=$?
    [ "$rc" = 3 ] || { echo "  run.sh exit status $rc, expected 3 (fatal)"; ok=1; }
    expect_line "$log" '^\[sluice\] FATAL: entered at EL1' "refusal to run below EL2" || ok=1
    return $ok
}

# --- PCI passthrough ---------------------------------------------------------------------------
FETCH_BYTES=$((64 << 20))
SMALL_BYTES=$((8 << 20))
http_port=""

# Serves a 64 MiB random file on a free loopback port (QEMU user networking: 10.0.2.2).
start_http_server() {
    [ -n "$http_port" ] && return
    local www=$SLUICE_ROOT/target/www
    mkdir -p "$www"
    [ "$(stat -c %s "$www/blob" 2>/dev/null)" = "$FETCH_BYTES" ] || head -c "$FETCH_BYTES" /dev/urandom >"$www/blob"
    http_md5=$(md5sum "$www/blob" | cut -d' ' -f1)
    [ "$(stat -c %s "$www/small" 2>/dev/null)" = "$SMALL_BYTES" ] || head -c "$SMALL_BYTES" /dev/urandom >"$www/small"
    small_md5=$(md5sum "$www/small" | cut -d' ' -f1)
    http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    (cd "$www" && exec python3 -m http.server "$http_port" --bind 127.0.0.1 >/dev/null 2>&1) &
    http_pid=$!
    trap 'kill $http_pid 2>/dev/null' EXIT
    for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $http_port))" 2>/dev/null && break; sleep 0.1; done
}

# The SMMU is on, guest RAM sits at an IPA other than its host address, every assigned
# function's stream is translated, and nothing says DMA is not isolated.
check_dma_isolated() { # LOG
    local ok=0
    expect_line "$1" '^\[sluice\] smmu 0x[0-9a-f]+\.\.0x[0-9a-f]+: stage 2 on' "SMMU on" || ok=1
    expect_line "$1" '^\[sluice\] guest RAM: IPA 0x[0-9a-f]+\.\.0x[0-9a-f]+ -> host 0x[0-9a-f]+\.\.0x[0-9a-f]+ .*\(translated\)' "guest RAM away from its host address" || ok=1
    grep -E '^\[sluice\] guest RAM: IPA' "$1" | awk '$5 == $8 { exit 1 }' || { echo "  guest RAM IPA equals its host address"; ok=1; }
    expect_line "$1" '^\[sluice\] smmu: stream 0x[0-9a-f]+ \(guest slot 0\) translated' "assigned stream translated" || ok=1
    reject_line "$1" 'DMA NOT ISOLATED' "not-isolated warning with an SMMU" || ok=1
    return $ok
}

# Checks a fetch through every NIC named in $3... ("driver" names), plus BAR mapping lines.
check_fetch() { # LOG DRIVER...
    local log=$1 ok=0 driver
    shift
    for driver in "$@"; do
        expect_line "$log" "^sluice-demo: fetch eth[0-9] \($driver\) bytes=$FETCH_BYTES md5=$http_md5 " "$driver fetch with the right md5" || ok=1
    done
    check_nic_irqs "$log" "$#" || ok=1
    # Every BAR mapping moves the address: gfn != mfn.
    local maps same
    maps=$(count_lines "$log" '^\[sluice\] vpci .* bar [0-9] 0x[0-9a-f]+ -> 0x[0-9a-f]+ [0-9]+ KiB')
    same=$(grep -E '^\[sluice\] vpci .* bar [0-9] ' "$log" | awk '$6 == $8' | wc -l)
    [ "$maps" -gt 0 ] && [ "$same" = 0 ] || { echo "  expected gfn != mfn on every mapping ($maps maps, $same identical)"; ok=1; }
    python3 scripts/tests/bar_sizes.py "$log" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|ERROR)' "hypervisor error" || ok=1
    expect_line "$log" '^\[sluice\] guest powered off' "power off" || ok=1
    return $ok
}

# NIC interrupt lines printed after each fetch: with MSI (the default) at least two ITS-MSI
# vectors per NIC that counted; with IRQ_MODE=intx one GICv3 level line per NIC that counted.
check_nic_irqs() { # LOG NIC-COUNT
    local log=$1 nics=$2 counted
    if [ "${IRQ_MODE:-msi}" = msi ]; then
        counted=$(grep '^sluice-demo: irq' "$log" | grep ' ITS-MSI ' | awk '$4 + $5 > 0 {print $3}' | sort -u | wc -l)
        [ "$counted" -ge $((2 * nics)) ] || { echo "  expected >= $((2 * nics)) counting ITS-MSI vectors, got $counted"; return 1; }
    else
        counted=$(grep '^sluice-demo: irq' "$log" | grep -E 'GICv3 +[0-9]+ Level' | awk '$4 + $5 > 0 {print $3}' | sort -u | wc -l)
        [ "$counted" -ge "$nics" ] || { echo "  expected $nics counting INTx lines, got $counted"; return 1; }
    fi
}

fetch_run() { # LOG RUN-ARGS...
    local log=$1
    shift
    start_http_server
    $RUN --timeout 300 --append "sluice.fetch=http://10.0.2.2:$http_port/blob${EXTRA_APPEND:+ $EXTRA_APPEND}" "$@" >"$log" 2>&1 ||
        echo "  run.sh exited with $?"
}

test_nic_e1000e() { fetch_run "$1" --nic e1000e; check_fetch "$1" e1000e; }
test_nic_virtio() { fetch_run "$1" --nic virtio; check_fetch "$1" virtio_net; }
test_nic_both() {
    fetch_run "$1" --nic e1000e --nic virtio
    local ok=0
    check_fetch "$1" e1000e virtio_net || ok=1
    check_dma_isolated "$1" || ok=1
    return $ok
}
test_nic_intx() {
    EXTRA_APPEND=pci=nomsi fetch_run "$1" --nic e1000e --nic virtio
    IRQ_MODE=intx check_fetch "$1" e1000e virtio_net
}

# A guest that points its ITS command queue outside its memory, then writes garbage into
# its e1000e's MSI-X table: each is refused or contained, and the virtio NIC still fetches.
test_hostile_msi() {
    local log=$1 ok=0
    start_http_server
    $RUN --timeout 300 --nic e1000e --nic virtio \
        --append "iomem=relaxed sluice.msifuzz=1 sluice.fetch=http://10.0.2.2:$http_port/blob" >"$log" 2>&1 ||
        { echo "  run.sh exited with $?"; ok=1; }
    expect_line "$log" '^\[sluice\] WARN: vITS: command queue entry at IPA 0x[0-9a-f]+ is outside guest memory' "queue outside memory refused" || ok=1
    expect_line "$log" '^sluice-demo: msifuzz wrote [0-9]+ MSI-X table words' "garbage written" || ok=1
    expect_line "$log" "^sluice-demo: fetch eth[0-9] \\(virtio_net\\) bytes=$FETCH_BYTES md5=$http_md5 " "virtio fetch after the garbage" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|ERROR)' "hypervisor error" || ok=1
    expect_line "$log" '^\[sluice\] guest powered off' "power off" || ok=1
    return $ok
}

test_nic_behind_root_port() {
    fetch_run "$1" --nic none -- -netdev user,id=rpnet -device pcie-root-port,id=rp0,chassis=1 -device e1000e,bus=rp0,netdev=rpnet
    local ok=0
    check_fetch "$1" e1000e || ok=1
    expect_line "$1" '^\[sluice\] pci 01:00\.0 assigned to the guest as 00:00\.0' "device behind the root port on guest bus 0" || ok=1
    return $ok
}

test_pci_selection() {
    local log=$1 ok=0
    $RUN --timeout 120 --nic e1000e --nic virtio --pci 00:02.0 >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    expect_line "$log" '^\[sluice\] pci 00:01\.0 not assigned' "the e1000e left out" || ok=1
    expect_line "$log" 'pci 0000:00:00\.0: \[1af4:1041\]' "the virtio NIC as the guest's only device" || ok=1
    reject_line "$log" 'pci 0000:00:0[1-9a-f]\.0: \[' "a second device in the guest" || ok=1
    reject_line "$log" '\[8086:10d3\]' "the unassigned e1000e in the guest" || ok=1
    return $ok
}

test_config_fuzz() {
    python3 scripts/tests/config_fuzz.py "$1" "${SLUICE_FUZZ_WRITES:-20000}"
}

# A guest that feeds its ITS commands for a device it does not own and with out-of-range
# IDs (from a hand-built queue in its retained initrd): each is refused with a log line and
# both NICs keep working.
test_hostile_its() {
    local log=$1 ok=0 dir=$SLUICE_ROOT/target/test-initrd layout offset count
    mkdir -p "$dir"
    layout=$(python3 scripts/tests/its_cmds_cpio.py "$dir/its-cmds.cpio") || return 1
    read -r offset count <<<"$layout"
    cat "$dir/its-cmds.cpio" "$SLUICE_INITRAMFS" >"$dir/its-hostile.cpio"
    start_http_server
    $RUN --timeout 300 --nic e1000e --nic virtio --initrd "$dir/its-hostile.cpio" \
        --append "retain_initrd iomem=relaxed sluice.itscmds=$offset:$count sluice.fetch=http://10.0.2.2:$http_port/blob" \
        >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    expect_line "$log" '^sluice-demo: itscmds ran' "commands issued" || ok=1
    expect_line "$log" "refused: device 0x100 is not the guest's" "MAPD/INT on a device not owned" || ok=1
    [ "$(count_lines "$log" "refused: device 0x100 is not the guest's")" -ge 2 ] || { echo "  expected MAPD and INT refused"; ok=1; }
    expect_line "$log" 'refused: EventID out of range' "EventID out of range" || ok=1
    expect_line "$log" 'refused: LPI out of range' "LPI out of range" || ok=1
    expect_line "$log" 'refused: collection out of range' "collection out of range" || ok=1
    expect_line "$log" 'refused: opcode 0x2a not supported' "undefined opcode" || ok=1
    check_fetch "$log" e1000e virtio_net || ok=1
    return $ok
}

# A guest points its e1000e's receive ring at sluice's DMA canary (host memory outside its
# RAM) and makes it receive: the SMMU faults, sluice logs each fault with its stream and stops
# the NIC once it keeps faulting; the canary, sluice and the guest are unharmed.
test_dma_isolation() {
    local log=$1 ok=0
    start_http_server
    python3 scripts/tests/dma_escape.py "$log" "http://10.0.2.2:$http_port/blob" || ok=1
    check_dma_isolated "$log" || ok=1
    expect_line "$log" '^\[sluice\] WARN: smmu: F_[A-Z_]+ stream 0x0008 ' "the NIC's DMA fault logged with its stream" || ok=1
    expect_line "$log" '^\[sluice\] WARN: pci 00:01\.0 .* bus mastering turned off' "the faulting NIC stopped" || ok=1
    expect_line "$log" '^\[sluice\] DMA canary at 0x[0-9a-f]+ intact' "canary intact" || ok=1
    reject_line "$log" 'CORRUPTED|^\[sluice\] (PANIC|FATAL)' "canary corrupted or hypervisor crash" || ok=1
    expect_line "$log" "^sluice-demo: fetch eth[0-9] \\(virtio_net\\) bytes=$FETCH_BYTES md5=$http_md5" "virtio fetch after the attack" || ok=1
    expect_line "$log" '^\[sluice\] guest powered off' "power off" || ok=1
    return $ok
}

# Without an SMMU the guest runs identity-mapped, says once that DMA is not isolated, and
# both NICs still work.
test_no_smmu() {
    local ok=0
    fetch_run "$1" --iommu none --nic e1000e --nic virtio
    check_fetch "$1" e1000e virtio_net || ok=1
    expect_line "$1" '^\[sluice\] guest RAM: IPA (0x[0-9a-f]+)\.\.0x[0-9a-f]+ -> host \1\.\..* \(identity\)' "identity-mapped guest RAM" || ok=1
    [ "$(count_lines "$1" '^\[sluice\] WARN: DMA NOT ISOLATED')" = 1 ] || { echo "  expected the not-isolated warning exactly once"; ok=1; }
    return $ok
}

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

# A hostile guest (scripts/mkfuzzinitramfs.sh): /bin/guestfuzz makes random accesses of every
# width to config space, GICD, GICR, ITS, UART, MSI-X pages and stray addresses for
# SLUICE_GUESTFUZZ_SECS (default 15) seconds, then both NICs must still fetch the file intact.
# SLUICE_GUESTFUZZ_SEED=N replays a run; CI uses a fixed seed so that its runs compare, and
# SLUICE_GUESTFUZZ_SEED=random explores new ones.
test_guest_fuzz() {
    local log=$1 ok=0 initrd secs=${SLUICE_GUESTFUZZ_SECS:-15} seed=""
    initrd=$(scripts/mkfuzzinitramfs.sh) || return 1
    seed=" sluice.guestfuzz_seed=${SLUICE_GUESTFUZZ_SEED:-16621010057653877028}"
    start_http_server
    $RUN --timeout $((secs + 300)) --initrd "$initrd" --nic e1000e --nic virtio \
        --append "iomem=relaxed sluice.guestfuzz=$secs$seed sluice.fetch=http://10.0.2.2:$http_port/blob" \
        >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    expect_line "$log" "^sluice-guestfuzz: seed=[0-9]+ secs=$secs accesses=[1-9][0-9]* config=[1-9][0-9]* mmio=[1-9][0-9]* stray=[1-9][0-9]* faults=[0-9]+ " "fuzz summary with accesses of every kind" || ok=1
    grep -E '^sluice-guestfuzz: seed=' "$log" | sed 's/^/  /'
    reject_line "$log" '^sluice-guestfuzz: FAILED|^sluice-demo: (guestfuzz failed|guestfuzz is not|rebinding .* failed)' "fuzzer failure" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL)' "hypervisor panic" || ok=1
    reject_line "$log" 'Kernel panic|Internal error:|Unable to handle kernel' "guest kernel crash" || ok=1
    expect_line "$log" "^sluice-demo: fetch eth[0-9] \(e1000e\) bytes=$FETCH_BYTES md5=$http_md5 " "e1000e fetch after the fuzzing" || ok=1
    expect_line "$log" "^sluice-demo: fetch eth[0-9] \(virtio_net\) bytes=$FETCH_BYTES md5=$http_md5 " "virtio fetch after the fuzzing" || ok=1
    expect_line "$log" '^\[sluice\] guest powered off \(PSCI SYSTEM_OFF\)' "clean power off" || ok=1
    return $ok
}

SCENARIOS=(unit host_fuzz demo_boot custom_initrd devmem_fault console_input bad_script_input no_kernel_module not_at_el2
    nic_e1000e nic_virtio nic_both nic_intx nic_behind_root_port pci_selection hostile_msi hostile_its config_fuzz
    guest_fuzz dma_isolation no_smmu reboot_loop)
# Scenario files in the split layout (scripts/tests/scenarios/*.sh) register themselves.
scenario() { SCENARIOS+=("$1"); }
source scripts/tests/scenarios/mem_sizes.sh

# --- main ------------------------------------------------------------------------------------
if [ "${1:-}" = --list ]; then printf '%s\n' "${SCENARIOS[@]}"; exit 0; fi
selected=("${@:-${SCENARIOS[@]}}")
mkdir -p "$LOGS"
scripts/setup.sh || die "setup failed"
scripts/build.sh || die "build failed"
for name in "${selected[@]}"; do
    declare -F "test_$name" >/dev/null || die "unknown scenario: $name (see --list)"
    run_scenario "$name"
done
echo
[ "$failed" = 0 ] || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
