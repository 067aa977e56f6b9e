#!/usr/bin/env bash
# Boots sluice with a Linux guest on QEMU virt (or the guest alone, natively, with --native).
#
#   scripts/run.sh [--guest-kernel 6.1|6.12] [--kernel FILE] [--initrd FILE] [--append "ARGS"]
#                  [--smp N] [--mem SIZE]
#                  [--timeout SECONDS] [--nic e1000e|virtio|none]... [--pci BDF|none]...
#                  [--iommu smmuv3|none] [--native] [--poweroff-line REGEX] [--no-guest]
#                  [--guest SPEC]... [--guests two] [--guest-append NAME=ARGS]...
#                  [--guest-image NAME=FILE]... [--hyp-append "ARGS"] [--boot kernel|uboot]
#                  [--disk nvme|virtio[:IMAGE]]... [--gic 3|4] [-- EXTRA QEMU ARGS...]
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
#   --guest SPEC       one guest of several (dts/guests.md), repeatable, in guest order:
#                      name=NAME,cpus=N[+M...][,mem=SIZE][,pci=BDF[+BDF...]][,append=ARGS]
#                      NAME: 1 to 16 of [A-Za-z0-9_.-]; cpus: its physical CPUs (0-based,
#                      pinned in order); mem: 256M or 1G (default: an equal share of what is
#                      left); pci: the host functions it owns (bus:dev.fn); append: added to its
#                      command line after --append's, and the rest of SPEC (commas included).
#                      Every guest boots the same kernel and initrd. Guest lines on the console
#                      start with "(NAME) "; Ctrl-A three times moves the input focus. QEMU
#                      dumps the machine's tree first, scripts/mkguestdtb.sh writes the guest
#                      nodes into it and QEMU boots with -dtb. Without --nic, one e1000e and one
#                      virtio NIC (00:01.0 and 00:02.0), each on its own user network.
#   --guests two       the two-guest demo, the same as
#                      --guest name=net0,cpus=0,pci=00:01.0
#                      --guest name=net1,cpus=1,mem=256M,pci=00:02.0
#                      (net0 owns the e1000e on CPU 0, net1 the virtio NIC on CPU 1)
#   --guest-append NAME=ARGS  with --guest/--guests: added to guest NAME's command line only
#                      (after --append's); repeatable, e.g. --guest-append net0=sluice.reboots=10
#   --hyp-append ARGS  added to sluice's own command line, e.g. sluice.unemulated=stop (a
#                      guest access sluice cannot emulate stops that guest; README); run.sh
#                      adds sluice.stage2=pages (QEMU's TCG wants them) unless ARGS set it
#   --boot HOW         kernel (default): QEMU loads sluice (-kernel) and the guest's images
#                      (guest-loader); uboot: as on a board, Debian's U-Boot (u-boot-qemu) is
#                      the firmware (-bios, at EL2) and boots from an NVMe disk that
#                      scripts/mkbootdisk.sh writes (sluice, kernel, initrd, boot.scr): the
#                      script brings the first NIC up with dhcp, loads the images, adds the
#                      /chosen module (or guest) nodes with fdt commands and booti's sluice. The
#                      NIC and the disk reach sluice as U-Boot left them; the disk is one more
#                      endpoint (after the NICs) that the guest gets unless --pci says otherwise
#   --guest-image NAME=FILE  with --guest/--guests: guest NAME boots FILE (an arm64 Image, e.g. the
#                      bare-metal guest of scripts/mkvcputest.sh) without initrd instead of the
#                      shared kernel; repeatable
#   --disk KIND        a disk on the host PCIe bus, passed through to the guest: an NVMe
#                      controller (nvme) or a virtio-blk-pci (virtio); repeatable. Each one
#                      gets a fresh ext4 image target/disk/diskN-KIND.img holding the same
#                      random /known.bin (md5 in target/disk/known.md5), and the guest is told
#                      sluice.disk=MD5 (scripts/guest/lib/disk.sh: it checks known.bin and writes
#                      written.bin and written.txt; read them back with scripts/mkdisk.sh --cat).
#                      KIND:IMAGE attaches IMAGE as it is instead (raw, nothing added to the
#                      command line)
#   --gic 3|4          the machine's GIC (default 3, or $SLUICE_GIC): 4 is QEMU gic-version=4
#                      (GICv4.0: direct virtual LPI injection, which sluice then uses for the
#                      MSIs of passed-through functions)
#   -- ...             everything after -- is passed to QEMU verbatim; a further -machine
#                      adds properties to run.sh's own (e.g. -- -machine mte=on)
#
# stdout is the serial console: sluice's lines start with "[sluice] ", the rest is the guest.
# The console is also saved in target/run.log. Exit status:
#   0 the guest (with several: every guest) powered off through PSCI SYSTEM_OFF (with
#     --native: QEMU exited cleanly)
#   1 bad option or missing file          3 hypervisor panic or fatal boot error
#   2 setup or build failed               4 timeout
#   5 QEMU failed or the guest stopped without powering off
#   6 a guest was stopped after a fatal fault ("[sluice] guest [NAME ]stopped: REASON"); the
#     machine powered off when no guest ran any more (the others may have ended well)
set -euo pipefail
source "$(dirname "$0")/env.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

kernel="" initrd="" guest_kernel=6.1 guests="" boot=kernel hyp_append=""
poweroff_line='reboot: Power down'
append="" smp=2 mem=1G timeout_s=300 native=0 no_guest=0 kernel_given=0 initrd_given=0 iommu=smmuv3
nics=() pcis=() extra=() guest_appends=() guest_images=() disks=() guest_specs=() gic=${SLUICE_GIC:-3}

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
        --guest) need_value "$@"; guest_specs+=("$2"); shift 2 ;;
        --guest-append) need_value "$@"; guest_appends+=("$2"); shift 2 ;;
        --boot) need_value "$@"; boot=$2; shift 2 ;;
        --guest-image) need_value "$@"; guest_images+=("$2"); shift 2 ;;
        --disk) need_value "$@"; disks+=("$2"); shift 2 ;;
        --hyp-append) need_value "$@"; hyp_append=$2; shift 2 ;;
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
    two) [ ${#guest_specs[@]} = 0 ] || die "--guests two cannot go with --guest"
         guest_specs=(name=net0,cpus=0,pci=00:01.0 name=net1,cpus=1,mem=256M,pci=00:02.0) ;;
    *) die "--guests must be two, got '$guests'" ;;
esac
# --guest SPEC: checked here, before anything runs; g_* hold one entry per guest.
g_names=() g_cpus=() g_mems=() g_pcis=() g_appends=()
bdf_re='[0-9a-f]{2}:[01][0-9a-f]\.[0-7]'
for spec in "${guest_specs[@]}"; do
    name="" cpus="" gmem="" gpci="" gappend="" rest=$spec
    while [ -n "$rest" ]; do
        if [[ "$rest" == append=* ]]; then gappend=${rest#append=}; break; fi
        item=${rest%%,*}
        [ "$item" = "$rest" ] && rest="" || rest=${rest#*,}
        key=${item%%=*} value=${item#*=}
        [[ "$item" == *=* ]] && [ -n "$value" ] || die "--guest '$spec': '$item' is not KEY=VALUE"
        case "$key" in
            name) [[ "$value" =~ ^[A-Za-z0-9_.-]{1,16}$ ]] ||
                      die "--guest '$spec': name must be 1 to 16 of A-Z a-z 0-9 _ . -, got '$value'"
                  name=$value ;;
            cpus) [[ "$value" =~ ^[0-9]+(\+[0-9]+)*$ ]] ||
                      die "--guest '$spec': cpus must be N or N+M..., got '$value'"
                  cpus=$value ;;
            mem) [[ "$value" =~ ^[1-9][0-9]*[MG]$ ]] ||
                     die "--guest '$spec': mem must look like 256M or 1G, got '$value'"
                 gmem=$value ;;
            pci) [[ "$value" =~ ^$bdf_re(\+$bdf_re)*$ ]] ||
                     die "--guest '$spec': pci must be bus:dev.fn (hex), '+' between several, got '$value'"
                 gpci=$value ;;
            *) die "--guest '$spec': unknown key '$key' (name, cpus, mem, pci, append)" ;;
        esac
    done
    [ -n "$name" ] || die "--guest '$spec': no name=NAME"
    [ -n "$cpus" ] || die "--guest '$spec': no cpus=N"
    for other in "${g_names[@]}"; do
        [ "$other" != "$name" ] || die "--guest: two guests are named '$name'"
    done
    for c in ${cpus//+/ }; do
        [ "$c" -lt "$smp" ] || die "--guest '$spec': CPU $c does not exist (--smp $smp)"
    done
    g_names+=("$name") g_cpus+=("$cpus") g_mems+=("$gmem") g_pcis+=("$gpci") g_appends+=("$gappend")
done
if [ ${#guest_specs[@]} -gt 0 ]; then
    [ "$native" = 0 ] && [ "$no_guest" = 0 ] && [ ${#pcis[@]} = 0 ] ||
        die "--guest/--guests cannot go with --native, --no-guest or --pci"
    [ ${#nics[@]} -gt 0 ] || nics=(e1000e virtio)
fi
for ga in "${guest_appends[@]}"; do
    [ ${#guest_specs[@]} -gt 0 ] || die "--guest-append needs --guest or --guests"
    [[ " ${g_names[*]} " == *" ${ga%%=*} "* ]] && [[ "$ga" == *=?* ]] ||
        die "--guest-append must be NAME=ARGS for a guest NAME of --guest/--guests, got '$ga'"
done
case "$boot" in
    kernel) ;;
    uboot) [ "$native" = 0 ] && [ "$no_guest" = 0 ] || die "--boot uboot cannot go with --native or --no-guest" ;;
    *) die "--boot must be kernel or uboot, got '$boot'" ;;
esac
for gi in "${guest_images[@]}"; do
    [ ${#guest_specs[@]} -gt 0 ] || die "--guest-image needs --guest or --guests"
    [[ " ${g_names[*]} " == *" ${gi%%=*} "* ]] && [[ "$gi" == *=?* ]] ||
        die "--guest-image must be NAME=FILE for a guest NAME of --guest/--guests, got '$gi'"
    [ -f "${gi#*=}" ] || die "guest image not found: ${gi#*=}"
    [ "$boot" = kernel ] || die "--guest-image needs --boot kernel"
done
# TCG runs a guest faster with 4 KiB stage-2 pages than with blocks (docs/vcpu.md).
[[ " $hyp_append " == *" sluice.stage2="* ]] || hyp_append="sluice.stage2=pages${hyp_append:+ $hyp_append}"
# The demo is a guest with a passed-through NIC.
[ ${#nics[@]} -gt 0 ] || nics=(e1000e)
for bdf in "${pcis[@]}"; do
    [[ "$bdf" =~ ^([0-9a-f]{2}:[01][0-9a-f]\.[0-7]|none)$ ]] || die "--pci must be bus:device.function (hex) or none, got '$bdf'"
done
for disk in "${disks[@]}"; do
    [[ "$disk" =~ ^(nvme|virtio)(:.+)?$ ]] || die "--disk must be nvme or virtio, optionally :IMAGE, got '$disk'"
    [[ "$disk" != *:* ]] || [ -f "${disk#*:}" ] || die "disk image not found: ${disk#*:}"
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
# This run's console (see below) becomes target/run.log however the run ends.
trap '[ ! -f "$tmp/console.log" ] || cp "$tmp/console.log" "$SLUICE_ROOT/target/run.log"; rm -rf "$tmp"' EXIT
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

# --disk: fresh ext4 images sharing one known file, or the images given.
disk_index=0 disk_built=0
for disk in "${disks[@]}"; do
    kind=${disk%%:*} image=${disk#*:}
    if [ "$image" = "$disk" ]; then
        image=$SLUICE_ROOT/target/disk/disk$disk_index-$kind.img
        if [ "$disk_built" = 0 ]; then
            mkdir -p "$SLUICE_ROOT/target/disk"
            head -c $((1 << 20)) /dev/urandom >"$SLUICE_ROOT/target/disk/known.bin"
            md5sum "$SLUICE_ROOT/target/disk/known.bin" | cut -d' ' -f1 >"$SLUICE_ROOT/target/disk/known.md5"
            disk_built=1
        fi
        "$SLUICE_ROOT/scripts/mkdisk.sh" --output "$image" --known "$SLUICE_ROOT/target/disk/known.bin" >/dev/null ||
            die "mkdisk.sh failed" 2
    fi
    # QEMU's option syntax doubles a literal comma.
    qemu_args+=(-drive "file=${image//,/,,},format=raw,if=none,id=disk$disk_index")
    case "$kind" in
        nvme) qemu_args+=(-device "nvme,serial=sluice$disk_index,drive=disk$disk_index") ;;
        virtio) qemu_args+=(-device "virtio-blk-pci,$virtio_opts,drive=disk$disk_index") ;;
    esac
    disk_index=$((disk_index + 1))
done
[ "$disk_built" = 0 ] || append="${append:+$append }sluice.disk=$(cat "$SLUICE_ROOT/target/disk/known.md5")"

bootargs="console=ttyAMA0${append:+ $append}"

# --boot uboot: the boot disk, with --guest/--guests the same guests as below.
uboot_disk() { # DISK
    local args=(--output "$1" --hypervisor "$SLUICE_IMAGE" --kernel "$kernel" --initrd "$initrd"
        --bootargs "$bootargs" --dhcp 52:54:00:12:34:56) hyp_args=$hyp_append ga i ncpus mib
    [ ${#pcis[@]} = 0 ] || hyp_args="sluice.pci=$(IFS=,; echo "${pcis[*]}")${hyp_args:+ $hyp_args}"
    [ -z "$hyp_args" ] || args+=(--hyp-bootargs "$hyp_args")
    for i in "${!g_names[@]}"; do
        [[ "${g_pcis[i]}" =~ ^[^+]+$ ]] || die "--boot uboot: guest ${g_names[i]} needs exactly one pci= function"
        ncpus=$(($(tr -cd + <<<"${g_cpus[i]}" | wc -c) + 1))
        case "${g_mems[i]}" in *G) mib=$((${g_mems[i]%G} * 1024)) ;; *M) mib=${g_mems[i]%M} ;; *) mib="" ;; esac
        args+=(--guest "${g_names[i]}:$ncpus:${g_pcis[i]}${mib:+:$mib}")
        [ -z "${g_appends[i]}" ] || args+=(--guest-bootargs "${g_names[i]}=${g_appends[i]}")
    done
    for ga in "${guest_appends[@]}"; do args+=(--guest-bootargs "$ga"); done
    "$SLUICE_ROOT/scripts/mkbootdisk.sh" "${args[@]}" || die "mkbootdisk.sh failed"
}
if [ "$native" = 1 ]; then
    # The baseline runs on the same machine as sluice (EL2 present) but keeps the kernel at
    # EL1 with nothing at EL2 (no VHE, no KVM) and no IOMMU translation in the way.
    bootargs="$bootargs id_aa64mmfr1.vh=0 kvm-arm.mode=none"
    qemu_args+=(-kernel "$kernel" -initrd "$initrd" -append "$bootargs")
elif [ "$boot" = uboot ]; then
    uboot_disk "$tmp/boot.img"
    qemu_args+=(-bios "$SLUICE_UBOOT" -drive "if=none,id=bootdisk,format=raw,file=$tmp/boot.img"
        -device "nvme,serial=sluiceboot,drive=bootdisk")
else
    qemu_args+=(-kernel "$SLUICE_IMAGE")
    hyp_args=$hyp_append
    if [ ${#pcis[@]} -gt 0 ]; then
        hyp_args="sluice.pci=$(IFS=,; echo "${pcis[*]}")${hyp_args:+ $hyp_args}"
    fi
    [ -z "$hyp_args" ] || qemu_args+=(-append "$hyp_args")
    if [ "$no_guest" = 0 ]; then
        # Modules at the top of RAM, 2 MiB aligned, leaving the top 2 MiB to QEMU.
        align=$((2 << 20))
        ram_top=$((VIRT_RAM_BASE + mem_mib * 1024 * 1024 - align))
        initrd_addr=$(((ram_top - $(stat -L -c %s "$initrd")) / align * align))
        kernel_addr=$(((initrd_addr - $(stat -L -c %s "$kernel")) / align * align))
        # QEMU's -device syntax doubles a literal comma.
        qemu_args+=(-device "guest-loader,addr=$(printf 0x%x "$kernel_addr"),kernel=$kernel,bootargs=${bootargs//,/,,}"
            -device "guest-loader,addr=$(printf 0x%x "$initrd_addr"),initrd=$initrd")
        # --guest-image: each further image below the shared kernel.
        declare -A image_mods=()
        next_top=$kernel_addr
        for gi in "${guest_images[@]}"; do
            image_size=$(stat -L -c %s "${gi#*=}")
            image_addr=$(((next_top - image_size) / align * align))
            qemu_args+=(-device "guest-loader,addr=$(printf 0x%x "$image_addr"),kernel=${gi#*=}")
            image_mods[${gi%%=*}]=$(printf 0x%x:%d "$image_addr" "$image_size")
            next_top=$image_addr
        done
    fi
fi

# --guest/--guests: the machine's own tree (guest-loader modules included), then guest nodes.
if [ ${#guest_specs[@]} -gt 0 ] && [ "$boot" = kernel ]; then
    "$QEMU" "${qemu_args[@]}" "${extra[@]}" -machine dumpdtb="$tmp/base.dtb" >/dev/null 2>&1 ||
        [ -s "$tmp/base.dtb" ] || die "QEMU dumped no device tree"
    kernel_mod=$(printf 0x%x:%d "$kernel_addr" "$(stat -L -c %s "$kernel")")
    guest_modules() { # NAME: mkguestdtb.sh's --kernel and --initrd for NAME
        local gi
        for gi in "${guest_images[@]}"; do
            [ "${gi%%=*}" = "$1" ] && { echo "--kernel ${image_mods[$1]}"; return; }
        done
        echo "--kernel $kernel_mod --initrd $initrd_mod"
    }
    initrd_mod=$(printf 0x%x:%d "$initrd_addr" "$(stat -L -c %s "$initrd")")
    mk_args=()
    for i in "${!g_names[@]}"; do
        line=$bootargs${g_appends[i]:+ ${g_appends[i]}}
        for ga in "${guest_appends[@]}"; do
            [ "${ga%%=*}" = "${g_names[i]}" ] && line+=" ${ga#*=}"
        done
        mk_args+=(--guest "${g_names[i]}" --cpus "${g_cpus[i]//+/,}" $(guest_modules "${g_names[i]}")
            --bootargs "$line")
        [ -z "${g_mems[i]}" ] || mk_args+=(--mem "${g_mems[i]}")
        for bdf in ${g_pcis[i]//+/ }; do mk_args+=(--pci "$bdf"); done
    done
    "$SLUICE_ROOT/scripts/mkguestdtb.sh" "$tmp/base.dtb" "$tmp/guests.dtb" "${mk_args[@]}" ||
        die "mkguestdtb.sh failed"
    qemu_args+=(-dtb "$tmp/guests.dtb")
fi

# The console goes to this run's own file (checked below, copied to target/run.log at exit):
# runs at the same time in one checkout (tests, benchmarks) never judge each other's console.
console=$tmp/console.log log=$SLUICE_ROOT/target/run.log
stdin=/dev/null
[ -t 0 ] && stdin=/dev/stdin
set +e
note "starting QEMU" # scripts/bench.sh times the boot from this line
timeout --foreground -k 5 "$timeout_s" "$QEMU" "${qemu_args[@]}" "${extra[@]}" <"$stdin" 2>&1 | tee "$console"
status=${PIPESTATUS[0]}
set -e
[ -t 0 ] && stty sane 2>/dev/null

if grep -qE '^\[sluice\] (PANIC|FATAL)' "$console"; then
    die "hypervisor panic or fatal error (see $log)" 3
fi
[ "$status" != 124 ] && [ "$status" != 137 ] || die "timeout after $timeout_s s (see $log)" 4
[ "$status" = 0 ] || die "QEMU exited with status $status (see $log)" 5
if [ "$native" = 1 ]; then
    grep -qE -- "$poweroff_line" "$console" || die "the guest stopped without powering off (see $log)" 5
else
    # One guest powers the machine off; several: the last one off (or stopped) does.
    grep -qE '^\[sluice\] (guest powered off \(PSCI SYSTEM_OFF\)|every guest is off: powering the machine off)' "$console" ||
        die "the guest stopped without powering off (see $log)" 5
    if stopped=$(grep -m1 -E '^\[sluice\] guest ([^ ]+ )?stopped: ' "$console"); then
        die "a guest was stopped after a fatal fault: ${stopped#\[sluice\] } (see $log)" 6
    fi
fi
