# Host unit and fuzz tests, and boots of the demo that check sluice itself: banner, CPUs, timer,
# console in and out, command line, faults, refusals of bad input.

# Host unit tests: the sluice library (and its short fuzz runs), the guest fuzzer's and the
# vCPU test guest's pure logic, and the benchmark harness's parsing and statistics.
test_unit() {
    local ok=0
    cargo test --quiet >"$1" 2>&1 || ok=1
    (cd guest/fuzz && cargo test --quiet) >>"$1" 2>&1 || ok=1
    (cd guest/vcputest && cargo test --quiet) >>"$1" 2>&1 || ok=1
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

# The boot console costs one exit per byte: FR reads are answered by the UART's read-only page
# (docs/vcpu.md), only the DR writes trap. run.sh maps guest RAM with 4 KiB stage-2 pages.
test_console_exits() {
    local log=$1 ok=0 bytes exits
    $RUN --timeout 120 >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    expect_line "$log" '^\[sluice\] guest stage 2: RAM mapped with 4 KiB pages \(sluice.stage2=pages' \
        "stage 2 in pages by default under run.sh" || ok=1
    expect_line "$log" '^sluice-demo: done' "the demo ran to its end" || ok=1
    # Every guest line after the entry, with the CR LF the console adds.
    bytes=$(tr -d '\r' <"$log" | awk '/^\[sluice\] entry to guest/ { on = 1; next }
        on && !/^\[sluice\]/ { n += length($0) + 2 } END { print n + 0 }')
    exits=$(tr -d '\r' <"$log" | awk '/^\[sluice\] mmio uart / { n = $NF } END { print n + 0 }')
    echo "  guest console: $bytes bytes, $exits mmio uart exits"
    [ "$exits" -gt 0 ] && [ "$bytes" -gt 10000 ] && [ "$((exits * 100))" -le "$((bytes * 115))" ] ||
        { echo "  more than 1.15 UART exits per byte printed (two per byte without the read page)"; ok=1; }
    return $ok
}

# sluice.stage2: blocks (the hardware default) when asked for; a bad value is refused by name.
test_stage2_option() {
    local log=$1 ok=0 rc
    $RUN --timeout 120 --hyp-append sluice.stage2=blocks >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    reject_line "$log" 'RAM mapped with 4 KiB pages' "pages with sluice.stage2=blocks" || ok=1
    expect_line "$log" '^sluice-demo: done' "the demo ran to its end with blocks" || ok=1
    $RUN --timeout 60 --hyp-append sluice.stage2=huge >"$log.bad" 2>&1; rc=$?
    [ "$rc" = 3 ] || { echo "  run.sh exit status $rc with sluice.stage2=huge, expected 3 (fatal)"; ok=1; }
    expect_line "$log.bad" "^\[sluice\] FATAL: .*sluice.stage2: 'huge' is neither blocks nor pages" \
        "refusal naming the bad value" || ok=1
    return $ok
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
    expect_line "$log" '^\[sluice\] FATAL: .*(entered at EL1|has no EL2)' "refusal to run below EL2" || ok=1
    return $ok
}

scenario unit ci
scenario host_fuzz ci
scenario demo_boot ci
scenario custom_initrd full
scenario devmem_fault ci
scenario console_input ci
scenario console_exits ci
scenario stage2_option full
scenario bad_script_input ci
scenario no_kernel_module ci
scenario not_at_el2 ci
