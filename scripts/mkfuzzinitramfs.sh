#!/usr/bin/env bash
# Builds the hostile-guest initramfs: the demo initramfs's contents (busybox, NIC modules,
# scripts/guest/init) plus /bin/guestfuzz, the fuzzer of guest/fuzz, built as a static aarch64
# Linux program with the pinned toolchain. Boot it with sluice.guestfuzz=SECS (see README).
#   scripts/mkfuzzinitramfs.sh [--output FILE]
#     default output: target/guestfuzz-initramfs.cpio.gz (built from this checkout, so never
#     in a shared cache, like the demo's); its path is printed on stdout.
# Cargo rebuilds the fuzzer when its sources change; the initramfs is rebuilt when the fuzzer,
# the init or the scripts are newer than it.
set -euo pipefail
source "$(dirname "$0")/env.sh"

output=$SLUICE_ROOT/target/guestfuzz-initramfs.cpio.gz
while [ $# -gt 0 ]; do
    case "$1" in
        --output) [ -n "${2:-}" ] || die "option --output needs a value"; output=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "mkfuzzinitramfs.sh: unknown option $1" ;;
    esac
done

FUZZ_CRATE=$SLUICE_ROOT/guest/fuzz
# A static Linux ELF without libc: our own _start and syscalls on the bare aarch64 target,
# core built from rust-web-src (with its memcpy/memset, since there is no libc to give them).
FUZZ_TARGET=aarch64-unknown-none
FUZZ_BIN=$FUZZ_CRATE/target/$FUZZ_TARGET/release/guestfuzz

[ -x "$TARGET_CARGO" ] || die "Debian cargo-web not found at $TARGET_CARGO; run scripts/setup.sh"
command -v ld.lld >/dev/null || die "ld.lld not found; run scripts/setup.sh"
(cd "$FUZZ_CRATE" && RUSTC_BOOTSTRAP=1 RUSTC=$TARGET_RUSTC "$TARGET_CARGO" build --quiet --release --locked \
    -Z build-std=core -Z build-std-features=compiler-builtins-mem --target "$FUZZ_TARGET") ||
    die "building the guest fuzzer (guest/fuzz) failed"
[ -x "$FUZZ_BIN" ] || die "the fuzzer build left no $FUZZ_BIN"

"$SLUICE_ROOT/scripts/mkinitramfs.sh" --init "$SLUICE_ROOT/scripts/guest/init" --modules "${GUEST_MODULES[*]}" \
    --add "$FUZZ_BIN:/bin/guestfuzz" --output "$output" || die "building $output failed"
echo "$output"
