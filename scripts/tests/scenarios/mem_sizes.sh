# Guest RAM sizes: the guest's address map is laid out for it, so any machine RAM size boots
# with both NICs (RAM split around the 32-bit PCI hole and continued above 4 GiB when
# translated; identity-mapped RAM leaves the virtual PCI windows the host's window addresses).

# Boots with `--mem SIZE --smp 2` and both NICs, fetches the 64 MiB file through each, and checks
# that the guest got the RAM sluice says it gave (at least the machine's minus 256 MiB for
# sluice and the boot modules) and that Linux counts the same amount.
mem_run() { # LOG SIZE [RUN-ARGS...]
    local log=$1 size=$2 ok=0 mem_mib given_mib linux_kib t0
    shift 2
    mem_mib=${size%[MG]}
    [ "${size: -1}" = G ] && mem_mib=$((mem_mib * 1024))
    t0=$(date +%s)
    fetch_run "$log" --smp 2 --mem "$size" --nic e1000e --nic virtio "$@"
    echo "  --mem $size $*: $(($(date +%s) - t0)) s"
    check_fetch "$log" e1000e virtio_net || ok=1
    given_mib=$(sed -nE 's/^\[sluice\] guest: [0-9]+ vCPUs, RAM ([0-9]+) MiB in .*/\1/p' "$log" | head -1)
    grep -E '^\[sluice\] guest(: [0-9]+ vCPUs| RAM: IPA)' "$log" | sed 's/^/  /'
    [ -n "$given_mib" ] && [ "$given_mib" -ge $((mem_mib - 256)) ] && [ "$given_mib" -le "$mem_mib" ] ||
        { echo "  expected about $mem_mib MiB of guest RAM, sluice gave '${given_mib}'"; ok=1; }
    linux_kib=$(sed -nE 's/.*Memory: [0-9]+K\/([0-9]+)K available.*/\1/p' "$log" | head -1)
    [ -n "$given_mib" ] && [ "${linux_kib:-0}" = $((given_mib * 1024)) ] ||
        { echo "  Linux counts ${linux_kib:-no} KiB of RAM, sluice gave ${given_mib} MiB"; ok=1; }
    return $ok
}

test_mem_8g() { mem_run "$1" 8G && check_dma_isolated "$1"; }
# Identity-mapped RAM filling the 32-bit space: the PCI windows reuse the host's addresses.
test_mem_8g_no_smmu() {
    local ok=0
    mem_run "$1" 8G --iommu none || ok=1
    expect_line "$1" '^\[sluice\] guest PCI: RAM leaves no other room' "windows on the host's addresses" || ok=1
    return $ok
}

# All four sizes in one scenario, one log each.
test_mem_sizes() {
    local ok=0 size
    for size in 512M 2G 4G 8G; do
        mem_run "${1%.log}_$size.log" "$size" || ok=1
    done
    return $ok
}

scenario mem_8g ci
scenario mem_8g_no_smmu full
scenario mem_sizes full
