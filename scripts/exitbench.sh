#!/usr/bin/env bash
# The cost of one exit: boots guest/vcputest with vcputest.bench=ITERS (tight loops of PSCI_VERSION
# calls and of ECAM config reads, see guest/vcputest/src/bench.rs) natively and under sluice,
# alternating, and prints the median ns per iteration of each loop (the fastest of the guest's
# rounds in each run), with the exit's cost over native. One vCPU: a second would spin in
# sluice waiting for CPU_ON (QEMU runs WFE as a yield) and take a host core from the first.
#
#   scripts/exitbench.sh [--runs N] [--iters N] [--baseline DIR] [--out FILE]
#
#   --runs N        runs of each kind (default 3)
#   --iters N       iterations per loop (default 2000)
#   --baseline DIR  also run the sluice of another checkout (a git worktree of an older commit;
#                   its scripts/build.sh is run first) in every round, with the same vcputest,
#                   and report this sluice against it: a speed-up measured in the same run
#   --out FILE      also append the table (markdown) to FILE
set -euo pipefail
source "$(dirname "$0")/env.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
runs=3 iters=2000 baseline="" out=""
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) need_value "$@"; runs=$2; shift 2 ;;
        --iters) need_value "$@"; iters=$2; shift 2 ;;
        --baseline) need_value "$@"; baseline=$(cd "$2" 2>/dev/null && pwd) || die "--baseline: no directory '$2'"; shift 2 ;;
        --out) need_value "$@"; out=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option: $1 (see scripts/exitbench.sh --help)" ;;
    esac
done
[[ "$runs" =~ ^[1-9][0-9]?$ ]] || die "--runs must be 1..99, got '$runs'"
[[ "$iters" =~ ^[1-9][0-9]{0,6}$ ]] || die "--iters must be 1..9999999, got '$iters'"
if [ -n "$baseline" ]; then
    [ -x "$baseline/scripts/run.sh" ] || die "--baseline: $baseline has no scripts/run.sh"
    [ "$baseline" != "$SLUICE_ROOT" ] || die "--baseline must be another checkout"
fi

"$SLUICE_ROOT/scripts/build.sh" >/dev/null || die "build failed" 2
[ -z "$baseline" ] || "$baseline/scripts/build.sh" >/dev/null || die "baseline build failed" 2
image=$("$SLUICE_ROOT/scripts/mkvcputest.sh") || die "building guest/vcputest failed" 2

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
modes=(native sluice)
[ -z "$baseline" ] || modes+=(baseline)
# One vcputest boot; the "exit bench:" lines go to $logs/MODE.RUN.
one_run() {
    local mode=$1 run=$2 root=$SLUICE_ROOT args=()
    case "$mode" in
        native) args=(--native --poweroff-line '^vcputest: done ') ;;
        baseline) root=$baseline ;;
    esac
    "$root/scripts/run.sh" --kernel "$image" --nic virtio --smp 1 --timeout 180 \
        --append "vcputest.bench=$iters" "${args[@]}" >"$logs/$mode.$run.log" 2>&1 ||
        die "run $run $mode failed (log: $(tail -3 "$logs/$mode.$run.log"))" 3
    grep -a 'exit bench: ' "$logs/$mode.$run.log" >"$logs/$mode.$run" ||
        die "run $run $mode printed no exit bench line" 3
}
for run in $(seq 1 "$runs"); do
    for mode in "${modes[@]}"; do
        one_run "$mode" "$run"
        echo "exitbench: run $run $mode done" >&2
    done
done

python3 - "$logs" "$runs" "${modes[@]}" <<'PY' | tee -a "${out:-/dev/null}"
import re, statistics, sys
logs, runs, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
ns = {}  # (mode, loop) -> [ns per iteration, one per run]
for mode in modes:
    for run in range(1, runs + 1):
        for line in open(f"{logs}/{mode}.{run}", errors="replace"):
            m = re.search(r"exit bench: (.+?) iters=\d+ .*ns_per_iter=(\d+)", line)
            if m:
                ns.setdefault((mode, m.group(1)), []).append(int(m.group(2)))
med = {k: statistics.median(v) for k, v in ns.items()}
print(f"| loop ({runs} runs, median ns/iter) | " + " | ".join(modes) +
      " | sluice - native |" + (" baseline - native | sluice/baseline (exit cost) |" if "baseline" in modes else ""))
print("|---" * (len(modes) + (3 if "baseline" in modes else 1) + 1) + "|")
for loop in ["psci_version", "ecam read", "empty"]:
    if (("sluice", loop)) not in med:
        continue
    row = [f"{med.get((m, loop), float('nan')):.0f}" for m in modes]
    nat = med.get(("native", loop), 0)
    cost = med[("sluice", loop)] - nat
    row.append(f"{cost:.0f}")
    if "baseline" in modes:
        base = med[("baseline", loop)] - nat
        row += [f"{base:.0f}", f"{cost / base:.2f}" if base > 0 else "-"]
    print(f"| {loop} | " + " | ".join(row) + " |")
PY
