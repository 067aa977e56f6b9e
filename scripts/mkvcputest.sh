#!/usr/bin/env bash
# Builds the vCPU test guest of guest/vcputest: a bare-metal arm64 Image (no Linux inside)
# that checks IPIs, the virtual timer, PSCI and the ID registers and prints one line per
# check. Boot it as the guest kernel:
#   scripts/run.sh --kernel "$(scripts/mkvcputest.sh)" --nic none [--smp N] [--native]
#   scripts/mkvcputest.sh [--output FILE]
#     default output: target/vcputest.Image (built from this checkout); its path is printed
#     on stdout.
set -euo pipefail
source "$(dirname "$0")/env.sh"

output=$SLUICE_ROOT/target/vcputest.Image
while [ $# -gt 0 ]; do
    case "$1" in
        --output) [ -n "${2:-}" ] || die "option --output needs a value"; output=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "mkvcputest.sh: unknown option $1" ;;
    esac
done

CRATE=$SLUICE_ROOT/guest/vcputest
# Same pinned toolchain and target as the hypervisor (scripts/build.sh); core only, with its
# memcpy/memset since there is no libc.
ELF=$CRATE/target/$SLUICE_TARGET/release/vcputest
# Linked at 0 as a PIE that relocates itself (sluice and QEMU load it where they like).
# RUSTFLAGS rather than a .cargo/config.toml: cargo would merge the hypervisor's one above it.
VCPUTEST_RUSTFLAGS="-C linker=ld.lld -C relocation-model=pie -C link-arg=-pie -C link-arg=--no-dynamic-linker
    -C link-arg=-z -C link-arg=text -C link-arg=-T$CRATE/link.ld"

[ -x "$TARGET_CARGO" ] || die "Debian cargo-web not found at $TARGET_CARGO; run scripts/setup.sh"
command -v ld.lld >/dev/null || die "ld.lld not found; run scripts/setup.sh"
(cd "$CRATE" && RUSTFLAGS=$(echo $VCPUTEST_RUSTFLAGS) RUSTC_BOOTSTRAP=1 RUSTC=$TARGET_RUSTC "$TARGET_CARGO" build --quiet --release --locked \
    -Z build-std=core -Z build-std-features=compiler-builtins-mem --target "$SLUICE_TARGET") ||
    die "building the vCPU test guest (guest/vcputest) failed"
mkdir -p "$(dirname "$output")"
llvm-objcopy -O binary "$ELF" "$output.tmp"
mv "$output.tmp" "$output"
echo "$output"
