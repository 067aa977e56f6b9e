#!/usr/bin/env bash
# Builds a guest initramfs from the cached Debian busybox-static and kernel modules.
#   mkinitramfs.sh --init FILE --output FILE.cpio.gz [--modules "mod1 mod2 ..."]
#                  [--add FILE:/PATH/IN/INITRAMFS]... [--kernel-root DIR]
# --kernel-root: the unpacked kernel package whose modules are used (default: the 6.1 one).
# The modules and everything they depend on (from modules.dep) are copied, decompressed, and
# listed in load order in /etc/sluice-modules for the init script (modules built into the
# kernel are skipped). Rebuilt only when an input is newer than the output.
set -euo pipefail
source "$(dirname "$0")/env.sh"

init="" output="" modules="" adds=() kernel_root=$SLUICE_KERNEL_ROOT
while [ $# -gt 0 ]; do
    case "$1" in
        --init) init=${2:?}; shift 2 ;;
        --output) output=${2:?}; shift 2 ;;
        --modules) modules=${2:-}; shift 2 ;;
        --add) adds+=("${2:?}"); shift 2 ;;
        --kernel-root) kernel_root=${2:?}; shift 2 ;;
        *) die "mkinitramfs.sh: unknown option $1" ;;
    esac
done
[ -f "$init" ] || die "init script not found: $init"
[ -n "$output" ] || die "mkinitramfs.sh: --output is required"
busybox=$SLUICE_CACHE/rootfs-busybox/bin/busybox
[ -x "$busybox" ] || die "busybox not unpacked; run scripts/setup.sh"

for add in "${adds[@]}"; do
    [[ "$add" == *:/* ]] || die "mkinitramfs.sh: --add wants FILE:/PATH, got '$add'"
    [ -f "${add%%:*}" ] || die "file to add not found: ${add%%:*}"
done
stamp="$init $0 $(dirname "$0")/env.sh $(dirname "$0")/guest $kernel_root/lib/modules"
for add in "${adds[@]}"; do stamp="$stamp ${add%%:*}"; done
if [ -f "$output" ] && [ -z "$(find $stamp -newer "$output" 2>/dev/null)" ]; then
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,sbin,etc,proc,sys,dev,tmp,root,lib/modules,usr/bin,usr/sbin}
cp "$busybox" "$work/bin/busybox"
for applet in $("$busybox" --list-full 2>/dev/null || true); do
    [ -e "$work/$applet" ] || ln -s /bin/busybox "$work/$applet"
done
# Without --list-full support (cross arch: the arm64 busybox does not run here), link the usual set.
if [ ! -e "$work/bin/sh" ]; then
    for applet in sh ash cat echo ls mount umount mkdir insmod modprobe poweroff reboot sleep grep \
        sed awk head tail devmem ifconfig ip route wget sha256sum md5sum dd cut tr setsid cttyhack \
        dmesg uname true false test printf seq wc sync mknod hexdump od xxd ps kill lspci cp rm \
        find udhcpc ping nc httpd timeout env expr basename date time; do
        ln -sf busybox "$work/bin/$applet"
    done
fi
cp "$init" "$work/init"
chmod +x "$work/init"
[ -d "$(dirname "$0")/guest/lib" ] && cp -r "$(dirname "$0")/guest/lib" "$work/lib/sluice"
for add in "${adds[@]}"; do
    mkdir -p "$work/$(dirname "${add#*:}")"
    cp "${add%%:*}" "$work/${add#*:}"
done

if [ -n "$modules" ]; then
    moddir=$(ls -d "$kernel_root"/lib/modules/*/ | head -1)
    moddir=${moddir%/}
    : >"$work/etc/sluice-modules"
    declare -A seen=()
    add_module() {
        local name=$1 path deps dep
        path=$(grep -E "(^|/)${name//_/[-_]}\.ko(\.xz)?:" "$moddir/modules.dep" | head -1 | cut -d: -f1 || true)
        # Built into this kernel (6.12 has virtio_pci built in): nothing to load.
        [ -z "$path" ] && grep -qE "(^|/)${name//_/[-_]}\.ko$" "$moddir/modules.builtin" && return
        [ -n "$path" ] || die "module $name not found in $moddir/modules.dep"
        [ -n "${seen[$path]:-}" ] && return
        seen[$path]=1
        deps=$(grep -E "^$path:" "$moddir/modules.dep" | cut -d: -f2)
        for dep in $deps; do
            add_module "$(basename "$dep" | sed -E 's/\.ko(\.xz)?$//')"
        done
        local target=$work/lib/modules/$(basename "$path" .xz)
        case "$path" in
            *.xz) xz -dc "$moddir/$path" >"$target" ;;
            *) cp "$moddir/$path" "$target" ;;
        esac
        basename "$target" >>"$work/etc/sluice-modules"
    }
    for m in $modules; do add_module "$m"; done
fi

mkdir -p "$(dirname "$output")"
(cd "$work" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -9 >"$output.tmp"
mv "$output.tmp" "$output"
note "built $(basename "$output") ($(du -k "$output" | cut -f1) KiB)"
