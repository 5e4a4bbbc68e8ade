"""``python -m bench.distributed_scaling``: data-parallel scaling of ember on MPI.

Two measurements, each in fresh processes at 1 BLAS thread per process:

- **scaling**: a GEMM-bound training step (MLP 1024-4096-4096-10, SGD, global batch 256)
  on 1 process (plain model, whole batch) and on 2 processes (DistributedDataParallel,
  half the batch each). Efficiency = throughput(2) / throughput(1); 2.0x is perfect.
- **CPU-time scaling**: the same ratio from the processes' CPU time per step. On a machine
  shared with other work the wall-clock ratio measures the sharing, not ember; CPU time
  per step is what each process would take on a core of its own (it counts the all-reduce's
  copying and summing, not time spent waiting for the other rank).
- **communication**: the per-step gradient all-reduce of a 10M-parameter model on 2
  processes: DDP's own work after backward (copy into buckets, all-reduce, average, copy
  back), with every gradient ready at once, so nothing overlaps it.

``--append`` adds the table, date and command to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1024, 4096, 4096, 10)
BATCH = 256


def _env() -> dict:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _mlp(ember):
    nn = ember.nn
    return nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(),
                         nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
                         nn.Linear(SIZES[2], SIZES[3]))


def _worker_train(steps: int) -> dict:
    import numpy as np

    import ember
    world = int(os.environ.get("WORLD_SIZE", "1"))
    ember.manual_seed(0)
    model = _mlp(ember)
    rank = 0
    if world > 1:
        import ember.distributed as dist
        from ember.nn.parallel import DistributedDataParallel
        dist.init_process_group("gloo")
        rank = dist.get_rank()
        model = DistributedDataParallel(model)
    rng = np.random.default_rng(rank)
    per_rank = BATCH // world
    x = ember.tensor(rng.standard_normal((per_rank, SIZES[0])).astype(np.float32))
    y = ember.tensor(rng.integers(0, SIZES[-1], per_rank))
    opt = ember.optim.SGD(model.parameters(), lr=0.01)
    times, cpu = [], []
    for i in range(steps + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        ember.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if i >= 2:                                 # two warm-up steps
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {"rank": rank, "world": world, "step_s": statistics.median(times),
            "cpu_s": statistics.median(cpu)}


def _worker_comm(steps: int) -> dict:
    import ember
    import ember.distributed as dist
    from ember.nn.parallel import DistributedDataParallel
    dist.init_process_group("gloo")
    model = ember.nn.Linear(3162, 3162)            # 10.0M parameters, float32
    n = sum(p.numel() for p in model.parameters())
    ddp = DistributedDataParallel(model)
    reducer = ddp.reducer
    for p in reducer.params:
        p.grad = ember.ones_like(p)
    times = []
    for i in range(steps + 2):
        dist.barrier()
        t0 = time.perf_counter()
        reducer.prepare(dist.get_rank())
        for k in reversed(range(len(reducer.params))):
            reducer._hook(k)((), ())               # what each AccumulateGrad hook does
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return {"rank": dist.get_rank(), "params": n, "buckets": len(reducer.buckets),
            "comm_s": statistics.median(times)}


def _launch(mode: str, nproc: int, steps: int) -> dict:
    me = [sys.executable, "-m", "bench.distributed_scaling", "--worker", mode, "--steps",
          str(steps)]
    if nproc > 1:
        me = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(nproc),
              "-m"] + me[2:]
    p = subprocess.run(me, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(f"{mode} with {nproc} processes failed:\n{p.stdout}\n{p.stderr}")
    rows = [json.loads(line[6:]) for line in p.stdout.splitlines() if line.startswith("BENCH ")]
    return next(r for r in rows if r["rank"] == 0)


def _fmt(s: float) -> str:
    return f"{s * 1e3:.1f} ms"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.distributed_scaling")
    ap.add_argument("--worker", choices=["train", "comm"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args(argv)
    if args.worker:
        out = (_worker_train if args.worker == "train" else _worker_comm)(args.steps)
        print("BENCH " + json.dumps(out), flush=True)
        return 0
    one = _launch("train", 1, args.steps)
    two = _launch("train", 2, args.steps)
    comm = _launch("comm", 2, args.steps)
    eff = one["step_s"] / two["step_s"]
    eff_cpu = one["cpu_s"] / two["cpu_s"]
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "| measurement | 1 process | 2 processes | result | goal |",
        "|---|---|---|---|---|",
        f"| MLP 1024-4096-4096-10 training step, global batch {BATCH} (DDP on 2) | "
        f"{_fmt(one['step_s'])} ({BATCH / one['step_s']:.0f} samples/s) | "
        f"{_fmt(two['step_s'])} ({BATCH / two['step_s']:.0f} samples/s) | "
        f"scaling {eff:.2f}x | ≥ 1.7x |",
        f"| same, CPU time per step and process | {_fmt(one['cpu_s'])} | "
        f"{_fmt(two['cpu_s'])} | scaling {eff_cpu:.2f}x | ≥ 1.7x |",
        f"| gradient all-reduce per step, {comm['params'] / 1e6:.1f}M params "
        f"({comm['buckets']} buckets) | - | {_fmt(comm['comm_s'])} | "
        f"{comm['params'] * 4 / comm['comm_s'] / 1e9:.2f} GB/s of gradients | - |",
    ]
    table = "\n".join(lines)
    print(table)
    print(f"load average: {load}")
    if args.append:
        cmd = "python -m bench.distributed_scaling --append"
        if args.steps != 10:
            cmd += f" --steps {args.steps}"
        with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write(f"\n## Distributed data parallel (MPI)\n\nDate: "
                    f"{datetime.date.today().isoformat()}  \nCommand: `{cmd}`  \n"
                    f"One BLAS thread per process; median step times after 2 warm-up "
                    f"steps; {os.cpu_count()} cores; load average after the run {load}."
                    f"\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
