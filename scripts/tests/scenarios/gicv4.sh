# GICv4.0 (run.sh --gic 4, QEMU gic-version=4): the passthrough scenarios again on a machine
# whose ITS delivers the NICs' MSIs straight to the vCPU. Each runs its GICv3 twin with
# SLUICE_GIC=4 in the environment (run.sh reads it) and then checks that the direct path was
# the one in use.

# The GICv4 path was chosen and, when the guest counted MSIs, at most 5 device-interrupt
# exits (doorbells, and interrupts that arrived before their vector was routed) per 100 MSIs.
check_direct() { # LOG
    local log=$1 irqs exits
    expect_line "$log" '^\[sluice\] GICv4: direct virtual LPI injection' "the GICv4 path" || return 1
    # Per guest ("(NAME) " prefix with several) and IRQ, the last count printed.
    irqs=$(grep -E '^(\([a-z0-9]+\) )?sluice-demo: irq +[0-9]+: .* ITS-' "$log" | sed -E 's/^\(([a-z0-9]+)\) /\1:/' |
        awk '{n[$1 $3] = $4 + $5} END {s = 0; for (i in n) s += n[i]; print s}' | tr -dc 0-9)
    exits=$(grep -E '^\[sluice\] irq device ' "$log" | tail -n 1 | awk '{print $NF}' | tr -dc 0-9)
    irqs=${irqs:-0} exits=${exits:-0}
    echo "  $irqs MSIs counted by the guest, $exits device-interrupt exits"
    [ "$irqs" = 0 ] || [ $((exits * 100)) -le $((irqs * 5)) ] ||
        { echo "  expected at most 0.05 device-interrupt exits per MSI"; return 1; }
}

gicv4() { # TEST LOG: runs test_TEST on GICv4, then check_direct
    local ok=0
    SLUICE_GIC=4 "test_$1" "$2" || ok=1
    check_direct "$2" || ok=1
    return $ok
}

test_nic_both_gic4() { gicv4 nic_both "$1"; }
test_nic_intx_gic4() { gicv4 nic_intx "$1"; }
test_hostile_its_gic4() { gicv4 hostile_its "$1"; }
test_hostile_msi_gic4() { gicv4 hostile_msi "$1"; }
test_reboot_loop_gic4() { gicv4 reboot_loop "$1"; }
test_reboot_midfetch_gic4() { gicv4 reboot_midfetch "$1"; }
test_guest_fuzz_gic4() { gicv4 guest_fuzz "$1"; }
test_two_guests_gic4() { gicv4 two_guests "$1"; }
test_guest_612_gic4() { gicv4 guest_612 "$1"; }
test_guest_reboots_while_other_fetches_gic4() { gicv4 guest_reboots_while_other_fetches "$1"; }

scenario nic_both_gic4 ci
scenario nic_intx_gic4 full
scenario hostile_its_gic4 full
scenario hostile_msi_gic4 full
scenario reboot_loop_gic4 full
scenario reboot_midfetch_gic4 full
scenario guest_fuzz_gic4 full
scenario two_guests_gic4 full
scenario guest_612_gic4 full
scenario guest_reboots_while_other_fetches_gic4 full
