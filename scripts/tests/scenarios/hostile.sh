# Hostile guests: bad ITS commands, garbage MSI-X tables, random config writes, DMA aimed
# outside the guest, random accesses of every width; sluice and the other devices must not care.

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

# Hostile config writes (sluice.cfgfuzz=N, made by /bin/guestfuzz of the fuzz initramfs):
# SLUICE_FUZZ_WRITES (default 20000) writes; every other host function's config space must be
# byte-identical after them and the target's real BARs unchanged. CI uses a fixed seed;
# SLUICE_CFGFUZZ_SEED=N replays the run that printed seed=N, =random explores new ones.
test_config_fuzz() {
    local initrd
    initrd=$(scripts/mkfuzzinitramfs.sh) || return 1
    python3 scripts/tests/config_fuzz.py "$1" "${SLUICE_FUZZ_WRITES:-20000}" "$initrd" \
        "${SLUICE_CFGFUZZ_SEED:-2026112701}"
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

scenario hostile_msi ci
scenario hostile_its ci
scenario config_fuzz ci
scenario guest_fuzz ci
scenario dma_isolation ci
