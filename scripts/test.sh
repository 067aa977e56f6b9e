#!/usr/bin/env bash
# Runs the tests: host unit tests, then whole-system scenarios that boot QEMU through
# scripts/run.sh and check exact lines of the serial console (and, where it matters, the
# machine's state through the QEMU monitor). Ends with "N passed, M failed".
#   scripts/test.sh              the CI set: what .ci/run runs, under 20 minutes on 2 cores
#   scripts/test.sh --full       every scenario
#   scripts/test.sh NAME...      the named scenarios (names as listed by --list)
#   scripts/test.sh --list       every scenario, with its set (ci or full)
# Scenarios live in scripts/tests/scenarios/*.sh, their shared helpers in scripts/tests/lib.sh.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$SLUICE_ROOT"

RUN=scripts/run.sh
LOGS=$SLUICE_ROOT/target/test-logs
passed=0 failed=0 failures=() timings=()

source scripts/tests/lib.sh
# basic first (unit tests, a plain boot), then the rest in name order.
source scripts/tests/scenarios/basic.sh
for file in scripts/tests/scenarios/*.sh; do
    [ "$file" = scripts/tests/scenarios/basic.sh ] || source "$file"
done

run_scenario() { # NAME: runs test_NAME, prints PASS/FAIL with its time and the log tail on failure
    local name=$1 log=$LOGS/$1.log start=$SECONDS took
    echo "--- $name"
    if "test_$name" "$log" >"$LOGS/$name.out" 2>&1; then
        took=$((SECONDS - start))
        passed=$((passed + 1))
        echo "PASS $name (${took} s)"
    else
        took=$((SECONDS - start))
        failed=$((failed + 1))
        failures+=("$name")
        echo "FAIL $name (${took} s)"
        sed 's/^/  /' "$LOGS/$name.out"
        [ -f "$log" ] && { echo "  last lines of $log:"; tail -n 25 "$log" | sed 's/^/  | /'; }
    fi
    timings+=("$(printf '%5d s  %s' "$took" "$name")")
}

in_ci_set() { local n; for n in "${CI_SCENARIOS[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

case "${1:-}" in
    --list)
        for name in "${SCENARIOS[@]}"; do
            if in_ci_set "$name"; then echo "$name ci"; else echo "$name full"; fi
        done
        exit 0 ;;
    --full) selected=("${SCENARIOS[@]}") ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1 (see scripts/test.sh --help)" ;;
    "") selected=("${CI_SCENARIOS[@]}") ;;
    *) selected=("$@") ;;
esac
for name in "${selected[@]}"; do
    declare -F "test_$name" >/dev/null || die "unknown scenario: $name (see --list)"
done
mkdir -p "$LOGS"
scripts/setup.sh || die "setup failed"
scripts/build.sh || die "build failed"
suite_start=$SECONDS
for name in "${selected[@]}"; do
    run_scenario "$name"
done
echo
echo "time per scenario:"
printf '  %s\n' "${timings[@]}"
echo "  total $((SECONDS - suite_start)) s"
[ "$failed" = 0 ] || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
