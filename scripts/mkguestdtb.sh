#!/usr/bin/env bash
# Writes "sluice,guest" nodes (dts/guests.md) into a host DTB that QEMU dumped, so that QEMU
# can boot sluice with several guests:
#
#   scripts/mkguestdtb.sh BASE.dtb OUT.dtb --guest NAME [GUEST OPTIONS]... [--guest NAME ...]
#
#   --guest NAME         starts guest node /chosen/guest@I (I = 0, 1, ... in order), named NAME
#   --cpus N,M,...       its physical CPUs (indices of /cpus/cpu@N), pinned in this order
#   --mem SIZE           its RAM (1G, 256M); default: an equal share of what is left
#   --pci BDF            a host function it owns (bus:dev.fn); repeatable
#   --kernel ADDR:SIZE   where its kernel Image was loaded (hex address, size in bytes)
#   --initrd ADDR:SIZE   where its initrd was loaded (optional)
#   --bootargs "ARGS"    its command line
#
# Every /chosen module node of BASE (what -device guest-loader wrote) is removed: each guest
# node gets its own module nodes. Several guests may name the same kernel and initrd.
#
# How a QEMU boot uses it (QEMU 10; the machine options and devices must be the same in both
# runs, so that the tree describes the machine):
#   1. qemu-system-aarch64 ARGS -device guest-loader,... -machine ...,dumpdtb=base.dtb
#   2. scripts/mkguestdtb.sh base.dtb guests.dtb --guest ... --guest ...
#   3. qemu-system-aarch64 ARGS -device guest-loader,... -dtb guests.dtb
# With -dtb, QEMU still loads the guest-loader images into RAM but drops the module nodes the
# guest-loader writes (they went to the tree QEMU made, which -dtb replaces), so only the guest
# nodes describe them. QEMU also replaces the memory node and fills /chosen bootargs (-append),
# rng-seed and kaslr-seed as usual.
set -euo pipefail

die() { echo "mkguestdtb: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: mkguestdtb.sh BASE.dtb OUT.dtb --guest NAME [options]... (see the script)"
base=$1 out=$2
shift 2
[ -f "$base" ] || die "no such file: $base"
command -v fdtput >/dev/null || die "fdtput not found (apt-get install device-tree-compiler)"

names=() cpus=() mems=() pcis=() kernels=() initrds=() bootargs=()
current=-1
need() { [ "$current" -ge 0 ] || die "$1 before any --guest"; [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --guest) [ $# -ge 2 ] || die "--guest needs a name"; current=$((current + 1))
            names[current]=$2 cpus[current]="" mems[current]="" pcis[current]=""
            kernels[current]="" initrds[current]="" bootargs[current]=""; shift 2 ;;
        --cpus) need "$@"; cpus[current]=$2; shift 2 ;;
        --mem) need "$@"; mems[current]=$2; shift 2 ;;
        --pci) need "$@"; pcis[current]+="${pcis[current]:+ }$2"; shift 2 ;;
        --kernel) need "$@"; kernels[current]=$2; shift 2 ;;
        --initrd) need "$@"; initrds[current]=$2; shift 2 ;;
        --bootargs) [ "$current" -ge 0 ] && [ $# -ge 2 ] || die "--bootargs needs a guest and a value"
            bootargs[current]=$2; shift 2 ;;
        *) die "unknown option: $1" ;;
    esac
done
[ "$current" -ge 0 ] || die "no --guest given"

# "ADDR:SIZE" as reg cells for the root's #address-cells / #size-cells (QEMU virt: 2 and 2).
acells=$(fdtget -t u "$base" / '#address-cells')
scells=$(fdtget -t u "$base" / '#size-cells')
cells() { # VALUE COUNT: most significant cell first
    local v=$(($1)) k
    for ((k = $2 - 1; k >= 0; k--)); do printf '%x ' $(((v >> (32 * k)) & 0xffffffff)); done
}
reg_of() { # ADDR:SIZE
    [[ "$1" =~ ^(0x[0-9a-fA-F]+):([0-9]+)$ ]] || die "module must be 0xADDR:SIZE, got '$1'"
    echo "$(cells "${BASH_REMATCH[1]}" "$acells")$(cells "${BASH_REMATCH[2]}" "$scells")"
}
kib_of() { # 1G / 256M
    [[ "$1" =~ ^([0-9]+)([MG])$ ]] || die "--mem must look like 1G or 256M, got '$1'"
    local mib=${BASH_REMATCH[1]}
    [ "${BASH_REMATCH[2]}" = G ] && mib=$((mib * 1024))
    echo $((mib * 1024))
}

cp "$base" "$out"
# QEMU's dump is padded to 1 MiB; fdtput grows the blob as it needs.
for module in $(fdtget -l "$out" /chosen); do
    case "$module" in module@*) fdtput -r "$out" "/chosen/$module" ;; esac
done
# fdtput -c puts a new node first among its siblings: create the last guest first.
for ((i = current; i >= 0; i--)); do
    node=/chosen/guest@$i
    fdtput -c "$out" "$node"
    fdtput -t s "$out" "$node" compatible sluice,guest
    fdtput -t s "$out" "$node" sluice,name "${names[i]}"
    [ -n "${cpus[i]}" ] || die "guest ${names[i]}: no --cpus"
    phandles=()
    for cpu in ${cpus[i]//,/ }; do
        phandles+=("$(fdtget -t x "$out" "/cpus/cpu@$cpu" phandle 2>/dev/null)") ||
            die "guest ${names[i]}: no /cpus/cpu@$cpu with a phandle"
    done
    fdtput -t x "$out" "$node" sluice,cpus "${phandles[@]}"
    if [ -n "${mems[i]}" ]; then
        fdtput -t x "$out" "$node" memory $(cells "$(kib_of "${mems[i]}")" 2)
    fi
    if [ -n "${pcis[i]}" ]; then
        # shellcheck disable=SC2086 # one argument per function
        fdtput -t s "$out" "$node" sluice,pci-devices ${pcis[i]}
    fi
    [ -n "${kernels[i]}" ] || die "guest ${names[i]}: no --kernel"
    for kind in initrd kernel; do
        if [ "$kind" = kernel ]; then spec=${kernels[i]} compatible=multiboot,kernel
        else spec=${initrds[i]} compatible=multiboot,ramdisk; fi
        [ -n "$spec" ] || continue
        module=$node/module@${spec%%:*}
        module=${module/@0x/@}
        fdtput -c "$out" "$module"
        fdtput -t s "$out" "$module" compatible "$compatible" multiboot,module
        # shellcheck disable=SC2046 # the cells are separate arguments
        fdtput -t x "$out" "$module" reg $(reg_of "$spec")
        if [ "$kind" = kernel ]; then
            fdtput -t s "$out" "$module" bootargs "${bootargs[i]}"
        fi
    done
done
