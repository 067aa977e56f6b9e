#!/usr/bin/env bash
# Benchmarks a sluice guest against the same guest run natively, on the same QEMU.
#
#   scripts/bench.sh [--runs N] [--size MIB] [--nic e1000e|virtio|none]...
#                    [--disk nvme|virtio|none]... [--iommu smmuv3|none] [--gic 3|4|both]
#                    [--baseline DIR] [--out FILE]
#
#   --runs N      pairs of runs, alternating native and sluice (default 5)
#   --size MIB    size of the file each NIC fetches and of each disk read, in MiB (default 64)
#   --nic MODEL   a NIC to measure, repeatable (default: e1000e and virtio; none: no NIC)
#   --disk KIND   a disk to measure, repeatable (default: nvme and virtio; none: no disk)
#   --iommu MODEL the sluice runs' IOMMU, as run.sh --iommu (default smmuv3, the isolated demo
#                 configuration; native runs never have one)
#   --baseline DIR  also run the sluice of another checkout (a git worktree of an older
#                 commit, built by its own scripts/build.sh first) in every pair, after this
#                 one's run, and report this sluice against it too: a speed-up measured in the
#                 same run, so that it holds on a noisy machine (the baseline's run.sh must know
#                 every option the runs use: with an older checkout, --disk none)
#   --gic 3|4|both  the machine's GIC for every run, as run.sh --gic (default 3): 4 is
#                 GICv4.0, where sluice delivers the NICs' MSIs straight to the vCPU (no exit);
#                 both: GICv3 runs plus a GICv4 sluice run in every pair, reported side by side
#   --out FILE    where to write the results (default: bench-results/YYYY-MM-DD-HHMM.md)
#
# Each run boots the cached Debian kernel and the demo initramfs through scripts/run.sh with
# every NIC, natively (--native: kernel at EL1, no hypervisor, no IOMMU) or under sluice, with
# `sluice.bench=URL` (scripts/guest/lib/bench.sh): the guest times 10,000 config-space reads
# fetches the file through each NIC from a local HTTP server (10.0.2.2 to the guest), and reads
# each disk (a raw image of SIZE MiB of random bytes, target/bench/disk-KIND.img) from end to
# end, sequentially, through an emptied page cache (md5 checked after the timed read). The
# harness (scripts/bench/) stamps the console lines, takes sluice's exit table (Ctrl-\) before
# and after each step, and prints min / median / max per figure and the sluice/native ratio
# per pair. Then scripts/exitbench.sh measures the cost of one exit (guest/vcputest's loops of
# PSCI_VERSION calls and ECAM reads, ns per iteration, native against sluice, and against the
# --baseline sluice when there is one) and appends its table. Logs go to target/bench/logs/DATE. Exit status: 0 done, 1 bad option, 2 setup or build
# failed, 3 a run failed (its log is named).
set -euo pipefail
source "$(dirname "$0")/env.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

runs=5 size_mib=64 out="" nics=() disks=() iommu=smmuv3 baseline="" gic=3
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) need_value "$@"; runs=$2; shift 2 ;;
        --size) need_value "$@"; size_mib=$2; shift 2 ;;
        --nic) need_value "$@"; nics+=("$2"); shift 2 ;;
        --disk) need_value "$@"; disks+=("$2"); shift 2 ;;
        --out) need_value "$@"; out=$2; shift 2 ;;
        --iommu) need_value "$@"; iommu=$2; shift 2 ;;
        --baseline) need_value "$@"; baseline=$(cd "$2" 2>/dev/null && pwd) || die "--baseline: no directory '$2'"; shift 2 ;;
        --gic) need_value "$@"; gic=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option: $1 (see scripts/bench.sh --help)" ;;
    esac
done
[[ "$runs" =~ ^[1-9][0-9]?$ ]] || die "--runs must be 1..99, got '$runs'"
[[ "$size_mib" =~ ^[1-9][0-9]*$ ]] && [ "$size_mib" -le 256 ] || die "--size must be 1..256 MiB, got '$size_mib'"
for nic in "${nics[@]}"; do
    case "$nic" in e1000e | virtio | none) ;; *) die "--nic must be e1000e, virtio or none, got '$nic'" ;; esac
done
for disk in "${disks[@]}"; do
    case "$disk" in nvme | virtio | none) ;; *) die "--disk must be nvme, virtio or none, got '$disk'" ;; esac
done
[ ${#nics[@]} -gt 0 ] || nics=(e1000e virtio)
[ ${#disks[@]} -gt 0 ] || disks=(nvme virtio)
# The lists bench.py takes: comma-separated, without "none".
nic_list=$(IFS=,; echo "${nics[*]}" | sed -E 's/(^|,)none//g; s/^,//')
disk_list=$(IFS=,; echo "${disks[*]}" | sed -E 's/(^|,)none//g; s/^,//')
case "$iommu" in smmuv3 | none) ;; *) die "--iommu must be smmuv3 or none, got '$iommu'" ;; esac
case "$gic" in 3 | 4 | both) ;; *) die "--gic must be 3, 4 or both, got '$gic'" ;; esac
# run.sh takes the GIC from the environment: every run, native and sluice, gets the same one;
# with both, GICv3 and bench.py adds a GICv4 sluice run to every pair.
if [ "$gic" = both ]; then export SLUICE_GIC=3 BENCH_BOTH_GICS=1; else export SLUICE_GIC=$gic; fi
command -v python3 >/dev/null || die "python3 is missing; run scripts/setup.sh" 2
if [ -n "$baseline" ]; then
    [ -x "$baseline/scripts/run.sh" ] || die "--baseline: $baseline has no scripts/run.sh"
    [ "$baseline" != "$SLUICE_ROOT" ] || die "--baseline must be another checkout"
fi

# Once up front, so that a broken setup fails here and not inside the first timed run.
"$SLUICE_ROOT/scripts/setup.sh" || die "setup failed" 2
"$SLUICE_ROOT/scripts/build.sh" || die "build failed" 2
if [ -n "$baseline" ]; then
    "$baseline/scripts/build.sh" || die "baseline build failed" 2
fi

[ -n "$out" ] || out=$SLUICE_ROOT/bench-results/$(date +%Y-%m-%d-%H%M).md
BENCH_BASELINE="$baseline" python3 "$SLUICE_ROOT/scripts/bench/bench.py" "$SLUICE_ROOT" "$runs" "$size_mib" "$out" "$iommu" "$nic_list" "$disk_list" || exit 3
printf '\n## One exit (scripts/exitbench.sh)\n\n' >>"$out"
"$SLUICE_ROOT/scripts/exitbench.sh" --runs "$runs" --out "$out" ${baseline:+--baseline "$baseline"} || exit 3
