#!/bin/sh
# sluice DMA-escape probe: points the e1000e's receive descriptor ring at TARGET, a guest
# physical address the guest does not own, and makes the NIC receive, so its descriptor reads
# and write-backs are DMA to TARGET. Under sluice with an SMMU they must fault (and the device
# be stopped if it keeps trying); without an IOMMU they would land in whatever host memory
# sits at that address. Needs iomem=relaxed (the BAR is claimed by the driver).
#   sh /lib/sluice/dmaescape.sh TARGET
target=${1:?usage: dmaescape.sh TARGET}
dev=""
for d in /sys/class/net/eth*; do
    [ "$(basename "$(readlink "$d/device/driver")")" = e1000e ] && { dev=$d; break; }
done
[ -n "$dev" ] || { echo "sluice-demo: dmaescape: no e1000e interface"; exit 1; }
iface=${dev##*/}
bar0=$(head -1 "$dev/device/resource" | cut -d' ' -f1)
ifconfig "$iface" 10.0.2.15 netmask 255.255.255.0 up
sleep 1
RCTL=$((bar0 + 0x100)) RDBAL=$((bar0 + 0x2800)) RDBAH=$((bar0 + 0x2804))
RDH=$((bar0 + 0x2810)) RDT=$((bar0 + 0x2818))
rctl=$(devmem $RCTL 32)
devmem $RCTL 32 $((rctl & 0xfffffffd)) # receiver off while the ring moves
devmem $RDBAH 32 $((target >> 32))
devmem $RDBAL 32 $((target & 0xffffffff))
devmem $RDH 32 0
devmem $RDT 32 8 # eight descriptors handed to the device
devmem $RCTL 32 $((rctl | 2))
echo "sluice-demo: dmaescape $iface rx ring at $(printf 0x%x "$target")"
# Replies to these pings are received into the ring: DMA to TARGET.
ping -c 4 -W 1 -I "$iface" 10.0.2.2 >/dev/null 2>&1
echo "sluice-demo: dmaescape done, guest alive"
