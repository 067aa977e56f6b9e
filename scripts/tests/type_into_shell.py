"""Boots the demo with an interactive shell on a pseudo-terminal, types a command into it and
checks the guest's answer: proves console input travels physical UART -> sluice -> guest PL011.
Usage: type_into_shell.py LOG. Exit status 0 when the typed command ran and the guest powered off."""
import os, pty, sys, time, select
log = open(sys.argv[1], "wb")
pid, fd = pty.fork()
if pid == 0:
    os.execvp("scripts/run.sh", ["scripts/run.sh", "--append", "sluice.shell", "--timeout", "120"])
buf = b""
def wait_for(token, timeout=90):
    global buf
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return False
            if not data:
                return False
            buf += data
            log.write(data); log.flush()
            if token in buf:
                return True
    return False
ok = wait_for(b"shell (exit to power off)")
time.sleep(1)
for ch in b"echo typed-$((6*7))\r":
    os.write(fd, bytes([ch])); time.sleep(0.02)
ok = ok and wait_for(b"typed-42")
# Ctrl-\ asks sluice for its exit table; the guest never sees it.
os.write(fd, b"\x1c")
stats = wait_for(b"[sluice] exits", 20)
for ch in b"exit\r":
    os.write(fd, bytes([ch])); time.sleep(0.02)
wait_for(b"guest powered off", 30)
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
print(f"typed command answered: {ok}, exit table on Ctrl-\\: {stats}, run.sh status: {code}")
sys.exit(0 if ok and stats and code == 0 else 1)
