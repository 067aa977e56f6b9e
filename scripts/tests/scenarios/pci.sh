# PCI passthrough: NICs fetch a file through sluice's virtual bus with MSI-X and INTx, behind a
# root port, a chosen subset of functions, with and without the SMMU.

test_nic_e1000e() { fetch_run "$1" --nic e1000e; check_fetch "$1" e1000e; }

test_nic_virtio() { fetch_run "$1" --nic virtio; check_fetch "$1" virtio_net; }

test_nic_both() {
    fetch_run "$1" --nic e1000e --nic virtio
    local ok=0
    check_fetch "$1" e1000e virtio_net || ok=1
    check_dma_isolated "$1" || ok=1
    return $ok
}

test_nic_intx() {
    EXTRA_APPEND=pci=nomsi fetch_run "$1" --nic e1000e --nic virtio
    IRQ_MODE=intx check_fetch "$1" e1000e virtio_net
}

test_nic_behind_root_port() {
    fetch_run "$1" --nic none -- -netdev user,id=rpnet -device pcie-root-port,id=rp0,chassis=1 -device e1000e,bus=rp0,netdev=rpnet
    local ok=0
    check_fetch "$1" e1000e || ok=1
    expect_line "$1" '^\[sluice\] pci 01:00\.0 assigned to the guest as 00:00\.0' "device behind the root port on guest bus 0" || ok=1
    return $ok
}

test_pci_selection() {
    local log=$1 ok=0
    $RUN --timeout 120 --nic e1000e --nic virtio --pci 00:02.0 >"$log" 2>&1 || { echo "  run.sh exited with $?"; ok=1; }
    expect_line "$log" '^\[sluice\] pci 00:01\.0 not assigned' "the e1000e left out" || ok=1
    expect_line "$log" 'pci 0000:00:00\.0: \[1af4:1041\]' "the virtio NIC as the guest's only device" || ok=1
    reject_line "$log" 'pci 0000:00:0[1-9a-f]\.0: \[' "a second device in the guest" || ok=1
    reject_line "$log" '\[8086:10d3\]' "the unassigned e1000e in the guest" || ok=1
    return $ok
}

# Without an SMMU the guest runs identity-mapped, says once that DMA is not isolated, and
# both NICs still work.
test_no_smmu() {
    local ok=0
    fetch_run "$1" --iommu none --nic e1000e --nic virtio
    check_fetch "$1" e1000e virtio_net || ok=1
    expect_line "$1" '^\[sluice\] guest RAM: IPA (0x[0-9a-f]+)\.\.0x[0-9a-f]+ -> host \1\.\..* \(identity\)' "identity-mapped guest RAM" || ok=1
    [ "$(count_lines "$1" '^\[sluice\] WARN: DMA NOT ISOLATED')" = 1 ] || { echo "  expected the not-isolated warning exactly once"; ok=1; }
    return $ok
}

scenario nic_e1000e full
scenario nic_virtio full
scenario nic_both ci
scenario nic_intx ci
scenario nic_behind_root_port ci
scenario pci_selection ci
scenario no_smmu ci
