#!/bin/sh
# Fetches URL through the NIC driven by DRIVER (e1000e, virtio_net) alone: every other
# interface goes down first, since all of them share 10.0.2.15/24. Prints the same
# "sluice-demo: fetch" line as the demo init.
#   sh /lib/sluice/fetchvia.sh DRIVER URL
driver=${1:?usage: fetchvia.sh DRIVER URL} url=${2:?usage: fetchvia.sh DRIVER URL}
iface=""
for d in /sys/class/net/eth*; do
    if [ "$(basename "$(readlink "$d/device/driver")")" = "$driver" ]; then
        iface=${d##*/}
    else
        ifconfig "${d##*/}" down 2>/dev/null
    fi
done
[ -n "$iface" ] || { echo "sluice-demo: fetch: no $driver interface"; exit 1; }
ifconfig "$iface" 10.0.2.15 netmask 255.255.255.0 up
route add default gw 10.0.2.2 "$iface" 2>/dev/null
if timeout 60 wget -q -O /tmp/fetched "$url"; then
    echo "sluice-demo: fetch $iface ($driver) bytes=$(wc -c </tmp/fetched) md5=$(md5sum /tmp/fetched | cut -d' ' -f1)"
else
    echo "sluice-demo: fetch $iface ($driver) failed"
fi
rm -f /tmp/fetched
