"""The host half of scripts/bench.sh: serves a file over HTTP, boots native and sluice runs in
turn through scripts/run.sh, parses them, prints the table and writes the results file.
Options arrive already checked by bench.sh (NICS and DISKS: comma-separated, maybe empty):
    bench.py ROOT RUNS SIZE_MIB OUT IOMMU NICS DISKS"""
import datetime
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import time

import drive
import parse
import report

DRIVERS = {"e1000e": "e1000e", "virtio": "virtio_net"}
DISK_DRIVERS = {"nvme": "nvme", "virtio": "virtio_blk"}
RUN_TIMEOUT_S = 600


def make_blob(path, size_mib):
    """A file of incompressible bytes (reused while its size fits); returns its md5."""
    size = size_mib << 20
    if not (os.path.exists(path) and os.path.getsize(path) == size):
        with open(path, "wb") as out:
            for _ in range(size_mib):
                out.write(os.urandom(1 << 20))
    digest = hashlib.md5()
    with open(path, "rb") as blob:
        for chunk in iter(lambda: blob.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def serve(directory):
    """python3 -m http.server on a free port of 127.0.0.1 (the guest sees it at 10.0.2.2)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("error: the HTTP server did not start")


def make_disks(root, work, disks, size_mib):
    """A raw image of random bytes per disk kind (scripts/mkdisk.sh); {kind: (path, md5)}."""
    images = {}
    for kind in disks:
        path = os.path.join(work, f"disk-{kind}.img")
        md5 = subprocess.run([os.path.join(root, "scripts/mkdisk.sh"), "--output", path, "--raw-mib",
                              str(size_mib)], check=True, capture_output=True, text=True).stdout.strip()
        images[kind] = (path, md5)
    return images


def check_transfers(figures, kind, wanted, md5s, where):
    """Every wanted driver moved its data with the right md5 ({driver: md5})."""
    for driver, transfer in figures[kind].items():
        if driver in md5s and transfer["md5"] != md5s[driver]:
            raise SystemExit(f"error: {where}: {driver} {kind} gave corrupt data")
    missing = [d for d in wanted if d not in figures[kind]]
    if missing:
        raise SystemExit(f"error: {where}: no {kind} through {missing}")


def one_run(root, logs, index, mode, nics, port, md5, iommu, images):
    """One boot; mode is native, sluice, gic4 (sluice on a GICv4 machine) or baseline (the
    sluice of the checkout at root)."""
    if mode == "gic4":
        # run.sh takes the machine's GIC from SLUICE_GIC (bench.sh sets 3 for the others).
        os.environ["SLUICE_GIC"] = "4"
        try:
            return one_run(root, logs, index, "sluice-gic4", nics, port, md5, iommu, images)
        finally:
            os.environ["SLUICE_GIC"] = "3"
    under_sluice = mode != "native"
    args = ["--timeout", str(RUN_TIMEOUT_S - 30), "--append", f"sluice.bench=http://10.0.2.2:{port}/blob"]
    for nic in nics or ["none"]:
        args += ["--nic", nic]
    for kind, (path, _) in images.items():
        args += ["--disk", f"{kind}:{path}"]
    if mode == "native":
        args.append("--native")
    else:
        args += ["--iommu", iommu]
    log = os.path.join(logs, f"run{index}-{mode}.log")
    print(f"bench: run {index} {mode} ...", file=sys.stderr, flush=True)
    status, lines, boot_cpu_s = drive.boot(os.path.join(root, "scripts/run.sh"), args, log, RUN_TIMEOUT_S, under_sluice)
    if status != 0:
        raise SystemExit(f"error: run {index} {mode}: run.sh exited with {status} (see {log})")
    try:
        figures = parse.run_figures(lines, under_sluice)
        figures["boot_cpu_s"] = boot_cpu_s
    except parse.ParseError as e:
        raise SystemExit(f"error: run {index} {mode}: {e} (see {log})")
    where = f"run {index} {mode} (see {log})"
    check_transfers(figures, "fetch", [DRIVERS[n] for n in nics], {DRIVERS[n]: md5 for n in nics}, where)
    disk_md5s = {DISK_DRIVERS[k]: m for k, (_, m) in images.items()}
    check_transfers(figures, "disk", list(disk_md5s), disk_md5s, where)
    return figures


def git_commit(checkout):
    out = subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    return out or "unknown"


def qemu_version():
    out = subprocess.run([os.environ.get("QEMU", "qemu-system-aarch64"), "--version"],
                         capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def results_text(args, natives, sluices, drivers, started):
    runs, size_mib, nics = args["runs"], args["size_mib"], args["nics"]
    nic_opts = " ".join(f"--nic {n}" for n in nics or ["none"])
    nic_opts += " " + " ".join(f"--disk {d}" for d in args["disks"] or ["none"])
    disks = [DISK_DRIVERS[d] for d in args["disks"]]
    gic = "both" if args.get("gic4s") else os.environ.get("SLUICE_GIC", "3")
    parts = [
        f"# sluice benchmark, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"`scripts/bench.sh --runs {runs} --size {size_mib} {nic_opts} --iommu {args['iommu']} --gic {gic}`: "
        f"{runs} native and {runs} sluice runs, alternating; {size_mib} MiB per fetch and per disk "
        f"read (the whole raw disk, sequentially, 1 MiB at a time); sluice "
        f"runs with IOMMU `{args['iommu']}`, native runs without one; QEMU `gic-version={gic}`"
        f"{' (GICv4.0: MSIs injected straight into the vCPU)' if gic == '4' else ''}. {qemu_version()}, TCG, 2 vCPUs, "
        f"{os.cpu_count()} host CPUs ({platform.machine()}), load average at the start "
        f"{os.getloadavg()[0]:.2f}: a shared machine where other QEMUs may run at the same time. "
        f"Console logs: `{os.path.relpath(args['logs'], args['root'])}`.",
        "",
        report.comparison_table(natives, sluices, drivers, disks),
        "",
        *report.interrupt_targets(sluices, drivers),
    ]
    if args.get("baselines"):
        parts += ["", f"The same runs against the baseline sluice of `{args['baseline']}` "
                  f"(commit {args['baseline_commit']}), run after each sluice run: its figures "
                  "in the sluice column, ratios baseline/native.", "",
                  report.comparison_table(natives, args["baselines"], drivers), "",
                  report.speedup_line(args["baselines"], sluices)]
    if args.get("gic4s"):
        parts += ["", "The same pairs with sluice on GICv4.0 as well (QEMU `gic-version=4`, run after "
                  "each GICv3 sluice run, native runs on GICv3): on GICv4 the physical ITS injects each "
                  "MSI straight into the running vCPU as a virtual LPI, so device interrupts cost no "
                  "exit; on GICv3 each one traps to sluice, which puts a virtual LPI in a list register.",
                  "", report.gic_side_by_side(sluices, args["gic4s"], drivers), "",
                  "GICv4 sluice against native:", "",
                  report.comparison_table(natives, args["gic4s"], drivers, disks)]
    for driver in drivers:
        parts += ["", f"Exits per MiB fetched through {report.NIC_LABELS.get(driver, driver)} (sluice runs):",
                  "", report.exits_per_mib_table(sluices, driver)]
    for driver in disks:
        parts += ["", f"Exits per MiB read from {report.DISK_LABELS.get(driver, driver)} (sluice runs):",
                  "", report.exits_per_mib_table(sluices, driver, "disk")]
    parts += ["", "Raw figures per run:", "", "```json",
              json.dumps({"native": natives, "sluice": sluices, "baseline": args.get("baselines", []),
                          "gic4": args.get("gic4s", [])},
                         indent=1, sort_keys=True), "```", ""]
    return "\n".join(parts)


def main(argv):
    root, runs, size_mib, out, iommu, nics, disks = argv
    nics, disks = [n for n in nics.split(",") if n], [d for d in disks.split(",") if d]
    args = {"runs": int(runs), "size_mib": int(size_mib), "nics": nics, "disks": disks, "root": root,
            "iommu": iommu}
    work = os.path.join(root, "target/bench")
    started = datetime.datetime.now(datetime.timezone.utc)
    logs = os.path.join(work, "logs", f"{started:%Y-%m-%d-%H%M%S}")
    os.makedirs(logs, exist_ok=True)
    md5 = make_blob(os.path.join(work, "blob"), args["size_mib"])
    images = make_disks(root, work, disks, args["size_mib"])
    server, port = serve(work)
    natives, sluices, baselines, gic4s = [], [], [], []
    baseline = os.environ.get("BENCH_BASELINE", "")
    both_gics = os.environ.get("BENCH_BOTH_GICS") == "1"
    try:
        for index in range(1, args["runs"] + 1):
            natives.append(one_run(root, logs, index, "native", nics, port, md5, iommu, images))
            sluices.append(one_run(root, logs, index, "sluice", nics, port, md5, iommu, images))
            if baseline:
                baselines.append(one_run(baseline, logs, index, "baseline", nics, port, md5, iommu, images))
            if both_gics:
                gic4s.append(one_run(root, logs, index, "gic4", nics, port, md5, iommu, images))
    finally:
        server.kill()
    # Kept before any formatting, so a report bug never costs the runs.
    with open(os.path.join(logs, "figures.json"), "w") as f:
        json.dump({"native": natives, "sluice": sluices, "baseline": baselines, "gic4": gic4s}, f, indent=1, sort_keys=True)
    if both_gics:
        args.update(gic4s=gic4s)
    if baseline:
        args.update(baselines=baselines, baseline=baseline, baseline_commit=git_commit(baseline))
    args["logs"] = logs
    drivers = [DRIVERS[n] for n in nics]
    text = results_text(args, natives, sluices, drivers, started)
    out = out or os.path.join(root, "bench-results", f"{started:%Y-%m-%d-%H%M}.md")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    print(text)
    print(f"bench: results written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
