#!/usr/bin/env bash
# Writes a boot disk for U-Boot's distro boot, without root: an MBR disk with one bootable FAT
# partition (mtools) holding sluice, the guest kernel, its initrd and boot.scr (mkimage). The
# script loads them, adds the /chosen module nodes that sluice reads (multiboot,kernel with the
# guest's bootargs, multiboot,ramdisk; with --guest, one "sluice,guest" node per guest holding
# its own module nodes, dts/guests.md) to the DT U-Boot got from the board, with `fdt`
# commands as Xen's ImageBuilder (uboot-script-gen) does, and `booti`s sluice at EL2.
#
#   scripts/mkbootdisk.sh --output DISK --hypervisor IMAGE --kernel IMAGE [--initrd FILE]
#                         [--bootargs "ARGS"] [--hyp-bootargs "ARGS"] [--dhcp MAC]
#                         [--guest NAME:CPUS:PCI[:MEM]]... [--guest-bootargs NAME=ARGS]...
#
#   --output DISK        the disk image to write (replaced)
#   --hypervisor IMAGE   sluice's arm64 Image (target/sluice.bin)
#   --kernel IMAGE       the guest kernel, raw arm64 Image
#   --initrd FILE        the guest initramfs
#   --bootargs "ARGS"    the guest's command line (every guest's, with --guest)
#   --hyp-bootargs ARGS  sluice's own command line (/chosen/bootargs, e.g. sluice.pci=00:01.0)
#   --dhcp MAC           U-Boot brings the first NIC up with this MAC and runs dhcp before
#                        booting (so the NIC is left as firmware leaves it on a board)
#   --guest N:C:P[:M]    a "sluice,guest" node: name N, C CPUs (a count), PCI function P
#                        (bus:dev.fn), M MiB of RAM (optional); repeatable; without it the
#                        modules sit directly under /chosen (one guest with everything)
#   --guest-bootargs N=A added to guest N's command line
#
# Load addresses (QEMU virt, RAM from 0x40000000): the DT is copied to 0x40100000 (1 MiB
# room), boot.scr runs from U-Boot's scriptaddr 0x40200000, sluice is loaded at 0x40400000
# (2 MiB aligned, as booti wants), the kernel at 0x40800000 and the initrd after it; sluice
# keeps these ranges and the DT away from guests and takes the rest, U-Boot's own memory at
# the top of RAM included.
set -euo pipefail
source "$(dirname "$0")/env.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

output="" hypervisor="" kernel="" initrd="" bootargs="console=ttyAMA0" hyp_bootargs="" mac=""
guests=() guest_bootargs=()
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --output) need_value "$@"; output=$2; shift 2 ;;
        --hypervisor) need_value "$@"; hypervisor=$2; shift 2 ;;
        --kernel) need_value "$@"; kernel=$2; shift 2 ;;
        --initrd) need_value "$@"; initrd=$2; shift 2 ;;
        --bootargs) need_value "$@"; bootargs=$2; shift 2 ;;
        --hyp-bootargs) [ $# -ge 2 ] || die "option $1 needs a value"; hyp_bootargs=$2; shift 2 ;;
        --dhcp) need_value "$@"; mac=$2; shift 2 ;;
        --guest) need_value "$@"; guests+=("$2"); shift 2 ;;
        --guest-bootargs) need_value "$@"; guest_bootargs+=("$2"); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option: $1 (see scripts/mkbootdisk.sh --help)" ;;
    esac
done
[ -n "$output" ] && [ -n "$hypervisor" ] && [ -n "$kernel" ] || die "--output, --hypervisor and --kernel are required"
for f in "$hypervisor" "$kernel" ${initrd:+"$initrd"}; do
    [ -f "$f" ] || die "file not found: $f"
done
for f in "$hypervisor" "$kernel"; do
    [ "$(dd if="$f" bs=1 skip=56 count=4 2>/dev/null)" = $'ARM\x64' ] || die "$f is not an arm64 Image"
done
[ -z "$mac" ] || [[ "$mac" =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || die "--dhcp needs a MAC like 52:54:00:12:34:56"
for g in "${guests[@]}"; do
    [[ "$g" =~ ^[!-~]{1,16}:[1-8]:[0-9a-f]{2}:[01][0-9a-f]\.[0-7](:[1-9][0-9]*)?$ ]] ||
        die "--guest must be NAME:CPUS:BUS:DEV.FN[:MIB], got '$g'"
done

for tool in mformat mcopy mkimage sfdisk; do
    command -v "$tool" >/dev/null || die "$tool not found; run scripts/setup.sh"
done

align=$((2 << 20))
round_up() { echo $((($1 + align - 1) / align * align)); }
hyp_addr=$((0x40400000))
kernel_addr=$((0x40800000))
kernel_size=$(stat -L -c %s "$kernel")
initrd_addr=$(round_up $((kernel_addr + kernel_size)))
initrd_size=0
[ -z "$initrd" ] || initrd_size=$(stat -L -c %s "$initrd")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# module_nodes PARENT: the fdt commands for the kernel and ramdisk module nodes under PARENT,
# with ARGS (global) as the kernel's bootargs.
module_nodes() {
    local parent=$1 k i
    k=$(printf module@%x "$kernel_addr")
    echo "fdt mknode $parent $k"
    echo "fdt set $parent/$k compatible \"multiboot,kernel\" \"multiboot,module\""
    printf 'fdt set %s/%s reg <0x0 0x%x 0x0 0x%x>\n' "$parent" "$k" "$kernel_addr" "$kernel_size"
    echo "fdt set $parent/$k bootargs \"$ARGS\""
    [ -n "$initrd" ] || return 0
    i=$(printf module@%x "$initrd_addr")
    echo "fdt mknode $parent $i"
    echo "fdt set $parent/$i compatible \"multiboot,ramdisk\" \"multiboot,module\""
    printf 'fdt set %s/%s reg <0x0 0x%x 0x0 0x%x>\n' "$parent" "$i" "$initrd_addr" "$initrd_size"
}

{
    echo 'echo "sluice boot script: ${devtype} ${devnum}:${distro_bootpart}"'
    if [ -n "$mac" ]; then
        echo "setenv autoload no"
        echo "setenv ethaddr $mac"
        echo "dhcp || echo \"sluice boot script: dhcp failed\""
    fi
    echo 'setenv part ${devtype} ${devnum}:${distro_bootpart}'
    printf 'load ${part} 0x%x sluice.bin\n' "$hyp_addr"
    printf 'load ${part} 0x%x Image\n' "$kernel_addr"
    [ -z "$initrd" ] || printf 'load ${part} 0x%x initrd\n' "$initrd_addr"
    # The board's DT (U-Boot's control DT, QEMU's here), copied where there is room to grow.
    echo 'fdt addr ${fdtcontroladdr}'
    echo 'fdt move ${fdtcontroladdr} 0x40100000 0x100000'
    echo 'fdt resize 8192'
    if [ ${#guests[@]} = 0 ]; then
        ARGS=$bootargs module_nodes /chosen
    else
        index=0
        for g in "${guests[@]}"; do
            IFS=: read -r name cpus bus devfn mib <<<"$g"
            node=/chosen/guest@$index
            echo "fdt mknode /chosen guest@$index"
            echo "fdt set $node compatible \"sluice,guest\""
            echo "fdt set $node sluice,name \"$name\""
            echo "fdt set $node cpus <$cpus>"
            echo "fdt set $node sluice,pci-devices \"$bus:$devfn\""
            [ -z "$mib" ] || printf 'fdt set %s memory <0x0 0x%x>\n' "$node" $((mib * 1024))
            echo "fdt set $node \\#address-cells <2>"
            echo "fdt set $node \\#size-cells <2>"
            args=$bootargs
            for ga in "${guest_bootargs[@]}"; do
                [ "${ga%%=*}" = "$name" ] && args+=" ${ga#*=}"
            done
            ARGS=$args module_nodes "$node"
            index=$((index + 1))
        done
    fi
    echo "setenv bootargs \"$hyp_bootargs\""
    printf 'booti 0x%x - 0x40100000\n' "$hyp_addr"
} >"$tmp/boot.cmd"
mkimage -A arm64 -O linux -T script -C none -n "sluice boot" -d "$tmp/boot.cmd" "$tmp/boot.scr" >/dev/null

# The FAT partition: the files plus 8 MiB of room, whole MiB.
files_bytes=$(($(stat -L -c %s "$hypervisor") + kernel_size + initrd_size + (8 << 20)))
part_mib=$(((files_bytes + (1 << 20) - 1) >> 20))
truncate -s "${part_mib}M" "$tmp/part.img"
mformat -i "$tmp/part.img" -v SLUICE :: || die "mformat failed"
mcopy -i "$tmp/part.img" "$hypervisor" ::sluice.bin
mcopy -i "$tmp/part.img" "$kernel" ::Image
[ -z "$initrd" ] || mcopy -i "$tmp/part.img" "$initrd" ::initrd
mcopy -i "$tmp/part.img" "$tmp/boot.scr" ::boot.scr
mcopy -i "$tmp/part.img" "$tmp/boot.cmd" ::boot.cmd

# The disk: an MBR with the partition at 1 MiB, bootable (distro boot looks there first).
rm -f "$output"
truncate -s "$((part_mib + 1))M" "$output"
echo "1MiB,${part_mib}MiB,c,*" | sfdisk -q "$output" >/dev/null || die "sfdisk failed"
dd if="$tmp/part.img" of="$output" bs=1M seek=1 conv=notrunc status=none
