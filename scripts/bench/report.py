"""Min/median/max per figure, sluice/native ratios per pair of runs, targets, and the Markdown
tables bench.sh prints and writes. Pure: no I/O."""
import statistics

# (key, label, unit, format, target) for the figures measured in both modes. A target is
# (kind, bound) on the median ratio sluice/native: "max" means ratio <= bound is met.
BOOT = ("boot_s", "boot to first userspace line", "s", "{:.2f}", ("max", 1.10))
CFG = ("cfg_us_per_read", "config-space read (per access)", "us", "{:.1f}", None)
NIC_LABELS = {"e1000e": "e1000e", "virtio_net": "virtio-net"}
DISK_LABELS = {"nvme": "NVMe", "virtio_blk": "virtio-blk"}


def spread(values):
    """(min, median, max) of the values that are not None; None when there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return min(values), statistics.median(values), max(values)


def ratios(natives, sluices):
    """sluice/native for each pair of runs (run i native with run i sluice)."""
    return [s / n for n, s in zip(natives, sluices) if n and s is not None]


def fmt_spread(triple, pattern):
    if triple is None:
        return "-"
    low, mid, high = (pattern.format(v) for v in triple)
    return f"{low} / **{mid}** / {high}"


def target_verdict(target, median):
    if target is None or median is None:
        return ""
    kind, bound = target
    met = median <= bound if kind == "max" else median >= bound
    word = "at most" if kind == "max" else "at least"
    return f"{'met' if met else 'MISSED'} ({word} {bound:.2f}x)"


def row(label, unit, pattern, natives, sluices, target=None):
    """One line of the comparison table."""
    pair = spread(ratios(natives, sluices)) if natives else None
    return [
        label,
        unit,
        fmt_spread(spread(natives), pattern) if natives else "-",
        fmt_spread(spread(sluices), pattern),
        fmt_spread(pair, "{:.2f}x"),
        target_verdict(target, pair[1] if pair else None),
    ]


def fetch_values(runs, driver, key, kind="fetch"):
    """One figure of one driver's transfer per run (kind: "fetch" or "disk")."""
    return [r.get(kind, {}).get(driver, {}).get(key) for r in runs]


def msix_bound_us(natives, sluices, driver):
    """Extra fetch time over native divided by the sluice run's interrupts, per pair: an
    upper bound on what one interrupt costs (it charges every extra microsecond to them)."""
    bounds = []
    for native, sluice in zip(natives, sluices):
        n, s = native["fetch"].get(driver), sluice["fetch"].get(driver)
        if n and s and s["irqs"]:
            bounds.append((s["time_us"] - n["time_us"]) / s["irqs"])
    return bounds


def exit_cost_us(natives, sluices):
    """Per pair, what a trapped config read costs over a native one: one exit to sluice
    and back plus its (small) emulation, the best per-exit figure this setup measures."""
    return [
        s["cfg_us_per_read"] - n["cfg_us_per_read"]
        for n, s in zip(natives, sluices)
        if "cfg_us_per_read" in n and "cfg_us_per_read" in s
    ]


def disk_rows(natives, sluices, disks):
    """Per disk driver: sequential read throughput (target at least 0.95x native), interrupts
    per MiB and exits per interrupt."""
    rows = []
    for driver in disks:
        name = DISK_LABELS.get(driver, driver)
        rows.append(row(f"{name} sequential read", "MiB/s", "{:.2f}",
                        fetch_values(natives, driver, "mib_s", "disk"),
                        fetch_values(sluices, driver, "mib_s", "disk"), ("min", 0.95)))
        rows.append(row(f"{name} interrupts per MiB", "1/MiB", "{:.1f}",
                        fetch_values(natives, driver, "irqs_per_mib", "disk"),
                        fetch_values(sluices, driver, "irqs_per_mib", "disk")))
        rows.append(row(f"{name} exits per device interrupt", "exits", "{:.2f}", [],
                        fetch_values(sluices, driver, "interrupt_exits_per_irq", "disk")))
    return rows


def comparison_rows(natives, sluices, drivers, disks=()):
    rows = [row(*BOOT[1:4], [r["boot_s"] for r in natives], [r["boot_s"] for r in sluices], BOOT[4])]
    rows.append(row("boot, QEMU CPU time to first userspace line", "s", "{:.2f}",
                    [r.get("boot_cpu_s") for r in natives], [r.get("boot_cpu_s") for r in sluices]))
    entry = [r["entry_us"] / 1000 if r.get("entry_us") is not None else None for r in sluices]
    rows.append(row("sluice entry to guest", "ms", "{:.2f}", [], entry))
    for driver in drivers:
        name = NIC_LABELS.get(driver, driver)
        rows.append(row(f"{name} fetch throughput", "MiB/s", "{:.2f}",
                        fetch_values(natives, driver, "mib_s"), fetch_values(sluices, driver, "mib_s"),
                        ("min", 0.95)))
        rows.append(row(f"{name} interrupts per MiB", "1/MiB", "{:.1f}",
                        fetch_values(natives, driver, "irqs_per_mib"),
                        fetch_values(sluices, driver, "irqs_per_mib")))
        rows.append(row(f"{name} exits per device interrupt", "exits", "{:.2f}", [],
                        fetch_values(sluices, driver, "interrupt_exits_per_irq")))
        rows.append(row(f"{name} all exits per device interrupt", "exits", "{:.2f}", [],
                        fetch_values(sluices, driver, "all_exits_per_irq")))
        rows.append(row(f"{name} extra time per interrupt (upper bound)", "us", "{:.1f}", [],
                        msix_bound_us(natives, sluices, driver)))
    rows += disk_rows(natives, sluices, disks)
    rows.append(row(*CFG[1:4], [r.get("cfg_us_per_read") for r in natives],
                    [r.get("cfg_us_per_read") for r in sluices]))
    rows.append(row("config-space read, ECAM exits per access", "exits", "{:.2f}", [],
                    [r.get("cfg_exits_per_read") for r in sluices]))
    rows.append(row("one exit, from the config-read delta", "us", "{:.1f}", [],
                    exit_cost_us(natives, sluices)))
    return rows


def interrupt_targets(sluices, drivers):
    """Verdicts for "fewer than 2 exits per device interrupt", median per NIC."""
    lines = []
    for driver in drivers:
        triple = spread(fetch_values(sluices, driver, "interrupt_exits_per_irq"))
        if triple:
            verdict = "met" if triple[1] < 2 else "MISSED"
            lines.append(f"{NIC_LABELS.get(driver, driver)}: {triple[1]:.2f} exits per device "
                         f"interrupt (median): {verdict} (fewer than 2)")
    return lines


def gic_side_by_side(gic3s, gic4s, drivers):
    """Per NIC, the GICv3 and GICv4 sluice runs of the same pairs: throughput and exits per
    device interrupt (median, min-max), with the GICv4 target (at most 0.05 exits)."""
    header = ["figure", "GICv3 min / **median** / max", "GICv4 min / **median** / max", "GICv4 target"]
    rows = []
    for driver in drivers:
        name = NIC_LABELS.get(driver, driver)
        for key, label, pattern in (("mib_s", "fetch throughput (MiB/s)", "{:.2f}"),
                                    ("interrupt_exits_per_irq", "exits per device interrupt", "{:.2f}"),
                                    ("all_exits_per_irq", "all exits per device interrupt", "{:.2f}")):
            v4 = spread(fetch_values(gic4s, driver, key))
            verdict = ""
            if key == "interrupt_exits_per_irq" and v4:
                verdict = f"{'met' if v4[1] <= 0.05 else 'MISSED'} (at most 0.05)"
            rows.append([f"{name} {label}", fmt_spread(spread(fetch_values(gic3s, driver, key)), pattern),
                         fmt_spread(v4, pattern), verdict])
    return markdown_table(header, rows)


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def comparison_table(natives, sluices, drivers, disks=()):
    header = ["figure", "unit", "native min / **median** / max", "sluice min / **median** / max",
              "sluice/native per pair", "target (median ratio)"]
    return markdown_table(header, comparison_rows(natives, sluices, drivers, disks))


def exits_per_mib_table(sluices, driver, kind="fetch"):
    """Median exits per MiB by reason over the sluice runs, most frequent first."""
    reasons = set()
    for run in sluices:
        reasons |= set(run.get(kind, {}).get(driver, {}).get("exits_per_mib", {}))
    rows = []
    for reason in reasons:
        values = [r.get(kind, {}).get(driver, {}).get("exits_per_mib", {}).get(reason, 0) for r in sluices]
        rows.append((statistics.median(values), reason, spread(values)))
    rows.sort(reverse=True)
    table = [[reason, fmt_spread(triple, "{:.1f}")] for _, reason, triple in rows]
    total = spread(fetch_values(sluices, driver, "exits_per_mib_total", kind))
    table.append(["all", fmt_spread(total, "{:.1f}")])
    return markdown_table(["exit reason", "exits per MiB, min / **median** / max"], table)


def speedup_line(baselines, sluices):
    """This sluice against the baseline's, per run (run i of each): boot and one exit."""
    boot = spread(ratios([r["boot_s"] for r in baselines], [r["boot_s"] for r in sluices]))
    parts = [f"boot this/baseline {fmt_spread(boot, '{:.2f}x')}"]
    for key, label in (("boot_cpu_s", "boot CPU time"), ("entry_us", "entry to guest"),
                       ("cfg_us_per_read", "config read")):
        pair = spread(ratios([r.get(key) for r in baselines], [r.get(key) for r in sluices]))
        parts.append(f"{label} this/baseline {fmt_spread(pair, '{:.2f}x')}")
    return "Speed-up (min / **median** / max of the per-run ratios): " + "; ".join(parts) + "."
