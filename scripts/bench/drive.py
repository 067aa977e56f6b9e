"""Boots one benchmark run through scripts/run.sh on a pseudo-terminal (run.sh hands QEMU its
stdin only when it is a terminal), stamps every console line with the host's monotonic clock,
and answers the guest's snapshot requests (see scripts/guest/lib/bench.sh)."""
import os
import pty
import select
import signal
import time

SNAP_PREFIX = "sluice-bench: snap "
FIRST_USERSPACE_PREFIX = "sluice-bench: userspace"
TABLE_END_PREFIX = "[sluice] all "
EXIT_TABLE_REQUEST = b"\x1c"  # Ctrl-\ on sluice's console: print the exit table
ACK = b"go\r"  # one line for the guest's `read`


class Console:
    """The pty side of one run: complete lines with their arrival time."""

    def __init__(self, fd, log):
        self.fd = fd
        self.log = log
        self.pending = b""
        self.lines = []  # (seconds, text)

    def read_lines(self, timeout_s):
        """New complete lines within timeout_s; None once the run has ended."""
        ready, _, _ = select.select([self.fd], [], [], timeout_s)
        if not ready:
            return []
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: every writer of the pty has gone
            return None
        if not data:
            return None
        now = time.monotonic()
        self.log.write(data)
        self.pending += data
        *complete, self.pending = self.pending.split(b"\n")
        fresh = [(now, raw.decode("utf-8", "replace").strip("\r")) for raw in complete]
        self.lines.extend(fresh)
        return fresh


class SnapshotResponder:
    """Answers each snapshot request: on sluice, asks for the exit table and acknowledges
    the guest only once the table's last line is out; natively, acknowledges at once."""

    def __init__(self, fd, sluice):
        self.fd = fd
        self.sluice = sluice
        self.waiting_for_table = False

    def on_line(self, line):
        if line.startswith(SNAP_PREFIX):
            if self.sluice:
                os.write(self.fd, EXIT_TABLE_REQUEST)
                self.waiting_for_table = True
            else:
                os.write(self.fd, ACK)
        elif self.waiting_for_table and line.startswith(TABLE_END_PREFIX):
            self.waiting_for_table = False
            os.write(self.fd, ACK)


def tree_cpu_seconds(root_pid):
    """User + system CPU seconds used so far by root_pid's live descendants (QEMU): a boot
    figure that a loaded machine stretches far less than the wall clock."""
    parents, cpu = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total = 0.0
    for pid in cpu:
        ancestor = parents.get(pid)
        while ancestor and ancestor != root_pid:
            ancestor = parents.get(ancestor)
        if ancestor == root_pid:
            total += cpu[pid]
    return total


def boot(run_sh, args, log_path, deadline_s, sluice):
    """Runs `run_sh args` to its end; returns (exit status, [(seconds, line)], QEMU's CPU
    seconds when the first userspace line arrived, or None)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(run_sh, [run_sh, *args])
    responder = SnapshotResponder(fd, sluice)
    end = time.monotonic() + deadline_s
    boot_cpu_s = None
    with open(log_path, "wb") as log:
        console = Console(fd, log)
        while time.monotonic() < end:
            fresh = console.read_lines(1.0)
            if fresh is None:
                break
            for _, line in fresh:
                if boot_cpu_s is None and line.startswith(FIRST_USERSPACE_PREFIX):
                    boot_cpu_s = tree_cpu_seconds(pid)
                responder.on_line(line)
        else:
            os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), console.lines, boot_cpu_s
