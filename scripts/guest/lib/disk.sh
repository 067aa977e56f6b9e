# sluice.disk=MD5: the guest half of run.sh --disk, sourced by the demo init (busybox ash).
# Every passed-through disk (NVMe namespaces nvme*n*, virtio-blk vd*) holds an ext4 file system
# with /known.bin (scripts/mkdisk.sh). For each one the guest reads the raw device once from
# every CPU (so every per-CPU queue and its interrupt vector carries I/O), mounts it, checks
# known.bin's md5 against MD5, writes written.bin (a copy of known.bin) and written.txt (one
# line naming the device and the boot), and unmounts, so the host can check both in the image
# after power-off. Lines start with "sluice-demo: disk ".

DISK_WAIT_S=20

disk_devices() { # the disks' block device names, NVMe first
    for dev in /sys/block/nvme*n* /sys/block/vd*; do
        # nvmeXcYnZ: a multipath controller's hidden path, not a device to open.
        case "${dev##*/}" in nvme*c*n*) continue ;; esac
        [ -e "$dev" ] && echo "${dev##*/}"
    done
}

disk_kind() { # DEV: the driver of the PCI function behind it
    case "$1" in
        nvme*) echo nvme ;;
        vd*) echo virtio_blk ;;
    esac
}

# Reads 4 MiB of the raw device on each CPU in turn, through an empty page cache.
disk_read_per_cpu() { # DEV
    cpus=$(grep -c ^processor /proc/cpuinfo)
    cpu=0
    while [ "$cpu" -lt "$cpus" ]; do
        echo 3 >/proc/sys/vm/drop_caches
        if busybox taskset "$((1 << cpu))" dd if="/dev/$1" of=/dev/null bs=64k count=64 2>/dev/null; then
            echo "sluice-demo: disk $1 raw read on cpu $cpu ok"
        else
            echo "sluice-demo: disk $1 raw read on cpu $cpu failed"
        fi
        cpu=$((cpu + 1))
    done
}

disk_check_one() { # DEV MD5 BOOT
    dev=$1 kind=$(disk_kind "$1") dir=/mnt/$1
    disk_read_per_cpu "$dev"
    mkdir -p "$dir"
    if ! mount -t ext4 "/dev/$dev" "$dir" 2>/tmp/mount.err; then
        echo "sluice-demo: disk $dev ($kind) mount failed: $(cat /tmp/mount.err)"
        return
    fi
    md5=$(md5sum "$dir/known.bin" | cut -d' ' -f1)
    verdict=MISMATCH
    [ "$md5" = "$2" ] && verdict=ok
    echo "sluice-demo: disk $dev ($kind) read known.bin md5=$md5 $verdict"
    if cp "$dir/known.bin" "$dir/written.bin" &&
        echo "written by the sluice guest to $dev at boot $3" >"$dir/written.txt" && sync; then
        echo "sluice-demo: disk $dev ($kind) wrote written.bin md5=$(md5sum "$dir/written.bin" | cut -d' ' -f1)"
    else
        echo "sluice-demo: disk $dev ($kind) write failed"
    fi
    umount "$dir" || echo "sluice-demo: disk $dev ($kind) umount failed"
}

disk_main() { # MD5 BOOT
    n=0
    while [ -z "$(disk_devices)" ] && [ $n -lt $((DISK_WAIT_S * 10)) ]; do
        sleep 0.1
        n=$((n + 1))
    done
    devs=$(disk_devices)
    [ -n "$devs" ] || { echo "sluice-demo: disk none found"; return; }
    # NVMe namespaces and virtio disks may appear one after another: give them a moment.
    sleep 1
    for dev in $(disk_devices); do
        disk_check_one "$dev" "$1" "$2"
    done
    grep -E 'nvme|virtio' /proc/interrupts | sed "s/^/sluice-demo: disk irq /"
    echo "sluice-demo: disk check done"
}
