#!/usr/bin/env bash
# Builds a disk image without root, for run.sh --disk and the disk scenarios.
#   mkdisk.sh --output IMG --known FILE [--size-mib N]   an ext4 file system holding FILE as
#                                                       /known.bin (mke2fs -d)
#   mkdisk.sh --output IMG --raw-mib N                  N MiB of random bytes, no file system
#                                                       (the benchmark's sequential read);
#                                                       prints the image's md5
#   mkdisk.sh --cat IMG PATH                            a file of an ext4 image on stdout
#                                                       (debugfs: no mount, no root)
# The ext4 image has no metadata_csum, so the guest's ext4 needs no crc32c module.
set -euo pipefail
source "$(dirname "$0")/env.sh"

output="" known="" size_mib=32 raw_mib="" cat_image="" cat_path=""
while [ $# -gt 0 ]; do
    case "$1" in
        --output) output=${2:?}; shift 2 ;;
        --known) known=${2:?}; shift 2 ;;
        --size-mib) size_mib=${2:?}; shift 2 ;;
        --raw-mib) raw_mib=${2:?}; shift 2 ;;
        --cat) cat_image=${2:?}; cat_path=${3:?}; shift 3 ;;
        *) die "mkdisk.sh: unknown option $1" ;;
    esac
done
export PATH=$PATH:/sbin:/usr/sbin
command -v mke2fs >/dev/null && command -v debugfs >/dev/null || die "mke2fs or debugfs is missing (package e2fsprogs)" 2

if [ -n "$cat_image" ]; then
    [ -f "$cat_image" ] || die "disk image not found: $cat_image"
    # debugfs prints its banner on stderr and the file on stdout; a missing file gives nothing.
    exec debugfs -R "cat $cat_path" "$cat_image" 2>/dev/null
fi
[ -n "$output" ] || die "mkdisk.sh: --output is required"
mkdir -p "$(dirname "$output")"

if [ -n "$raw_mib" ]; then
    [[ "$raw_mib" =~ ^[1-9][0-9]*$ ]] || die "--raw-mib must be a number of MiB, got '$raw_mib'"
    if [ "$(stat -c %s "$output" 2>/dev/null)" != $((raw_mib << 20)) ]; then
        head -c $((raw_mib << 20)) /dev/urandom >"$output.tmp"
        mv "$output.tmp" "$output"
    fi
    md5sum "$output" | cut -d' ' -f1
    exit 0
fi

[ -f "$known" ] || die "mkdisk.sh: --known FILE is required"
[[ "$size_mib" =~ ^[1-9][0-9]*$ ]] || die "--size-mib must be a number of MiB, got '$size_mib'"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp "$known" "$root/known.bin"
echo "sluice disk image: the guest checks known.bin's md5 and writes written.bin and written.txt" >"$root/README"
rm -f "$output"
mke2fs -q -F -t ext4 -O ^metadata_csum -L sluice -d "$root" "$output" "${size_mib}M" ||
    die "mke2fs could not build $output"
