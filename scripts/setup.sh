#!/usr/bin/env bash
# Installs what sluice needs on a Debian bookworm machine (as root) and caches the guest:
# Debian's arm64 kernel (as a raw Image) and a demo initramfs with busybox and the NIC modules.
# Idempotent: a second run with everything in place does nothing.
set -euo pipefail
source "$(dirname "$0")/env.sh"

HOST_PACKAGES=(rustc-web rust-web-src cargo-web lld llvm cpio device-tree-compiler gdb-multiarch xz-utils python3 kmod)
# Modules the demo initramfs loads, in this order (dependencies are added from modules.dep).
GUEST_MODULES=(virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net e1000e)

have_host_packages() {
    command -v "$QEMU" >/dev/null && "$QEMU" --version | grep -qE 'version (1[0-9]|[2-9][0-9])\.' &&
        [ -x "$TARGET_RUSTC" ] && [ -d /usr/lib/rustlib/src/rust ] && command -v ld.lld >/dev/null &&
        command -v llvm-objcopy >/dev/null && command -v cpio >/dev/null && command -v dtc >/dev/null && command -v depmod >/dev/null
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
LIST
    apt-get -q -o APT::Architecture=arm64 -o APT::Architectures=arm64 \
        -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt" -o Dir::State::Status=/dev/null \
        -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Debug::NoLocking=1 "$@"
}

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

guest_apt_cache() {
    local apt=$SLUICE_CACHE/apt
    apt-cache -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o Dir::State::Lists="$apt/lists" \
        -o Dir::Cache="$apt" -o Dir::State::Status=/dev/null -o Dir::Etc::SourceList="$apt/sources.list" \
        -o Dir::Etc::SourceParts=/dev/null "$@"
}

unpack_guest() {
    [ -f "$SLUICE_CACHE/Image" ] && ls "$SLUICE_CACHE"/rootfs-kernel/lib/modules/*/modules.dep >/dev/null 2>&1 &&
        [ -d "$SLUICE_CACHE/rootfs-busybox" ] && return
    note "unpacking the guest kernel and busybox"
    rm -rf "$SLUICE_CACHE/rootfs-kernel" "$SLUICE_CACHE/rootfs-busybox"
    dpkg -x "$SLUICE_CACHE"/debs/linux-image-6.1.0-*-arm64_*.deb "$SLUICE_CACHE/rootfs-kernel"
    dpkg -x "$SLUICE_CACHE"/debs/busybox-static_*.deb "$SLUICE_CACHE/rootfs-busybox"
    local vmlinuz
    vmlinuz=$(ls "$SLUICE_CACHE"/rootfs-kernel/boot/vmlinuz-*)
    # Debian's arm64 vmlinuz is a gzip-compressed Image; sluice loads the raw Image.
    gzip -dc "$vmlinuz" >"$SLUICE_CACHE/Image.tmp" 2>/dev/null || cp "$vmlinuz" "$SLUICE_CACHE/Image.tmp"
    [ "$(dd if="$SLUICE_CACHE/Image.tmp" bs=1 skip=56 count=4 2>/dev/null)" = $'ARM\x64' ] ||
        die "$vmlinuz is not an arm64 Image"
    mv "$SLUICE_CACHE/Image.tmp" "$SLUICE_CACHE/Image"
    # The package leaves modules.dep to its postinst; build it here.
    local version
    version=$(basename "$(ls -d "$SLUICE_CACHE"/rootfs-kernel/lib/modules/6.1.0-*)")
    depmod -b "$SLUICE_CACHE/rootfs-kernel" "$version"
}

main() {
    mkdir -p "$SLUICE_CACHE"
    install_host_packages
    download_guest_debs
    unpack_guest
    "$SLUICE_ROOT/scripts/mkinitramfs.sh" --init "$SLUICE_ROOT/scripts/guest/init" \
        --modules "${GUEST_MODULES[*]}" --output "$SLUICE_INITRAMFS"
}

main "$@"
