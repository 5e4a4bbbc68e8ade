"""``python -m bench``: every workload under ember and PyTorch in the same run.

Workloads run alternately, sample by sample, in one worker process per library and thread
count (the BLAS thread count is fixed in the worker's environment before NumPy or torch
loads; neither process imports the other library), medians after warm-up;
import time, install size and peak memory are measured in fresh interpreters. The table
is printed and written to ``bench/RESULTS.md`` (or ``--out``).

    python -m bench                 # the full run (under 10 minutes on 2 cores)
    python -m bench --quick         # few repeats: checks the suite runs (used by the tests)
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata as md
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.workloads import TARGETS, WORKLOADS

ROOT = Path(__file__).resolve().parent.parent


def _child_env(threads: int) -> dict:
    env = dict(os.environ)
    # ember's opt-in allocator tuning (see bench/NOTES.md, "Memory allocator"); run
    # ``EMBER_MALLOC_TUNING=0 python -m bench`` to measure ember as imported by default.
    env.setdefault("EMBER_MALLOC_TUNING", "1")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_timings(names: list[str], threads: int, repeats: int, budget: float) -> list[dict]:
    """Median per-unit times of each workload under both libraries, sampled alternately
    from one worker process per library (see bench/_timing.py)."""
    workers = {lib: subprocess.Popen(
        [sys.executable, "-m", "bench._timing", "--lib", lib, "--threads", str(threads)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_child_env(threads),
        cwd=ROOT) for lib in ("ember", "torch")}

    def ask(lib: str, **msg) -> dict:
        worker = workers[lib]
        worker.stdin.write(json.dumps(msg) + "\n")
        worker.stdin.flush()
        line = worker.stdout.readline()
        if not line:
            raise RuntimeError(f"the {lib} timing worker exited")
        return json.loads(line)

    rows = []
    try:
        for name in names:
            setup = {lib: ask(lib, op="setup", workload=name, budget=budget) for lib in workers}
            errors = [f"{lib}: {r['error']}" for lib, r in setup.items() if "error" in r]
            if errors:
                rows.append({"workload": name, "error": "; ".join(errors)})
                continue
            samples: dict = {lib: [] for lib in workers}
            for _ in range(repeats):  # alternate, so drifts in machine load hit both
                for lib in workers:
                    samples[lib].append(ask(lib, op="sample", workload=name,
                                            n=setup[lib]["count"])["seconds"])
            units = setup["ember"]["units"]
            row = {"workload": name, "threads": threads, "units": units}
            for lib, values in samples.items():
                row[lib] = statistics.median(values) / units
            if name == "mlp_step":
                row["floor"] = statistics.median(
                    ask("ember", op="floor", budget=budget)["seconds"] for _ in range(repeats))
            rows.append(row)
    finally:
        for worker in workers.values():
            worker.stdin.close()
            worker.wait(timeout=60)
    return rows


def import_time(module: str, repeats: int) -> float:
    def once(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=_child_env(1), cwd=ROOT)
        return time.perf_counter() - t0
    base = statistics.median(once("pass") for _ in range(repeats))
    return statistics.median(once(f"import {module}") for _ in range(repeats)) - base


def _dist_size(name: str, seen: set) -> int:
    """Bytes on disk of a distribution and (recursively) its runtime requirements."""
    key = name.lower().replace("_", "-")
    if key in seen:
        return 0
    seen.add(key)
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return 0
    total = 0
    for f in dist.files or ():
        p = Path(dist.locate_file(f))
        if p.is_file():
            total += p.stat().st_size
    if name == "ember" and total < 10_000:  # an editable install: count the package itself
        total = sum(p.stat().st_size for p in (ROOT / "ember").rglob("*.py"))
    for req in dist.requires or ():
        if "extra ==" in req:
            continue
        dep = req.split(";")[0].split("[")[0]
        for sep in "<>=!~ (":
            dep = dep.split(sep)[0]
        total += _dist_size(dep.strip(), seen)
    return total


def peak_memory(steps: int, growth_steps: int) -> dict:
    result = {}
    for lib in ("ember", "torch"):
        cmd = [sys.executable, "-m", "bench._memory", "--lib", lib, "--steps", str(steps),
               "--growth-steps", str(growth_steps)]
        out = subprocess.run(cmd, env=_child_env(1), cwd=ROOT, capture_output=True, text=True,
                             check=True)
        result[lib] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _machine() -> str:
    import numpy
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = "unknown BLAS"
    try:
        cfg = numpy.show_config(mode="dicts")
        b = cfg["Build Dependencies"]["blas"]
        blas = f"{b['name']} {b.get('version', '')}".strip()
    except Exception:
        pass
    import torch
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; NumPy "
            f"{numpy.__version__} ({blas}); PyTorch {torch.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    parser.add_argument("--only", help="comma-separated workload names")
    parser.add_argument("--threads", default="1,2", help="thread counts to compare at")
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    args = parser.parse_args()

    names = args.only.split(",") if args.only else list(WORKLOADS)
    repeats, budget = (2, 0.02) if args.quick else (7, 0.3)
    rows = []
    for threads in (int(t) for t in args.threads.split(",")):
        rows += run_timings(names, threads, repeats, budget)

    lines = ["| workload | threads | ember | PyTorch | ratio | target |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['workload']} | - | n/a | n/a | not run: {r['error'][:80]} | "
                         f"{TARGETS.get(r['workload'], '')} |")
            continue
        ratio = r["ember"] / r["torch"]
        unit = " per op" if r["units"] > 1 else ""
        floor = f" (BLAS floor {_fmt_time(r['floor'])})" if "floor" in r else ""
        lines.append(f"| {r['workload']} | {r['threads']} | {_fmt_time(r['ember'])}{unit}"
                     f"{floor} | {_fmt_time(r['torch'])}{unit} | {ratio:.2f}x | "
                     f"≤ {TARGETS.get(r['workload'], '-')} |")

    if not args.only:
        n = 2 if args.quick else 7
        te, tt = import_time("ember", n), import_time("torch", n)
        lines.append(f"| import_time | - | {_fmt_time(te)} | {_fmt_time(tt)} | {te / tt:.2f}x "
                     f"| ≤ {TARGETS['import_time']} |")
        se, st = _dist_size("ember", set()), _dist_size("torch", set())
        lines.append(f"| install_size (with runtime deps) | - | {se / 2**20:.1f} MB | "
                     f"{st / 2**20:.1f} MB | {se / st:.3f}x | ≤ {TARGETS['install_size']} |")
        try:
            mem = peak_memory(20 if args.quick else 200, 40 if args.quick else 2000)
            e, t = mem["ember"], mem["torch"]
            lines.append(f"| peak_memory (RSS, {20 if args.quick else 200} mlp steps) | 1 | "
                         f"{e['peak_mb']:.0f} MB | {t['peak_mb']:.0f} MB | "
                         f"{e['peak_mb'] / t['peak_mb']:.2f}x | ≤ {TARGETS['peak_memory']} |")
            lines.append(f"| RSS growth, steps {20 if args.quick else 200} → "
                         f"{40 if args.quick else 2000} | 1 | "
                         f"{e['rss_mb_at_growth_steps'] - e['rss_mb_at_steps']:+.1f} MB | "
                         f"{t['rss_mb_at_growth_steps'] - t['rss_mb_at_steps']:+.1f} MB | - | "
                         "no growth |")
        except subprocess.CalledProcessError as exc:
            lines.append(f"| peak_memory | - | n/a | n/a | not run: {exc.stderr[-80:]} | |")

    table = "\n".join(lines)
    print(table)
    command = "python -m bench" + (" --quick" if args.quick else "") + (
        f" --only {args.only}" if args.only else "")
    header = (f"# Benchmark results\n\nDate: {datetime.date.today().isoformat()}  \n"
              f"Command: `{command}`  \nMachine: {_machine()}  \n"
              "Times are medians per iteration (per op where marked), from one worker process "
              "per library at the same thread count, sampled alternately; ember with "
              f"EMBER_MALLOC_TUNING={_child_env(1)['EMBER_MALLOC_TUNING']} (its opt-in "
              "allocator tuning, see below). Ratio = ember / PyTorch (lower is better).\n\n")
    notes = ROOT / "bench" / "NOTES.md"
    analysis = ("\n" + notes.read_text(encoding="utf-8")) if notes.exists() else ""
    Path(args.out).write_text(header + table + "\n" + analysis)
    if not args.quick and not args.only:
        _update_readme(table, command)


def _update_readme(table: str, command: str) -> None:
    """Put the table of a full run between the README's bench-summary markers."""
    readme = ROOT / "README.md"
    start, end = "<!-- bench-summary:start -->", "<!-- bench-summary:end -->"
    text = readme.read_text(encoding="utf-8")
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    block = (f"{start}\n\nLatest full run ({datetime.date.today().isoformat()}, `{command}`; "
             "ratio = ember / PyTorch, lower is better):\n\n" + table + f"\n\n{end}")
    readme.write_text(head + block + tail, encoding="utf-8")


if __name__ == "__main__":
    main()
