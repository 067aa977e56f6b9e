#!/usr/bin/env bash
# Builds the EL2 image with the pinned toolchain and prints its size.
#   target/sluice.bin   raw image (arm64 Linux Image format: QEMU -kernel, U-Boot booti)
set -euo pipefail
source "$(dirname "$0")/env.sh"

MAX_IMAGE_BYTES=$((1024 * 1024))

[ -x "$TARGET_CARGO" ] || die "Debian cargo-web not found at $TARGET_CARGO; run scripts/setup.sh"
cd "$SLUICE_ROOT"
RUSTC_BOOTSTRAP=1 RUSTC=$TARGET_RUSTC "$TARGET_CARGO" build --quiet --release --locked \
    -Z build-std=core,alloc --target "$SLUICE_TARGET" --bin sluice
llvm-objcopy -O binary "$SLUICE_ELF" "$SLUICE_IMAGE.tmp"
mv "$SLUICE_IMAGE.tmp" "$SLUICE_IMAGE"
size=$(stat -c %s "$SLUICE_IMAGE")
echo "sluice.bin: $size bytes ($((size / 1024)) KiB)" >&2
[ "$size" -lt "$MAX_IMAGE_BYTES" ] || die "sluice.bin is $size bytes, over the 1 MiB budget"
