"""Checks, from one boot log, that the guest sees every passed-through memory BAR with its real
size: sluice's "pci BDF   bar N KIND ADDR (S KiB)" lines against the guest kernel's
"pci 0000:00:SS.0: BAR N [mem A-B ...]" lines, through "pci BDF assigned to the guest as
00:SS.0". Usage: bar_sizes.py LOG. Exit status 0 when all match."""
import re, sys

text = open(sys.argv[1], errors="replace").read()
host = {(m[0], int(m[1])): int(m[2]) * 1024
        for m in re.findall(r"\[sluice\] pci (\S+)   bar (\d) Memory\S+ 0x[0-9a-f]+ \((\d+) KiB\)", text)}
slot_of = dict(re.findall(r"\[sluice\] pci (\S+) assigned to the guest as 00:([0-9a-f]{2})\.0", text))
guest = {}
for slot, bar, start, end in re.findall(r"pci 0000:00:([0-9a-f]{2})\.0: BAR (\d) \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)", text):
    guest[(slot, int(bar))] = int(end, 16) - int(start, 16) + 1
bad = [(bdf, bar, size, guest.get((slot_of.get(bdf), bar)))
       for (bdf, bar), size in host.items() if bdf in slot_of and guest.get((slot_of[bdf], bar)) != size]
checked = sum(1 for (bdf, _) in host if bdf in slot_of)
for b in bad:
    print(f"  {b[0]} bar {b[1]}: host size {b[2]}, guest size {b[3]}")
print(f"  {checked} BARs checked")
sys.exit(1 if bad or checked == 0 else 0)
