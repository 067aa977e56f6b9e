#!/usr/bin/env bash
# Installs what sluice needs on a Debian bookworm machine (as root) and caches the guest:
# Debian's arm64 kernels (bookworm's 6.1, the default, and bookworm-backports' 6.12, each as a
# raw Image) and a demo initramfs per kernel with busybox and that kernel's NIC and disk modules.
# Idempotent: a second run with everything in place does nothing.
set -euo pipefail
source "$(dirname "$0")/env.sh"

# e2fsprogs (mke2fs, debugfs: run.sh --disk images; in every bookworm install, listed anyway).
HOST_PACKAGES=(rustc-web rust-web-src cargo-web lld llvm cpio device-tree-compiler gdb-multiarch xz-utils python3 kmod
    mtools u-boot-tools fdisk e2fsprogs)

have_host_packages() {
    command -v "$QEMU" >/dev/null && "$QEMU" --version | grep -qE 'version (1[0-9]|[2-9][0-9])\.' &&
        [ -x "$TARGET_RUSTC" ] && [ -d /usr/lib/rustlib/src/rust ] && command -v ld.lld >/dev/null &&
        command -v llvm-objcopy >/dev/null && command -v cpio >/dev/null && command -v dtc >/dev/null && command -v depmod >/dev/null &&
        command -v mformat >/dev/null && command -v mkimage >/dev/null && command -v sfdisk >/dev/null &&
        PATH=$PATH:/sbin:/usr/sbin command -v debugfs >/dev/null
}

install_host_packages() {
    have_host_packages && return
    [ "$(id -u)" = 0 ] || die "missing host packages; run scripts/setup.sh as root once"
    note "installing host packages (QEMU from bookworm-backports)"
    local list=/etc/apt/sources.list.d/sluice-backports.list
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo 'deb http://deb.debian.org/debian bookworm-backports main' >"$list"
    fi
    if ! grep -rqs 'bookworm-security' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo 'deb http://deb.debian.org/debian-security bookworm-security main' >>"$list"
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${HOST_PACKAGES[@]}" >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports qemu-system-arm >/dev/null
    have_host_packages || die "host packages installed but QEMU >= 10 or the Rust toolchain is still missing"
}

# A private apt configuration that sees Debian's arm64 packages without touching the host's.
guest_apt() {
    local apt=$SLUICE_CACHE/apt
    mkdir -p "$apt/lists/partial" "$apt/archives/partial"
    cat >"$apt/sources.list" <<'LIST'
deb [arch=arm64] http://deb.debian.org/debian bookworm main
deb [arch=arm64] http://deb.debian.org/debian bookworm-updates main
deb [arch=arm64] http://deb.debian.org/debian-security bookworm-security main
deb [arch=arm64] http://deb.debian.org/debian bookworm-backports main
LIST
    apt-get -q -o APT::Architecture=arm64 -o APT::Architectures=arm64 \
        -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt" -o Dir::State::Status=/dev/null \
        -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Debug::NoLocking=1 "$@"
}

# Downloads busybox-static and the 6.1 kernel (bookworm) unless cached.
download_guest_debs() {
    local debs=$SLUICE_CACHE/debs
    if ls "$debs"/linux-image-6.1.0-*-arm64_*.deb "$debs"/busybox-static_*.deb >/dev/null 2>&1; then
        return
    fi
    note "downloading Debian's arm64 kernel and busybox-static"
    guest_apt update -qq >/dev/null
    local kernel
    kernel=$(guest_apt_cache depends linux-image-arm64 | awk '/Depends: linux-image-6\.1\.0-[0-9]+-arm64$/ {print $2; exit}')
    [ -n "$kernel" ] || die "could not find the linux-image-6.1.0-*-arm64 package for arm64"
    mkdir -p "$debs"
    (cd "$debs" && guest_apt download "$kernel" busybox-static >/dev/null)
}

# Downloads the bookworm-backports 6.12 kernel unless cached.
download_backports_kernel() {
    local debs=$SLUICE_CACHE/debs
    ls "$debs"/linux-image-6.12.*-arm64_*.deb >/dev/null 2>&1 && return
    note "downloading Debian's bookworm-backports arm64 kernel (6.12)"
    guest_apt update -qq >/dev/null
    local kernel
    kernel=$(guest_apt_cache -o APT::Default-Release=bookworm-backports depends linux-image-arm64 |
        awk '/Depends: linux-image-6\.12\.[0-9.+~a-z-]*-arm64$/ {print $2; exit}')
    [ -n "$kernel" ] || die "could not find the linux-image-6.12.*-arm64 package in bookworm-backports"
    mkdir -p "$debs"
    (cd "$debs" && guest_apt download "$kernel/bookworm-backports" >/dev/null)
}

# Debian's U-Boot for QEMU (u-boot-qemu, arch all): its qemu_arm64 u-boot.bin is the -bios of
# run.sh --boot uboot.
download_uboot() {
    [ -f "$SLUICE_UBOOT" ] && return
    local debs=$SLUICE_CACHE/debs
    if ! ls "$debs"/u-boot-qemu_*.deb >/dev/null 2>&1; then
        note "downloading Debian's u-boot-qemu"
        guest_apt update -qq >/dev/null
        (cd "$debs" && guest_apt download u-boot-qemu >/dev/null)
    fi
    rm -rf "$SLUICE_CACHE/u-boot.tmp"
    dpkg -x "$debs"/u-boot-qemu_*.deb "$SLUICE_CACHE/u-boot.tmp"
    cp "$SLUICE_CACHE/u-boot.tmp/usr/lib/u-boot/qemu_arm64/u-boot.bin" "$SLUICE_UBOOT.tmp"
    rm -rf "$SLUICE_CACHE/u-boot.tmp"
    mv "$SLUICE_UBOOT.tmp" "$SLUICE_UBOOT"
}

guest_apt_cache() {
    local apt=$SLUICE_CACHE/apt
    apt-cache -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o Dir::State::Lists="$apt/lists" \
        -o Dir::Cache="$apt" -o Dir::State::Status=/dev/null -o Dir::Etc::SourceList="$apt/sources.list" \
        -o Dir::Etc::SourceParts=/dev/null "$@"
}

unpack_busybox() {
    [ -d "$SLUICE_CACHE/rootfs-busybox" ] && return
    note "unpacking busybox"
    dpkg -x "$SLUICE_CACHE"/debs/busybox-static_*.deb "$SLUICE_CACHE/rootfs-busybox.tmp"
    mv "$SLUICE_CACHE/rootfs-busybox.tmp" "$SLUICE_CACHE/rootfs-busybox"
}

# unpack_kernel DEB-GLOB ROOTFS IMAGE: the package's files in ROOTFS (with modules.dep) and its
# kernel as a raw Image in IMAGE.
unpack_kernel() {
    local deb_glob=$1 rootfs=$2 image=$3
    [ -f "$image" ] && ls "$rootfs"/lib/modules/*/modules.dep >/dev/null 2>&1 && return
    note "unpacking the guest kernel $(basename "$image")"
    rm -rf "$rootfs"
    # shellcheck disable=SC2086 # the glob names the one cached package
    dpkg -x $SLUICE_CACHE/debs/$deb_glob "$rootfs"
    local vmlinuz
    vmlinuz=$(ls "$rootfs"/boot/vmlinuz-*)
    # Debian's arm64 vmlinuz is a gzip-compressed Image (6.1) or a raw one (6.12); sluice loads
    # the raw Image.
    gzip -dc "$vmlinuz" >"$image.tmp" 2>/dev/null || cp "$vmlinuz" "$image.tmp"
    [ "$(dd if="$image.tmp" bs=1 skip=56 count=4 2>/dev/null)" = $'ARM\x64' ] ||
        die "$vmlinuz is not an arm64 Image"
    mv "$image.tmp" "$image"
    # The package leaves modules.dep to its postinst; build it here.
    local version
    version=$(basename "$(ls -d "$rootfs"/lib/modules/*)")
    depmod -b "$rootfs" "$version"
}

main() {
    mkdir -p "$SLUICE_CACHE"
    install_host_packages
    download_guest_debs
    download_backports_kernel
    download_uboot
    unpack_busybox
    unpack_kernel 'linux-image-6.1.0-*-arm64_*.deb' "$SLUICE_KERNEL_ROOT" "$SLUICE_CACHE/Image"
    unpack_kernel 'linux-image-6.12.*-arm64_*.deb' "$SLUICE_KERNEL_ROOT_612" "$SLUICE_IMAGE_612"
    "$SLUICE_ROOT/scripts/mkinitramfs.sh" --init "$SLUICE_ROOT/scripts/guest/init" \
        --modules "${GUEST_MODULES[*]}" --output "$SLUICE_INITRAMFS"
    "$SLUICE_ROOT/scripts/mkinitramfs.sh" --init "$SLUICE_ROOT/scripts/guest/init" \
        --kernel-root "$SLUICE_KERNEL_ROOT_612" --modules "${GUEST_MODULES[*]}" --output "$SLUICE_INITRAMFS_612"
}

main "$@"
