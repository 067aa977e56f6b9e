# sluice.bench=URL: the guest half of scripts/bench.sh, sourced by the demo init (busybox ash).
# Every line it prints starts with "sluice-bench: " and is parsed by scripts/bench/.
#
# Protocol: before and after each measured step the guest prints "sluice-bench: snap NAME"
# and waits for one line on the console. The host answers at once on a native run; on a
# sluice run it first sends Ctrl-\ (0x1c) and waits for sluice's exit table, so the table is
# printed while the guest sits in `read` and never overlaps the step being measured.

BENCH_CFG_READS=10000

bench_now_us() { # monotonic microseconds: the kernel's clock from /proc/timer_list, builtins only
    { read -r _; read -r _; read -r _ _ now_ns _; } </proc/timer_list
    echo $((now_ns / 1000))
}

bench_snap() { # NAME: let the host take an exit-table snapshot, then go on
    echo "sluice-bench: snap $1"
    read -r -t 120 _bench_ack || echo "sluice-bench: no answer to snap $1"
}

# Sum over CPUs of the /proc/interrupts lines whose name matches the regex $1.
bench_irqs() {
    awk -v pat="$1" '
        NR == 1 { cpus = NF; next }
        $NF ~ pat { for (i = 2; i <= cpus + 1; i++) sum += $i }
        END { print sum + 0 }' /proc/interrupts
}

# The PCI function (sysfs directory) behind the first NIC that a driver has bound, e1000e first
# (a passed-through function with a plain PCI config space).
bench_cfg_device() {
    for want in e1000e ''; do
        for dev in /sys/bus/pci/devices/*; do
            [ -e "$dev/driver" ] || continue
            case "$(cat "$dev/class")" in 0x0604* | 0x0600*) continue ;; esac
            drv=$(basename "$(readlink "$dev/driver")")
            [ -z "$want" ] || [ "$drv" = "$want" ] || continue
            echo "$dev"
            return 0
        done
    done
    return 1
}

# Config-space reads: at least BENCH_CFG_READS 4-byte reads of the device's sysfs config file
# (each one config access) in whole-file passes of one busybox dd process each. Each pass is
# followed by the same dd over a tmpfs copy of the file, timed apart: the difference is the
# config accesses alone (process start, syscalls and copies cancel), and interleaving the two
# keeps a busy host from loading one loop more than the other.
bench_cfgread() {
    dev=$(bench_cfg_device) || { echo "sluice-bench: cfgread no device"; return; }
    size=$(wc -c <"$dev/config")
    per_pass=$((size / 4))
    passes=$(((BENCH_CFG_READS + per_pass - 1) / per_pass))
    cp "$dev/config" /tmp/config.copy
    config_us=0 baseline_us=0 i=0
    bench_snap cfgread-start
    while [ "$i" -lt "$passes" ]; do
        t0=$(bench_now_us)
        dd if="$dev/config" of=/dev/null bs=4 2>/dev/null
        t1=$(bench_now_us)
        dd if=/tmp/config.copy of=/dev/null bs=4 2>/dev/null
        t2=$(bench_now_us)
        config_us=$((config_us + t1 - t0))
        baseline_us=$((baseline_us + t2 - t1))
        i=$((i + 1))
    done
    bench_snap cfgread-end
    rm -f /tmp/config.copy
    echo "sluice-bench: cfgread dev=${dev##*/} size=$size reads=$((passes * per_pass)) passes=$passes time_us=$config_us baseline_us=$baseline_us"
}

# The /proc/interrupts name pattern of a NIC: e1000e names its vectors after the interface,
# virtio-net after its virtio device (virtioN-input.0, ...).
bench_irq_pattern() {
    case "$2" in
        virtio_net) echo "^$(basename "$(readlink "$1/device")")-" ;;
        *) echo "^$3(-|\$)" ;;
    esac
}

bench_fetch() { # SYSFS-NET-DIR URL
    iface=${1##*/}
    driver=$(basename "$(readlink "$1/device/driver")")
    pattern=$(bench_irq_pattern "$1" "$driver" "$iface")
    ifconfig "$iface" 10.0.2.15 netmask 255.255.255.0 up
    route add default gw 10.0.2.2 "$iface" 2>/dev/null
    n=0
    while [ "$(cat "$1/carrier" 2>/dev/null)" != 1 ] && [ $n -lt 100 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    bench_snap "fetch-start $iface"
    irq0=$(bench_irqs "$pattern")
    t0=$(bench_now_us)
    timeout 300 wget -q -O /tmp/fetched "$2"
    rc=$?
    t1=$(bench_now_us)
    irq1=$(bench_irqs "$pattern")
    bench_snap "fetch-end $iface"
    if [ $rc = 0 ]; then
        echo "sluice-bench: fetch $iface driver=$driver bytes=$(wc -c </tmp/fetched) md5=$(md5sum </tmp/fetched | cut -d' ' -f1) time_us=$((t1 - t0)) irqs=$((irq1 - irq0))"
    else
        echo "sluice-bench: fetch $iface driver=$driver failed status=$rc"
    fi
    rm -f /tmp/fetched
    route del default gw 10.0.2.2 "$iface" 2>/dev/null
    ifconfig "$iface" down
}

# The /proc/interrupts name pattern of a disk's queues: NVMe names them after its controller
# (nvme0q0, nvme0q1, ... for namespace nvme0n1; its sysfs device is the multipath subsystem, so
# the name comes from the namespace's), virtio-blk after its virtio device (virtio1-req.0, ...).
bench_disk_irq_pattern() { # SYSFS-BLOCK-DIR
    dev=${1##*/}
    case "$dev" in
        nvme*) echo "^${dev%n*}q[0-9]+\$" ;;
        *) echo "^$(basename "$(readlink "$1/device")")-" ;;
    esac
}

# Sequential read of a whole passed-through disk (a raw image of random bytes, run.sh
# --disk KIND:IMAGE), 1 MiB at a time through an emptied page cache; the md5 is taken
# afterwards, from the page cache, outside the timed window.
bench_disk() { # SYSFS-BLOCK-DIR
    dev=${1##*/}
    case "$dev" in nvme*) driver=nvme ;; *) driver=virtio_blk ;; esac
    pattern=$(bench_disk_irq_pattern "$1")
    mib=$(($(cat "$1/size") / 2048))
    sync
    echo 3 >/proc/sys/vm/drop_caches
    bench_snap "disk-start $dev"
    irq0=$(bench_irqs "$pattern")
    t0=$(bench_now_us)
    dd if="/dev/$dev" of=/dev/null bs=1M count="$mib" 2>/dev/null
    rc=$?
    t1=$(bench_now_us)
    irq1=$(bench_irqs "$pattern")
    bench_snap "disk-end $dev"
    if [ $rc = 0 ]; then
        echo "sluice-bench: disk $dev driver=$driver bytes=$((mib << 20)) md5=$(head -c $((mib << 20)) "/dev/$dev" | md5sum | cut -d' ' -f1) time_us=$((t1 - t0)) irqs=$((irq1 - irq0))"
    else
        echo "sluice-bench: disk $dev driver=$driver failed status=$rc"
    fi
}

bench_main() { # URL
    bench_cfgread
    for dev in /sys/class/net/eth*; do
        [ -e "$dev" ] || { echo "sluice-bench: no network interface"; break; }
        bench_fetch "$dev" "$1"
    done
    for dev in /sys/block/nvme*n* /sys/block/vd*; do
        case "${dev##*/}" in nvme*c*n*) continue ;; esac # a multipath controller's hidden path
        [ -e "$dev" ] && bench_disk "$dev"
    done
    echo "sluice-bench: done"
}
