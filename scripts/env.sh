# Shared settings for sluice's scripts: sourced, never run. Pins the toolchain and the paths so
# that nobody has to remember them.
#   SLUICE_CACHE  where downloaded guest pieces are kept (default: target/guest)
#   QEMU          the QEMU binary (default: qemu-system-aarch64)

SLUICE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SLUICE_CACHE=${SLUICE_CACHE:-$SLUICE_ROOT/target/guest}
SLUICE_TARGET=aarch64-unknown-none-softfloat
SLUICE_ELF=$SLUICE_ROOT/target/$SLUICE_TARGET/release/sluice
SLUICE_IMAGE=$SLUICE_ROOT/target/sluice.bin
# Built from this checkout's scripts/guest (not a download: never in a shared cache).
SLUICE_INITRAMFS=$SLUICE_ROOT/target/initramfs.cpio.gz
# The default guest kernel: bookworm's 6.1, raw Image and unpacked package (for its modules).
SLUICE_KERNEL=$SLUICE_CACHE/Image
SLUICE_KERNEL_ROOT=$SLUICE_CACHE/rootfs-kernel
# The second guest kernel (run.sh --guest-kernel 6.12): bookworm-backports' 6.12, and the demo
# initramfs built from its modules.
SLUICE_IMAGE_612=$SLUICE_CACHE/Image-6.12
SLUICE_KERNEL_ROOT_612=$SLUICE_CACHE/rootfs-kernel-6.12
SLUICE_INITRAMFS_612=$SLUICE_ROOT/target/initramfs-6.12.cpio.gz
# Debian's u-boot-qemu qemu_arm64 build (run.sh --boot uboot), and the boot disk
# scripts/mkbootdisk.sh writes for it.
SLUICE_UBOOT=$SLUICE_CACHE/u-boot-qemu_arm64.bin
QEMU=${QEMU:-qemu-system-aarch64}

# The EL2 image is built by Debian's rustc-web/cargo-web (1.96, with rust-web-src for
# -Z build-std, unlocked by RUSTC_BOOTSTRAP); host unit tests use the rustup cargo on PATH.
TARGET_CARGO=/usr/bin/cargo
TARGET_RUSTC=/usr/bin/rustc

# Modules the demo (and fuzz) initramfs loads, in this order (dependencies are added from
# modules.dep).
# nvme, virtio_blk, crc32c_generic and ext4 serve run.sh --disk (ext4 asks the crypto API for
# crc32c at mount time, and the initramfs has no modprobe to load it then).
GUEST_MODULES=(virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net e1000e
    nvme virtio_blk crc32c_generic ext4)

# QEMU virt puts RAM at 1 GiB; run.sh places the guest-loader modules relative to it.
VIRT_RAM_BASE=$((0x40000000))

# Prints one line on stderr and exits with status ${2:-1}.
die() {
    echo "error: $1" >&2
    exit "${2:-1}"
}

# Prints a progress line on stderr.
note() {
    echo "sluice: $*" >&2
}
