#!/usr/bin/env bash
# Runs the host fuzz targets (tests/fuzz_*.rs) for a bounded time each, built with the `fuzz`
# Cargo profile (optimised, overflow checks on), and ends with one line per target.
#   scripts/fuzz.sh [--duration SECS] [--seed N|random] [TARGET...]
# TARGET: vpci, its, trap, dt (default: all). A failing target prints the command that replays
# the failing case; logs are kept in target/fuzz-logs/.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$SLUICE_ROOT"

TARGETS=(vpci its trap dt)
LOGS=$SLUICE_ROOT/target/fuzz-logs

usage() {
    cat <<USAGE
usage: scripts/fuzz.sh [--duration SECS] [--seed N|random] [TARGET...]
  --duration SECS  time per target, fractions allowed (default 2)
  --seed N         base seed, decimal or 0x hex; "random" picks one and prints it
                   (default: the fixed seed of tests/fuzz_support)
  TARGET           ${TARGETS[*]} (default: all)
USAGE
}
usage_error() {
    echo "error: $1" >&2
    usage >&2
    exit 1
}

duration=2 seed= chosen=()
while [ $# -gt 0 ]; do
    case $1 in
        --duration)
            [ $# -ge 2 ] || usage_error "--duration needs a value"
            [[ $2 =~ ^[0-9]+([.][0-9]+)?$ ]] || usage_error "--duration: not a number of seconds: $2"
            duration=$2
            shift 2 ;;
        --seed)
            [ $# -ge 2 ] || usage_error "--seed needs a value"
            [[ $2 =~ ^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20}|random)$ ]] || usage_error "--seed: not a number: $2"
            seed=$2
            shift 2 ;;
        -h | --help)
            usage
            exit 0 ;;
        -*) usage_error "unknown option: $1" ;;
        *)
            [[ " ${TARGETS[*]} " == *" $1 "* ]] || usage_error "unknown target: $1"
            chosen+=("$1")
            shift ;;
    esac
done
[ ${#chosen[@]} -gt 0 ] || chosen=("${TARGETS[@]}")
if [ "$seed" = random ]; then
    seed=0x$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
    note "random base seed $seed"
fi

tests=()
for t in "${chosen[@]}"; do tests+=(--test "fuzz_$t"); done
note "building the fuzz targets (cargo profile fuzz)"
cargo test --profile fuzz --quiet --no-run "${tests[@]}" || die "the fuzz targets do not build"

mkdir -p "$LOGS"
export SLUICE_FUZZ_SECS=$duration
[ -n "$seed" ] && export SLUICE_FUZZ_SEED=$seed
summary=() failed=0
for t in "${chosen[@]}"; do
    log=$LOGS/$t.log
    echo "--- fuzz $t (${duration} s)"
    if cargo test --profile fuzz --quiet --test "fuzz_$t" -- --nocapture >"$log" 2>&1; then
        line=$(grep -oE "fuzz $t: [0-9]+ cases.*" "$log" | tail -n 1)
        summary+=("PASS $line")
        echo "PASS $line"
    else
        failed=$((failed + 1))
        summary+=("FAIL fuzz $t (log: $log)")
        echo "FAIL fuzz $t"
        grep -E "fuzz $t: (FAILED|HANG)|panicked at|^thread .* overflowed" "$log" | head -n 5 | sed 's/^/  /'
        grep -qE "fuzz $t: (FAILED|HANG)" "$log" ||
            echo "  the process died without a replay line: rerun with SLUICE_FUZZ_TRACE=1 to see the case"
        echo "  last lines of $log:"
        tail -n 25 "$log" | sed 's/^/  | /'
    fi
done
echo "=== fuzz summary"
printf '%s\n' "${summary[@]}"
[ "$failed" = 0 ]
