"""A hostile guest points its e1000e's receive ring at hypervisor memory (sluice's DMA canary,
whose host address sluice logs at boot) and makes it receive. Under sluice with the SMMU the
NIC's DMA must fault and be logged, the canary must stay intact, and guest and sluice must keep
running: the virtio NIC then fetches a file, and the guest powers off cleanly.

Usage: dma_escape.py LOG URL. Boots the demo with a shell on a pseudo-terminal and types the
commands. Prints what it saw; exit status 0 when every step answered (the caller checks the
log's lines)."""
import os, pty, re, select, sys, time

log_path, url = sys.argv[1], sys.argv[2]
log = open(log_path, "wb")
pid, fd = pty.fork()
if pid == 0:
    os.execvp("scripts/run.sh", ["scripts/run.sh", "--nic", "e1000e", "--nic", "virtio",
                                 "--append", "sluice.shell iomem=relaxed", "--timeout", "240"])
buf = b""


def wait_for(pattern, timeout=90):
    """Reads the console until `pattern` (a regex on bytes) matches; returns the match."""
    global buf
    end = time.time() + timeout
    while time.time() < end:
        m = re.search(pattern, buf)
        if m:
            return m
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return None
            if not data:
                return None
            buf += data
            log.write(data)
            log.flush()
    return None


def type_line(line):
    for ch in line.encode() + b"\r":
        os.write(fd, bytes([ch]))
        time.sleep(0.03)


canary = wait_for(rb"DMA canary: \d+ KiB of hypervisor heap at (0x[0-9a-f]+)")
shell = wait_for(rb"shell \(exit to power off\)", 120)
steps = {"canary address": canary is not None, "shell": shell is not None}
if canary and shell:
    target = canary.group(1).decode()
    time.sleep(1)
    # A keystroke can get lost while busybox's line editor queries the terminal; the probe
    # echoes its target, so retype until it is exactly the canary's address.
    for _ in range(3):
        mark = len(buf)
        type_line(f"sh /lib/sluice/dmaescape.sh {target}")
        ring = wait_for(rb"rx ring at (0x[0-9a-f]+)", 30)
        if ring and ring.start() >= mark and ring.group(1).decode() == target:
            break
        wait_for(rb"dmaescape done, guest alive", 30)
        buf = buf[:mark] + buf[mark:].replace(b"rx ring at", b"rx ring was at")
    steps["attack ran"] = wait_for(rb"dmaescape done, guest alive", 60) is not None
    time.sleep(2)
    type_line(f"sh /lib/sluice/fetchvia.sh virtio_net {url}")
    steps["fetch after"] = wait_for(rb"sluice-demo: fetch eth\d \(virtio_net\) (bytes=\d+ md5=[0-9a-f]{32}|failed)", 90) is not None
    os.write(fd, b"\x1c")  # sluice's exit table and canary check, mid-run
    steps["canary checked"] = wait_for(rb"DMA canary at 0x[0-9a-f]+ (intact|CORRUPTED)", 20) is not None
    type_line("exit")
    steps["power off"] = wait_for(rb"guest powered off", 60) is not None
else:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
print(", ".join(f"{k}: {v}" for k, v in steps.items()), f"run.sh status: {os.waitstatus_to_exitcode(status)}")
sys.exit(0 if all(steps.values()) else 1)
