# Shared helpers of the QEMU scenarios: sourced by scripts/test.sh, never run. Each scenario file in
# scripts/tests/scenarios/ defines test_NAME functions (argument: the log path; status 0 = pass)
# and registers them with `scenario NAME ci|full`: "ci" scenarios run in `scripts/test.sh` (and
# so in CI), "full" ones only in `scripts/test.sh --full` or when named.

SCENARIOS=() CI_SCENARIOS=()

# scenario NAME ci|full: registers test_NAME in the full suite, and in the CI set with "ci".
scenario() {
    SCENARIOS+=("$1")
    case "$2" in
        ci) CI_SCENARIOS+=("$1") ;;
        full) ;;
        *) die "scenario $1: set must be ci or full, got '$2'" ;;
    esac
}

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

expect_in_order() { # LOG DESCRIPTION REGEX...: the first line matching each REGEX, in that order
    local log=$1 what=$2 previous=0 at regex where=()
    shift 2
    for regex in "$@"; do
        at=$(grep -nE -- "$regex" "$log" | head -1 | cut -d: -f1)
        where+=("${at:-?}")
        if [ -z "$at" ] || [ "$previous" = -1 ] || [ "$at" -le "$previous" ]; then previous=-1; else previous=$at; fi
    done
    [ "$previous" != -1 ] && return 0
    echo "  wrong order: $what (first lines: ${where[*]})"
    return 1
}

# --- PCI passthrough helpers -----------------------------------------------------------------
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
# vectors per NIC that counted (6.12 names the chip ITS-PCI-MSIX-<device>); with IRQ_MODE=intx
# one GICv3 level line per NIC that counted.
check_nic_irqs() { # LOG NIC-COUNT
    local log=$1 nics=$2 counted
    if [ "${IRQ_MODE:-msi}" = msi ]; then
        counted=$(grep '^sluice-demo: irq' "$log" | grep -E ' ITS-(MSI|PCI-MSIX?-[0-9a-f:.]+) ' | awk '$4 + $5 > 0 {print $3}' | sort -u | wc -l)
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
