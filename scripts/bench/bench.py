"""The host half of scripts/bench.sh: serves a file over HTTP, boots native and sluice runs in
turn through scripts/run.sh, parses them, prints the table and writes the results file.
Options arrive already checked by bench.sh:
    bench.py ROOT RUNS SIZE_MIB OUT NIC..."""
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


def one_run(root, logs, index, mode, nics, port, md5, iommu):
    args = ["--timeout", str(RUN_TIMEOUT_S - 30), "--append", f"sluice.bench=http://10.0.2.2:{port}/blob"]
    for nic in nics:
        args += ["--nic", nic]
    if mode == "native":
        args.append("--native")
    else:
        args += ["--iommu", iommu]
    log = os.path.join(logs, f"run{index}-{mode}.log")
    print(f"bench: run {index} {mode} ...", file=sys.stderr, flush=True)
    status, lines = drive.boot(os.path.join(root, "scripts/run.sh"), args, log, RUN_TIMEOUT_S, mode == "sluice")
    if status != 0:
        raise SystemExit(f"error: run {index} {mode}: run.sh exited with {status} (see {log})")
    try:
        figures = parse.run_figures(lines, mode == "sluice")
    except parse.ParseError as e:
        raise SystemExit(f"error: run {index} {mode}: {e} (see {log})")
    for driver, fetch in figures["fetch"].items():
        if fetch["md5"] != md5:
            raise SystemExit(f"error: run {index} {mode}: {driver} fetched a corrupt file (see {log})")
    missing = [DRIVERS[n] for n in nics if DRIVERS[n] not in figures["fetch"]]
    if missing:
        raise SystemExit(f"error: run {index} {mode}: no fetch through {missing} (see {log})")
    return figures


def qemu_version():
    out = subprocess.run([os.environ.get("QEMU", "qemu-system-aarch64"), "--version"],
                         capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def results_text(args, natives, sluices, drivers, started):
    runs, size_mib, nics = args["runs"], args["size_mib"], args["nics"]
    nic_opts = " ".join(f"--nic {n}" for n in nics)
    gic = os.environ.get("SLUICE_GIC", "3")
    parts = [
        f"# sluice benchmark, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"`scripts/bench.sh --runs {runs} --size {size_mib} {nic_opts} --iommu {args['iommu']} --gic {gic}`: "
        f"{runs} native and {runs} sluice runs, alternating; {size_mib} MiB per fetch; sluice "
        f"runs with IOMMU `{args['iommu']}`, native runs without one; QEMU `gic-version={gic}`"
        f"{' (GICv4.0: MSIs injected straight into the vCPU)' if gic == '4' else ''}. {qemu_version()}, TCG, 2 vCPUs, "
        f"{os.cpu_count()} host CPUs ({platform.machine()}), load average at the start "
        f"{os.getloadavg()[0]:.2f}: a shared machine where other QEMUs may run at the same time. "
        f"Console logs: `{os.path.relpath(args['logs'], args['root'])}`.",
        "",
        report.comparison_table(natives, sluices, drivers),
        "",
        *report.interrupt_targets(sluices, drivers),
    ]
    for driver in drivers:
        parts += ["", f"Exits per MiB fetched through {report.NIC_LABELS.get(driver, driver)} (sluice runs):",
                  "", report.exits_per_mib_table(sluices, driver)]
    parts += ["", "Raw figures per run:", "", "```json",
              json.dumps({"native": natives, "sluice": sluices}, indent=1, sort_keys=True), "```", ""]
    return "\n".join(parts)


def main(argv):
    root, runs, size_mib, out, iommu, *nics = argv
    args = {"runs": int(runs), "size_mib": int(size_mib), "nics": nics, "root": root, "iommu": iommu}
    work = os.path.join(root, "target/bench")
    started = datetime.datetime.now(datetime.timezone.utc)
    logs = os.path.join(work, "logs", f"{started:%Y-%m-%d-%H%M%S}")
    os.makedirs(logs, exist_ok=True)
    md5 = make_blob(os.path.join(work, "blob"), args["size_mib"])
    server, port = serve(work)
    natives, sluices = [], []
    try:
        for index in range(1, args["runs"] + 1):
            natives.append(one_run(root, logs, index, "native", nics, port, md5, iommu))
            sluices.append(one_run(root, logs, index, "sluice", nics, port, md5, iommu))
    finally:
        server.kill()
    # Kept before any formatting, so a report bug never costs the runs.
    with open(os.path.join(logs, "figures.json"), "w") as f:
        json.dump({"native": natives, "sluice": sluices}, f, indent=1, sort_keys=True)
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
