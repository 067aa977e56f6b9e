#!/usr/bin/env bash
# Boots sluice with a Linux guest on QEMU virt (or the guest alone, natively, with --native).
#
#   scripts/run.sh [--guest-kernel 6.1|6.12] [--kernel FILE] [--initrd FILE] [--append "ARGS"]
#                  [--smp N] [--mem SIZE]
#                  [--timeout SECONDS] [--nic e1000e|virtio|none]... [--pci BDF|none]...
#                  [--iommu smmuv3|none] [--native] [--poweroff-line REGEX] [--no-guest]
#                  [--guests two] [--guest-append NAME=ARGS]... [--gic 3|4]
#                  [-- EXTRA QEMU ARGS...]
#
#   --guest-kernel V   which cached Debian kernel, with the demo initramfs built from its
#                      modules: 6.1 (bookworm, the default) or 6.12 (bookworm-backports)
#   --kernel FILE      guest kernel: arm64 Image, or gzip-compressed (default: per --guest-kernel)
#   --initrd FILE      guest initramfs (default: the demo initramfs of --guest-kernel)
#   --append "ARGS"    added to the guest command line (after console=ttyAMA0)
#   --smp N            CPUs of the machine, one vCPU each (default 2)
#   --mem SIZE         machine RAM, QEMU syntax such as 1G or 768M (default 1G)
#   --timeout SECONDS  give up after this long (default 300)
#   --nic MODEL        a NIC on the host PCIe bus with user networking, passed through to the
#                      guest; repeatable (default: one e1000e; "none" for no NIC)
#   --pci BDF          give the guest only this host function (bus:dev.fn); repeatable;
#                      "none" gives it none (default: every endpoint)
#   --iommu MODEL      smmuv3 (default): the machine has an SMMUv3 (stage 2), which sluice uses
#                      to confine each passed-through device's DMA to its guest's RAM; none:
#                      no IOMMU, so sluice runs the guest identity-mapped and DMA is not isolated
#   --native           boot the guest kernel directly at EL1, without sluice (baseline: same
#                      machine, kernel kept at EL1, no IOMMU)
#   --poweroff-line R  with --native: the console line (extended regex) that shows the guest
#                      powered off on purpose (default: Linux's 'reboot: Power down'; a guest
#                      that is not Linux, such as guest/vcputest, names its own last line)
#   --no-guest         boot sluice without guest modules (it must refuse with a clear error)
#   --guests two       the two-guest demo (dts/guests.md): guest 0 "net0" owns the e1000e
#                      (00:01.0) on CPU 0, guest 1 "net1" the virtio NIC (00:02.0) on CPU 1 with
#                      256 MiB; same kernel, initrd and command line for both (implies --nic
#                      e1000e --nic virtio, each on its own user network). QEMU dumps the
#                      machine's tree first, scripts/mkguestdtb.sh writes the guest nodes into
#                      it and QEMU boots with -dtb. Guest lines on the console start with
#                      "(net0) " or "(net1) "; Ctrl-A three times moves the input focus.
#   --guest-append NAME=ARGS  with --guests: added to guest NAME's command line only (after
#                      --append's); repeatable, e.g. --guest-append net0=sluice.reboots=10
#   --gic 3|4          the machine's GIC (default 3, or $SLUICE_GIC): 4 is QEMU gic-version=4
#                      (GICv4.0: direct virtual LPI injection, which sluice then uses for the
#                      MSIs of passed-through functions)
#   -- ...             everything after -- is passed to QEMU verbatim; a further -machine
#                      adds properties to run.sh's own (e.g. -- -machine mte=on)
#
# stdout is the serial console: sluice's lines start with "[sluice] ", the rest is the guest.
# The console is also saved in target/run.log. Exit status:
#   0 the guest (with --guests: the last guest) powered off through PSCI SYSTEM_OFF (with
#     --native: QEMU exited cleanly)
#   1 bad option or missing file          3 hypervisor panic or fatal boot error
#   2 setup or build failed               4 timeout
#   5 QEMU failed or the guest stopped without powering off
set -euo pipefail
source "$(dirname "$0")/env.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

kernel="" initrd="" guest_kernel=6.1 guests=""
poweroff_line='reboot: Power down'
append="" smp=2 mem=1G timeout_s=300 native=0 no_guest=0 kernel_given=0 initrd_given=0 iommu=smmuv3
nics=() pcis=() extra=() guest_appends=() gic=${SLUICE_GIC:-3}

need_value() { [ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --guest-kernel) need_value "$@"; guest_kernel=$2; shift 2 ;;
        --kernel) need_value "$@"; kernel=$2; kernel_given=1; shift 2 ;;
        --initrd) need_value "$@"; initrd=$2; initrd_given=1; shift 2 ;;
        --append) [ $# -ge 2 ] || die "option --append needs a value"; append=$2; shift 2 ;;
        --smp) need_value "$@"; smp=$2; shift 2 ;;
        --mem) need_value "$@"; mem=$2; shift 2 ;;
        --timeout) need_value "$@"; timeout_s=$2; shift 2 ;;
        --nic) need_value "$@"; nics+=("$2"); shift 2 ;;
        --pci) need_value "$@"; pcis+=("$2"); shift 2 ;;
        --iommu) need_value "$@"; iommu=$2; shift 2 ;;
        --native) native=1; shift ;;
        --poweroff-line) need_value "$@"; poweroff_line=$2; shift 2 ;;
        --no-guest) no_guest=1; shift ;;
        --guests) need_value "$@"; guests=$2; shift 2 ;;
        --guest-append) need_value "$@"; guest_appends+=("$2"); shift 2 ;;
        --gic) need_value "$@"; gic=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) die "unknown option: $1 (see scripts/run.sh --help)" ;;
    esac
done

case "$guest_kernel" in
    6.1) [ -n "$kernel" ] || kernel=$SLUICE_KERNEL; [ -n "$initrd" ] || initrd=$SLUICE_INITRAMFS ;;
    6.12) [ -n "$kernel" ] || kernel=$SLUICE_IMAGE_612; [ -n "$initrd" ] || initrd=$SLUICE_INITRAMFS_612 ;;
    *) die "--guest-kernel must be 6.1 or 6.12, got '$guest_kernel'" ;;
esac
[[ "$smp" =~ ^[1-8]$ ]] || die "--smp must be 1..8, got '$smp'"
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds, got '$timeout_s'"
[[ "$mem" =~ ^([0-9]+)([MG])$ ]] || die "--mem must look like 1G or 768M, got '$mem'"
mem_mib=${BASH_REMATCH[1]}
[ "${BASH_REMATCH[2]}" = G ] && mem_mib=$((mem_mib * 1024))
[ "$mem_mib" -ge 256 ] || die "--mem must be at least 256M"
for nic in "${nics[@]}"; do
    case "$nic" in e1000e | virtio | none) ;; *) die "--nic must be e1000e, virtio or none, got '$nic'" ;; esac
done
case "$gic" in 3 | 4) ;; *) die "--gic must be 3 or 4, got '$gic'" ;; esac
case "$iommu" in smmuv3 | none) ;; *) die "--iommu must be smmuv3 or none, got '$iommu'" ;; esac
# The native baseline has no IOMMU translation in the way.
[ "$native" = 0 ] || iommu=none
case "$guests" in
    "") ;;
    two) [ "$native" = 0 ] && [ "$no_guest" = 0 ] && [ ${#pcis[@]} = 0 ] ||
             die "--guests cannot go with --native, --no-guest or --pci"
         [ ${#nics[@]} -gt 0 ] || nics=(e1000e virtio)
         [ "$smp" -ge 2 ] || die "--guests two needs --smp 2 or more" ;;
    *) die "--guests must be two, got '$guests'" ;;
esac
for ga in "${guest_appends[@]}"; do
    [ -n "$guests" ] || die "--guest-append needs --guests"
    [[ "$ga" =~ ^(net0|net1)=. ]] || die "--guest-append must be net0=ARGS or net1=ARGS, got '$ga'"
done
# The demo is a guest with a passed-through NIC.
[ ${#nics[@]} -gt 0 ] || nics=(e1000e)
for bdf in "${pcis[@]}"; do
    [[ "$bdf" =~ ^([0-9a-f]{2}:[01][0-9a-f]\.[0-7]|none)$ ]] || die "--pci must be bus:device.function (hex) or none, got '$bdf'"
done
[ "$kernel_given" = 0 ] || [ -f "$kernel" ] || die "kernel file not found: $kernel"
[ "$initrd_given" = 0 ] || [ -f "$initrd" ] || die "initrd file not found: $initrd"

"$SLUICE_ROOT/scripts/setup.sh" || die "setup failed" 2
[ -f "$kernel" ] || die "kernel file not found: $kernel"
[ -f "$initrd" ] || die "initrd file not found: $initrd"
if [ "$native" = 0 ]; then
    "$SLUICE_ROOT/scripts/build.sh" || die "build failed" 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# sluice loads a raw Image; accept a gzip-compressed one too.
if [ "$(head -c 2 "$kernel" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
    gzip -dc "$kernel" >"$tmp/Image" || die "cannot decompress $kernel"
    kernel=$tmp/Image
fi

machine="virt,virtualization=on,gic-version=$gic"
qemu_args=(-cpu max -smp "$smp" -m "$mem" -nographic -no-reboot)
# virtio devices bypass an IOMMU unless they are told to honour it.
virtio_opts="disable-legacy=on"
if [ "$iommu" = smmuv3 ]; then
    machine+=",iommu=smmuv3"
    qemu_args+=(-global arm-smmuv3.stage=2)
    virtio_opts+=",iommu_platform=on"
fi
qemu_args=(-machine "$machine" "${qemu_args[@]}")
nic_index=0
for nic in "${nics[@]}"; do
    case "$nic" in
        e1000e) qemu_args+=(-netdev "user,id=net$nic_index" -device "e1000e,netdev=net$nic_index") ;;
        virtio) qemu_args+=(-netdev "user,id=net$nic_index" -device "virtio-net-pci,$virtio_opts,netdev=net$nic_index") ;;
        none) ;;
    esac
    nic_index=$((nic_index + 1))
done
# Only "none": no NIC at all (without this QEMU would add its default one).
[[ " ${nics[*]} " =~ \ (e1000e|virtio)\  ]] || qemu_args+=(-nic none)

bootargs="console=ttyAMA0${append:+ $append}"
if [ "$native" = 1 ]; then
    # The baseline runs on the same machine as sluice (EL2 present) but keeps the kernel at
    # EL1 with nothing at EL2 (no VHE, no KVM) and no IOMMU translation in the way.
    bootargs="$bootargs id_aa64mmfr1.vh=0 kvm-arm.mode=none"
    qemu_args+=(-kernel "$kernel" -initrd "$initrd" -append "$bootargs")
else
    qemu_args+=(-kernel "$SLUICE_IMAGE")
    if [ ${#pcis[@]} -gt 0 ]; then
        qemu_args+=(-append "sluice.pci=$(IFS=,; echo "${pcis[*]}")")
    fi
    if [ "$no_guest" = 0 ]; then
        # Modules at the top of RAM, 2 MiB aligned, leaving the top 2 MiB to QEMU.
        align=$((2 << 20))
        ram_top=$((VIRT_RAM_BASE + mem_mib * 1024 * 1024 - align))
        initrd_addr=$(((ram_top - $(stat -L -c %s "$initrd")) / align * align))
        kernel_addr=$(((initrd_addr - $(stat -L -c %s "$kernel")) / align * align))
        # QEMU's -device syntax doubles a literal comma.
        qemu_args+=(-device "guest-loader,addr=$(printf 0x%x "$kernel_addr"),kernel=$kernel,bootargs=${bootargs//,/,,}"
            -device "guest-loader,addr=$(printf 0x%x "$initrd_addr"),initrd=$initrd")
    fi
fi

# --guests: the machine's own tree (guest-loader modules included), then guest nodes in it.
if [ -n "$guests" ]; then
    "$QEMU" "${qemu_args[@]}" "${extra[@]}" -machine dumpdtb="$tmp/base.dtb" >/dev/null 2>&1 ||
        [ -s "$tmp/base.dtb" ] || die "QEMU dumped no device tree"
    kernel_mod=$(printf 0x%x:%d "$kernel_addr" "$(stat -L -c %s "$kernel")")
    initrd_mod=$(printf 0x%x:%d "$initrd_addr" "$(stat -L -c %s "$initrd")")
    guest_bootargs() { # NAME: the shared command line, then NAME's --guest-append words
        local line=$bootargs ga
        for ga in "${guest_appends[@]}"; do
            [ "${ga%%=*}" = "$1" ] && line+=" ${ga#*=}"
        done
        echo "$line"
    }
    "$SLUICE_ROOT/scripts/mkguestdtb.sh" "$tmp/base.dtb" "$tmp/guests.dtb" \
        --guest net0 --cpus 0 --pci 00:01.0 --kernel "$kernel_mod" --initrd "$initrd_mod" \
        --bootargs "$(guest_bootargs net0)" \
        --guest net1 --cpus 1 --mem 256M --pci 00:02.0 --kernel "$kernel_mod" \
        --initrd "$initrd_mod" --bootargs "$(guest_bootargs net1)" || die "mkguestdtb.sh failed"
    qemu_args+=(-dtb "$tmp/guests.dtb")
fi

log=$SLUICE_ROOT/target/run.log
stdin=/dev/null
[ -t 0 ] && stdin=/dev/stdin
set +e
note "starting QEMU" # scripts/bench.sh times the boot from this line
timeout --foreground -k 5 "$timeout_s" "$QEMU" "${qemu_args[@]}" "${extra[@]}" <"$stdin" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
[ -t 0 ] && stty sane 2>/dev/null

if grep -qE '^\[sluice\] (PANIC|FATAL)' "$log"; then
    die "hypervisor panic or fatal error (see $log)" 3
fi
[ "$status" != 124 ] && [ "$status" != 137 ] || die "timeout after $timeout_s s (see $log)" 4
[ "$status" = 0 ] || die "QEMU exited with status $status (see $log)" 5
if [ "$native" = 1 ]; then
    grep -qE -- "$poweroff_line" "$log" || die "the guest stopped without powering off (see $log)" 5
else
    # One guest powers the machine off; several: the last one off does.
    grep -qE '^\[sluice\] (guest powered off \(PSCI SYSTEM_OFF\)|every guest is off: powering the machine off)' "$log" ||
        die "the guest stopped without powering off (see $log)" 5
fi
