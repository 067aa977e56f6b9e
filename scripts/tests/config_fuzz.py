"""Acceptance check for hostile config writes: boots the fuzz initramfs
(scripts/mkfuzzinitramfs.sh) with two NICs and lets the guest make random config writes
(sluice.cfgfuzz=N: /bin/guestfuzz cfgfuzz) to its first device, to unclaimed and extended
registers, and to absent slots and functions. Around the burst it snapshots the real config
space of every host function through the QEMU monitor (xp on the host ECAM) and checks that
every other function is byte-identical, the target's real BARs are unchanged, all N writes
were made and the guest powered off cleanly afterwards.
Usage: config_fuzz.py LOG COUNT INITRD [SEED|random]. Exit status 0 on success."""
import os, re, socket, subprocess, sys, tempfile, time

log_path, count, initrd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seed = sys.argv[4] if len(sys.argv) > 4 else "random"
# The burst itself takes under a second for 20,000 writes (about 20 us each under TCG); the
# boot, the two pauses and the monitor snapshots take a minute at worst. A slow, shared
# machine gets ten times that, and 1 ms per write.
timeout = 600 + count // 1000
sock_path = tempfile.mktemp(prefix="sluice-fuzz-", suffix=".sock")
cmd = ["scripts/run.sh", "--initrd", initrd, "--nic", "e1000e", "--nic", "virtio",
       "--timeout", str(timeout),
       "--append", f"iomem=relaxed sluice.cfgfuzz={count} sluice.cfgfuzz_seed={seed}",
       "--", "-monitor", f"unix:{sock_path},server,nowait"]
proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

monitor = None
def monitor_cmd(command):
    global monitor
    if monitor is None:
        monitor = socket.socket(socket.AF_UNIX)
        monitor.connect(sock_path)
        monitor.settimeout(10)
        read_until(b"(qemu) ")
    monitor.sendall(command.encode() + b"\n")
    return read_until(b"(qemu) ").decode(errors="replace")

def read_until(token):
    data = b""
    while not data.endswith(token):
        data += monitor.recv(65536)
    return data

def snapshot(ecam_base, bdfs):
    """4 KiB of real config space per function, as a list of dwords."""
    out = {}
    for bdf in bdfs:
        bus, dev, fn = int(bdf[0:2], 16), int(bdf[3:5], 16), int(bdf[6])
        addr = ecam_base + (bus << 20 | dev << 15 | fn << 12)
        text = monitor_cmd(f"xp /1024wx {addr:#x}")
        out[bdf] = [int(w, 16) for w in re.findall(r"0x([0-9a-f]{8})(?!:)", text.split("\n", 1)[1])]
    return out

ecam_base, functions, target, before, after, ok = None, [], None, None, None, True
summary, failures = None, []
with open(log_path, "wb") as log:
    for raw in proc.stdout:
        log.write(raw); log.flush()
        line = raw.decode(errors="replace").rstrip("\r\n")
        m = re.match(r"\[sluice\] pci host bridge \S+: ECAM (0x[0-9a-f]+)\.\.", line)
        if m:
            ecam_base = int(m.group(1), 16)
        m = re.match(r"\[sluice\] pci ([0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) [0-9a-f]{4}:[0-9a-f]{4} ", line)
        if m:
            functions.append(m.group(1))
        m = re.match(r"\[sluice\] pci (\S+) assigned to the guest as 00:00\.0", line)
        if m:
            target = m.group(1)
        if "sluice-demo: cfgfuzz ready" in line:
            before = snapshot(ecam_base, functions)
        if "sluice-demo: cfgfuzz done" in line:
            after = snapshot(ecam_base, functions)
        if re.match(r"sluice-guestfuzz: cfgfuzz seed=", line):
            summary = line
        if re.match(r"sluice-guestfuzz: FAILED|sluice-demo: cfgfuzz (failed|needs)", line):
            failures.append(line)
status = proc.wait()
if monitor:
    monitor.close()

if before is None or after is None or target is None:
    print(f"fuzz did not complete (run.sh status {status}, target {target})")
    sys.exit(1)
print(summary or "no cfgfuzz summary line")
m = re.search(r" writes=(\d+) ", summary or "")
if failures or not m or int(m.group(1)) != count:
    print(f"the burst did not make its {count} writes: {failures}")
    sys.exit(1)
if any(len(s[bdf]) != 1024 for s in (before, after) for bdf in functions):
    print("could not read 4 KiB of config space per function through the monitor")
    sys.exit(1)
for bdf in functions:
    if bdf == target:
        bars = lambda snap: snap[bdf][4:10] + snap[bdf][12:13]
        if bars(before) != bars(after):
            print(f"{bdf}: real BARs changed: {bars(before)} -> {bars(after)}"); ok = False
    elif before[bdf] != after[bdf]:
        diff = [i * 4 for i, (a, b) in enumerate(zip(before[bdf], after[bdf])) if a != b]
        print(f"{bdf}: config space changed at offsets {[hex(d) for d in diff[:8]]}"); ok = False
print(f"{count} writes to the guest's 00:00.0 (host {target}); checked {len(functions)} host functions; "
      f"run.sh status {status}")
sys.exit(0 if ok and status == 0 else 1)
