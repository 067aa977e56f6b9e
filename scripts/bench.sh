#!/usr/bin/env bash
# Benchmarks a sluice guest against the same guest run natively, on the same QEMU.
#
#   scripts/bench.sh [--runs N] [--size MIB] [--nic e1000e|virtio]... [--iommu smmuv3|none]
#                    [--gic 3|4] [--out FILE]
#
#   --runs N      pairs of runs, alternating native and sluice (default 5)
#   --size MIB    size of the file each NIC fetches, in MiB (default 64)
#   --nic MODEL   a NIC to measure, repeatable (default: e1000e and virtio)
#   --iommu MODEL the sluice runs' IOMMU, as run.sh --iommu (default smmuv3, the isolated demo
#                 configuration; native runs never have one)
#   --gic 3|4     the machine's GIC for every run, as run.sh --gic (default 3): 4 is GICv4.0,
#                 where sluice delivers the NICs' MSIs straight to the vCPU (no exit); run once
#                 with each to compare the two paths
#   --out FILE    where to write the results (default: bench-results/YYYY-MM-DD-HHMM.md)
#
# Each run boots the cached Debian kernel and the demo initramfs through scripts/run.sh with
# every NIC, natively (--native: kernel at EL1, no hypervisor, no IOMMU) or under sluice, with
# `sluice.bench=URL` (scripts/guest/lib/bench.sh): the guest times 10,000 config-space reads
# and fetches the file through each NIC from a local HTTP server (10.0.2.2 to the guest). The
# harness (scripts/bench/) stamps the console lines, takes sluice's exit table (Ctrl-\) before
# and after each step, and prints min / median / max per figure and the sluice/native ratio
# per pair. Logs go to target/bench/logs/DATE. Exit status: 0 done, 1 bad option, 2 setup or build
# failed, 3 a run failed (its log is named).
set -euo pipefail
source "$(dirname "$0")/env.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

runs=5 size_mib=64 out="" nics=() iommu=smmuv3 gic=3
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) need_value "$@"; runs=$2; shift 2 ;;
        --size) need_value "$@"; size_mib=$2; shift 2 ;;
        --nic) need_value "$@"; nics+=("$2"); shift 2 ;;
        --out) need_value "$@"; out=$2; shift 2 ;;
        --iommu) need_value "$@"; iommu=$2; shift 2 ;;
        --gic) need_value "$@"; gic=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option: $1 (see scripts/bench.sh --help)" ;;
    esac
done
[[ "$runs" =~ ^[1-9][0-9]?$ ]] || die "--runs must be 1..99, got '$runs'"
[[ "$size_mib" =~ ^[1-9][0-9]*$ ]] && [ "$size_mib" -le 256 ] || die "--size must be 1..256 MiB, got '$size_mib'"
for nic in "${nics[@]}"; do
    case "$nic" in e1000e | virtio) ;; *) die "--nic must be e1000e or virtio, got '$nic'" ;; esac
done
[ ${#nics[@]} -gt 0 ] || nics=(e1000e virtio)
case "$iommu" in smmuv3 | none) ;; *) die "--iommu must be smmuv3 or none, got '$iommu'" ;; esac
case "$gic" in 3 | 4) ;; *) die "--gic must be 3 or 4, got '$gic'" ;; esac
# run.sh takes the GIC from the environment: every run, native and sluice, gets the same one.
export SLUICE_GIC=$gic
command -v python3 >/dev/null || die "python3 is missing; run scripts/setup.sh" 2

# Once up front, so that a broken setup fails here and not inside the first timed run.
"$SLUICE_ROOT/scripts/setup.sh" || die "setup failed" 2
"$SLUICE_ROOT/scripts/build.sh" || die "build failed" 2

python3 "$SLUICE_ROOT/scripts/bench/bench.py" "$SLUICE_ROOT" "$runs" "$size_mib" "$out" "$iommu" "${nics[@]}" || exit 3
