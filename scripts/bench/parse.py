"""Turns the timestamped console lines of one benchmark run into figures. Pure: no I/O."""
import re

MIB = 1 << 20
QEMU_START = "sluice: starting QEMU"
FIRST_USERSPACE = "sluice-bench: userspace"
SNAP = re.compile(r"^sluice-bench: snap (.+)$")
ENTRY = re.compile(r"^\[sluice\] entry to guest: (\d+) us")
TABLE_HEADER = re.compile(r"^\[sluice\] exits((?:\s+vcpu\d+)+)\s+total\s*$")
TABLE_ROW = re.compile(r"^\[sluice\] (\S.*?)((?:\s+\d+)+)\s*$")
KEY_VALUES = re.compile(r"(\w+)=(\S+)")
CFGREAD = re.compile(r"^sluice-bench: cfgread (.*)$")
FETCH = re.compile(r"^sluice-bench: fetch (\S+) (.*)$")
DISK = re.compile(r"^sluice-bench: disk (\S+) (.*)$")

# The exits a device interrupt itself causes: the physical interrupt, list-register
# maintenance, and the guest's writes to the trapped MSI-X table (masking) it may do.
INTERRUPT_EXITS = ("irq device", "irq maintenance", "mmio msix/pba")


class ParseError(Exception):
    """The console output lacks a line the benchmark needs."""


def first_time(lines, text):
    for seconds, line in lines:
        if line.startswith(text):
            return seconds
    raise ParseError(f"no line starting with {text!r}")


def boot_seconds(lines):
    """From QEMU's start to the guest's first userspace line, on the host clock."""
    return first_time(lines, FIRST_USERSPACE) - first_time(lines, QEMU_START)


def entry_to_guest_us(lines):
    for _, line in lines:
        match = ENTRY.match(line)
        if match:
            return int(match.group(1))
    return None


def key_values(text):
    return {key: value for key, value in KEY_VALUES.findall(text)}


def cfgread(lines):
    """The config-read loop's figures: dict of ints (reads, time_us, baseline_us, size)."""
    for _, line in lines:
        match = CFGREAD.match(line)
        if match:
            found = key_values(match.group(1))
            figures = {k: int(found[k]) for k in ("size", "reads", "time_us", "baseline_us")}
            figures["dev"] = found["dev"]
            return figures
    return None


def fetches(lines, pattern=FETCH):
    """Successful fetches (or, with pattern=DISK, disk reads) by driver:
    {driver: {iface, bytes, md5, time_us, irqs}} ("iface" is the block device for a disk)."""
    result = {}
    for _, line in lines:
        match = pattern.match(line)
        if not match:
            continue
        found = key_values(match.group(2))
        if "failed" in match.group(2) or "bytes" not in found:
            raise ParseError(f"transfer failed: {line}")
        result[found["driver"]] = {
            "iface": match.group(1),
            "bytes": int(found["bytes"]),
            "md5": found["md5"],
            "time_us": int(found["time_us"]),
            "irqs": int(found["irqs"]),
        }
    return result


def exit_tables(lines):
    """Every exit table printed, labelled with the snapshot request that preceded it (or
    "power-off" for the one printed after the guest's last request has been answered)."""
    tables, label, current = {}, None, None
    for _, line in lines:
        snap = SNAP.match(line)
        if snap:
            label = snap.group(1)
            continue
        if TABLE_HEADER.match(line):
            current = {}
            continue
        if current is None:
            continue
        row = TABLE_ROW.match(line)
        if not row:
            current = None
            continue
        name, numbers = row.group(1).strip(), row.group(2).split()
        current[name] = int(numbers[-1])
        if name == "all":
            tables[label or "power-off"] = current
            label, current = None, None
    return tables


def table_delta(before, after):
    """Exits per reason between two snapshots (reasons absent from a table count zero)."""
    names = set(before) | set(after)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in names}
    return {name: n for name, n in delta.items() if n}


def window(tables, name, start="start", end="end"):
    """The delta between the snapshots "NAME-start ARG" and "NAME-end ARG" style labels."""
    before, after = tables.get(name.format(start)), tables.get(name.format(end))
    if before is None or after is None:
        return None
    return table_delta(before, after)


def interrupt_exits(delta):
    return sum(delta.get(name, 0) for name in INTERRUPT_EXITS)


def run_figures(lines, sluice):
    """Every figure of one run: a flat dict name -> number, plus exit windows for sluice."""
    figures = {"boot_s": boot_seconds(lines)}
    cfg = cfgread(lines)
    if cfg:
        figures["cfg_us_per_read"] = (cfg["time_us"] - cfg["baseline_us"]) / cfg["reads"]
        figures["cfg_reads"] = cfg["reads"]
    tables = exit_tables(lines) if sluice else {}
    if sluice:
        figures["entry_us"] = entry_to_guest_us(lines)
        if cfg and (delta := window(tables, "cfgread-{}")):
            # Only ECAM exits: the window also holds the baseline loop's process exits.
            figures["cfg_exits_per_read"] = delta.get("mmio ecam", 0) / cfg["reads"]
    figures["fetch"] = {}
    for driver, fetch in fetches(lines).items():
        figures["fetch"][driver] = fetch_figures(fetch, tables, sluice)
    figures["disk"] = {}
    for driver, read in fetches(lines, DISK).items():
        figures["disk"][driver] = fetch_figures(read, tables, sluice, "disk-{} ")
    return figures


def fetch_figures(fetch, tables, sluice, label="fetch-{} "):
    """Throughput, interrupts and (on sluice) exits of one transfer; label names its
    snapshot pair ("fetch-start eth0", "disk-start nvme0n1")."""
    mib = fetch["bytes"] / MIB
    result = {
        "bytes": fetch["bytes"],
        "md5": fetch["md5"],
        "time_us": fetch["time_us"],
        "mib_s": mib / (fetch["time_us"] / 1e6),
        "irqs": fetch["irqs"],
        "irqs_per_mib": fetch["irqs"] / mib,
    }
    if sluice:
        delta = window(tables, label + fetch["iface"]) or {}
        delta.pop("all", None)
        result["exits_per_mib"] = {name: n / mib for name, n in delta.items()}
        result["exits_per_mib_total"] = sum(delta.values()) / mib
        if fetch["irqs"]:
            result["interrupt_exits_per_irq"] = interrupt_exits(delta) / fetch["irqs"]
            result["all_exits_per_irq"] = sum(delta.values()) / fetch["irqs"]
    return result
